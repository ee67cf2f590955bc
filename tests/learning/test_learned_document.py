"""How a learned answer is written into the knowledge base."""

from __future__ import annotations

import pytest
from tests.conftest import BOTH_DATABASES

from firstlast.ingest.chunker import Chunker
from firstlast.learning.entries import learned_document

pytestmark = BOTH_DATABASES  # SQLite and PostgreSQL

ANSWER = "One is first. Two is here. Three follows! Four? Five comes. Six ends. Seven stays."


def test_learned_answer_is_one_piece_titled_by_the_question_by_default() -> None:
    doc = learned_document("learned/x", "How do I exit Anynet+?", ANSWER, {"kind": "learned"})
    assert (doc.title, doc.text, doc.source) == ("How do I exit Anynet+?", ANSWER, "learned")
    assert [c.text for c in Chunker().chunk(doc)] == [ANSWER]


def test_long_learned_answer_can_be_written_as_question_headed_sections() -> None:
    doc = learned_document("learned/x", "How do I exit Anynet+?", ANSWER, {}, section_sentences=3)
    chunks = Chunker().chunk(doc)
    assert [c.text for c in chunks] == [
        "One is first. Two is here. Three follows!",
        "Four? Five comes. Six ends.",
        "Seven stays.",
    ]
    assert [c.section for c in chunks] == [f"How do I exit Anynet+? ({n}/3)" for n in (1, 2, 3)]
    assert {c.doc_id for c in chunks} == {"learned/x"}


@pytest.mark.parametrize("sentences", [3, 7, 20])
def test_short_answers_stay_whole(sentences: int) -> None:
    doc = learned_document("learned/x", "Q?", "A short answer. With two sentences.", {}, sentences)
    assert doc.text == "A short answer. With two sentences."


def test_other_wordings_head_the_answer_and_are_never_quoted_as_it() -> None:
    doc = learned_document(
        "learned/x",
        "Do you offer a discount for non-profit organisations?",
        "Yes: 50% off the Team plan.",
        {},
        variants=["Is there a non-profit discount?", "Do you offer a discount for non-profit organisations?"],
    )
    (chunk,) = Chunker().chunk(doc)
    assert chunk.text == "Yes: 50% off the Team plan."
    assert chunk.section == "Is there a non-profit discount?"
