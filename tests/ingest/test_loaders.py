"""Loaders turn files into Documents: every supported format, and the errors a bad file gives."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from firstlast.errors import IngestError, UnsupportedFormat
from firstlast.ingest.loaders import load_path, parse_bytes


def parse_one(data: bytes | str, name: str, doc_id: str = "doc"):
    raw = data.encode("utf-8") if isinstance(data, str) else data
    docs = parse_bytes(raw, name, doc_id=doc_id, source="test")
    assert len(docs) == 1
    return docs[0]


def test_markdown_front_matter_sets_title_url_lang_and_keeps_the_rest_as_metadata():
    doc = parse_one(
        "---\ntitle: Refund policy\nurl: https://help.example/refunds\nlang: en\ncategory: billing\n---\n"
        "# A different heading\n\nRefunds within 14 days.\n",
        "refunds.md",
    )
    assert doc.title == "Refund policy"
    assert doc.url == "https://help.example/refunds"
    assert doc.lang == "en"
    assert dict(doc.metadata) == {"category": "billing"}
    assert doc.text.startswith("# A different heading")
    assert "---" not in doc.text and "category" not in doc.text


def test_markdown_without_front_matter_takes_the_first_level_one_heading_as_title():
    doc = parse_one("Some intro line.\n\n## Not this\n\n# Change your plan\n\nOpen Settings.", "plan.md")
    assert doc.title == "Change your plan"
    assert doc.url == "" and doc.lang == ""


def test_markdown_without_heading_or_front_matter_is_titled_after_the_file_name():
    assert parse_one("Just a paragraph.", "sync-troubleshooting.md").title == "Sync troubleshooting"


@pytest.mark.parametrize(
    "front_matter",
    ["title: [unclosed\n", "- a list\n- not a mapping\n"],
    ids=["bad-yaml", "not-a-mapping"],
)
def test_invalid_front_matter_is_an_ingest_error_naming_the_file(front_matter):
    with pytest.raises(IngestError, match=r"broken\.md: .*front matter"):
        parse_one(f"---\n{front_matter}---\nBody", "broken.md")


def test_html_headings_become_markdown_headings_and_scripts_are_dropped():
    html = """<html lang="ja"><head><title>Sync help</title>
    <script>var tracking = "SCRIPT_SECRET";</script><style>.x { color: red }</style></head>
    <body><nav>Home | Docs</nav>
    <h1>Sync help</h1><p>Intro text.</p>
    <h2>When sync <em>stops</em></h2><p>Restart the app.</p>
    <ul><li>Check the network</li><li>Sign in again</li></ul>
    <footer>Copyright footer</footer></body></html>"""
    doc = parse_one(html, "sync.html")
    assert doc.title == "Sync help"
    assert doc.lang == "ja"
    lines = doc.text.splitlines()
    assert "# Sync help" in lines
    assert "## When sync stops" in lines
    assert "- Check the network" in lines and "- Sign in again" in lines
    for gone in ("SCRIPT_SECRET", "tracking", "color: red", "Home | Docs", "Copyright footer"):
        assert gone not in doc.text
    # the <title> is metadata, not a stray first line of the body
    assert doc.text.startswith("# Sync help")


def test_txt_title_is_its_first_line():
    doc = parse_one("Offline mode\nNotes you open while online stay available offline.", "offline.txt")
    assert doc.title == "Offline mode"
    assert doc.text.endswith("available offline.")


def test_txt_with_an_overlong_first_line_is_titled_after_the_file_name():
    assert parse_one("word " * 60, "long_line.txt").title == "Long line"


def test_jsonl_gives_one_document_per_line_with_extra_fields_as_metadata():
    rows = [
        {
            "id": "kb-1",
            "title": "Refunds",
            "text": "Refunds within 14 days.",
            "url": "https://x/1",
            "lang": "en",
            "category": "billing",
        },
        {"id": "kb-2", "text": "パスワードを変更するには設定を開きます。", "lang": "ja"},
    ]
    raw = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows[:1]) + "\n\n" + json.dumps(rows[1]) + "\n"
    docs = parse_bytes(raw.encode(), "kb.jsonl", doc_id="ignored", source="eval-kb")
    assert [d.id for d in docs] == ["kb-1", "kb-2"]
    assert docs[0].title == "Refunds" and docs[0].url == "https://x/1" and docs[0].lang == "en"
    assert dict(docs[0].metadata) == {"category": "billing"}
    assert docs[1].text == "パスワードを変更するには設定を開きます。" and docs[1].lang == "ja"
    assert {d.source for d in docs} == {"eval-kb"}


@pytest.mark.parametrize(
    ("bad_line", "problem"),
    [('{"id": "b", oops}', "invalid JSON"), ('{"title": "no id", "text": "x"}', "each line needs an 'id'")],
)
def test_jsonl_error_names_the_line_number(bad_line, problem):
    raw = '{"id": "a", "text": "fine"}\n\n' + bad_line + "\n"
    with pytest.raises(IngestError, match=rf"kb\.jsonl:3: {problem}"):
        parse_bytes(raw.encode(), "kb.jsonl", doc_id="", source="s")


def test_unsupported_suffix_is_unsupported_format():
    with pytest.raises(UnsupportedFormat, match=r"notes\.docx: unsupported file type \.docx"):
        parse_bytes(b"PK\x03\x04", "notes.docx", doc_id="notes", source="s")


def test_non_utf8_text_is_an_ingest_error():
    with pytest.raises(IngestError, match=r"menu\.txt: not UTF-8"):
        parse_bytes("Café crème, 3,50 €".encode("cp1252"), "menu.txt", doc_id="menu", source="s")


def test_pdf_text_is_extracted():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(6, 4))
    fig.text(0.1, 0.8, "Refund policy for annual plans")
    fig.text(0.1, 0.6, "Contact support within fourteen days")
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf", metadata={"Title": "Refund guide"})
    plt.close(fig)

    doc = parse_one(buf.getvalue(), "guide.pdf")
    assert doc.title == "Refund guide"
    words = set(doc.text.split())
    assert {"Refund", "policy", "annual", "plans", "Contact", "support", "fourteen", "days"} <= words


def test_unreadable_pdf_is_an_ingest_error():
    with pytest.raises(IngestError, match=r"bad\.pdf: cannot read PDF"):
        parse_bytes(b"%PDF-1.4 not really a pdf", "bad.pdf", doc_id="bad", source="s")


def test_load_path_on_a_folder_gives_relative_path_ids_and_skips_other_files(tmp_path: Path):
    (tmp_path / "billing").mkdir()
    (tmp_path / "billing" / "refunds.md").write_text("# Refunds\n\nWithin 14 days.")
    (tmp_path / "faq.txt").write_text("FAQ\nAnswers.")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    source, docs = load_path(tmp_path)
    assert source == str(tmp_path.resolve())
    assert sorted(d.id for d in docs) == ["billing/refunds", "faq"]
    assert {d.source for d in docs} == {source}


def test_load_path_on_a_missing_path_is_an_ingest_error(tmp_path: Path):
    with pytest.raises(IngestError, match="no such file or folder"):
        load_path(tmp_path / "nope")
