"""Extractive answers: whole units of the best section of the knowledge base, and the calibrator."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from firstlast.answerer.brand_voice import VoiceProfile, load_voice_profile
from firstlast.answerer.confidence import FEATURES, Calibrator, signals
from firstlast.answerer.extractive import ExtractiveAnswerer, section_text, sections, top_section
from firstlast.config import Settings
from firstlast.errors import ConfigError
from firstlast.ingest.loaders import load_path
from firstlast.types import Chunk, Hit, Question
from firstlast.wiring import Services, build

REPO = Path(__file__).resolve().parents[2]
VOICE = REPO / "examples" / "voice.yaml"


# -- the answerer on the sample KB ----------------------------------------------------------------


@pytest.fixture(scope="module")
def kb(minilm, tmp_path_factory) -> Services:
    """The sample KB ingested once for this module's read-only tests (as `sample_services` does)."""
    services = build(
        Settings(data_dir=tmp_path_factory.mktemp("extractive") / "data", answer={"voice_profile": VOICE}),
        embedder=minilm,
    )
    source, documents = load_path(REPO / "examples" / "sample_kb")
    services.ingestor.ingest(documents, source=source)
    return services


@pytest.fixture(scope="module")
def answerer(kb) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(load_voice_profile(VOICE), Calibrator.load(None), documents=kb.retriever)


def _ask(kb: Services, answerer: ExtractiveAnswerer, text: str, channel: str = "chat"):
    question = Question(text, channel=channel)  # type: ignore[arg-type]
    return answerer.answer(question, kb.retriever.retrieve(question))


def test_a_procedure_question_gets_every_step_in_order_with_its_lead_in(kb, answerer):
    draft = _ask(kb, answerer, "where can I download my invoice")
    assert draft.citations[0].doc_id == "billing-invoices-and-taxes"
    lines = draft.text.splitlines()
    start = lines.index("To download past invoices:")
    assert lines[start + 1 : start + 4] == [
        "1. Go to **Settings → Billing → Invoices**.",
        "2. Find the payment you need. Invoices are listed newest first.",
        "3. Click **Download PDF**.",
    ]


def test_a_two_part_question_gets_both_parts(kb, answerer):
    draft = _ask(kb, answerer, "How do I restore a note from the trash and how do I empty the trash?")
    assert "Restore" in draft.evidence and "**Empty Trash**" in draft.evidence
    assert len(draft.text) <= 700


def test_a_two_part_question_about_two_articles_cites_both_when_both_fit(kb, answerer):
    text = "How do I turn on two-factor authentication and how do I change my email address?"
    draft = _ask(kb, answerer, text, channel="email")
    assert [c.doc_id for c in draft.citations] == [
        "account-two-factor-authentication",
        "account-change-email",
    ]
    assert "6. Save your 10 backup codes" in draft.text and "4. Open the email we send" in draft.text
    # in chat (700 characters) both procedures do not fit whole: the first is not cut to make room
    chat = _ask(kb, answerer, text)
    assert "6. Save your **10 backup codes**" in chat.text


def test_a_plain_text_channel_renders_a_list_as_numbered_lines(kb, answerer):
    draft = _ask(kb, answerer, "How do I turn on two-factor authentication?", channel="email")
    numbered = [line for line in draft.text.splitlines() if line[:2] in ("1.", "2.", "3.", "4.", "5.")]
    assert [line[:2] for line in numbered] == ["1.", "2.", "3.", "4.", "5."]
    assert numbered[0].startswith("1. Install an authenticator app")
    assert "**" not in draft.text


@pytest.mark.parametrize(
    "text",
    [
        "someone deleted a note in our team, can we get it back?",
        "how do I export all my notes",
        "How do I add my VAT ID to invoices?",
        "How do I change my plan?",
        "How do I share a note?",
    ],
)
def test_no_reply_starts_in_the_middle_of_a_list(kb, answerer, text):
    draft = _ask(kb, answerer, text)
    body = draft.evidence.lstrip()
    assert not re.match(r"(?:[2-9]|1\d)[.)]\s", body), body[:80]
    for line_no, line in enumerate(body.splitlines()):
        number = re.match(r"(\d+)[.)]\s", line)
        if number and int(number.group(1)) > 1:  # a step is always preceded by the step before it
            previous = [ln for ln in body.splitlines()[:line_no] if re.match(r"\d+[.)]\s", ln)]
            assert previous and int(re.match(r"\d+", previous[-1]).group(0)) == int(number.group(1)) - 1


