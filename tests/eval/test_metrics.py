"""Evaluation metrics against their definitions (and sklearn for AUROC)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from firstlast.eval.metrics import auroc, ece, percentile, recall_at, reciprocal_rank


@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_sklearn_on_random_data_with_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.random(300) + 0.4 * labels, 1)  # rounding makes many ties
    assert len(np.unique(scores)) < 30
    assert auroc(scores.tolist(), labels.tolist()) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_auroc_of_a_perfect_a_reversed_and_an_all_tied_ranking():
    labels = [False, False, True, True]
    assert auroc([0.1, 0.2, 0.8, 0.9], labels) == 1.0
    assert auroc([0.9, 0.8, 0.2, 0.1], labels) == 0.0
    assert auroc([0.5, 0.5, 0.5, 0.5], labels) == 0.5


def test_auroc_is_one_half_when_only_one_class_is_present():
    assert auroc([0.1, 0.7, 0.9], [True, True, True]) == 0.5
    assert auroc([0.1, 0.7, 0.9], [False, False, False]) == 0.5
    assert auroc([], []) == 0.5


def test_ece_of_perfectly_calibrated_bins_is_zero():
    # in each bin, the share of correct answers equals the confidence
    confidences = [0.25] * 4 + [0.75] * 4 + [0.95] * 20
    labels = [True, False, False, False] + [True, True, True, False] + [True] * 19 + [False]
    assert ece(confidences, labels) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_an_over_confident_set_is_large():
    confidences = [0.95] * 100
    labels = [True] * 30 + [False] * 70
    assert ece(confidences, labels) == pytest.approx(0.65)


def test_ece_weights_bins_by_their_size():
    # bin 0.9: 10 items, 0.9 confident, 50% right -> 0.4 gap; bin 0.5: 30 items, calibrated
    confidences = [0.9] * 10 + [0.5] * 30
    labels = [True] * 5 + [False] * 5 + [True] * 15 + [False] * 15
    assert ece(confidences, labels) == pytest.approx(10 / 40 * 0.4)


def test_ece_puts_confidence_one_in_the_last_bin_and_is_zero_for_no_data():
    assert ece([1.0, 1.0], [True, True]) == pytest.approx(0.0)
    assert ece([], []) == 0.0


def test_recall_at_k_counts_a_gold_document_within_the_first_k():
    ranked = ["faq", "refunds", "plans"]
    assert recall_at(ranked, frozenset({"refunds"}), 2) == 1.0
    assert recall_at(ranked, frozenset({"refunds"}), 1) == 0.0
    assert recall_at(ranked, frozenset({"missing"}), 10) == 0.0
    assert recall_at(ranked, frozenset({"plans", "faq"}), 1) == 1.0


def test_reciprocal_rank_is_one_over_the_first_gold_rank_within_k():
    ranked = ["faq", "refunds", "plans"]
    assert reciprocal_rank(ranked, frozenset({"faq"})) == 1.0
    assert reciprocal_rank(ranked, frozenset({"plans", "refunds"})) == 0.5
    assert reciprocal_rank(ranked, frozenset({"plans"}), k=2) == 0.0
    assert reciprocal_rank([], frozenset({"plans"})) == 0.0


def test_percentile_of_latencies():
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0], 50) == 30.0
    assert percentile([], 95) == 0.0
