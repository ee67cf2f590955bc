"""The composition root: ``build(settings)`` creates every service once, wired together.

Nothing else in the package constructs engines or reads settings; tests and the CLI call ``build``
(or pass their own parts, e.g. a counting embedder) and everything downstream receives its parts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from firstlast.answerer.brand_voice import VoiceProfile, load_voice_profile
from firstlast.answerer.confidence import Calibrator
from firstlast.answerer.extractive import Answerer, ExtractiveAnswerer
from firstlast.answerer.grounding import GroundingGuard
from firstlast.bot import Bot
from firstlast.config import Settings
from firstlast.db import Database
from firstlast.handoff.desk import SupportDesk
from firstlast.handoff.policy import HandoffPolicy
from firstlast.handoff.sentiment import FrustrationDetector
from firstlast.ingest.chunker import Chunker
from firstlast.ingest.pipeline import Ingestor
from firstlast.language import LanguageDetector
from firstlast.learning.service import LearningService
from firstlast.retriever.chroma_store import ChromaStore, KnowledgeStore
from firstlast.retriever.embeddings import Embedder, build_embedder
from firstlast.retriever.hybrid import HybridRetriever


@dataclass(frozen=True)
class Services:
    settings: Settings
    embedder: Embedder
    store: KnowledgeStore
    ingestor: Ingestor
    retriever: HybridRetriever
    voice: VoiceProfile
    bot: Bot
    db: Database
    desk: SupportDesk
    learning: LearningService


def build_store(settings: Settings) -> KnowledgeStore:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if settings.chroma.mode == "http":
        return ChromaStore.http(settings.chroma.host, settings.chroma.port, settings.chroma.collection)
    return ChromaStore.embedded(settings.chroma_dir, settings.chroma.collection)


def build(settings: Settings, *, embedder: Embedder | None = None, chat_model: Any = None) -> Services:
    """Build all services from settings. ``embedder`` may be passed to share one loaded model;
    ``chat_model`` (a langchain chat model) replaces the one ``settings.llm`` describes."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedder = embedder or build_embedder(settings.embedding.backend, settings.embedding.batch_size)
    store = build_store(settings)
    chunking = settings.chunking
    chunker = Chunker(chunking.chunk_tokens, chunking.overlap_tokens, chunking.encoding)
    detector = build_detector(settings)
    ingestor = Ingestor(store, chunker, embedder, detector=detector)
    r = settings.retrieval
    retriever = HybridRetriever(
        store,
        embedder,
        top_k=r.top_k,
        candidates=r.candidates,
        rrf_k=r.rrf_k,
        dense_weight=r.dense_weight,
        dense_weight_cjk=r.dense_weight_cjk,
        history_turns=r.history_turns,
        history_weight=r.history_weight,
    )
    voice = load_voice_profile(settings.answer.voice_profile)
    calibrator = Calibrator.load(settings.answer.calibration_file)
    extractive = ExtractiveAnswerer(voice, calibrator, settings.answer.max_sentences)
    answerer = build_answerer(settings, extractive, embedder, voice, chat_model)
    threshold = settings.answer.threshold
    if threshold is None:
        threshold = float(calibrator.meta.get("threshold", 0.5))  # type: ignore[arg-type]
    policy = HandoffPolicy(threshold, frustrated=FrustrationDetector())
    bot = Bot(retriever, answerer, policy, voice, detector)
    db = Database(settings.sql_url)
    learning = LearningService(db, ingestor)
    desk = SupportDesk(db, bot, learning)
    return Services(settings, embedder, store, ingestor, retriever, voice, bot, db, desk, learning)


# -- LLM answerer and language detection (issue #4) ---------------------------------------------


def build_detector(settings: Settings) -> LanguageDetector | None:
    lang = settings.language
    return LanguageDetector(lang.languages, lang.default, lang.min_confidence) if lang.detect else None


def build_answerer(
    settings: Settings,
    extractive: ExtractiveAnswerer,
    embedder: Embedder,
    voice: VoiceProfile,
    chat_model: Any = None,
) -> Answerer:
    """The extractive answerer, or the LLM answerer with the extractive one as its fallback."""
    llm = settings.llm
    if llm.answerer == "extractive":
        return extractive
    from firstlast.answerer.llm import LLMAnswerer, chat_model_from_settings

    guard = GroundingGuard(embedder, llm.min_support, llm.min_overlap)
    return LLMAnswerer(
        chat_model if chat_model is not None else chat_model_from_settings(llm),
        extractive,
        guard,
        voice,
        passages=llm.passages,
        timeout_s=llm.timeout_s,
        model_name=llm.model,
    )
