"""BM25 tokens that read Korean and Japanese (real Kiwi and Sudachi), and questions in those languages
answered from small knowledge bases in their language."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from firstlast.config import Settings
from firstlast.retriever.analysis import TextAnalyzer
from firstlast.retriever.chroma_store import ChromaStore
from firstlast.retriever.families import FamilyStore, script_family
from firstlast.retriever.lexical import BM25Index
from firstlast.types import Chunk, Document, Question
from firstlast.wiring import build

KOREAN_KB = [
    Document(
        "refund",
        "반품 및 환불",
        "구매하신 상품은 수령 후 7일 이내에 반품을 신청하실 수 있습니다. 환불은 반품 상품이 "
        "판매자에게 도착한 뒤 3영업일 안에 결제하신 수단으로 처리됩니다.",
        lang="ko",
    ),
    Document(
        "settlement",
        "정산",
        "판매 대금은 구매확정일로부터 1영업일 뒤에 정산됩니다. 정산 예정 금액은 정산관리 메뉴의 "
        "정산내역에서 확인하실 수 있습니다.",
        lang="ko",
    ),
    Document(
        "signup",
        "회원가입",
        "스마트스토어센터에 가입하시려면 네이버 아이디로 로그인한 뒤 판매자 유형을 선택하고 "
        "사업자 정보를 입력해 주세요.",
        lang="ko",
    ),
    Document(
        "shipping",
        "배송",
        "주문이 들어오면 발송처리 메뉴에서 택배사와 송장번호를 입력해 주세요. 배송 상태는 구매자에게 "
        "자동으로 안내됩니다.",
        lang="ko",
    ),
]

JAPANESE_KB = [
    Document(
        "lost-card",
        "マイナンバーカードを無くしたとき",
        "マイナンバーカードを紛失した場合は、まず個人番号カードコールセンターに連絡して一時停止してください。"
        "その後、警察に遺失届を出し、市役所の窓口で再発行を申請します。",
        lang="ja",
    ),
    Document(
        "garbage",
        "粗大ごみの出し方",
        "粗大ごみは電話かインターネットで事前に申し込み、指定された日に処理券を貼って出してください。",
        lang="ja",
    ),
    Document(
        "pension",
        "国民年金の納付書",
        "国民年金の納付書を紛失したときは、年金事務所で再発行できます。口座振替もご利用ください。",
        lang="ja",
    ),
    Document(
        "move",
        "引っ越しの手続き",
        "市外へ引っ越すときは、転出届を市役所に出してください。転入先では十四日以内に転入届が必要です。",
        lang="ja",
    ),
]


def test_korean_morphemes_drop_particles_and_endings() -> None:
    analyzer = TextAnalyzer(korean="morphemes")
    assert analyzer.tokens("회원가입은 어떻게 하나요?") == ["회원", "가입"]
    # the same nouns whatever particle or ending is attached
    assert set(analyzer.tokens("정산 예정 금액을 확인하고 싶어요")) >= {"정산", "예정", "금액", "확인"}


def test_japanese_morphemes_unify_spellings_and_drop_particles() -> None:
    analyzer = TextAnalyzer(japanese="morphemes")
    tokens = analyzer.tokens("マイナンバーカードを失くしてしまいました")
    assert "無くす" in tokens  # 失くす and 無くす are one word
    assert "マイナンバー" in tokens and "カード" in tokens
    assert "を" not in tokens and "まし" not in tokens


def test_both_adds_character_bigrams_and_latin_words_are_unchanged() -> None:
    morphemes, both = TextAnalyzer(korean="morphemes"), TextAnalyzer(korean="both")
    assert set(both.tokens("반품안심케어")) == set(morphemes.tokens("반품안심케어")) | {
        "반품",
        "품안",
        "안심",
        "심케",
        "케어",
    }
    assert TextAnalyzer().tokens("How do I reset passwords?") == ["reset", "password"]
    with pytest.raises(ValueError, match="korean must be one of"):
        TextAnalyzer(korean="words")  # type: ignore[arg-type]


def test_an_english_text_with_a_few_cjk_words_loads_no_analyser() -> None:
    """An English knowledge base's language menu ("日本語 | 한국어") must not cost a worker ~570 MB."""
    analyzer = TextAnalyzer(korean="morphemes", japanese="morphemes")
    tokens = analyzer.tokens("Change the display language: English | 日本語 | 한국어 | 中文")
    assert {"日本", "本語", "한국", "국어", "中文", "language"} <= set(tokens)  # bigrams of the CJK words
    assert analyzer._kiwi is None and analyzer._sudachi is None
    assert analyzer.tokens("비밀번호를 잊어버렸어요") == ["비밀", "번호"]  # a Korean text: Kiwi
    assert analyzer._kiwi is not None and analyzer._sudachi is None


