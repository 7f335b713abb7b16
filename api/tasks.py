"""Tasks: the caller's inbox, task details with form, claim / unclaim / assign, complete, comments."""
from apiflask import APIBlueprint
from apiflask.fields import Integer, String
from apiflask.validators import Length, OneOf, Range
from sqlalchemy import func, select

from api.auth import current_actor, token_auth
from api.models import Department, TaskComment, User
from api.present import Presenter, iso
from api.runtime import engine
from api.schemas import (AssignIn, CommentIn, CommentOut, CommentPage, CompleteIn, CompleteOut, DraftIn,
                         DraftOut, Page, TaskDetailOut, TaskOut, TaskPage)
from api.web.paging import MAX_PAGE
from engine import forms
from engine.errors import Forbidden, InvalidInput, problem
from engine.models import Definition
from engine.tasks import SORTS
from workflows import access, drafts, returns
from workflows import inbox as filters

bp = APIBlueprint("tasks", __name__, url_prefix="/api/v1", tag="Tasks")


class InboxQuery(Page):
    item_id = String(validate=Length(1, 200))
    instance_id = String(validate=Length(1, 200))
    state = String(load_default="open", validate=OneOf(("open", "done")))  # done: the caller's 已办
    process = String(validate=Length(1, 200))
    key = String(validate=Length(1, 200))
    light = String(validate=OneOf(filters.LIGHTS))
    department = String(validate=Length(1, 100))
    q = String(validate=Length(1, 100))
    sort = String(load_default="due", validate=OneOf(SORTS))
    page = Integer(validate=Range(1, MAX_PAGE))  # instead of offset: (page - 1) × limit


def visible_task(task_id):
    """The task if the caller may see it (``workflows.access.may_see_task``); else 403."""
    return access.visible_task(engine(), current_actor(), task_id)


@bp.get("/tasks")
@bp.auth_required(token_auth)
@bp.input(InboxQuery, location="query", arg_name="query")
@bp.output(TaskPage)
@bp.doc(summary="The caller's inbox: open tasks assigned to or claimable by the caller, by due time; "
                "filtered by process, key, light, department, q; ?state=done: the tasks the caller completed, "
                "newest first", responses=[400])
def inbox(query):
    rt, actor = engine(), current_actor()
    offset = (query["page"] - 1) * query["limit"] if "page" in query else query["offset"]
    scope = access.task_scope(actor)
    presenter = Presenter(rt)
    if query["state"] == "done":
        rows, total = rt.tasks.done(actor, limit=query["limit"], offset=offset)
        return {"items": [presenter.task(r) for r in rows], "total": total}
    check_filters(rt, query)
    where = filters.conditions(rt.calendar, presenter.now, process=query.get("process"), key=query.get("key"),
                             light=query.get("light"), department=query.get("department"), q=query.get("q"))
    rows, total = rt.tasks.inbox(actor, instance_id=query.get("instance_id"), business_key=query.get("item_id"),
                                 limit=query["limit"], offset=offset, where=where, sort=query["sort"],
                                 scope=scope)
    with rt.db.read() as session:
        marks = returns.returned_tasks(session, rows)
    return {"items": [presenter.task(r, marks) for r in rows], "total": total,
            "overdue": rt.tasks.count_overdue(actor, presenter.now, scope=scope)}


def check_filters(rt, query):
    """InvalidInput for a ``process`` never deployed or a ``department`` that does not exist:
    a filter naming nothing is a mistake, not an empty inbox."""
    problems = []
    with rt.db.read() as session:
        process, department = query.get("process"), query.get("department")
        if process and session.scalar(select(Definition.id).where(Definition.key == process).limit(1)) is None:
            problems.append(problem("process", "unknown_process", f"no deployed process {process!r}"))
        if department and session.get(Department, department) is None:
            problems.append(problem("department", "unknown_department", f"unknown department {department!r}"))
    if problems:
        raise InvalidInput("unknown filter value", problems)


@bp.get("/tasks/<task_id>")
@bp.auth_required(token_auth)
@bp.output(TaskDetailOut)
@bp.doc(summary="A task with its form (JSON Schema) and data", responses=[403, 404])
def get_task(task_id):
    task = visible_task(task_id)
    rt = engine()
    with rt.db.read() as session:
        back = returns.returned(session, task)
        draft = drafts.get(session, task, current_actor().username)
    body = Presenter(rt).task(task, {task.id: back} if back else {})
    spec = rt.tasks.task_spec(task)
    body.update(form=forms.form_schema(spec), data=task.data, documentation=spec.documentation, draft=draft)
    return body


@bp.put("/tasks/<task_id>/draft")
@bp.auth_required(token_auth)
@bp.input(DraftIn, arg_name="body")
@bp.output(DraftOut)
@bp.doc(summary="暂存: save the caller's draft of an open task's form (not validated; cleared on completion)",
        responses=[400, 403, 404, 409])
