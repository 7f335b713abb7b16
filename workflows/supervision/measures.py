"""Accountability that acts (一案双查): the measure catalogue, choosing a measure, referrals, talks.

**The catalogue** (:class:`MeasureKind`, table ``measure_kind``, seeded by migration 0021) is
the secretariat's to edit (:func:`create_kind`, :func:`update_kind`). The accountability DMN
proposes a measure by its *name* (提醒约谈, 通报批评, 考核扣分, 问责建议); :func:`proposed_kind`
finds the catalogue row of that name (or code), so the ladder and the catalogue stay two
artefacts that the designers and the secretariat each own.

**Choosing.** A supervisor's ``accountability`` on ``handle_escalation`` records the proposal, or
another active kind (``measure``: its code) with a ``reason`` (:func:`choose`, called by the
escalation's ``before_complete`` hook, so a refusal changes nothing). The recorded measure
carries the kind's name and points, and the people answerable (:func:`answerable`): the
overdue step's owner — its assignee, or who completed it late, else the owner named in the
record's plan — and, when the kind says ``owner_and_leader``, the item's 分管领导.

**Referral.** A kind with ``referral`` (``discipline`` 纪检, ``personnel`` 人事) opens the
``referral`` process (``bpmn/referral.bpmn``) for that role. It is another instance, so it is
started by the outbox effect :data:`REFER` written with the measure, after that commit (an
escalation rolled back refers nothing; a committed one is referred even if its process dies).
The effect runs at least once: the ``instance_started`` listener claims the measure with a
guarded update (``referral_instance_id IS NULL``) in the referral's own transaction, so a
second start rolls back and the effect ends quietly. ``decide_referral``'s result (立案
``filed``, 处分 ``punished``, 不予处理 ``dismissed``, 其他 ``other``) and note are written on
the measure in the completion's transaction.

**Talks** (约谈): a kind with ``interview`` takes one record (time, interviewees, interviewer,
minutes): :func:`record_interview`; a second record replaces the first (audited both times).

**Year-end assessment** (:func:`year_scores`): a department's **score** is 100 minus the points
of the measures recorded for it in the year (never below 0); a person's **points** are the sum
of the points of the year's measures naming them (as owner or leader). A referral's result is
shown next to its measure; it deducts nothing more (the points are the kind's).
"""
import re

from sqlalchemy import func, select, update

from engine.actor import SYSTEM
from engine.errors import Conflict, InvalidInput, NotFound, problem
from engine.models import HumanTask
from engine.roles import DISCIPLINE, PERSONNEL, SUPERVISOR
from workflows.supervision.models import Item, ItemPlan, Measure, MeasureKind
from workflows.supervision.notifications import department_name, notify

PROCESS_KEY = "referral"
TASK_KEY = "decide_referral"
REFER = "open_referral"
REFERRALS = (DISCIPLINE, PERSONNEL)
ANSWERABLE = ("department", "owner", "owner_and_leader")
RESULTS = ("filed", "punished", "dismissed", "other")
FULL_SCORE = 100
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,49}$")
# The first catalogue (migration 0022_measures seeds its own frozen copy of it): code, name, points,
# referral, answerable, interview, position. The DMN proposes 提醒约谈, 通报批评, 考核扣分, 问责建议.
DEFAULT_KINDS = (
    ("reminder_talk", "提醒约谈", 0, None, "owner", True, 10),
    ("public_review", "公开检讨", 1, None, "owner", False, 20),
    ("admonition_talk", "诫勉谈话", 2, None, "owner_and_leader", True, 30),
    ("circular", "通报批评", 2, None, "department", False, 40),
    ("deduction", "考核扣分", 3, None, "department", False, 50),
    ("no_awards", "取消评先", 5, None, "department", False, 60),
    ("discipline_referral", "问责建议", 5, DISCIPLINE, "owner_and_leader", False, 70),
    ("personnel_referral", "组织调整建议", 5, PERSONNEL, "owner_and_leader", False, 80),
)


def default_kinds():
    """The rows of :data:`DEFAULT_KINDS` (for a database emptied after its migration, e.g. tests)."""
    return [MeasureKind(code=c, name=n, points=p, referral=r, answerable=a, interview=i, active=True, position=o)
            for c, n, p, r, a, i, o in DEFAULT_KINDS]


def _problem(field, code, message):
    raise InvalidInput(f"{field}: {message}", details=[problem(field, code, message)])


# -- the catalogue ---------------------------------------------------------------------------
def kinds(session, active_only=False):
    query = select(MeasureKind).order_by(MeasureKind.position, MeasureKind.code)
    if active_only:
        query = query.where(MeasureKind.active.is_(True))
    return list(session.scalars(query))


def kind_fields(row):
    return {"code": row.code, "name": row.name, "points": row.points, "referral": row.referral,
            "answerable": row.answerable, "interview": row.interview, "active": row.active,
            "position": row.position}


