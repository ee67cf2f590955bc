"""Lexical search: language-aware tokens and the BM25 index over chunks."""

from __future__ import annotations

from firstlast.retriever.lexical import BM25Index, index_text
from firstlast.retriever.text import has_cjk, stem, tokenize
from firstlast.types import Chunk


def test_plural_and_verb_endings_share_a_stem():
    assert tokenize("passwords") == tokenize("password") == ["password"]
    assert tokenize("syncing") == tokenize("synced") == tokenize("syncs") == ["sync"]
    assert tokenize("copies") == ["copy"]
    assert tokenize("addresses") == ["address"]


def test_short_words_digits_and_latin_s_endings_are_left_alone():
    assert stem("bus") == "bus"
    assert stem("access") == "access"
    assert stem("status") == "status"
    assert stem("analysis") == "analysis"
    assert stem("2024") == "2024"


def test_stop_words_and_greetings_are_dropped():
    assert tokenize("Hi, how do I get my money back? Thanks!") == ["get", "money", "back"]
    assert tokenize("the and of to") == []


def test_text_is_lower_cased_and_nfkc_normalised():
    assert tokenize("ＰＡＳＳＷＯＲＤ Reset") == ["password", "reset"]


def test_japanese_becomes_overlapping_bigrams():
    assert tokenize("パスワード変更") == ["パス", "スワ", "ワー", "ード", "ド変", "変更"]
    # both a question and a KB sentence about changing the password share the bigram 変更
    assert "変更" in tokenize("パスワードを変更したい")
    assert "変更" in tokenize("設定からパスワードを変更できます。")


def test_single_kanji_is_kept_as_a_token():
    assert tokenize("税 and tax") == ["税", "tax"]


def test_korean_becomes_bigrams_and_mixed_text_keeps_latin_words():
    tokens = tokenize("비밀번호 변경 on iPhone")
    assert tokens == ["비밀", "밀번", "번호", "변경", "iphone"]
    assert has_cjk("비밀번호") and has_cjk("変更") and not has_cjk("password")


def make_chunk(cid: str, text: str, title: str = "", section: str = "") -> Chunk:
    return Chunk(id=cid, doc_id=cid.split("#")[0], text=text, title=title, section=section)


CHUNKS = [
    make_chunk("reset#0", "Use the link we email you to choose a new password.", "Reset your password"),
    make_chunk("refund#0", "Annual payments are refunded within 14 days.", "Refund policy"),
    make_chunk("sync#0", "Sync runs whenever the app is open.", "Sync troubleshooting", "Still not syncing?"),
    make_chunk("ja#0", "パスワードは設定画面から変更できます。", "パスワードの変更"),
]


def test_bm25_ranks_the_chunk_with_the_query_words_first_and_omits_non_matches():
    index = BM25Index(CHUNKS)
    assert len(index) == 4
    results = index.search("I forgot my passwords", k=4)
    assert [c.id for c, _ in results] == ["reset#0"]
    assert results[0][1] > 0


def test_bm25_finds_chunks_by_their_title_and_section():
    index = BM25Index(CHUNKS)
    assert [c.id for c, _ in index.search("refund policy", k=2)] == ["refund#0"]
    assert [c.id for c, _ in index.search("still not syncing", k=2)] == ["sync#0"]
    assert index_text(CHUNKS[2]).startswith("Sync troubleshooting > Still not syncing?\n")


def test_bm25_finds_japanese_text_by_bigrams():
    index = BM25Index(CHUNKS)
    assert index.search("パスワードを変更したい", k=4)[0][0].id == "ja#0"


def test_bm25_scores_are_descending_and_k_is_respected():
    chunks = [make_chunk(f"d{i}#0", "refund " * (i + 1) + "filler words here " * 5) for i in range(6)]
    results = BM25Index(chunks).search("refund", k=3)
    scores = [s for _, s in results]
    assert len(results) == 3
    assert scores == sorted(scores, reverse=True)


def test_empty_index_and_empty_query_find_nothing():
    assert BM25Index([]).search("password", k=5) == []
    assert len(BM25Index([])) == 0
    assert BM25Index(CHUNKS).search("the and of", k=5) == []
