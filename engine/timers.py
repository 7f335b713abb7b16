"""Durable timers (DESIGN invariant 6): claim due rows with a lease, fire them through the
unit of work, and never let one bad timer hold up the others.

One scheduler tick (:meth:`Timers.tick`):

1. **Claim** up to ``batch_size`` due rows (``state = 'waiting' AND fire_at < now`` and not
   held) in one short write transaction: ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL,
   so concurrent workers take disjoint rows; on SQLite the write transaction itself
   (``BEGIN IMMEDIATE``) serialises claimers, so several schedulers (one per serve
   process) share one file safely.
   Each row gets ``lease_owner`` (this worker), ``lease_until`` and ``attempts + 1``.
2. **Fire** each claimed instance through the unit of work. Its projection
   (``engine.projection``) marks a row ``fired`` and writes the ``timer_fired`` audit record
   in the instance's own transaction, so a timer fires at most once: if a lease lapses while
   its holder is still working (or a person's command runs at the same moment), the second
   save fails the optimistic ``version`` check (:class:`StaleInstance`) and its retry finds
   the timer already fired.
3. **Release** rows still waiting (cycle timers with a next occurrence, or a timer that
   SpiffWorkflow did not consider due); a row that fired keeps ``lease_owner`` as a record.

A process killed between 1 and 3 leaves its leases; they lapse after ``lease_seconds`` and
another worker claims the rows. ``attempts`` counts claims since the timer last made
progress, so a timer that kills its worker every time ends as an incident too.

**Failures.** An exception while firing (a listener, the database; not a model error, which
the unit of work saves as the instance's ``error``) records ``last_error`` and backs off
(``backoff_seconds * 2**(attempts-1)``, at most ``backoff_max_seconds``); after
``max_attempts`` the row becomes ``state = 'incident'`` until :meth:`Timers.retry_incident`.
The rest of the batch goes on. A database outage (``engine.db.unavailable``) is nobody's
failure: the batch stops and is given back uncounted (when the database is back at once) or
its leases lapse, and no outage turns a timer into an incident.

**Service-task retries.** A service task with ``spiffworkflow:retry`` that fails leaves its
instance in ``error`` and gets a retry row (``task_key = 'retry:<task>'``, see
:func:`schedule_retry`), written by the failing unit of work; firing that row retries the
instance. BPMN timer rows are the projection's (``engine.projection``).

**Two times.** Due times and back-offs are business time: the engine clock (system or
simulated), so a simulated clock steps through them deterministically. A lease measures
whether its holder is alive, so ``lease_until`` of a held row (``lease_owner`` set) is wall
time (:class:`~engine.clock.SystemClock`). With the system clock both are the same; with a
simulated clock a dead worker's lease still lapses while nobody moves the clock. A row in
back-off has ``lease_owner`` empty and ``lease_until`` on the engine clock. Moving the
simulated clock fires what falls due on the way (``engine.simulation``).
"""
import dataclasses
import datetime as dt
import logging
import os
import socket
import threading
import uuid

from sqlalchemy import and_, case, exists, func, or_, select

from engine import metrics
from engine.actor import SYSTEM
from engine.clock import SystemClock
from engine.db import unavailable
from engine.errors import Conflict, NotFound, StaleInstance
from engine.models import Instance, Timer

log = logging.getLogger(__name__)

STALE_RETRIES = 5
RETRY_PREFIX = "retry:"  # task_key of a service task's retry row (see schedule_retry)


def backoff_delay(attempts, base_seconds, max_seconds):
    """Delay before the next try after ``attempts`` failed ones: ``base_seconds * 2**(attempts-1)``,
    at most ``max_seconds`` (timers and the outbox retry alike)."""
    return dt.timedelta(seconds=min(base_seconds * 2 ** max(attempts - 1, 0), max_seconds))


