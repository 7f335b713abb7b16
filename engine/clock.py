"""The one clock (DESIGN invariant 5): system time, or a simulated time tests and designers move.

Nothing in Duban calls ``datetime.now()`` directly. SpiffWorkflow's timer module does, so
:func:`install_spiff_clock` swaps its ``datetime`` for a subclass that asks the clock bound to
the running unit of work (:func:`using_clock`); outside a unit of work it reads system time.
A unit of work binds a :class:`FixedClock` at its command's instant. A simulated clock keeps
its time in a store (:mod:`engine.clock_store`), shared through the database by every process.
"""
import contextlib
import contextvars
import datetime as dt

from engine.clock_store import MemoryClockStore

UTC = dt.timezone.utc


class SystemClock:
    mode = "system"

    def now(self):
        """Current time, timezone-aware, UTC."""
        return dt.datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to, and never backwards.

    The time lives in a store (:mod:`engine.clock_store`): in memory by default, or the
    database's ``clock_state`` row so every process sharing the database shares the time.
    ``start`` is a lower bound, not a reset: now is ``max(stored time, start)``, so a process
    started later with the same configuration joins the shared time instead of rewinding it.
    Without ``start`` the lower bound is the system time when the clock was made; processes
    that share a simulated clock should configure ``start`` so they agree before the first
    advance. Reading never writes: ``now()`` may run inside a caller's write transaction
    (SQLite allows one writer, even in one thread).
    """

    mode = "simulated"

    def __init__(self, start=None, store=None):
        self._floor = _aware(start) if start else dt.datetime.now(UTC).replace(microsecond=0)
        self._store = store or MemoryClockStore()

    def now(self):
        return self._effective(self._store.read())

    def advance(self, seconds=None, to=None):
        """Move forward by ``seconds`` or to the instant ``to``; return the new now.

        Raises ValueError for a negative move: time that went backwards would re-arm fired
        timers and corrupt due-time arithmetic. Atomic across processes sharing the store.
        """
        target = _aware(to) if to is not None else None

        def move(stored):
            current = self._effective(stored)
            moved = target if target is not None else current + dt.timedelta(seconds=seconds or 0)
            if moved < current:
                raise ValueError(f"the simulated clock cannot go back from {current.isoformat()}")
            return moved
        return self._store.update(move)

    def _effective(self, stored):
        return max(stored, self._floor) if stored is not None else self._floor


class FixedClock:
    """One instant. A unit of work runs SpiffWorkflow at the instant its command started:
    every timer it evaluates agrees, and a shared simulated clock is read once per command."""

    mode = "fixed"

    def __init__(self, moment):
        self._now = moment

    def now(self):
        return self._now


class CommandClock:
    """The engine's clock: inside a unit of work, the command's instant; elsewhere, ``base``.

    Scripts, listeners and the audit log all ask the engine's clock for the time. While a unit
    of work runs, they get the instant its command started (the bound :class:`FixedClock`), so
    one command has one time and a shared simulated clock is read once per command, not once
    per question. Everything else (``advance``, ``mode``) is ``base``'s.
    """

    def __init__(self, base):
        self.base = base

    def now(self):
        bound = _current.get()
        return bound.now() if isinstance(bound, FixedClock) else self.base.now()

    def __getattr__(self, name):
        return getattr(self.base, name)


def make_clock(clock_config, store=None):
    """The clock ``[clock]`` asks for; a simulated clock keeps its time in ``store``."""
    if clock_config.get("mode", "system") == "simulated":
        return SimulatedClock(clock_config.get("start"), store)
    if clock_config.get("mode", "system") != "system":
        raise ValueError(f"[clock] mode must be 'system' or 'simulated', not {clock_config['mode']!r}")
    return SystemClock()


def _aware(value):
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        raise ValueError(f"time {value.isoformat()} has no UTC offset")
    return value.astimezone(UTC)


def parse_moment(value):
    """A timezone-aware datetime from a datetime or an ISO string; naive input is refused."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return moment


_current = contextvars.ContextVar("duban_clock", default=SystemClock())


@contextlib.contextmanager
def using_clock(clock):
    """Bind ``clock`` for SpiffWorkflow's timer evaluation inside the block."""
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


class _ClockDatetime(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        now = _current.get().now()
        return now.astimezone(tz) if tz else now.astimezone().replace(tzinfo=None)


def install_spiff_clock():
    """Make SpiffWorkflow's timers read the bound clock. Idempotent."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    timer.datetime = _ClockDatetime
