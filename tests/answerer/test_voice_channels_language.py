"""Brand voice per channel (both answerers), voice metrics, and replying in the customer's language."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import VOICE

from firstlast.answerer.brand_voice import VoiceProfile, load_voice_profile, to_plain
from firstlast.errors import ConfigError
from firstlast.eval.metrics import voice_metrics
from firstlast.language import LanguageDetector, prefer_language
from firstlast.types import Chunk, Document, Hit, Question
from firstlast.wiring import build

LINK = "https://help.nimbusnotes.example/articles/account-two-factor-authentication"
MARKDOWN_BODY = (
    "Go to **Settings → Security → Two-factor authentication** and click **Turn on**. "
    "See [the 2FA guide](https://help.nimbusnotes.example/2fa) for details. "
    + " ".join(
        f"Step {i} explains one more detail about authenticator apps and backup codes." for i in range(12)
    )
)


@pytest.fixture(scope="module")
def voice() -> VoiceProfile:
    return load_voice_profile(VOICE)


# -- voice profile errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("banned_phrases: ['ok', '  ']\n", "banned_phrases: Value error, banned phrase 1 is empty"),
        ("vocabulary: {customer: ''}\n", "vocabulary: Value error, vocabulary entry 'customer'"),
        ("format: {sms: html}\n", "format.sms: Input should be 'markdown' or 'plain'"),
        ("emoji: lots\n", "emoji: Input should be 'none' or 'sparing'"),
        ("language_policy: guess\n", "language_policy: Input should be 'kb_language_with_note' or 'handoff'"),
        ("max_length: {sms: 10}\n", "max_length for sms must be >= 40 characters, got 10"),
        ("greeting: {fax: Hello}\n", "greeting.fax"),
        ("persona: Nova\nmood: sunny\n", "mood: Extra inputs are not permitted"),
        ("persona: [unclosed\n", "invalid YAML"),
    ],
)
def test_voice_profile_errors_name_the_field(tmp_path: Path, yaml_text: str, message: str):
    path = tmp_path / "voice.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as err:
        load_voice_profile(path)
    assert str(err.value).startswith(f"voice profile {path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value).split(": ", 1)[1] or "invalid YAML" in message


# -- channels ----------------------------------------------------------------------------------------


def test_sms_reply_is_plain_within_320_characters_with_the_article_link(voice):
    text = voice.render(MARKDOWN_BODY, "sms", link=LINK)
    assert len(text) <= 320
    assert "**" not in text and "](" not in text
    assert LINK in text and text.endswith("– Nimbus Notes")
    assert text.startswith("Go to Settings → Security → Two-factor authentication and click Turn on.")


def test_chat_keeps_markdown_and_email_is_plain(voice):
    assert "**Settings" in voice.render(MARKDOWN_BODY, "chat")
    email = voice.render(MARKDOWN_BODY, "email")
    assert "**" not in email and "the 2FA guide (https://help.nimbusnotes.example/2fa)" in email
    assert email.startswith("Hello,\n\n") and email.endswith("Best wishes,\nNova from Nimbus Notes")


def test_to_plain_turns_markdown_into_text():
    assert to_plain("# Title\n**Bold** and *it* and `code` [link](https://x.example)\n* item") == (
        "Title\nBold and it and code link (https://x.example)\n- item"
    )


def test_emoji_are_removed_when_the_profile_allows_none():
    assert VoiceProfile(emoji="none").enforce("Done 🎉 and synced ✅.") == "Done and synced."
    assert VoiceProfile(emoji="sparing").enforce("Done 🎉.", "chat") == "Done 🎉."


def test_extractive_sms_reply_from_the_knowledge_base_stays_within_limits(sample_services):
    outcome = sample_services.bot.ask(Question("How do I turn on two-factor authentication?", channel="sms"))
    assert outcome.decision.action == "answer"
    assert len(outcome.reply_text) <= 320 and "**" not in outcome.reply_text
    assert outcome.draft.citations[0].url in outcome.reply_text


# -- voice metrics -------------------------------------------------------------------------------------


def test_voice_metrics_count_banned_phrases_length_and_greetings(voice):
    replies = [
        ("Hi there!\n\nYou can export notes.", "chat", True),
        ("Hi there!\n\nUnfortunately, no.", "chat", True),  # banned phrase
        ("You can export notes.", "chat", True),  # no greeting
        ("x" * 400, "sms", True),  # too long for SMS; SMS has no greeting, so compliant
        (voice.handoff_message, "chat", False),  # a handoff needs no greeting
    ]
    metrics = voice_metrics(replies, voice.banned_phrases, voice.max_length, voice.greeting)
    assert metrics == {"banned_phrase_rate": 0.2, "over_length_rate": 0.2, "greeting_rate": 0.75}


# -- language ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(["en", "ja", "ko", "de", "fr", "es", "it"])


def test_language_is_detected_and_short_ambiguous_text_gets_the_default(detector):
    assert detector.detect("パスワードを忘れた場合はどうすればいいですか？") == "ja"
    assert detector.detect("비밀번호를 어떻게 바꾸나요?") == "ko"
    assert detector.detect("Wie kann ich mein Passwort zurücksetzen?") == "de"
    assert detector.detect("How do I reset my password?") == "en"
    assert detector.detect("reset password") == "en"  # lingua alone says Italian
    assert detector.detect("123 ?!") == ""


def test_unknown_language_code_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown ISO 639-1 code 'xx'"):
        LanguageDetector(["en", "xx"])


def _hit(doc: str, lang: str, score: float) -> Hit:
    return Hit(Chunk(f"{doc}#0", doc, "text", doc, lang=lang), score)


def test_hits_in_the_customer_language_come_first_in_retrieval_order():
    hits = [
        _hit("en-a", "en", 0.9),
        _hit("ja-a", "ja", 0.8),
        _hit("en-b", "en", 0.7),
        _hit("ja-b", "ja", 0.6),
    ]
    assert [h.chunk.doc_id for h in prefer_language(hits, "ja")] == ["ja-a", "ja-b", "en-a", "en-b"]
    assert prefer_language(hits, "de") == hits  # nothing in German: unchanged
    assert prefer_language(hits, "") == hits


JA_DOC = Document(
    "ja-password",
    "パスワードの再設定",
    "パスワードを忘れた場合は、サインイン画面の「パスワードをお忘れですか？」をクリックしてください。"
    "登録したメールアドレスに再設定用のリンクが届きます。リンクの有効期限は1時間です。",
)
EN_DOC = Document(
    "en-password",
    "Reset your password",
    "If you forgot your password, click Forgot password? on the sign-in screen. "
    "We email you a reset link that is valid for one hour.",
)


def test_japanese_question_is_answered_from_japanese_knowledge(make_settings, embedder):
    # threshold 0: this is about the language of the reply, not MiniLM's confidence on Japanese
    services = build(make_settings(answer={"voice_profile": VOICE, "threshold": 0.0}), embedder=embedder)
    services.ingestor.ingest([EN_DOC, JA_DOC], source="kb")  # no lang given: detected at ingest
    langs = {c.doc_id: c.lang for c in services.store.chunks()}
    assert langs == {"en-password": "en", "ja-password": "ja"}
    outcome = services.bot.ask(Question("パスワードを忘れた場合はどうすればいいですか？"))
    assert outcome.question.lang == "ja"
    assert outcome.draft.citations[0].doc_id == "ja-password"
    assert outcome.decision.action == "answer"
    assert outcome.reply_text.startswith("Hi there!\n\nパスワードを忘れた場合は")


def test_without_knowledge_in_the_customer_language_the_policy_decides(make_settings, embedder, tmp_path):
    question = Question("Wie kann ich mein Passwort zurücksetzen, wenn ich es vergessen habe?")
    with_note = build(make_settings(answer={"voice_profile": VOICE, "threshold": 0.0}), embedder=embedder)
    with_note.ingestor.ingest([EN_DOC], source="kb")
    outcome = with_note.bot.ask(question)
    assert outcome.question.lang == "de" and outcome.decision.action == "answer"
    assert with_note.voice.note_for("de").startswith("(Diese Antwort stammt")
    assert with_note.voice.note_for("de") in outcome.reply_text

    strict = tmp_path / "strict.yaml"
    strict.write_text(
        VOICE.read_text().replace("language_policy: kb_language_with_note", "language_policy: handoff")
    )
    handoff = build(
        make_settings(data_dir=tmp_path / "other", answer={"voice_profile": strict, "threshold": 0.0}),
        embedder=embedder,
    )
    handoff.ingestor.ingest([EN_DOC], source="kb")
    outcome = handoff.bot.ask(question)
    assert outcome.decision.handed_off  # no knowledge in German: a person (offered, per the modes)
    assert outcome.draft.signals["language_mismatch"] == 1.0
