"""The supervision loop's periodic jobs: the weekly report (周报) and the monthly ranking (月度排名).

- ``weekly_report``: due from 12:00 on the week's reporting day (Friday, or the last working
  day before it when Friday is not one — the same rule as the progress reports' due time);
  stores the week's report as a snapshot and tells leaders and the secretariat it is ready.
- ``monthly_ranking``: due from the first moment of a month; stores the previous month's
  ranking of every department of the organisation (``Directory.departments``, the same list
  the live ranking ranks) as a snapshot — the figures of record for the circular, with the
  departments' names as they were — and tells the secretariat.
The weekly snapshot keeps department codes (its groups are the items' departments); pages
resolve names when they show them.
"""
import datetime as dt

from workflows.supervision import reports
from workflows.supervision.deadlines import REPORT_TIME, reporting_day
from workflows.supervision.models import Notification, ReportSnapshot


def weekly_occurrence(engine, now):
    local = engine.calendar.local(now)
    monday = local.date() - dt.timedelta(days=local.weekday())
    day = reporting_day(engine.calendar, monday)
    if day is None or local < engine.calendar.at(day, REPORT_TIME):
        return None
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def monthly_occurrence(engine, now):
    local = engine.calendar.local(now)
    last_month = local.date().replace(day=1) - dt.timedelta(days=1)
    return f"{last_month.year}-{last_month.month:02d}"


def _notify(engine, session, roles, kind, title, body, now):
    usernames = {username for role in roles
                 for username in engine.registry.directory.users(session, role=role)}
    session.add_all(Notification(username=username, kind=kind, title=title, body=body,
                                 created_at=now) for username in sorted(usernames))


def run_weekly(engine, session, week, now):
    data = reports.weekly(session, engine.calendar, week, now, engine.registry.directory.departments(session))
    session.add(ReportSnapshot(kind="weekly", period=week, created_at=now, data=data))
    _notify(engine, session, ("leader", "secretariat"), "weekly_report", f"{reports.week_title(week)}督办周报已生成",
            f"本周在办事项 {data['total']} 项。", now)


def run_monthly(engine, session, month, now):
    departments = reports.ranked_departments(session, engine.registry.directory)
    data = reports.ranking(session, engine.calendar, month, now, departments)
    session.add(ReportSnapshot(kind="ranking", period=month, created_at=now, data=data))
    _notify(engine, session, ("secretariat",), "monthly_ranking", f"{reports.month_title(month)}月度通报排名已生成",
            "可在“月度通报排名”中查看并打印通报。", now)


def register(registry):
    registry.periodic("weekly_report", weekly_occurrence, run_weekly)
    registry.periodic("monthly_ranking", monthly_occurrence, run_monthly)
