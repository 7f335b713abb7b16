"""Reports (周报, 月度通报排名, 年度考核), computed in SQL over the projection tables.

Never loads a workflow. Calendar-dependent figures (lights, working days overdue) use the
business calendar on the rows SQL selected.

Definitions (stated once, used by every report and export):
- A **department step** is a human task of a supervision item routed to a department
  (``candidate_department``): the work plan and the progress reports. Cancelled steps, and
  the steps of other processes (problem rectification has its own ledger), do not count.
- A step **due in a period** has its due time in the period (local time, half-open).
- It is **on time** when completed no later than its due time (an approved extension moves
  the due time, so an extended step is judged against its new due time); **overdue** when
  completed after its due time, or still open past it at the period's end (or now, if
  earlier); otherwise **pending** (open, not yet due).
- **On-time rate** = on time / (on time + overdue); a department with no decided step has no
  rate and ranks after those that have one.
- **Items handled** = items the department leads that were open at some time in the period.
- **Average rating** of the items it leads closed in the period: excellent 3, good 2, poor 1;
  shown as the grade nearest to it (:func:`rating_grade`: 2.5 and up 优, 1.5 and up 良, else 差).
- **Ranked departments**: every department but the overseeing offices (:func:`ranked_departments`).
- **Escalations**: escalations of the department's steps whose step fell overdue in the period,
  items' and problems' alike (a late rectification plan or report, 整改逾期, counts here as the
  accountability ladder counts it: one overdue step of the department); **measures**:
  accountability measures recorded for the department in the period, on items or problems.
  (The on-time rate stays the items' steps: a problem's steps are judged in its ledger.)
- An item's **current step** is its open steps, leaving out the supervisors' escalation
  handling (that is the supervisors' work on the item, not the item's step).
- **Problems** (问题整改, issue 15): a problem is **due in a period** when its 整改时限
  (``problem.deadline``, as extended by an approved plan or reset by a rebound) falls in the
  period (local dates); **rectified on time** when it was closed (销号) no later than the end
  of that day; **rectified late** when closed after it, or still not closed past it at the
  period's end (or now); otherwise pending. Cancelled problems do not count. **Rectification
  rate** = on time / (on time + late), none when none was decided. **Problems closed**:
  closed in the period. **Rebounds** (反弹): 回头看 checks of the department's items and
  problems found rebounded in the period.
- **Combined rate** (综合按时率) = (steps on time + problems rectified on time) / (decided
  steps + decided problems): the on-time rate and the rectification rate weighted by their
  counts, so a department is judged on all its work and one late problem weighs as much as
  one late step; none when nothing was decided.
- **Ranking**: combined rate (higher first), then fewer overdue steps and late problems, then
  more steps and problems due, then department code. (Without problems the combined rate is
  the on-time rate and the order is the items' order as before.)
- **Rolled up** (the department tree, issue 16): a ranking of one level — the children of a
  department, or every department at one depth — gives each ranked department the sums of
  the figures of every department of its subtree (itself included; the average rating over
  all their rated items); the on-time rate is computed from the sums. Overseeing offices are
  not left out there: a county is ranked with its office.
- **Overall on-time rate** of a month (the trend): all departments' on-time steps / all their
  decided steps; none when no step was decided.
"""
import datetime as dt

from sqlalchemy import and_, case, func, or_, select

from engine.models import HumanTask
from workflows import access, lights
from workflows import departments as tree
from workflows.lookback.models import Lookback
from workflows.rectification.models import Problem
from workflows.supervision import measures, queries
from workflows.supervision.models import Escalation, Item, ItemReport, Measure

RATING_SCORE = {"excellent": 3, "good": 2, "poor": 1}
OFFICE_ROLES = (access.SECRETARIAT, access.SUPERVISOR)


def rating_grade(average):
    """The rating an average score stands for, the nearest score with halves rounded up
    (2.5 → ``"excellent"``, 1.5 → ``"good"``, below → ``"poor"``); None for no rating.
    The one place the pages and exports turn ``average_rating`` into 优/良/差."""
    if average is None:
        return None
    return "excellent" if average >= 2.5 else "good" if average >= 1.5 else "poor"


