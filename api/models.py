"""Organisation and authentication tables: departments, users (one department each), tokens
(bearer tokens and web sessions alike) and the login throttle's counters."""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, column_property, mapped_column

from engine.models import Base


def _root_path(context):
    # A department inserted without a path is a root (tests, the bench): "/code/".
    return f"/{context.get_current_parameters()['code']}/"


class Department(Base):
    __tablename__ = "department"

    code: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())  # inactive: no new members
    parent_code: Mapped[str | None] = mapped_column(sa.ForeignKey("department.code"))
    # The codes from the root down, "/city/county/": a subtree is a prefix (migration 0016).
    path: Mapped[str] = mapped_column(sa.String(1000), default=_root_path)


class User(Base):
    __tablename__ = "app_user"

    username: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    password_hash: Mapped[str] = mapped_column(sa.String(300))
    display_name: Mapped[str] = mapped_column(sa.String(200))
    department: Mapped[str | None] = mapped_column(sa.ForeignKey("department.code"))
    roles: Mapped[list] = mapped_column(default=list)
    email: Mapped[str | None] = mapped_column(sa.String(320))  # for mailed notifications
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime]
    # The department's place in the tree, read with the user (one indexed lookup): what an
    # overseer's scope is (``workflows.access.confinement``).
    department_path: Mapped[str | None] = column_property(
        sa.select(Department.path).where(Department.code == department).correlate_except(Department)
        .scalar_subquery())


class Token(Base):
    """Bearer tokens and web sessions, stored as sha256 digests; expire on wall time and can be
    revoked (``via``: ``api`` for a bearer token, ``web`` for a page session)."""

    __tablename__ = "api_token"

    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    username: Mapped[str] = mapped_column(sa.ForeignKey("app_user.username"), index=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked: Mapped[bool] = mapped_column(default=False)
    via: Mapped[str] = mapped_column(sa.String(10), default="api", server_default="api")


class LoginThrottle(Base):
    """Recent failed logins of one username (``kind`` ``username``) or one client address
    (``address``), in wall time; ``locked_until`` set while logins for it are refused."""

    __tablename__ = "login_throttle"

    kind: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[dt.datetime]
    last_failure_at: Mapped[dt.datetime]
    locked_until: Mapped[dt.datetime | None]


class TaskComment(Base):
    __tablename__ = "task_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(sa.ForeignKey("human_task.id"), index=True)
    author: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime]
