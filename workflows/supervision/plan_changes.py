"""Plan changes (计划调整): requested by the lead department, effective when the leader approves.

A request starts a short ``plan_change`` process (its own instance, correlated to the item by
business key) whose ``approve_plan_change`` task goes to the item's leader. On approval the
listener adopts a new plan version — the current plan with the new milestones — in the
same transaction as the approval. Keeping it a separate instance keeps the item's own
instance small and lets a change be requested at any step.
"""
import datetime as dt

from sqlalchemy import select

from engine.errors import Conflict, Forbidden, InvalidInput, problem
from workflows import access
from workflows.supervision.models import Item, ItemPlan
from workflows.supervision.notifications import notify

PROCESS_KEY = "plan_change"


def request_change(engine, item, reason, milestones, actor):
    """Start the approval; returns the plan_change instance."""
    if not access.may_request_plan_change(actor, item):
        raise Forbidden("only staff of the lead department may request a plan change", reason="not_lead_staff")
    if item.status != "open":
        raise Conflict(f"item {item.code} is {item.status}", reason="item_closed")
    with engine.db.read() as session:
        current = session.scalar(select(ItemPlan).where(ItemPlan.item_id == item.id)
                                 .order_by(ItemPlan.id.desc()).limit(1))
    if current is None or current.state == "returned":
        raise Conflict("the item has no plan to change yet; submit the work plan first", reason="no_plan")
    if not milestones:
        raise InvalidInput("a plan change needs at least one milestone",
                           details=[problem("milestones", "required", "at least one")])
    variables = {"item_id": item.id, "leader": item.leader, "department": item.department,
                 "reason": reason, "milestones": [
                     {"date": m["date"].isoformat() if isinstance(m["date"], dt.date) else m["date"],
                      "target": m["target"]} for m in milestones],
                 "requested_by": actor.username, "base_plan_id": current.id}
    return engine.instances.start(PROCESS_KEY, variables, actor, business_key=item.id)


def on_task_completed(event):
    """Tell the requester the leader's decision; approved: adopt the new plan version
    (registered for ``approve_plan_change`` only)."""
    request = event.instance.variables
    session = event.session
    approved = bool(event.data.get("approved"))
    item = session.get(Item, request["item_id"])
    verdict = "同意" if approved else "不同意"
    comment = event.data.get("comment") or ""
    notify(event, [request["requested_by"]], "plan_change_decided", f"计划调整申请{verdict}：{item.code}",
           f"分管领导{verdict}调整「{item.title}」的工作计划" + ("，新的时间节点已生效。" if approved else "，原计划不变。")
           + (f"意见：{comment}" if comment else ""))
    if not approved:
        return
    base = session.get(ItemPlan, request["base_plan_id"])
    session.add(ItemPlan(
        item_id=base.item_id, task_id=event.task_id, owner=base.owner, milestones=request["milestones"],
        measures=base.measures, expected_result=base.expected_result,
        submitted_by=request["requested_by"], submitted_at=event.at, state="changed",
        change_reason=request["reason"], decision_comment=event.data.get("comment"),
        decided_by=event.actor.username))


def register(registry):
    registry.on("task_completed", process=PROCESS_KEY, task="approve_plan_change")(on_task_completed)
