"""One settings tree, read from the environment (prefix ``FIRSTLAST_``, nested with ``__``) and an
optional TOML file. Nothing is read at import time: call :func:`load_settings`.

    FIRSTLAST_DATA_DIR=./data
    FIRSTLAST_ANSWER__THRESHOLD=0.6
    FIRSTLAST_API__AGENT_KEYS='["s3cret-agent-key"]'
    FIRSTLAST_CONFIG=firstlast.toml   # same keys as nested TOML tables
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from firstlast.errors import ConfigError
from firstlast.handoff.hours import parse_weekly

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "changethis", "secret", "xxx"})


class EmbeddingSettings(BaseModel):
    # auto: each language family gets its model and its own collection (retriever/families.py):
    # Latin-script text MiniLM, Hangul/kana/kanji text e5, so English and CJK articles can be mixed.
    # A knowledge base written by a single model before keeps it (recorded in the collection).
    backend: Literal["auto", "minilm", "e5"] = "auto"
    batch_size: int = Field(64, gt=0)
    # engine threads for a batch of documents (e5, and MiniLM on onnxruntime; a query takes one);
    # None: one per core. 1 leaves the other cores to customers while an upload is embedded
    threads: int | None = Field(None, gt=0)
    # MiniLM on onnxruntime (exported once from the packaged weights; same vectors, ~3x faster
    # queries) or on sentence-transformers/torch
    # onnx-int8: the same graph with 8-bit weights (about half a query's CPU; vectors at cosine
    # ~0.993 to onnx's, so a knowledge base embedded by one is searched by the other)
    runtime: Literal["onnx", "onnx-int8", "torch"] = "onnx"
    cache_dir: Path | None = None  # where the ONNX export is kept; None: $XDG_CACHE_HOME/firstlast
    # MiniLM on onnxruntime: queries that arrive while one is embedded are embedded together, up to
    # this many in one call (no waiting window; 1: each alone). README "The public edge", session 13
    query_batch: int = Field(8, ge=1, le=64)


class ChunkingSettings(BaseModel):
    chunk_tokens: int = Field(256, ge=32, le=2048)
    overlap_tokens: int = Field(32, ge=0, le=512)
    encoding: str = "cl100k_base"


class RetrievalSettings(BaseModel):
    top_k: int = Field(10, gt=0, le=100)
    candidates: int = Field(40, gt=0, le=500)  # per retriever, before fusion
    rrf_k: int = Field(60, gt=0)
    dense_weight: float = Field(0.5, ge=0, le=4)  # weight of the dense ranking in RRF (lexical = 1)
    dense_weight_cjk: float = Field(1.0, ge=0, le=4)  # for CJK questions, with a multilingual model
    # fuse the dense and BM25 lists by their z-scored scores (BM25's share below, by the question's
    # script) instead of by rank (RRF with the weights above); README "other ways to rank"
    fusion: Literal["rrf", "scores"] = "rrf"
    lexical_share: float = Field(0.7, ge=0, le=1)
    lexical_share_cjk: float = Field(0.4, ge=0, le=1)
    # weight in RRF of the ranking by known questions (FAQ titles, learned entries' wordings); 0: off
    question_weight: float = Field(0.0, ge=0, le=4)
    # also index FAQ titles/headings that are questions (off: measured worse on localgovfaq_ja)
    question_titles: bool = False
    history_turns: int = Field(2, ge=0, le=10)  # earlier customer turns added to the query
    history_weight: float = Field(0.5, ge=0, le=1)
    # earlier turns are used only when this similar to the question (a follow-up, not a new topic),
    # or when the question's best dense match alone is below history_standalone (a vague follow-up);
    # measured with benchmarks/history_sweep.py, see README "Follow-ups and new topics"
    history_gate: float = Field(0.4, ge=0, le=1)
    history_standalone: float = Field(0.4, ge=0, le=1)
    # the page the customer is on (widget context: title, path words) as a weak hint: its query
    # vector's weight next to the question's, and its words added to BM25's; 0: off
    page_weight: float = Field(0.3, ge=0, le=1)
    # other processes' knowledge-base writes are noticed within this many seconds (this process's
    # own at once); each check reads the collection's metadata (~0.7 ms of the interpreter)
    refresh_seconds: float = Field(0.25, ge=0, le=1)
    bm25_k1: float = Field(0.9, gt=0, le=5)
    bm25_b: float = Field(0.4, ge=0, le=1)
    # BM25 tokens for Korean (Hangul) and Japanese (kana/kanji) text: Kiwi / Sudachi morphemes,
    # character bigrams, or both; chosen per language on the dev splits (README, "Retrieval")
    lexical_korean: Literal["bigrams", "morphemes", "both"] = "both"
    lexical_japanese: Literal["bigrams", "morphemes", "both"] = "both"


class AnswerSettings(BaseModel):
    threshold: float | None = Field(None, ge=0, le=1)  # None: the calibration file's, else 0.5
    # a paragraph longer than this (flat text, e.g. from a PDF) is quoted by sentences, not whole
    long_paragraph: int = Field(320, gt=0)
    voice_profile: Path | None = None  # YAML; the built-in neutral profile when unset
    calibration_file: Path | None = None  # JSON from `firstlast eval calibrate`; shipped default when unset
    # questions answered at once per process (retrieval and extractive answering; an LLM's stream is
    # not held): the rest wait their turn without contending for the interpreter lock; 0: no limit.
    # 2 measured better than no limit on 2 cores without query batching (session 9); with it, no
    # limit lets queries arrive together and measured better (README "The public edge", session 13)
    concurrency: int = Field(0, ge=0, le=256)


class ApiSettings(BaseModel):
    widget_keys: list[SecretStr] = []
    agent_keys: list[SecretStr] = []
    admin_keys: list[SecretStr] = []
    max_upload_bytes: int = Field(20_000_000, gt=0)  # one knowledge upload request, all its files
    max_body_bytes: int = Field(65_536, gt=0)  # any other request body (JSON)
    # the origins (scheme://host[:port]) whose pages may embed the widget; requests to /v1 from any
    # other origin are refused (the app's own origin, e.g. its demo page and console, is always allowed)
    cors_origins: list[str] = []
    # Rate limits on the public widget key (``limits`` notation: "600/minute", "10/second;300/hour"):
    # per widget key and client address, and message posts per conversation. The defaults leave
    # room for many visitors behind one address; a real widget never comes near them.
    rate_limit_client: str = "1200/minute"
    rate_limit_conversation: str = "120/minute"
    # where the counters live: memory:// (per process) or a shared one, e.g. redis://host:6379
    rate_limit_storage: str = "memory://"
    # -- the widget and the console (issue #10) --
    identity_secret: SecretStr | None = None  # HMAC-SHA256 key for the widget's user_hash
    console_session_hours: float = Field(12.0, gt=0, le=24 * 30)
    stream_seconds: float = Field(300.0, gt=0, le=3600)  # one event stream's lifetime; clients resume
    stream_poll_seconds: float = Field(0.5, gt=0, le=10)  # how often a stream reads the database
    stream_heartbeat_seconds: float = Field(15.0, gt=0, le=300)
    max_streams: int = Field(200, ge=1)  # open event streams per process; more get 503
    # open event streams per conversation, and per widget caller (key + client address); more get 429
    max_streams_per_conversation: int = Field(3, ge=1)
    max_streams_per_client: int = Field(20, ge=1)
    # failed console sign-ins per client address (``limits`` notation); past it even a right key
    # gets 429 until the window moves on
    rate_limit_sign_in: str = "10/minute;50/hour"

    @field_validator("identity_secret")
    @classmethod
    def _real_identity_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("identity secret is empty or a placeholder; set a real secret")
        return value

    @field_validator("rate_limit_client", "rate_limit_conversation", "rate_limit_sign_in")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit like '600/minute': {value!r} ({exc})") from None
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not re.fullmatch(r"https?://[^\s/]+", origin):
                raise ValueError(f"a widget origin is scheme://host[:port] without a path, got {origin!r}")
        return value

    @field_validator("widget_keys", "agent_keys", "admin_keys")
    @classmethod
    def _no_placeholders(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for key in keys:
            if key.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError("API key is empty or a placeholder; set a real secret")
        return keys


class ChromaSettings(BaseModel):
    mode: Literal["embedded", "http"] = "embedded"
    host: str = "127.0.0.1"
    port: int = 8001
    collection: str = Field("firstlast_kb", min_length=3, max_length=63)


# -- handoff: per-reason modes, sensitive topics, business hours, outgoing webhook ---------------

HandoffMode = Literal["offer", "now"]
HANDOFF_REASONS = (
    "customer_request",
    "sensitive_topic",
    "frustration",
    "repetition",
    "answer_error",
    "no_knowledge",
    "low_confidence",
    "low_confidence_streak",
)
# A person is offered (and the customer confirms) only when the bot merely could not find a good
# answer: the customer may rephrase, or not want to wait. Everything else hands off at once.
DEFAULT_HANDOFF_MODES: dict[str, HandoffMode] = {
    "customer_request": "now",
    "sensitive_topic": "now",
    "frustration": "now",
    "repetition": "now",
    "answer_error": "now",
    "no_knowledge": "offer",
    "low_confidence": "offer",
    "low_confidence_streak": "now",
}
DEFAULT_SENSITIVE_KEYWORDS = [
    "lawyer",
    "attorney",
    "lawsuit",
    "legal action",
    "sue you",
    "small claims",
    "chargeback",
    "data breach",
    "弁護士",
    "訴訟",
    "訴え",
    "변호사",
    "소송",
    "고소",
]
DEFAULT_SENSITIVE_PATTERNS = [
    r"\bcancel\w*\b.{0,80}\brefund",
    r"\brefund\w*\b.{0,80}\bcancel",
    r"解約.{0,40}返金|返金.{0,40}解約",
    r"해지.{0,40}환불|환불.{0,40}해지",
]


class BusinessHoursSettings(BaseModel):
    """When people answer. ``weekly`` None means always; a day left out is closed.

    FIRSTLAST_HANDOFF__BUSINESS_HOURS__WEEKLY='{"mon": "08:00-18:00", "sat": "10:00-12:00,13:00-15:00"}'
    """

    timezone: str = "UTC"
    weekly: dict[str, str] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)"
            ) from None
        return value

    @field_validator("weekly")
    @classmethod
    def _valid_hours(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            parse_weekly(value)  # raises ValueError naming the bad day or span
        return value


class WebhookSettings(BaseModel):
    """Outgoing webhook on handoff opened, assigned and resolved; signed with HMAC-SHA256."""

    url: str | None = None
    secret: SecretStr | None = None
    max_attempts: int = Field(5, ge=1, le=20)
    base_delay_seconds: float = Field(1.0, ge=0, le=300)  # doubles after every failed attempt
    timeout_seconds: float = Field(5.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"webhook url must start with http:// or https://, got {value!r}")
        return value

    @field_validator("secret")
    @classmethod
    def _real_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("webhook secret is empty or a placeholder; set a real secret")
        return value

    @model_validator(mode="after")
    def _secret_with_url(self) -> WebhookSettings:
        if self.url and self.secret is None:
            raise ValueError("a webhook url needs a secret (FIRSTLAST_HANDOFF__WEBHOOK__SECRET)")
        return self


class HandoffSettings(BaseModel):
    modes: dict[str, HandoffMode] = Field(default_factory=lambda: dict(DEFAULT_HANDOFF_MODES))
    low_confidence_streak: int = Field(2, ge=1, le=20)  # this many low-confidence turns in a row
    sensitive_keywords: list[str] = Field(default_factory=lambda: list(DEFAULT_SENSITIVE_KEYWORDS))
    sensitive_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_SENSITIVE_PATTERNS))
    business_hours: BusinessHoursSettings = BusinessHoursSettings()
    webhook: WebhookSettings = WebhookSettings()

    @field_validator("modes")
    @classmethod
    def _known_reasons(cls, value: dict[str, HandoffMode]) -> dict[str, HandoffMode]:
        unknown = sorted(set(value) - set(HANDOFF_REASONS))
        if unknown:
            raise ValueError(f"unknown handoff reason(s) {unknown}; known: {', '.join(HANDOFF_REASONS)}")
        if value.get("customer_request") == "offer":
            raise ValueError("customer_request must be 'now': the customer already asked for a person")
        return {**DEFAULT_HANDOFF_MODES, **value}  # a partial table keeps the other defaults

    @field_validator("sensitive_patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"sensitive pattern {pattern!r} is not a valid regex: {exc}") from None
        return value


# -- learning loop (issue #5) ----------------------------------------------------------------------
class LearningSettings(BaseModel):
    """Thresholds of the learning loop, measured on emanual_smarttv (benchmarks/learning_thresholds.py)."""

    # retrieval miss: an existing (non-learned) chunk supports the agent's answer this strongly
    miss_similarity: float = Field(0.85, ge=0, le=1)  # cosine of answer and chunk
    miss_overlap: float = Field(0.75, ge=0, le=1)  # share of the answer's content words in the chunk
    # the same question: cosine of the generalised questions, and their content-word overlap
    same_question_similarity: float = Field(0.80, ge=0, le=1)
    same_question_overlap: float = Field(0.3, ge=0, le=1)
    # a matching question whose answer agrees below this cosine is a conflict
    agree_similarity: float = Field(0.70, ge=0, le=1)
    # customer-specific: share of the answer's words that are personal-data placeholders
    max_personal_share: float = Field(0.25, ge=0, le=1)
    # write long learned answers as sections of this many sentences (0: one piece; see README)
    answer_section_sentences: int = Field(0, ge=0, le=20)
    # pending suggestions nobody reviewed expire after this many days (0: never); they can be revived
    suggestion_ttl_days: int = Field(28, ge=0, le=3650)


# -- LLM answerer and language (issue #4) ------------------------------------------------------


class LLMSettings(BaseModel):
    """The optional LLM answerer: any OpenAI-compatible endpoint. Extractive stays the default."""

    answerer: Literal["extractive", "llm"] = "extractive"
    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = "local-model"
    api_key: SecretStr = SecretStr("not-needed")  # local servers ignore it; refused when blank
    timeout_s: float = Field(20.0, gt=0, le=600)  # per request; on time-out the extractive reply is used
    max_tokens: int = Field(256, gt=0, le=8192)
    temperature: float = Field(0.2, ge=0, le=2)
    passages: int = Field(3, gt=0, le=20)  # retrieved passages put into the prompt
    min_support: float = Field(0.6, ge=0, le=1)  # grounding guard: cosine to the best passage sentence
    min_overlap: float = Field(0.65, ge=0, le=1)  # grounding guard: share of content words in the passages

    @field_validator("api_key")
    @classmethod
    def _not_blank(cls, key: SecretStr) -> SecretStr:
        if not key.get_secret_value().strip():
            raise ValueError("llm.api_key must not be blank (use any non-empty value for local servers)")
        return key


class LanguageSettings(BaseModel):
    """Language detection (lingua) for questions and for documents ingested without a ``lang``."""

    detect: bool = True
    languages: list[str] = ["en", "ja", "ko", "zh", "de", "fr", "es", "it", "pt", "nl"]  # ISO 639-1
    default: str = "en"  # taken when a short or ambiguous text gives no confident answer
    min_confidence: float = Field(0.5, ge=0, le=1)

    @field_validator("languages")
    @classmethod
    def _at_least_two(cls, codes: list[str]) -> list[str]:
        codes = [c.strip().lower() for c in codes]
        if len(set(codes)) < 2:
            raise ValueError(f"language.languages needs at least two languages, got {codes}")
        return codes


# -- insights and rollout (issue #14) -------------------------------------------------------------


class RolloutSettings(BaseModel):
    """Turn the bot on for part of the traffic: each new conversation is assigned an arm by a stable
    hash of its id (or of a user attribute), ``bot`` for ``bot_percent`` of them, else ``control``
    (straight to a person). Off by default: every conversation goes to the bot and has no arm."""

    enabled: bool = False
    bot_percent: float = Field(100.0, ge=0, le=100)
    salt: str = Field("", max_length=64)  # change it to draw a new assignment
    unit: Literal["conversation", "user"] = "conversation"
    user_attribute: str = Field("user_id", min_length=1, max_length=64)  # with unit=user


class InsightsSettings(BaseModel):
    """Analytics: the resolution definition's window, content-gap clustering, A/B sample sizes."""

    # resolved by the bot: no customer message this long after the bot's last answer (or thumbs up)
    quiet_minutes: float = Field(30.0, gt=0, le=7 * 24 * 60)
    # an answer below this confidence counts as a content gap too (answered, but barely)
    low_confidence: float = Field(0.6, ge=0, le=1)
    min_topic_size: int = Field(3, ge=2, le=100)  # HDBSCAN min_cluster_size
    max_gap_questions: int = Field(5000, ge=10, le=50_000)  # the most recent ones are clustered
    min_arm_size: int = Field(30, ge=2, le=100_000)  # conversations per arm before comparing arms
    # proactive help: suggest articles for the widget's page before the customer types (off by default)
    proactive: bool = False
    proactive_articles: int = Field(3, ge=1, le=10)


# -- the settings tree --------------------------------------------------------------------------


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FIRSTLAST_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    data_dir: Path = Path("data")
    database_url: str | None = None  # default: SQLite file in data_dir
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    api: ApiSettings = ApiSettings()
    chroma: ChromaSettings = ChromaSettings()
    handoff: HandoffSettings = HandoffSettings()

    learning: LearningSettings = LearningSettings()  # issue #5

    # issue #4: LLM answerer and language detection
    llm: LLMSettings = LLMSettings()
    language: LanguageSettings = LanguageSettings()

    # issue #14: insights and the A/B rollout
    rollout: RolloutSettings = RolloutSettings()
    insights: InsightsSettings = InsightsSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("FIRSTLAST_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def sql_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'firstlast.db'}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (and ``FIRSTLAST_CONFIG``), applying keyword overrides.

    Raises ConfigError with every invalid field listed on one line.
    """
    config_file = os.environ.get("FIRSTLAST_CONFIG")
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"FIRSTLAST_CONFIG points to a missing file: {config_file}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid settings: {problems}") from None
