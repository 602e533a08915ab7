"""Database: engine, session factory, declarative base and Alembic migrations."""

from pxm.platform.db.base import Base, utcnow
from pxm.platform.db.engine import engine_for, make_engine, make_session_factory

__all__ = ["Base", "engine_for", "make_engine", "make_session_factory", "utcnow"]
