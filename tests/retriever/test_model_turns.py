"""The embedding model takes turns, queries first: a customer's question waits for at most one
slice of an upload's embedding, never for the whole upload (issue #13, 3)."""

from __future__ import annotations

import threading
import time

import numpy as np

from firstlast.retriever.embeddings import MiniLMEmbedder, ModelTurns


def test_a_waiting_query_goes_before_the_next_slice_of_documents() -> None:
    turns, order = ModelTurns(), []

    def query() -> None:
        with turns.query():
            order.append("query")

    def documents() -> None:
        with turns.documents():
            order.append("documents")

    with turns.documents():  # a slice of an upload is being embedded
        asking = threading.Thread(target=query)
        asking.start()
        while turns._queries == 0:  # the query is waiting for its turn
            time.sleep(0.01)
        next_slice = threading.Thread(target=documents)
        next_slice.start()
    asking.join(10)
    next_slice.join(10)
    assert order == ["query", "documents"]


def test_documents_embedded_in_slices_equal_one_batch(minilm: MiniLMEmbedder) -> None:
    texts = [
        f"Article {i} about invoices, refunds and plan number {i}." for i in range(2 * ModelTurns.SLICE + 3)
    ]
    sliced = minilm.embed_documents(texts)
    assert sliced.shape == (len(texts), minilm.dimension)
    one = minilm.embed_documents(texts[-1:])[0]
    assert np.allclose(sliced[-1], one, atol=1e-5)


def test_an_onnx_query_does_not_wait_for_a_slice_of_documents(minilm: MiniLMEmbedder) -> None:
    assert minilm.runtime == "onnx"
    got: list[np.ndarray] = []
    with minilm._turns.documents():  # a slice of an upload is being embedded
        asking = threading.Thread(
            target=lambda: got.append(minilm.embed_query("How do I reset my password?"))
        )
        asking.start()
        asking.join(60)
        answered_during_the_slice = bool(got)
    asking.join()
    assert answered_during_the_slice
