"""Lookups the pages show names with: departments and people by code, records by id, task titles.

Each reads the database in a short transaction of its own; none checks access — a page looks
up only what it already may show (names of departments and people are visible to everyone
logged in).
"""
from sqlalchemy import select

from api.models import Department, User
from api.runtime import engine
from engine.models import HumanTask
from workflows.rectification.models import Problem
from workflows.supervision.models import Item


def department_names():
    """``{code: name}`` of every department."""
    with engine().db.read() as db:
        return {d.code: d.name for d in db.scalars(select(Department).order_by(Department.code))}


def user_names():
    """``{username: display name}`` of every user, active or not (old records name them)."""
    with engine().db.read() as db:
        return {u.username: u.display_name for u in db.scalars(select(User))}


def _by_id(model, ids):
    ids = [i for i in set(ids) if i]
    if not ids:
        return {}
    with engine().db.read() as db:
        return {row.id: row for row in db.scalars(select(model).where(model.id.in_(ids)))}


def items_by_id(ids):
    """``{id: Item}`` of those of ``ids`` that are items (others, e.g. problem ids, are left out)."""
    return _by_id(Item, ids)


def problems_by_id(ids):
    """``{id: Problem}`` of those of ``ids`` that are problems."""
    return _by_id(Problem, ids)


def task_titles_of(db, business_key):
    """The titles of a record's tasks, by task key and by task id (a timeline names either)."""
    rows = db.execute(select(HumanTask.id, HumanTask.key, HumanTask.title)
                      .where(HumanTask.business_key == business_key)).all()
    titles = {row.key: row.title for row in rows if row.title}
    titles.update({row.id: row.title for row in rows if row.title})
    return titles
