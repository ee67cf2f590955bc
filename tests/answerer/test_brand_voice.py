"""The brand voice: per-channel framing, preferred words, banned phrases, length limits, profile errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from firstlast.answerer.brand_voice import VoiceProfile, load_voice_profile
from firstlast.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
VOICE = REPO / "examples" / "voice.yaml"
LONG_BODY = " ".join(
    f"Sentence {i} explains one more detail about refunds for annual plans." for i in range(40)
)
LINK = "https://help.nimbusnotes.example/articles/billing-refund-policy"


@pytest.fixture(scope="module")
def voice() -> VoiceProfile:
    return load_voice_profile(VOICE)


def test_example_profile_loads(voice):
    assert voice.persona == "Nova"
    assert voice.company == "Nimbus Notes"
    assert voice.max_length == {"chat": 700, "email": 2000, "sms": 320, "messenger": 640}
    assert voice.vocabulary["customer"] == "member"


def test_chat_has_the_chat_greeting_and_no_sign_off(voice):
    assert voice.render("You can change your plan in Settings.", "chat") == (
        "Hi there!\n\nYou can change your plan in Settings."
    )


def test_email_has_greeting_and_sign_off(voice):
    text = voice.render("You can change your plan in Settings.", "email")
    assert text == "Hello,\n\nYou can change your plan in Settings.\n\nBest wishes,\nNova from Nimbus Notes"


def test_sms_has_no_greeting_but_a_sign_off_and_the_link(voice):
    text = voice.render("You can change your plan in Settings.", "sms", link=LINK)
    assert text == f"You can change your plan in Settings.\n\n{LINK}\n\n– Nimbus Notes"


def test_link_is_only_appended_for_sms(voice):
    assert LINK not in voice.render("Body.", "chat", link=LINK)
    assert LINK not in voice.render("Body.", "email", link=LINK)


def test_vocabulary_replacement_keeps_capitalisation(voice):
    text = voice.render("Customers on the cheap plan get help asap. Every customer counts.", "chat")
    assert text.endswith("Members on the affordable plan get help as soon as possible. Every member counts.")


def test_vocabulary_replaces_whole_words_only():
    profile = VoiceProfile(vocabulary={"plan": "subscription"})
    assert profile.apply_vocabulary("Your plan and planning") == "Your subscription and planning"


def test_banned_phrases_are_removed_and_the_sentence_recapitalised(voice):
    text = voice.render(
        "Unfortunately, monthly payments aren't refundable per our policy. As an AI I can't help.", "chat"
    )
    body = text.split("\n\n", 1)[1]
    assert body == "Monthly payments aren't refundable. I can't help."
    for phrase in ("unfortunately", "per our policy", "as an ai"):
        assert phrase not in text.lower()


@pytest.mark.parametrize("channel", ["chat", "email", "sms", "messenger"])
def test_length_limit_per_channel_is_respected_with_greeting_and_sign_off(voice, channel):
    text = voice.render(LONG_BODY, channel, link=LINK)
    assert len(text) <= voice.max_length[channel]
    assert text.startswith(voice.greeting[channel])
    assert text.endswith(voice.sign_off[channel])
    assert "Sentence 0 explains" in text


def test_sms_is_at_most_320_characters_and_keeps_the_link_and_sign_off(voice):
    text = voice.render(LONG_BODY, "sms", link=LINK)
    assert len(text) <= 320
    assert f"\n\n{LINK}\n\n– Nimbus Notes" in text
    body = text.split("\n\n")[0]
    assert body.endswith("annual plans.")  # cut at a sentence end


def test_body_without_sentence_ends_is_cut_at_a_word_with_an_ellipsis(voice):
    text = voice.render("word " * 400, "sms", link=LINK)
    assert len(text) <= 320
    assert text.split("\n\n")[0].endswith("word…")
    assert text.endswith("– Nimbus Notes")


def test_handoff_message_comes_from_the_profile_within_the_channel_limit(voice):
    assert voice.handoff("chat").startswith("I'll bring in someone from our support team")
    assert voice.handoff("chat", out_of_hours=True).startswith("Our support team is offline right now.")
    assert len(voice.handoff("sms", out_of_hours=True)) <= 320


def test_no_profile_gives_the_neutral_built_in_one():
    profile = load_voice_profile(None)
    assert profile == VoiceProfile()
    assert profile.render("Body.", "chat") == "Body."


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "voice.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_profile_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"voice profile not found: .*nope\.yaml"):
        load_voice_profile(tmp_path / "nope.yaml")


def test_bad_yaml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_voice_profile(write(tmp_path, "persona: [Nova\ntone: friendly\n"))


def test_top_level_list_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_voice_profile(write(tmp_path, "- persona\n- tone\n"))


def test_unknown_key_is_a_config_error_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match="signoff"):
        load_voice_profile(write(tmp_path, "persona: Nova\nsignoff: Bye\n"))


def test_too_small_max_length_is_a_config_error_naming_the_field(tmp_path):
    with pytest.raises(
        ConfigError, match=r"max_length: .*max_length for sms must be >= 40 characters, got 10"
    ):
        load_voice_profile(write(tmp_path, "max_length:\n  sms: 10\n"))


def test_unknown_channel_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"greeting\.fax"):
        load_voice_profile(write(tmp_path, "greeting:\n  fax: Dear sir\n"))


def test_partial_channel_table_keeps_the_other_defaults(tmp_path):
    profile = load_voice_profile(write(tmp_path, "max_length:\n  sms: 160\n"))
    assert profile.max_length == {"chat": 800, "email": 2000, "sms": 160, "messenger": 640}
