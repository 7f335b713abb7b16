"""The transactional outbox: effects that must follow a commit, and are never lost to a crash.

A listener that wants something done once its command has committed — a notification pushed
to a webhook or by mail, a command on *another* instance — calls ``event.outbox(kind,
payload)``. The unit of work writes one ``outbox`` row (:class:`engine.models.Effect`) per
effect **in the command's own transaction**: the effect exists exactly when the command does.
The domain registers what each kind does: ``registry.effect(kind, fn)``, ``fn(engine,
payload, effect)`` (``effect``: the row, for its ``id``, ``instance_id`` and ``attempts``).

**Dispatch.** Two paths run the same rows:

1. *At once.* The row is written already leased to the writing process (``lease_owner``,
   ``lease_until``, ``attempts = 1``), which runs it right after the commit, in the calling
   thread (:meth:`Outbox.run_written`): no claim transaction and no polling delay.
2. *Every scheduler* (``duban serve`` in-process and ``duban worker``) runs
   :meth:`Outbox.dispatch_due` on its tick: it claims due rows like timers (``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL, queued ``BEGIN IMMEDIATE`` claimers on SQLite) with a lease, runs
   them and marks them done. A process that dies between commit and effect (or mid-effect)
   leaves its lease; it lapses after ``lease_seconds`` and a scheduler runs the row.

**Failures.** A handler that raises records ``last_error`` and backs off
(``backoff_seconds * 2**(attempts-1)``, at most ``backoff_max_seconds``); after
``max_attempts`` runs the row is an **incident** (``state = 'incident'``, audited
``outbox_incident``) shown on the monitor page until an admin retries it
(:meth:`Outbox.retry_incident`). A row claimed ``max_attempts`` times whose runs never
finished (its processes died) becomes an incident at claim time.

**Delivery is at least once**, so handlers must be idempotent: a process may die after the
effect and before the row is marked done, or a lease may lapse while a slow handler still
runs. Each handler states how it copes (a marker in the target, a delivery id the receiver
can deduplicate). The run right after the commit takes a command's effects in the order
written; schedulers take rows oldest first, with no order among one command's effects, so
an effect must not depend on another having run.

**Time.** Leases, back-offs and the created/done times are wall time
(:class:`~engine.clock.SystemClock`): effects happen in the real world, so a simulated
business clock neither delays nor hurries them.

``[outbox] exit_after_commit`` (tests only) makes the process ``os._exit`` right after a
command that wrote effects has committed, before running them: the crash this module exists for.
"""
import dataclasses
import datetime as dt
import logging
import os
import threading
import uuid

from sqlalchemy import and_, insert, or_, select, update

from engine import serialization
from engine.actor import SYSTEM
from engine.clock import SystemClock
from engine.errors import Conflict, NotFound
from engine.models import Effect, Instance
from engine.timers import backoff_delay, worker_id

log = logging.getLogger(__name__)
OUTBOX = Effect.__table__
CRASH_EXIT_STATUS = 70  # the test-only exit after commit (see the module's docstring)


@dataclasses.dataclass
class DispatchResult:
    claimed: int = 0    # rows this dispatcher ran (or tried to)
    done: int = 0       # ... that succeeded
    failed: int = 0     # ... that raised (backed off, or now incidents)
    gave_up: int = 0    # rows that became incidents at claim time


