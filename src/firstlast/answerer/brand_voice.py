"""The company's brand voice: a YAML profile, validated, and rendering of replies per channel.

profile = load_voice_profile(Path("examples/voice.yaml"))
text = profile.render("You can change your plan in Settings.", channel="chat")
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from firstlast.errors import ConfigError
from firstlast.sentences import split_sentences
from firstlast.types import CHANNELS, Channel

_LANGUAGE_NOTES = {
    "en": "(This answer comes from our help center in another language.)",
    "ja": "（この回答は他の言語のヘルプセンターの情報です。）",
    "ko": "(이 답변은 다른 언어로 된 도움말 센터의 내용입니다.)",
    "de": "(Diese Antwort stammt aus unserem Hilfe-Center in einer anderen Sprache.)",
    "fr": "(Cette réponse provient de notre centre d'aide dans une autre langue.)",
    "es": "(Esta respuesta proviene de nuestro centro de ayuda en otro idioma.)",
}


_READ_MORE = {
    "en": "Read more",
    "ja": "詳しくはこちら",
    "ko": "자세히 보기",
    "de": "Weiterlesen",
    "fr": "En savoir plus",
    "es": "Leer más",
}


def _per_channel(default: str | int) -> dict[str, str | int]:
    return {c: default for c in CHANNELS}


class VoiceProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    persona: str = "Support assistant"
    company: str = "our company"
    tone: str = "friendly, concise"
    greeting: dict[Channel, str] = Field(default_factory=lambda: _per_channel(""))  # type: ignore[arg-type]
    sign_off: dict[Channel, str] = Field(default_factory=lambda: _per_channel(""))  # type: ignore[arg-type]
    max_length: dict[Channel, int] = Field(
        default_factory=lambda: {"chat": 800, "email": 2000, "sms": 320, "messenger": 640}  # type: ignore[arg-type]
    )
    vocabulary: dict[str, str] = Field(default_factory=dict)
    banned_phrases: list[str] = Field(default_factory=list)
    handoff_message: str = (
        "I'm bringing in a member of our support team. They can see this conversation, "
        "so you won't need to repeat yourself."
    )
    out_of_hours_message: str = "Our team is offline right now; we'll reply as soon as we're back."
    # -- handoff offers (handoff/policy.py: mode "offer") --
    offer_message: str = (
        "I'm not sure I have the right answer for that. Would you like me to bring in a member of our "
        "support team? (yes / no)"
    )
    offer_declined_message: str = (
        "No problem — I'll keep helping. Could you tell me a bit more, or ask another way?"
    )
    no_answer_message: str = (
        "Sorry, I couldn't find an answer to that. Could you rephrase it? "
        "If you'd like a person, just say so."
    )
    emoji: Literal["none", "sparing"] = "none"
    language_policy: Literal["kb_language_with_note", "handoff"] = "kb_language_with_note"
    # markdown or plain text per channel; plain strips markup (SMS, email clients, messenger)
    format: dict[Channel, Literal["markdown", "plain"]] = Field(
        default_factory=lambda: {"chat": "markdown", "email": "plain", "sms": "plain", "messenger": "plain"}  # type: ignore[arg-type]
    )
    # said before a reply from knowledge in another language, keyed by the customer's language
    language_note: dict[str, str] = Field(default_factory=lambda: dict(_LANGUAGE_NOTES))
    # the link label after a reply cut to the channel's length, keyed by the article's language
    read_more_label: dict[str, str] = Field(default_factory=lambda: dict(_READ_MORE))
    # the chat widget's own words (buttons, placeholder, satisfaction prompt), per language; what is
    # left out keeps the built-in text of firstlast/web/strings.py
    widget: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("banned_phrases")
    @classmethod
    def _non_empty_phrases(cls, value: list[str]) -> list[str]:
        for i, phrase in enumerate(value):
            if not phrase.strip():
                raise ValueError(f"banned phrase {i} is empty")
        return value

    @field_validator("vocabulary")
    @classmethod
    def _non_empty_words(cls, value: dict[str, str]) -> dict[str, str]:
        for word, preferred in value.items():
            if not word.strip() or not str(preferred).strip():
                raise ValueError(f"vocabulary entry {word!r}: {preferred!r} must have both words non-empty")
        return value

    @field_validator("max_length")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        for channel, limit in value.items():
            if limit < 40:
                raise ValueError(f"max_length for {channel} must be >= 40 characters, got {limit}")
        return value

    # -- rendering --------------------------------------------------------------------------------
    # The vocabulary's and banned phrases' patterns, compiled once (every reply runs them; built
    # from f-strings per call they cost ~0.25 ms a reply in the re module's cache lookups)
    _vocabulary: list[tuple[re.Pattern[str], str]] = PrivateAttr(default_factory=list)
    _banned: list[tuple[re.Pattern[str], re.Pattern[str]]] = PrivateAttr(default_factory=list)

    def model_post_init(self, _context: object) -> None:
        self._vocabulary = [
            (re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE), preferred)
            for word, preferred in self.vocabulary.items()
        ]
        self._banned = [
            (
                # before punctuation nothing is left ("refundable per our policy." -> "refundable.")
                re.compile(rf"\s*\b{re.escape(phrase)}\b\s*(?=[.;:!?])", re.IGNORECASE),
                re.compile(rf"\s*\b{re.escape(phrase)}\b,?\s*", re.IGNORECASE),
            )
            for phrase in self.banned_phrases
        ]

    def apply_vocabulary(self, text: str) -> str:
        for pattern, preferred in self._vocabulary:

            def swap(m: re.Match[str], preferred: str = preferred) -> str:
                return preferred[:1].upper() + preferred[1:] if m.group(0)[:1].isupper() else preferred

            text = pattern.sub(swap, text)
        return text

    def remove_banned(self, text: str) -> str:
        for before_punctuation, anywhere in self._banned:
            text = before_punctuation.sub("", text)
            text = anywhere.sub(" ", text)
        text = _SPACES.sub(" ", text).strip()
        return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)

    def render(self, body: str, channel: Channel = "chat", link: str = "") -> str:
        """Greeting + body + sign-off for ``channel``, within its length limit."""
        head, tail = self.frame(channel, link)
        body = fit(self.enforce(body.strip(), channel), self.body_budget(channel, link))
        return f"{head}{body}{tail}"[: self.max_length.get(channel, 800)]

    def body_budget(self, channel: Channel = "chat", link: str = "") -> int:
        """Characters left for the body of a reply on ``channel`` once greeting and sign-off are in."""
        head, tail = self.frame(channel, link)
        return max(self.max_length.get(channel, 800) - len(head) - len(tail), 20)

    def read_more(self, url: str, lang: str, channel: Channel = "chat") -> str:
        """The link to the whole article, after a reply that quotes only part of it (empty on SMS,
        where :meth:`frame` always adds the link)."""
        if not url or channel == "sms":
            return ""
        label = self.read_more_label.get(lang) or self.read_more_label.get("en", "Read more")
        return f"[{label}]({url})" if self.format_for(channel) == "markdown" else f"{label}: {url}"

    def handoff(self, channel: Channel = "chat", out_of_hours: bool = False) -> str:
        message = self.out_of_hours_message if out_of_hours else self.handoff_message
        return self.remove_banned(self.apply_vocabulary(message))[: self.max_length.get(channel, 800)]

    def notice(self, kind: Literal["offer", "offer_declined", "no_answer"], channel: Channel = "chat") -> str:
        """The bot's own lines around a handoff offer, in the voice and within the channel's limit."""
        message = {
            "offer": self.offer_message,
            "offer_declined": self.offer_declined_message,
            "no_answer": self.no_answer_message,
        }[kind]
        return self.remove_banned(self.apply_vocabulary(message))[: self.max_length.get(channel, 800)]

    # -- enforcement shared by both answerers (issue #4) ------------------------------------------
    def format_for(self, channel: Channel) -> Literal["markdown", "plain"]:
        return self.format.get(channel, "plain")

    def enforce(self, text: str, channel: Channel = "chat") -> str:
        """Preferred words, no banned phrases, the emoji policy and the channel's format."""
        text = self.remove_banned(self.apply_vocabulary(text))
        if self.emoji == "none":
            text = re.sub(r" {2,}", " ", _EMOJI.sub("", text)).strip()  # with the space before each
        if self.format_for(channel) == "plain":
            text = to_plain(text)
        return text

    def frame(self, channel: Channel, link: str = "") -> tuple[str, str]:
        """The text before and after the body of a reply on ``channel`` (as :meth:`render` builds it)."""
        greeting = self.greeting.get(channel, "")
        sign_off = self.sign_off.get(channel, "")
        head = f"{greeting}\n\n" if greeting else ""
        tail = (f"\n\n{link}" if link and channel == "sms" else "") + (f"\n\n{sign_off}" if sign_off else "")
        return head, tail

    def note_for(self, lang: str) -> str:
        return self.language_note.get(lang) or self.language_note.get("en", "")