def test_a_reply_cut_to_the_channel_links_to_the_whole_article(kb, answerer):
    draft = _ask(kb, answerer, "can i get my money back if i cancel mid-month?")
    assert "Monthly payments aren't refundable" in draft.text
    assert draft.text.endswith("[Read more](https://help.nimbusnotes.example/articles/billing-refund-policy)")
    assert len(draft.text) <= 700


def test_answer_from_a_long_section_is_a_cited_part_of_it(kb, answerer):
    question = Question("Can I get a refund on my annual Plus payment?")
    hits = kb.retriever.retrieve(question)
    top = hits[0]
    whole = section_text(sections(kb.retriever.document_chunks(top.chunk))[top_section(top.chunk.section)])
    assert len(whole) > 700  # a long section: the reply must be a part of it

    draft = answerer.answer(question, hits)

    assert "full refund within 14 days" in draft.evidence
    assert len(draft.text) <= 700 and draft.text.endswith(f"[Read more]({draft.citations[0].url})")
    assert draft.citations[0].doc_id == top.chunk.doc_id == "billing-refund-policy"
    assert draft.citations[0].chunk_id == top.chunk.id
    assert draft.citations[0].url == "https://help.nimbusnotes.example/articles/billing-refund-policy"
    assert 0.0 <= draft.confidence <= 1.0
    assert draft.text.startswith("Hi there!\n\n")
    assert set(draft.signals) == set(FEATURES)


def test_answer_to_how_do_i_question_contains_the_answer_not_just_the_lead_in(kb, answerer):
    question = Question("How do I reset my password?")
    draft = answerer.answer(question, kb.retriever.retrieve(question))
    assert draft.citations[0].doc_id == "account-reset-password"
    assert draft.evidence != "Forgot your password?"
    assert "sign-in page" in draft.evidence


def test_the_section_that_answers_wins_over_a_later_one_that_shares_the_words(kb, answerer):
    # "Use a backup code" also says "Two-factor authentication ... turn it on again"; the steps under
    # "Turn on 2FA" answer the question, even when diversification lists that chunk after other documents.
    question = Question("How do I turn on two-factor authentication?")
    hits = kb.retriever.retrieve(question)
    draft = answerer.answer(question, hits)
    assert draft.citations[0].chunk_id == "account-two-factor-authentication#1"
    assert "authenticator app" in draft.evidence and "Use a backup code" not in draft.evidence


def test_sms_answer_fits_the_channel_and_carries_the_link(kb, answerer):
    question = Question("Can I get a refund if I bought Plus in the App Store?", channel="sms")
    draft = answerer.answer(question, kb.retriever.retrieve(question))
    assert len(draft.text) <= 320
    assert draft.citations[0].url in draft.text


def test_relevant_question_is_more_confident_than_an_off_topic_one(kb, answerer):
    on_topic = Question("How long are deleted notes kept in the trash?")
    off_topic = Question("What is the capital of Mongolia?")
    assert answerer.answer(on_topic, kb.retriever.retrieve(on_topic)).confidence > 0.5
    assert answerer.answer(off_topic, kb.retriever.retrieve(off_topic)).confidence < 0.5


def test_no_hits_gives_a_draft_without_citations_or_text(answerer):
    draft = answerer.answer(Question("How do I reset my password?"), [])
    assert draft.citations == ()
    assert draft.text == "" and draft.evidence == ""
    assert 0.0 <= draft.confidence <= 1.0


def test_long_paragraph_must_be_positive():
    with pytest.raises(ValueError, match="long_paragraph must be > 0, got 0"):
        ExtractiveAnswerer(VoiceProfile(), Calibrator.load(None), long_paragraph=0)


# -- calibrator -----------------------------------------------------------------------------------


def test_default_calibration_is_shipped_and_valid():
    calibrator = Calibrator.load(None)
    assert set(calibrator.weights) <= set(FEATURES)
    assert calibrator.weights["dense_top"] > 0
    assert Calibrator.from_json(calibrator.to_json()) == calibrator


