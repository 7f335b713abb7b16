"""回头看 (look-back checks): one row per scheduled check of a closed item or problem.

Written by the ``lookback`` process's listeners in its own transactions: the row exists
exactly when its instance does (``instance_started``) and records the verdict when the
secretariat completes ``lookback_check``. Read by the record pages and the reports.
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base

PENDING = "pending"


class Lookback(Base):
    __tablename__ = "lookback"
    __table_args__ = (
        # One pending look-back per record: the 409's backstop when two schedule at once.
        sa.Index("ux_lookback_pending", "record_id", unique=True,
                 sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_kind: Mapped[str] = mapped_column(sa.String(20))          # item|problem
    record_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    due_on: Mapped[dt.date] = mapped_column(sa.Date)                  # the day the check opens
    instance_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=PENDING)  # pending|holds|rebounded|cancelled
    findings: Mapped[str | None] = mapped_column(sa.Text)
    new_deadline: Mapped[dt.date | None] = mapped_column(sa.Date)     # rebounded: the new rectification deadline
    created_by: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime]
    checked_by: Mapped[str | None] = mapped_column(sa.String(100))
    checked_at: Mapped[dt.datetime | None]
