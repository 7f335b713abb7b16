"""Triage of public complaints by the secretariat: into a rectification problem, into a
supervision item, or dismissed with a reason. A complaint is triaged at most once.

Triage starts the process with ``complaint_id`` among its start variables; the
``instance_started`` listener below marks the complaint triaged in the instance's own
transaction, with a guarded ``UPDATE ... WHERE state = 'received'``. So two secretaries
triaging the same complaint at once get one problem (or item) and one 409 — never two
processes for one clue, and never a started process with the complaint still untriaged.
"""
from sqlalchemy import func, select, update

from engine.errors import Conflict, InvalidInput, problem
from workflows import records
from workflows.complaints.models import Complaint
from workflows.rectification import problems
from workflows.records import keyed
from workflows.supervision import items, notifications

STATES = ("received", "triaged", "dismissed")
TARGETS = {problems.PROCESS_KEY: "problem", items.PROCESS_KEY: "item"}


def get(engine, complaint_id):
    return records.get(engine, Complaint, complaint_id, "complaint")


def list_complaints(session, state=None, q=None, limit=50, offset=0):
    """``(rows, total)``, newest first."""
    query = select(Complaint)
    if state:
        query = query.where(Complaint.state == state)
    if q:
        query = query.where(Complaint.text.like(f"%{q}%"))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(session.scalars(query.order_by(Complaint.received_at.desc(), Complaint.id)
                                .limit(limit).offset(offset)))
    return rows, total


def _open(engine, complaint_id):
    complaint = get(engine, complaint_id)
    if complaint.state != "received":
        raise Conflict(f"complaint {complaint_id} is already {complaint.state}", reason="already_triaged")
    return complaint


def triage_as_problem(engine, complaint_id, fields, actor):
    """Start a rectification problem (source ``complaint``) from the complaint; returns the Problem."""
    complaint = _open(engine, complaint_id)
    data = {"title": fields.get("title"), "department": fields.get("department"),
            "deadline": fields.get("deadline"), "source": "complaint",
            "description": fields.get("description") or complaint.text}
    return problems.create_problem(engine, data, actor, origin={"complaint_id": complaint.id})


def triage_as_item(engine, complaint_id, fields, actor):
    """Start a supervision item (basis ``public_complaint``) from the complaint; returns the Item."""
    complaint = _open(engine, complaint_id)
    data = {"title": fields.get("title"), "department": fields.get("department"),
            "co_departments": fields.get("co_departments") or [], "leader": fields.get("leader"),
            "deadline": fields.get("deadline"), "basis": "public_complaint",
            "requirements": fields.get("requirements") or complaint.text}
    return items.create_item(engine, data, actor, origin={"complaint_id": complaint.id})


def dismiss(engine, complaint_id, reason, actor):
    """Dismiss with a reason; Conflict when the complaint was already triaged or dismissed."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("a dismissal needs a reason", details=[problem("reason", "required", "is required")])
    get(engine, complaint_id)
    now = engine.clock.now()
    with engine.db.write() as session:
        # The complaint first, then the audit head (held until commit): the same lock order as a
        # triage's unit of work, which appends its records last.
        result = session.execute(update(Complaint).where(
            Complaint.id == complaint_id, Complaint.state == "received").values(
            state="dismissed", dismiss_reason=reason.strip(), triaged_by=actor.username, triaged_at=now))
        if result.rowcount != 1:
            raise Conflict(f"complaint {complaint_id} was already triaged or dismissed", reason="already_triaged")
        notifications.close_item(session, complaint_id, now)
        engine.audit.append(session, "complaint_dismissed", actor=actor.username, business_key=complaint_id,
                            data={"complaint_id": complaint_id, "reason": reason.strip()})
    return get(engine, complaint_id)


# -- listener (runs inside the unit of work that starts the problem's or item's process) ----
def on_instance_started(event):
    target, complaint_id = TARGETS[event.instance.definition_key], event.data.get("complaint_id")
    if not complaint_id:  # registered directly, not from a complaint
        return
    session = event.session
    result = session.execute(update(Complaint).where(
        Complaint.id == str(complaint_id), Complaint.state == "received").values(
        state="triaged", triaged_as=target, triaged_by=event.actor.username, triaged_at=event.at,
        **{f"{target}_id": event.instance.business_key}))
    if result.rowcount != 1:
        raise Conflict(f"complaint {complaint_id} is not waiting for triage (missing, triaged or dismissed)",
                       reason="already_triaged")
    notifications.close_item(session, str(complaint_id), event.at)
    event.audit("complaint_triaged", {"complaint_id": str(complaint_id), "as": target,
                                      f"{target}_id": event.instance.business_key},
                business_key=str(complaint_id))


def register(registry):
    for process_key in TARGETS:
        registry.on("instance_started", process=process_key)(keyed(on_instance_started))