def test_the_question_ranking_ships_the_default_extended_with_question_signals():
    default, extended = Calibrator.load(None), Calibrator.load(None, question_ranking=True)
    assert "learned" not in default.weights  # off by default: learned entries scored as in 0.3
    assert extended.weights["learned_match"] > 0 and extended.weights["learned"] < 0
    assert all(extended.weights[name] == w for name, w in default.weights.items())  # fitted on top
    assert extended.bias == default.bias


def test_shipped_calibration_rises_with_retrieval_evidence():
    calibrator = Calibrator.load(None)
    base = dict.fromkeys(FEATURES, 0.0) | {
        "coverage": 0.8,
        "agreement": 1.0,
        "both_found": 1.0,
        "lexical_ratio": 0.3,
        "query_words": 1.6,
    }
    probs = [
        calibrator.probability(base | {"dense_top": x / 10, "answer_dense": x / 10, "dense_margin": x / 40})
        for x in range(11)
    ]
    assert probs == sorted(probs)
    assert probs[-1] > probs[0] + 0.5
    assert all(0.0 <= p <= 1.0 for p in probs)
    nothing_matches = dict.fromkeys(FEATURES, 0.0) | {"dense_top": 0.2, "answer_dense": 0.2}
    assert calibrator.probability(nothing_matches) < 0.05


def test_isotonic_table_maps_the_raw_probability():
    calibrator = Calibrator({"dense_top": 10.0}, -5.0, iso_x=(0.0, 0.5, 1.0), iso_y=(0.1, 0.2, 0.9))
    assert calibrator.probability({"dense_top": 0.5}) == pytest.approx(0.2)
    assert calibrator.probability({"dense_top": 5.0}) == pytest.approx(0.9, abs=1e-3)


def test_calibration_with_an_unknown_feature_is_a_config_error():
    text = json.dumps({"weights": {"dense_top": 1.0, "vibes": 2.0}, "bias": 0.0})
    with pytest.raises(ConfigError, match=r"mine\.json: .*unknown features \['vibes'\]"):
        Calibrator.from_json(text, "mine.json")


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps({"bias": 0.0}),
        json.dumps({"weights": {"dense_top": "high"}, "bias": 0}),
        json.dumps({"weights": {}, "bias": 0, "isotonic": {"x": [0, 1], "y": [0]}}),
    ],
    ids=["bad-json", "no-weights", "non-numeric-weight", "isotonic-lengths"],
)
def test_invalid_calibration_file_is_a_config_error(text):
    with pytest.raises(ConfigError, match="not a valid calibration file"):
        Calibrator.from_json(text)


def test_missing_calibration_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="calibration file not found"):
        Calibrator.load(tmp_path / "nope.json")


def test_calibration_file_round_trips_through_load(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text(Calibrator({"coverage": 3.0}, -1.0, meta={"fitted_on": "test"}).to_json())
    loaded = Calibrator.load(path)
    assert (
        loaded.weights == {"coverage": 3.0} and loaded.bias == -1.0 and loaded.meta == {"fitted_on": "test"}
    )


def test_signals_without_hits_are_zero_except_query_words():
    sig = signals(Question("How do I reset my password?"), [], None)
    assert sig["query_words"] > 0
    assert all(v == 0.0 for k, v in sig.items() if k != "query_words")


def test_signals_measure_agreement_and_coverage():
    c1 = Chunk("refund#0", "refund", "Annual payments are refunded within 14 days.", "Refund policy")
    c2 = Chunk("sync#0", "sync", "Sync runs whenever the app is open.", "Sync")
    hits = [
        Hit(c1, 0.03, dense_score=0.8, lexical_score=6.0, dense_rank=1, lexical_rank=1),
        Hit(c2, 0.01, dense_score=0.3, dense_rank=2),
    ]
    sig = signals(Question("Are annual payments refunded?"), hits, hits[0])
    assert sig["dense_top"] == pytest.approx(0.8)
    assert sig["dense_margin"] == pytest.approx(0.5)
    assert sig["agreement"] == 1.0 and sig["both_found"] == 1.0
    assert sig["coverage"] == pytest.approx(1.0)
