"""PHI is sealed at rest: after a real commit, the database's bytes do not hold names, MRN, email or phone."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from pxm.platform.auth import service as auth_service
from pxm.platform.auth.actor import Actor
from pxm.platform.config import Settings
from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.people import service
from pxm.platform.people.schemas import PatientCreate

SECRETS = ["Xanthippe", "Brightwater-Quist", "MRN-ZZ-40417", "xanthippe.quist@example.org", "3125550177",
           "Octavius", "Pemberton-Rye", "MRN-ZZ-99001", "octavius.rye@example.net", "7735550166"]


def _database_bytes(engine, url: str) -> bytes:
    if engine.dialect.name == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    with engine.connect() as conn:  # PostgreSQL: every row of every table as text (bytea shows as hex)
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        dump = [str(r[0]) for t in tables for r in conn.execute(text(f'SELECT CAST(t AS text) FROM "{t}" t'))]
    return "\n".join(dump).encode()


def test_committed_patients_leave_no_phi_in_the_database(committed_db_url, key_dir):
    engine = make_engine(committed_db_url)
    factory = make_session_factory(engine)
    actor = Actor.system("test")
    with factory() as db, db.begin():
        service.create_patient(db, actor, PatientCreate(
            mrn="MRN-ZZ-40417", given_name="Xanthippe", family_name="Brightwater-Quist", birth_date="1972-02-29",
            zip_code="60614", phone="312-555-0177", email="Xanthippe.Quist@example.org"))
        user = auth_service.create_user(db, actor, username="phi-admin", display_name="x", role="admin",
                                        password="correct-horse-battery")
        secret, _ = auth_service.create_api_token(db, actor, user, "t")
    # and through the API, with an Idempotency-Key (its stored replay must not hold PHI either)
    from pxm.web.app import create_app

    app = create_app(Settings(database_url=committed_db_url, key_dir=key_dir), engine=engine)
    with TestClient(app) as client:
        r = client.post("/api/v1/patients", headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "k"},
                        json={"mrn": "MRN-ZZ-99001", "given_name": "Octavius", "family_name": "Pemberton-Rye",
                              "phone": "(773) 555-0166", "email": "octavius.rye@example.net"})
        assert r.status_code == 201
        pid = r.json()["id"]
        assert client.get(f"/api/v1/patients/{pid}", headers={"Authorization": f"Bearer {secret}"}
                          ).json()["given_name"] == "Octavius"
    raw = _database_bytes(engine, committed_db_url)
    engine.dispose()
    assert service.mrn_index("MRN-ZZ-40417").encode() in raw  # the patient rows were read
    for value in SECRETS:
        for form in (value, value.lower()):
            assert form.encode() not in raw, f"{value!r} found in the database bytes"
            assert form.encode().hex() not in raw.decode("latin-1")
    # the values are there, sealed: reading them back through the service opens them
    engine = make_engine(committed_db_url)
    with make_session_factory(engine)() as db:
        found = service.find_patient_by_mrn(db, Actor.system("test"), "MRN-ZZ-40417")
        assert found is not None and found.family_name == "Brightwater-Quist"
    engine.dispose()
