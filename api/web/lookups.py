"""Lookups the pages show names with: departments and people by code, records by id, task titles.

Each reads the database in a short transaction of its own; none checks access — a page looks
up only what it already may show (names of departments and people are visible to everyone
logged in).
"""
import functools

from flask import g
from sqlalchemy import func, select

from api.models import Department, User
from api.runtime import engine
from engine.definitions import parse_xml
from engine.models import Definition, HumanTask, Instance
from workflows import access, departments as tree
from workflows.rectification.models import Problem
from workflows.supervision.models import Item


def department_names():
    """``{code: name}`` of every department."""
    with engine().db.read() as db:
        return {d.code: d.name for d in db.scalars(select(Department).order_by(Department.code))}


def registrable_departments(actor):
    """The departments ``actor`` may name when registering an item or a problem, by code: a
    county's registrar those of its subtree (``access.confinement``), anyone else all."""
    subtree = access.confinement(actor)
    query = select(Department).order_by(Department.code)
    with engine().db.read() as db:
        return list(db.scalars(query.where(tree.within(Department.path, subtree)) if subtree else query))


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


@functools.lru_cache(maxsize=64)
def _element_names(definition_id, source):
    """``{element id: name}`` of one deployed version (immutable: cached by its id)."""
    root = parse_xml(source.encode("utf-8") if isinstance(source, str) else source)
    return {node.get("id"): node.get("name") for node in root.iter() if node.get("id") and node.get("name")}


def element_names(db, definition_id):
    """The names the designer gave the elements (steps, timers, events) of a deployed version."""
    definition = db.get(Definition, definition_id)
    return _element_names(definition.id, definition.source) if definition is not None else {}


def process_names():
    """``{key: name}`` of every deployed process and decision: its latest version's ``name`` (the
    BPMN process's, e.g. 督查督办), else its key. Cached for the request (pages ask per row)."""
    if "process_names" not in g:
        with engine().db.read() as db:
            rows = db.execute(select(Definition.key, Definition.name).order_by(Definition.key, Definition.version))
            g.process_names = {key: name or key for key, name in rows}  # the latest version wins
    return g.process_names


def process_label(key):
    """A process key as the pages show it (:func:`process_names`); a key never deployed as is."""
    return process_names().get(key, key) if key else ""


def process_name(db, instance):
    """An instance's process as users know it: the BPMN process's ``name`` (e.g. 督查督办), else
    its key."""
    definition = db.get(Definition, instance.definition_id)
    return (definition.name if definition is not None and definition.name else instance.definition_key)


def task_titles_of(db, business_key):
    """The titles of a record's tasks, by task key and by task id (a timeline names either), and
    the names of its processes' other elements (a timer that fired: 催办, not ``remind_report``)."""
    titles = {}
    definitions = db.scalars(select(Instance.definition_id).where(Instance.business_key == business_key)
                             .distinct()).all()
    for definition_id in definitions:
        titles.update(element_names(db, definition_id))
    rows = db.execute(select(HumanTask.id, HumanTask.key, HumanTask.title)
                      .where(HumanTask.business_key == business_key)).all()
    titles.update({row.key: row.title for row in rows if row.title})
    titles.update({row.id: row.title for row in rows if row.title})
    return titles


@functools.lru_cache(maxsize=64)
def _user_tasks(definition_id, source):
    """``[(task key, name)]`` of a deployed version's user tasks (immutable: cached by its id)."""
    root = parse_xml(source.encode("utf-8") if isinstance(source, str) else source)
    return [(node.get("id"), node.get("name") or node.get("id"))
            for node in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}userTask")]


def task_kinds():
    """``{process key: [(task key, name)]}`` of the latest version of every deployed process:
    the kinds of step the inbox filters by."""
    with engine().db.read() as db:
        newest = (select(Definition.key, func.max(Definition.version).label("version"))
                  .where(Definition.kind == "bpmn").group_by(Definition.key).subquery())
        rows = db.scalars(select(Definition).join(newest, (Definition.key == newest.c.key)
                                                  & (Definition.version == newest.c.version))
                          .order_by(Definition.key))
        return {row.key: _user_tasks(row.id, row.source) for row in rows}
