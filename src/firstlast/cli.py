"""Command line: ``firstlast ingest|ask|serve|eval``. Errors print one line and exit non-zero."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from firstlast.config import Settings, load_settings
from firstlast.errors import ConfigError, FirstlastError
from firstlast.types import CHANNELS, Question

app = typer.Typer(
    help="firstlast: the bot answers first, people answer last, the bot learns.", no_args_is_help=True
)
eval_app = typer.Typer(help="Offline evaluation on labelled datasets.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
db_app = typer.Typer(help="The database schema: show its revision, upgrade it.", no_args_is_help=True)
app.add_typer(db_app, name="db")
learn_app = typer.Typer(help="The learning loop: bootstrap suggestions from history.", no_args_is_help=True)
app.add_typer(learn_app, name="learn")
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # an error stays on one line
F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(func: F) -> F:
    """Turn firstlast errors into one line on stderr and an exit code (2 config, 1 otherwise)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from None
        except FirstlastError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _progress() -> Progress:
    """A progress bar on stderr (name, bar, done of total, time) for ingest and import."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    logging.basicConfig(level=os.environ.get("FIRSTLAST_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    for name in ("chromadb", "httpx", "sentence_transformers", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass


def _settings(data_dir: Path | None) -> Settings:
    return load_settings(**({"data_dir": data_dir} if data_dir else {}))


def _advance(bar: Progress, task: Any, done: int, total: int) -> None:
    bar.update(task, completed=done, total=max(total, 1))


DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Overrides FIRSTLAST_DATA_DIR")]


@app.command()
@one_line_errors
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.md .html .txt .pdf .jsonl)")],
    prune: Annotated[bool, typer.Option(help="Remove documents of these sources that are gone")] = False,
    take_over: Annotated[
        bool, typer.Option(help="Move documents another source holds (e.g. a moved folder) to this one")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Add or update knowledge; unchanged documents cost nothing."""
    from firstlast.ingest.loaders import load_path
    from firstlast.wiring import build

    _quiet_libraries()
    loaded = [load_path(p) for p in paths]  # read everything first: a bad file changes nothing
    services = build(_settings(data_dir))
    for source, documents in loaded:
        with _progress() as bar:
            task = bar.add_task(Path(source).name, total=max(len(documents), 1))
            report = services.ingestor.ingest(
                documents,
                source=source,
                prune=prune,
                progress=functools.partial(_advance, bar, task),
                take_over=take_over,
            )
        console.print(
            f"{Path(source).name}: {report.documents_seen} documents — {report.added} added, "
            f"{report.updated} updated, {report.unchanged} unchanged, {report.removed} removed; "
            f"{report.chunks_embedded} chunks embedded"
        )


