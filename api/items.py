"""Supervision items (督办事项): register and dispatch, list, detail, plan changes, extension requests."""
from apiflask import APIBlueprint, Schema
from apiflask.fields import String
from flask import jsonify

from api.auth import current_actor, require_roles, token_auth
from api.errors import abort, problem
from api.models import Department, User
from api.organisation import subtree_path
from api.present import Presenter, audit, current_plan, escalation, plan, report
from api.runtime import engine
from api.schemas import (DepartmentChangeIn, ExtensionIn, ItemCancelIn, ItemChanged, ItemCreated, ItemDetailOut, ItemEditIn,
                         ItemIn, ItemPage, ItemQuery, PlanChangeIn, SendBackIn, attached_files)
from workflows import access, records
from workflows.files import evidence
from workflows.supervision import extensions, management, plan_changes, queries
from workflows.supervision.items import create_item

bp = APIBlueprint("items", __name__, url_prefix="/api/v1", tag="Items")


class PlanChangeOut(Schema):
    item_id = String(required=True)
    instance_id = String(required=True)
    status = String(required=True)


def reference_problems(body):
    """``[{"field", "code", "message"}]``: departments must exist; the leader must be an active user with
    role leader; the lead department cannot co-handle. (The web pages check the same.)"""
    problems = []
    with engine().db.read() as session:
        for field, code in [("department", body["department"])] + [
                (f"co_departments/{i}", c) for i, c in enumerate(body["co_departments"])]:
            if session.get(Department, code) is None:
                problems.append(problem(field, "unknown_department", f"unknown department {code!r}"))
        leader = session.get(User, body["leader"])
        if leader is None or not leader.active or "leader" not in (leader.roles or []):
            problems.append(problem("leader", "not_a_leader", f"{body['leader']!r} is not a leader"))
    if body["department"] in body["co_departments"]:
        problems.append(problem("co_departments", "lead_co_handles", "the lead department cannot co-handle"))
    return problems


def check_references(body):
    problems = reference_problems(body)
    if problems:
        abort(400, "invalid_input", "the item refers to unknown departments or users", problems)


def visible_item(item_id):
    """The item if the caller may see it (``workflows.access.may_see_item``); else 403."""
    return access.visible_item(engine(), current_actor(), item_id)


@bp.post("/items")
@bp.auth_required(token_auth)
@require_roles(*access.REGISTRARS)
@bp.input(ItemIn, arg_name="body")
@bp.output(ItemCreated, status_code=201)
@bp.doc(summary="Register and dispatch an item (立项交办): starts the latest supervision process",
        responses=[400, 403])
def create(body):
    check_references(body)
    data = {**body, "deadline": body["deadline"].isoformat()}
    item = create_item(engine(), data, current_actor())
    return {"id": item.id, "code": item.code, "instance_id": item.instance_id, "status": item.status}


@bp.get("/items")
@bp.auth_required(token_auth)
@bp.input(ItemQuery, location="query", arg_name="query")
@bp.output(ItemPage)
@bp.doc(summary="Items in the caller's scope, newest first; filter by status, department, light, "
                "subtree (under)", responses=[400])
def list_items(query):
    """The page is answered as the presenter shaped it: ``ItemPage`` documents it, but dumping 50
    items and their open tasks through the schema again cost about a quarter of the request
    (docs/BENCHMARKS.md, inbox at scale); ``tests/test_api_loop.py`` checks the shapes agree."""
    rt = engine()
    presenter = Presenter(rt)
    with rt.db.read() as session:
        under = subtree_path(session, query["under"]) if query.get("under") else None
        rows, total = queries.list_items(
            session, current_actor(), rt.calendar, presenter.now, query.get("status"),
            query.get("department"), query.get("light"), query.get("overdue"), query.get("q"),
            query["limit"], query["offset"], under=under)
        tasks = records.open_tasks(session, [r.id for r in rows])
    return jsonify({"items": [presenter.item(r, tasks.get(r.id, [])) for r in rows], "total": total})


