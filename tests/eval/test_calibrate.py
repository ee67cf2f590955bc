"""Calibration: a logistic fit over draft signals, and threshold selection for a target precision."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from firstlast.answerer.confidence import Calibrator
from firstlast.errors import InvalidInput
from firstlast.eval.calibrate import Sample, calibrate, load_results, threshold_for_precision


def _samples(n: int = 400, seed: int = 1) -> list[Sample]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        dense = float(rng.uniform(0.1, 0.9))
        correct = bool(rng.uniform() < dense)  # true probability of being right = dense_top
        out.append(Sample({"dense_top": dense, "coverage": float(rng.uniform())}, correct, True, "synthetic"))
    return out


def test_fitted_calibrator_is_calibrated_and_ranks_by_the_informative_signal() -> None:
    calibrator, report = calibrate(_samples())
    assert report["cross_validated"]["ece"] < 0.08
    assert report["cross_validated"]["auroc"] > 0.65
    low = calibrator.probability({"dense_top": 0.2, "coverage": 0.5})
    high = calibrator.probability({"dense_top": 0.8, "coverage": 0.5})
    assert 0.1 < low < 0.35 and 0.65 < high < 0.9
    assert abs(calibrator.weights["coverage"]) < calibrator.weights["dense_top"]


def test_calibration_round_trips_through_json(tmp_path: Path) -> None:
    calibrator, _ = calibrate(_samples(), target_precision=0.8)
    path = tmp_path / "cal.json"
    path.write_text(calibrator.to_json())
    loaded = Calibrator.load(path)
    signals = {"dense_top": 0.6, "coverage": 0.3}
    assert loaded.probability(signals) == pytest.approx(calibrator.probability(signals))
    assert 0 < float(loaded.meta["threshold"]) < 1  # type: ignore[arg-type]


def test_threshold_for_precision_picks_the_lowest_qualifying_threshold() -> None:
    conf = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    correct = [False, False, True, False, True, True]
    threshold, precision, automation = threshold_for_precision(conf, correct, answerable=6, target=0.75)
    assert threshold == 0.3 and precision == 0.75 and automation == pytest.approx(3 / 6)
    assert threshold_for_precision(conf, [False] * 6, answerable=6, target=0.5) is None


def test_load_results_reads_eval_rows_and_rejects_garbage(tmp_path: Path) -> None:
    good = tmp_path / "results.jsonl"
    rows = [
        {"answerable": True, "gold": ["a"], "first_citation": "a", "signals": {"dense_top": 0.9}},
        {"answerable": True, "gold": ["a"], "first_citation": "b", "signals": {"dense_top": 0.4}},
        {"answerable": False, "gold": [], "first_citation": "a", "signals": {"dense_top": 0.3}},
    ]
    good.write_text("\n".join(json.dumps(r) for r in rows))
    assert [s.correct_if_answered for s in load_results([good])] == [True, False, False]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"answerable": true}\nnot json')
    with pytest.raises(InvalidInput, match=r"bad\.jsonl:"):
        load_results([bad])
    with pytest.raises(InvalidInput, match="both correct and incorrect"):
        calibrate([Sample({}, True, True, "x")] * 3)


def test_the_resolution_target_labels_by_the_reply_and_citation_by_the_first_citation(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    rows = [  # cited gold but the reply misses the answer; cited elsewhere but the reply holds it
        {"answerable": True, "gold": ["a"], "first_citation": "a", "resolved_if_sent": False, "signals": {}},
        {"answerable": True, "gold": ["a"], "first_citation": "b", "resolved_if_sent": True, "signals": {}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert [s.correct_if_answered for s in load_results([path])] == [False, True]
    assert [s.correct_if_answered for s in load_results([path], "citation")] == [True, False]


def test_leave_one_dataset_out_scores_each_file_with_a_model_fitted_on_the_others() -> None:
    def group(name: str, seed: int, scale: float) -> list[Sample]:
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(300):
            dense = float(rng.uniform(0.1, 0.9))
            correct = bool(rng.uniform() < dense * scale)  # the third set is right half as often
            out.append(Sample({"dense_top": dense}, correct, True, name))
        return out

    alike = group("a", 1, 1.0) + group("b", 2, 1.0)
    _, report = calibrate(alike + group("shifted", 3, 0.5))
    lodo = report["leave_one_dataset_out"]
    assert set(lodo) == {"a", "b", "shifted"} and lodo["a"]["samples"] == 300
    assert lodo["a"]["ece"] < lodo["shifted"]["ece"]  # a set unlike the others is what LODO reveals
    assert lodo["shifted"]["ece"] > 0.1
    assert all(v["auroc"] > 0.6 for v in lodo.values())  # the ranking signal transfers
    _, single = calibrate(group("only", 4, 1.0))
    assert single["leave_one_dataset_out"] == {}


def test_extending_a_calibration_fits_learned_matches_and_leaves_other_replies_alone() -> None:
    from firstlast.eval.calibrate import extend

    base = Calibrator({"dense_top": 4.0}, -2.0)
    rng = np.random.default_rng(3)
    samples = [
        Sample({"dense_top": float(rng.uniform())}, bool(rng.uniform() < 0.5), True, "plain")
        for _ in range(200)
    ]
    for _ in range(200):  # learned matches: right when the question is close, wrong when it is not
        match = float(rng.uniform(0.3, 1.0))
        signals = {"dense_top": 0.5, "learned": 1.0, "learned_match": match, "question_match": match}
        samples.append(Sample(signals, bool(rng.uniform() < (match - 0.3) / 0.7), True, "learned"))
    extended, report = extend(base, samples)
    assert set(report["fitted"]) >= {"learned", "learned_match", "question_match"}
    plain = {"dense_top": 0.7}
    assert extended.probability(plain) == base.probability(plain)  # unrelated replies keep their confidence
    close = {"dense_top": 0.5, "learned": 1.0, "learned_match": 0.95, "question_match": 0.95}
    weak = {**close, "learned_match": 0.4, "question_match": 0.4}
    assert extended.probability(close) > 0.7 > 0.3 > extended.probability(weak)


def test_an_extension_is_validated_where_it_applies_and_keeps_closeness_weights_non_negative() -> None:
    from firstlast.eval.calibrate import extend

    base = Calibrator({"dense_top": 4.0}, -2.0)
    rng = np.random.default_rng(5)
    samples = []
    for group in ("first", "second"):
        for _ in range(150):  # a noisy residual that happens to go the wrong way in this data
            match, residual = float(rng.uniform(0.3, 1.0)), float(rng.uniform())
            right = bool(rng.uniform() < (match - 0.3) / 0.7 - 0.2 * residual)
            signals = {
                "dense_top": 0.5,
                "learned": 1.0,
                "question_match": match,
                "question_residual": residual,
            }
            samples.append(Sample(signals, right, True, group))
        samples += [Sample({"dense_top": 0.6}, True, True, group)] * 20  # no question feature applies
    _, report = extend(base, samples)
    assert report["fitted"]["question_residual"] == 0.0  # a closeness signal cannot count against a reply
    assert report["fitted"]["question_match"] > 0
    applied = report["where_applied"]
    assert applied["cross_validated"]["auroc"] > 0.6
    assert set(applied["leave_one_dataset_out"]) == {"first", "second"}
    assert all(v["samples"] == 150 for v in applied["leave_one_dataset_out"].values())


def _two_scales(n: int = 300, seed: int = 7) -> list[Sample]:
    """MiniLM answers right with probability dense_top; e5 answers on its compressed scale
    (0.75-0.95), right with probability (dense_top - 0.75) / 0.2, in two files."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        dense = float(rng.uniform(0.1, 0.9))
        out.append(Sample({"dense_top": dense}, bool(rng.uniform() < dense), True, "minilm"))
    for group in ("ja", "ko"):
        for _ in range(n):
            dense = float(rng.uniform(0.75, 0.95))
            signals = {"dense_top": dense, "multilingual_model": 1.0}
            out.append(Sample(signals, bool(rng.uniform() < (dense - 0.75) / 0.2), True, group))
    return out


