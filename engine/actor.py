"""Who is acting: a person (username, roles, department) or the engine itself."""
import dataclasses

from engine.roles import ADMIN


@dataclasses.dataclass(frozen=True)
class Actor:
    username: str
    roles: frozenset = frozenset()
    department: str | None = None

    @property
    def is_admin(self):
        return ADMIN in self.roles

    def has_any(self, *roles):
        return bool(self.roles.intersection(roles))


SYSTEM = Actor("system", frozenset({"system"}))
