"""待办: the caller's inbox — the open tasks they may work, due first, with how many are overdue.

The same query as ``GET /api/v1/tasks`` (``engine.tasks.inbox``); each task names its item or
problem, and a step sent back (``workflows.returns``) is marked 退回. A task's own page is ``api.web.tasks``.
"""
from flask import g, render_template

from api.present import Presenter
from api.runtime import engine
from api.web import bp
from api.web.lookups import department_names, items_by_id, problems_by_id, user_names
from api.web.session import login_required
from workflows import access, returns

INBOX_LIMIT = 200


@bp.get("/inbox")
@login_required
def inbox():
    rt = engine()
    scope = access.task_scope(g.actor)
    rows, total = rt.tasks.inbox(g.actor, limit=INBOX_LIMIT, scope=scope)
    presenter = Presenter(rt)
    with rt.db.read() as session:
        marks = returns.returned_tasks(session, rows)
    tasks = [presenter.task(r, marks) for r in rows]
    return render_template("inbox.html", tasks=tasks, total=total,
                           overdue=rt.tasks.count_overdue(g.actor, presenter.now, scope=scope),
                           items=items_by_id(t["item_id"] for t in tasks),
                           problems=problems_by_id(t["item_id"] for t in tasks),
                           departments=department_names(), users=user_names())
