"""The department tree as the domains read it (issue 16).

The ``department`` table belongs to the application (``api.models.Department``); workflows never
imports api, so this names the columns it reads as a plain Core table. A department's
``path`` is its codes from the root down ("/city/county/bureau/"): a subtree is the rows whose
path starts with the subtree root's path.
"""
import sqlalchemy as sa
from sqlalchemy import and_, func, select

DEPARTMENT = sa.table("department", sa.column("code", sa.String), sa.column("path", sa.String),
                      sa.column("parent_code", sa.String), sa.column("name", sa.String))


def is_root(path):
    """Whether ``path`` is a root department's ("/city/")."""
    return path.count("/") <= 2


def within(column, path):
    """``column`` (a path) lies in the subtree of ``path``: the prefix as a LIKE, which an index
    serves on PostgreSQL, and compared exactly (SQLite's LIKE ignores case)."""
    return and_(column.startswith(path, autoescape=True), func.substr(column, 1, len(path)) == path)


def subtree_codes(path):
    """SELECT of the codes of the departments in the subtree of ``path`` (itself included)."""
    return select(DEPARTMENT.c.code).where(within(DEPARTMENT.c.path, path))


def path_of(session, code):
    """The path of department ``code``, or None when there is none."""
    return session.scalar(select(DEPARTMENT.c.path).where(DEPARTMENT.c.code == code)) if code else None


def in_subtree(session, code, path):
    """Whether department ``code`` lies in the subtree of ``path``."""
    found = path_of(session, code)
    return found is not None and found.startswith(path)


def children(session, code):
    """``[(code, path)]`` of the departments directly under ``code`` (None: the roots), by code."""
    parent = DEPARTMENT.c.parent_code
    query = select(DEPARTMENT.c.code, DEPARTMENT.c.path).where(parent.is_(None) if code is None else parent == code)
    return list(session.execute(query.order_by(DEPARTMENT.c.code)))


def at_depth(session, depth):
    """``[(code, path)]`` of the departments ``depth`` levels down (1: the roots), by code."""
    rows = session.execute(select(DEPARTMENT.c.code, DEPARTMENT.c.path).order_by(DEPARTMENT.c.code))
    return [(code, path) for code, path in rows if path.count("/") - 1 == depth]