_SPACES = re.compile(r" {2,}")
_EMOJI = re.compile(
    "\\s*[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\U0000fe0f\U0000200d]+"
)


def to_plain(text: str) -> str:
    """Markdown to plain text: links become "text (url)", emphasis, headings and code marks go."""
    text = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)[^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)[^)]*\)", r"\1 (\2)", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?!\w)", r"\1", text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"^\s{0,3}#{1,6}\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"^\s*[*+]\s+", "- ", text, flags=re.MULTILINE)
    return text


def fit(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters at a line or sentence end (lines and list items stay
    lines), or at a word end with an ellipsis when not even the first sentence fits."""
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for line in text.split("\n"):
        if len("\n".join([*kept, line])) <= limit:
            kept.append(line)
            continue
        room = limit - len("\n".join(kept)) - (1 if kept else 0)
        part = ""  # the line does not fit whole: as many of its sentences as fit
        for sentence in split_sentences(line):
            if len(f"{part} {sentence}".strip()) > room:
                break
            part = f"{part} {sentence}".strip()
        if part:
            kept.append(part)
        break
    out = "\n".join(kept).rstrip()
    if out:
        return out
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def load_voice_profile(path: Path | None) -> VoiceProfile:
    """Load and validate a profile; None gives the neutral built-in one."""
    if path is None:
        return VoiceProfile()
    if not path.is_file():
        raise ConfigError(f"voice profile not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"voice profile {path}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"voice profile {path}: expected a mapping at the top level")
    defaults = VoiceProfile()
    for key in (
        "greeting",
        "sign_off",
        "max_length",
        "format",
        "language_note",
    ):  # partial tables keep defaults
        if isinstance(raw.get(key), dict):
            raw[key] = {**getattr(defaults, key), **raw[key]}
    try:
        return VoiceProfile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"voice profile {path}: {problems}") from None
