"""运行监控 (admin cockpit): how the engine is doing and what needs a hand.

* instances by definition, version and status (``engine.instances.counts``);
* incidents: instances in error with the reason and the failed step — retry
  (``instances.retry``) or cancel with a reason (``instances.cancel``) — and timer incidents
  (``timers.incidents`` / ``timers.retry_incident``), and outbox incidents, after-commit
  effects that gave up (``outbox.incidents`` / ``outbox.retry_incident``: run again at once);
* the next 50 waiting timers, oldest due first (``timers.pending``);
* open tasks per department with the overdue ones (``tasks.open_counts``);
* 流程实例: instances listed with filters, suspended and resumed (``instances.suspend`` /
  ``resume``);
* 流程迁移: the dry run of moving a definition's running instances from one version to another
  (``migrations.migrate_all``: which can move and why the others cannot), then the move —
  the dry run for designers, the move for admins (``workflows.access.may_operate_instances``),
  as ``POST /api/v1/definitions/{key}/migrate``.

Everything is the engine's own command or query, with the API's roles: admin for the cockpit,
incidents and suspension, designer for migration's dry run (admin for the move itself). A refused action (no reason given) is shown
next to its field and changes nothing; one that lost a race is told so.
"""

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from api.runtime import engine
from api.web import bp, paging
from api.web.labels import INSTANCE_STATUS, error_text, refusal_text
from api.web.lookups import department_names, element_names, process_name
from api.web.session import roles_required
from engine.errors import Conflict, NotFound
from engine.instances import STATUSES
from engine.models import Definition, Instance
from workflows import access
from workflows.rectification.models import Problem
from workflows.supervision.models import Item

PENDING_TIMERS = 50
INCIDENTS = 100
PAGE = 50
REASON_MAX = 2000  # the API's CancelIn / SuspendIn
BACK = {"monitor": "web.admin_monitor", "instances": "web.admin_instances"}


def records_by_key(keys, actor=None):
    """``{business_key: (kind, id, code)}`` for the items and problems among ``keys``; with
    ``actor``, only those the actor may see (the page shows no more than the domain's pages)."""
    keys = [k for k in set(keys) if k]
    if not keys:
        return {}
    with engine().db.read() as db:
        items = [i for i in db.scalars(select(Item).where(Item.id.in_(keys)))
                 if actor is None or access.may_see_item(db, actor, i)]
        problems = [p for p in db.scalars(select(Problem).where(Problem.id.in_(keys)))
                    if actor is None or access.may_see_problem(db, actor, p)]
    found = {i.id: ("item", i.id, i.code) for i in items}
    found.update({p.id: ("problem", p.id, p.code) for p in problems})
    return found


def _cockpit(errors=None, values=None):
    rt = engine()
    counts = rt.instances.counts()
    table = {}
    for key, version, state, count in counts:
        table.setdefault((key, version), {})[state] = count
    totals = {state: sum(n for _, _, s, n in counts if s == state) for state in STATUSES}
    failed, failed_total = rt.instances.list(status="error", limit=INCIDENTS)
    suspended, suspended_total = rt.instances.list(status="suspended", limit=INCIDENTS)
    timer_incidents = rt.timers.incidents()
    effect_incidents = rt.outbox.incidents()
    pending = rt.timers.pending(PENDING_TIMERS)
    now = rt.clock.now()
    ids = [t.instance_id for t in pending + timer_incidents + effect_incidents if t.instance_id] or [""]
    with rt.db.read() as db:
        owners = dict(db.execute(select(Instance.id, Instance.business_key).where(
            Instance.id.in_(ids))).all())
        versions = dict(db.execute(select(Instance.id, Instance.definition_id).where(Instance.id.in_(ids))).all())
        definitions = {instance_id: process_name(db, db.get(Instance, instance_id)) for instance_id in versions}
        timer_names = {t.id: element_names(db, versions[t.instance_id]).get(t.task_key, t.task_key)
                       for t in pending + timer_incidents if t.instance_id in versions}
    records = records_by_key([r.business_key for r in failed + suspended] + list(owners.values()))
    return render_template(
        "admin/monitor.html", table=sorted(table.items()), totals=totals, statuses=STATUSES,
        failed=failed, failed_total=failed_total, suspended=suspended, suspended_total=suspended_total,
        timer_incidents=timer_incidents, effect_incidents=effect_incidents, pending=pending, owners=owners,
        definitions=definitions, timer_names=timer_names,
        records=records, open_counts=rt.tasks.open_counts(now), departments=department_names(),
        errors=errors or {}, values=values or {}, now=now)