@app.command()
@one_line_errors
def ask(
    question: Annotated[str, typer.Argument(help="The customer's question")],
    channel: Annotated[str, typer.Option(help=f"One of {', '.join(CHANNELS)}")] = "chat",
    data_dir: DataDir = None,
) -> None:
    """Ask the bot once and show its reply, confidence, citations and decision."""
    from firstlast.errors import InvalidInput
    from firstlast.wiring import build

    if channel not in CHANNELS:
        raise InvalidInput(f"--channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
    if not question.strip():
        raise InvalidInput("the question must not be empty")
    _quiet_libraries()
    services = build(_settings(data_dir))
    outcome = services.bot.ask(Question(question, channel=channel))  # type: ignore[arg-type]
    decision = outcome.decision
    console.print(outcome.reply_text, highlight=False)
    console.print()
    confidence = f"{outcome.draft.confidence:.2f}" if outcome.draft else "n/a"
    label = decision.action + (f" ({decision.reason.value}: {decision.detail})" if decision.reason else "")
    console.print(f"[bold]decision:[/bold] {label}", highlight=False)
    console.print(f"[bold]confidence:[/bold] {confidence}")
    for c in outcome.draft.citations if outcome.draft else ():
        console.print(
            f"[bold]citation:[/bold] {c.title} — {c.url or c.doc_id} ({c.chunk_id})", highlight=False
        )
    grounding = outcome.draft.grounding if outcome.draft else None
    if grounding is not None:  # issue #4: the LLM answerer's grounding decision
        console.print(f"[bold]generated:[/bold] {grounding.mode} ({grounding.reason})", highlight=False)
    console.print(f"[dim]{outcome.latency_ms:.0f} ms[/dim]")


@app.command()
@one_line_errors
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Processes (each loads the models)")] = 1,
    data_dir: DataDir = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs); logs are JSON lines on stderr."""
    import tempfile

    import uvicorn

    from firstlast.api.ops import log_config

    _quiet_libraries()
    settings = _settings(data_dir)
    if not (settings.api.widget_keys or settings.api.agent_keys or settings.api.admin_keys):
        raise ConfigError("no API keys configured; set FIRSTLAST_API__WIDGET_KEYS / AGENT_KEYS / ADMIN_KEYS")
    logs = log_config(os.environ.get("FIRSTLAST_LOG_LEVEL", "INFO"))
    if workers == 1:
        from firstlast.api.ops import app_from_settings

        uvicorn.run(app_from_settings(settings), host=host, port=port, log_config=logs)
        return
    from firstlast.schema import open_database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    open_database(settings.sql_url).close()  # refused or created here once, not raced by the workers
    if data_dir:
        os.environ["FIRSTLAST_DATA_DIR"] = str(data_dir)
    with tempfile.TemporaryDirectory(prefix="firstlast-metrics-") as metrics_dir:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)  # /metrics adds up all workers
        uvicorn.run(
            "firstlast.api.ops:app_from_environment",
            factory=True,
            workers=workers,
            timeout_worker_healthcheck=120,  # a starting worker loads its models before it answers pings
            host=host,
            port=port,
            log_config=logs,
        )


@app.command()
@one_line_errors
def reconcile(data_dir: DataDir = None) -> None:
    """Finish what a failure left half done: retry pending learning verdicts and make the knowledge
    base hold exactly the learned entries the database says are active (``serve`` does it too)."""
    from firstlast.wiring import build

    _quiet_libraries()
    learned, repaired = build(_settings(data_dir)).reconcile()
    console.print(f"{learned} learning verdicts retried, {repaired} knowledge-base documents repaired")


@contextlib.contextmanager
def _database(data_dir: Path | None) -> Iterator[Any]:
    """The database as it is (no revision check), for the migrations; its errors as one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from firstlast.db import Database
    from firstlast.errors import BackendError

    settings = _settings(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.sql_url, prepare=lambda _engine: None)
    try:
        yield db
    except SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendError(f"database error: {first}") from None
    finally:
        db.close()


@db_app.command("upgrade")
@one_line_errors
def db_upgrade(data_dir: DataDir = None) -> None:
    """Migrate the database to this version's schema, keeping its data (an empty one is created)."""
    from firstlast import schema

    with _database(data_dir) as db:
        before, after = schema.upgrade(db.engine)
    done = "is already at" if before == after else f"was upgraded from {before or 'no revision'} to"
    console.print(f"the database {done} {after} (head)")


@db_app.command("current")
@one_line_errors
def db_current(data_dir: DataDir = None) -> None:
    """Show the database's revision and whether it is the one this version needs."""
    from firstlast import schema

    with _database(data_dir) as db, db.engine.connect() as connection:
        revision = schema.current(connection)
    state = "head" if revision == schema.head() else f"run `firstlast db upgrade` to reach {schema.head()}"
    console.print(f"{revision or 'no revision'} ({state})")


@db_app.command("revision")
@one_line_errors
def db_revision(message: Annotated[str, typer.Argument(help="What changed in db.py's models")]) -> None:
    """For developers: write the next migration from db.py's models (review it, then commit it)."""
    from firstlast import schema

    console.print(f"wrote {schema.new_revision(message)}")


