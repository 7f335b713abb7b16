"""Who is acting: a person (username, roles, department) or the engine itself.

``department_path`` is the department's place in the organisation's tree, its codes from the
root down ("/city/county/"); None when unknown (the engine routes by ``department`` alone; the
domains' access policy reads the path).
"""
import dataclasses

from engine.roles import ADMIN


@dataclasses.dataclass(frozen=True)
class Actor:
    username: str
    roles: frozenset = frozenset()
    department: str | None = None
    department_path: str | None = None

    @property
    def is_admin(self):
        return ADMIN in self.roles

    def has_any(self, *roles):
        return bool(self.roles.intersection(roles))


SYSTEM = Actor("system", frozenset({"system"}))
