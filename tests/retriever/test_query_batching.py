"""Queries that arrive together are embedded in one call, and get the vectors they would alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from firstlast.retriever.batching import QueryBatcher
from firstlast.retriever.embeddings import MiniLMEmbedder

QUESTIONS = [
    "How do I reset my password?",
    "Can I pay by invoice?",
    "Where do I download my invoices for last year?",
    "How do I turn on two-factor sign-in on my phone?",
    "Cancel my subscription",
]


class _HeldFirstCall:
    """MiniLM's real query encoding, with its first call held until released: the queries sent
    meanwhile must queue up and go into the next call together."""

    def __init__(self, model: MiniLMEmbedder) -> None:
        self._model = model
        self.started, self.release = threading.Event(), threading.Event()
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.started.set()
            assert self.release.wait(30)
        return self._model._encode(texts, query=True)


def test_queries_sent_during_a_call_share_the_next_one_and_get_their_own_vectors(
    minilm: MiniLMEmbedder,
) -> None:
    encode = _HeldFirstCall(minilm)
    batcher = QueryBatcher(encode, max_batch=8)
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        first = pool.submit(batcher.embed, QUESTIONS[0])
        assert encode.started.wait(30)
        rest = [pool.submit(batcher.embed, q) for q in QUESTIONS[1:]]
        while len(batcher._queue) < len(QUESTIONS) - 1:  # every later query is waiting
            threading.Event().wait(0.01)
        encode.release.set()
        vectors = [first.result(30), *(f.result(30) for f in rest)]
    assert encode.calls[0] == QUESTIONS[:1]
    assert sorted(encode.calls[1]) == sorted(QUESTIONS[1:])  # one call for the four
    assert (batcher.batches, batcher.embedded) == (2, len(QUESTIONS))
    for question, vector in zip(QUESTIONS, vectors, strict=True):
        alone = minilm._encode([question], query=True)[0]
        assert float(vector @ alone) > 0.99999  # padding to the longest changes nothing


def test_a_batch_holds_at_most_max_batch_queries(minilm: MiniLMEmbedder) -> None:
    encode = _HeldFirstCall(minilm)
    batcher = QueryBatcher(encode, max_batch=2)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(batcher.embed, QUESTIONS[0])
        assert encode.started.wait(30)
        rest = [pool.submit(batcher.embed, q) for q in QUESTIONS[1:4]]
        while len(batcher._queue) < 3:
            threading.Event().wait(0.01)
        encode.release.set()
        for future in [first, *rest]:
            assert future.result(30).shape == (384,)
    assert [len(call) for call in encode.calls] == [1, 2, 1]


def test_an_error_reaches_every_query_of_its_batch_and_the_next_batch_runs(minilm: MiniLMEmbedder) -> None:
    failing = {"on": True}

    def encode(texts: list[str]) -> np.ndarray:
        if failing["on"]:
            raise RuntimeError("engine failed")
        return minilm._encode(texts, query=True)

    batcher = QueryBatcher(encode, max_batch=4)
    with pytest.raises(RuntimeError, match="engine failed"):
        batcher.embed(QUESTIONS[0])
    failing["on"] = False
    assert batcher.embed(QUESTIONS[1]).shape == (384,)  # not left "running" by the failure


def test_minilm_batches_queries_when_asked(minilm: MiniLMEmbedder) -> None:
    with pytest.raises(ValueError, match="query_batch"):
        MiniLMEmbedder(query_batch=0)
    batched = MiniLMEmbedder(query_batch=4)
    vector = batched.embed_query(QUESTIONS[2])
    assert float(vector @ minilm.embed_query(QUESTIONS[2])) > 0.99999
    assert batched._queries is not None and batched._queries.embedded == 1
