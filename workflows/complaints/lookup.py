"""A complainant looks their complaint up (反映查询, issue 16): the reference and the answer.

**The reference** (受理编号) is ``TS-<year>-<sequence>-<check>``, e.g. ``TS-2026-000123-K7QM``:
the year's sequence makes it readable and sortable on the phone, the check part is 4 characters
drawn at random from an alphabet without look-alikes (no 0/O, 1/I/L), so knowing one reference
(or guessing the sequence) does not open another complaint's answer: 32⁴ ≈ 1 million checks per
sequence number, against a look-up limit per address (:func:`admit`). A reference is matched
whole, case- and space-insensitively (:func:`normalise`). The sequence is the count of the
year's references plus one; two complaints racing may share a sequence number but never a
reference (the check part differs; the unique index would refuse the 1-in-a-million tie).

**The answer** (:func:`answer`) says only what the complainant may know: when it was received,
its state in plain words, the dismissal reason, or whether the resulting matter is being
handled or closed (and when). Never the internal record, the departments or the people.
"""
import datetime as dt
import math
import re
import secrets

from sqlalchemy import delete, func, select, text as sql_text

from engine.errors import EngineError
from workflows.complaints.models import Complaint, ComplaintLookup
from workflows.rectification.models import Problem
from workflows.supervision.models import Item

PREFIX = "TS"
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0 O 1 I L: read aloud and typed from a phone
CHECK_LENGTH = 4
WINDOW = dt.timedelta(hours=1)
DEFAULT_PER_HOUR = 20
PATTERN = re.compile(r"^TS-\d{4}-\d{6}-[" + ALPHABET + r"]{4}$")
_LOOKUP_LOCK = 0x6C6F6F6B  # "look"


class Throttled(EngineError):
    """Too many look-ups from one address in the last hour; ``retry_after`` in seconds."""

    code, status = "too_many_requests", 429

    def __init__(self, per_hour, retry_after):
        super().__init__(f"at most {per_hour} look-ups an hour from one address; try again in {retry_after} seconds",
                         reason="lookup_throttled")
        self.retry_after = retry_after


def new_reference(session, year):
    """A fresh reference for a complaint received in ``year`` (in the intake's transaction)."""
    seq = session.scalar(select(func.count()).where(Complaint.reference.like(f"{PREFIX}-{year}-%"))) + 1
    check = "".join(secrets.choice(ALPHABET) for _ in range(CHECK_LENGTH))
    return f"{PREFIX}-{year}-{seq:06d}-{check}"


def normalise(text):
    """What the person typed as a reference: spaces dropped, upper case (None: not a reference)."""
    cleaned = re.sub(r"\s+", "", text or "").upper()
    return cleaned if PATTERN.match(cleaned) else None


def admit(session, client, now, per_hour):
    """Count one look-up from ``client`` (wall time ``now``) in ``session``'s write transaction,
    or raise :class:`Throttled` (nothing counted) at ``per_hour`` in the last hour. The count is
    read in the transaction that adds the row (PostgreSQL: an advisory lock per address), as the
    complaint intake does, so it holds across processes. ``per_hour`` ≤ 0: no limit."""
    if per_hour <= 0:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql_text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:client))"),
                        {"namespace": _LOOKUP_LOCK, "client": client})
    session.execute(delete(ComplaintLookup).where(ComplaintLookup.client == client,
                                                  ComplaintLookup.at <= now - WINDOW))
    recent = list(session.scalars(select(ComplaintLookup.at).where(ComplaintLookup.client == client)
                                  .order_by(ComplaintLookup.at)))
    if len(recent) >= per_hour:
        raise Throttled(per_hour, max(1, math.ceil((recent[0] + WINDOW - now).total_seconds())))
    session.add(ComplaintLookup(client=client, at=now))


def find(session, reference):
    """The complaint of a (normalised) reference, or None."""
    if reference is None:
        return None
    return session.scalar(select(Complaint).where(Complaint.reference == reference))


def answer(session, complaint):
    """What the complainant is told: ``reference``, ``received_at``, ``state`` (received |
    handling | closed | dismissed), ``reply`` (the dismissal reason) and ``closed_at``."""
    out = {"reference": complaint.reference, "received_at": complaint.received_at, "state": "received",
           "reply": None, "closed_at": None}
    if complaint.state == "dismissed":
        return {**out, "state": "dismissed", "reply": complaint.dismiss_reason, "closed_at": complaint.triaged_at}
    if complaint.state == "triaged":
        record = (session.get(Problem, complaint.problem_id) if complaint.problem_id
                  else session.get(Item, complaint.item_id) if complaint.item_id else None)
        if record is not None and record.status == "closed":
            return {**out, "state": "closed", "closed_at": record.closed_at}
        return {**out, "state": "handling"}
    return out
