"""Evidence files (佐证材料): upload, the form fields that reference them, attaching, pruning.

Contract:

- :func:`upload` stores one file for a person (or, ``uploader=None``, an anonymous complaint)
  and returns its row, unattached. Refused, storing nothing: more than ``[files] max_bytes``
  (:class:`TooLarge`, 413), content that is none of ``[files] allowed`` (:class:`FileTypeRefused`,
  400 ``file_type``; the kind comes from the bytes, ``workflows.files.kinds``), a bad name.
- A task form's field is a file field when its schema is an array whose ``items`` say
  ``"format": "file"`` (:func:`file_fields`); it holds file ids.
- Completing a task (a ``before_complete`` hook of every process and task) refuses, 400
  ``invalid_input`` with one detail per bad id, an id that names no file (``unknown_file``) and
  a file that is neither the caller's own unattached upload nor already attached to this
  instance or its record (``file_not_yours``): nothing is written. The ``task_completed``
  listener then marks the new ones attached (task, instance, the instance's business key) in
  the completion's own transaction, so a file is attached exactly when the completion commits.
- Items, problems and complaints registered with files attach them the same way
  (:func:`check_ids`, :func:`attach`) in their registration's transaction.
- :func:`prune` removes orphans (never attached) older than ``[files] orphan_hours`` on the
  engine clock, and each blob no remaining row uses.
"""
import datetime as dt
import logging
import uuid

from sqlalchemy import delete, select, update

from engine.errors import InvalidInput, problem
from engine.forms import form_schema
from engine.models import HumanTask
from workflows import text
from workflows.files import kinds
from workflows.files.models import StoredFile
from workflows.files.store import BlobStore

log = logging.getLogger(__name__)
MAX_NAME = 255
MAX_FILES_PER_FIELD = 50
BLOB_GRACE_SECONDS = 600  # wall time: a blob written this recently may belong to an upload in flight


class FileTypeRefused(InvalidInput):
    code = "file_type"


class TooLarge(InvalidInput):
    code, status = "too_large", 413


def settings(engine):
    return engine.config["files"]


def store(engine):
    return BlobStore(settings(engine)["dir"])


def max_bytes(engine):
    return int(settings(engine)["max_bytes"])


# -- upload ---------------------------------------------------------------------------------------
def upload(engine, uploader, name, data, only=None):
    """Store ``data`` named ``name`` for ``uploader``; returns the new :class:`StoredFile`.

    ``only``: the kinds this caller may upload (an anonymous complaint: images), within the
    configured ones."""
    name, kind = check_upload(engine, name, data, only)
    row = stored(engine, uploader, name, data, kind)
    with engine.db.write() as session:
        session.add(row)
    return row


def check_upload(engine, name, data, only=None, field="file"):
    """``(clean name, kind)`` of an upload, or the refusal (see :func:`upload`); stores nothing."""
    name = (name or "").strip().replace("\\", "/").rsplit("/", 1)[-1]  # a browser may send a path
    bad = (text.name_problem(field, name) if name else problem(field, "required", "the file has no name"))
    if bad is None and len(name) > MAX_NAME:
        bad = problem(field, "too_long", f"a file name has at most {MAX_NAME} characters", max=MAX_NAME)
    if bad:
        raise InvalidInput(bad["message"], details=[bad])
    if len(data) > max_bytes(engine):
        message = f"a file may have at most {max_bytes(engine)} bytes"
        raise TooLarge(message, details=[problem(field, "file_too_large", message, max=max_bytes(engine))])
    if not data:
        raise InvalidInput("the file is empty", details=[problem(field, "empty_file", "the file is empty")])
    allowed = set(settings(engine)["allowed"]) & set(only or kinds.CONTENT_TYPES)
    kind = kinds.detect(data)
    if kind not in allowed:
        raise FileTypeRefused(f"the content is not one of: {', '.join(sorted(allowed))}",
                              details=[problem(field, "file_type", "this type of file is not accepted",
                                               allowed=sorted(allowed))])
    return name, kind


def stored(engine, uploader, name, data, kind):
    """Write the blob (before its row commits: see ``workflows.files.store``); the new row, unsaved."""
    sha = store(engine).put(data)
    return StoredFile(id=str(uuid.uuid4()), sha256=sha, name=name, size=len(data),
                      content_type=kinds.CONTENT_TYPES[kind], uploader=uploader, created_at=engine.clock.now())


def read(engine, row):
    """The bytes of ``row``; None when its blob is gone (a pruned orphan)."""
    try:
        return store(engine).read(row.sha256)
    except FileNotFoundError:
        return None


# -- form fields ----------------------------------------------------------------------------------
def file_fields(schema):
    """The top-level properties of a form schema that hold file ids."""
    properties = (schema or {}).get("properties") or {}
    return [name for name, field in properties.items()
            if isinstance(field, dict) and field.get("type") == "array"
            and isinstance(field.get("items"), dict) and field["items"].get("format") == "file"]


def ids_in(data, fields):
    """``[(field, id)]`` of the file ids ``data`` holds in ``fields`` (non-lists are the form's
    own problem, already refused by its schema)."""
    return [(field, value) for field in fields if isinstance(data.get(field), list)
            for value in data[field]]


def check_ids(session, username, pairs, instance_id=None, record_id=None):
    """The problems of ``pairs`` (``[(field, id)]``) for ``username`` attaching them to
    ``instance_id`` / ``record_id`` (``username`` None: anonymous uploads only)."""
    problems = []
    wanted = {value for _, value in pairs if isinstance(value, str) and len(value) <= 36}
    rows = {row.id: row for row in session.scalars(select(StoredFile).where(StoredFile.id.in_(wanted)))} if wanted else {}
    for index, (field, value) in enumerate(pairs):
        row = rows.get(value) if isinstance(value, str) else None
        if row is None:
            problems.append(problem(field, "unknown_file", f"no file {value!r}"))
        elif not _may_attach(row, username, instance_id, record_id):
            problems.append(problem(field, "file_not_yours", f"file {value} is not yours to attach"))
    return problems