@bp.get("/admin/monitor")
@roles_required("admin")
def admin_monitor():
    return _cockpit()


def _back():
    endpoint = BACK.get(request.form.get("back"), "web.admin_monitor")
    args = {k: v for k, v in request.form.items() if k.startswith("f_") and v}
    return redirect(url_for(endpoint, **{k[2:]: v for k, v in args.items()}))


def _reason(instance_id, action):
    """The form's reason, or the page again with the problem next to that row's field."""
    reason = request.form.get("reason", "").strip()
    if reason and len(reason) <= REASON_MAX:
        return reason, None
    message = "请填写原因" if not reason else f"原因不能超过 {REASON_MAX} 个字"
    errors, values = {(instance_id, action): [message]}, {(instance_id, action): request.form.get("reason", "")}
    if request.form.get("back") == "instances":
        return None, _instances(errors, values)
    return None, _cockpit(errors, values)


def _run(command, done):
    try:
        command()
    except Conflict as err:
        flash(f"操作未执行：实例状态已变化（{error_text(err)}）。")
    else:
        flash(done)
    return _back()


@bp.post("/admin/instances/<instance_id>/retry")
@roles_required("admin")
def admin_instance_retry(instance_id):
    rt = engine()
    rt.instances.get(instance_id)  # 404
    return _run(lambda: rt.instances.retry(instance_id, g.actor), "已重试出错的环节。")


def _run_with_reason(instance_id, action, done):
    """``engine.instances.<action>(instance_id, reason, actor)`` with the form's reason (404 first)."""
    rt = engine()
    rt.instances.get(instance_id)
    reason, page = _reason(instance_id, action)
    if page:
        return page
    return _run(lambda: getattr(rt.instances, action)(instance_id, reason, g.actor), done)


@bp.post("/admin/instances/<instance_id>/cancel")
@roles_required("admin")
def admin_instance_cancel(instance_id):
    return _run_with_reason(instance_id, "cancel", "已撤销该流程实例。")


@bp.post("/admin/instances/<instance_id>/suspend")
@roles_required("admin")
def admin_instance_suspend(instance_id):
    return _run_with_reason(instance_id, "suspend", "已暂停该流程实例：其任务不能办理，定时器暂停触发。")


@bp.post("/admin/instances/<instance_id>/resume")
@roles_required("admin")
def admin_instance_resume(instance_id):
    rt = engine()
    rt.instances.get(instance_id)
    return _run(lambda: rt.instances.resume(instance_id, g.actor), "已恢复该流程实例；暂停期间到期的定时器随即触发。")


@bp.post("/admin/timers/<timer_id>/retry")
@roles_required("admin")
def admin_timer_retry(timer_id):
    try:
        engine().timers.retry_incident(timer_id, g.actor)
    except NotFound:
        abort(404)
    except Conflict:
        flash("该定时器已不是故障状态。")
    else:
        flash("定时器已恢复等待，调度器下一次运行时触发。")
    return _back()


@bp.post("/admin/outbox/<effect_id>/retry")
@roles_required("admin")
def admin_effect_retry(effect_id):
    try:
        row = engine().outbox.retry_incident(effect_id, g.actor)
    except NotFound:
        abort(404)
    except Conflict:
        flash("该后续动作已不是故障状态。")
    else:
        flash("后续动作已重新执行，已完成。" if row.state == "done" else
              "后续动作重新执行仍失败，将按退避间隔自动重试：" + (row.last_error or ""))
    return _back()


