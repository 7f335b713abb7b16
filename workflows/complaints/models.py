"""Public complaints (群众反映): clues received from the public, waiting to be triaged."""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base


class Complaint(Base):
    __tablename__ = "complaint"
    __table_args__ = (sa.Index("ix_complaint_client_received", "client", "received_at"),
                      sa.Index("ix_complaint_state_received", "state", "received_at"),
                      sa.Index("ix_complaint_reference", "reference", unique=True))

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    text: Mapped[str] = mapped_column(sa.Text)
    contact: Mapped[str | None] = mapped_column(sa.String(200))
    attachment_name: Mapped[str | None] = mapped_column(sa.String(255))
    client: Mapped[str] = mapped_column(sa.String(64))                 # the submitter's IP address
    received_at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(sa.String(20), default="received")  # received|triaged|dismissed
    triaged_by: Mapped[str | None] = mapped_column(sa.String(100))   # who triaged or dismissed it
    triaged_at: Mapped[dt.datetime | None]
    triaged_as: Mapped[str | None] = mapped_column(sa.String(10))    # problem | item
    problem_id: Mapped[str | None] = mapped_column(sa.String(36))
    item_id: Mapped[str | None] = mapped_column(sa.String(36))
    dismiss_reason: Mapped[str | None] = mapped_column(sa.Text)
    # 受理编号 the complainant looks it up with (TS-2026-000123-K7QM): the year's sequence and a
    # random check part, so knowing one reference does not let anyone read the next one's reply.
    reference: Mapped[str | None] = mapped_column(sa.String(20))


class ComplaintLookup(Base):
    """One look-up of a complaint by its reference from a client address (wall time): what the
    per-address limit of ``/complaints/lookup`` counts; rows older than the window are deleted
    by the next look-up from the same address."""

    __tablename__ = "complaint_lookup"

    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(sa.String(64), index=True)
    at: Mapped[dt.datetime]