def _may_attach(row, username, instance_id, record_id):
    if row.attached_at is None:
        return row.uploader == username
    return ((instance_id is not None and row.instance_id == instance_id)
            or (record_id is not None and row.record_id == record_id))


def refuse(problems):
    if problems:
        raise InvalidInput(f"{len(problems)} file(s) cannot be attached", details=problems)


def attach(session, ids, at, task_id=None, instance_id=None, record_id=None):
    """Mark the unattached files among ``ids`` attached (those already attached keep theirs)."""
    ids = sorted({value for value in ids if isinstance(value, str)})
    if ids:
        session.execute(update(StoredFile).where(StoredFile.id.in_(ids), StoredFile.attached_at.is_(None))
                        .values(attached_at=at, task_id=task_id, instance_id=instance_id, record_id=record_id))


def _task_fields(engine, session, definition_id, task_key):
    definition = engine.definitions.by_id(session, definition_id)
    return file_fields(form_schema(engine.definitions.task_spec(definition, task_key)))


def _holds_lists(data):
    """Whether a form's data has any list at the top (file fields are lists): most completions
    have none, and then neither the hook nor the listener reads anything."""
    return isinstance(data, dict) and any(isinstance(value, list) for value in data.values())


def before_complete(step):
    """Refuse a completion naming files the caller may not attach (see the module docstring)."""
    if not _holds_lists(step.data):
        return
    with step.engine.db.read() as session:
        pairs = ids_in(step.data, _task_fields(step.engine, session, step.task.definition_id, step.task.key))
        if pairs:
            refuse(check_ids(session, step.actor.username, pairs, step.instance.id, step.instance.business_key))


def on_task_completed(event):
    """Attach the completed form's files to its task, instance and record."""
    if not _holds_lists(event.data):
        return
    task = event.session.get(HumanTask, event.task_id)
    if task is None:
        return
    pairs = ids_in(event.data, _task_fields(event.engine, event.session, task.definition_id, task.key))
    attach(event.session, [value for _, value in pairs], event.at, task_id=task.id,
           instance_id=event.instance.id, record_id=event.instance.business_key)


def on_instance_started(event):
    """Attach a registration's files (start variable ``evidence_files``, checked by
    ``workflows.records.start``) to the new record: only the starter's own unattached uploads."""
    ids = event.data.get("evidence_files")
    if isinstance(ids, list) and ids and event.actor is not None:
        ids = sorted({value for value in ids if isinstance(value, str)})
        event.session.execute(update(StoredFile).where(
            StoredFile.id.in_(ids), StoredFile.attached_at.is_(None), StoredFile.uploader == event.actor.username)
            .values(attached_at=event.at, instance_id=event.instance.id, record_id=event.instance.business_key))


# -- reading ----------------------------------------------------------------------------------------
def by_ids(session, ids):
    """``{id: StoredFile}`` of the attached files among ``ids``."""
    ids = {value for value in ids if isinstance(value, str) and len(value) <= 36}
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(
        select(StoredFile).where(StoredFile.id.in_(ids), StoredFile.attached_at.is_not(None)))}


def of_record(session, record_id, also=()):
    """The files attached to an item, problem or complaint (its tasks' too), oldest first;
    ``also``: more record ids whose files count as this one's (the complaint it came from)."""
    ids = [record_id, *also]
    return list(session.scalars(select(StoredFile).where(StoredFile.record_id.in_(ids))
                                .order_by(StoredFile.attached_at, StoredFile.name)))


def of_task(session, task_id):
    return list(session.scalars(select(StoredFile).where(StoredFile.task_id == task_id)
                                .order_by(StoredFile.name)))


# -- orphans ----------------------------------------------------------------------------------------
def _orphans(engine, now):
    cutoff = now - dt.timedelta(hours=float(settings(engine)["orphan_hours"]))
    return (StoredFile.attached_at.is_(None), StoredFile.created_at < cutoff)


def prune(engine, session, now, grace_seconds=BLOB_GRACE_SECONDS):
    """Delete orphans created before ``now`` - ``[files] orphan_hours`` and the blobs no row
    uses any more; returns how many rows went. Blobs written within ``grace_seconds`` of wall
    time stay (an upload of the same content may be committing its row)."""
    old = list(session.execute(select(StoredFile.id, StoredFile.sha256).where(*_orphans(engine, now))))
    if not old:
        return 0
    session.execute(delete(StoredFile).where(StoredFile.id.in_([row.id for row in old])))
    shas = {row.sha256 for row in old}
    used = set(session.scalars(select(StoredFile.sha256).where(StoredFile.sha256.in_(shas))))
    blobs = store(engine)
    for sha in shas - used:
        blobs.remove(sha, grace_seconds)
    log.info("pruned %d orphan upload(s)", len(old))
    return len(old)


def prune_occurrence(engine, now):
    """The periodic job's occurrence: the hour of the engine clock, only when there are orphans
    to prune (an idle hour writes no ``job_run`` row and no audit record)."""
    with engine.db.read() as session:
        due = session.scalar(select(StoredFile.id).where(*_orphans(engine, now)).limit(1))
    return now.strftime("%Y-%m-%dT%H") if due else None


def run_prune(engine, session, occurrence, now):
    prune(engine, session, now)
