"""Public complaints (群众反映): clues received from the public, waiting to be triaged."""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base


class Complaint(Base):
    __tablename__ = "complaint"
    __table_args__ = (sa.Index("ix_complaint_client_received", "client", "received_at"),
                      sa.Index("ix_complaint_state_received", "state", "received_at"))

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