def ranked_departments(session, directory):
    """``{code: name}`` of the departments the ranking and the year-end statistics rank: all
    (``directory.departments``) but the overseeing offices, i.e. the departments of the active
    users who hold the secretariat's or a supervisor's role. Those offices register, dispatch
    and supervise the items; ranking them beside the departments they supervise would put the
    referee in the table. (An admin's department is not an office: admins may sit anywhere.)"""
    offices = set()
    for role in OFFICE_ROLES:
        for username in directory.users(session, role=role):
            person = directory.person(session, username)
            if person is not None and person.department:
                offices.add(person.department)
    return {code: name for code, name in directory.departments(session).items() if code not in offices}


# -- periods ----------------------------------------------------------------------------------
def week_title(week):
    """``"2026-W41"`` → ``"2026年第41周"``: how users read an ISO week."""
    year, number = week.split("-W")
    return f"{int(year)}年第{int(number)}周"


def month_title(month):
    """``"2026-11"`` → ``"2026年11月"``."""
    return f"{int(month[:4])}年{int(month[5:])}月"


def iso_week_bounds(calendar, week):
    """``"2026-W48"`` → (start, end) local instants of that ISO week (Monday 00:00 .. next Monday)."""
    year, number = week.split("-W")
    monday = dt.date.fromisocalendar(int(year), int(number), 1)
    return calendar.at(monday, dt.time(0)), calendar.at(monday + dt.timedelta(days=7), dt.time(0))


