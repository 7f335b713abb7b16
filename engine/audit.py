"""The append-only audit log, hash-chained (DESIGN invariant 9).

Each record's ``hash`` is sha256 over the previous record's hash and the record's canonical
JSON (seq, at, actor, kind, instance_id, business_key, data). A record written while a request
runs carries its id as ``data.request_id`` (``engine.request_ids``), hashed with the rest.
Appends lock the single ``audit_head`` row, so concurrent transactions chain in commit order
and a transaction that rolls back leaves no record and no gap. Trade-off: appends serialise on
that row until commit, so a unit of work appends its records last, after its listeners, and
holds the lock only for the append and the commit; the rest of it runs unlocked.
"""
import datetime as dt
import hashlib
import json

from sqlalchemy import bindparam, insert, select, update

from engine import request_ids
from engine.models import AuditHead, AuditRecord

HEAD, RECORD = AuditHead.__table__, AuditRecord.__table__
# Built once: appends run in every command.
_LOCK_HEAD = select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1).with_for_update()
_MOVE_HEAD = update(HEAD).where(HEAD.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
_APPEND = insert(RECORD)

GENESIS = "0" * 64
UTC = dt.timezone.utc


def record_hash(prev_hash, seq, at, actor, kind, instance_id, business_key, data):
    body = json.dumps({
        "seq": seq, "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor, "kind": kind, "instance_id": instance_id,
        "business_key": business_key, "data": data,
    }, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, clock):
        self.clock = clock

    def append(self, session, kind, actor=None, instance_id=None, business_key=None, data=None):
        """Add one record inside ``session``'s transaction; returns it (a dict)."""
        return self.extend(session, [dict(kind=kind, actor=actor, instance_id=instance_id,
                                          business_key=business_key, data=data)])[0]

    def extend(self, session, entries, at=None):
        """Add several records (dicts of :meth:`append`'s arguments) under one lock of the head;
        returns them as dicts. Core statements on the session's connection, not ORM objects:
        this runs in every command. ``at`` defaults to the clock's now.

        Call it last in a transaction: the head stays locked from here until commit.
        """
        if not entries:
            return []
        connection = session.connection()
        head = connection.execute(_LOCK_HEAD).one_or_none()
        seq, prev_hash = head if head is not None else (0, GENESIS)
        at = at or self.clock.now()
        request_id = request_ids.current()  # which request did this (engine.request_ids)
        records = []
        for entry in entries:
            data = json.loads(json.dumps(entry.get("data") or {}, ensure_ascii=False, default=str))
            if request_id is not None and isinstance(data, dict):  # the other fields keep their meaning
                data.setdefault("request_id", request_id)
            seq += 1
            digest = record_hash(prev_hash, seq, at, entry.get("actor"), entry["kind"],
                                 entry.get("instance_id"), entry.get("business_key"), data)
            records.append(dict(seq=seq, at=at, actor=entry.get("actor"), kind=entry["kind"],
                                instance_id=entry.get("instance_id"),
                                business_key=entry.get("business_key"), data=data,
                                prev_hash=prev_hash, hash=digest))
            prev_hash = digest
        connection.execute(_APPEND, records)
        if head is None:
            connection.execute(insert(HEAD).values(id=1, seq=seq, hash=prev_hash))
        else:
            connection.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev_hash})
        return records


def verify(session, batch=1000, progress=None):
    """Walk the chain. Returns ``{"ok": True, "count": N}`` or ``ok: False`` with the first bad seq.

    Detects an edited record (hash mismatch), a deleted one (gap in seq or broken link) and
    a truncated tail (the head names a later record). ``progress(done)`` is called per batch.
    """
    prev_hash, expected_seq, count = GENESIS, 1, 0
    query = select(AuditRecord).order_by(AuditRecord.seq).execution_options(yield_per=batch)
    for record in session.scalars(query):
        problem = None
        if record.seq != expected_seq:
            problem, record_seq = "missing record", expected_seq
        elif record.prev_hash != prev_hash:
            problem, record_seq = "broken link to the previous record", record.seq
        elif record.hash != record_hash(prev_hash, record.seq, record.at, record.actor, record.kind,
                                        record.instance_id, record.business_key, record.data):
            problem, record_seq = "record content does not match its hash", record.seq
        if problem:
            return {"ok": False, "count": count, "seq": record_seq, "reason": problem}
        prev_hash, expected_seq, count = record.hash, record.seq + 1, count + 1
        if progress and count % batch == 0:
            progress(count)
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev_hash):
        return {"ok": False, "count": count, "seq": count + 1, "reason": "records missing at the end"}
    return {"ok": True, "count": count}
