"""``report.html`` for an evaluation run: one self-contained file (charts inlined as base64 PNGs)
that shows whether the bot can be trusted at its threshold and where it goes wrong.

    write_report(Path("runs/emanual_smarttv"), metrics, rows)   # rows as in results.jsonl

Charts: risk–coverage for citations and resolution–coverage for replies that hold the gold answer
(what a different threshold would buy), reliability (is confidence a probability), latency. Tables:
every metric, baselines side by side, the worst misses and the worst non-resolving replies.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

WORST = 15
MAX_RETRIEVAL_MISSES = 50
_COMPARE = ("recall@1", "recall@5", "mrr@10", "auroc")


# -- pure computations ----------------------------------------------------------------------------


def _would_be_correct(row: Mapping[str, Any]) -> bool:
    return bool(row["answerable"]) and row["first_citation"] in set(row["gold"])


def _threshold_decides(row: Mapping[str, Any]) -> bool:
    """Whether the threshold decides this row: it was answered, or handed off only for confidence.

    Customer requests, empty drafts and errors are handed off at any threshold.
    """
    return bool(row["answered"]) or row.get("reason") == "low_confidence"


def operating_point(rows: Sequence[Mapping[str, Any]], threshold: float) -> tuple[float, float]:
    """(automation, precision) if the bot answered every eligible row with confidence >= threshold."""
    answerable = sum(bool(r["answerable"]) for r in rows)
    answered = [r for r in rows if _threshold_decides(r) and float(r["confidence"]) >= threshold]
    correct = sum(_would_be_correct(r) for r in answered)
    automation = correct / answerable if answerable else 0.0
    precision = correct / len(answered) if answered else 0.0
    return automation, precision


def risk_coverage(rows: Sequence[Mapping[str, Any]]) -> list[tuple[float, float, float]]:
    """(threshold, automation, precision) for every distinct confidence, lowest threshold first.

    automation = correct answered / answerable, precision = correct / answered, where a row is
    answered at threshold t when the threshold decides it and its confidence is >= t, and correct
    when it is answerable and its first citation is gold (the same rule as the eval runner).
    """
    thresholds = sorted({float(r["confidence"]) for r in rows if _threshold_decides(r)})
    return [(t, *operating_point(rows, t)) for t in thresholds]


def _judged(row: Mapping[str, Any]) -> bool:
    """Rows whose reply can be judged against a gold answer (unanswerable ones: answering is wrong)."""
    return bool(row.get("has_gold_answer")) or not row["answerable"]


def resolution_coverage(rows: Sequence[Mapping[str, Any]]) -> list[tuple[float, float, float]]:
    """(threshold, resolution rate, resolution precision) for every distinct confidence, lowest first:
    the same as :func:`risk_coverage` with "the draft holds the gold answer" instead of the citation."""
    judged = [r for r in rows if _judged(r)]
    gold = sum(bool(r["answerable"]) for r in judged)
    out = []
    for t in sorted({float(r["confidence"]) for r in judged if _threshold_decides(r)}):
        answered = [r for r in judged if _threshold_decides(r) and float(r["confidence"]) >= t]
        resolved = sum(bool(r.get("resolved_if_sent")) and bool(r["answerable"]) for r in answered)
        out.append((t, resolved / gold if gold else 0.0, resolved / len(answered) if answered else 0.0))
    return out


def worst_unresolved(rows: Sequence[Mapping[str, Any]], limit: int = WORST) -> list[Mapping[str, Any]]:
    """The most confident sent replies that do not hold half of their gold answer."""
    bad = [r for r in rows if r["answered"] and r.get("has_gold_answer") and not r.get("resolved_if_sent")]
    return sorted(bad, key=lambda r: -float(r["confidence"]))[:limit]


def reliability(rows: Sequence[Mapping[str, Any]], bins: int = 10) -> list[tuple[float, float, float, int]]:
    """(bin low, mean confidence, fraction correct if answered, count) per non-empty equal-width bin.

    Accuracy is of the draft (answerable and first citation gold), not of the sent reply: with the
    sent reply every bin below the threshold would read 0 by construction, whatever the calibration.
    """
    conf = np.asarray([float(r["confidence"]) for r in rows], dtype=float)
    correct = np.asarray([_would_be_correct(r) for r in rows], dtype=float)
    idx = np.clip((conf * bins).astype(int), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            out.append((b / bins, float(conf[mask].mean()), float(correct[mask].mean()), int(mask.sum())))
    return out


def flatten(metrics: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested metric keys as dotted paths: ``("baselines.bm25_only.recall@1", 0.41)``."""
    for key, value in metrics.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, path + ".")
        else:
            yield path, value