def month_bounds(calendar, month):
    year, number = (int(part) for part in month.split("-"))
    first = dt.date(year, number, 1)
    following = dt.date(year + number // 12, number % 12 + 1, 1)
    return calendar.at(first, dt.time(0)), calendar.at(following, dt.time(0))


def months_up_to(month, count):
    """The ``count`` months ending with ``month`` (``"2026-11"``), oldest first."""
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1
    return [f"{i // 12}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def year_bounds(calendar, year):
    return calendar.at(dt.date(year, 1, 1), dt.time(0)), calendar.at(dt.date(year + 1, 1, 1), dt.time(0))


# -- weekly report ----------------------------------------------------------------------------
SUPERVISOR_ROLE = "supervisor"


def weekly(session, calendar, week, now, department_names):
    """Every item open at the end of ``week`` (or now, if earlier), grouped by department."""
    start, end = iso_week_bounds(calendar, week)
    as_of = min(end, now)
    items = list(session.scalars(select(Item).where(
        Item.created_at < as_of, or_(Item.closed_at.is_(None), Item.closed_at >= as_of),
        Item.status != "cancelled").order_by(Item.department, Item.code)))
    ids = [item.id for item in items]
    steps = _open_steps_at(session, ids, as_of)
    latest = _latest_reports(session, ids, as_of)
    warning_limit = calendar.add_working_days(as_of, calendar.warning_working_days)
    groups = {}
    for item in items:
        open_steps = steps.get(item.id, [])
        overdue_since = min((s.due_at for s in open_steps if s.due_at and s.due_at < as_of), default=None)
        report = latest.get(item.id)
        groups.setdefault(item.department, []).append({
            "item_id": item.id, "code": item.code, "title": item.title, "leader": item.leader,
            "deadline": item.deadline.isoformat() if item.deadline else None,
            "current_step": "、".join(s.title or s.key for s in open_steps) or None,
            "light": lights.worst(lights.light(s.due_at, as_of, warning_limit) for s in open_steps),
            "days_overdue": (calendar.working_days_between(calendar.local(overdue_since).date(),
                                                           calendar.local(as_of).date())
                             if overdue_since else 0),
            "latest_report": {"progress": report.progress, "summary": report.summary,
                              "submitted_at": report.submitted_at.isoformat(), "done": report.done}
            if report else None,
        })
    return {"week": week, "start": start.isoformat(), "end": end.isoformat(), "as_of": as_of.isoformat(),
            "total": len(items), "departments": [
                {"department": code, "name": department_names.get(code, code), "items": rows}
                for code, rows in sorted(groups.items())],
            "problems": weekly_problems(session, calendar, start, as_of, department_names)}


PROBLEM_GROUPS = ("new", "closed", "overdue")


def weekly_problems(session, calendar, start, as_of, department_names):
    """The week's problems (问题整改): ``new`` (registered in the week), ``closed`` (销号 in it)
    and ``overdue`` (not closed at the week's end, or now, with their 整改时限 passed), each
    a list of rows, by department and code. Cancelled problems are left out."""
    today = calendar.local(as_of).date()

    def row(problem):
        return {"problem_id": problem.id, "code": problem.code, "title": problem.title,
                "department": problem.department,
                "department_name": department_names.get(problem.department, problem.department),
                "deadline": problem.deadline.isoformat() if problem.deadline else None,
                "status": problem.status, "rebounds": problem.rebounds or 0,
                "closed_at": problem.closed_at.isoformat() if problem.closed_at else None}

    order = (Problem.department, Problem.code)
    live = Problem.status != "cancelled"
    new = session.scalars(select(Problem).where(live, Problem.created_at >= start, Problem.created_at < as_of)
                          .order_by(*order))
    closed = session.scalars(select(Problem).where(Problem.status == "closed", Problem.closed_at >= start,
                                                   Problem.closed_at < as_of).order_by(*order))
    overdue = session.scalars(select(Problem).where(
        live, Problem.created_at < as_of, or_(Problem.closed_at.is_(None), Problem.closed_at >= as_of),
        Problem.deadline < today).order_by(*order))
    return {"new": [row(p) for p in new], "closed": [row(p) for p in closed], "overdue": [row(p) for p in overdue]}


def _cut_problems(report, keep):
    """The report with its problem rows limited to those ``keep(row)`` accepts (an older stored
    report without problems stays without)."""
    if "problems" not in report:
        return report
    return {**report, "problems": {group: [row for row in rows if keep(row)]
                                   for group, rows in report["problems"].items()}}


def weekly_for(session, report, actor):
    """A weekly report (fresh from :func:`weekly` or stored in a snapshot) cut to the items
    ``actor`` may see (``access.may_see_item``; SQL twin ``queries.scope``): a leader reads the
    items they lead and their department's, the overseers every item. The report and the item
    agree: a row is never shown for an item that answers 403. Its problem rows likewise: those
    ``access.may_see_problem`` allows (SQL twin ``workflows.rectification.queries.scope``)."""
    report = _problems_for(session, report, actor)
    if access.sees_every_item(actor):
        return report
    ids = [row["item_id"] for group in report["departments"] for row in group["items"]]
    visible = set(session.scalars(queries.scope(select(Item.id), actor).where(Item.id.in_(ids)))) if ids else set()
    groups = [{**group, "items": [row for row in group["items"] if row["item_id"] in visible]}
              for group in report["departments"]]
    groups = [group for group in groups if group["items"]]
    return {**report, "total": sum(len(group["items"]) for group in groups), "departments": groups}


def _problems_for(session, report, actor):
    """The problem rows ``actor`` may see (``access.may_see_problem``; SQL twin of the ledger)."""
    if access.sees_every_problem(actor) or "problems" not in report:
        return report
    from workflows.rectification import queries as problem_queries  # (it imports access, as this does)
    ids = [row["problem_id"] for rows in report["problems"].values() for row in rows]
    visible = set(session.scalars(problem_queries.scope(select(Problem.id), actor).where(Problem.id.in_(ids)))) \
        if ids else set()
    return _cut_problems(report, lambda row: row["problem_id"] in visible)


def weekly_under(session, report, path):
    """A weekly report cut to the groups of the departments in the subtree of ``path``."""
    codes = set(session.scalars(tree.subtree_codes(path)))
    report = _cut_problems(report, lambda row: row["department"] in codes)
    groups = [group for group in report["departments"] if group["department"] in codes]
    return {**report, "total": sum(len(group["items"]) for group in groups), "departments": groups}


def _open_steps_at(session, item_ids, moment):
    steps = {}
    if not item_ids:
        return steps
    for row in session.scalars(select(HumanTask).where(
            HumanTask.business_key.in_(item_ids), HumanTask.created_at < moment,
            or_(HumanTask.candidate_role.is_(None), HumanTask.candidate_role != SUPERVISOR_ROLE),
            or_(HumanTask.completed_at.is_(None), HumanTask.completed_at >= moment))
            .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at)):
        steps.setdefault(row.business_key, []).append(row)
    return steps


def _latest_reports(session, item_ids, moment):
    if not item_ids:
        return {}
    newest = (select(ItemReport.item_id, func.max(ItemReport.id).label("id"))
              .where(ItemReport.item_id.in_(item_ids), ItemReport.submitted_at < moment)
              .group_by(ItemReport.item_id).subquery())
    return {r.item_id: r for r in session.scalars(select(ItemReport).join(newest, ItemReport.id == newest.c.id))}


# -- ranking and year-end statistics --------------------------------------------------------
def _step_counts(session, start, end, as_of):
    """Per department: steps due, on time, overdue, in [start, end)."""
    due_in_period = and_(HumanTask.candidate_department.is_not(None), HumanTask.state != "cancelled",
                         HumanTask.due_at >= start, HumanTask.due_at < end)
    on_time = and_(HumanTask.state == "completed", HumanTask.completed_at <= HumanTask.due_at)
    overdue = or_(and_(HumanTask.state == "completed", HumanTask.completed_at > HumanTask.due_at),
                  and_(HumanTask.state == "open", HumanTask.due_at < as_of))
    rows = session.execute(select(
        HumanTask.candidate_department, func.count(),
        func.sum(case((on_time, 1), else_=0)), func.sum(case((overdue, 1), else_=0)))
        # supervision items' steps only: a join, not IN (SELECT item.id), so that SQLite starts
        # from the month's steps (ix_human_task_department_due) rather than from every item
        .join(Item, Item.id == HumanTask.business_key)
        .where(due_in_period).group_by(HumanTask.candidate_department))
    return {dept: {"steps_due": due, "steps_on_time": int(ok or 0), "overdue_steps": int(late or 0)}
            for dept, due, ok, late in rows}


def _item_counts(session, start, end):
    handled = session.execute(select(Item.department, func.count()).where(
        Item.status != "cancelled", Item.created_at < end,
        or_(Item.closed_at.is_(None), Item.closed_at >= start)).group_by(Item.department))
    score = case(*[(Item.rating == name, score) for name, score in RATING_SCORE.items()], else_=None)
    closed = session.execute(select(Item.department, func.count(), func.sum(score), func.count(score))
                             .where(Item.status == "closed", Item.closed_at >= start, Item.closed_at < end)
                             .group_by(Item.department))
    counts = {dept: {"items_handled": n} for dept, n in handled}
    for dept, n, scores, rated in closed:  # (the sums roll up; the average is taken last)
        counts.setdefault(dept, {"items_handled": 0}).update(items_closed=n, rating_sum=int(scores or 0),
                                                             rated=rated)
    return counts


def _rate(on_time, overdue):
    """The on-time rate (4 decimals), or None when no step was decided."""
    decided = on_time + overdue
    return round(on_time / decided, 4) if decided else None


def _counts_in(session, column, moment_column, start, end):
    return dict(session.execute(select(column, func.count()).where(
        moment_column >= start, moment_column < end).group_by(column)).all())


def _problem_counts(session, calendar, start, end, as_of):
    """Per department: problems due, rectified on time, late (in [start, end)), closed in it.

    The problems due in a period are few (one department's month): their rows are read and
    judged here against local dates, rather than with dialect date functions in SQL."""
    first, last = calendar.local(start).date(), calendar.local(end).date()
    counts = {}

    def add(department, field):
        row = counts.setdefault(department, {"problems_due": 0, "problems_on_time": 0, "problems_late": 0,
                                             "problems_closed": 0})
        row[field] += 1

    for department, deadline, status, closed_at in session.execute(select(
            Problem.department, Problem.deadline, Problem.status, Problem.closed_at).where(
            Problem.status != "cancelled", Problem.deadline >= first, Problem.deadline < last)):
        add(department, "problems_due")
        day_end = calendar.at(deadline + dt.timedelta(days=1), dt.time(0))
        if status == "closed" and closed_at < day_end:
            add(department, "problems_on_time")
        elif (status == "closed" and closed_at >= day_end) or day_end <= as_of:
            add(department, "problems_late")
    for department, n in session.execute(select(Problem.department, func.count()).where(
            Problem.status == "closed", Problem.closed_at >= start, Problem.closed_at < end)
            .group_by(Problem.department)):
        counts.setdefault(department, {"problems_due": 0, "problems_on_time": 0, "problems_late": 0,
                                       "problems_closed": 0})["problems_closed"] = n
    return counts


def _rebound_counts(session, start, end):
    """Per department: 回头看 checks found rebounded in [start, end), of its items and problems."""
    counts = {}
    for model in (Item, Problem):
        for department, n in session.execute(
                select(model.department, func.count()).join(Lookback, Lookback.record_id == model.id)
                .where(Lookback.status == "rebounded", Lookback.checked_at >= start, Lookback.checked_at < end)
                .group_by(model.department)):
            counts[department] = counts.get(department, 0) + n
    return counts


_SUMMED = ("items_handled", "items_closed", "steps_due", "steps_on_time", "overdue_steps", "escalations",
           "measures", "rating_sum", "rated", "problems_due", "problems_on_time", "problems_late",
           "problems_closed", "rebounds")


def _department_rows(session, start, end, now, departments, members=None, calendar=None):
    """One row per department of ``departments`` (``{code: name}``), ranked: a fixed number of
    aggregate queries (steps; items handled; items closed; escalations; measures; problems;
    rebounds), none per department.
    ``members``: ``{code: codes}``, the departments whose figures a row sums (rolled up; by
    default each row its own department's)."""
    as_of = min(end, now)
    steps, items = _step_counts(session, start, end, as_of), _item_counts(session, start, end)
    problems = _problem_counts(session, calendar, start, end, as_of) if calendar is not None else {}
    rebounds = _rebound_counts(session, start, end)
    extra_counts = (
        ("escalations", _counts_in(session, Escalation.department, Escalation.overdue_since, start, end)),
        ("measures", _counts_in(session, Measure.department, Measure.at, start, end)))
    figures = {}
    for code in {c for group in (members or {}).values() for c in group} | set(departments):
        figures[code] = {**items.get(code, {}), **steps.get(code, {}), **problems.get(code, {}),
                         "rebounds": rebounds.get(code, 0)}
        for field, counts in extra_counts:
            figures[code][field] = counts.get(code, 0)
    rows = []
    for code, name in sorted(departments.items()):
        row = {"department": code, "name": name}
        for field in _SUMMED:
            row[field] = sum(figures[member].get(field, 0) for member in (members or {}).get(code, (code,)))
        rated, scores = row.pop("rated"), row.pop("rating_sum")
        row["average_rating"] = round(scores / rated, 2) if rated else None
        row["on_time_rate"] = _rate(row["steps_on_time"], row["overdue_steps"])
        row["rectification_rate"] = _rate(row["problems_on_time"], row["problems_late"])
        row["combined_rate"] = _rate(row["steps_on_time"] + row["problems_on_time"],
                                     row["overdue_steps"] + row["problems_late"])
        rows.append(row)
    rows.sort(key=lambda r: (r["combined_rate"] is None, -(r["combined_rate"] or 0),
                             r["overdue_steps"] + r["problems_late"], -(r["steps_due"] + r["problems_due"]),
                             r["department"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def rolled_up(session, nodes, names):
    """``(departments, members)`` for a ranking of ``nodes`` (``[(code, path)]``, one level of
    the tree) with each node's subtree rolled up: ``{code: name}`` and ``{code: subtree codes}``."""
    members = {code: list(session.scalars(tree.subtree_codes(path))) for code, path in nodes}
    return {code: names.get(code, code) for code, _ in nodes}, members


def ranking(session, calendar, month, now, departments, members=None):
    """The monthly ranking (月度通报排名); ``members``: rolled up (:func:`rolled_up`)."""
    start, end = month_bounds(calendar, month)
    return {"month": month, "start": start.isoformat(), "end": end.isoformat(),
            "as_of": min(end, now).isoformat(),
            "departments": _department_rows(session, start, end, now, departments, members, calendar)}


def year_end(session, calendar, year, now, departments, members=None):
    """Year-end statistics (年度考核): the ranking's measures over a year, plus closure rate, and
    the assessment of accountability (``workflows.supervision.measures.year_scores``): each
    department's ``points_deducted`` and ``score`` (100 − points), ``people`` (points per person
    named by a measure) and the year's ``measures`` with their referral results."""
    start, end = year_bounds(calendar, year)
    rows = _department_rows(session, start, end, now, departments, members, calendar)
    scores, people, recorded = measures.year_scores(session, year, departments, members)
    for row in rows:
        row["closure_rate"] = (round(row["items_closed"] / row["items_handled"], 4)
                               if row["items_handled"] else None)
        row.update(scores[row["department"]])
    return {"year": year, "start": start.isoformat(), "end": end.isoformat(),
            "as_of": min(end, now).isoformat(), "departments": rows, "people": people,
            "measures": [_measure_row(m) for m in recorded]}


def _measure_row(row):
    return {"id": row.id, "department": row.department, "measure": row.measure, "kind": row.kind,
            "points": row.points or 0, "people": row.people or [], "item_id": row.item_id,
            "problem_id": row.problem_id, "referral": row.referral, "referral_result": row.referral_result,
            "at": row.at.isoformat()}


def circular_summary(report, title):
    """The circular's generated sentences: totals, who was fully on time, who had overdue steps;
    then the problems' rectification and the rebounds 回头看 found (a stored ranking from before
    problems were counted has none of their figures, and no sentence about them)."""
    return _steps_summary(report["departments"], title) + _problems_summary(report["departments"], title)


def _problems_summary(rows, title):
    if not rows or "problems_due" not in rows[0]:
        return []
    due, closed = sum(r["problems_due"] for r in rows), sum(r["problems_closed"] for r in rows)
    on_time, late = sum(r["problems_on_time"] for r in rows), sum(r["problems_late"] for r in rows)
    sentences = []
    if due or closed:
        sentences.append(f"问题整改方面，{title}到期应整改问题{due}个，按期整改{on_time}个，逾期{late}个"
                         + (f"，整改按期率{on_time / (on_time + late) * 100:.1f}%" if on_time + late else "")
                         + f"；销号问题{closed}个。")
        lagging = [r for r in rows if r["problems_late"]]
        if lagging:
            sentences.append("、".join(f"{r['name']}（{r['problems_late']}个）" for r in lagging)
                             + "存在逾期未整改问题，请限期整改到位。")
    rebounded = [r for r in rows if r["rebounds"]]
    if rebounded:
        sentences.append("回头看发现问题反弹：" + "、".join(f"{r['name']}（{r['rebounds']}个）" for r in rebounded)
                         + "，已重新整改，请举一反三、防止反弹。")
    return sentences


def _steps_summary(rows, title):
    due = sum(r["steps_due"] for r in rows)
    on_time = sum(r["steps_on_time"] for r in rows)
    overdue = sum(r["overdue_steps"] for r in rows)
    if not due:
        return [f"{title}无到期的督办办理环节。"]
    sentences = [f"{title}各部门应办环节共{due}个，按时办理{on_time}个，超期{overdue}个"
                 + (f"，总体按时办理率{on_time / (on_time + overdue) * 100:.1f}%。" if on_time + overdue else "，均未到期。")]
    perfect = [r["name"] for r in rows if r["on_time_rate"] == 1]
    late = [r for r in rows if r["overdue_steps"]]
    if perfect:
        sentences.append("、".join(perfect) + "按时办理率为100%，予以表扬。")
    if late:
        sentences.append("、".join(f"{r['name']}（{r['overdue_steps']}个）" for r in late)
                         + "存在超期办理环节，请抓紧整改落实，按期报送办理进展。")
    else:
        sentences.append(f"{title}无超期办理环节。")
    return sentences



def ranking_trend(session, calendar, month, now, departments, months=12):
    """On-time rate per month for the ``months`` months ending with ``month``: overall and per department.

    One aggregate query per month (:func:`_step_counts`, the only figures a rate needs; the
    ranking's other counts are not read). That is fine at this scale — a dozen months; a
    single query grouped by month would be the next step if it ever shows in a profile.
    Leading months in which no step was decided are dropped, but at least 6 months are kept
    so the axis reads as a trend.
    """
    rows = []
    for each in months_up_to(month, months):
        start, end = month_bounds(calendar, each)
        counts = _step_counts(session, start, end, min(end, now))
        on_time = sum(c["steps_on_time"] for c in counts.values())
        overdue = sum(c["overdue_steps"] for c in counts.values())
        rows.append((each, _rate(on_time, overdue),
                     {code: _rate(c["steps_on_time"], c["overdue_steps"]) for code, c in counts.items()}))
    while len(rows) > 6 and rows[0][1] is None:
        rows.pop(0)
    return {"months": [m for m, _, _ in rows], "overall": [rate for _, rate, _ in rows],
            "departments": [{"department": code, "name": name,
                             "rates": [by_department.get(code) for _, _, by_department in rows]}
                            for code, name in sorted(departments.items())]}
