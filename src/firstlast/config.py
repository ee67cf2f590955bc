"""One settings tree, read from the environment (prefix ``FIRSTLAST_``, nested with ``__``) and an
optional TOML file. Nothing is read at import time: call :func:`load_settings`.

    FIRSTLAST_DATA_DIR=./data
    FIRSTLAST_ANSWER__THRESHOLD=0.6
    FIRSTLAST_API__AGENT_KEYS='["s3cret-agent-key"]'
    FIRSTLAST_CONFIG=firstlast.toml   # same keys as nested TOML tables
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from firstlast.errors import ConfigError

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "changethis", "secret", "xxx"})


class EmbeddingSettings(BaseModel):
    backend: Literal["minilm", "e5"] = "minilm"
    batch_size: int = Field(64, gt=0)


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
    history_turns: int = Field(2, ge=0, le=10)  # earlier customer turns added to the query
    history_weight: float = Field(0.5, ge=0, le=1)


class AnswerSettings(BaseModel):
    threshold: float | None = Field(None, ge=0, le=1)  # None: the calibration file's, else 0.5
    max_sentences: int = Field(3, gt=0, le=10)
    voice_profile: Path | None = None  # YAML; the built-in neutral profile when unset
    calibration_file: Path | None = None  # JSON from `firstlast eval calibrate`; shipped default when unset


class ApiSettings(BaseModel):
    widget_keys: list[SecretStr] = []
    agent_keys: list[SecretStr] = []
    admin_keys: list[SecretStr] = []
    max_upload_bytes: int = Field(20_000_000, gt=0)
    cors_origins: list[str] = []

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
    # issue #4: LLM answerer and language detection
    llm: LLMSettings = LLMSettings()
    language: LanguageSettings = LanguageSettings()

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
