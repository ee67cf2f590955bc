"""An Embedder wrapper that counts what it embeds, around a real embedder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from firstlast.retriever.embeddings import Embedder


class CountingEmbedder:
    """>>> counting = CountingEmbedder(MiniLMEmbedder()); ...; counting.documents_embedded"""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.multilingual = inner.multilingual
        self.documents_embedded = 0
        self.queries_embedded = 0

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.documents_embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        self.queries_embedded += 1
        return self.inner.embed_query(text)

    def reset(self) -> None:
        self.documents_embedded = 0
        self.queries_embedded = 0
