"""MiniLM on onnxruntime gives sentence-transformers' vectors, exported once from the packaged
weights (issue #13: the query embedding was most of an answer's time)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from firstlast.retriever.embeddings import MiniLMEmbedder, ModelTurns

TEXTS = [
    "How do I reset my password?",
    "Invoices can be downloaded as PDF from Billing > History. " * 30,  # longer than 256 tokens
    "パスワードを変更するには？",
    "",
    "a",
    *(f"Article {i} about refunds, plans and the number {i}." for i in range(ModelTurns.SLICE + 2)),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[MiniLMEmbedder, Path]:
    cache = tmp_path_factory.mktemp("models")
    return MiniLMEmbedder(runtime="onnx", cache_dir=cache), cache


def test_onnx_vectors_equal_sentence_transformers(exported: tuple[MiniLMEmbedder, Path]) -> None:
    onnx, _ = exported
    torch = MiniLMEmbedder(runtime="torch")
    documents = onnx.embed_documents(TEXTS)
    assert documents.shape == (len(TEXTS), 384) and documents.dtype == np.float32
    assert np.max(1 - np.sum(documents * torch.embed_documents(TEXTS), axis=1)) < 1e-5
    for text in TEXTS[:4]:
        assert float(onnx.embed_query(text) @ torch.embed_query(text)) > 1 - 1e-5


def test_the_export_is_kept_and_reused(exported: tuple[MiniLMEmbedder, Path]) -> None:
    _, cache = exported
    (model,) = cache.glob("minilm-*.onnx")
    written = model.stat().st_mtime_ns
    again = MiniLMEmbedder(runtime="onnx", cache_dir=cache)
    assert again.embed_query("refund") @ exported[0].embed_query("refund") > 1 - 1e-6
    assert [p.name for p in cache.iterdir()] == [model.name]  # no second export, no temporary left
    assert model.stat().st_mtime_ns == written


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="'tensorflow'"):
        MiniLMEmbedder(runtime="tensorflow")


def test_documents_take_the_engine_threads_they_are_given(exported: tuple[MiniLMEmbedder, Path]) -> None:
    """``embedding.threads`` bounds a document batch (an upload while customers are served), with
    the same vectors; queries always run on one thread."""
    everything, cache = exported
    one = MiniLMEmbedder(runtime="onnx", cache_dir=cache, threads=1)
    vectors = one.embed_documents(TEXTS)
    one.embed_query("refund")
    assert sorted(one._onnx._sessions) == [1]  # the one-thread session served both
    assert np.max(1 - np.sum(vectors * everything.embed_documents(TEXTS), axis=1)) < 1e-5
    with pytest.raises(ValueError, match="threads must be > 0"):
        MiniLMEmbedder(runtime="onnx", cache_dir=cache, threads=0)


def test_int8_weights_are_made_once_next_to_the_export_and_stay_close_to_it(
    exported: tuple[MiniLMEmbedder, Path], tmp_path: Path
) -> None:
    full, shared = exported
    (export,) = shared.glob("minilm-*.onnx")
    cache = tmp_path / "models"
    cache.mkdir()
    shutil.copy(export, cache / export.name)  # this test's own cache: the export, then its int8 copy
    int8 = MiniLMEmbedder(runtime="onnx-int8", cache_dir=cache)
    (quantized,) = cache.glob("minilm-*-int8.onnx")
    assert (
        quantized.stat().st_size < 0.7 * export.stat().st_size
    )  # the matrices (not the word table) in 8 bits
    documents = int8.embed_documents(TEXTS[:3])
    assert np.min(np.sum(documents * full.embed_documents(TEXTS[:3]), axis=1)) > 0.98
    # a question still finds its article among the others
    question = int8.embed_query("How can I get a PDF of my invoice?")
    assert int(np.argmax(documents @ question)) == 1
    made = quantized.stat().st_mtime_ns
    MiniLMEmbedder(runtime="onnx-int8", cache_dir=cache)
    assert quantized.stat().st_mtime_ns == made and int8.name == "minilm"