def _check_kind(session, values, code=None):
    """Refuse a name another kind has (400 ``duplicate_name``); the schema checked the rest."""
    if "name" in values:
        other = session.scalar(select(MeasureKind.code).where(MeasureKind.name == values["name"]))
        if other is not None and other != code:
            _problem("name", "duplicate_name", f"kind {other!r} is already named {values['name']!r}")


def create_kind(session, values, audit):
    """Add a kind (``values``: the catalogue's fields, checked by the API schema); 409 for a taken code."""
    if not _CODE.match(values["code"]):
        _problem("code", "bad_code", "lower-case letters, digits and _, starting with a letter")
    if session.get(MeasureKind, values["code"]) is not None:
        raise Conflict(f"measure kind {values['code']!r} exists", reason="duplicate_code")
    _check_kind(session, values)
    position = values.get("position")
    if position is None:
        position = (session.scalar(select(func.max(MeasureKind.position))) or 0) + 10
    row = MeasureKind(**{**values, "position": position})
    row.active = values.get("active", True)
    row.interview = values.get("interview", False)
    row.answerable = values.get("answerable", "department")
    session.add(row)
    session.flush()
    audit("measure_kind_created", kind_fields(row))
    return row


def update_kind(session, code, values, audit):
    row = session.get(MeasureKind, code)
    if row is None:
        raise NotFound(f"no measure kind {code!r}")
    _check_kind(session, values, code)
    changed = {k: [getattr(row, k), v] for k, v in values.items() if getattr(row, k) != v}
    for key, value in values.items():
        setattr(row, key, value)
    if changed:
        audit("measure_kind_changed", {"code": code, "changes": changed})
    return row


# -- choosing a measure (the escalation's hook and listener) ----------------------------------
def proposed_kind(session, proposal):
    """The catalogue row the DMN's proposal names (by name, or by code); None when none does."""
    if not proposal:
        return None
    return session.scalar(select(MeasureKind).where(
        (MeasureKind.name == proposal) | (MeasureKind.code == proposal)))


def choose(session, proposal, data):
    """The kind a handling's ``data`` records: ``measure`` (a code) or the proposal's kind.

    Refuses (400) an unknown or inactive code (``unknown_measure``), a choice other than the
    proposal without a ``reason`` (``reason_required``), and (409 ``no_measure``) nothing to
    record: no choice and no proposal in the catalogue.
    """
    proposed = proposed_kind(session, proposal)
    code = data.get("measure")
    if not code:
        if proposed is None:
            raise Conflict(f"the proposal {proposal!r} is no measure of the catalogue; choose one",
                           reason="no_measure")
        return proposed
    kind = session.get(MeasureKind, code)
    if kind is None or not kind.active:
        _problem("measure", "unknown_measure", f"no active measure kind {code!r}")
    if (proposed is None or kind.code != proposed.code) and not (data.get("reason") or "").strip():
        _problem("reason", "reason_required", "choosing another measure than the proposed one needs a reason")
    return kind


def answerable(session, kind, record, overdue):
    """``[{"who", "as"}]``: the people ``kind`` names for the overdue step (see the module's docstring)."""
    if kind.answerable == "department":
        return []
    owner = (overdue.assignee or overdue.completed_by) if overdue else None
    if owner is None and isinstance(record, Item):
        owner = session.scalar(select(ItemPlan.owner).where(ItemPlan.item_id == record.id)
                               .order_by(ItemPlan.submitted_at.desc(), ItemPlan.id.desc()).limit(1))
    elif owner is None:
        owner = getattr(record, "plan_owner", None)
    people = [{"who": owner, "as": "owner"}] if owner else []
    leader = getattr(record, "leader", None)
    if kind.answerable == "owner_and_leader" and leader:
        people.append({"who": leader, "as": "leader"})
    return people


def record(event, escalation, record_row, overdue, data, link):
    """Write the measure the handling chose (in the completion's transaction); returns it."""
    session = event.session
    kind = choose(session, escalation.proposed_measure, data)
    measure = Measure(department=escalation.department, year=escalation.year, measure=kind.name, kind=kind.code,
                      points=kind.points, people=answerable(session, kind, record_row, overdue),
                      proposed=escalation.proposed_measure, reason=(data.get("reason") or "").strip() or None,
                      referral=kind.referral, **link, escalation_id=escalation.id,
                      recorded_by=event.actor.username, at=event.at)
    session.add(measure)
    session.flush()
    if kind.referral:
        event.outbox(REFER, {"measure_id": measure.id})
    return measure


# -- referral ----------------------------------------------------------------------------------
def refer_effect(engine, data, effect):
    """The outbox handler of :data:`REFER`: start the referral of measure ``data["measure_id"]``
    (idempotent: a measure already referred starts nothing)."""
    with engine.db.read() as session:
        measure = session.get(Measure, data["measure_id"])
        if measure is None or measure.referral_instance_id or not measure.referral:
            return
        code = _record_code(session, measure)
    variables = {"measure_id": measure.id, "referral_role": measure.referral, "measure": measure.measure,
                 "department": measure.department, "record_code": code, "year": measure.year}
    try:
        engine.instances.start(PROCESS_KEY, variables, SYSTEM, business_key=None)
    except Conflict as err:
        if err.reason != "already_referred":
            raise


