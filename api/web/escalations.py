"""督查台: the supervisors' escalation desk.

NOT WIRED YET. Escalations (overdue steps opened for supervisors, the accountability ladder
decided by DMN, measures confirmed by a supervisor) are being built in parallel, with
``GET /api/v1/escalations?state=open|handled`` and ``GET /api/v1/measures``. This page is the
shell and its navigation only: it shows no escalation data until that query exists — wire
it here (read the escalation table through its query module, within the caller's scope)
and fill the table in ``escalations.html``. Nothing here is made up.
"""
from flask import g, render_template, request

from api.present import Presenter
from api.web import bp
from api.web.inbox import items_by_id
from api.web.session import engine, roles_required


@bp.get("/escalations")
@roles_required("supervisor")
def escalations():
    state = request.args.get("state") if request.args.get("state") in ("open", "handled") else "open"
    rt = engine()
    rows, _total = rt.tasks.inbox(g.actor, limit=200)
    presenter = Presenter(rt)
    tasks = [presenter.task(r) for r in rows if r.candidate_role == "supervisor" or r.key == "handle_escalation"]
    return render_template("escalations.html", state=state, tasks=tasks,
                           items=items_by_id(t["item_id"] for t in tasks))
