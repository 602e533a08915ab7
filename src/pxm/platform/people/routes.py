"""JSON API for patients, encounters, org units and staff under /api/v1.

PHI never travels in a URL: patients are addressed by numeric id, and MRN/email lookups go in a POST body.
POST /patients answers with the de-identified summary (the caller already holds what it sent), so the stored
Idempotency-Key replay holds no PHI either.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.idempotency import idempotency_key, run_idempotent
from pxm.platform.http.pagination import Page, PageParams, page_params
from pxm.platform.people import service
from pxm.platform.people.models import OrgUnitKind, StaffStatus
from pxm.platform.people.schemas import (
    EncounterCreate,
    EncounterDischarge,
    EncounterRead,
    OrgUnitCreate,
    OrgUnitRead,
    OrgUnitUpdate,
    PatientCreate,
    PatientMatches,
    PatientRead,
    PatientSearch,
    PatientSummary,
    PatientUpdate,
    StaffCreate,
    StaffRead,
    StaffStatusChange,
    StaffUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["people"])

PatientsRead = Depends(require(Permission.patients_read))
PatientsWrite = Depends(require(Permission.patients_write))
OrgRead = Depends(require(Permission.org_read))
OrgWrite = Depends(require(Permission.org_write))


# --- patients -------------------------------------------------------------------------------------------

@router.post("/patients", status_code=201, response_model=PatientSummary,
             summary="Register a patient (answers with the de-identified summary)")
def create_patient(body: PatientCreate, request: Request, db: Session = DB,
                   actor: Actor = PatientsWrite, key: str | None = Depends(idempotency_key)) -> JSONResponse:
    def create() -> PatientSummary:
        patient = service.create_patient(db, actor, body)
        return service.get_patient_summary(db, patient.id)

    return run_idempotent(db, actor, request, key, body, create)


@router.get("/patients", response_model=Page[PatientSummary], summary="De-identified patient list")
def list_patients(db: Session = DB, actor: Actor = OrgRead, params: PageParams = Depends(page_params),
                  language: str | None = Query(None, max_length=8), channel: str | None = Query(None, max_length=16),
                  sex: str | None = Query(None, pattern="^[FMXfmx]$"),
                  home_facility_id: int | None = None) -> Page[PatientSummary]:
    items, total = service.list_patients(db, params, language=language, channel=channel, sex=sex,
                                         home_facility_id=home_facility_id)
    return Page[PatientSummary](items=items, total=total, limit=params.limit, offset=params.offset)


@router.get("/patients/{patient_id}", response_model=PatientRead, summary="One patient with PHI (audited)")
def get_patient(patient_id: int, db: Session = DB, actor: Actor = PatientsRead) -> PatientRead:
    return PatientRead.model_validate(service.get_patient(db, actor, patient_id))


@router.post("/patients/search", response_model=PatientMatches,
             summary="Find patients by MRN or email given in the body (audited)")
def search_patients(body: PatientSearch, db: Session = DB,
                    actor: Actor = PatientsRead) -> PatientMatches:
    if body.mrn is not None:
        found = service.find_patient_by_mrn(db, actor, body.mrn)
        rows = [found] if found is not None else []
    else:
        assert body.email is not None
        rows = service.find_patients_by_email(db, actor, body.email)
    return PatientMatches(items=[PatientRead.model_validate(p) for p in rows])


@router.patch("/patients/{patient_id}", response_model=PatientRead, summary="Change a patient (audited)")
def update_patient(patient_id: int, body: PatientUpdate, db: Session = DB,
                   actor: Actor = PatientsWrite) -> PatientRead:
    return PatientRead.model_validate(service.update_patient(db, actor, patient_id, body))


@router.get("/patients/{patient_id}/encounters", response_model=Page[EncounterRead],
            summary="A patient's encounters, newest first (audited)")
def list_encounters(patient_id: int, db: Session = DB, actor: Actor = PatientsRead,
                    params: PageParams = Depends(page_params)) -> Page[EncounterRead]:
    rows, total = service.list_encounters(db, actor, patient_id, params)
    return Page[EncounterRead](items=[EncounterRead.model_validate(r) for r in rows], total=total,
                               limit=params.limit, offset=params.offset)


@router.post("/patients/{patient_id}/encounters", status_code=201, response_model=EncounterRead,
             summary="Record an encounter")
def create_encounter(patient_id: int, body: EncounterCreate, request: Request, db: Session = DB,
                     actor: Actor = PatientsWrite, key: str | None = Depends(idempotency_key)) -> JSONResponse:
    return run_idempotent(db, actor, request, key, body, lambda: EncounterRead.model_validate(
        service.create_encounter(db, actor, patient_id, body)))


@router.put("/encounters/{encounter_id}/discharge", response_model=EncounterRead,
            summary="Record an encounter's discharge time (triggers the discharge survey once)")
def discharge_encounter(encounter_id: int, body: EncounterDischarge, db: Session = DB,
                        actor: Actor = PatientsWrite) -> EncounterRead:
    return EncounterRead.model_validate(
        service.update_encounter(db, actor, encounter_id, discharge_at=body.discharge_at))


# --- org units ------------------------------------------------------------------------------------------

@router.get("/org-units", response_model=list[OrgUnitRead], summary="Facilities, departments, service lines")
def list_org_units(db: Session = DB, actor: Actor = OrgRead, kind: OrgUnitKind | None = None,
                   parent_id: int | None = None) -> list[OrgUnitRead]:
    units = service.list_org_units(db, kind=kind.value if kind else None, parent_id=parent_id)
    return [OrgUnitRead.model_validate(u) for u in units]


@router.post("/org-units", status_code=201, response_model=OrgUnitRead, summary="Create an org unit")
def create_org_unit(body: OrgUnitCreate, request: Request, db: Session = DB, actor: Actor = OrgWrite,
                    key: str | None = Depends(idempotency_key)) -> JSONResponse:
    return run_idempotent(db, actor, request, key, body,
                          lambda: OrgUnitRead.model_validate(service.create_org_unit(db, actor, body)))


@router.get("/org-units/{unit_id}", response_model=OrgUnitRead, summary="One org unit")
def get_org_unit(unit_id: int, db: Session = DB, actor: Actor = OrgRead) -> OrgUnitRead:
    return OrgUnitRead.model_validate(service.get_org_unit(db, unit_id))


@router.patch("/org-units/{unit_id}", response_model=OrgUnitRead, summary="Change an org unit")
def update_org_unit(unit_id: int, body: OrgUnitUpdate, db: Session = DB,
                    actor: Actor = OrgWrite) -> OrgUnitRead:
    return OrgUnitRead.model_validate(service.update_org_unit(db, actor, unit_id, body))


@router.delete("/org-units/{unit_id}", status_code=204, summary="Delete an unused org unit")
def delete_org_unit(unit_id: int, db: Session = DB, actor: Actor = OrgWrite) -> Response:
    service.delete_org_unit(db, actor, unit_id)
    return Response(status_code=204)


# --- staff ----------------------------------------------------------------------------------------------

@router.get("/staff", response_model=Page[StaffRead], summary="Staff with skills, capacity and status")
def list_staff(db: Session = DB, actor: Actor = OrgRead, params: PageParams = Depends(page_params),
               org_unit_id: int | None = None, job_role: str | None = Query(None, max_length=40),
               status: StaffStatus | None = None, active: bool | None = True,
               language: str | None = Query(None, max_length=8), reason: str | None = Query(None, max_length=60),
               channel: str | None = Query(None, max_length=16)) -> Page[StaffRead]:
    rows, total = service.list_staff(db, params, org_unit_id=org_unit_id, job_role=job_role,
                                     status=status.value if status else None, active=active, language=language,
                                     reason=reason, channel=channel)
    return Page[StaffRead](items=[StaffRead.model_validate(s) for s in rows], total=total,
                           limit=params.limit, offset=params.offset)


@router.post("/staff", status_code=201, response_model=StaffRead, summary="Add a staff member")
def create_staff(body: StaffCreate, request: Request, db: Session = DB, actor: Actor = OrgWrite,
                 key: str | None = Depends(idempotency_key)) -> JSONResponse:
    return run_idempotent(db, actor, request, key, body,
                          lambda: StaffRead.model_validate(service.create_staff(db, actor, body)))


@router.get("/staff/{staff_id}", response_model=StaffRead, summary="One staff member")
def get_staff(staff_id: int, db: Session = DB, actor: Actor = OrgRead) -> StaffRead:
    return StaffRead.model_validate(service.get_staff(db, staff_id))


@router.patch("/staff/{staff_id}", response_model=StaffRead, summary="Change skills, capacity, team, unit")
def update_staff(staff_id: int, body: StaffUpdate, db: Session = DB,
                 actor: Actor = OrgWrite) -> StaffRead:
    return StaffRead.model_validate(service.update_staff(db, actor, staff_id, body))


@router.post("/staff/{staff_id}/status", response_model=StaffRead, summary="Set availability status")
def set_staff_status(staff_id: int, body: StaffStatusChange, db: Session = DB,
                     actor: Actor = OrgRead) -> StaffRead:
    staff = service.get_staff(db, staff_id)
    # Agents set their own status; changing someone else's needs org:write.
    if staff.user_id != actor.user_id and not actor.can(Permission.org_write):
        raise _forbidden(actor)
    return StaffRead.model_validate(service.set_staff_status(db, actor, staff_id, body.status))


def _forbidden(actor: Actor) -> Exception:
    from fastapi import HTTPException

    return HTTPException(403, f"your role ({actor.role}) may only change your own status; "
                              f"changing others needs {Permission.org_write.value}")


@router.delete("/staff/{staff_id}", response_model=StaffRead, summary="Deactivate a staff member")
def deactivate_staff(staff_id: int, db: Session = DB, actor: Actor = OrgWrite) -> StaffRead:
    return StaffRead.model_validate(service.deactivate_staff(db, actor, staff_id))
