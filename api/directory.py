"""The engine's directory of people (engine.directory), answered from the ``app_user`` table.

Registered on the registry by ``api.app.build_engine``: ``workflows`` never imports ``api``,
so the domain's listeners find the users of a role and department through this seam.
"""
from sqlalchemy import select

from api.models import Department, User
from engine.directory import Directory, Person


def _person(user):
    return Person(user.username, user.display_name, user.department, frozenset(user.roles or ()),
                  user.email)


class UserDirectory(Directory):
    def users(self, session, role=None, department=None):
        query = select(User).where(User.active.is_(True)).order_by(User.username)
        if department is not None:
            query = query.where(User.department == department)
        # Roles are a JSON list: filtered here rather than with dialect-specific JSON operators.
        return [u.username for u in session.scalars(query) if role is None or role in (u.roles or ())]

    def person(self, session, username):
        user = session.get(User, username)
        return _person(user) if user is not None and user.active else None

    def departments(self, session):
        return {d.code: d.name for d in session.scalars(select(Department))}