@bp.get("/items/<item_id>")
@bp.auth_required(token_auth)
@bp.output(ItemDetailOut)
@bp.doc(summary="One item with its open tasks, plans, reports and timeline", responses=[403, 404])
def get(item_id):
    item = visible_item(item_id)
    rt = engine()
    presenter = Presenter(rt)
    with rt.db.read() as session:
        tasks = records.open_tasks(session, [item.id]).get(item.id, [])
        plans = queries.plans(session, item.id)
        body = presenter.item(item, tasks)
        current = current_plan(plans)
        body.update(plan=plan(current) if current else None, plans=[plan(p) for p in plans],
                    reports=[report(r) for r in queries.reports(session, item.id)],
                    escalations=[escalation(e) for e in queries.item_escalations(session, item.id)],
                    files=attached_files(evidence.of_record(session, item.id)),
                    timeline=[audit(r) for r in records.timeline(session, item.id)])
    return body


@bp.post("/items/<item_id>/plan-change")
@bp.auth_required(token_auth)
@bp.input(PlanChangeIn, arg_name="body")
@bp.output(PlanChangeOut, status_code=202)
@bp.doc(summary="Request a plan change (计划调整); effective when the leader approves",
        responses=[400, 403, 404, 409])
def plan_change(item_id, body):
    item = visible_item(item_id)
    instance = plan_changes.request_change(engine(), item, body["reason"], body["milestones"],
                                           current_actor())
    return {"item_id": item.id, "instance_id": instance.id, "status": "pending"}


@bp.post("/items/<item_id>/extension")
@bp.auth_required(token_auth)
@bp.input(ExtensionIn, arg_name="body")
@bp.output(PlanChangeOut, status_code=202)
@bp.doc(summary="Request an extension (延期申请) of an open step, before it falls due; "
                "effective when the leader approves", responses=[400, 403, 404, 409])
def extension(item_id, body):
    item = visible_item(item_id)
    instance = extensions.request_extension(engine(), item, body["task_id"], body["reason"], body["new_due"],
                                            body["progress"], current_actor())
    return {"item_id": item.id, "instance_id": instance.id, "status": "pending"}


def _changed(item_id, changes):
    item = management.get_item(engine(), item_id)
    return {"item_id": item.id, "status": item.status, "changes": changes}


@bp.post("/items/<item_id>/cancel")
@bp.auth_required(token_auth)
@require_roles(*access.ITEM_MANAGERS)
@bp.input(ItemCancelIn, arg_name="body")
@bp.output(ItemChanged)
@bp.doc(summary="Cancel an item (撤销), secretariat only: its process and open tasks end",
        responses=[400, 403, 404, 409])
def cancel(item_id, body):
    item = visible_item(item_id)
    management.cancel_item(engine(), item, body["reason"], current_actor())
    return _changed(item.id, {"status": [item.status, "cancelled"]})


@bp.patch("/items/<item_id>")
@bp.auth_required(token_auth)
@require_roles(*access.ITEM_MANAGERS)
@bp.input(ItemEditIn, arg_name="body")
@bp.output(ItemChanged)
@bp.doc(summary="Edit an item's notice fields, secretariat only; audited with old and new values",
        responses=[400, 403, 404, 409])
def edit(item_id, body):
    item = visible_item(item_id)
    key = body.pop("key", None)
    changes = management.amend_item(engine(), item, body, current_actor()) if body else {}
    if key is not None:
        changes.update(management.mark_key(engine(), management.get_item(engine(), item.id), key, current_actor()))
    return _changed(item.id, changes)


@bp.post("/items/<item_id>/department")
@bp.auth_required(token_auth)
@require_roles(*access.ITEM_MANAGERS)
@bp.input(DepartmentChangeIn, arg_name="body")
@bp.output(ItemChanged)
@bp.doc(summary="Change the lead department, secretariat only: its open steps move to the new one",
        responses=[400, 403, 404, 409])
def change_department(item_id, body):
    item = visible_item(item_id)
    return _changed(item.id, management.amend_item(engine(), item, body, current_actor()))


@bp.post("/items/<item_id>/send-back")
@bp.auth_required(token_auth)
@bp.input(SendBackIn, arg_name="body")
@bp.output(ItemChanged)
@bp.doc(summary="Send a misrouted item back (退回交办), lead department while drafting its plan; "
                "the secretariat is notified and changes the lead department", responses=[400, 403, 404, 409])
def send_back(item_id, body):
    item = visible_item(item_id)
    management.send_back(engine(), item, body["reason"], current_actor())
    return _changed(item.id, {})