def worst_misses(rows: Sequence[Mapping[str, Any]], limit: int = WORST) -> list[Mapping[str, Any]]:
    """The most confident rows that were not correct, most confident first."""
    wrong = [r for r in rows if not r["correct"]]
    return sorted(wrong, key=lambda r: -float(r["confidence"]))[:limit]


def retrieval_misses(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Answerable rows whose gold documents were not retrieved at all, most confident first."""
    missed = [r for r in rows if r["answerable"] and not set(r["gold"]).intersection(r["retrieved"])]
    return sorted(missed, key=lambda r: -float(r["confidence"]))


# -- charts ---------------------------------------------------------------------------------------


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _risk_coverage_chart(rows: Sequence[Mapping[str, Any]], threshold: float | None) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    points = risk_coverage(rows)
    if points:
        ax.plot([p[1] for p in points], [p[2] for p in points], marker=".", lw=1.2, label="all thresholds")
    if threshold is not None:
        x, y = operating_point(rows, threshold)
        ax.scatter([x], [y], s=80, color="crimson", zorder=3, label=f"threshold {threshold:.2f}")
    ax.set(xlabel="automation rate (correct answered / answerable)", ylabel="precision (correct / answered)")
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), title="Risk–coverage")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return _png(fig)


def _resolution_chart(rows: Sequence[Mapping[str, Any]], threshold: float | None) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    points = resolution_coverage(rows)
    if points:
        ax.plot([p[1] for p in points], [p[2] for p in points], marker=".", lw=1.2, label="all thresholds")
        if threshold is not None:
            at = min(points, key=lambda p: abs(p[0] - threshold))
            ax.scatter([at[1]], [at[2]], s=80, color="crimson", zorder=3, label=f"threshold {threshold:.2f}")
        ax.legend(loc="lower left")
    ax.set(
        xlabel="resolution rate (resolved / answerable)", ylabel="resolution precision (resolved / answered)"
    )
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), title="Resolution–coverage (reply holds the answer)")
    ax.grid(alpha=0.3)
    return _png(fig)


def _reliability_chart(rows: Sequence[Mapping[str, Any]]) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for low, mean_conf, accuracy, count in reliability(rows):
        ax.bar(low, accuracy, width=0.1, align="edge", alpha=0.6, color="steelblue", edgecolor="white")
        ax.text(low + 0.05, accuracy + 0.02, str(count), ha="center", fontsize=8)
        ax.plot([mean_conf], [accuracy], marker="o", color="navy")
    ax.set(xlabel="confidence", ylabel="fraction correct if answered", xlim=(0, 1), ylim=(0, 1.1))
    ax.set(title="Reliability (bar labels: questions per bin)")
    ax.legend(loc="upper left")
    return _png(fig)


def _latency_chart(rows: Sequence[Mapping[str, Any]]) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    latencies = [float(r["latency_ms"]) for r in rows]
    if latencies:
        ax.hist(latencies, bins=min(40, max(5, len(latencies) // 5)), color="seagreen")
        for q, style in ((50, "-"), (95, "--")):
            value = float(np.percentile(latencies, q))
            ax.axvline(value, color="black", ls=style, lw=1, label=f"p{q} {value:.0f} ms")
        ax.legend()
    ax.set(xlabel="latency per question (ms)", ylabel="questions", title="Latency")
    return _png(fig)


# -- HTML -----------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else _e(value)


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """An HTML table; cells must already be escaped."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _comparison(metrics: Mapping[str, Any]) -> str:
    baselines = metrics.get("baselines")
    if not isinstance(baselines, Mapping) or not baselines:
        return ""
    ours = {**metrics.get("retrieval", {}), "auroc": metrics.get("answers", {}).get("auroc")}
    ours["latency_ms"] = metrics.get("latency_ms", {})
    systems: list[tuple[str, Mapping[str, Any]]] = [("firstlast", ours), *baselines.items()]
    body = []
    for name, values in systems:
        latency = values.get("latency_ms") or {}
        cells = [_fmt(values.get(k, "")) for k in _COMPARE]
        cells += [_fmt(latency.get("p50", "")), _fmt(latency.get("p95", ""))]
        body.append([f"<b>{_e(name)}</b>", *cells])
    note = (
        "<p class=note>firstlast AUROC is for <i>answered and first citation gold</i>; a baseline's is "
        "for <i>top-1 document gold</i>. Baseline latency is retrieval only; firstlast's is the full "
        "answer path.</p>"
    )
    header = ["system", *_COMPARE, "latency p50 (ms)", "latency p95 (ms)"]
    return "<h2>Against baselines</h2>" + _table(header, body) + note


def _miss_table(rows: Sequence[Mapping[str, Any]]) -> str:
    body = [
        [
            _e(r["question"]),
            _fmt(float(r["confidence"])),
            _e(r["first_citation"] or "—"),
            "<br>".join(_e(d) for d in list(r["retrieved"])[:5]) or "—",
            "<br>".join(_e(d) for d in r["gold"]) or "(unanswerable)",
        ]
        for r in rows
    ]
    return _table(["question", "confidence", "first citation", "retrieved (top 5)", "gold"], body)


def _unresolved_section(rows: Sequence[Mapping[str, Any]]) -> str:
    worst = worst_unresolved(rows)
    if not worst:
        return ""
    body = [
        [
            _e(r["question"]),
            _fmt(float(r["confidence"])),
            _fmt(float(r.get("answer_recall") or 0.0)),
            _e(r["reply"]).replace("\n", "<br>"),
            _e(r.get("gold_answer", "")),
        ]
        for r in worst
    ]
    header = ["question", "confidence", "answer recall", "reply sent", "gold answer"]
    return (
        "<h2>Worst non-resolving replies</h2><p class=note>The most confident sent replies that hold "
        "less than half of the gold answer's content words.</p>" + _table(header, body)
    )


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.charts img { max-width: 49%; }
.note { color: #666; font-size: 0.85rem; }
"""


def write_report(out_dir: Path, metrics: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    """Write ``out_dir/report.html`` (no external resources) and return its path."""
    answers = metrics.get("answers")
    threshold = answers.get("threshold") if isinstance(answers, Mapping) else None
    charts = [
        _risk_coverage_chart(rows, float(threshold) if threshold is not None else None),
        *(
            [_resolution_chart(rows, float(threshold) if threshold is not None else None)]
            if any(r.get("has_gold_answer") for r in rows)
            else []
        ),
        _reliability_chart(rows),
        _latency_chart(rows),
    ]
    images = "".join(f'<img alt="chart" src="data:image/png;base64,{png}">' for png in charts)
    metric_rows = [[_e(key), _fmt(value)] for key, value in flatten(metrics)]
    missed = retrieval_misses(rows)
    title = f"firstlast eval — {metrics.get('dataset', out_dir.name)}"
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>",
        f"<h2>Metrics</h2>{_table(['metric', 'value'], metric_rows)}",
        _comparison(metrics),
        f"<h2>Charts</h2><div class=charts>{images}</div>",
        f"<h2>Worst misses</h2><p class=note>The {WORST} most confident replies that were not correct.</p>",
        _miss_table(worst_misses(rows)),
        _unresolved_section(rows),
        "<h2>Retrieval misses</h2>",
        f"<p class=note>Answerable questions whose gold document was not retrieved: {len(missed)}"
        f"{f' (showing {MAX_RETRIEVAL_MISSES})' if len(missed) > MAX_RETRIEVAL_MISSES else ''}.</p>",
        _miss_table(missed[:MAX_RETRIEVAL_MISSES]),
        "</body></html>",
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
