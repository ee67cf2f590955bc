"""Question-to-question matching: the questions a learned entry answers (its question and every
merged wording) and FAQ titles that are questions are indexed, and a query finds the closest."""

from __future__ import annotations

from firstlast.retriever.questions import QuestionIndex, is_question, residual_text, wordings
from firstlast.retriever.text import content_words
from firstlast.types import Chunk


def _chunk(doc: str, title: str, *, section: str = "", source: str = "default", **meta: str) -> Chunk:
    return Chunk(f"{doc}#0", doc, "body", title, section=section, source=source, metadata=meta)


def test_question_titles_in_english_japanese_and_korean_are_recognised() -> None:
    for text in (
        "How do I reset my password?",
        "マイナンバーカードの申請方法を知りたい。",
        "住民票はどこで取れますか",
        "배송비는 얼마인가요?",
    ):
        assert is_question(text), text
    for text in ("Choosing a picture mode", "Refund policy", "住民票の写しの交付", ""):
        assert not is_question(text), text


def test_a_learned_entry_answers_its_question_and_every_merged_wording() -> None:
    learned = _chunk(
        "learned/1",
        "Do you offer discounts to charities?",
        source="learned",
        questions="Is there a non-profit discount?",
    )
    assert wordings(learned) == ["Do you offer discounts to charities?", "Is there a non-profit discount?"]
    faq = _chunk(
        "faq", "Frequently asked questions", section="Frequently asked questions > Can I get a refund?"
    )
    assert wordings(faq) == ["Can I get a refund?"]
    assert wordings(_chunk("manual", "Picture settings", section="Picture settings > Choosing a mode")) == []


def test_the_closest_question_wins_per_document(embedder) -> None:
    index = QuestionIndex(embedder, titles=True)
    index.rebuild(
        [
            _chunk(
                "learned/1",
                "Do you offer discounts to charities?",
                source="learned",
                questions="Is there a non-profit discount?",
            ),
            _chunk("faq", "FAQ", section="FAQ > How do I cancel my plan?"),
        ]
    )
    question = "Can non-profit organisations get a discount?"
    matches = index.match(embedder.embed_query(question), question)
    assert set(matches) == {"learned/1", "faq"}
    assert matches["learned/1"].similarity > matches["faq"].similarity
    assert matches["learned/1"].overlap > 0
    embedded = embedder.documents_embedded
    index.rebuild([_chunk("faq", "FAQ", section="FAQ > How do I cancel my plan?")])
    assert embedder.documents_embedded == embedded  # wordings are embedded once
    assert set(index.match(embedder.embed_query(question), question)) == {"faq"}


def test_faq_titles_are_indexed_only_when_asked_for(embedder) -> None:
    faq = _chunk("faq", "FAQ", section="FAQ > How do I cancel my plan?")
    learned = _chunk("learned/1", "Do you offer discounts to charities?", source="learned")
    index = QuestionIndex(embedder)
    index.rebuild([faq, learned])
    assert len(index) == 1 and wordings(faq, titles=False) == []


def test_the_residual_is_what_each_side_says_beyond_the_other() -> None:
    question, wording = (
        "Can charities get a discount?",
        "Do you offer a discount for non-profit organisations?",
    )
    shared = content_words(question) & content_words(wording)
    assert residual_text(question, shared) == "charities get"
    assert residual_text(wording, shared) == "offer non profit organisations"
    assert residual_text("Do you offer a discount?", content_words(wording)) == ""
    # Japanese: the characters no shared bigram covers, runs of kana alone (particles) dropped
    asked, known = "マイナンバーカードの再発行の窓口", "マイナンバーカードの申請の窓口"
    shared = content_words(asked) & content_words(known)
    assert residual_text(asked, shared) == "再発行"
    assert residual_text(known, shared) == "申請"


def test_a_paraphrase_differs_from_the_known_question_in_words_that_mean_the_same(embedder) -> None:
    learned = Chunk(
        "learned/1#0",
        "learned/1",
        "Yes: registered non-profit organisations get 50% off the Team plan.",
        "Do you offer a discount for non-profit organisations?",
        source="learned",
    )
    index = QuestionIndex(embedder)
    index.rebuild([learned])

    def residual(question: str) -> float:
        return index.match(embedder.embed_query(question), question)["learned/1"].residual

    paraphrase, near_miss = (
        residual("Can charities get a discount?"),
        residual("Is there a discount for students?"),
    )
    assert paraphrase > near_miss + 0.15, (paraphrase, near_miss)
    assert residual("Is there a non-profit discount on the Team plan?") == 1.0  # the answer says the rest
    assert residual("How do I reset my password?") == 0.0  # no shared word: not compared