def _record_code(session, measure):
    from workflows.rectification.models import Problem
    row = session.get(Item, measure.item_id) if measure.item_id else session.get(Problem, measure.problem_id)
    return row.code if row else ""


def on_referral_started(event):
    """Claim the measure for this referral (guarded: a second start of the same effect rolls back)."""
    measure_id = event.data["measure_id"]
    claimed = event.session.execute(update(Measure).where(
        Measure.id == measure_id, Measure.referral_instance_id.is_(None)).values(
        referral_instance_id=event.instance.id)).rowcount
    if not claimed:
        raise Conflict(f"measure {measure_id} is already referred", reason="already_referred")
    event.audit("measure_referred", {"measure_id": measure_id, "role": event.data.get("referral_role")})


def on_referral_opened(event):
    data = event.data
    people = event.engine.registry.directory.users(event.session, role=data["referral_role"])
    notify(event, people, "measure_referred", f"问责移送：{data['record_code']}「{data['measure']}」",
           f"{department_name(event, data['department'])} 的问责措施「{data['measure']}」已移送，请处理并记录结果。",
           item_id=None, task_id=event.task_id)


def on_referral_decided(event):
    variables, data = event.instance.variables, event.data
    measure = event.session.get(Measure, variables["measure_id"])
    measure.referral_result, measure.referral_note = data["result"], data.get("note")
    measure.referral_by, measure.referral_at = event.actor.username, event.at
    event.audit("referral_decided", {"measure_id": measure.id, "result": data["result"]})
    supervisors = event.engine.registry.directory.users(event.session, role=SUPERVISOR)
    notify(event, [measure.recorded_by, *supervisors], "referral_decided",
           f"问责移送已处理：{variables['record_code']}「{measure.measure}」",
           f"移送的问责措施「{measure.measure}」已有处理结果。", item_id=measure.item_id, task_id=event.task_id)


def open_referral_task(session, measure):
    """The referral's open ``decide_referral`` task, or None."""
    if not measure.referral_instance_id:
        return None
    return session.scalar(select(HumanTask).where(HumanTask.instance_id == measure.referral_instance_id,
                                                  HumanTask.key == TASK_KEY, HumanTask.state == "open"))


# -- talks (约谈) --------------------------------------------------------------------------------
def record_interview(session, measure_id, values, actor, at, audit):
    """Record the talk of an interview kind's measure (``values``: at, interviewees, interviewer,
    minutes); 404 unknown measure, 409 ``no_interview`` for a kind that is no talk."""
    measure = session.get(Measure, measure_id)
    if measure is None:
        raise NotFound(f"no measure {measure_id}")
    kind = session.get(MeasureKind, measure.kind) if measure.kind else None
    if kind is None or not kind.interview:
        raise Conflict(f"measure {measure_id} ({measure.measure}) is no talk", reason="no_interview")
    measure.interview = {**values, "by": actor.username, "recorded_at": at.isoformat()}
    audit("interview_recorded", {"measure_id": measure.id, "at": values["at"]})
    return measure


# -- the year-end assessment -------------------------------------------------------------------
def year_scores(session, year, departments, members=None):
    """``(department scores, person scores, measures)`` of ``year`` (see the module's docstring).

    ``departments``: ``{code: name}``; ``members``: ``{code: codes}`` rolled up like the ranking.
    Department rows: ``{department, points_deducted, score}``; people: ``{person, department,
    points, measures}`` most points first; measures: the year's, oldest first.
    """
    rows = list(session.scalars(select(Measure).where(Measure.year == year).order_by(Measure.at, Measure.id)))
    points = {}
    for row in rows:
        points[row.department] = points.get(row.department, 0) + (row.points or 0)
    by_department = {}
    for code in departments:
        deducted = sum(points.get(m, 0) for m in (members or {}).get(code, (code,)))
        by_department[code] = {"points_deducted": deducted, "score": max(FULL_SCORE - deducted, 0)}
    people = {}
    for row in rows:
        for named in row.people or []:
            entry = people.setdefault(named["who"], {"person": named["who"], "department": row.department,
                                                     "points": 0, "measures": 0})
            entry["points"] += row.points or 0
            entry["measures"] += 1
    ranked = sorted(people.values(), key=lambda p: (-p["points"], p["person"]))
    return by_department, ranked, rows


def register(registry):
    registry.owns("accountability", PROCESS_KEY)
    registry.on("instance_started", process=PROCESS_KEY)(on_referral_started)
    registry.on("task_opened", process=PROCESS_KEY, task=TASK_KEY)(on_referral_opened)
    registry.on("task_completed", process=PROCESS_KEY, task=TASK_KEY)(on_referral_decided)
    registry.effect(REFER, refer_effect)