# -- 流程实例 -------------------------------------------------------------------------------------
def _instances(errors=None, values=None):
    rt = engine()
    args = request.values
    definition = args.get("f_definition") or args.get("definition") or None
    state = args.get("f_status") or args.get("status")
    state = state if state in STATUSES else None
    code = (args.get("f_code") or args.get("code") or "").strip()[:100] or None
    page = paging.page_number()
    business_key = None
    if code:
        with rt.db.read() as db:
            business_key = (db.scalar(select(Item.id).where(Item.code == code))
                            or db.scalar(select(Problem.id).where(Problem.code == code)) or code)
    rows, total = rt.instances.list(definition, state, business_key, PAGE, (page - 1) * PAGE)
    with rt.db.read() as db:
        keys = list(db.scalars(select(Definition.key).distinct().order_by(Definition.key)))
    return render_template("admin/instances.html", rows=rows, total=total, page=page,
                           pages=max((total + PAGE - 1) // PAGE, 1), keys=keys, statuses=STATUSES,
                           filters={"definition": definition, "status": state, "code": code},
                           records=records_by_key(r.business_key for r in rows),
                           errors=errors or {}, values=values or {})


@bp.get("/admin/instances")
@roles_required("admin")
def admin_instances():
    return _instances()


# -- 流程迁移 -------------------------------------------------------------------------------------
def migration_reason(check):
    """Why ``check``'s instance cannot move, in Chinese: the words of its code, never its English."""
    if check.can_move:
        return None
    facts = dict(check.facts)
    if "status" in facts:
        facts["status"] = INSTANCE_STATUS.get(facts["status"], facts["status"])
    if "steps" in facts:
        facts["steps"] = ", ".join(facts["steps"])
    return refusal_text({"code": check.code}, **facts)


@bp.route("/admin/migration", methods=["GET", "POST"])
@roles_required("designer")
def admin_migration():
    rt = engine()
    args = request.values
    with rt.db.read() as db:
        version_counts = dict(db.execute(select(Definition.key, func.count()).where(Definition.kind == "bpmn")
                                         .group_by(Definition.key).order_by(Definition.key)).all())
    keys = list(version_counts)
    several = [k for k in keys if version_counts[k] > 1]  # by default a process that has something to move to
    key = args.get("key") if args.get("key") in keys else (several or keys or [None])[0]
    with rt.db.read() as db:
        versions = list(db.scalars(select(Definition.version).where(Definition.key == key)
                                   .order_by(Definition.version))) if key else []
    counts = {}
    for _, version, state, count in rt.instances.counts(key, scope=access.instance_scope(g.actor)) if key else []:
        counts.setdefault(version, {})[state] = count
    errors, results = {}, None
    from_version, to_version = args.get("from_version", ""), args.get("to_version", "")
    if from_version or to_version or request.method == "POST":
        errors = _versions_problems(versions, from_version, to_version)
        if not errors and request.method == "POST":
            if not access.may_operate_instances(g.actor):
                abort(403)  # designers run the dry run; moving live instances is for admins
            checks = rt.migrations.migrate_all(key, int(from_version), int(to_version), g.actor, dry_run=False)
            moved = sum(c.can_move for c in checks)
            flash(f"已迁移 {moved} 个实例到版本 {to_version}"
                  + (f"；{len(checks) - moved} 个未能迁移，原因见下表。" if len(checks) > moved else "。"))
            return redirect(url_for("web.admin_migration", key=key, from_version=from_version, to_version=to_version))
        if not errors:
            checks = rt.migrations.migrate_all(key, int(from_version), int(to_version), g.actor, dry_run=True)
            owners = _owners([c.instance_id for c in checks])
            records = records_by_key(owners.values(), g.actor)
            results = [{"instance_id": c.instance_id, "can_move": c.can_move,
                        "reason": migration_reason(c), "record": records.get(owners.get(c.instance_id))}
                       for c in checks]
    return render_template("admin/migration.html", keys=keys, key=key, versions=versions, counts=counts,
                           statuses=STATUSES, errors=errors, results=results,
                           may_move=access.may_operate_instances(g.actor),
                           from_version=from_version, to_version=to_version)


def _versions_problems(versions, from_version, to_version):
    errors = {}
    for name, value in (("from_version", from_version), ("to_version", to_version)):
        if not value:
            errors[name] = ["请选择版本"]
        elif not value.isdigit() or int(value) not in versions:
            errors[name] = ["没有这个版本"]
    if not errors and from_version == to_version:
        errors["to_version"] = ["目标版本与原版本相同"]
    return errors


def _owners(instance_ids):
    with engine().db.read() as db:
        return dict(db.execute(select(Instance.id, Instance.business_key).where(
            Instance.id.in_(instance_ids or [""]))).all())

