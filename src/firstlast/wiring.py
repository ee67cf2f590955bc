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
from firstlast.errors import ConfigError
from firstlast.handoff.desk import SupportDesk
from firstlast.handoff.policy import HandoffPolicy
from firstlast.handoff.sentiment import FrustrationDetector
from firstlast.ingest.chunker import Chunker
from firstlast.ingest.pipeline import Ingestor
from firstlast.learning.service import LearningService
from firstlast.retriever.chroma_store import ChromaStore, KnowledgeStore
from firstlast.retriever.embeddings import AutoEmbedder, Embedder, build_embedder
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


def _embedder_for(settings: Settings, store: KnowledgeStore) -> Embedder:
    backend, batch = settings.embedding.backend, settings.embedding.batch_size
    if backend == "auto":
        recorded = store.embedding()
        return build_embedder(recorded, batch) if recorded else AutoEmbedder(store.embedding, batch)
    return build_embedder(backend, batch)


def _check_embedding(store: KnowledgeStore, embedder: Embedder) -> None:
    """Vectors from one model cannot be searched with another: refuse instead of returning noise."""
    recorded = store.embedding()
    if recorded and recorded != embedder.name and store.count():
        raise ConfigError(
            f"the knowledge base was embedded with {recorded!r} but embedding.backend is "
            f"{embedder.name!r}; set FIRSTLAST_EMBEDDING__BACKEND={recorded} (or auto), "
            "or use a new chroma.collection and ingest again"
        )


def build(settings: Settings, *, embedder: Embedder | None = None) -> Services:
    """Build all services from settings. ``embedder`` may be passed to share one loaded model."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = build_store(settings)
    embedder = embedder or _embedder_for(settings, store)
    _check_embedding(store, embedder)
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
        bm25_k1=r.bm25_k1,
        bm25_b=r.bm25_b,
    )
    voice = load_voice_profile(settings.answer.voice_profile)
    calibrator = Calibrator.load(settings.answer.calibration_file)
    answerer = ExtractiveAnswerer(
        voice, calibrator, settings.answer.max_sentences, multilingual_model=lambda: embedder.multilingual
    )
    threshold = settings.answer.threshold
    if threshold is None:
        threshold = float(calibrator.meta.get("threshold", 0.5))  # type: ignore[arg-type]
    policy = HandoffPolicy(threshold, frustrated=FrustrationDetector())
    bot = Bot(retriever, answerer, policy, voice)
    db = Database(settings.sql_url)
    learning = LearningService(db, ingestor)
    desk = SupportDesk(db, bot, learning)
    return Services(settings, embedder, store, ingestor, retriever, voice, bot, db, desk, learning)
