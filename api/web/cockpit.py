"""驾驶舱 (the leader's cockpit): one page of the figures leaders and the secretariat watch.

The figures are ``api.cockpit.read``'s — the API's answer, computed once
(``workflows.supervision.cockpit`` defines them): open items and problems by light, overdue
steps by department, this week's due steps, the month's ranking ends and 12 weeks of items
registered and closed. Charts are ECharts (``charts.js``) over the same figures embedded as JSON.
Readers: leaders (their own items), the secretariat, supervisors and admins (everything).
"""
from flask import g, render_template

from api import cockpit as api_cockpit
from api.web import bp
from api.web.reports import month_title
from api.web.session import roles_required
from workflows.supervision import reports

READERS = api_cockpit.READERS


@bp.get("/cockpit")
@roles_required(*READERS)
def cockpit():
    figures = api_cockpit.read(g.actor)
    weeks = figures["trend"]["weeks"]
    chart = {
        "lights": figures["items"], "problem_lights": figures["problems"],
        "overdue": [{"name": row["name"], "steps": row["overdue_steps"], "records": row["records"]}
                    for row in figures["overdue_by_department"]],
        "flow": {"weeks": [f"第{int(week['week'][-2:])}周" for week in weeks],
                 "titles": [reports.week_title(week["week"]) for week in weeks],
                 "registered": [week["registered"] for week in weeks],
                 "closed": [week["closed"] for week in weeks]},
    }
    return render_template("cockpit.html", figures=figures, chart=chart, month=month_title(figures["ranking"]["month"]),
                           week=reports.week_title(weeks[-1]["week"]),
                           registered=sum(w["registered"] for w in weeks), closed=sum(w["closed"] for w in weeks))
