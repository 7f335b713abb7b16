"""Receiving a complaint from the public (群众反映): validation and the per-client throttle.

Anyone may submit, without an account, so the intake defends itself:
- every field is bounded (``text`` ≤ 5000 characters, ``contact`` ≤ 200, ``attachment_name``
  a bare file name ≤ 255), holds no control characters (and the names no bidirectional
  controls: ``workflows.text``), and a rejected submission stores nothing;
- each client (IP address) may submit ``per_hour`` complaints in any sliding hour. The count
  is read from the ``complaint`` table in the same write transaction that stores the new
  one, so it holds across every process sharing the database: SQLite writers queue
  (``BEGIN IMMEDIATE``), and on PostgreSQL an advisory lock per client serialises the
  check-then-insert of two concurrent submissions from the same address.

A stored complaint notifies the secretariat (in-app, and pushed through the outbox where
``[notify]`` configures channels), in the same transaction.
"""
import datetime as dt
import math
import re
import uuid

from sqlalchemy import func, select, text as sql_text

from engine.errors import EngineError, InvalidInput, problem
from engine.roles import SECRETARIAT
from workflows import text
from workflows.supervision import notifications
from workflows.complaints import lookup
from workflows.complaints.models import Complaint
from workflows.files import evidence, kinds

MAX_TEXT = 5000
MAX_CONTACT = 200
MAX_FILE_NAME = 255
MAX_PHOTOS = 3  # photos (现场照片) a complaint may carry
WINDOW = dt.timedelta(hours=1)
ANONYMOUS = "anonymous"
_CLIENT_LOCK = 0x636F6D70  # "comp"
# Windows' reserved characters, path separators and control characters are not part of a file name.
_BAD_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


class Throttled(EngineError):
    """Too many complaints from one client in the last hour; ``retry_after`` in seconds."""

    code, status = "too_many_requests", 429

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


def _problem(field, code, message, **extra):
    return {"field": field, "code": code, "message": message, **extra}


def file_name_problem(name):
    """Why ``name`` is not a bare file name, or None."""
    if len(name) > MAX_FILE_NAME:
        return _problem("attachment_name", "too_long", f"at most {MAX_FILE_NAME} characters", max=MAX_FILE_NAME)
    if _BAD_NAME.search(name):
        return _problem("attachment_name", "invalid_name",
                        "a file name only: no path, no control characters, none of \\ / : * ? \" < > |")
    if name != name.strip() or not name.strip(". "):
        return _problem("attachment_name", "invalid_name",
                        "a file name only: not blank, no surrounding spaces, not '.' or '..'")
    return None


def validate(data):
    """The cleaned fields, or InvalidInput with one detail (``field``, ``code``, ``message``) per problem."""
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", reason="not_an_object")
    problems = []
    body = data.get("text")
    if not isinstance(body, str) or not body.strip():
        problems.append(_problem("text", "required", "is required"))
    elif len(body) > MAX_TEXT:
        problems.append(_problem("text", "too_long", f"at most {MAX_TEXT} characters", max=MAX_TEXT))
    contact = data.get("contact")
    if contact is not None and not isinstance(contact, str):
        problems.append(_problem("contact", "invalid", "must be a string"))
    elif contact and len(contact) > MAX_CONTACT:
        problems.append(_problem("contact", "too_long", f"at most {MAX_CONTACT} characters", max=MAX_CONTACT))
    name = data.get("attachment_name")
    if name is not None and not isinstance(name, str):
        problems.append(_problem("attachment_name", "invalid", "must be a string"))
    elif name:
        problem = file_name_problem(name)
        if problem:
            problems.append(problem)
    problems += [p for p in (text.long_text_problem("text", body), text.name_problem("contact", contact),
                             text.name_problem("attachment_name", name)) if p]
    problems += [_problem(key, "unknown", "unknown field") for key in data
                 if key not in ("text", "contact", "attachment_name")]
    if problems:
        raise InvalidInput("invalid complaint", details=problems)
    return {"text": body.strip(), "contact": (contact or "").strip() or None, "attachment_name": name or None}


def _lock_client(session, client):
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql_text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:client))"),
                        {"namespace": _CLIENT_LOCK, "client": client})


def check_photos(engine, photos):
    """``[(name, data, kind)]`` of a complaint's photos (``[(name, bytes)]``): at most
    :data:`MAX_PHOTOS`, images only (``workflows.files``), or InvalidInput (field ``photos``)."""
    if len(photos) > MAX_PHOTOS:
        raise InvalidInput(f"at most {MAX_PHOTOS} photos", details=[
            problem("photos", "too_many_files", f"at most {MAX_PHOTOS} photos", max=MAX_PHOTOS)])
    return [(*evidence.check_upload(engine, name, data, only=kinds.IMAGES, field="photos"), data)
            for name, data in photos]


def receive(engine, data, client, per_hour, photos=()):
    """Store a complaint from ``client``; returns the Complaint row.

    Raises InvalidInput (nothing stored) or Throttled when ``client`` already submitted
    ``per_hour`` complaints in the last hour (nothing stored). ``per_hour`` ≤ 0: no limit.
    ``photos`` (``[(file name, bytes)]``, images only, :func:`check_photos`) are stored with
    the complaint and attached to it in the same transaction (anonymous: no uploader).
    """
    fields = validate(data)
    photos = check_photos(engine, list(photos))
    client = (client or "unknown")[:64]
    now = engine.clock.now()
    with engine.db.write() as session:
        if per_hour > 0:
            _lock_client(session, client)
            recent = select(Complaint.received_at).where(
                Complaint.client == client, Complaint.received_at > now - WINDOW)
            count = session.scalar(select(func.count()).select_from(recent.subquery()))
            if count >= per_hour:
                oldest = session.scalar(select(func.min(Complaint.received_at)).where(
                    Complaint.client == client, Complaint.received_at > now - WINDOW))
                wait = max(1, math.ceil((oldest + WINDOW - now).total_seconds()))
                raise Throttled(f"at most {per_hour} complaints an hour from one address; "
                                f"try again in {wait} seconds", retry_after=wait)
        complaint = Complaint(id=str(uuid.uuid4()), client=client, received_at=now, state="received",
                              reference=lookup.new_reference(session, engine.calendar.local(now).year), **fields)
        session.add(complaint)
        session.flush()
        for name, kind, content in photos:  # after the throttle: a refused post writes no blob
            row = evidence.stored(engine, None, name, content, kind)
            row.attached_at, row.record_id = now, complaint.id
            session.add(row)
        effects = _notify_secretariat(engine, session, complaint)
        effect_ids = engine.outbox.write(session.connection(), None, effects)
        engine.audit.append(session, "complaint_received", actor=ANONYMOUS, business_key=complaint.id,
                            data={"complaint_id": complaint.id})
    engine.outbox.run_written(effect_ids)
    return complaint


def _notify_secretariat(engine, session, complaint):
    """Tell the secretariat a complaint waits for triage (分拣), in the intake's transaction;
    returns the pushes to write to the outbox with it. Triage or dismissal marks them read."""
    effects = []
    excerpt = complaint.text if len(complaint.text) <= 60 else complaint.text[:60] + "…"
    notifications.write(session, engine, lambda kind, payload: effects.append((kind, payload)),
                        engine.registry.directory.users(session, role=SECRETARIAT), "complaint_received",
                        "群众反映：新反映待分拣", f"收到一条群众反映，请分拣（转立项、转整改或不予处理）：{excerpt}",
                        item_id=complaint.id, at=complaint.received_at)
    return effects
