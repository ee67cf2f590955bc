"""``firstlast report``: one HTML page with the numbers of ``/v1/analytics/*`` and their charts.

    paths = write_report(out_dir, resolution, comparison, gap_report)

The folder gets ``report.html`` (charts embedded, so the file can be mailed on its own), each chart
as a PNG, and ``report.json`` with every number.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from html import escape
from pathlib import Path

from matplotlib.figure import Figure

from firstlast.insights import charts
from firstlast.insights.ab import ArmComparison
from firstlast.insights.service import GapReport, ResolutionReport
from firstlast.insights.stats import Estimate

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#1d2430}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #dde2e8}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #dde2e8;padding:4px 8px;text-align:left;
vertical-align:top;font-size:13px}th{background:#f3f5f8}.kpi{display:inline-block;margin:0 18px 8px 0}
.kpi b{display:block;font-size:22px}.note{color:#5b6573;font-size:12px}img{max-width:100%}"""


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    fig.clf()
    return buffer.getvalue()


def _pct(e: Estimate) -> str:
    if e.value is None:
        return "n/a"
    return f"{e.value:.0%} <span class=note>({e.low:.0%}–{e.high:.0%}, n={e.n})</span>"


def _secs(e: Estimate) -> str:
    if e.value is None or e.low is None or e.high is None:
        return "n/a"
    return f"{e.value / 60:.1f} min <span class=note>({e.low / 60:.1f}–{e.high / 60:.1f}, n={e.n})</span>"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(
    out: Path,
    resolution: ResolutionReport,
    comparison: ArmComparison | None,
    gap_report: GapReport | None,
) -> list[Path]:
    """Write the report into ``out``; the paths written, report.html first."""
    out.mkdir(parents=True, exist_ok=True)
    s = resolution.summary
    figures: dict[str, Figure] = {}
    if s.periods:
        figures["volume"] = charts.volume(s)
    if s.handoff_reasons:
        figures["handoff_reasons"] = charts.reasons(s)
    if any(e.n for e in s.csat.values()):
        figures["csat"] = charts.csat(s)
    if comparison is not None and min(comparison.conversations.values()) > 0:
        figures["ab"] = charts.arms(comparison)
    if gap_report is not None and gap_report.topics:
        figures["gaps"] = charts.gaps(gap_report.topics[:10])
    images = {name: _png(fig) for name, fig in figures.items()}
    written = []
    for name, data in images.items():
        (out / f"{name}.png").write_bytes(data)
        written.append(out / f"{name}.png")

    def img(name: str) -> str:
        if name not in images:
            return ""
        return f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(images[name]).decode()}">'

    parts = [
        f"<h1>firstlast report</h1><p class=note>{escape(resolution.since[:16])} to "
        f"{escape(resolution.until[:16])} UTC, per {resolution.bucket}</p>",
        f"<div class=kpi><b>{s.conversations}</b>conversations</div>",
        f"<div class=kpi><b>{s.bot_involved}</b>bot-involved</div>",
        f"<div class=kpi><b>{_pct(s.resolved_by_bot)}</b>resolved by the bot</div>",
        f"<div class=kpi><b>{s.resolved_by_agent}</b>resolved by an agent</div>",
        f"<div class=kpi><b>{s.pending}</b>pending (quiet window not over)</div>",
        f"<p>Median time to first reply {_secs(s.first_reply_s)}; to resolution {_secs(s.resolution_s)}.</p>",
        img("volume"),
        "<h2>Handoffs and satisfaction</h2>",
        img("handoff_reasons"),
        img("csat"),
        _table(["who answered", "CSAT (95% CI)"], [[k, _pct(v)] for k, v in s.csat.items()]),
    ]
    if comparison is not None:
        rows = [
            [
                m.name.replace("_", " "),
                (_pct if m.kind == "proportion" else _secs)(m.bot),
                (_pct if m.kind == "proportion" else _secs)(m.control),
                escape(m.verdict),
            ]
            for m in comparison.metrics
        ]
        parts += [
            "<h2>A/B rollout</h2>",
            f"<p><b>{escape(comparison.statement)}</b></p>",
            img("ab"),
            _table(["measure", "bot arm", "control arm", "bot − control"], rows),
        ]
    if gap_report is not None:
        rows = [
            [
                str(t.topic.count),
                escape(t.topic.label)
                + "<br><span class=note>"
                + escape(" · ".join(t.topic.central_questions[1:]))
                + "</span>",
                escape(", ".join(t.topic.terms)),
                f"{t.topic.handed_off_share:.0%}",
                t.trend,
                escape(", ".join(d.title or d.doc_id for d in t.nearest_documents)),
                escape(", ".join(f"{c.kind}: {c.question}" for c in t.covered_by)) or "—",
            ]
            for t in gap_report.topics
        ]
        parts += [
            "<h2>Content gaps</h2>",
            f"<p>{gap_report.questions} questions the bot could not answer well; "
            f"{len(gap_report.topics)} topics, {gap_report.unclustered} one-off questions.</p>",
            img("gaps"),
            _table(
                [
                    "count",
                    "topic (most central questions)",
                    "key terms",
                    "handed off",
                    "trend",
                    "nearest articles",
                    "covered by",
                ],
                rows,
            ),
        ]
    parts += [
        "<h2>Learned entries</h2>",
        _table(
            ["question", "status", "uses", "👍", "👎"],
            [
                [escape(u.question), u.status, str(u.uses), str(u.thumbs_up), str(u.thumbs_down)]
                for u in resolution.learned
            ],
        ),
        "<h2>Top retrieval misses</h2>",
        _table(
            ["document", "misses"], [[escape(m.title or m.doc_id), str(m.count)] for m in resolution.misses]
        ),
    ]
    html = (
        f"<!doctype html><meta charset=utf-8><title>firstlast report</title><style>{CSS}</style>"
        + "\n".join(parts)
    )
    (out / "report.html").write_text(html, encoding="utf-8")
    numbers = {
        "resolution": dataclasses.asdict(resolution),
        "rollout": dataclasses.asdict(comparison) if comparison else None,
        "gaps": dataclasses.asdict(gap_report) if gap_report else None,
    }
    (out / "report.json").write_text(json.dumps(numbers, indent=2, ensure_ascii=False, default=str) + "\n")
    return [out / "report.html", *written, out / "report.json"]
