"""The database schema's revisions (Alembic), on SQLite and PostgreSQL: the models and the migrations
agree; a new database starts at head; a database at an older or unknown revision, or made before
migrations, is refused with one line until `firstlast db upgrade`, which keeps every row."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from firstlast import schema
from firstlast.cli import app
from firstlast.db import Base
from firstlast.desk import SqlDeskStore
from firstlast.errors import SchemaOutdated
from firstlast.schema import open_database
from tests.conftest import BOTH_DATABASES

pytestmark = BOTH_DATABASES  # SQLite and PostgreSQL


@pytest.fixture
def url(sql_url: str | None, tmp_path: Path) -> str:
    return sql_url or f"sqlite:///{tmp_path / 'schema.db'}"


@pytest.fixture
def cli_env(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    for key in list(os.environ):
        if key.startswith("FIRSTLAST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("FIRSTLAST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FIRSTLAST_DATABASE_URL", url)
    yield CliRunner()


def _engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url, connect_args={"options": "-c timezone=UTC"} if "postgresql" in url else {})


def test_the_models_and_the_migrations_agree(url: str) -> None:
    """A model change without a migration fails here: `firstlast db revision "..."` writes one."""
    engine = _engine(url)
    schema.upgrade(engine)  # every migration, from nothing
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == [], "db.py and firstlast/schema/versions differ: add a revision"


def test_a_new_empty_database_is_created_at_head(url: str, cli_env: CliRunner) -> None:
    open_database(url).close()
    shown = cli_env.invoke(app, ["db", "current"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.strip() == f"{schema.head()} (head)"


def _first_revision_with_rows(url: str) -> None:
    """A database as the first revision made it, with a conversation, its messages and a handoff."""
    engine = _engine(url)
    schema.upgrade(engine, schema.FIRST)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO conversations (id, token_hash, channel, status, context, created_at, updated_at)"
                " VALUES ('c1', 'h', 'chat', 'bot', '{\"lang\": \"en\"}', :at, :at)"
            ),
            {"at": "2026-01-02 03:04:05+00:00"},
        )
        for role, words in (("customer", "Where is my invoice?"), ("bot", "Open Settings → Billing.")):
            c.execute(
                text(
                    "INSERT INTO messages (conversation_id, role, author, text, citations, context, created_at)"
                    " VALUES ('c1', :role, '', :text, '[]', '{}', :at)"
                ),
                {"role": role, "text": words, "at": "2026-01-02 03:04:06+00:00"},
            )
    engine.dispose()


def test_a_database_at_the_first_revision_keeps_its_rows_through_the_upgrade(
    url: str, cli_env: CliRunner
) -> None:
    _first_revision_with_rows(url)
    if schema.head() != schema.FIRST:  # an older revision is refused until upgraded
        with pytest.raises(SchemaOutdated, match=r"older revision .* run `firstlast db upgrade`"):
            open_database(url)
    upgraded = cli_env.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert schema.head() in upgraded.output
    db = open_database(url)
    with SqlDeskStore(db).transaction() as tx:
        conversation = tx.conversation("c1")
    db.close()
    assert conversation.context == {"lang": "en"}
    assert [m.text for m in conversation.messages] == ["Where is my invoice?", "Open Settings → Billing."]
    assert conversation.created_at == "2026-01-02T03:04:05+00:00"


def test_a_database_made_before_migrations_is_refused_then_upgraded_with_its_rows(
    url: str, cli_env: CliRunner
) -> None:
    _first_revision_with_rows(url)
    engine = _engine(url)
    with engine.begin() as c:
        c.execute(text("DROP TABLE alembic_version"))  # as firstlast 0.2 left it
    engine.dispose()
    with pytest.raises(SchemaOutdated, match=r"made before schema migrations.*run `firstlast db upgrade`"):
        open_database(url)
    refused = cli_env.invoke(app, ["reconcile"])  # any command that opens the database
    assert refused.exit_code == 2
    assert refused.output.count("\n") == 1 and "run `firstlast db upgrade`" in refused.output
    assert "Traceback" not in refused.output
    upgraded = cli_env.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"from no revision to {schema.head()}" in upgraded.output
    db = open_database(url)
    with SqlDeskStore(db).transaction() as tx:
        assert len(tx.conversation("c1").messages) == 2
    db.close()


def test_a_database_at_an_unknown_revision_is_refused_and_left_alone(url: str, cli_env: CliRunner) -> None:
    open_database(url).close()
    engine = _engine(url)
    with engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(SchemaOutdated, match="revision f00d, unknown to this version"):
        open_database(url)
    upgraded = cli_env.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 2 and "unknown to this version" in upgraded.output
    with engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == "f00d"
    engine.dispose()
