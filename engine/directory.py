"""The directory of people: who has a role in a department, how to reach them, and which
departments there are.

Tasks are routed to roles, departments and usernames (``engine.projection``); turning those
into people (to notify the candidates of a task, or to check that a user may be given one)
needs the organisation, which the application owns. The application registers an
implementation with ``Registry.use_directory``; this default knows nobody, so an engine
without one still runs (reminders then reach no one).

Contract: every method reads through ``session`` (the caller's, often the unit of work's
write session) and never write; inactive users are left out.
"""
import dataclasses


@dataclasses.dataclass(frozen=True)
class Person:
    username: str
    display_name: str
    department: str | None
    roles: frozenset
    email: str | None = None


class Directory:
    def users(self, session, role=None, department=None):
        """Usernames of active users with ``role`` (if given) in ``department`` (if given), sorted."""
        return []

    def person(self, session, username):
        """The active user ``username``, or None."""
        return None

    def departments(self, session):
        """Every department of the organisation: ``{code: name}`` (what reports rank)."""
        return {}
