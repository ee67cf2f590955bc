"""Chunker: token-bounded chunks with a heading path, and a hash that notices every relevant change."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from firstlast.ingest import tokens
from firstlast.ingest.chunker import Chunker
from firstlast.ingest.tokens import get_encoding
from firstlast.types import Document

GUIDE = (
    "# Billing guide\n\nHow billing works at Nimbus Notes.\n\n"
    "## Refunds\n\n### Annual plans\n\n"
    + " ".join(
        f"Refund rule {i}: annual payments are refunded within fourteen days of the charge."
        for i in range(30)
    )
    + "\n\n### Monthly plans\n\nMonthly payments aren't refundable.\n\n"
    "## Invoices\n\nDownload invoices from Settings.\n"
)


def n_tokens(text: str) -> int:
    return len(get_encoding("cl100k_base").encode(text, disallowed_special=()))


@pytest.mark.parametrize(
    "text",
    [
        GUIDE,
        "パスワードを変更するには、設定画面を開いてください。" * 60,  # no spaces at all
        "Visit https://help.example/" + "a" * 3000 + " for details.",  # one enormous word
        "\n".join(f"- item {i} about sync and offline mode" for i in range(200)),
    ],
    ids=["sections", "japanese", "long-word", "list"],
)
def test_chunks_never_exceed_chunk_tokens(text):
    chunker = Chunker(chunk_tokens=48, overlap_tokens=8)
    chunks = chunker.chunk(Document("doc", "Doc", text))
    assert len(chunks) > 1
    assert max(n_tokens(c.text) for c in chunks) <= 48
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert [c.id for c in chunks] == [f"doc#{i}" for i in range(len(chunks))]


def test_chunks_carry_the_heading_path_without_the_document_title():
    chunks = Chunker(chunk_tokens=64, overlap_tokens=8).chunk(Document("guide", "Billing guide", GUIDE))
    sections = [c.section for c in chunks]
    assert sections[0] == ""  # the intro under the title heading
    assert "Refunds > Annual plans" in sections
    assert sections.count("Refunds > Annual plans") > 1  # the long section was split again
    monthly = [c for c in chunks if c.section == "Refunds > Monthly plans"]
    assert [c.text for c in monthly] == ["Monthly payments aren't refundable."]
    assert sections[-1] == "Invoices"
    assert all(not c.text.startswith("#") for c in chunks)  # headings are in the path, not the text


def test_chunks_copy_the_documents_fields():
    doc = Document(
        "d1", "Title", "Body text.", source="upload", url="https://x", lang="en", metadata={"k": "v"}
    )
    (chunk,) = Chunker().chunk(doc)
    assert (chunk.doc_id, chunk.title, chunk.source, chunk.url, chunk.lang) == (
        "d1",
        "Title",
        "upload",
        "https://x",
        "en",
    )
    assert dict(chunk.metadata) == {"k": "v"}
    assert chunk.doc_hash == Chunker().document_hash(doc)


def test_title_only_document_still_gives_one_chunk():
    (chunk,) = Chunker().chunk(Document("t", "Opening hours", "  "))
    assert chunk.text == "Opening hours"


def test_document_hash_changes_when_text_changes():
    chunker = Chunker()
    doc = Document("d", "T", "Refunds within 14 days.")
    assert chunker.document_hash(doc) == chunker.document_hash(Document("d", "T", "Refunds within 14 days."))
    assert chunker.document_hash(doc) != chunker.document_hash(replace(doc, text="Refunds within 30 days."))
    assert chunker.document_hash(doc) != chunker.document_hash(replace(doc, url="https://new"))
    assert chunker.document_hash(doc) != chunker.document_hash(replace(doc, metadata={"category": "billing"}))


def test_document_hash_changes_when_chunk_settings_change():
    doc = Document("d", "T", "Refunds within 14 days.")
    hashes = {
        Chunker(256, 32).document_hash(doc),
        Chunker(128, 32).document_hash(doc),
        Chunker(256, 16).document_hash(doc),
        Chunker(256, 32, encoding="o200k_base").document_hash(doc),
    }
    assert len(hashes) == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_tokens": 0}, "chunk_tokens must be > 0, got 0"),
        ({"chunk_tokens": -5}, "got -5"),
        (
            {"chunk_tokens": 64, "overlap_tokens": 64},
            "overlap_tokens must be in \\[0, chunk_tokens\\), got 64",
        ),
        ({"chunk_tokens": 64, "overlap_tokens": -1}, "got -1"),
    ],
)
def test_invalid_constructor_arguments_raise_value_error_naming_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Chunker(**kwargs)


def test_seed_tiktoken_cache_writes_the_bpe_file_into_tiktoken_cache_dir(tmp_path: Path, monkeypatch):
    cache = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    target = tokens.seed_tiktoken_cache("cl100k_base")
    assert target.parent == cache
    assert target.is_file() and target.stat().st_size > 1_000_000
    first_line = target.read_bytes().split(b"\n", 1)[0]
    assert first_line.split()[1] == b"0"  # "<base64 token> <rank>", tiktoken's format
    assert [p for p in os.listdir(cache) if p.endswith(".tmp")] == []
    assert tokens.seed_tiktoken_cache("cl100k_base") == target  # idempotent


def test_seed_tiktoken_cache_rejects_unknown_encodings(tmp_path: Path, monkeypatch):
    from firstlast.errors import ConfigError

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="'gpt2'"):
        tokens.seed_tiktoken_cache("gpt2")
    assert list(tmp_path.iterdir()) == []


def test_a_worker_imports_no_torch_nltk_or_transformers() -> None:
    """langchain's splitters would import every optional backend installed (~440 MB per worker)."""
    code = "import sys, firstlast.wiring; print(sorted({'torch', 'transformers', 'nltk'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
