"""Heading-aware chunking by token count.

Markdown headings (``#`` to ``###``) split a document into sections and give each chunk its section
path; sections longer than ``chunk_tokens`` (tiktoken count) are split again on paragraph, line and
sentence boundaries with ``overlap_tokens`` of overlap (langchain's recursive splitter).
"""

from __future__ import annotations

import hashlib
import json
import sys

from firstlast.ingest.tokens import get_encoding
from firstlast.types import Chunk, Document

# langchain_text_splitters' __init__ imports every optional backend it finds installed for splitters
# we never use (sentence-transformers and transformers, which pull torch; nltk; spacy): ~440 MB and
# ~10 s in every process. Hidden while it is imported (each is a guarded import there), then unhidden
# for whoever really needs one (the ONNX export of MiniLM uses sentence-transformers).
_BACKENDS = ("sentence_transformers", "transformers", "nltk", "spacy", "konlpy")
_UNUSED_BACKENDS = [m for m in _BACKENDS if m not in sys.modules]
sys.modules.update(dict.fromkeys(_UNUSED_BACKENDS))  # type: ignore[arg-type]  # None: "not installed"
try:
    from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter
finally:
    for _name in _UNUSED_BACKENDS:
        if sys.modules.get(_name, 0) is None:
            del sys.modules[_name]

_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]


class Chunker:
    """Cuts documents into chunks of at most ``chunk_tokens`` tokens.

    >>> Chunker(chunk_tokens=256).chunk(Document("faq", "FAQ", "## Can I pay yearly?\\nYes ..."))
    """

    def __init__(self, chunk_tokens: int = 256, overlap_tokens: int = 32, encoding: str = "cl100k_base"):
        if chunk_tokens <= 0:
            raise ValueError(f"chunk_tokens must be > 0, got {chunk_tokens}")
        if not 0 <= overlap_tokens < chunk_tokens:
            raise ValueError(f"overlap_tokens must be in [0, chunk_tokens), got {overlap_tokens}")
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens
        self.encoding = encoding
        enc = get_encoding(encoding)  # seeds the offline cache before langchain asks tiktoken
        self._count = lambda text: len(enc.encode(text, disallowed_special=()))
        self._headers = MarkdownHeaderTextSplitter(_HEADERS, strip_headers=True)
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_tokens,
            chunk_overlap=overlap_tokens,
            length_function=self._count,
            separators=["\n\n", "\n", ". ", "。", "? ", "! ", "; ", ", ", " ", ""],
            keep_separator="end",
        )

    @property
    def fingerprint(self) -> str:
        """Changes when chunking would produce different chunks, so stored hashes are invalidated."""
        return f"v1:{self.encoding}:{self.chunk_tokens}:{self.overlap_tokens}"

    def document_hash(self, doc: Document) -> str:
        payload = json.dumps(
            [self.fingerprint, doc.title, doc.text, doc.url, doc.lang, sorted(doc.metadata.items())],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def sections(self, doc: Document) -> list[tuple[str, str]]:
        """(section path, body) pairs in document order."""
        if "#" not in doc.text:
            return [("", doc.text)]
        parts = []
        for piece in self._headers.split_text(doc.text):
            path = [piece.metadata[k] for _, k in _HEADERS if k in piece.metadata]
            if path and path[0].strip() == doc.title.strip():
                path = path[1:]
            parts.append((" > ".join(path), piece.page_content))
        return parts or [("", doc.text)]

    def chunk(self, doc: Document) -> list[Chunk]:
        doc_hash = self.document_hash(doc)
        chunks: list[Chunk] = []
        for section, body in self.sections(doc):
            body = body.strip()
            if not body:
                continue
            for text in self._splitter.split_text(body):
                text = text.strip()
                if not text:
                    continue
                chunks.append(
                    Chunk(
                        id=f"{doc.id}#{len(chunks)}",
                        doc_id=doc.id,
                        text=text,
                        title=doc.title,
                        section=section,
                        url=doc.url,
                        lang=doc.lang,
                        source=doc.source,
                        position=len(chunks),
                        doc_hash=doc_hash,
                        metadata=dict(doc.metadata),
                    )
                )
        if not chunks and doc.title.strip():  # a title-only document is still findable
            chunks.append(
                Chunk(
                    f"{doc.id}#0",
                    doc.id,
                    doc.title.strip(),
                    doc.title,
                    "",
                    doc.url,
                    doc.lang,
                    doc.source,
                    0,
                    doc_hash,
                    dict(doc.metadata),
                )
            )
        return chunks
