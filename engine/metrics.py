"""The engine's instruments, in Prometheus terms (``prometheus_client``).

Measured where the work happens, at a cost of a few microseconds per command (a command is
milliseconds): the unit of work counts each command by name and outcome and times its load,
run and save (:class:`Command`); a firing timer records how late it fired
(:func:`timer_fired`); the connection pools count their checked-out connections
(:func:`watch_pool`). What is cheaper to ask the database when someone looks — timers
waiting and overdue, the outbox's depth, incidents — is :class:`DatabaseCollector`, run at
scrape time (a few COUNT queries on indexed columns), never per command.

Process-wide, like ``prometheus_client``'s default registry: several engines in one process
(the tests) add to the same series. Under gunicorn every worker writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` and a scrape adds them up (``api.server``); label children are
created on first use, so setting that variable before the first command is enough. The API
serves them (``api.observability``); the names are documented in ``docs/OPERATIONS.md``.
"""
import logging
import time

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import and_, case, event, func, select

from engine.errors import EngineError, StaleInstance
from engine.models import Effect, Instance, Timer

log = logging.getLogger(__name__)

_COMMAND_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)
_LAG_BUCKETS = (.1, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)

COMMANDS = Counter(
    "duban_commands", "Commands run through the unit of work, by command and outcome: ok "
    "(committed), stale (lost a race, wrote nothing), refused (an engine error before the "
    "workflow advanced, wrote nothing), error (the model failed and the instance was saved in "
    "error, or the command failed unexpectedly: database, bug)", ["command", "outcome"])
PHASE_SECONDS = Histogram(
    "duban_unit_of_work_seconds", "Time of a unit of work's phases: load (read the instance), "
    "run (apply the command, advance and compact the workflow), save (the write transaction)",
    ["phase"], buckets=_COMMAND_BUCKETS)
TIMER_LAG = Histogram(
    "duban_timer_lag_seconds", "How late a timer fired: the firing command's instant minus the "
    "timer's due time (engine clock)", buckets=_LAG_BUCKETS)
WORKFLOW_CACHE = Counter(
    "duban_workflow_cache", "Loads of an instance's workflow by the unit of work, by outcome of "
    "the per-process cache (engine.workflow_cache): hit (the workflow the last command here left), "
    "miss (none kept), stale (another command saved the instance since)", ["outcome"])
POOL_CHECKED_OUT = Gauge(
    "duban_db_pool_checked_out", "Database connections in use, by pool (summed over live "
    "processes)", ["pool"], multiprocess_mode="livesum")
POOL_SIZE = Gauge(
    "duban_db_pool_size", "Connections a pool keeps (its size, without overflow; summed over "
    "live processes)", ["pool"], multiprocess_mode="livesum")


_children = {}  # (metric, label values) -> its child


def child(metric, *labels):
    """``metric.labels(*labels)``, made once per process (kept: ``labels()`` costs more than observing)."""
    found = _children.get((metric, labels))
    if found is None:
        found = _children.setdefault((metric, labels), metric.labels(*labels))
    return found


class Command:
    """Measures one command: ``with Command("complete_task") as measured: ... measured.lap("load")``.

    The outcome is counted when the block ends: an exception classifies it (stale, refused,
    error); a block that ends normally is ok unless :meth:`model_failed` said otherwise.
    """

    __slots__ = ("name", "_last", "_failed")

    def __init__(self, name):
        self.name, self._failed = name, False

    def __enter__(self):
        self._last = time.perf_counter()
        return self

    def lap(self, phase):
        """The time since the previous lap (or the start) was ``phase``."""
        now = time.perf_counter()
        child(PHASE_SECONDS, phase).observe(now - self._last)
        self._last = now

    def model_failed(self):
        self._failed = True

    def __exit__(self, kind, _value, _traceback):
        if kind is None:
            outcome = "error" if self._failed else "ok"
        elif issubclass(kind, StaleInstance):
            outcome = "stale"
        elif issubclass(kind, EngineError):
            outcome = "refused"
        else:
            outcome = "error"
        child(COMMANDS, self.name, outcome).inc()
        return False