@pytest.mark.parametrize(
    ("kb", "question", "expected"),
    [
        (KOREAN_KB, "환불은 언제 되나요?", "refund"),
        (KOREAN_KB, "정산금액은 어디서 확인하나요", "settlement"),
        (JAPANESE_KB, "マイナンバーカードを失くしてしまった", "lost-card"),
        (JAPANESE_KB, "引っ越したら何を届け出ればいいですか", "move"),
    ],
)
def test_a_question_is_found_by_its_morphemes_alone(kb: list[Document], question: str, expected: str) -> None:
    chunks = [Chunk(id=d.id, doc_id=d.id, text=d.text, title=d.title) for d in kb]
    hits = BM25Index(chunks, analyzer=TextAnalyzer(korean="morphemes", japanese="morphemes")).search(
        question, 3
    )
    assert hits[0][0].doc_id == expected


@pytest.mark.parametrize(
    ("kb", "question", "expected"),
    [
        (KOREAN_KB, "반품한 상품 환불은 언제 되나요?", "refund"),
        (JAPANESE_KB, "マイナンバーカードを失くしたらどうすればいいですか", "lost-card"),
    ],
)
def test_a_korean_and_a_japanese_question_are_answered_from_a_kb_in_their_language(
    make_settings: Callable[..., Settings], kb: list[Document], question: str, expected: str
) -> None:
    services = build(make_settings())
    services.ingestor.ingest(kb, source="kb")
    outcome = services.bot.ask(Question(question))
    assert outcome.hits[0].chunk.doc_id == expected
    assert outcome.hits[0].lexical_rank == 1 and outcome.hits[0].dense_rank is not None
    assert outcome.draft is not None and outcome.draft.citations[0].doc_id == expected
    assert outcome.draft.signals["multilingual_model"] == 1.0  # the confidence knows e5's scale


class CountingAnalyzer:
    """A real analyser that counts the texts it was given."""

    def __init__(self) -> None:
        self.inner = TextAnalyzer()
        self.texts = 0

    def tokens(self, text: str) -> list[str]:
        self.texts += 1
        return self.inner.tokens(text)


def test_a_rebuilt_index_analyses_only_new_or_changed_chunks() -> None:
    analyzer = CountingAnalyzer()
    chunks = [Chunk(id=d.id, doc_id=d.id, text=d.text, title=d.title) for d in KOREAN_KB]
    first = BM25Index(chunks[:3], analyzer=analyzer)
    assert analyzer.texts == 3
    changed = Chunk(id="refund", doc_id="refund", text="반품 신청은 7일 이내에 해 주세요.", title="반품")
    second = BM25Index([changed, *chunks[1:]], analyzer=analyzer, previous=first)
    assert analyzer.texts == 3 + 2  # the changed chunk and the new one
    assert second.search("반품 신청", 1)[0][0].text == changed.text


def test_script_family_goes_by_the_script_that_carries_the_text() -> None:
    assert script_family("スマホでQRコードを読む") == "cjk"
    assert script_family("반품 신청 방법") == "cjk"
    assert script_family("How do I export my notes to 엑셀?") == "latin"
    assert script_family("reset password") == "latin"


def test_the_family_store_returns_what_one_exact_index_over_the_joined_vectors_would(tmp_path) -> None:
    rng = np.random.default_rng(7)
    stores = {f: ChromaStore.embedded(tmp_path / "chroma", f"kb_{f}") for f in ("latin", "cjk")}
    store = FamilyStore(stores, dimension=8)
    vectors = np.zeros((40, 16), dtype=np.float32)
    for i in range(40):  # each chunk in one family: its block is a unit vector, the other is zero
        block = rng.normal(size=8)
        start = 0 if i % 3 else 8
        vectors[i, start : start + 8] = block / np.linalg.norm(block)
    chunks = [Chunk(id=f"c{i}", doc_id=f"d{i // 2}", text=f"text {i}", title="") for i in range(40)]
    store.upsert(chunks, vectors)
    assert stores["latin"].count() + stores["cjk"].count() == 40 and stores["cjk"].count() == 14
    assert store.documents()["d0"].chunks == 2  # c0 (cjk) and c1 (latin) merged into one document

    for query in (vectors[5] * 0.8 + vectors[6] * 0.6, vectors[3], vectors[4]):
        query = query / np.linalg.norm(query)
        exact = np.argsort(-(vectors @ query))[:10]
        got = store.dense_search(query, 10)
        assert [c.id for c, _ in got] == [f"c{i}" for i in exact]
        assert np.allclose([s for _, s in got], (vectors @ query)[exact], atol=1e-4)
    assert store.delete_documents(["d0"]) == 2 and store.count() == 38
