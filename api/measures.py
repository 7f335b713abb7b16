"""The accountability measure catalogue (问责措施目录) and talks (约谈记录) over HTTP.

``GET /measure-kinds`` for who reads measures; ``POST`` / ``PATCH /measure-kinds/{code}`` for
the secretariat and admins (the catalogue is the secretariat's). ``POST /measures/{id}/interview``
records the talk of an interview kind's measure (supervisors, the secretariat, admins). The
rules are ``workflows.supervision.measures``; the pages call the same functions.
"""
from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Boolean, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range

from api.auth import current_actor, require_roles, token_auth
from api.present import measure as measure_out
from api.runtime import engine
from workflows.supervision import measures

bp = APIBlueprint("measures", __name__, url_prefix="/api/v1", tag="Measures")
KIND_READERS = ("supervisor", "admin", "leader", "secretariat", "discipline", "personnel")
KIND_EDITORS = ("secretariat", "admin")
INTERVIEW_RECORDERS = ("supervisor", "secretariat", "admin")


class KindPatch(Schema):
    name = String(validate=Length(1, 100))
    points = Integer(validate=Range(0, 100))
    referral = String(allow_none=True, validate=OneOf(measures.REFERRALS))
    answerable = String(validate=OneOf(measures.ANSWERABLE))
    interview = Boolean()
    active = Boolean()
    position = Integer(validate=Range(0, 100000))


class KindIn(KindPatch):
    code = String(required=True, validate=Length(2, 50))
    name = String(required=True, validate=Length(1, 100))
    points = Integer(required=True, validate=Range(0, 100))


class KindOut(Schema):
    code = String(required=True)
    name = String(required=True)
    points = Integer(required=True)
    referral = String(required=True, allow_none=True)
    answerable = String(required=True)
    interview = Boolean(required=True)
    active = Boolean(required=True)
    position = Integer(required=True)


class KindList(Schema):
    items = List(Nested(KindOut), required=True)
    total = Integer(required=True)


class InterviewIn(Schema):
    at = AwareDateTime(required=True, format="iso")
    interviewees = String(required=True, validate=Length(1, 500))
    interviewer = String(required=True, validate=Length(1, 200))
    minutes = String(required=True, validate=Length(1, 20000))


def _audit(session, actor):
    rt = engine()
    return lambda kind, data: rt.audit.append(session, kind, actor=actor, data=data)


def save_kind(values, actor, code=None):
    """Create (``code`` None) or change a kind; both the API and the page call this."""
    rt = engine()
    with rt.db.write() as session:
        audit = _audit(session, actor)
        row = (measures.create_kind(session, values, audit) if code is None
               else measures.update_kind(session, code, values, audit))
        return measures.kind_fields(row)


def save_interview(measure_id, values, actor):
    """Record a talk (``actor``: the engine Actor recording it); both the API and the page call this."""
    rt = engine()
    values = {**values, "at": rt.calendar.local(values["at"]).isoformat()}
    with rt.db.write() as session:
        row = measures.record_interview(session, measure_id, values, actor, rt.clock.now(),
                                        _audit(session, actor.username))
        return measure_out(row)


@bp.get("/measure-kinds")
@bp.auth_required(token_auth)
@require_roles(*KIND_READERS)
@bp.output(KindList)
@bp.doc(summary="The accountability measure catalogue, in its order (inactive kinds included)", responses=[403])
def list_kinds():
    with engine().db.read() as session:
        rows = [measures.kind_fields(r) for r in measures.kinds(session)]
    return {"items": rows, "total": len(rows)}


@bp.post("/measure-kinds")
@bp.auth_required(token_auth)
@require_roles(*KIND_EDITORS)
@bp.input(KindIn, arg_name="body")
@bp.output(KindOut, status_code=201)
@bp.doc(summary="Add a measure kind (secretariat)", responses=[400, 403, 409])
def create_kind(body):
    return save_kind(body, current_actor().username)


@bp.patch("/measure-kinds/<code>")
@bp.auth_required(token_auth)
@require_roles(*KIND_EDITORS)
@bp.input(KindPatch, arg_name="body")
@bp.output(KindOut)
@bp.doc(summary="Change a measure kind: name, points, referral, who answers, talk, active, order",
        responses=[400, 403, 404])
def patch_kind(code, body):
    return save_kind(body, current_actor().username, code=code)


@bp.post("/measures/<int:measure_id>/interview")
@bp.auth_required(token_auth)
@require_roles(*INTERVIEW_RECORDERS)
@bp.input(InterviewIn, arg_name="body")
@bp.doc(summary="Record the talk (约谈) of a measure whose kind is a talk", responses=[400, 403, 404, 409])
def record_interview(measure_id, body):
    return save_interview(measure_id, body, current_actor())
