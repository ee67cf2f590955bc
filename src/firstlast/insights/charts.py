"""The report's charts (matplotlib, Agg backend): each function draws one figure and returns it."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from firstlast.insights.ab import ArmComparison
from firstlast.insights.resolution import Summary
from firstlast.insights.service import GapTopic
from firstlast.insights.stats import Estimate

BOT, CONTROL, AGENT, GREY = "#2f6fdb", "#e07b39", "#3a9d5d", "#9aa3ad"


def _errors(estimates: Sequence[Estimate]) -> list[list[float]]:
    low = [max(0.0, (e.value or 0) - (e.low if e.low is not None else e.value or 0)) for e in estimates]
    high = [max(0.0, (e.high if e.high is not None else e.value or 0) - (e.value or 0)) for e in estimates]
    return [low, high]


def volume(summary: Summary) -> Figure:
    """Conversations per period: resolved by the bot, handed off, the rest; resolution rate on top."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    periods = summary.periods
    x = range(len(periods))
    labels = [p.start[5:] for p in periods]
    by_bot = [p.resolved_by_bot for p in periods]
    handed = [p.handed_off for p in periods]
    rest = [max(0, p.conversations - p.resolved_by_bot - p.handed_off) for p in periods]
    ax.bar(x, by_bot, color=BOT, label="resolved by the bot")
    ax.bar(x, handed, bottom=by_bot, color=AGENT, label="handed off")
    ax.bar(x, rest, bottom=[a + b for a, b in zip(by_bot, handed)], color=GREY, label="other / pending")
    ax.set_xticks(list(x), labels, rotation=45 if len(periods) > 10 else 0, fontsize=8)
    ax.set_ylabel("conversations")
    rate = ax.twinx()
    rate.plot(
        x,
        [p.resolution_rate if p.resolution_rate is not None else float("nan") for p in periods],
        color="black",
        marker="o",
        lw=1.2,
        label="bot resolution rate",
    )
    rate.set_ylim(0, 1)
    rate.set_ylabel("resolved by bot / bot-involved")
    handles = ax.get_legend_handles_labels()[0] + rate.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=8, loc="upper left", ncols=2)
    ax.set_title("Conversations and resolution by the bot")
    fig.tight_layout()
    return fig


def reasons(summary: Summary) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 3.0))
    items = list(summary.handoff_reasons.items())[::-1]
    ax.barh([k for k, _ in items], [v for _, v in items], color=AGENT)
    ax.set_xlabel("handoffs")
    ax.set_title("Handed off, by reason")
    fig.tight_layout()
    return fig


def csat(summary: Summary) -> Figure:
    fig, ax = plt.subplots(figsize=(4.5, 3.0))
    names = [k for k, v in summary.csat.items() if v.n]
    values = [summary.csat[k] for k in names]
    ax.bar(
        names,
        [v.value or 0 for v in values],
        yerr=_errors(values),
        capsize=4,
        color=[{"bot": BOT, "learned": "#7a9fe6", "agent": AGENT}[k] for k in names],
    )
    for i, v in enumerate(values):
        ax.annotate(f"n={v.n}", (i, 0.03), ha="center", fontsize=8, color="white")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share satisfied (95% CI)")
    ax.set_title("CSAT by who answered")
    fig.tight_layout()
    return fig


def arms(comparison: ArmComparison) -> Figure:
    """The A/B comparison: proportions with Wilson intervals, median times with bootstrap intervals."""
    shares = [m for m in comparison.metrics if m.kind == "proportion"]
    times = [m for m in comparison.metrics if m.kind == "median_seconds"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [2, 1]})
    for offset, arm, color in ((-0.2, "bot", BOT), (0.2, "control", CONTROL)):
        est = [getattr(m, arm) for m in shares]
        left.bar(
            [i + offset for i in range(len(shares))],
            [e.value or 0 for e in est],
            0.4,
            yerr=_errors(est),
            capsize=3,
            color=color,
            label=f"{arm} arm (n={comparison.conversations[arm]})",
        )
        est = [getattr(m, arm) for m in times]
        right.bar(
            [i + offset for i in range(len(times))],
            [(e.value or 0) / 60 for e in est],
            0.4,
            yerr=[[v / 60 for v in side] for side in _errors(est)],
            capsize=3,
            color=color,
        )
    left.set_xticks(range(len(shares)), [m.name.replace("_", " ") for m in shares], fontsize=8)
    left.set_ylim(0, 1.3)
    left.legend(fontsize=8, loc="upper center", ncols=2)
    left.set_title("A/B: rates (95% CI)")
    right.set_xticks(range(len(times)), ["first reply", "resolution"], fontsize=8)
    right.set_ylabel("median minutes (95% CI)")
    right.set_title("A/B: times")
    fig.tight_layout()
    return fig


def gaps(topics: Sequence[GapTopic]) -> Figure:
    fig, ax = plt.subplots(figsize=(8, 0.45 * max(len(topics), 2) + 1))
    items = list(topics)[::-1]
    labels = [(", ".join(t.topic.terms[:3]) or t.topic.label)[:48] for t in items]
    counts = [t.topic.count for t in items]
    handed = [t.topic.count * t.topic.handed_off_share for t in items]
    ax.barh(labels, counts, color=GREY, label="asked")
    ax.barh(labels, handed, color=AGENT, label="handed off")
    ax.set_xlabel("questions")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Content gaps: top topics (key terms)")
    fig.tight_layout()
    return fig
