"""The engine's directory of people (engine.directory), answered from the ``app_user`` table.

Registered on the registry by ``api.app.build_engine``: ``workflows`` never imports ``api``,
so the domain's listeners find the users of a role and department through this seam.

**Cached** (issue 18): every opened task asks who its candidates are, so the lists of users
and departments are kept per directory for :data:`TTL_SECONDS` of wall time, and dropped at
once when this process changes a user or a department through a session (an ORM flush, or an
``UPDATE`` / ``DELETE`` / ``INSERT`` on those tables through ``Session.execute``: at the flush
and again at the commit).
Trade-off: a change made by *another* process (or by raw SQL on a bare connection) is seen
within that second, so a user deactivated elsewhere may still be told of a step for one
second (and an item's new leader is checked against that list). :meth:`person` is not cached:
who a task may be assigned to is checked against the user as stored.
"""
import itertools
import threading
import time

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from api.models import Department, User
from engine.directory import Directory, Person

TTL_SECONDS = 1.0
_TABLES = frozenset({User.__tablename__, Department.__tablename__})
_CHANGED = "duban_directory_changed"  # session.info: this transaction changed users
_generations = itertools.count(1)
_generation = 0  # bumped on every change seen in this process: older entries are stale


def _person(user):
    return Person(user.username, user.display_name, user.department, frozenset(user.roles or ()),
                  user.email)


class UserDirectory(Directory):
    def __init__(self, ttl=TTL_SECONDS):
        self.ttl = ttl
        self._entries = {}  # key -> (generation, expires at (monotonic), value)
        self._lock = threading.Lock()  # gunicorn gthread workers share the directory
        self.hits = self.misses = 0

    def users(self, session, role=None, department=None):
        return list(self._cached(("users", role, department), lambda: self._users(session, role, department)))

    def person(self, session, username):
        # Not cached: assigning a task checks the person (escalations), and a primary-key read
        # is the session's identity map's to save.
        user = session.get(User, username)
        return _person(user) if user is not None and user.active else None

    def departments(self, session):
        return dict(self._cached(("departments",), lambda: self._departments(session)))

    def _cached(self, key, read):
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] == _generation and now < entry[1]:
            self.hits += 1
            return entry[2]
        self.misses += 1
        generation = _generation  # read before the query: a change meanwhile makes it stale
        value = read()
        with self._lock:
            if len(self._entries) > 1_000:  # bounded: one entry per (role, department) asked
                self._entries.clear()
            self._entries[key] = (generation, now + self.ttl, value)
        return value

    @staticmethod
    def _users(session, role, department):
        query = select(User).where(User.active.is_(True)).order_by(User.username)
        if department is not None:
            query = query.where(User.department == department)
        # Roles are a JSON list: filtered here rather than with dialect-specific JSON operators.
        return tuple(u.username for u in session.scalars(query) if role is None or role in (u.roles or ()))

    @staticmethod
    def _departments(session):
        return {d.code: d.name for d in session.scalars(select(Department))}


def _changed():
    global _generation
    _generation = next(_generations)


@event.listens_for(Session, "after_flush")
def _flushed(session, _context):
    if any(isinstance(row, (User, Department)) for rows in (session.new, session.dirty, session.deleted)
           for row in rows):
        session.info[_CHANGED] = True
        _changed()


@event.listens_for(Session, "do_orm_execute")
def _executed(state):
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _TABLES:
            state.session.info[_CHANGED] = True
            _changed()


@event.listens_for(Session, "after_commit")
def _committed(session):
    if session.info.pop(_CHANGED, False):
        _changed()
