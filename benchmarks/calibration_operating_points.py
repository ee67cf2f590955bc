"""The eval's operating point per dataset for a calibration, without asking the questions again.

Reads ``results.jsonl`` files of ``firstlast eval run`` (one per dataset; the folder names the set)
and, for the shipped calibration and for calibrations fitted on these files with a few feature sets,
recomputes what ``eval run`` reports at the threshold: a question is answered when its confidence
reaches the threshold (questions handed off for another reason stay handed off), correct when it is
answered and its first citation is gold; ECE and AUROC are the eval's (every handed-off question
counts as incorrect). A fit is shown twice: on every file (what would ship), and
leave-one-dataset-out (each set scored by a fit on the others: a new customer's knowledge base).
The "e5 own fit" rows keep the shipped calibration for MiniLM's answers and fit the multilingual
model's answers on their own (``eval calibrate --multilingual``). Each cell adds ECE against the
calibration's own label (the draft's first citation is gold, sent or not), and a second table gives
the threshold each set needs for answered precision ``--precision`` and the automation left there.

The draft and its citation do not depend on the calibration, so this equals a rerun.

    .venv/bin/python benchmarks/calibration_operating_points.py runs/*/results.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from firstlast.answerer.confidence import FEATURES, Calibrator, complete
from firstlast.eval.calibrate import MULTILINGUAL_FEATURES, _fit, _predict, calibrate, load_results
from firstlast.eval.metrics import auroc, ece

OLD = (*MULTILINGUAL_FEATURES, "lexical_only", "multilingual_model")
MULTILINGUAL = ("multilingual_top", "multilingual_margin", "multilingual_answer")
SETS: dict[str, tuple[str, ...]] = {
    "shipped features": OLD,
    "+ multilingual slopes": OLD + MULTILINGUAL,
    "+ slopes + reply coverage": OLD + MULTILINGUAL + ("reply_coverage",),
}  # fmt: skip
# A calibration of its own for answers whose dense scores come from the multilingual model (e5),
# chosen per answer by ``multilingual_model`` (``eval calibrate --multilingual``); other answers keep
# the shipped one. Leave-one-out fits it on the other files' e5 answers.
FAMILY_SETS: dict[str, tuple[str, ...]] = {
    "e5 own fit, shipped features": MULTILINGUAL_FEATURES,
    "e5 own fit, + reply coverage": (*MULTILINGUAL_FEATURES, "reply_coverage"),
    "e5 own fit, retrieval only": ("dense_top", "dense_margin", "answer_dense", "agreement", "both_found"),
}  # fmt: skip


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def operating_point(rows: list[dict], confidence: np.ndarray, threshold: float) -> dict[str, float]:
    answerable = sum(r["answerable"] for r in rows)
    answered, correct = [], []
    for row, conf in zip(rows, confidence):
        by_confidence = row["reason"] in ("", "low_confidence") and bool(row["signals"])
        sent = conf >= threshold if by_confidence else bool(row["answered"])
        answered.append(sent)
        correct.append(sent and row["answerable"] and row["first_citation"] in set(row["gold"]))
    n_answered = sum(answered)
    return {
        "precision": sum(correct) / n_answered if n_answered else 0.0,
        "automation": sum(correct) / max(answerable, 1),
        "auroc": auroc(confidence.tolist(), correct),
        "ece": ece(confidence.tolist(), correct),
        # against the calibration's own label (the draft's first citation is gold, sent or not)
        "ece_if_sent": ece(
            confidence.tolist(), [r["answerable"] and r["first_citation"] in set(r["gold"]) for r in rows]
        ),
    }


def needed_threshold(rows: list[dict], confidence: np.ndarray, target: float) -> tuple[float, float] | None:
    """The lowest threshold whose answered precision reaches ``target``, and the automation left."""
    for t in np.unique(confidence):
        m = operating_point(rows, confidence, float(t))
        if m["precision"] >= target:
            return float(t), m["automation"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--c", type=float, default=0.3)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--target", default="citation", choices=["citation", "resolution"])
    parser.add_argument("--write", type=Path, help="write the fit with the last feature set here")
    parser.add_argument("--precision", type=float, default=0.85, help="report the threshold each set needs")
    args = parser.parse_args()
    names = [p.parent.name for p in args.results]
    rows = {n: rows_of(p) for n, p in zip(names, args.results)}
    samples = load_results(args.results, args.target)  # type: ignore[arg-type]
    group_name = {str(p): n for n, p in zip(names, args.results)}
    y = np.array([s.correct_if_answered for s in samples], dtype=int)
    groups = np.array([group_name[s.group] for s in samples])

    needs: list[str] = []

    def table(label: str, conf_of: dict[str, np.ndarray]) -> None:
        print(f"{label:<44}", end="")
        need = []
        for n in names:
            m = operating_point(rows[n], conf_of[n], args.threshold)
            cell = " ".join(f"{m[k]:.3f}" for k in ("precision", "automation", "auroc", "ece", "ece_if_sent"))
            print(f"  {cell}", end="")
            found = needed_threshold(rows[n], conf_of[n], args.precision)
            need.append(f"  {found[0]:.3f} {found[1]:.3f}" if found else "  none       ")
        print()
        needs.append(f"{label:<44}" + "".join(f"{c:<28}" for c in need))

    print(
        f"threshold {args.threshold}, fitted for {args.target}; per set: precision automation AUROC ECE"
        " (the eval's: handed off = incorrect) ECE-if-sent (against the draft's citation)"
    )
    print(f"{'calibration':<44}" + "".join(f"  {n[:30]:<30}" for n in names))
    shipped = Calibrator.load(None)
    table(
        "shipped",
        {n: np.array([shipped.probability(complete(r["signals"])) for r in rows[n]]) for n in names},
    )
    for label, features in SETS.items():
        x = np.array([[s.signals.get(f, 0.0) for f in features] for s in samples], dtype=float)
        w, b = _fit(x, y, args.c)
        pooled = _predict(x, w, b)
        table(f"{label}: fit on all", {n: pooled[groups == n] for n in names})
        lodo = np.zeros(len(y))
        for n in names:
            test = groups == n
            wl, bl = _fit(x[~test], y[~test], args.c)
            lodo[test] = _predict(x[test], wl, bl)
        table(f"{label}: leave-one-out", {n: lodo[groups == n] for n in names})
    family = np.array([s.signals.get("multilingual_model", 0.0) > 0 for s in samples])
    shipped_all = np.array([shipped.probability(s.signals) for s in samples])
    for label, features in FAMILY_SETS.items():
        x = np.array([[s.signals.get(f, 0.0) for f in features] for s in samples], dtype=float)
        w, b = _fit(x[family], y[family], args.c)
        fitted = np.where(family, _predict(x, w, b), shipped_all)
        table(f"{label}: fit on all", {n: fitted[groups == n] for n in names})
        lodo = shipped_all.copy()
        for n in names:
            test = groups == n
            if not (family & test).any():
                continue
            train = family & ~test
            wl, bl = _fit(x[train], y[train], args.c)
            lodo[test & family] = _predict(x[test & family], wl, bl)
        table(f"{label}: leave-one-out", {n: lodo[groups == n] for n in names})
    print(f"\nthreshold for answered precision {args.precision}, and the automation it leaves")
    print(f"{'calibration':<44}" + "".join(f"{n[:26]:<28}" for n in names))
    print("\n".join(needs))
    if args.write:
        keep = set(list(SETS.values())[-1])
        chosen = [type(s)({f: v for f, v in s.signals.items() if f in keep}, *list(vars(s).values())[1:])
                  for s in samples]  # fmt: skip
        calibrator, _ = calibrate(chosen, c=args.c)
        weights = {f: v for f, v in calibrator.weights.items() if f in keep}
        out = Calibrator(weights, calibrator.bias, meta=calibrator.meta)
        args.write.write_text(out.to_json() + "\n")
        print(f"wrote {args.write} ({len(FEATURES)} features known, {len(weights)} weighed)")


if __name__ == "__main__":
    main()
