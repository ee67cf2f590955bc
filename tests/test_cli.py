"""The command line: real ingest and ask on a temp data dir; errors are one line with an exit code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firstlast.cli import app

REPO = Path(__file__).resolve().parents[1]
SAMPLE_KB = REPO / "examples" / "sample_kb"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("FIRSTLAST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("FIRSTLAST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FIRSTLAST_ANSWER__VOICE_PROFILE", str(REPO / "examples" / "voice.yaml"))
    return tmp_path


def test_ingest_twice_then_ask(env: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["ingest", str(SAMPLE_KB)])
    assert first.exit_code == 0, first.output
    assert "23 added" in first.output
    second = runner.invoke(app, ["ingest", str(SAMPLE_KB), "--prune"])
    assert "23 unchanged" in second.output and "0 chunks embedded" in second.output
    asked = runner.invoke(app, ["ask", "How do I turn on two-factor authentication?"])
    assert asked.exit_code == 0, asked.output
    assert "decision: answer" in asked.output
    assert "account-two-factor-authentication" in asked.output
    human = runner.invoke(app, ["ask", "I want to talk to a human"])
    assert "decision: handoff (customer_request" in human.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ingest", "/does/not/exist"], 1, "no such file or folder"),
        (["ask", "hi", "--channel", "fax"], 1, "--channel must be one of"),
        (["ask", "   "], 1, "must not be empty"),
    ],
)
def test_bad_input_is_one_line_and_an_exit_code(env: Path, args: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_invalid_settings_exit_2(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRSTLAST_ANSWER__THRESHOLD", "1.5")
    result = CliRunner().invoke(app, ["ask", "hello"])
    assert result.exit_code == 2
    assert "answer.threshold" in result.output


def test_serve_refuses_to_start_without_keys_or_with_placeholders(env: Path, monkeypatch) -> None:
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2 and "no API keys configured" in result.output
    monkeypatch.setenv("FIRSTLAST_API__AGENT_KEYS", '["changeme"]')
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2 and "placeholder" in result.output


def test_bad_file_in_ingest_changes_nothing(env: Path, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nFine text.")
    (folder / "bad.jsonl").write_text("{broken\n")
    result = CliRunner().invoke(app, ["ingest", str(folder)])
    assert result.exit_code == 1 and "bad.jsonl:1" in result.output
    asked = CliRunner().invoke(app, ["ask", "Fine text"])
    assert "decision: offer (no_knowledge" in asked.output  # the good file was not half-ingested


def test_reconcile_reports_what_it_repaired(env: Path) -> None:
    result = CliRunner().invoke(app, ["reconcile"])
    assert result.exit_code == 0, result.output
    assert "0 learning verdicts retried, 0 knowledge-base documents repaired" in result.output