@app.command()
@one_line_errors
def report(
    out: Annotated[Path, typer.Option(help="Folder for report.html, its charts and report.json")],
    since: Annotated[str, typer.Option(help="30d, 12h, 4w, or an ISO date")] = "30d",
    until: Annotated[str | None, typer.Option(help="ISO date or time (default now)")] = None,
    bucket: Annotated[str, typer.Option(help="day or week")] = "day",
    gaps: Annotated[bool, typer.Option(help="Cluster the unanswered questions into topics")] = True,
    data_dir: DataDir = None,
) -> None:
    """Write an HTML report: resolution analytics, the A/B rollout's comparison, content gaps (issue #14)."""
    from firstlast.db import utcnow
    from firstlast.errors import InvalidInput
    from firstlast.insights.report import write_report
    from firstlast.insights.service import parse_since, parse_time
    from firstlast.wiring import build

    if bucket not in ("day", "week"):
        raise InvalidInput(f"--bucket must be day or week, got {bucket!r}")
    end = parse_time(until) if until else utcnow()
    start = parse_since(since, end)
    if start >= end:
        raise InvalidInput("--since must be before --until")
    _quiet_libraries()
    insights = build(_settings(data_dir)).insights
    assert insights is not None
    resolution = insights.resolution(start, end, bucket)  # type: ignore[arg-type]
    comparison = insights.rollout(start, end)
    has_arms = sum(comparison.conversations.values()) > 0
    paths = write_report(
        out, resolution, comparison if has_arms else None, insights.gaps(start, end) if gaps else None
    )
    console.print(f"wrote {paths[0]} ({len(paths) - 1} more files)")


@learn_app.command("import")
@one_line_errors
def learn_import(
    file: Annotated[Path, typer.Argument(help="Past resolved conversations: .jsonl or .csv")],
    agent: Annotated[
        str, typer.Option(help="Recorded as the suggesting agent when a row names none")
    ] = "import",
    data_dir: DataDir = None,
) -> None:
    """Every question/answer pair through the judge, PII scrub, dedupe and conflict checks into the
    suggestions queue (nothing is approved); prints the counts by verdict."""
    from firstlast.learning.importer import import_pairs, read_pairs
    from firstlast.wiring import build

    _quiet_libraries()
    pairs = read_pairs(file)  # the whole file is checked first: a bad line imports nothing
    services = build(_settings(data_dir))
    with _progress() as bar:
        task = bar.add_task(file.name, total=len(pairs))
        report = import_pairs(
            services.learning,
            pairs,
            agent=agent,
            progress=lambda done, total: _advance(bar, task, done, total),
        )
    counts = report.as_dict()
    verdicts = ", ".join(f"{n} {kind}" for kind, n in counts["verdicts"].items())
    console.print(
        f"{counts['pairs']} pairs: {verdicts}; {counts['suggestions_after_dedupe']} suggestions to review "
        f"({counts['merged']} pairs merged into another, {counts['conflicts']} with a conflict)"
    )


DatasetOption = Annotated[Path, typer.Option(help="Folder with kb.jsonl and questions.jsonl")]
OutOption = Annotated[Path, typer.Option(help="Output folder (a fresh store is built here)")]
QuestionsOption = Annotated[
    Path | None, typer.Option(help="Questions file (default DATASET/questions.jsonl)")
]


@eval_app.command("run")
@one_line_errors
def eval_run(
    dataset: DatasetOption,
    out: OutOption,
    questions: QuestionsOption = None,
    extra_questions: Annotated[
        list[Path] | None, typer.Option("--extra-questions", help="More questions, e.g. out-of-scope ones")
    ] = None,
    threshold: Annotated[float | None, typer.Option(help="Handoff threshold (default from settings)")] = None,
    baselines: Annotated[bool, typer.Option(help="Also measure vanilla dense and BM25 baselines")] = True,
    reuse_store: Annotated[
        bool,
        typer.Option(help="Keep the store in OUT from an earlier run; only changed documents are embedded"),
    ] = False,
    with_tags: Annotated[
        bool,
        typer.Option(
            "--with-tags", help="Ask each question on the page its tags name (the widget's page context)"
        ),
    ] = False,
) -> None:
    """Ingest DATASET/kb.jsonl into a fresh store, ask every question, write metrics.json."""
    from firstlast.eval.runner import print_metrics, run_eval

    _quiet_libraries()
    metrics = run_eval(
        dataset,
        out,
        questions_file=questions,
        extra_files=extra_questions or [],
        threshold=threshold,
        base_settings=load_settings(),
        progress_console=err,
        baselines=baselines,
        reuse_store=reuse_store,
        tags_as_page=with_tags,
    )
    print_metrics(metrics, console)
    console.print(f"wrote {out / 'metrics.json'} and {out / 'report.html'}")


