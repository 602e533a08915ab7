"""The public survey page: opened with a single-use token link, no login, mobile-first, resumable.

``GET /s/{token}`` shows the survey in the invitation's language (``?lang=`` switches); ``POST`` with
``action=save`` keeps a partial response, ``action=submit`` completes it (once). A used, expired or unknown
link gets a kind page. Only the token's hash is stored; pages send ``Referrer-Policy: no-referrer`` so the
link does not leak to other sites. (The request log records paths, so it holds tokens of links that were
opened: treat the access log like the outbox, and note that a token stops working once used or expired.)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.http.deps import DB
from pxm.platform.http.errors import APIError
from pxm.practices.feedback import service
from pxm.practices.feedback.definition import (
    LANGUAGES,
    YESNO,
    iter_items,
    scale_labels,
    text,
)
from pxm.practices.feedback.invitations import TokenProblem, invitation_for_token, partial_response
from pxm.practices.feedback.models import Instrument, Invitation
from pxm.web.pages import templates

router = APIRouter(include_in_schema=False)
PUBLIC = {"x-pxm-public": True}
ACTOR = Actor.system("survey-page")

UI = {
    "en": {"save": "Save and finish later", "submit": "Send my answers", "required": "required",
           "saved": "Your answers are saved. You can close this page and come back with the same link.",
           "error": "Please check your answers", "thanks_title": "Thank you",
           "thanks": "Your answers were received. They help us improve care for every patient.",
           "used_title": "This survey is already answered",
           "used": "Thank you - we already have your answers for this link. There is nothing more to do.",
           "expired_title": "This survey link has expired",
           "expired": "Thank you for your interest. The time to answer this survey has passed; we may ask you "
                      "again after a future visit.",
           "unknown_title": "We could not find this survey",
           "unknown": "Please check that the whole link was copied from your message. If it still does not "
                      "work, the survey may have been withdrawn.",
           "other_lang": "Español", "choose_all": "Choose all that apply.", "optional": "optional",
           "intro": "No login needed. Questions marked required must be answered."},
    "es": {"save": "Guardar y terminar después", "submit": "Enviar mis respuestas", "required": "obligatoria",
           "saved": "Sus respuestas se guardaron. Puede cerrar esta página y volver con el mismo enlace.",
           "error": "Revise sus respuestas", "thanks_title": "Gracias",
           "thanks": "Recibimos sus respuestas. Nos ayudan a mejorar la atención de todos los pacientes.",
           "used_title": "Esta encuesta ya fue respondida",
           "used": "Gracias: ya tenemos sus respuestas para este enlace. No hay nada más que hacer.",
           "expired_title": "Este enlace de encuesta ha vencido",
           "expired": "Gracias por su interés. El plazo para responder esta encuesta terminó; es posible que "
                      "le preguntemos de nuevo después de una próxima visita.",
           "unknown_title": "No encontramos esta encuesta",
           "unknown": "Verifique que copió el enlace completo de su mensaje. Si aun así no funciona, es "
                      "posible que la encuesta se haya retirado.",
           "other_lang": "English", "choose_all": "Elija todas las que correspondan.", "optional": "opcional",
           "intro": "No necesita iniciar sesión. Las preguntas obligatorias deben responderse."},
}


def _lang(request: Request, invitation: Invitation | None) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    return invitation.language if invitation is not None and invitation.language in LANGUAGES else "en"


def _view_items(inst: Instrument, lang: str) -> list[dict[str, Any]]:
    d = inst.definition
    out = []
    for section in d["sections"]:
        items = []
        for it in section["items"]:
            view: dict[str, Any] = {"code": it["code"], "type": it["type"], "text": text(it["text"], lang),
                                    "required": bool(it.get("required")), "show_if": it.get("show_if")}
            if it["type"] in ("likert", "nps", "rating", "csat", "ces", "scale"):
                view["choices"] = [(str(v), label) for v, label in scale_labels(d, it, lang)]
                view["wide"] = len(view["choices"]) > 7
            elif it["type"] == "yesno":
                view["choices"] = [("yes", YESNO[lang]["yes"]), ("no", YESNO[lang]["no"])]
            elif it["type"] in ("single", "multi"):
                view["choices"] = [(o["value"], text(o["label"], lang)) for o in it["options"]]
            items.append(view)
        out.append({"code": section["code"], "title": text(section.get("title", ""), lang), "items": items})
    return out


def _page(request: Request, template: str, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, ctx, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the link token must not leak to other sites
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _problem(request: Request, problem: TokenProblem) -> HTMLResponse:
    lang = _lang(request, problem.invitation)
    t = UI[lang]
    status = {"used": 410, "expired": 410}.get(problem.kind, 404)
    return _page(request, "survey/problem.html", {
        "lang": lang, "t": t, "kind": problem.kind, "title": t[f"{problem.kind}_title"],
        "message": t[problem.kind]}, status=status)


def _form(request: Request, token: str, inv: Invitation, answers: dict[str, Any], *, status: int = 200,
          errors: dict[str, str] | None = None, notice: str | None = None) -> HTMLResponse:
    lang = _lang(request, inv)
    inst = inv.instrument
    return _page(request, "survey/form.html", {
        "lang": lang, "t": UI[lang], "token": token, "title": text(inst.definition["title"], lang),
        "description": text(inst.definition.get("description", ""), lang), "sections": _view_items(inst, lang),
        "answers": answers, "errors": errors or {}, "notice": notice,
        "other_lang": "es" if lang == "en" else "en"}, status=status)


@router.get("/s/{token}", response_class=HTMLResponse, openapi_extra=PUBLIC)
def survey_page(token: str, request: Request, db: Session = DB) -> HTMLResponse:
    try:
        inv = invitation_for_token(db, token)
    except TokenProblem as problem:
        return _problem(request, problem)
    partial = partial_response(db, inv)
    answers = service.all_answers(partial) if partial is not None else {}
    return _form(request, token, inv, answers)


async def _form_answers(request: Request, inv: Invitation) -> tuple[str, dict[str, Any]]:
    form = await request.form()
    answers: dict[str, Any] = {}
    for item in iter_items(inv.instrument.definition):
        code = item["code"]
        if item["type"] == "multi":
            values = [str(v) for v in form.getlist(code) if str(v)]
            if values:
                answers[code] = values
        else:
            value = form.get(code)
            if value is not None and str(value).strip() != "":
                answers[code] = str(value)
    return str(form.get("action") or "submit"), answers


@router.post("/s/{token}", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def survey_submit(token: str, request: Request, db: Session = DB) -> HTMLResponse:
    try:
        inv = invitation_for_token(db, token)
    except TokenProblem as problem:
        return _problem(request, problem)
    action, answers = await _form_answers(request, inv)
    status = "partial" if action == "save" else "complete"
    try:
        service.record_response(db, ACTOR, instrument=inv.instrument, invitation=inv, answers=answers,
                                language=_lang(request, inv), source="web", status=status)
    except APIError as exc:
        item = (exc.details or {}).get("item") if isinstance(exc.details, dict) else None
        msg = exc.message.split(" ", 3)[-1] if item else exc.message
        return _form(request, token, inv, answers, status=422, errors={item or "_form": msg})
    if status == "partial":
        return _form(request, token, inv, answers, notice=UI[_lang(request, inv)]["saved"])
    lang = _lang(request, inv)
    return _page(request, "survey/problem.html", {"lang": lang, "t": UI[lang], "kind": "thanks",
                                                  "title": UI[lang]["thanks_title"], "message": UI[lang]["thanks"]})
