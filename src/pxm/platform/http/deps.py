"""Request-scoped dependencies: the database session (committed at the edge) and settings."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from pxm.platform.config import Settings
from pxm.platform.jobs.service import notify_committed


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    """One session per request: committed when the handler returns, rolled back when it raises."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
        notify_committed(session)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
