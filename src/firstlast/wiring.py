"""The composition root: ``build(settings)`` creates every service once, wired together.

Nothing else in the package constructs engines or reads settings; tests and the CLI call ``build``
(or pass their own parts, e.g. a counting embedder) and everything downstream receives its parts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from firstlast.answerer.brand_voice import VoiceProfile, load_voice_profile
from firstlast.answerer.confidence import Calibrator
from firstlast.answerer.extractive import ExtractiveAnswerer
from firstlast.bot import Bot
from firstlast.config import Settings
from firstlast.db import Database
from firstlast.handoff.desk import SupportDesk
from firstlast.handoff.policy import HandoffPolicy
from firstlast.handoff.sentiment import FrustrationDetector
from firstlast.ingest.chunker import Chunker
from firstlast.ingest.pipeline import Ingestor
from firstlast.learning.service import LearningService
from firstlast.learning.verdict import ResolutionJudge
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


def build(settings: Settings, *, embedder: Embedder | None = None) -> Services:
    """Build all services from settings. ``embedder`` may be passed to share one loaded model."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedder = embedder or build_embedder(settings.embedding.backend, settings.embedding.batch_size)
    store = build_store(settings)
    chunking = settings.chunking
    chunker = Chunker(chunking.chunk_tokens, chunking.overlap_tokens, chunking.encoding)
    ingestor = Ingestor(store, chunker, embedder)
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
    answerer = ExtractiveAnswerer(voice, calibrator, settings.answer.max_sentences)
    threshold = settings.answer.threshold
    if threshold is None:
        threshold = float(calibrator.meta.get("threshold", 0.5))  # type: ignore[arg-type]
    policy = HandoffPolicy(threshold, frustrated=FrustrationDetector())
    bot = Bot(retriever, answerer, policy, voice)
    db = Database(settings.sql_url)
    # -- learning loop (issue #5): verdicts, dedupe, conflicts, learned entries --
    lrn = settings.learning
    judge = ResolutionJudge(
        store,
        embedder,
        miss_similarity=lrn.miss_similarity,
        miss_overlap=lrn.miss_overlap,
        max_personal_share=lrn.max_personal_share,
    )
    learning = LearningService(
        db,
        ingestor,
        store,
        embedder,
        judge=judge,
        same_question_similarity=lrn.same_question_similarity,
        same_question_overlap=lrn.same_question_overlap,
        agree_similarity=lrn.agree_similarity,
        section_sentences=lrn.answer_section_sentences,
    )
    desk = SupportDesk(db, bot, learning)
    return Services(settings, embedder, store, ingestor, retriever, voice, bot, db, desk, learning)
