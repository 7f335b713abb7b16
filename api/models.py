"""Organisation and authentication tables: departments, users (one department each), tokens."""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base


class Department(Base):
    __tablename__ = "department"

    code: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))


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


class Token(Base):
    """Bearer tokens, stored as sha256 digests; expire and can be revoked."""

    __tablename__ = "api_token"

    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    username: Mapped[str] = mapped_column(sa.ForeignKey("app_user.username"), index=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked: Mapped[bool] = mapped_column(default=False)


class TaskComment(Base):
    __tablename__ = "task_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(sa.ForeignKey("human_task.id"), index=True)
    author: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime]
