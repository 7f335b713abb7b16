"""暂存: a person's draft of a task's form, saved without completing the task.

A draft is stored per task and person (``task_draft``), whole: the API's ``PUT
/api/v1/tasks/{id}/draft`` and the task page's 暂存 button replace it. It is not checked
against the form (half-filled is the point), only for being a JSON object of at most
:data:`MAX_BYTES`. Only someone who may work the open task (``engine.tasks.may_work``) saves
one. The task page prefills from the caller's draft first, else from a returned step's previous
answers (``workflows.returns``), else the task's data.

When the task completes, its drafts are deleted by a ``task_completed`` listener, in the
completion's own transaction, so a draft never outlives its task's form. (A task that is
cancelled keeps its drafts: nobody can read them, since a draft is only shown on an open task.)
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy import delete
from sqlalchemy.orm import Mapped, mapped_column

from engine.errors import Conflict, Forbidden
from engine.models import Base
from engine.scripting import check_data_size
from engine.tasks import may_work

MAX_BYTES = 65536  # a form's worth of text; a completion's own limit is [scripts] max_data_bytes


class TaskDraft(Base):
    __tablename__ = "task_draft"

    task_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    data: Mapped[dict] = mapped_column(sa.JSON)
    saved_at: Mapped[dt.datetime]


def get(session, task, username):
    """The data of ``username``'s draft of open ``task``, or None."""
    if task.state != "open":
        return None
    row = session.get(TaskDraft, (task.id, username))
    return dict(row.data) if row is not None else None


def save(rt, task, actor, data):
    """Store ``data`` as ``actor``'s draft of ``task`` (replacing theirs); returns the row.

    Forbidden ``not_yours`` unless ``actor`` may work the task, Conflict ``task_closed`` when it
    is no longer open, InvalidInput ``data_too_large`` over :data:`MAX_BYTES`."""
    if not may_work(actor, task):
        raise Forbidden(f"task {task.id} is not yours to work", reason="not_yours")
    if task.state != "open":
        raise Conflict(f"task {task.id} is already {task.state}", reason="task_closed")
    check_data_size(data, MAX_BYTES, "the draft")
    with rt.db.write() as session:
        row = session.get(TaskDraft, (task.id, actor.username))
        if row is None:
            row = TaskDraft(task_id=task.id, username=actor.username)
            session.add(row)
        row.data, row.saved_at = data, rt.clock.now()
        session.flush()
        return row


def _clear(event):
    event.session.execute(delete(TaskDraft).where(TaskDraft.task_id == event.task_id))


def register(registry):
    registry.on("task_completed")(_clear)
