"""督办事项: the list (filters, search), an item's page (notice, plan, reports, timeline, the
process diagram with the current step marked), and registering a new item (立项交办).

Lists read the projection (``workflows.supervision.queries``) within the caller's scope; the
diagram's XML comes from a session-authenticated endpoint that checks the same scope.
"""
from flask import abort, g, render_template, request, url_for
from sqlalchemy import select

from api.definitions import definition_filename
from api.headers import user_document
from api.models import User
from api.present import Presenter, current_plan
from api.runtime import engine
from api.web import bp, paging
from api.web.lookups import department_names, process_name, registrable_departments, task_titles_of, user_names
from api.web.registration import registration_page
from api.web.session import login_required, roles_required
from api.web.item_management import management_context
from api.web.labels import BASES
from api.web.files import record_files
from api.web.lookback import lookback_context
from engine.models import HumanTask, Instance
from workflows import access, records, returns
from workflows.supervision import management, queries
from workflows.supervision.items import create_item

PAGE = 50


def _flag(value):
    return {"1": True, "0": False}.get(value)


@bp.get("/items")
@login_required
def items():
    rt = engine()
    presenter = Presenter(rt)
    args = request.args
    status = args.get("status") if args.get("status") in ("open", "closed", "cancelled") else None
    light = args.get("light") if args.get("light") in ("green", "yellow", "red") else None
    page = paging.page_number()
    q = args.get("q", "").strip()[:200] or None
    with rt.db.read() as db:
        rows, total = queries.list_items(db, g.actor, rt.calendar, presenter.now, status,
                                         args.get("department") or None, light, _flag(args.get("overdue")),
                                         q, PAGE, (page - 1) * PAGE)
        tasks = records.open_tasks(db, [r.id for r in rows])
    listed = [presenter.item(r, tasks.get(r.id, [])) for r in rows]
    return render_template("items.html", items=listed, total=total, page=page,
                           pages=max((total + PAGE - 1) // PAGE, 1), args=args,
                           departments=department_names(), users=user_names(),
                           may_create=access.may_register(g.actor))


def _visible_item(item_id):
    return access.visible_item(engine(), g.actor, item_id)


@bp.get("/items/<item_id>")
@login_required
def item(item_id):
    rt = engine()
    item = _visible_item(item_id)
    presenter = Presenter(rt)
    with rt.db.read() as db:
        open_tasks = records.open_tasks(db, [item.id]).get(item.id, [])
        plans = queries.plans(db, item.id)
        instance = db.get(Instance, item.instance_id) if item.instance_id else None
        steps = _steps(db, item.instance_id)
        context = dict(plan=current_plan(plans), plans=plans,
                       reports=queries.reports(db, item.id), timeline=records.timeline(db, item.id),
                       task_titles=task_titles_of(db, item.id), escalations=queries.item_escalations(db, item.id),
                       returned=returns.returned_tasks(db, open_tasks), files=record_files(db, item.id),
                       process_name=process_name(db, instance) if instance else None,
                       lookback=lookback_context(db, item))
    body = presenter.item(item, open_tasks)
    return render_template("item.html", item=item, body=body, instance=instance, steps=steps,
                           departments=department_names(), users=user_names(),
                           may_change_plan=(item.status == "open" and access.may_request_plan_change(g.actor, item)
                                            and bool(context["plans"]) and context["plans"][-1].state != "returned"),
                           may_request_extension=item.status == "open" and access.may_request_extension(g.actor, item),
                           manage=management_context(item), doc_number=management.doc_number(item), **context)


def _steps(db, instance_id):
    """The diagram's markers from the human_task projection: open → current, completed → done."""
    if not instance_id:
        return {"current": [], "done": []}
    rows = db.execute(select(HumanTask.key, HumanTask.state).where(HumanTask.instance_id == instance_id)).all()
    current = sorted({r.key for r in rows if r.state == "open"})
    done = sorted({r.key for r in rows if r.state == "completed"} - set(current))
    return {"current": current, "done": done}


@bp.get("/items/<item_id>/diagram.xml")
@login_required
def item_diagram(item_id):
    """The BPMN of the version the item's instance runs (the page's bpmn-js viewer loads it)."""
    rt = engine()
    item = _visible_item(item_id)
    with rt.db.read() as db:
        instance = db.get(Instance, item.instance_id) if item.instance_id else None
        if instance is None:
            abort(404)
        definition = rt.definitions.by_id(db, instance.definition_id)
        return user_document(definition.source, "application/xml", definition_filename(definition))


# -- 立项交办 -------------------------------------------------------------------------------
def item_schema():
    """The registration form as a JSON Schema (rendered like a task form); choices from the database."""
    with engine().db.read() as db:
        leaders = [u for u in db.scalars(select(User).where(User.active).order_by(User.username))
                   if "leader" in (u.roles or [])]
    departments = registrable_departments(g.actor)  # a county's registrar: its subtree's
    codes, names = [d.code for d in departments], [d.name for d in departments]
    return {
        "type": "object", "additionalProperties": False,
        "required": ["title", "basis", "department", "leader", "deadline"],
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 400, "title": "事项名称",
                      "x-widget": "text"},
            "basis": {"type": "string", "enum": list(BASES), "enumNames": list(BASES.values()),
                      "title": "交办依据"},
            "department": {"type": "string", "enum": codes, "enumNames": names, "title": "主办部门"},
            "co_departments": {"type": "array", "title": "协办部门", "uniqueItems": True,
                               "items": {"type": "string", "enum": codes, "enumNames": names}},
            "leader": {"type": "string", "enum": [u.username for u in leaders],
                       "enumNames": [u.display_name for u in leaders], "title": "分管领导"},
            "deadline": {"type": "string", "format": "date", "title": "办结时限"},
            "requirements": {"type": "string", "maxLength": 4000, "title": "工作要求"},
            "evidence": {"type": "array", "title": "佐证材料（附件）", "maxItems": 50,
                         "items": {"type": "string", "format": "file"}},
            "key": {"type": "boolean", "title": "重点事项（每月报送月度调度报告）"},
        },
    }


@bp.route("/items/new", methods=["GET", "POST"])
@roles_required(*access.REGISTRARS)
def item_new():
    def lead_is_not_co(data):
        if data.get("department") and data["department"] in (data.get("co_departments") or []):
            return {"co_departments": ["主办部门不能同时作为协办部门"]}
        return {}
    return registration_page("item_new.html", item_schema(), create_item, lambda item: (
        f"已立项交办：{item.code}。", url_for("web.item", item_id=item.id)), check=lead_is_not_co)
