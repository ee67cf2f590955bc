"""``firstlast eval calibrate``: fit the confidence model on labelled evaluation results.

Input rows come from ``results.jsonl`` files written by ``eval run``; each has the draft's signals and
its label. The ``target`` decides the label: ``resolution`` (the default) — the draft would resolve the
question if sent (it holds half of the gold answer; without a gold answer, its first citation is
gold); ``citation`` — its first citation is a gold document. A logistic regression over the signals
gives the probability. Two validations are reported next to the in-sample numbers: 5-fold
cross-validation, and leave-one-dataset-out (fit on the other files, score the left-out one), which is
what a new customer's knowledge base looks like. ``target_precision`` picks the lowest threshold whose
answered precision on the calibration data reaches the target.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from firstlast.answerer.confidence import FEATURES, QUESTION_FEATURES, Calibrator, complete
from firstlast.errors import InvalidInput
from firstlast.eval.metrics import auroc, ece


@dataclass(frozen=True)
class Sample:
    signals: dict[str, float]
    correct_if_answered: bool
    answerable: bool
    group: str


Target = Literal["resolution", "citation"]


def _label(row: dict[str, Any], target: Target) -> bool:
    cited = bool(row["answerable"]) and row.get("first_citation", "") in set(row.get("gold") or [])
    if target == "citation" or "resolved_if_sent" not in row:
        return cited
    return bool(row["resolved_if_sent"])


def load_results(paths: Sequence[Path], target: Target = "resolution") -> list[Sample]:
    samples = []
    for path in paths:
        if not path.is_file():
            raise InvalidInput(f"results file not found: {path}")
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                ok = _label(row, target)
                signals = complete(row.get("signals") or {})
                samples.append(Sample(signals, ok, bool(row["answerable"]), str(path)))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InvalidInput(f"{path}:{lineno}: not a results row: {exc}") from None
    if not samples:
        raise InvalidInput("no results rows to calibrate on")
    return samples


def _matrix(samples: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[s.signals.get(f, 0.0) for f in FEATURES] for s in samples], dtype=float)
    y = np.array([s.correct_if_answered for s in samples], dtype=int)
    return x, y


def _fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((x - mean) / std, y)
    weights = model.coef_[0] / std
    bias = float(model.intercept_[0] - np.sum(model.coef_[0] * mean / std))
    return weights, bias


def _predict(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x @ weights + bias, -30, 30)))


def threshold_for_precision(
    confidences: Sequence[float], correct: Sequence[bool], answerable: int, target: float
) -> tuple[float, float, float] | None:
    """Lowest threshold with answered precision >= target: (threshold, precision, automation)."""
    conf = np.asarray(confidences, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    for t in np.unique(conf):  # ascending: the first that qualifies is the lowest
        answered = conf >= t
        if answered.sum() == 0:
            break
        precision = ok[answered].mean()
        if precision >= target:
            return float(t), float(precision), float(ok[answered].sum() / max(answerable, 1))
    return None


def _by_group(samples: Sequence[Sample], predicted: np.ndarray, labels: list[bool]) -> dict[str, Any]:
    """Per input file (one dataset each): a pooled fit can be well calibrated overall and not per set."""
    out: dict[str, Any] = {}
    for group in sorted({s.group for s in samples}):
        idx = [i for i, s in enumerate(samples) if s.group == group]
        p, y = [float(predicted[i]) for i in idx], [labels[i] for i in idx]
        out[group] = {"samples": len(idx), "auroc": auroc(p, y), "ece": ece(p, y)}
    return out


def leave_one_dataset_out(
    x: np.ndarray, y: np.ndarray, samples: Sequence[Sample], c: float
) -> dict[str, Any]:
    """Per input file: AUROC and ECE of a model fitted on the other files only."""
    groups = sorted({s.group for s in samples})
    out: dict[str, Any] = {}
    if len(groups) < 2:
        return out
    for group in groups:
        test = np.array([s.group == group for s in samples])
        if len(set(y[~test].tolist())) < 2:
            continue
        w, b = _fit(x[~test], y[~test], c)
        p = _predict(x[test], w, b).tolist()
        labels = y[test].astype(bool).tolist()
        out[group] = {"samples": int(test.sum()), "auroc": auroc(p, labels), "ece": ece(p, labels)}
    return out


# Question features that can only make a reply more likely right (a closer or more shared question);
# their weights are kept >= 0, so a few noisy rows cannot turn their meaning around.
NON_NEGATIVE = frozenset(
    {"question_match", "question_overlap", "question_residual", "learned_match", "learned_overlap"}
)


def _fit_offset(
    offset: np.ndarray, xn: np.ndarray, y: np.ndarray, c: float, names: Sequence[str] = ()
) -> np.ndarray:
    """L2 logistic weights for ``xn`` (unscaled) on top of a fixed logit ``offset``; the weights of
    ``names`` in :data:`NON_NEGATIVE` are kept >= 0."""
    from scipy.optimize import minimize

    std = xn.std(axis=0)
    std[std == 0] = 1.0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = offset + (xn / std) @ w
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        eps = 1e-12
        value = -np.sum(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + 0.5 / c * float(w @ w)
        return float(value), (xn / std).T @ (p - y) + w / c

    bounds = [(0.0, None) if name in NON_NEGATIVE else (None, None) for name in names] or None
    start = np.zeros(xn.shape[1])
    result: np.ndarray = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds).x / std
    return result


def extend(
    base: Calibrator, samples: Sequence[Sample], *, c: float = 0.3, folds: int = 5, seed: int = 0
) -> tuple[Calibrator, dict[str, Any]]:
    """Fit only the question features ``base`` does not weigh, with ``base``'s logit as a fixed offset.

    The new features (question matches, learned entries) are 0 wherever they do not apply, so a
    reply that does not come from a learned entry keeps exactly the confidence ``base`` gave it:
    quality on unrelated questions cannot move, while learned matches get a fitted weight. Validated
    like :func:`calibrate` on the replies the new features apply to: ``cross_validated`` (k folds)
    and ``leave_one_dataset_out`` (fitted on the other files, scored on the left-out one).
    """
    new = [f for f in QUESTION_FEATURES if f not in base.weights]
    if not new:
        raise InvalidInput("the base calibration already weighs every feature")
    x, y = _matrix(samples)
    offset = np.array([base.logit(s.signals) for s in samples])
    xn = x[:, [FEATURES.index(f) for f in new]]
    fitted = _fit_offset(offset, xn, y, c, new)
    added = dict(zip(new, map(float, fitted)))
    weights = {**base.weights, **added}
    multilingual = base.multilingual  # the same offset fit: its answers get the same added weights
    if multilingual is not None:
        multilingual = replace(multilingual, weights={**multilingual.weights, **added})
    calibrator = Calibrator(weights, base.bias, base.iso_x, base.iso_y, dict(base.meta), multilingual)
    predicted = np.array([calibrator.raw(s.signals) for s in samples])
    labels = y.astype(bool).tolist()
    # Validation on the replies a question feature applies to (elsewhere base decides alone).
    applies = np.flatnonzero(np.any(xn != 0, axis=1))
    cross = predicted.copy()
    order = np.random.default_rng(seed).permutation(applies)
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(np.arange(len(y)), test)
        cross[test] = _predict_offset(
            offset[test], xn[test], _fit_offset(offset[train], xn[train], y[train], c, new)
        )
    left_out: dict[str, Any] = {}
    groups = sorted({s.group for s in samples})
    for group in groups if len(groups) > 1 else []:
        test = np.array([s.group == group for s in samples])
        p = _predict_offset(offset[test], xn[test], _fit_offset(offset[~test], xn[~test], y[~test], c, new))
        sub = test & np.any(xn != 0, axis=1)
        ps, ys = p[sub[test]].tolist(), y[sub].astype(bool).tolist()
        left_out[group] = {"samples": len(ys), "auroc": auroc(ps, ys), "ece": ece(ps, ys)}
    on = [labels[i] for i in applies]
    report: dict[str, Any] = {
        "samples": len(y),
        "positives": int(y.sum()),
        "applies_to": len(applies),
        "fitted": dict(zip(new, map(float, fitted))),
        "in_sample": {"auroc": auroc(predicted.tolist(), labels), "ece": ece(predicted.tolist(), labels)},
        "where_applied": {
            "in_sample": {
                "auroc": auroc(predicted[applies].tolist(), on),
                "ece": ece(predicted[applies].tolist(), on),
            },
            "cross_validated": {
                "auroc": auroc(cross[applies].tolist(), on),
                "ece": ece(cross[applies].tolist(), on),
            },
            "leave_one_dataset_out": left_out,
        },
        "by_file": _by_group(samples, predicted, labels),
    }
    meta = {**dict(base.meta), "extended_on": sorted({s.group for s in samples}), "extension": report}
    return replace(calibrator, meta=meta), report


# Within the multilingual model's answers ``lexical_only`` and ``multilingual_model`` are constant
# and the multilingual slopes repeat the plain signals, so its own fit weighs these.
MULTILINGUAL_FEATURES = (
    "dense_top",
    "dense_margin",
    "answer_dense",
    "agreement",
    "both_found",
    "coverage",
    "lexical_ratio",
    "query_words",
    "has_history",
)


def calibrate_multilingual(
    base: Calibrator,
    samples: Sequence[Sample],
    *,
    features: Sequence[str] = MULTILINGUAL_FEATURES,
    c: float = 0.3,
    folds: int = 5,
    seed: int = 0,
) -> tuple[Calibrator, dict[str, Any]]:
    """``base`` with a fit of its own for the answers scored by the multilingual model (issue #15).

    Only the samples with ``multilingual_model`` set are fitted; every other answer keeps ``base``'s
    confidence exactly. Validated on those samples like :func:`calibrate`: 5-fold cross-validation
    and leave-one-dataset-out (fit on the other files' multilingual answers, score the left-out one).
    """
    rows = [s for s in samples if s.signals.get("multilingual_model", 0.0) > 0]
    x = np.array([[s.signals.get(f, 0.0) for f in features] for s in rows], dtype=float)
    y = np.array([s.correct_if_answered for s in rows], dtype=int)
    if len(set(y.tolist())) < 2:
        raise InvalidInput(
            f"{len(rows)} answers scored by the multilingual model; the fit needs correct and incorrect ones"
        )
    weights, bias = _fit(x, y, c)
    cross = _cross_validated(x, y, c, folds, seed)
    labels = y.astype(bool).tolist()
    in_sample = _predict(x, weights, bias).tolist()
    report: dict[str, Any] = {
        "samples": len(y),
        "positives": int(y.sum()),
        "in_sample": {"auroc": auroc(in_sample, labels), "ece": ece(in_sample, labels)},
        "cross_validated": {"auroc": auroc(cross.tolist(), labels), "ece": ece(cross.tolist(), labels)},
        "leave_one_dataset_out": leave_one_dataset_out(x, y, rows, c),
    }
    part = Calibrator(
        dict(zip(features, map(float, weights))),
        bias,
        meta={"fitted_on": sorted({s.group for s in rows}), "report": report},
    )
    return replace(base, multilingual=part), report


def _cross_validated(x: np.ndarray, y: np.ndarray, c: float, folds: int, seed: int) -> np.ndarray:
    """Each sample's probability from a fit on the other folds (a fold without both classes gets the
    training rate)."""
    cross = np.zeros(len(y))
    order = np.random.default_rng(seed).permutation(len(y))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        if len(set(y[train].tolist())) < 2:
            cross[test] = y[train].mean()
            continue
        w, b = _fit(x[train], y[train], c)
        cross[test] = _predict(x[test], w, b)
    return cross


def _predict_offset(offset: np.ndarray, xn: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(offset + xn @ weights, -30, 30)))


def calibrate(
    samples: Sequence[Sample],
    *,
    c: float = 0.3,  # L2 strength; 0.3 gave the best cross-validated ECE on the pooled dev results
    folds: int = 5,
    target_precision: float | None = None,
    seed: int = 0,
) -> tuple[Calibrator, dict[str, Any]]:
    x, y = _matrix(samples)
    if len(set(y.tolist())) < 2:
        raise InvalidInput("calibration data needs both correct and incorrect replies")
    weights, bias = _fit(x, y, c)
    in_sample = _predict(x, weights, bias)
    cross = _cross_validated(x, y, c, folds, seed)
    labels = y.astype(bool).tolist()
    report: dict[str, Any] = {
        "samples": len(y),
        "positives": int(y.sum()),
        "in_sample": {"auroc": auroc(in_sample.tolist(), labels), "ece": ece(in_sample.tolist(), labels)},
        "cross_validated": {"auroc": auroc(cross.tolist(), labels), "ece": ece(cross.tolist(), labels)},
        "cross_validated_by_file": _by_group(samples, cross, labels),
        "leave_one_dataset_out": leave_one_dataset_out(x, y, samples, c),
    }
    meta: dict[str, object] = {"fitted_on": sorted({s.group for s in samples}), "report": report}
    if target_precision is not None:
        answerable = sum(s.answerable for s in samples)
        found = threshold_for_precision(in_sample.tolist(), labels, answerable, target_precision)
        cv = threshold_for_precision(cross.tolist(), labels, answerable, target_precision)
        report["target_precision"] = {
            "target": target_precision,
            "threshold": found[0] if found else None,
            "precision": found[1] if found else None,
            "automation_rate": found[2] if found else 0.0,
            "cross_validated_automation_rate": cv[2] if cv else 0.0,
        }
        if found:
            meta["threshold"] = found[0]
    calibrator = Calibrator(dict(zip(FEATURES, map(float, weights))), bias, meta=meta)
    return calibrator, report