def worker_id():
    """``hostname:pid:random`` — unique per process (and per Timers object)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclasses.dataclass
class Batch:
    """What one claim took: rows leased to us until ``lease_end`` (wall time)."""

    timers: list            # (timer_id, instance_id, fire_at, task_key), in due order
    lease_end: dt.datetime
    gave_up: int = 0        # rows that became incidents instead of being claimed again


@dataclasses.dataclass
class TickResult:
    claimed: int = 0   # rows claimed
    gave_up: int = 0   # rows that became incidents at claim time
    woken: int = 0     # instances whose unit of work saved
    failed: int = 0    # instances whose firing raised


def schedule_retry(session, ctx):
    """A retry row for the failed service task ``ctx.retry`` (task key, retries, back-off
    base), ``backoff_base * 2**n`` seconds on, while retries remain; else the failure stays
    an incident of the instance. Runs in the unit of work's write transaction (``session``);
    appends its audit record to ``ctx``."""
    key, retries, base = ctx.retry
    task_key = RETRY_PREFIX + key
    done = session.scalar(select(func.count()).select_from(Timer).where(
        Timer.instance_id == ctx.instance.id, Timer.task_key == task_key))
    if done >= retries:
        ctx.audit("service_retries_exhausted", task=key, retries=retries)
        return
    fire_at = ctx.now + dt.timedelta(seconds=base * 2 ** done)
    session.add(Timer(id=str(uuid.uuid4()), instance_id=ctx.instance.id, task_key=task_key,
                      fire_at=fire_at, state="waiting"))
    ctx.audit("service_retry_scheduled", task=key, attempt=done + 1, of=retries, at=fire_at)


def _instance_running():
    """Claimable rows: BPMN timers of running instances (those of suspended, failed or ended
    instances wait), and service-task retries of instances in error."""
    retry = Timer.task_key.startswith(RETRY_PREFIX)
    return exists(select(Instance.id).where(Instance.id == Timer.instance_id, or_(
        and_(~retry, Instance.status == "running"), and_(retry, Instance.status == "error"))))


class Timers:
    def __init__(self, runtime, wall_clock=None):
        settings = runtime.config["scheduler"]
        self.rt = runtime
        self.owner = worker_id()
        self.wall = wall_clock or SystemClock()
        self.batch_size = int(settings["batch_size"])
        self.lease = dt.timedelta(seconds=float(settings["lease_seconds"]))
        self.max_attempts = int(settings["max_attempts"])
        self.backoff_seconds = float(settings["backoff_seconds"])
        self.backoff_max_seconds = float(settings["backoff_max_seconds"])
        self.pause_after_claim = float(settings.get("pause_after_claim_seconds") or 0)
        self._stopping = threading.Event()

    # -- the scheduler's job -------------------------------------------------------------------
    def fire_due(self):
        """Fire every claimable due timer, batch after batch. Returns the instances woken."""
        return self.drain().woken

    def stop(self):
        """Ask running ticks to finish the instance at hand and give back unused leases."""
        self._stopping.set()

    @property
    def stopping(self):
        return self._stopping.is_set()

    def drain(self):
        """Tick until a tick claims nothing; returns the ticks' summed :class:`TickResult`."""
        total = TickResult()
        while not self._stopping.is_set():
            result = self.tick()
            for field in dataclasses.fields(TickResult):
                setattr(total, field.name, getattr(total, field.name) + getattr(result, field.name))
            if not (result.claimed or result.gave_up):  # a firing may make more timers due
                break
        return total

    def tick(self):
        """Claim one batch and fire it."""
        batch = self.claim()
        if batch.timers and self.pause_after_claim:
            self._stopping.wait(self.pause_after_claim)  # fault injection; see config.toml
        return self.fire(batch)

    def fire(self, batch):
        """Fire a claimed batch instance by instance, in due order, while our lease lasts.

        Rows not tried (stopping, or the lease ran out) are given back.
        """
        result = TickResult(claimed=len(batch.timers), gave_up=batch.gave_up)
        by_instance, retries = {}, set()
        for timer_id, instance_id, fire_at, task_key in batch.timers:
            by_instance.setdefault(instance_id, {})[timer_id] = fire_at
            if task_key.startswith(RETRY_PREFIX):
                retries.add(timer_id)
        pending, outage = list(by_instance.items()), None
        loaded = self._instances(list(by_instance)) if by_instance else {}  # idle ticks: no read
        while pending:
            if self._stopping.is_set() or self.wall.now() >= batch.lease_end:
                break  # our lease is over (or we are stopping): leave the rest to a new claim
            instance_id, timers = pending.pop(0)
            try:
                outcome = self._fire(instance_id, timers, sorted(retries.intersection(timers)),
                                     loaded.get(instance_id))
                result.woken += outcome == "fired"
                result.failed += outcome == "failed"
            except Exception as err:  # noqa: BLE001 — e.g. the database went away while recording
                outage = unavailable(err)
                if outage is not None:  # no timer's fault: stop, give the batch back uncounted
                    pending.insert(0, (instance_id, timers))
                    break
                log.exception("timers of instance %s: firing failed; the lease will lapse", instance_id)
                result.failed += 1
        if pending:  # if the database is still down, this fails too and the leases lapse
            self._unclaim([timer_id for _, timers in pending for timer_id in timers])
        if outage is not None:
            raise outage  # ends the tick (a drain would claim the same rows again at once)
        return result

    # -- claim -----------------------------------------------------------------------------------
    def claim(self):
        """Lease up to ``batch_size`` due rows (a :class:`Batch`), oldest due first.

        A row claimed ``max_attempts`` times without progress (its workers died, or it never
        fired although due) becomes an incident here instead of being claimed again.
        """
        now, wall = self.rt.clock.now(), self.wall.now()
        lease_end = wall + self.lease
        claimable = and_(
            Timer.state == "waiting", Timer.fire_at < now, _instance_running(),
            or_(Timer.lease_until.is_(None),
                and_(Timer.lease_owner.is_(None), Timer.lease_until < now),       # back-off over
                and_(Timer.lease_owner.is_not(None), Timer.lease_until < wall)))  # lease lapsed
        query = (select(Timer).where(claimable).order_by(Timer.fire_at, Timer.id)
                 .limit(self.batch_size).with_for_update(skip_locked=True))  # SQLite: no-op
        batch = Batch([], lease_end)
        with self.rt.db.write() as session:
            for row in session.scalars(query):
                if row.attempts >= self.max_attempts:
                    self._to_incident(session, row, row.last_error or (
                        f"claimed {row.attempts} times without firing: its workers stopped "
                        "while firing it, or it did not fire although due"))
                    batch.gave_up += 1
                    continue
                row.lease_owner, row.lease_until = self.owner, lease_end
                row.attempts += 1
                batch.timers.append((row.id, row.instance_id, row.fire_at, row.task_key))
        return batch

    # -- fire ------------------------------------------------------------------------------------
    def _instances(self, instance_ids):
        """The batch's instances in one read; each unit of work then starts from its row (a
        row changed meanwhile fails the save's version check, and the retry reads it again)."""
        with self.rt.db.read() as session:
            return {row.id: row for row in session.scalars(
                select(Instance).where(Instance.id.in_(instance_ids)))}

    def _fire(self, instance_id, timers, retries, instance=None):
        """Run the instance's unit of work; ``timers`` maps our claimed rows to their fire_at,
        ``retries`` are those that retry a failed service task, ``instance`` is the row as
        read with the batch.

        Returns ``"fired"`` (saved), ``"failed"`` (backed off or incident) or ``"lost"`` (our
        lease lapsed during a lost race: whoever holds the rows now carries on).
        """
        if retries:
            return self._retry_service(instance_id, retries)
        for _ in range(STALE_RETRIES):
            try:
                ctx = self.rt.uow.run(instance_id, lambda ctx: None, SYSTEM, instance=instance,
                                      command="fire_timers")
            except StaleInstance:
                instance = None
                if not self._held(timers):
                    return "lost"
                continue  # a person's command or another worker saved first: reload and retry
            except Exception as err:  # noqa: BLE001 — any failure: back off, never block the rest
                if unavailable(err) is not None:
                    raise  # the database's failure, not the timer's: see fire()
                self._failed(timers, err)
                return "failed"
            waiting = {timer.id: timer.fire_at for timer in ctx.timers or () if timer.id in timers}
            for timer_id, due in timers.items():  # fired: gone, or a cycle's next occurrence
                if timer_id not in waiting or waiting[timer_id] != due:
                    metrics.timer_fired(ctx.now, due)
            if waiting:  # usually none: skip the transaction
                self._release({timer_id: timers[timer_id] for timer_id in waiting})
            return "fired"
        log.warning("instance %s: still stale after %s tries; releasing its timers",
                    instance_id, STALE_RETRIES)
        self._release(timers)
        return "lost"

    def _retry_service(self, instance_id, retry_ids):
        """Run the failed service task again; a new failure schedules the next retry (or not)."""
        try:
            self.rt.instances.retry(instance_id, SYSTEM)
            outcome, state = "fired", "fired"
        except Conflict:  # retried by an admin, or cancelled, meanwhile: nothing left to do
            outcome, state = "fired", "cancelled"
        except Exception as err:  # noqa: BLE001 — back off like any failing timer
            if unavailable(err) is not None:
                raise  # the database's failure, not the task's: see fire()
            self._failed({timer_id: None for timer_id in retry_ids}, err)
            return "failed"
        with self.rt.db.write() as session:
            for row in self._mine(session, retry_ids):
                row.state, row.lease_owner, row.lease_until = state, None, None
        return outcome

    def _mine(self, session, timer_ids):
        return list(session.scalars(select(Timer).where(
            Timer.id.in_(timer_ids), Timer.state == "waiting", Timer.lease_owner == self.owner)
            .with_for_update()))

    def _held(self, timers):
        with self.rt.db.read() as session:
            return bool(session.scalar(select(func.count()).select_from(Timer).where(
                Timer.id.in_(list(timers)), Timer.state == "waiting",
                Timer.lease_owner == self.owner, Timer.lease_until > self.wall.now())))

    def _release(self, timers):
        """Give back rows the firing left waiting; a row that moved on starts a fresh count."""
        with self.rt.db.write() as session:
            for row in self._mine(session, list(timers)):
                row.lease_owner = row.lease_until = None
                if row.fire_at != timers[row.id]:  # e.g. a cycle timer's next occurrence
                    row.attempts = 0

    def _unclaim(self, timer_ids):
        """Give back rows we claimed but did not try (stopping, or our lease ran out)."""
        with self.rt.db.write() as session:
            for row in self._mine(session, timer_ids):
                row.lease_owner = row.lease_until = None
                row.attempts = max(row.attempts - 1, 0)

    def _failed(self, timers, err):
        error = f"{type(err).__name__}: {err}"[:4000]
        log.warning("timers %s failed: %s", ", ".join(timers), error)
        now = self.rt.clock.now()
        with self.rt.db.write() as session:
            for row in self._mine(session, list(timers)):
                row.last_error = error
                if row.attempts >= self.max_attempts:
                    self._to_incident(session, row, error)
                else:
                    row.lease_owner, row.lease_until = None, now + self.backoff(row.attempts)

    def backoff(self, attempts):
        return backoff_delay(attempts, self.backoff_seconds, self.backoff_max_seconds)

    def _to_incident(self, session, row, error):
        row.state, row.last_error = "incident", error
        row.lease_owner = row.lease_until = None
        instance = session.get(Instance, row.instance_id)
        log.error("timer %s (%s) of instance %s is an incident after %s attempts: %s",
                  row.id, row.task_key, row.instance_id, row.attempts, error)
        self.rt.audit.append(session, "timer_incident", actor=SYSTEM.username,
                             instance_id=row.instance_id,
                             business_key=instance.business_key if instance else None,
                             data={"timer": row.id, "task": row.task_key, "due": row.fire_at,
                                   "attempts": row.attempts, "error": error})

    # -- incidents -------------------------------------------------------------------------------
    def incidents(self):
        """Timers that gave up, oldest due first (``last_error`` says why)."""
        with self.rt.db.read() as session:
            return list(session.scalars(select(Timer).where(Timer.state == "incident")
                                        .order_by(Timer.fire_at, Timer.id)))

    def pending(self, limit=50):
        """Waiting timers, oldest due first (``fire_at`` is when each falls due)."""
        with self.rt.db.read() as session:
            return list(session.scalars(select(Timer).where(Timer.state == "waiting")
                                        .order_by(Timer.fire_at, Timer.id).limit(limit)))

    def retry_incident(self, timer_id, actor=SYSTEM):
        """Put an incident back to waiting with a fresh count; the next tick fires it."""
        with self.rt.db.write() as session:
            row = session.scalar(select(Timer).where(Timer.id == timer_id).with_for_update())
            if row is None:
                raise NotFound(f"no timer {timer_id}", reason="no_timer")
            if row.state != "incident":
                raise Conflict(f"timer {timer_id} is {row.state}, not an incident", reason="not_an_incident")
            row.state, row.attempts = "waiting", 0
            row.lease_owner = row.lease_until = None
            instance = session.get(Instance, row.instance_id)
            self.rt.audit.append(session, "timer_incident_retried", actor=actor.username,
                                 instance_id=row.instance_id,
                                 business_key=instance.business_key if instance else None,
                                 data={"timer": row.id, "task": row.task_key})
            return row

    # -- the simulated clock (engine.simulation) --------------------------------------------------
    def next_due(self):
        """The earliest engine-clock moment after which a waiting row may be claimed, or None.

        A row in back-off counts from its back-off end; a row another worker holds counts
        from its due time (the holder is firing it now).
        """
        ready_at = case((and_(Timer.lease_owner.is_(None), Timer.lease_until > Timer.fire_at),
                         Timer.lease_until), else_=Timer.fire_at)
        with self.rt.db.read() as session:
            moments = session.scalars(select(ready_at).where(Timer.state == "waiting", _instance_running())
                                      .order_by(ready_at).limit(1))
            return next(iter(moments), None)
