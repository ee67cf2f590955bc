"""Evaluation metrics against their definitions (and sklearn for AUROC)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from firstlast.eval.metrics import (
    AnswerScorer,
    answer_metrics,
    auroc,
    ece,
    percentile,
    recall_at,
    reciprocal_rank,
)


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


# -- answer completeness (issue #9), hand-checked values ---------------------------------------------

GOLD = "Go to Settings, open Billing and click Download PDF."  # content words: go settings open billing click download pdf


def test_content_recall_counts_the_gold_answers_stemmed_content_words_found_in_the_reply():
    scorer = AnswerScorer()
    assert scorer.content_words(GOLD) == {"go", "set", "open", "bill", "click", "download", "pdf"}
    # "settings"/"billing" stem to set/bill; 4 of the 7 gold content words are in the reply
    assert scorer.content_recall("Open Settings and choose Billing, then click.", GOLD) == pytest.approx(
        4 / 7
    )
    assert scorer.content_recall(GOLD, GOLD) == 1.0
    assert scorer.content_recall("Nothing about it.", GOLD) == 0.0
    assert scorer.content_recall("anything", "") == 0.0


def test_cjk_gold_answers_are_compared_by_character():
    scorer = AnswerScorer()
    assert scorer.content_words("設定を開く") == {"設", "定", "を", "開", "く"}
    assert scorer.content_recall("設定です", "設定を開く") == pytest.approx(2 / 5)
    assert scorer.content_recall("설정을 여세요", "설정") == 1.0


def test_rouge_l_recall_rewards_the_gold_answers_word_order():
    scorer = AnswerScorer()
    in_order = scorer.rouge_l_recall("go to settings then billing", "go to settings, open billing")
    shuffled = scorer.rouge_l_recall("billing then settings to go", "go to settings, open billing")
    assert in_order == pytest.approx(4 / 5)  # LCS go-to-settings-billing of 5 gold tokens
    assert shuffled < in_order


def test_answer_metrics_on_a_tiny_labelled_set():
    rows = [
        # answerable with gold answers: resolved, answered but not resolved, handed off
        {"answerable": True, "answered": True, "has_gold_answer": True, "answer_recall": 0.8, "rouge_l": 0.6},
        {"answerable": True, "answered": True, "has_gold_answer": True, "answer_recall": 0.4, "rouge_l": 0.2},
        {
            "answerable": True,
            "answered": False,
            "has_gold_answer": True,
            "answer_recall": 0.0,
            "rouge_l": 0.0,
        },
        # answerable without a gold answer: not judged
        {"answerable": True, "answered": True, "has_gold_answer": False},
        # unanswerable: answering one is wrong, handing one off is right
        {"answerable": False, "answered": True, "has_gold_answer": False},
        {"answerable": False, "answered": False, "has_gold_answer": False},
    ]
    metrics = answer_metrics(rows)
    assert metrics["answer_recall"] == pytest.approx(0.6)  # mean of 0.8 and 0.4 (answered only)
    assert metrics["rouge_l_recall"] == pytest.approx(0.4)
    assert metrics["resolution_rate"] == pytest.approx(1 / 3)  # 1 resolved of 3 with gold answers
    assert metrics["resolution_precision"] == pytest.approx(1 / 3)  # 1 of 2 answered + 1 unanswerable
    assert answer_metrics([]) == {}  # no gold answers: nothing to report
