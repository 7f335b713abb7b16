"""Lights (预警): green = on track, yellow = due within the warning window, red = overdue.

Shared by every shipped process (supervision items, rectification problems): computed from
the ``human_task`` projection's due times and the clock — never by loading workflows — so
they are always current: no job has to "turn" a light when time passes.
The warning window is ``[calendar] warning_working_days`` working days (1 by default).
A record's light (an item's, a problem's) is its worst open step's: the open tasks carrying
the record's id as business key.
"""
from sqlalchemy import and_, exists, select

from engine.models import HumanTask
from engine.tasks import OPEN

ORDER = {"green": 0, "yellow": 1, "red": 2}


def thresholds(calendar, now):
    """``(now, warning_limit)``: due before now is red, before warning_limit yellow.

    ``warning_limit`` is never before ``now`` (even with a negative warning window), so every
    record due before now is also due before the limit: counts may take yellow as a difference.
    """
    return now, max(now, calendar.add_working_days(now, calendar.warning_working_days))


def light(due_at, now, warning_limit):
    if due_at is None:
        return "green"
    if due_at < now:
        return "red"
    return "yellow" if due_at < warning_limit else "green"


def worst(lights):
    return max(lights, key=ORDER.__getitem__, default="green")


def due_before(moment):
    """The business keys of the open tasks due before ``moment``: for a red or yellow light, one
    short range of ``ix_human_task_open_due``."""
    return select(HumanTask.business_key).where(HumanTask.state == OPEN, HumanTask.due_at.is_not(None),
                                                HumanTask.due_at < moment)


def has_task_due_before(item_id_column, moment, from_tasks=False):
    """A SQL condition: the record (``item_id_column``: its id, never NULL) has an open task due
    before ``moment``.

    By default a correlated ``EXISTS``: right for walking a list in order or for a few thousand
    records, each probed on ``ix_human_task_open_item``. ``from_tasks`` writes it as ``IN`` the
    keys of the tasks due that soon (``due_before``), so that SQLite drives a count over many
    records (all items) from those few tasks instead of probing every record; PostgreSQL plans
    both forms as the same semi-join. Negate only the default form: ``NOT IN`` would drop every
    record once some task has no business key.
    """
    if from_tasks:
        return item_id_column.in_(due_before(moment))
    return exists(select(HumanTask.id).where(
        HumanTask.business_key == item_id_column, HumanTask.state == OPEN,
        HumanTask.due_at.is_not(None), HumanTask.due_at < moment))


def item_light_filter(item_id_column, wanted, now, warning_limit, from_tasks=False):
    """A SQL condition selecting the records whose light is ``wanted``: items, problems — any
    column holding the business key of the records' tasks.

    ``from_tasks`` as for ``has_task_due_before``, for the positive part (red; yellow's "due
    before the limit"). Yellow tests "due before the warning limit" first: SQLite evaluates the
    conditions in the order written, and few records pass that one, so "not red" is probed for
    those few only.
    """
    if wanted == "red":
        return has_task_due_before(item_id_column, now, from_tasks)
    if wanted == "yellow":
        return and_(has_task_due_before(item_id_column, warning_limit, from_tasks),
                    ~has_task_due_before(item_id_column, now))
    return ~has_task_due_before(item_id_column, warning_limit)
