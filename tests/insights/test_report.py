"""``firstlast report``: an HTML page with charts and the numbers of the analytics routes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from firstlast.cli import app


def test_report_writes_html_with_charts_and_the_api_numbers(traffic, tmp_path: Path) -> None:
    services, client, results = traffic
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app, ["report", "--since", "1d", "--out", str(out), "--data-dir", str(services.settings.data_dir)]
    )
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    for name in ("volume", "handoff_reasons", "csat", "ab"):  # too few gap questions here for topics
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'alt="{name}" src="data:image/png;base64,' in html
    assert "The sample is too small to tell" in html and "Content gaps" in html
    numbers = json.loads((out / "report.json").read_text())
    api = client.get(
        "/v1/analytics/resolution?since=1d", headers={"Authorization": "Bearer test-agent-key"}
    ).json()
    assert (
        numbers["resolution"]["summary"]["conversations"] == api["summary"]["conversations"] == len(results)
    )
    assert numbers["rollout"]["conversations"] == {
        "bot": sum(r.arm == "bot" for r in results),
        "control": sum(r.arm == "control" for r in results),
    }


def test_report_with_a_bad_period_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--since", "last week", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "since must be like 30d" in result.output and "Traceback" not in result.output
