"""The incrementally updated BM25 index scores exactly like bm25s built from scratch over the same
chunks (same k1, b and tokens), after any sequence of added, changed and deleted documents."""

from __future__ import annotations

import random
from dataclasses import replace

import bm25s
import numpy as np
import pytest
from tests.conftest import SAMPLE_KB

from firstlast.ingest.chunker import Chunker
from firstlast.ingest.loaders import load_path
from firstlast.retriever import lexical
from firstlast.retriever.analysis import TextAnalyzer
from firstlast.retriever.lexical import BM25_B, BM25_K1, BM25Index, index_text
from firstlast.types import Chunk

QUERIES = [
    "reset my password",
    "cancel subscription refund",
    "two factor authentication code",
    "change the email on my account",
    "failed payment card declined",
    "export data",
    "invoice",
]


@pytest.fixture(scope="module")
def corpus() -> list[Chunk]:
    _, docs = load_path(SAMPLE_KB)
    chunker = Chunker(chunk_tokens=96, overlap_tokens=16)
    return [c for d in docs for c in chunker.chunk(d)]


def scratch(chunks: list[Chunk], analyzer: TextAnalyzer) -> bm25s.BM25:
    model = bm25s.BM25(k1=BM25_K1, b=BM25_B)
    model.index([analyzer.tokens(index_text(c)) or ["\0"] for c in chunks], show_progress=False)
    return model


def assert_same_as_scratch(index: BM25Index, analyzer: TextAnalyzer) -> None:
    live = index.chunks
    assert len(index) == len(live)
    model = scratch(live, analyzer)
    for query in QUERIES:
        tokens = analyzer.tokens(query)
        known = [t for t in tokens if t in model.vocab_dict]
        expected = np.asarray(model.get_scores(known)) if known else np.zeros(len(live))
        np.testing.assert_allclose(index.scores(tokens), expected, rtol=1e-4, atol=1e-5)
        got = index.search_tokens(tokens, 10)
        order = np.argsort(-expected, kind="stable")[: len(got)]
        assert [round(s, 4) for _, s in got] == [round(float(expected[i]), 4) for i in order]
        assert {c.id for c, _ in got} <= {c.id for c in live}


def test_adds_changes_and_deletes_score_like_bm25s_from_scratch(corpus, monkeypatch) -> None:
    monkeypatch.setattr(lexical, "MAX_SEGMENTS", 3)  # merges happen within the sequence
    analyzer = TextAnalyzer()
    rng = random.Random(3)
    docs: dict[str, list[Chunk]] = {}
    for chunk in corpus:
        docs.setdefault(chunk.doc_id, []).append(chunk)
    names = sorted(docs)
    index = BM25Index(analyzer=analyzer)
    for name in names[:8]:
        index = index.updated({name}, docs[name])
    assert_same_as_scratch(index, analyzer)
    for step in range(30):
        name = rng.choice(names)
        action = rng.choice(["add", "change", "delete"])
        if action == "delete":
            index = index.updated({name}, [])
        elif action == "change":  # fewer chunks, one rewritten: rows go away and come back
            kept = docs[name][: max(1, len(docs[name]) - 1)]
            changed = [replace(kept[0], text=kept[0].text + f" invoice refund step {step}"), *kept[1:]]
            index = index.updated({name}, changed)
        else:
            index = index.updated({name}, docs[name])
        assert_same_as_scratch(index, analyzer)
    assert len(index._segments) <= 4


def test_deleting_most_documents_renumbers_rows_and_keeps_scores(corpus) -> None:
    analyzer = TextAnalyzer()
    index = BM25Index(corpus, analyzer=analyzer)
    doc_ids = sorted({c.doc_id for c in corpus})
    index = index.updated(doc_ids[: len(doc_ids) // 2], [])
    assert len(index._chunks) == len(index)  # renumbered: no deleted rows left
    assert_same_as_scratch(index, analyzer)
    assert len(index.updated(doc_ids, [])) == 0
    assert index.updated(doc_ids, []).search("password", 5) == []


def test_an_earlier_snapshot_is_unchanged_by_updates(corpus) -> None:
    analyzer = TextAnalyzer()
    first = BM25Index(corpus, analyzer=analyzer)
    before = first.search("reset password", 5)
    doc = before[0][0].doc_id
    second = first.updated({doc}, [])
    assert first.search("reset password", 5) == before
    assert doc not in {c.doc_id for c, _ in second.search("reset password", 5)}


def test_an_update_analyses_only_the_changed_chunks(corpus) -> None:
    class Counting(TextAnalyzer):
        texts = 0

        def tokens(self, text: str) -> list[str]:
            if "\n" in text or len(text) > 40:  # chunk texts, not the queries
                Counting.texts += 1
            return super().tokens(text)

    analyzer = Counting()
    index = BM25Index(corpus, analyzer=analyzer)
    assert Counting.texts == len(corpus)
    doc = corpus[0].doc_id
    same = [c for c in corpus if c.doc_id == doc]
    index.updated({doc}, same)  # re-ingested unchanged: nothing to analyse
    assert Counting.texts == len(corpus)
    index.updated({doc}, [replace(same[0], text=same[0].text + " more"), *same[1:]])
    assert Counting.texts == len(corpus) + 1
