"""Public complaints (群众反映): anonymous intake, and triage by the secretariat.

``POST /complaints`` needs no token: it is the public's way in, throttled per client address
(``[complaints] per_hour``, default 5) and bounded per field; the global body limit answers
413. Reading and triage need the secretariat (supervisors and admins may read).
"""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Date, Integer, List, Nested, String
from apiflask.validators import Length, OneOf
from flask import request

from api.auth import current_actor, require_roles, token_auth
from api.errors import abort, problem
from api.items import check_references
from api.present import iso
from api.rectification import check_department
from api.runtime import engine, wall_now
from api.schemas import Page
from workflows.complaints import intake, triage
from workflows.complaints import lookup as complaint_lookup
from workflows.complaints.intake import Throttled

bp = APIBlueprint("complaints", __name__, url_prefix="/api/v1", tag="Complaints")
READERS = ("secretariat", "supervisor")
DEFAULT_PER_HOUR = 5
_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
THROTTLED_DOC = {"description": "too many complaints from this address in the last hour",
                 "content": _ERROR_REF,
                 "headers": {"Retry-After": {"description": "seconds until another complaint is accepted",
                                             "schema": {"type": "integer"}}}}


class ComplaintIn(Schema):
    text = String(required=True, validate=Length(1, intake.MAX_TEXT))
    contact = String(allow_none=True, validate=Length(0, intake.MAX_CONTACT))
    attachment_name = String(allow_none=True, validate=Length(0, intake.MAX_FILE_NAME))


class ReceivedOut(Schema):
    id = String(required=True)
    status = String(required=True)
    reference = String(required=True, metadata={
        "description": "受理编号 the complainant looks the complaint up with (GET /complaints/lookup)"})


class LookupQuery(Schema):
    ref = String(required=True, validate=Length(1, 100), metadata={"description": "the reference, e.g. TS-2026-000123-K7QM"})


class LookupOut(Schema):
    reference = String(required=True)
    received_at = String(required=True)
    state = String(required=True, metadata={"description": "received | handling | closed | dismissed"})
    reply = String(allow_none=True, metadata={"description": "the dismissal reason"})
    closed_at = String(allow_none=True)


class ComplaintOut(Schema):
    id = String(required=True)
    reference = String(allow_none=True)
    text = String(required=True)
    contact = String(allow_none=True)
    attachment_name = String(allow_none=True)
    client = String(required=True)
    received_at = String(required=True)
    state = String(required=True)
    triaged_by = String(allow_none=True)
    triaged_at = String(allow_none=True)
    triaged_as = String(allow_none=True)
    problem_id = String(allow_none=True)
    item_id = String(allow_none=True)
    dismiss_reason = String(allow_none=True)


class ComplaintPage(Schema):
    items = List(Nested(ComplaintOut), required=True)
    total = Integer(required=True)


class ComplaintQuery(Page):
    state = String(validate=OneOf(triage.STATES))
    q = String(validate=Length(1, 200))


class TriageIn(Schema):
    as_ = String(required=True, data_key="as", validate=OneOf(("problem", "item")))
    title = String(required=True, validate=Length(1, 400))
    department = String(required=True, validate=Length(1, 100))
    deadline = Date(required=True)
    description = String(validate=Length(0, 10000))            # problem; default: the complaint's text
    leader = String(validate=Length(1, 100))                   # item: required
    co_departments = List(String(validate=Length(1, 100)))     # item
    requirements = String(validate=Length(0, 10000))           # item; default: the complaint's text


class TriagedOut(Schema):
    complaint = Nested(ComplaintOut, required=True)
    id = String(required=True)
    code = String(required=True)
    instance_id = String(required=True)
    status = String(required=True)


class DismissIn(Schema):
    reason = String(required=True, validate=Length(1, 2000))


def per_hour():
    return int(engine().config.get("complaints", {}).get("per_hour", DEFAULT_PER_HOUR))


def receive(data, photos=()):
    """The one intake both the API and the public page use: InvalidInput or Throttled, or the row
    (``photos``: ``[(file name, bytes)]``, the public page's 现场照片)."""
    return intake.receive(engine(), data, request.remote_addr, per_hour(), photos)


def lookups_per_hour():
    return int(engine().config.get("complaints", {}).get("lookups_per_hour", complaint_lookup.DEFAULT_PER_HOUR))


def look_up(text):
    """The answer (``complaint_lookup.answer``) for a typed reference, or None for no such
    complaint; the look-up counted for the caller's address first (``complaint_lookup.Throttled``,
    nothing counted). The one look-up of the page and the API."""
    reference = complaint_lookup.normalise(text)
    rt = engine()
    with rt.db.write() as session:
        complaint_lookup.admit(session, (request.remote_addr or "unknown")[:64], wall_now(), lookups_per_hour())
        complaint = complaint_lookup.find(session, reference)
        return complaint_lookup.answer(session, complaint) if complaint is not None else None


