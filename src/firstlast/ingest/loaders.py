"""Loaders: files and folders in, :class:`Document` out.

Supported: ``.md``/``.markdown`` (optional YAML front matter: title, url, lang, ...), ``.html``/``.htm``,
``.txt``, ``.pdf`` (pypdf) and ``.jsonl`` (one ``{"id", "title", "text", "url"?, "lang"?}`` per line,
the shared evaluation KB format). Headings in HTML become Markdown headings so the chunker can keep
the section path.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from firstlast.errors import IngestError, UnsupportedFormat
from firstlast.types import Document

SUFFIXES = (".md", ".markdown", ".html", ".htm", ".txt", ".pdf", ".jsonl")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _title_from_name(name: str) -> str:
    stem = Path(name).stem
    return re.sub(r"[-_]+", " ", stem).strip().capitalize() or stem


def parse_markdown(raw: str, doc_id: str, source: str, name: str) -> Document:
    meta: dict[str, str] = {}
    match = _FRONT_MATTER.match(raw)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise IngestError(f"{name}: invalid front matter: {exc}") from None
        if not isinstance(loaded, dict):
            raise IngestError(f"{name}: front matter must be a mapping")
        meta = {str(k): str(v) for k, v in loaded.items() if v is not None}
        raw = raw[match.end() :]
    h1 = _H1.search(raw)
    title = meta.pop("title", "") or (h1.group(1) if h1 else "") or _title_from_name(name)
    url = meta.pop("url", "")
    lang = meta.pop("lang", "")
    return Document(doc_id, title, raw.strip(), source, url, lang, meta)


def parse_html(raw: str, doc_id: str, source: str, name: str) -> Document:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "noscript"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    if soup.title:  # the <title> is metadata; left in, it becomes a stray first line of the body
        soup.title.decompose()
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            heading.replace_with(f"\n\n{'#' * level} {heading.get_text(' ', strip=True)}\n\n")
    for li in soup.find_all("li"):
        li.insert_before("\n- ")
    text = soup.get_text()
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n\n", text).strip()
    h1 = _H1.search(text)
    title = title or (h1.group(1) if h1 else "") or _title_from_name(name)
    lang = ""
    html_tag = soup.find("html")
    if html_tag is not None and html_tag.get("lang"):
        lang = str(html_tag.get("lang"))
    return Document(doc_id, title, text, source, "", lang)


def parse_text(raw: str, doc_id: str, source: str, name: str) -> Document:
    text = raw.strip()
    first = text.splitlines()[0].strip() if text else ""
    title = first if 0 < len(first) <= 120 else _title_from_name(name)
    return Document(doc_id, title, text, source)


def parse_pdf(data: bytes, doc_id: str, source: str, name: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if "/Root" not in reader.trailer:  # pypdf would guess one by searching the file
            raise IngestError(f"{name}: not a valid PDF: it has no document catalogue (/Root)")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str(reader.metadata.get("/Title", "") or "") if reader.metadata else ""
    except (PdfReadError, ValueError, KeyError) as exc:
        raise IngestError(f"{name}: cannot read PDF: {exc}") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    return Document(doc_id, title or _title_from_name(name), text, source)


def parse_jsonl(raw: str, source: str, name: str) -> Iterator[Document]:
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(f"{name}:{lineno}: invalid JSON: {exc.msg}") from None
        if not isinstance(row, dict) or not row.get("id") or not isinstance(row.get("text"), str):
            raise IngestError(f"{name}:{lineno}: each line needs an 'id' and a 'text' string")
        extra = {
            k: str(v)
            for k, v in row.items()
            if k not in {"id", "title", "text", "url", "lang"} and isinstance(v, str | int | float)
        }
        yield Document(
            id=str(row["id"]),
            title=str(row.get("title") or ""),
            text=row["text"],
            source=source,
            url=str(row.get("url") or ""),
            lang=str(row.get("lang") or ""),
            metadata=extra,
        )


def parse_bytes(data: bytes, name: str, *, doc_id: str, source: str) -> list[Document]:
    """Parse one file's content; ``name`` picks the format by its suffix."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise UnsupportedFormat(
            f"{name}: unsupported file type {suffix or '(none)'}; use one of {', '.join(SUFFIXES)}"
        )
    if suffix == ".pdf":
        return [parse_pdf(data, doc_id, source, name)]
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise IngestError(f"{name}: not UTF-8 text") from None
    if suffix == ".jsonl":
        return list(parse_jsonl(raw, source, name))
    if suffix in (".md", ".markdown"):
        return [parse_markdown(raw, doc_id, source, name)]
    if suffix in (".html", ".htm"):
        return [parse_html(raw, doc_id, source, name)]
    return [parse_text(raw, doc_id, source, name)]


def load_path(path: Path) -> tuple[str, list[Document]]:
    """Load a file or a folder (recursively). Returns the source name and its documents.

    Document ids are paths relative to the folder (without suffix), so they stay stable across runs.
    """
    if not path.exists():
        raise IngestError(f"{path}: no such file or folder")
    source = str(path.resolve())
    if path.is_file():
        files, root = [path], path.parent
    else:
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        root = path
    documents: list[Document] = []
    for file in files:
        doc_id = file.relative_to(root).with_suffix("").as_posix()
        documents.extend(parse_bytes(file.read_bytes(), file.name, doc_id=doc_id, source=source))
    return source, documents
