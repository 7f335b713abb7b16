"""Escalations (逾期督办) and recorded accountability measures (问责措施): read-only lists.

Escalations open when a step's escalation timer fires and are handled through their
``handle_escalation`` task (``POST /api/v1/tasks/{id}/complete``); measures are recorded
when a supervisor confirms one there.
"""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range

from api.auth import current_actor, require_roles, token_auth
from api.present import escalation, measure
from api.runtime import engine
from api.schemas import EscalationOut, Page
from workflows.supervision import queries

bp = APIBlueprint("escalations", __name__, url_prefix="/api/v1", tag="Escalations")
READERS = ("supervisor", "admin", "leader")
MEASURE_READERS = ("supervisor", "admin", "leader", "secretariat", "discipline", "personnel")


class EscalationQuery(Page):
    state = String(validate=OneOf(("open", "handled", "cancelled")))
    item_id = String(validate=Length(1, 200))
    problem_id = String(validate=Length(1, 200))
    department = String(validate=Length(1, 100))


class EscalationPage(Schema):
    items = List(Nested(EscalationOut), required=True)
    total = Integer(required=True)


class MeasureQuery(Page):
    department = String(validate=Length(1, 100))
    year = Integer(validate=Range(2000, 2200))


class MeasureOut(Schema):
    id = Integer(required=True)
    department = String(required=True)
    year = Integer(required=True)
    measure = String(required=True)
    item_id = String(required=True, allow_none=True)
    problem_id = String(required=True, allow_none=True)
    escalation_id = Integer(required=True)
    recorded_by = String(required=True)
    at = String(required=True)
    kind = String(required=True, allow_none=True)      # the catalogue's code (measure-kinds)
    points = Integer(required=True)
    people = List(Dict(), required=True)              # [{"who", "as": "owner" | "leader"}]
    proposed = String(required=True, allow_none=True)  # what the ladder proposed
    reason = String(required=True, allow_none=True)    # why another measure was chosen
    referral = String(required=True, allow_none=True)  # discipline | personnel
    referral_result = String(required=True, allow_none=True)  # filed | punished | dismissed | other
    referral_note = String(required=True, allow_none=True)
    referral_by = String(required=True, allow_none=True)
    referral_at = String(required=True, allow_none=True)
    interview = Dict(required=True, allow_none=True)   # {"at", "interviewees", "interviewer", "minutes", "by"}


class MeasurePage(Schema):
    items = List(Nested(MeasureOut), required=True)
    total = Integer(required=True)


@bp.get("/escalations")
@bp.auth_required(token_auth)
@require_roles(*READERS)
@bp.input(EscalationQuery, location="query", arg_name="query")
@bp.output(EscalationPage)
@bp.doc(summary="Escalations, oldest overdue first (leaders: their items')", responses=[403])
def list_escalations(query):
    with engine().db.read() as session:
        rows, total = queries.escalations(session, current_actor(), query.get("state"), query.get("item_id"),
                                          query.get("department"), query["limit"], query["offset"],
                                          problem_id=query.get("problem_id"))
        return {"items": [escalation(r) for r in rows], "total": total}


@bp.get("/measures")
@bp.auth_required(token_auth)
@require_roles(*MEASURE_READERS)
@bp.input(MeasureQuery, location="query", arg_name="query")
@bp.output(MeasurePage)
@bp.doc(summary="Recorded accountability measures, by department and year", responses=[403])
def list_measures(query):
    with engine().db.read() as session:
        rows, total = queries.measures(session, query.get("department"), query.get("year"),
                                       query["limit"], query["offset"])
        return {"items": [measure(r) for r in rows], "total": total}
