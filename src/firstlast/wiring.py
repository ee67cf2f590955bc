"""The composition root: ``build(settings)`` creates every service once, wired together.

Nothing else in the package constructs engines or reads settings; tests and the CLI call ``build``
(or pass their own parts, e.g. a counting embedder) and everything downstream receives its parts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from firstlast.answerer.brand_voice import VoiceProfile, load_voice_profile
from firstlast.answerer.confidence import Calibrator
from firstlast.answerer.extractive import ExtractiveAnswerer
from firstlast.answerer.grounding import GroundingGuard
from firstlast.answerer.protocol import Answerer
from firstlast.bot import Bot
from firstlast.config import Settings
from firstlast.db import Database
from firstlast.desk import SqlDeskStore, SupportDesk
from firstlast.desk.feedback import FeedbackService
from firstlast.desk.reports import ReportService
from firstlast.desk.webhooks import WebhookNotifier
from firstlast.errors import ConfigError
from firstlast.handoff.hours import BusinessHours
from firstlast.handoff.policy import HandoffPolicy, sensitive_matcher
from firstlast.handoff.sentiment import FrustrationDetector
from firstlast.ingest.chunker import Chunker
from firstlast.ingest.jobs import IngestJobs
from firstlast.ingest.pipeline import Ingestor
from firstlast.insights.proactive import ProactiveHelp
from firstlast.insights.rollout import Rollout
from firstlast.insights.service import Insights
from firstlast.language import LanguageDetector
from firstlast.learning.service import LearningService
from firstlast.learning.verdict import ResolutionJudge
from firstlast.metrics import Metrics
from firstlast.retriever.analysis import TextAnalyzer
from firstlast.retriever.chroma_store import ChromaStore, KnowledgeStore
from firstlast.retriever.embeddings import Embedder, build_embedder
from firstlast.retriever.families import FamilyEmbedder, FamilyStore
from firstlast.retriever.hybrid import HybridRetriever
from firstlast.schema import open_database
from firstlast.types import HandoffReason, Question
from firstlast.web.sessions import ConsoleSessions


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
    # -- handoff: feedback and the webhook worker (stopped by close() on app shutdown) --
    feedback: FeedbackService | None = None
    notifier: WebhookNotifier | None = None
    metrics: Metrics = field(default_factory=Metrics)  # Prometheus: /metrics
    jobs: IngestJobs | None = None  # knowledge uploads ingested in the background (issue #13)
    # -- the widget and the console (issue #10): sign-in sessions, reports of bad bot answers --
    sessions: ConsoleSessions | None = None
    reports: ReportService | None = None
    insights: Insights | None = None  # issue #14: analytics, content gaps, the A/B comparison
    proactive: ProactiveHelp | None = None  # issue #14: suggested articles per page; None when off

    def reconcile(self) -> tuple[int, int]:
        """Finish what a failure left half done (on start-up): learning verdicts still pending, and
        learned knowledge the knowledge base does not hold as the database says it should.
        Returns (verdicts learned now, knowledge-base documents repaired)."""
        return self.desk.retry_learning(), self.learning.reconcile()

    def close(self) -> None:
        """Stop background workers and close database connections; the app calls this on shutdown."""
        if self.notifier is not None:
            self.notifier.close()
        if self.jobs is not None:
            self.jobs.close()
        self.db.close()


def build_store(settings: Settings, suffix: str = "") -> ChromaStore:
    """The Chroma collection ``chroma.collection`` + ``suffix`` (a language family's own one)."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    name = settings.chroma.collection + suffix
    if settings.chroma.mode == "http":
        return ChromaStore.http(settings.chroma.host, settings.chroma.port, name)
    return ChromaStore.embedded(settings.chroma_dir, name)


def _embedding_for(settings: Settings, store: KnowledgeStore) -> tuple[Embedder, KnowledgeStore]:
    """The embedder and the store it writes to.

    ``auto``: each language family gets its model and its own collection (``families.py``), so a
    knowledge base may mix English and Japanese/Korean. A knowledge base written by one model before
    families existed keeps that model.
    """
    config = settings.embedding

    def make(backend: str) -> Embedder:
        return build_embedder(
            backend,
            config.batch_size,
            config.threads,
            runtime=config.runtime,
            cache_dir=config.cache_dir,
            query_batch=config.query_batch,
        )

    if config.backend != "auto":
        return make(config.backend), store
    recorded = store.embedding()
    if recorded in ("minilm", "e5"):
        return make(recorded), store
    embedder = FamilyEmbedder({"latin": lambda: make("minilm"), "cjk": lambda: make("e5")})
    return embedder, FamilyStore({"latin": store, "cjk": build_store(settings, "_cjk")})


def _e5_scores(embedder: Embedder) -> Callable[[Question], bool]:
    """Whether a question's dense scores come from e5 (another scale than MiniLM's), for the
    confidence signals and the calibration that reads them.

    With language families a question is searched in its own script's family (Japanese and
    Korean with e5, the rest with MiniLM), whichever family holds most of the knowledge base.
    """
    if isinstance(embedder, FamilyEmbedder):
        return lambda question: embedder.family(question.text) == "cjk"
    return lambda question: embedder.multilingual


def _check_embedding(store: KnowledgeStore, embedder: Embedder) -> None:
    """Vectors from one model cannot be searched with another: refuse instead of returning noise."""
    recorded = store.embedding()
    if recorded and recorded != embedder.name and store.count():
        raise ConfigError(
            f"the knowledge base was embedded with {recorded!r} but embedding.backend is "
            f"{embedder.name!r}; set FIRSTLAST_EMBEDDING__BACKEND={recorded} (or auto), "
            "or use a new chroma.collection and ingest again"
        )


def build(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    chat_model: Any = None,
    store: KnowledgeStore | None = None,
) -> Services:
    """Build all services from settings. ``embedder`` may be passed to share one loaded model;
    ``chat_model`` (a langchain chat model) replaces the one ``settings.llm`` describes, and
    ``store`` the knowledge store (e.g. wrapped to count or to fail)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(settings.sql_url)  # first: refuse a database needing an upgrade before loading models
    primary = store or build_store(settings)
    store = primary
    if embedder is None:
        embedder, store = _embedding_for(settings, primary)
    _check_embedding(store, embedder)
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
        lexical_share=r.lexical_share if r.fusion == "scores" else None,
        lexical_share_cjk=r.lexical_share_cjk if r.fusion == "scores" else None,
        history_turns=r.history_turns,
        history_weight=r.history_weight,
        history_gate=r.history_gate,
        history_standalone=r.history_standalone,
        page_weight=r.page_weight,
        refresh_seconds=r.refresh_seconds,
        bm25_k1=r.bm25_k1,
        bm25_b=r.bm25_b,
        question_weight=r.question_weight,
        question_titles=r.question_titles,
        analyzer=TextAnalyzer(korean=r.lexical_korean, japanese=r.lexical_japanese),
    )
    voice = load_voice_profile(settings.answer.voice_profile)
    calibrator = Calibrator.load(settings.answer.calibration_file, question_ranking=r.question_weight > 0)
    extractive = ExtractiveAnswerer(
        voice,
        calibrator,
        documents=retriever,
        long_paragraph=settings.answer.long_paragraph,
        multilingual_model=_e5_scores(embedder),
    )
    answerer = build_answerer(settings, extractive, embedder, voice, chat_model)
    threshold = settings.answer.threshold
    if threshold is None:
        threshold = float(calibrator.meta.get("threshold", 0.5))  # type: ignore[arg-type]
    h = settings.handoff
    policy = HandoffPolicy(
        threshold,
        frustrated=FrustrationDetector(),
        modes={HandoffReason(reason): mode for reason, mode in h.modes.items()},
        sensitive=sensitive_matcher(h.sensitive_keywords, h.sensitive_patterns),
        streak=h.low_confidence_streak,
    )
    metrics = Metrics()
    bot = Bot(
        retriever,
        answerer,
        policy,
        voice,
        detector,
        observe=metrics.outcome,
        turns=settings.answer.concurrency,
    )
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
        suggestion_ttl=timedelta(days=lrn.suggestion_ttl_days) if lrn.suggestion_ttl_days else None,
    )
    notifier = build_notifier(settings, db)
    hours = BusinessHours(h.business_hours.timezone, h.business_hours.weekly)
    desk = SupportDesk(
        SqlDeskStore(db), bot, learning, hours=hours, notifier=notifier, rollout=build_rollout(settings)
    )
    return Services(
        settings,
        embedder,
        store,
        ingestor,
        retriever,
        voice,
        bot,
        db,
        desk,
        learning,
        feedback=FeedbackService(db),
        notifier=notifier,
        metrics=metrics,
        jobs=IngestJobs(db, ingestor),
        sessions=ConsoleSessions(db, settings.api.console_session_hours),
        reports=ReportService(db),
        insights=build_insights(settings, db, embedder, retriever),
        proactive=(
            ProactiveHelp(db, retriever, limit=settings.insights.proactive_articles)
            if settings.insights.proactive
            else None
        ),
    )


# -- insights and the A/B rollout (issue #14) ------------------------------------------------------


def build_rollout(settings: Settings) -> Rollout | None:
    r = settings.rollout
    return Rollout(r.bot_percent, r.salt, r.unit, r.user_attribute) if r.enabled else None


def build_insights(
    settings: Settings, db: Database, embedder: Embedder, retriever: HybridRetriever
) -> Insights:
    """Analytics over the stored conversations; topic labels use morphemes for Japanese and Korean."""
    i = settings.insights
    return Insights(
        db,
        embedder,
        retriever,
        quiet_minutes=i.quiet_minutes,
        low_confidence=i.low_confidence,
        min_topic_size=i.min_topic_size,
        max_gap_questions=i.max_gap_questions,
        min_arm_size=i.min_arm_size,
        cjk_tokens=TextAnalyzer(korean="morphemes", japanese="morphemes").tokens,
    )


def build_notifier(settings: Settings, db: Database) -> WebhookNotifier | None:
    """The webhook worker thread, when a webhook URL is set."""
    hook = settings.handoff.webhook
    if not hook.url or hook.secret is None:
        return None
    return WebhookNotifier(
        db,
        hook.url,
        hook.secret.get_secret_value(),
        max_attempts=hook.max_attempts,
        base_delay=hook.base_delay_seconds,
        timeout=hook.timeout_seconds,
    )


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
