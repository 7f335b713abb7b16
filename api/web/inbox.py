"""待办 and 已办: the caller's open tasks, filtered, sorted and paged, and the tasks they completed.

The same queries as ``GET /api/v1/tasks`` (``engine.tasks.inbox`` with the filters of
``workflows.inbox``) and ``GET /api/v1/tasks?state=done`` (``engine.tasks.done``). Each task
names its item or problem; a step sent back (``workflows.returns``) is marked 退回; the
剩余工作日 column counts working days to the due date on the engine's calendar. A filter value
that names nothing on the page's lists (an edited link) reads as no filter, like a bad page
number (``api.web.paging``). A task's own page is ``api.web.tasks``.
"""
from flask import g, render_template, request

from api.present import Presenter
from api.runtime import engine
from api.web import bp, paging
from api.web.lookups import (department_names, items_by_id, problems_by_id, process_names, task_kinds,
                             user_names)
from api.web.session import login_required
from engine.tasks import SORTS
from workflows import access, returns
from workflows import inbox as filters

PAGE = 50
SORT_NAMES = {"due": "办理时限由近到远", "due_desc": "办理时限由远到近", "created": "最新到达"}


def _filters(kinds, departments):
    """The page's filters from the query string: only values its own lists offer."""
    args = request.args
    process = args.get("process") if args.get("process") in kinds else None
    keys = {key for process_kinds in kinds.values() for key, _name in process_kinds}
    return {"process": process,
            "key": args.get("key") if args.get("key") in keys else None,
            "light": args.get("light") if args.get("light") in filters.LIGHTS else None,
            "department": args.get("department") if args.get("department") in departments else None,
            "q": args.get("q", "").strip()[:100] or None}


@bp.get("/inbox")
@login_required
def inbox():
    rt = engine()
    scope = access.task_scope(g.actor)
    presenter = Presenter(rt)
    kinds, departments = task_kinds(), department_names()
    chosen = _filters(kinds, departments)
    sort = request.args.get("sort") if request.args.get("sort") in SORTS else "due"
    page = paging.page_number()
    rows, total = rt.tasks.inbox(g.actor, limit=PAGE, offset=(page - 1) * PAGE, sort=sort, scope=scope,
                                 where=filters.conditions(rt.calendar, presenter.now, **chosen))
    with rt.db.read() as session:
        marks = returns.returned_tasks(session, rows)
    tasks = [presenter.task(r, marks) for r in rows]
    for task in tasks:
        task["days_left"] = filters.days_left_words(task["working_days_left"], task["light"] == "red")
    names = process_names()
    params = {name: value for name, value in {**chosen, "sort": sort}.items() if value and value != "due"}
    return render_template("inbox.html", tab="open", tasks=tasks, total=total, page=page,
                           pages=max((total + PAGE - 1) // PAGE, 1), params=params, chosen=chosen, sort=sort,
                           sorts=SORT_NAMES, overdue=rt.tasks.count_overdue(g.actor, presenter.now, scope=scope),
                           processes={key: names.get(key, key) for key in kinds},
                           kinds=_kind_options(kinds, chosen["process"]),
                           items=items_by_id(t["item_id"] for t in tasks),
                           problems=problems_by_id(t["item_id"] for t in tasks),
                           departments=departments, users=user_names())


def _kind_options(kinds, process):
    """``[(task key, name)]`` for the 环节 filter: the chosen process's steps, else every process's
    (a key two processes share is listed once)."""
    options = {}
    for key in ([process] if process else sorted(kinds)):
        for task_key, name in kinds[key]:
            options.setdefault(task_key, name)
    return list(options.items())


@bp.get("/done")
@login_required
def done():
    """已办: the tasks the caller completed, newest first."""
    rt = engine()
    presenter = Presenter(rt)
    page = paging.page_number()
    rows, total = rt.tasks.done(g.actor, limit=PAGE, offset=(page - 1) * PAGE)
    tasks = [presenter.task(r) for r in rows]
    return render_template("inbox.html", tab="done", tasks=tasks, total=total, page=page,
                           pages=max((total + PAGE - 1) // PAGE, 1), params={},
                           items=items_by_id(t["item_id"] for t in tasks),
                           problems=problems_by_id(t["item_id"] for t in tasks),
                           departments=department_names(), users=user_names())
