"""Escalations (逾期督办) and the accountability ladder (问责), for items and problems alike.

Both record processes — ``supervision`` (items) and ``rectification`` (problems,
``bpmn/rectification.bpmn``) — carry the same escalation branch and ``handle_escalation``
task; the listeners and the hook here are registered for both (``records.RECORD_PROCESSES``)
and write the escalation with ``item_id`` or ``problem_id`` (``records.record_link``). The
ladder counts the department's overdue steps of the year over both kinds of record.

When a department step's escalation timer fires (its due time has passed, the step is
still open), the diagram's escalation branch notes which step is overdue, counts the
department's overdue steps of the year (:func:`overdue_steps_in_year`, from the escalation
rows: the database, not the workflow, knows other items), lets the DMN decision
``accountability`` propose a measure and opens ``handle_escalation`` for the supervisors.
The ``task_opened`` listener records the escalation and notifies the supervisors, and the
overdue step's department (its assignee, staff and leaders: kind ``overdue``), in the same
transaction.

A supervisor's ``handle_escalation`` decides:
* ``remind`` — the department (the step's assignee, or its staff) is notified;
* ``extend`` — the step's due time and its timers move to ``new_due`` (in the completing
  unit of work: the step is a sibling branch of the same instance);
* ``reassign`` — the step is assigned to ``username`` (an active user who may work it);
* ``accountability`` — the proposed measure is recorded, or another of the catalogue
  (``measure``: its code) with a ``reason`` (``workflows.supervision.measures``: points, the
  people answerable, a referral to 纪检 / 人事).
Bad data is refused before anything is written (400; 409 when the step is already done).
"""
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine.clock import parse_moment
from engine.errors import Conflict, InvalidInput, StaleInstance, problem
from engine.models import HumanTask
from engine.roles import LEADER, STAFF
from workflows.records import RECORD_PROCESSES, keyed, record_link, record_of
from workflows.supervision import measures
from workflows.supervision.models import Escalation
from workflows.supervision.notifications import department_name, notify, recipients

TASK_KEY = "handle_escalation"
ACTIONS = ("remind", "extend", "reassign", "accountability")


def _functions(engine):
    def overdue_steps_in_year(department, since):
        """How many of ``department``'s steps were already overdue in the year of ``since``:
        items' and problems' (one escalation row each)."""
        year = engine.calendar.local(parse_moment(since)).year
        with engine.db.read() as session:
            return session.scalar(select(func.count()).select_from(Escalation).where(
                Escalation.department == department, Escalation.year == year))

    return {"overdue_steps_in_year": overdue_steps_in_year}


def for_handling_task(session, task_id):
    return session.scalar(select(Escalation).where(Escalation.handle_task_id == task_id))


# -- opened: the escalation timer fired --------------------------------------------------------
def on_task_opened(event):
    session, data, calendar = event.session, event.data, event.engine.calendar
    since = parse_moment(data["overdue_since"])
    step = session.scalar(select(HumanTask).where(
        HumanTask.instance_id == event.instance.id, HumanTask.key == data["overdue_task"],
        HumanTask.state == "open").order_by(HumanTask.created_at.desc()).limit(1))
    escalation = Escalation(
        **record_link(event.instance), instance_id=event.instance.id,
        task_id=step.id if step else None, task_key=data["overdue_task"], handle_task_id=event.task_id,
        department=data["department"],  # the department overdue_steps_in_year counted
        year=calendar.local(since).year, overdue_since=since, level=int(data["overdue_count"]),
        proposed_measure=data.get("proposed_measure"), state="open", created_at=event.at)
    session.add(escalation)
    try:
        session.flush()
    except IntegrityError:
        # Another escalation of this department took the same rung first: count again.
        raise StaleInstance(f"escalation level {escalation.level} of {escalation.department} "
                            f"in {escalation.year} was taken concurrently; retry", reason="level_taken") from None
    item = record_of(session, event.instance)  # the item or the problem
    title = step.title if step else escalation.task_key
    event.audit("escalation_opened", {
        "escalation_id": escalation.id, "task": escalation.task_key, "department": escalation.department,
        "level": escalation.level, "proposed_measure": escalation.proposed_measure,
        "overdue_since": since.isoformat()})
    supervisors = event.engine.registry.directory.users(session, role="supervisor")
    notify(event, supervisors, "escalation", f"逾期督办：{item.code}「{title}」已逾期",
           f"{department_name(event, escalation.department)} 办理的「{item.title}」之「{title}」已于 "
           f"{calendar.local(since):%Y-%m-%d %H:%M} 逾期，为其本年度第 {escalation.level} 次逾期，"
           f"建议措施：{escalation.proposed_measure or '无'}。请处理。", task_id=event.task_id)
    # The department that must still do the step hears it too: its assignee, staff and leaders.
    directory = event.engine.registry.directory
    department = [step.assignee if step else None,
                  *directory.users(session, role=STAFF, department=escalation.department),
                  *directory.users(session, role=LEADER, department=escalation.department)]
    notify(event, department, "overdue", f"已逾期：{item.code}「{title}」",
           f"「{item.title}」之「{title}」已于 {calendar.local(since):%Y-%m-%d %H:%M} 逾期，"
           f"为本部门本年度第 {escalation.level} 次逾期，已转督查员督办。请尽快办理。",
           task_id=step.id if step else None)