def save_draft(task_id, body):
    rt = engine()
    row = drafts.save(rt, visible_task(task_id), current_actor(), body["data"])
    return {"task_id": row.task_id, "data": row.data, "saved_at": iso(row.saved_at)}


@bp.post("/tasks/<task_id>/complete")
@bp.auth_required(token_auth)
@bp.input(CompleteIn, arg_name="body")
@bp.output(CompleteOut)
@bp.doc(summary="Complete a task with its form data", responses=[400, 403, 404, 409])
def complete(task_id, body):
    rt = engine()
    row, opened = rt.tasks.complete(task_id, body["data"], current_actor())
    presenter = Presenter(rt)
    return {"task": presenter.task(row), "next_tasks": [presenter.task(t) for t in opened]}


@bp.post("/tasks/<task_id>/claim")
@bp.auth_required(token_auth)
@bp.output(TaskOut)
@bp.doc(summary="Claim a task: it becomes the caller's", responses=[403, 404, 409])
def claim(task_id):
    rt = engine()
    visible_task(task_id)  # within a confined overseer's subtree (``access.may_see_task``)
    return Presenter(rt).task(rt.tasks.claim(task_id, current_actor()))



@bp.post("/tasks/<task_id>/unclaim")
@bp.auth_required(token_auth)
@bp.output(TaskOut)
@bp.doc(summary="Give a claimed task back to its candidates", responses=[403, 404, 409])
def unclaim(task_id):
    rt, actor = engine(), current_actor()
    task = rt.tasks.get(task_id)
    return Presenter(rt).task(rt.tasks.unclaim(task_id, actor, override=access.overrides_task(rt, actor, task)))


@bp.post("/tasks/<task_id>/assign")
@bp.auth_required(token_auth)
@bp.input(AssignIn, arg_name="body")
@bp.output(TaskOut)
@bp.doc(summary="Assign a task to a user (supervisor, leader or admin)", responses=[400, 403, 404, 409])
def assign(task_id, body):
    rt = engine()
    return Presenter(rt).task(assign_task(rt, current_actor(), visible_task(task_id), body["username"]))


def assign_task(rt, actor, task, username):
    """Give ``task`` to ``username`` (the API's and the task page's assign): Forbidden unless
    ``actor`` may override the task (``workflows.access.may_override_task``), InvalidInput
    (field ``username``) unless ``username`` is an active user; Conflict when the task changed."""
    if not access.overrides_task(rt, actor, task):
        raise Forbidden("only supervisors, admins and the item's leader assign this task",
                        reason="may_not_assign")
    with rt.db.read() as session:
        user = session.get(User, username)
    if user is None or not user.active:
        raise InvalidInput(f"no active user {username!r}", [problem("username", "unknown_user", "unknown user")])
    return rt.tasks.assign(task.id, username, actor)


@bp.get("/tasks/<task_id>/comments")
@bp.auth_required(token_auth)
@bp.input(Page, location="query", arg_name="page")
@bp.output(CommentPage)
@bp.doc(summary="Comments on a task, oldest first", responses=[403, 404])
def comments(task_id, page):
    visible_task(task_id)
    with engine().db.read() as session:
        rows, total = task_comments(session, task_id, page["limit"], page["offset"])
        return {"items": [comment_out(r) for r in rows], "total": total}


def task_comments(session, task_id, limit=50, offset=0):
    """``(rows, total)``: a task's comments, oldest first."""
    query = select(TaskComment).where(TaskComment.task_id == task_id)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    return list(session.scalars(query.order_by(TaskComment.id).limit(limit).offset(offset))), total


@bp.post("/tasks/<task_id>/comments")
@bp.auth_required(token_auth)
@bp.input(CommentIn, arg_name="body")
@bp.output(CommentOut, status_code=201)
@bp.doc(summary="Comment on a task", responses=[400, 403, 404])
def add_comment(task_id, body):
    task = visible_task(task_id)
    return comment_out(add_task_comment(engine(), task, current_actor(), body["body"]))


def add_task_comment(rt, task, actor, text):
    """Store a comment on ``task`` with its audit record (one transaction); returns the row."""
    with rt.db.write() as session:
        comment = TaskComment(task_id=task.id, author=actor.username, body=text, created_at=rt.clock.now())
        session.add(comment)
        session.flush()
        rt.audit.append(session, "task_commented", actor=actor.username, instance_id=task.instance_id,
                        business_key=task.business_key, data={"task": task.key, "task_id": task.id,
                                                              "comment": text})
        return comment


def comment_out(row):
    return {"id": row.id, "task_id": row.task_id, "author": row.author, "body": row.body,
            "created_at": iso(row.created_at)}


