"""The eval's operating point per dataset for a calibration, without asking the questions again.

Reads ``results.jsonl`` files of ``firstlast eval run`` (one per dataset; the folder names the set)
and, for the shipped calibration and for calibrations fitted on these files with a few feature sets,
recomputes what ``eval run`` reports at the threshold: a question is answered when its confidence
reaches the threshold (questions handed off for another reason stay handed off), correct when it is
answered and its first citation is gold; ECE and AUROC are the eval's (every handed-off question
counts as incorrect). A fit is shown twice: on every file (what would ship), and
leave-one-dataset-out (each set scored by a fit on the others: a new customer's knowledge base).

The draft and its citation do not depend on the calibration, so this equals a rerun.

    .venv/bin/python benchmarks/calibration_operating_points.py runs/*/results.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from firstlast.answerer.confidence import FEATURES, Calibrator, complete
from firstlast.eval.calibrate import _fit, _predict, calibrate, load_results
from firstlast.eval.metrics import auroc, ece

OLD = (
    "dense_top",
    "dense_margin",
    "answer_dense",
    "agreement",
    "both_found",
    "coverage",
    "lexical_ratio",
    "query_words",
    "has_history",
    "lexical_only",
    "multilingual_model",
)
MULTILINGUAL = ("multilingual_top", "multilingual_margin", "multilingual_answer")
SETS: dict[str, tuple[str, ...]] = {
    "shipped features": OLD,
    "+ multilingual slopes": OLD + MULTILINGUAL,
    "+ slopes + reply coverage": OLD + MULTILINGUAL + ("reply_coverage",),
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--c", type=float, default=0.3)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--target", default="citation", choices=["citation", "resolution"])
    parser.add_argument("--write", type=Path, help="write the fit with the last feature set here")
    args = parser.parse_args()
    names = [p.parent.name for p in args.results]
    rows = {n: rows_of(p) for n, p in zip(names, args.results)}
    samples = load_results(args.results, args.target)  # type: ignore[arg-type]
    group_name = {str(p): n for n, p in zip(names, args.results)}
    y = np.array([s.correct_if_answered for s in samples], dtype=int)
    groups = np.array([group_name[s.group] for s in samples])

    def table(label: str, conf_of: dict[str, np.ndarray]) -> None:
        print(f"{label:<44}", end="")
        for n in names:
            m = operating_point(rows[n], conf_of[n], args.threshold)
            print(f"  {m['precision']:.3f} {m['automation']:.3f} {m['auroc']:.3f} {m['ece']:.3f}", end="")
        print()

    print(f"threshold {args.threshold}, fitted for {args.target}; per set: precision automation AUROC ECE")
    print(f"{'calibration':<44}" + "".join(f"  {n[:26]:<26}" for n in names))
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
