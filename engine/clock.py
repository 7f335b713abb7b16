"""The one clock (DESIGN invariant 5): system time, or a simulated time tests and designers move.

Nothing in Duban calls ``datetime.now()`` directly. SpiffWorkflow's timer module does, so
:func:`install_spiff_clock` swaps its ``datetime`` for a subclass that asks the clock bound to
the running unit of work (:func:`using_clock`); outside a unit of work it reads system time.
"""
import contextlib
import contextvars
import datetime as dt
import threading

UTC = dt.timezone.utc


class SystemClock:
    mode = "system"

    def now(self):
        """Current time, timezone-aware, UTC."""
        return dt.datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to. Thread-safe; never moves backwards."""

    mode = "simulated"

    def __init__(self, start=None):
        self._now = _aware(start) if start else dt.datetime.now(UTC).replace(microsecond=0)
        self._lock = threading.Lock()

    def now(self):
        with self._lock:
            return self._now

    def advance(self, seconds=None, to=None):
        """Move forward by ``seconds`` or to the instant ``to``; return the new now.

        Raises ValueError for a negative move: time that went backwards would re-arm fired
        timers and corrupt due-time arithmetic.
        """
        with self._lock:
            target = _aware(to) if to is not None else self._now + dt.timedelta(seconds=seconds or 0)
            if target < self._now:
                raise ValueError(f"the simulated clock cannot go back from {self._now.isoformat()}")
            self._now = target
            return self._now


def make_clock(clock_config):
    if clock_config.get("mode", "system") == "simulated":
        return SimulatedClock(clock_config.get("start"))
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
