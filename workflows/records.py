"""Records that follow a process one to one: supervision items (督办事项), rectification problems (问题整改).

A record's id is its process instance's business key. Registering one starts the process;
the ``instance_started`` listener writes the row (and allocates its yearly code) inside the
instance's own transaction, so a record exists exactly when its process does, and the end
of the process closes or cancels it the same way. What the two domains share lives here:

- input checks: :func:`check_fields` (the common rules) and :func:`refuse`;
- :func:`start` and :func:`get` (404 when unknown); a record's :func:`open_tasks` and :func:`timeline`;
- yearly codes (``DB-2026-0007``): :func:`allocate_code`, race-free;
- listeners: :class:`Listeners` (scoped, :func:`keyed`, :meth:`~Listeners.close_on_end`),
  :func:`opening_columns`, :func:`due_at`, :func:`latest`;
- which record an instance follows, for listeners shared by both processes (reminders,
  escalations): :func:`record_of`, :func:`record_link`.
"""
import datetime as dt
import functools
import uuid

from sqlalchemy import func, select, text

from engine.errors import InvalidInput, NotFound, problem
from engine.models import AuditRecord, HumanTask
from workflows import text as text_rules
from workflows.files import evidence as files

TITLE_LIMIT = 400
LONG_TEXTS = ("requirements", "description")  # may hold line breaks; every other field is a name


# -- input --------------------------------------------------------------------------------------
def check_fields(data, fields, required, dates=("deadline",)):
    """The field problems every record shares (a list of :func:`engine.errors.problem`; empty
    when none), each with its code: ``required``, ``invalid`` (wrong type), ``unknown``,
    ``invalid_date``, ``too_long``, ``blank``, ``control_character``, ``bidi_control``
    (``workflows.text``: :data:`LONG_TEXTS` are long text, every other string field a name).

    ``fields``: ``{name: type}`` of the accepted fields; ``required``: names that must be
    present and not empty; ``dates``: names that must be ``YYYY-MM-DD`` when given. A
    ``title`` must not be blank (whitespace only) and has at most :data:`TITLE_LIMIT`
    characters. Raises InvalidInput (``not_an_object``) at once when ``data`` is not an object.
    """
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", reason="not_an_object")
    problems = [problem(name, "required", "is required") for name in required if data.get(name) in (None, "")]
    problems += [problem(name, "invalid", f"must be of type {kind.__name__}") for name, kind in fields.items()
                 if data.get(name) is not None and not isinstance(data[name], kind)]
    problems += [problem(name, "unknown", "unknown field") for name in data if name not in fields]
    for name in dates:
        if isinstance(data.get(name), str) and data[name]:
            try:
                dt.date.fromisoformat(data[name])
            except ValueError:
                problems.append(problem(name, "invalid_date", "must be a date YYYY-MM-DD"))
    problems += [p for name, value in data.items() if name in fields and (
        p := (text_rules.long_text_problem if name in LONG_TEXTS else text_rules.name_problem)(name, value))]
    title = data.get("title")
    if isinstance(title, str):
        if len(title) > TITLE_LIMIT:
            problems.append(problem("title", "too_long", f"at most {TITLE_LIMIT} characters", limit=TITLE_LIMIT))
        elif title and not title.strip():
            problems.append(problem("title", "blank", "must not be blank"))
    return problems


def refuse(problems, message):
    """Raise InvalidInput(message) listing ``problems`` (400 with ``details``), if there are any."""
    if problems:
        raise InvalidInput(message, details=problems)


# -- commands and reads -------------------------------------------------------------------------
def start(engine, process_key, id_variable, variables, actor, origin=None, evidence=None):
    """Start the latest ``process_key`` for a new record; returns the record's id.

    The id is the instance's business key and, named ``id_variable``, its first start
    variable. ``origin``: extra start variables naming where the record came from
    (``{"complaint_id": ...}``); listeners of other domains see them. ``evidence``: ids of
    files the registrar uploaded (400 ``unknown_file`` / ``file_not_yours`` otherwise,
    nothing started), the start variable ``evidence_files``; ``workflows.files`` attaches
    them to the record in the start's transaction.
    """
    if evidence:
        with engine.db.read() as session:
            files.refuse(files.check_ids(session, actor.username, [("evidence", i) for i in evidence]))
        variables = {**variables, "evidence_files": list(evidence)}
    record_id = str(uuid.uuid4())
    instance = engine.instances.start(process_key, {id_variable: record_id, **variables, **(origin or {})},
                                      actor, business_key=record_id)
    return instance.business_key


def get(engine, model, record_id, noun):
    """The ``model`` row ``record_id`` (detached, read in its own transaction); NotFound
    (code ``no_<noun>``) if none."""
    with engine.db.read() as session:
        row = session.get(model, record_id)
    if row is None:
        raise NotFound(f"no {noun} {record_id}", reason=f"no_{noun}")
    return row


