"""The A/B rollout's comparison: each measure per arm with its interval, the difference bot − control
with a bootstrap interval, and a verdict that says plainly when the sample is too small to tell.

    comparison = compare_arms(facts, min_n=30)
    [(m.name, m.verdict) for m in comparison.metrics]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from firstlast.insights.facts import ConversationFacts
from firstlast.insights.stats import Estimate, center, difference, proportion, verdict


@dataclass(frozen=True)
class MetricComparison:
    name: str
    kind: Literal["proportion", "median_seconds"]
    bot: Estimate
    control: Estimate
    difference: Estimate  # bot - control
    verdict: str


@dataclass(frozen=True)
class ArmComparison:
    conversations: dict[str, int]  # per arm (conversations with a customer message)
    metrics: tuple[MetricComparison, ...]
    too_small: bool  # some arm has fewer than min_n conversations
    statement: str


Share = Callable[[ConversationFacts], bool | None]  # None: the conversation does not count
Seconds = Callable[[ConversationFacts], float | None]

SHARES: tuple[tuple[str, Share], ...] = (
    ("resolution_rate", lambda f: f.resolved),
    ("resolved_by_bot", lambda f: f.resolved_by_bot),
    ("handoff_rate", lambda f: f.handed_off),
    ("csat", lambda f: f.ratings[-1].satisfied if f.ratings else None),  # the last rating
)
TIMES: tuple[tuple[str, Seconds], ...] = (
    ("time_to_first_reply", lambda f: f.first_reply_s),
    ("time_to_resolution", lambda f: f.resolution_s),
)


def compare_arms(facts: Sequence[ConversationFacts], min_n: int = 30, seed: int = 0) -> ArmComparison:
    """Compare the ``bot`` and ``control`` arms on the conversations a customer wrote in."""
    arms = {arm: [f for f in facts if f.arm == arm and f.asked] for arm in ("bot", "control")}
    bot, control = arms["bot"], arms["control"]
    metrics: list[MetricComparison] = []
    for name, share in SHARES:
        a = [float(v) for v in (share(f) for f in bot) if v is not None]
        b = [float(v) for v in (share(f) for f in control) if v is not None]
        delta = difference(a, b, "mean", seed)
        metrics.append(
            MetricComparison(
                name,
                "proportion",
                proportion(int(sum(a)), len(a)),
                proportion(int(sum(b)), len(b)),
                delta,
                verdict(delta, len(a), len(b), min_n),
            )
        )
    for name, seconds in TIMES:
        a = [v for v in (seconds(f) for f in bot) if v is not None]
        b = [v for v in (seconds(f) for f in control) if v is not None]
        delta = difference(a, b, "median", seed)
        metrics.append(
            MetricComparison(
                name,
                "median_seconds",
                center(a, "median", seed),
                center(b, "median", seed),
                delta,
                verdict(delta, len(a), len(b), min_n, " s"),
            )
        )
    too_small = min(len(bot), len(control)) < min_n
    if too_small:
        statement = (
            f"The sample is too small to tell: {len(bot)} bot and {len(control)} control conversations; "
            f"compare the arms once each has at least {min_n}."
        )
    else:
        resolution = metrics[0]
        statement = (
            f"{len(bot)} bot and {len(control)} control conversations; resolution rate: {resolution.verdict}."
        )
    return ArmComparison({"bot": len(bot), "control": len(control)}, tuple(metrics), too_small, statement)