def timer_fired(now, due):
    """A timer due at ``due`` fired in a command at ``now`` (both engine clock)."""
    TIMER_LAG.observe(max((now - due).total_seconds(), 0.0))


def watch_pool(sa_engine, name):
    """Count ``sa_engine``'s pool in ``duban_db_pool_checked_out{pool=name}`` and
    ``duban_db_pool_size``. Events rather than a look at scrape time: under gunicorn the
    scraping worker cannot see the other workers' pools."""
    pool, in_use = sa_engine.pool, POOL_CHECKED_OUT.labels(name)
    size = pool.size() if callable(getattr(pool, "size", None)) else 0
    POOL_SIZE.labels(name).inc(size)
    event.listen(pool, "checkout", lambda *_: in_use.inc())
    event.listen(pool, "checkin", lambda *_: in_use.dec())
    return size


def unwatch_pool(name, size):
    """The pool of :func:`watch_pool` is disposed: it keeps no connections any more."""
    POOL_SIZE.labels(name).dec(size)


class DatabaseCollector:
    """Gauges read from the database at scrape time (a custom collector): timers waiting and
    overdue (due on the engine clock, instance running) and the oldest overdue one's lateness,
    the outbox's pending rows, and incidents by kind. When the database does not answer, only
    ``duban_database_up 0``."""

    def __init__(self, runtime):
        self.rt = runtime

    def collect(self):
        up = GaugeMetricFamily("duban_database_up", "1 when the scrape could read the database")
        try:
            families = self._read()
        except Exception as err:  # noqa: BLE001 — a scrape must answer, above all during an outage
            log.warning("metrics: cannot read the database: %s", err)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self):
        now = self.rt.clock.now()
        overdue = and_(Timer.fire_at < now, select(Instance.id).where(
            Instance.id == Timer.instance_id, Instance.status == "running").exists())
        with self.rt.db.read() as session:
            waiting, late, oldest = session.execute(
                select(func.count(), func.count(case((overdue, 1))), func.min(case((overdue, Timer.fire_at))))
                .where(Timer.state == "waiting")).one()
            timer_incidents = session.scalar(select(func.count()).where(Timer.state == "incident"))
            outbox = dict(session.execute(select(Effect.state, func.count())
                                          .where(Effect.state != "done").group_by(Effect.state)).all())
            instance_errors = session.scalar(select(func.count()).where(Instance.status == "error"))
        lateness = (now - _aware(oldest, now)).total_seconds() if oldest is not None else 0.0
        return [
            _gauge("duban_timers_waiting", "Timers waiting to fire", waiting),
            _gauge("duban_timers_overdue", "Waiting timers of running instances already due "
                   "(engine clock): the schedulers' backlog", late),
            _gauge("duban_timers_overdue_seconds", "How long the oldest overdue timer has been "
                   "due (0: none)", lateness),
            _gauge("duban_outbox_depth", "Outbox effects not yet done (pending, incl. backing off)",
                   outbox.get("pending", 0)),
            _gauge("duban_incidents", "Open incidents by kind: instances in error, timers and "
                   "outbox effects that gave up", None,
                   {"instance": instance_errors, "timer": timer_incidents, "outbox": outbox.get("incident", 0)}),
        ]


def _gauge(name, documentation, value, by_kind=None):
    family = GaugeMetricFamily(name, documentation, labels=["kind"] if by_kind else None)
    if by_kind:
        for kind, count in by_kind.items():
            family.add_metric([kind], count)
    else:
        family.add_metric([], value)
    return family


def _aware(moment, now):
    """SQLite hands back naive UTC datetimes; the engine clock is aware."""
    return moment.replace(tzinfo=now.tzinfo) if moment.tzinfo is None and now.tzinfo else moment