# -- handled: validate and act inside the completing unit of work ------------------------------
def before_handle(step):
    """Refuse bad choices before anything changes; move the overdue step's due time on extend."""
    engine, action = step.engine, step.data["action"]
    with engine.db.read() as session:
        escalation = for_handling_task(session, step.task.id)
        overdue = session.get(HumanTask, escalation.task_id) if escalation and escalation.task_id else None
        if escalation is None:
            raise Conflict(f"task {step.task.id} handles no recorded escalation", reason="no_escalation")
        if action in ("extend", "reassign") and (overdue is None or overdue.state != "open"):
            raise Conflict(f"the overdue step {escalation.task_key} is no longer open; "
                           "only remind or accountability apply", reason="step_closed")
        if action == "accountability":
            measures.choose(session, escalation.proposed_measure, step.data)  # refuses a bad choice
        if action == "reassign":
            _check_assignee(session, engine.registry.directory, overdue, step.data["username"])
    if action == "extend":
        new_due = _future_moment(step.data.get("new_due"), step.now)
        step.reschedule(overdue.id, new_due, reason=f"escalation {escalation.id}: extended by supervisor")


def _problem(field, code, message):
    raise InvalidInput(f"{field}: {message}", details=[problem(field, code, message)])


def _future_moment(value, now):
    try:
        moment = parse_moment(value)
    except (TypeError, ValueError):
        _problem("new_due", "not_a_moment", "must be a date-time with a UTC offset, e.g. 2026-10-16T18:00:00+08:00")
    if moment <= now:
        _problem("new_due", "not_future", "must be in the future")
    return moment


def _check_assignee(session, directory, task, username):
    person = directory.person(session, username)
    if person is None:
        _problem("username", "no_such_user", f"no active user {username!r}")
    if task.candidate_department and person.department != task.candidate_department:
        _problem("username", "wrong_department", f"{username!r} is not in department {task.candidate_department!r}")
    if task.candidate_role and task.candidate_role not in person.roles:
        _problem("username", "wrong_role", f"{username!r} does not have role {task.candidate_role!r}")


def on_task_completed(event):
    session, data = event.session, event.data
    escalation = for_handling_task(session, event.task_id)
    item = record_of(session, event.instance)  # the item or the problem
    overdue = session.get(HumanTask, escalation.task_id) if escalation.task_id else None
    escalation.state, escalation.handled_by, escalation.handled_at = "handled", event.actor.username, event.at
    escalation.action, escalation.comment = data["action"], data.get("comment")
    title = overdue.title if overdue else escalation.task_key
    directory = event.engine.registry.directory
    department = recipients(session, directory, overdue) if overdue else []
    comment = f"督查意见：{data['comment']}" if data.get("comment") else ""
    if data["action"] == "remind":
        notify(event, department, "escalation_reminder", f"督办催办：{item.code}「{title}」已逾期",
               f"「{item.title}」之「{title}」已逾期，请立即办理。{comment}", task_id=escalation.task_id)
    elif data["action"] == "extend":
        escalation.new_due = parse_moment(data["new_due"])
        due = event.engine.calendar.local(escalation.new_due)
        notify(event, department, "deadline_extended", f"延期：{item.code}「{title}」",
               f"督查员已将「{title}」的办理期限延至 {due:%Y-%m-%d %H:%M}。{comment}",
               task_id=escalation.task_id)
    elif data["action"] == "reassign":
        escalation.reassigned_to = overdue.assignee = data["username"]
        event.audit("task_assigned", {"task": overdue.key, "task_id": overdue.id,
                                      "assignee": data["username"], "escalation_id": escalation.id})
        notify(event, [data["username"]], "task_reassigned", f"改派：{item.code}「{title}」",
               f"督查员已将逾期的「{title}」改派给你，请立即办理。{comment}", task_id=overdue.id)
    else:
        measure = measures.record(event, escalation, item, overdue, data, record_link(event.instance))
        event.audit("measure_recorded", {"measure_id": measure.id, "measure": measure.measure,
                                         "kind": measure.kind, "points": measure.points,
                                         "department": measure.department, "year": measure.year,
                                         "escalation_id": escalation.id, "reason": measure.reason})
        notify(event, department, "measure_recorded", f"问责：{item.code}「{title}」",
               f"因「{title}」逾期（本年度第 {escalation.level} 次），对 {department_name(event, escalation.department)} "
               f"作出「{measure.measure}」。{comment}", task_id=escalation.task_id)


def on_instance_cancelled(event):
    for escalation in event.session.scalars(select(Escalation).where(
            Escalation.instance_id == event.instance.id, Escalation.state == "open")):
        escalation.state = "cancelled"


def register(registry):
    """Every listener and the hook concern the instances with a business key (an item or a
    problem) of the two record processes."""
    registry.functions(_functions)
    for process in RECORD_PROCESSES:
        registry.on("task_opened", process=process, task=TASK_KEY)(keyed(on_task_opened))
        registry.before_complete(TASK_KEY, process=process)(keyed(before_handle))
        registry.on("task_completed", process=process, task=TASK_KEY)(keyed(on_task_completed))
        registry.on("instance_cancelled", process=process)(keyed(on_instance_cancelled))
