"""Escalations (逾期督办) and recorded accountability measures (问责措施): read-only lists.

Escalations open when a step's escalation timer fires and are handled through their
``handle_escalation`` task (``POST /api/v1/tasks/{id}/complete``); measures are recorded
when a supervisor confirms one there.
"""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range

from api.auth import current_actor, require_roles, token_auth
from api.present import escalation, measure
from api.runtime import engine
from api.schemas import EscalationOut, Page
from workflows.supervision import queries

bp = APIBlueprint("escalations", __name__, url_prefix="/api/v1", tag="Escalations")
READERS = ("supervisor", "admin", "leader")
MEASURE_READERS = ("supervisor", "admin", "leader", "secretariat")


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
