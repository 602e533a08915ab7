"""The request session commits before the response is sent: a write that fails to commit is an error response,
never a success that the client has already received."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.http.deps import DB

order: list[str] = []


class _Recording(Session):
    fail = False

    def commit(self) -> None:
        order.append("commit")
        if self.fail:
            raise RuntimeError("the commit failed")
        super().commit()


def _app(fail: bool) -> FastAPI:
    app = FastAPI()
    factory = sessionmaker(bind=create_engine("sqlite://"), class_=_Recording)
    app.state.session_factory = (lambda: _failing(factory)) if fail else factory

    @app.middleware("http")
    async def note_response(request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        order.append("response")
        return response

    @app.post("/things")
    def create(db: Session = DB) -> dict[str, bool]:
        order.append("handler")
        return {"created": True}

    return app


def _failing(factory: sessionmaker[_Recording]) -> _Recording:
    s = factory()
    s.fail = True
    return s


def test_the_commit_runs_before_the_response_is_sent() -> None:
    order.clear()
    r = TestClient(_app(fail=False)).post("/things")
    assert r.status_code == 200 and r.json() == {"created": True}
    assert order == ["handler", "commit", "response"]


def test_a_failed_commit_is_an_error_not_a_success() -> None:
    order.clear()
    r = TestClient(_app(fail=True), raise_server_exceptions=False).post("/things")
    assert r.status_code == 500
    assert order[:2] == ["handler", "commit"]
