"""The ``file`` table: one row per upload (evidence, 佐证材料); the bytes live in the blob store
(``workflows.files.store``) under their SHA-256, shared by every row of the same content.

A row is an *orphan* until something references it (``attached_at`` set): a completed task's
form (``task_id``, ``instance_id`` and the instance's business key as ``record_id``), or an
item, problem or complaint registered with it (``record_id``). Orphans older than
``[files] orphan_hours`` are pruned.
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base


class StoredFile(Base):
    __tablename__ = "file"
    __table_args__ = (sa.Index("ix_file_orphans", "attached_at", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    content_type: Mapped[str] = mapped_column(sa.String(100))   # from the content, never the client
    uploader: Mapped[str | None] = mapped_column(sa.String(100))  # None: an anonymous complaint's
    created_at: Mapped[dt.datetime]
    attached_at: Mapped[dt.datetime | None]
    task_id: Mapped[str | None] = mapped_column(sa.String(36))             # the completed task
    instance_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    record_id: Mapped[str | None] = mapped_column(sa.String(200), index=True)  # item, problem or complaint
