"""Which confidence signals transfer to a knowledge base the model was not fitted on?

Reads ``results.jsonl`` files of ``firstlast eval run`` (one per dataset) and, for each feature set,
fits the calibration on all files but one and scores the left-out one (leave-one-dataset-out), for
both targets (resolution, citation). Prints AUROC and ECE per left-out file and the worst ECE.

    .venv/bin/python benchmarks/calibration_transfer.py runs/emanual/results.jsonl runs/mtrag/results.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from firstlast.answerer.confidence import FEATURES
from firstlast.eval.calibrate import _fit, _predict, load_results
from firstlast.eval.metrics import auroc, ece

SETS: dict[str, tuple[str, ...]] = {
    "all": FEATURES,
    "retrieval": ("dense_top", "dense_margin", "answer_dense", "agreement", "both_found", "lexical_only",
                  "multilingual_model"),
    "no lexical ratio": tuple(f for f in FEATURES if f != "lexical_ratio"),
    "no query words": tuple(f for f in FEATURES if f not in ("query_words",)),
    "coverage + dense": ("dense_top", "dense_margin", "coverage", "reply_coverage", "agreement",
                         "multilingual_model", "lexical_only"),
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--c", type=float, default=0.3)
    args = parser.parse_args()
    for target in ("resolution", "citation"):
        samples = load_results(args.results, target)  # type: ignore[arg-type]
        groups = sorted({s.group for s in samples})
        names = [Path(g).parent.name for g in groups]
        print(f"\ntarget {target}: AUROC / ECE of the left-out set")
        print(f"{'features':<18}" + "".join(f"{n:>26}" for n in names) + f"{'worst ECE':>11}")
        y = np.array([s.correct_if_answered for s in samples], dtype=int)
        for label, features in SETS.items():
            x = np.array([[s.signals.get(f, 0.0) for f in features] for s in samples], dtype=float)
            cells, worst = [], 0.0
            for group in groups:
                test = np.array([s.group == group for s in samples])
                w, b = _fit(x[~test], y[~test], args.c)
                p = _predict(x[test], w, b).tolist()
                labels = y[test].astype(bool).tolist()
                e = ece(p, labels)
                worst = max(worst, e)
                cells.append(f"{auroc(p, labels):.3f} / {e:.3f}")
            print(f"{label:<18}" + "".join(f"{c:>26}" for c in cells) + f"{worst:>11.3f}")


if __name__ == "__main__":
    main()