class Outbox:
    def __init__(self, runtime, wall_clock=None):
        settings = runtime.config["outbox"]
        self.rt = runtime
        self.owner = worker_id()
        self.wall = wall_clock or SystemClock()
        self.batch_size = int(settings["batch_size"])
        self.lease = dt.timedelta(seconds=float(settings["lease_seconds"]))
        self.max_attempts = int(settings["max_attempts"])
        self.backoff_seconds = float(settings["backoff_seconds"])
        self.backoff_max_seconds = float(settings["backoff_max_seconds"])
        self.exit_after_commit = bool(settings.get("exit_after_commit", False))
        self._stopping = threading.Event()

    # -- writing (inside the unit of work's transaction) ----------------------------------------
    def write(self, connection, instance_id, effects):
        """Insert ``effects`` (``[(kind, payload)]``) through the command's ``connection``,
        leased to this process so that it runs them after the commit; returns their ids.

        An effect of a kind no handler is registered for raises ValueError: the command
        fails and writes nothing, rather than leaving a row no dispatcher can run."""
        if not effects:
            return []
        now = self.wall.now()
        rows = []
        for kind, payload in effects:
            if self.rt.registry.effect_handler(kind) is None:
                raise ValueError(f"no effect handler is registered for {kind!r}")
            rows.append(dict(id=str(uuid.uuid4()), kind=kind, payload=serialization.jsonable(payload),
                             instance_id=instance_id, state="pending", attempts=1,
                             next_attempt_at=now, lease_owner=self.owner, lease_until=now + self.lease,
                             last_error=None, created_at=now, done_at=None))
        connection.execute(insert(OUTBOX), rows)
        return [row["id"] for row in rows]

    def run_written(self, effect_ids):
        """Run the effects a command of this process just committed (path 1), in order.

        Never raises: a failure is the row's (back-off or incident), never the command's."""
        if not effect_ids:
            return
        if self.exit_after_commit:
            log.warning("[outbox] exit_after_commit: exiting before running %s", ", ".join(effect_ids))
            os._exit(CRASH_EXIT_STATUS)
        with self.rt.db.read() as session:
            rows = {row.id: row for row in session.scalars(select(Effect).where(
                Effect.id.in_(effect_ids), Effect.state == "pending", Effect.lease_owner == self.owner))}
        done = [effect_id for effect_id in effect_ids
                if effect_id in rows and self._run(rows[effect_id], mark_done=False)]
        self._mark_done(done)  # one write for the command's effects

    # -- the scheduler's job (path 2) -----------------------------------------------------------
    def dispatch_due(self):
        """Claim and run due rows, batch after batch, until none is left; returns the sum."""
        total = DispatchResult()
        while not self._stopping.is_set():
            result = self.dispatch_batch()
            for field in dataclasses.fields(DispatchResult):
                setattr(total, field.name, getattr(total, field.name) + getattr(result, field.name))
            if not (result.claimed or result.gave_up):
                break
        return total

    def dispatch_batch(self, effect_ids=None):
        """Claim up to ``batch_size`` due rows (only ``effect_ids``, if given) and run them."""
        if effect_ids is None and not self._anything_due():
            return DispatchResult()  # an idle tick reads, and takes no write lock
        rows, gave_up = self._claim(effect_ids)
        result = DispatchResult(claimed=len(rows), gave_up=gave_up)
        for index, row in enumerate(rows):
            if self._stopping.is_set():
                self._unclaim([r.id for r in rows[index:]])
                break
            if self._run(row):
                result.done += 1
            else:
                result.failed += 1
        return result

    def stop(self):
        """Ask a running dispatch to finish the effect at hand and give back its other leases."""
        self._stopping.set()

    @staticmethod
    def _claimable(wall):
        return and_(Effect.state == "pending", Effect.next_attempt_at <= wall,
                    or_(Effect.lease_owner.is_(None), Effect.lease_until < wall))

    def _anything_due(self):
        with self.rt.db.read() as session:
            return session.scalar(select(Effect.id).where(self._claimable(self.wall.now())).limit(1)) is not None

    def _claim(self, effect_ids=None):
        wall = self.wall.now()
        query = select(Effect).where(self._claimable(wall))
        if effect_ids is not None:
            query = query.where(Effect.id.in_(effect_ids))
        query = (query.order_by(Effect.next_attempt_at, Effect.created_at, Effect.id)
                 .limit(self.batch_size).with_for_update(skip_locked=True))  # SQLite: no-op
        claimed, gave_up = [], 0
        with self.rt.db.write() as session:
            for row in session.scalars(query):
                if row.attempts >= self.max_attempts:  # every run so far died with its process
                    self._to_incident(session, row, row.last_error or (
                        f"started {row.attempts} times without finishing: its processes stopped "
                        "while running it"))
                    gave_up += 1
                    continue
                row.lease_owner, row.lease_until = self.owner, wall + self.lease
                row.attempts += 1
                claimed.append(row)
        return claimed, gave_up

    def _unclaim(self, effect_ids):
        with self.rt.db.write() as session:
            session.execute(update(Effect).where(
                Effect.id.in_(effect_ids), Effect.state == "pending", Effect.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None, attempts=Effect.attempts - 1))

    # -- running one effect ---------------------------------------------------------------------
    def _run(self, row, mark_done=True):
        """Run the handler of a row we hold; True when it succeeded (then marked done, unless
        the caller marks several at once)."""
        handler = self.rt.registry.effect_handler(row.kind)
        try:
            if handler is None:
                raise LookupError(f"no effect handler is registered for {row.kind!r}")
            handler(self.rt, row.payload, row)
        except Exception as err:  # noqa: BLE001 — any failure: back off; never the caller's problem
            try:
                self._failed(row, err)
            except Exception:  # noqa: BLE001 — e.g. the database is away: the lease will lapse
                log.exception("outbox effect %s (%s): recording its failure failed", row.id, row.kind)
            return False
        if mark_done:
            self._mark_done([row.id])
        return True

    def _mark_done(self, effect_ids):
        if not effect_ids:
            return
        try:
            with self.rt.db.write() as session:
                session.execute(update(Effect).where(Effect.id.in_(effect_ids), Effect.state == "pending")
                                .values(state="done", done_at=self.wall.now(), lease_owner=None,
                                        lease_until=None, last_error=None))
        except Exception:  # noqa: BLE001 — the effects happened; the leases lapse and a rerun is idempotent
            log.exception("outbox effects %s ran but could not be marked done", ", ".join(effect_ids))

    def _failed(self, row, err):
        error = f"{type(err).__name__}: {err}"[:4000]
        log.warning("outbox effect %s (%s), attempt %s, failed: %s", row.id, row.kind, row.attempts, error)
        with self.rt.db.write() as session:
            mine = session.scalar(select(Effect).where(
                Effect.id == row.id, Effect.state == "pending", Effect.lease_owner == self.owner)
                .with_for_update())
            if mine is None:  # our lease lapsed and someone else holds it now
                return
            mine.last_error = error
            if mine.attempts >= self.max_attempts:
                self._to_incident(session, mine, error)
            else:
                mine.lease_owner, mine.lease_until = None, None
                mine.next_attempt_at = self.wall.now() + self.backoff(mine.attempts)

    def backoff(self, attempts):
        return backoff_delay(attempts, self.backoff_seconds, self.backoff_max_seconds)

    def _to_incident(self, session, row, error):
        row.state, row.last_error = "incident", error
        row.lease_owner = row.lease_until = None
        log.error("outbox effect %s (%s) of instance %s is an incident after %s attempts: %s",
                  row.id, row.kind, row.instance_id, row.attempts, error)
        self.rt.audit.append(session, "outbox_incident", actor=SYSTEM.username,
                             instance_id=row.instance_id, business_key=_business_key(session, row),
                             data={"effect": row.id, "kind": row.kind, "attempts": row.attempts,
                                   "error": error})

    # -- incidents (the monitor page, the API) --------------------------------------------------
    def incidents(self):
        """Effects that gave up, oldest first (``last_error`` says why)."""
        with self.rt.db.read() as session:
            return list(session.scalars(select(Effect).where(Effect.state == "incident")
                                        .order_by(Effect.created_at, Effect.id)))

    def get(self, effect_id):
        with self.rt.db.read() as session:
            row = session.get(Effect, effect_id)
            if row is None:
                raise NotFound(f"no outbox effect {effect_id}", reason="no_effect")
            return row

    def retry_incident(self, effect_id, actor=SYSTEM):
        """Put an incident back to pending with a fresh count and run it at once; returns the
        row as it is afterwards (``done``, or ``pending`` in back-off, with the new error).
        NotFound for an unknown id, Conflict when it is not an incident."""
        with self.rt.db.write() as session:
            row = session.scalar(select(Effect).where(Effect.id == effect_id).with_for_update())
            if row is None:
                raise NotFound(f"no outbox effect {effect_id}", reason="no_effect")
            if row.state != "incident":
                raise Conflict(f"outbox effect {effect_id} is {row.state}, not an incident",
                               reason="not_an_incident")
            row.state, row.attempts, row.next_attempt_at = "pending", 0, self.wall.now()
            row.lease_owner = row.lease_until = None
            self.rt.audit.append(session, "outbox_incident_retried", actor=actor.username,
                                 instance_id=row.instance_id, business_key=_business_key(session, row),
                                 data={"effect": row.id, "kind": row.kind})
        self.dispatch_batch([effect_id])
        return self.get(effect_id)


def _business_key(session, row):
    if row.instance_id is None:
        return None
    return session.scalar(select(Instance.business_key).where(Instance.id == row.instance_id))