def open_tasks(session, record_ids):
    """``{record id: [its open HumanTask rows]}``, soonest due first (no due time last), for
    the records ``record_ids`` (their instances' business keys); records without one are absent."""
    tasks = {}
    if not record_ids:
        return tasks
    for row in session.scalars(select(HumanTask).where(
            HumanTask.business_key.in_(record_ids), HumanTask.state == "open")
            .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at)):
        tasks.setdefault(row.business_key, []).append(row)
    return tasks


def timeline(session, record_id, limit=500):
    """The record's audit records, oldest first (its instances' and its listeners' records
    carry the record's id as business key)."""
    return list(session.scalars(select(AuditRecord).where(AuditRecord.business_key == record_id)
                                .order_by(AuditRecord.seq).limit(limit)))


# -- codes --------------------------------------------------------------------------------------
def allocate_code(session, model, prefix, year, lock_namespace):
    """``(code, seq)``: the next yearly code of ``model`` (with ``year`` and ``seq`` columns, and
    UNIQUE (year, seq)), e.g. ``("DB-2026-0007", 7)``.

    Two records registered at the same moment would both read the same max(seq) and one would
    fail on UNIQUE (year, seq). On PostgreSQL an advisory lock per (namespace, year) serialises
    allocation until commit; SQLite needs nothing, its writers already queue (BEGIN IMMEDIATE).
    Each model has its own ``lock_namespace`` (a 32-bit integer).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:namespace, :year)"),
                        {"namespace": lock_namespace, "year": year})
    seq = (session.scalar(select(func.max(model.seq)).where(model.year == year)) or 0) + 1
    return f"{prefix}-{year}-{seq:04d}", seq


# -- listeners ----------------------------------------------------------------------------------
def keyed(fn):
    """Run listener (or completion hook) ``fn`` only for instances with a business key.

    A process can also be started through the generic instance API without one; such an
    instance has no record, so the record's listeners leave it alone.
    """
    @functools.wraps(fn)
    def listener(event):
        if event.instance.business_key:
            return fn(event)
        return None
    return listener


class Listeners:
    """A record domain's listeners, collected where they are defined and registered at once,
    like a Flask blueprint: each is scoped to the domain's process (and to a task, for task
    events) and :func:`keyed`. They run in the order they were collected."""

    def __init__(self, process_key):
        self.process_key = process_key
        self._collected = []  # (event name, task, fn)

    def on(self, event_name, task=None):
        """Decorator: collect ``fn(event)`` for ``event_name`` (of task ``task``)."""
        def collect(fn):
            self._collected.append((event_name, task, fn))
            return fn
        return collect

    def close_on_end(self, model, also=None):
        """When the instance completes the record is ``closed``; when it is cancelled,
        ``cancelled``; ``closed_at`` is the moment either way. ``also(event, record, status)``
        keeps the record's own copies in step, in the same transaction."""
        def ended(status):
            def listener(event):
                record = event.session.get(model, event.instance.business_key)
                record.status, record.closed_at = status, event.at
                if also is not None:
                    also(event, record, status)
            return listener

        self.on("instance_completed")(ended("closed"))
        self.on("instance_cancelled")(ended("cancelled"))

    def register(self, registry):
        for event_name, task, fn in self._collected:
            registry.on(event_name, process=self.process_key, task=task)(keyed(fn))


def opening_columns(event, model, prefix, lock_namespace):
    """The columns every record gets from its ``instance_started`` event: ``id`` (the business
    key), its yearly ``code``, ``year`` and ``seq`` (:func:`allocate_code`), ``status`` open,
    ``instance_id``, ``created_by`` and ``created_at``."""
    year = event.engine.calendar.local(event.at).year
    code, seq = allocate_code(event.session, model, prefix, year, lock_namespace)
    return dict(id=event.instance.business_key, code=code, year=year, seq=seq, status="open",
                instance_id=event.instance.id, created_by=event.actor.username, created_at=event.at)


def due_at(event):
    """The due time the task of a ``task_completed`` event had (its row, closed by this same
    unit of work), or None."""
    task = event.session.get(HumanTask, event.task_id)
    return task.due_at if task is not None else None


def latest(session, model, *conditions):
    """The ``model`` row (with an integer ``id``) added last among those matching ``conditions``."""
    return session.scalar(select(model).where(*conditions).order_by(model.id.desc()).limit(1))


# -- the record behind an instance ----------------------------------------------------------------
def _record_models():
    from workflows.rectification.models import Problem  # late: the domains import this module
    from workflows.supervision.models import Item
    return {"supervision": (Item, "item_id"), "rectification": (Problem, "problem_id")}


RECORD_PROCESSES = ("supervision", "rectification")  # the processes whose instances follow a record


def record_of(session, instance):
    """The item or problem ``instance`` (keyed) follows: its ``Item`` or ``Problem`` row."""
    model, _column = _record_models()[instance.definition_key]
    return session.get(model, instance.business_key)


def record_link(instance):
    """``{"item_id": key}`` or ``{"problem_id": key}``: the column naming ``instance``'s record
    on rows kept for either (escalations, measures)."""
    _model, column = _record_models()[instance.definition_key]
    return {column: instance.business_key}
