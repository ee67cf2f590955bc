"""Alembic's environment: migrations run on the connection ``firstlast.schema`` hands over, with the
models of ``firstlast.db`` as the target (for ``firstlast db revision``'s autogenerate)."""

from __future__ import annotations

from alembic import context

from firstlast.db import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - firstlast.schema always passes one
    raise RuntimeError("run migrations through `firstlast db upgrade`, not the alembic command")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things: batch mode copies the table instead
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
