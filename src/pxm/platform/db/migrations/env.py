"""Alembic environment. Upgrades need no metadata; autogenerate loads every model via pxm.schema."""

from __future__ import annotations

import importlib

from alembic import context

from pxm.platform.db.base import Base
from pxm.platform.db.engine import make_engine

config = context.config

if context.is_offline_mode() or config.cmd_opts is not None:
    # `alembic revision --autogenerate` (developer use): compare against every feature's tables.
    importlib.import_module("pxm.schema")
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