def test_the_multilingual_models_answers_get_a_fit_of_their_own_and_the_others_keep_theirs(
    tmp_path: Path,
) -> None:
    from firstlast.eval.calibrate import calibrate_multilingual

    samples = _two_scales()
    base = Calibrator({"dense_top": 5.0}, -2.5, meta={"fitted_on": "minilm"})
    calibrator, report = calibrate_multilingual(base, samples)
    assert report["samples"] == 600 and set(report["leave_one_dataset_out"]) == {"ja", "ko"}
    assert report["cross_validated"]["ece"] < 0.08 and report["cross_validated"]["auroc"] > 0.7
    assert calibrator.probability({"dense_top": 0.6}) == base.probability({"dense_top": 0.6})
    weak, strong = ({"dense_top": d, "multilingual_model": 1.0} for d in (0.78, 0.93))
    assert base.probability(weak) > 0.8  # MiniLM's scale reads any e5 cosine as a sure answer
    assert calibrator.probability(weak) < 0.35 < 0.65 < calibrator.probability(strong)
    path = tmp_path / "cal.json"
    path.write_text(calibrator.to_json())
    loaded = Calibrator.load(path)
    assert loaded == calibrator and loaded.probability(weak) == calibrator.probability(weak)
    with pytest.raises(InvalidInput, match="multilingual model"):
        calibrate_multilingual(base, [s for s in samples if s.group == "minilm"])


def test_extending_a_calibration_with_a_multilingual_part_extends_both_parts() -> None:
    from firstlast.eval.calibrate import extend

    base = Calibrator({"dense_top": 4.0}, -2.0, multilingual=Calibrator({"dense_top": 20.0}, -17.0))
    rng = np.random.default_rng(9)
    samples = []
    for e5 in (0.0, 1.0):
        for _ in range(150):
            match = float(rng.uniform(0.3, 1.0))
            signals = {"dense_top": 0.85, "multilingual_model": e5, "learned": 1.0, "learned_match": match}
            samples.append(Sample(signals, bool(rng.uniform() < (match - 0.3) / 0.7), True, f"e5={e5}"))
    extended, _ = extend(base, samples)
    assert extended.multilingual is not None
    for e5 in (0.0, 1.0):
        close = {"dense_top": 0.85, "multilingual_model": e5, "learned": 1.0, "learned_match": 0.95}
        assert extended.probability(close) > base.probability(close)
    plain = {"dense_top": 0.85, "multilingual_model": 1.0}
    assert extended.probability(plain) == base.probability(plain)