def complaint_out(row):
    return {"id": row.id, "reference": row.reference, "text": row.text, "contact": row.contact,
            "attachment_name": row.attachment_name,
            "client": row.client, "received_at": iso(row.received_at), "state": row.state,
            "triaged_by": row.triaged_by, "triaged_at": iso(row.triaged_at), "triaged_as": row.triaged_as,
            "problem_id": row.problem_id, "item_id": row.item_id, "dismiss_reason": row.dismiss_reason}


@bp.post("/complaints")
@bp.input(ComplaintIn, arg_name="body")
@bp.output(ReceivedOut, status_code=201)
@bp.doc(summary="Submit a complaint (群众反映) — no login; throttled per client address",
        responses={400: "invalid field", 413: "body too large", 429: THROTTLED_DOC})
def submit(body):
    try:
        complaint = receive({key: value for key, value in body.items() if value is not None})
    except Throttled as err:
        abort(429, err.code, err.message, {"retry_after": err.retry_after},
              headers={"Retry-After": str(err.retry_after)})
    return {"id": complaint.id, "status": complaint.state, "reference": complaint.reference}


LOOKUP_THROTTLED_DOC = {**THROTTLED_DOC, "description": "too many look-ups from this address in the last hour"}


@bp.get("/complaints/lookup")
@bp.input(LookupQuery, location="query", arg_name="query")
@bp.output(LookupOut)
@bp.doc(summary="Look a complaint up by its reference (反映查询) — no login; throttled per client address",
        responses={404: "no complaint has this reference", 429: LOOKUP_THROTTLED_DOC})
def lookup(query):
    try:
        found = look_up(query["ref"])
    except complaint_lookup.Throttled as err:
        abort(429, err.code, err.message, {"retry_after": err.retry_after},
              headers={"Retry-After": str(err.retry_after)})
    if found is None:
        abort(404, "not_found", "no complaint has this reference", [problem("ref", "unknown_reference",
                                                                           "no complaint has this reference")])
    return {**found, "received_at": iso(found["received_at"]), "closed_at": iso(found["closed_at"])}


@bp.get("/complaints")
@bp.auth_required(token_auth)
@require_roles(*READERS)
@bp.input(ComplaintQuery, location="query", arg_name="query")
@bp.output(ComplaintPage)
@bp.doc(summary="Complaints received from the public, newest first; filter by state and text", responses=[403])
def list_complaints(query):
    with engine().db.read() as session:
        rows, total = triage.list_complaints(session, query.get("state"), query.get("q"),
                                             query["limit"], query["offset"])
    return {"items": [complaint_out(r) for r in rows], "total": total}


@bp.get("/complaints/<complaint_id>")
@bp.auth_required(token_auth)
@require_roles(*READERS)
@bp.output(ComplaintOut)
@bp.doc(summary="One complaint", responses=[403, 404])
def get_complaint(complaint_id):
    return complaint_out(triage.get(engine(), complaint_id))


@bp.post("/complaints/<complaint_id>/triage")
@bp.auth_required(token_auth)
@require_roles("secretariat")
@bp.input(TriageIn, arg_name="body")
@bp.output(TriagedOut, status_code=201)
@bp.doc(summary="Triage a complaint: start a rectification problem (source complaint) or a supervision item",
        responses=[400, 403, 404, 409])
def triage_complaint(complaint_id, body):
    rt, actor = engine(), current_actor()
    triage.get(rt, complaint_id)  # 404 before 400 for a missing complaint
    fields = {**body, "deadline": body["deadline"].isoformat()}
    if body["as_"] == "item":
        if not body.get("leader"):
            abort(400, "invalid_input", "an item needs its leader in charge",
                  [problem("leader", "required", "is required to triage as an item")])
        fields["co_departments"] = body.get("co_departments") or []
        check_references(fields)
        created = triage.triage_as_item(rt, complaint_id, fields, actor)
    else:
        check_department(body["department"])
        created = triage.triage_as_problem(rt, complaint_id, fields, actor)
    return {"complaint": complaint_out(triage.get(rt, complaint_id)), "id": created.id, "code": created.code,
            "instance_id": created.instance_id, "status": created.status}


@bp.post("/complaints/<complaint_id>/dismiss")
@bp.auth_required(token_auth)
@require_roles("secretariat")
@bp.input(DismissIn, arg_name="body")
@bp.output(ComplaintOut)
@bp.doc(summary="Dismiss a complaint with a reason", responses=[400, 403, 404, 409])
def dismiss(complaint_id, body):
    return complaint_out(triage.dismiss(engine(), complaint_id, body["reason"], current_actor()))
