"""Confidence: signals about a draft turned into a calibrated probability that the reply is correct.

Signals come from retrieval (cosine of the best passage, margins, dense/lexical agreement) and from
the answer (how much of the question the cited passage covers). A :class:`Calibrator` maps them to a
probability with a logistic model, optionally followed by an isotonic table; ``firstlast eval
calibrate`` fits one on labelled data and writes it as JSON, and the service loads that file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from firstlast.errors import ConfigError
from firstlast.retriever.lexical import index_text
from firstlast.retriever.questions import LEARNED_SOURCE
from firstlast.retriever.text import content_words
from firstlast.types import Hit, Question

FEATURES = (
    "dense_top",  # cosine of the best dense hit
    "dense_margin",  # best cosine minus the best cosine of another document
    "answer_dense",  # cosine of the answering chunk (0 if dense did not find it)
    "agreement",  # 1 when dense and lexical rank the same document first
    "both_found",  # 1 when the answering chunk was found by both retrievers
    "coverage",  # share of the question's content words present in the answering chunk
    "lexical_ratio",  # answering chunk's BM25 score over the query's maximum attainable, capped
    "query_words",  # log of the question's content-word count
    "has_history",  # 1 for follow-up questions
    "lexical_only",  # 1 when dense retrieval was not used (e.g. CJK text with an English-only model)
    "multilingual_model",  # 1 when the dense scores come from the multilingual model (another scale)
    "reply_coverage",  # share of the question's content words present in the reply's own text
    # the multilingual model's cosines sit on a compressed scale (e5: 0.75-0.95, MiniLM: 0.2-0.9),
    # so its scores get slopes of their own; 0 with any other model (issue #15)
    "multilingual_top",  # dense_top with the multilingual model
    "multilingual_margin",  # dense_margin with it
    "multilingual_answer",  # answer_dense with it
    "question_match",  # cosine of the question and the closest question the answering document answers
    "question_overlap",  # shared content words of the question and that wording
    "question_margin",  # question_match minus the closest question of another document found
    "learned",  # 1 when the answering document is a learned (approved) entry
    "learned_match",  # question_match when it is: a learned entry's own slope
    "learned_overlap",  # question_overlap when it is
    # cosine of what the question and that wording say beyond each other (1: the question adds
    # nothing; low: a qualifier the known question does not cover, "for students" vs "non-profits")
    "question_residual",
)
# 0 unless the answering document answers known questions: ``eval calibrate --base`` fits only these
QUESTION_FEATURES = FEATURES[FEATURES.index("question_match") :]


def signals(
    question: Question,
    hits: Sequence[Hit],
    answer_hit: Hit | None,
    *,
    multilingual_model: bool = False,
    reply: str = "",
) -> dict[str, float]:
    """Raw signals for the calibrator; all are plain floats, 0 when not applicable."""
    out = dict.fromkeys(FEATURES, 0.0)
    out["multilingual_model"] = 1.0 if multilingual_model else 0.0
    words = content_words(question.text)
    out["query_words"] = math.log1p(len(words))
    out["has_history"] = 1.0 if question.history else 0.0
    if not hits or answer_hit is None:
        return out
    out["lexical_only"] = 0.0 if any(h.dense_score is not None for h in hits) else 1.0
    dense = sorted((h for h in hits if h.dense_score is not None), key=lambda h: h.dense_rank or 0)
    if dense:
        top = dense[0]
        out["dense_top"] = float(top.dense_score or 0.0)
        other = [h.dense_score for h in dense if h.chunk.doc_id != top.chunk.doc_id]
        out["dense_margin"] = out["dense_top"] - float(other[0] or 0.0) if other else out["dense_top"]
    out["answer_dense"] = float(answer_hit.dense_score or 0.0)
    lexical = sorted((h for h in hits if h.lexical_rank is not None), key=lambda h: h.lexical_rank or 0)
    if dense and lexical and dense[0].chunk.doc_id == lexical[0].chunk.doc_id:
        out["agreement"] = 1.0
    if answer_hit.dense_rank is not None and answer_hit.lexical_rank is not None:
        out["both_found"] = 1.0
    if words:
        chunk_words = content_words(index_text(answer_hit.chunk))
        out["coverage"] = len(words & chunk_words) / len(words)
        out["reply_coverage"] = len(words & content_words(reply)) / len(words)
    if answer_hit.lexical_score is not None and words:
        out["lexical_ratio"] = min(1.0, float(answer_hit.lexical_score) / (4.0 * len(words)))
    if answer_hit.question is not None:
        match = answer_hit.question
        out["question_match"], out["question_overlap"] = match.similarity, match.overlap
        out["question_residual"] = match.residual
        rival = 0.0
        for hit in hits:
            if hit.question is not None and hit.chunk.doc_id != answer_hit.chunk.doc_id:
                rival = max(rival, hit.question.similarity)
        out["question_margin"] = match.similarity - rival
    if answer_hit.chunk.source == LEARNED_SOURCE:
        out["learned"] = 1.0
        out["learned_match"], out["learned_overlap"] = out["question_match"], out["question_overlap"]
    return complete(out)


def complete(sig: Mapping[str, float]) -> dict[str, float]:
    """``sig`` with the features that are functions of the others filled in, so results recorded
    before a derived feature existed calibrate with it too."""
    out = dict(sig)
    multilingual = float(out.get("multilingual_model", 0.0))
    for name, base in (
        ("multilingual_top", "dense_top"),
        ("multilingual_margin", "dense_margin"),
        ("multilingual_answer", "answer_dense"),
    ):
        out[name] = multilingual * float(out.get(base, 0.0))
    return out


@dataclass(frozen=True)
class Calibrator:
    """Logistic model over :data:`FEATURES`, optionally followed by an isotonic table.

    ``multilingual``, when set, is the fit for answers whose dense scores come from the
    multilingual model (``multilingual_model`` is 1): e5's cosines and the sets it serves behave
    unlike MiniLM's, and one pooled fit was calibrated for neither (issue #15). Every other answer
    gets this model's own weights.
    """

    weights: Mapping[str, float]
    bias: float
    iso_x: tuple[float, ...] = ()
    iso_y: tuple[float, ...] = ()
    meta: Mapping[str, object] = field(default_factory=dict)
    multilingual: Calibrator | None = None

    def _for(self, sig: Mapping[str, float]) -> Calibrator:
        if self.multilingual is not None and float(sig.get("multilingual_model", 0.0)) > 0:
            return self.multilingual
        return self

    def logit(self, sig: Mapping[str, float]) -> float:
        model = self._for(sig)
        return model.bias + sum(w * float(sig.get(name, 0.0)) for name, w in model.weights.items())

    def raw(self, sig: Mapping[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, self.logit(sig)))))

    def probability(self, sig: Mapping[str, float]) -> float:
        model = self._for(sig)
        p = self.raw(sig)
        if model.iso_x:
            p = float(np.interp(p, model.iso_x, model.iso_y))
        return min(1.0, max(0.0, p))

    def _fields(self) -> dict[str, object]:
        return {
            "weights": dict(self.weights),
            "bias": self.bias,
            "isotonic": {"x": list(self.iso_x), "y": list(self.iso_y)},
        }

    def to_json(self) -> str:
        out: dict[str, object] = {"kind": "firstlast-calibration", "version": 1, **self._fields()}
        if self.multilingual is not None:
            out["multilingual"] = {**self.multilingual._fields(), "meta": dict(self.multilingual.meta)}
        out["meta"] = dict(self.meta)
        return json.dumps(out, indent=2)

    @classmethod
    def _parse(cls, raw: Any) -> Calibrator:
        weights = {str(k): float(v) for k, v in raw["weights"].items()}
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}")
        iso = raw.get("isotonic") or {}
        iso_x = tuple(float(x) for x in iso.get("x", []))
        iso_y = tuple(float(y) for y in iso.get("y", []))
        if len(iso_x) != len(iso_y):
            raise ValueError("isotonic x and y differ in length")
        part = raw.get("multilingual")
        multilingual = cls._parse(part) if part is not None else None
        meta = dict(raw.get("meta") or {})
        return cls(weights, float(raw["bias"]), iso_x, iso_y, meta, multilingual)

    @classmethod
    def from_json(cls, text: str, origin: str = "calibration") -> Calibrator:
        try:
            return cls._parse(json.loads(text))
        except (KeyError, TypeError, ValueError, AttributeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{origin}: not a valid calibration file: {exc}") from None

    @classmethod
    def load(cls, path: Path | None, *, question_ranking: bool = False) -> Calibrator:
        """The file at ``path``, or a calibration shipped with the package: the default one, or with
        ``question_ranking`` (``retrieval.question_weight`` > 0) the default extended with the
        question-match signals (``eval calibrate --base``), which was fitted with the ranking on."""
        if path is None:
            name = "question_ranking_calibration.json" if question_ranking else "default_calibration.json"
            text = resources.files("firstlast.answerer").joinpath(name).read_text()
            return cls.from_json(text, name.removesuffix(".json").replace("_", " "))
        if not path.is_file():
            raise ConfigError(f"calibration file not found: {path}")
        return cls.from_json(path.read_text(encoding="utf-8"), str(path))