@eval_app.command("learning")
@one_line_errors
def eval_learning(
    dataset: DatasetOption,
    out: OutOption,
    questions: QuestionsOption = None,
    extra_questions: Annotated[
        list[Path] | None, typer.Option("--extra-questions", help="More questions, e.g. out-of-scope ones")
    ] = None,
    agent_answer: Annotated[
        str | None,
        typer.Option(help="gold (the question's gold answer) or document (the removed document's text)"),
    ] = None,
    reuse_store: Annotated[
        bool, typer.Option(help="Keep the embedded store in OUT from an earlier run (learning starts afresh)")
    ] = False,
) -> None:
    """Simulate learn-once: remove a document, hand off, learn the agent's answer, ask again."""
    from firstlast.errors import InvalidInput
    from firstlast.eval.learning import run_learning_eval

    if agent_answer not in (None, "gold", "document"):
        raise InvalidInput(f"--agent-answer must be gold or document, got {agent_answer!r}")
    _quiet_libraries()
    metrics = run_learning_eval(
        dataset,
        out,
        base_settings=load_settings(),
        questions_file=questions,
        extra_files=extra_questions or [],
        agent_answer=agent_answer,  # type: ignore[arg-type]
        reuse_store=reuse_store,
        console=err,
    )
    console.print_json(data=metrics)
    console.print(f"wrote {out / 'learning.json'}")


@eval_app.command("calibrate")
@one_line_errors
def eval_calibrate(
    results: Annotated[list[Path], typer.Option("--results", help="results.jsonl files from `eval run`")],
    out: Annotated[Path, typer.Option(help="Calibration JSON to write")],
    target_precision: Annotated[
        float | None, typer.Option(help="Pick the lowest threshold reaching this answered precision")
    ] = None,
    target: Annotated[
        str,
        typer.Option(help="What the confidence predicts: resolution (reply holds the answer) or citation"),
    ] = "resolution",
    base: Annotated[
        Path | None,
        typer.Option(help="Keep this calibration's weights; fit only the features it does not weigh"),
    ] = None,
    multilingual: Annotated[
        bool,
        typer.Option(
            "--multilingual",
            help="Fit only the answers scored by the multilingual model (e5), as the part of --base "
            "(default: the shipped calibration) that such answers get",
        ),
    ] = False,
) -> None:
    """Fit the confidence model on labelled results; the service loads it via ANSWER__CALIBRATION_FILE."""
    from firstlast.answerer.confidence import Calibrator
    from firstlast.errors import InvalidInput
    from firstlast.eval.calibrate import calibrate, calibrate_multilingual, extend, load_results

    if target_precision is not None and not 0 < target_precision <= 1:
        raise InvalidInput(f"--target-precision must be in (0, 1], got {target_precision}")
    if target not in ("resolution", "citation"):
        raise InvalidInput(f"--target must be resolution or citation, got {target!r}")
    samples = load_results(results, target)  # type: ignore[arg-type]
    if multilingual:
        calibrator, report = calibrate_multilingual(Calibrator.load(base), samples)
    elif base is not None:
        calibrator, report = extend(Calibrator.load(base), samples)
    else:
        calibrator, report = calibrate(samples, target_precision=target_precision)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(calibrator.to_json() + "\n")
    console.print_json(data=report)
    console.print(f"wrote {out}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
