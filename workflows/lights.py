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
    """``(now, warning_limit)``: due before now is red, before warning_limit yellow."""
    return now, calendar.add_working_days(now, calendar.warning_working_days)


def light(due_at, now, warning_limit):
    if due_at is None:
        return "green"
    if due_at < now:
        return "red"
    return "yellow" if due_at < warning_limit else "green"


def worst(lights):
    return max(lights, key=ORDER.__getitem__, default="green")


def _open_due_before(item_id_column, moment):
    return exists(select(HumanTask.id).where(
        HumanTask.business_key == item_id_column, HumanTask.state == OPEN,
        HumanTask.due_at.is_not(None), HumanTask.due_at < moment))


def item_light_filter(item_id_column, wanted, now, warning_limit):
    """A SQL condition selecting the records whose light is ``wanted``: items, problems — any
    column holding the business key of the records' tasks."""
    red = _open_due_before(item_id_column, now)
    yellow = _open_due_before(item_id_column, warning_limit)
    return {"red": red, "yellow": and_(~red, yellow), "green": ~yellow}[wanted]
