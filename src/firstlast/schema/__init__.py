"""The database schema's versions: Alembic migrations in ``versions/``, one per schema change.

A brand-new empty database is created at the newest revision (head). A database at any other
revision, or made before migrations existed, is refused at start-up until ``firstlast db upgrade``
brings it to head; nothing is migrated behind the operator's back.

    db = open_database(url)        # SchemaOutdated if the database needs `firstlast db upgrade`
    upgrade(db.engine)             # what `firstlast db upgrade` does

Adding a revision after changing the models in ``db.py``: ``firstlast db revision "what changed"``
writes ``versions/NNNN_what_changed.py`` from the difference (review it), and the test
``tests/test_schema.py`` fails until models and migrations agree.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, text

from firstlast.db import Base, Database
from firstlast.errors import SchemaOutdated

HERE = Path(__file__).resolve().parent
FIRST = "0001"  # today's schema when migrations were introduced; pre-migration databases hold it
VERSION_TABLE = "alembic_version"


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for this package, run on ``connection`` (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head() -> str:
    """The revision this version of firstlast needs."""
    found = _scripts().get_current_head()
    assert found is not None, "no migrations in firstlast/schema/versions"
    return found


def current(connection: Connection) -> str | None:
    """The database's revision; None when it has none (empty, or made before migrations)."""
    return MigrationContext.configure(connection).get_current_revision()


def open_database(url: str) -> Database:
    """The service's database, checked against this version's schema (see :func:`check`)."""
    return Database(url, prepare=check)


def _is_empty(connection: Connection) -> bool:
    return not set(inspect(connection).get_table_names()) & set(Base.metadata.tables)


def _lock(connection: Connection) -> None:
    """Serialise schema work between processes starting at once (PostgreSQL; SQLite locks its file
    on the first write)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(7261746)"))


def check(engine: Engine) -> str:
    """Create an empty database at head, accept one at head, refuse any other (SchemaOutdated)."""
    with engine.begin() as connection:
        _lock(connection)
        revision = current(connection)
        if revision is None and _is_empty(connection):
            Base.metadata.create_all(connection)
            command.stamp(config(connection), "head")
            return head()
    if revision == head():
        return revision
    if revision is None:
        state = "was made before schema migrations"
    elif revision in {s.revision for s in _scripts().walk_revisions()}:
        state = f"is at the older revision {revision}"
    else:
        state = f"is at revision {revision}, unknown to this version of firstlast"
    raise SchemaOutdated(
        f"the database {engine.url.render_as_string(hide_password=True)} {state} (this version needs "
        f"{head()}): run `firstlast db upgrade`"
    )


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str]:
    """Migrate the database to ``target``; returns (revision before, revision after). A database made
    before migrations holds the first revision's schema and is stamped with it first; an empty one
    is built by running every migration."""
    with engine.begin() as connection:
        _lock(connection)
        before = current(connection)
        cfg = config(connection)
        if before is None and not _is_empty(connection):
            command.stamp(cfg, FIRST)
        known = {s.revision for s in _scripts().walk_revisions()}
        if before is not None and before not in known:
            raise SchemaOutdated(
                f"the database is at revision {before}, unknown to this version of firstlast "
                "(made by a newer one?); nothing was changed"
            )
        command.upgrade(cfg, target)
        return before, current(connection) or ""


def new_revision(message: str) -> Path:
    """For developers (``firstlast db revision``): write the next migration from the difference
    between db.py's models and the newest revision, computed on a scratch SQLite database."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        upgrade(engine)
        with engine.begin() as connection:
            written = command.revision(
                config(connection), message, autogenerate=True, rev_id=f"{int(head()) + 1:04d}"
            )
        engine.dispose()
    _scripts.cache_clear()
    script = written[0] if isinstance(written, list) else written
    assert script is not None
    return Path(script.path)
