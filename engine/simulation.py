"""Moving the simulated clock (DESIGN invariant 5): every timer that falls due on the way
fires, in due order, as a worker would have fired it at that moment.

This is how designers rehearse a process and how the tests step through deadlines in
milliseconds; with the system clock nothing here runs. The timers are fired by the same
claim-and-fire path the workers use (:class:`engine.timers.Timers`), so a rehearsal
exercises the production code, leases included.
"""
import datetime as dt
import time

from engine.clock import parse_moment
from engine.errors import Conflict, InvalidInput

STEP = dt.timedelta(milliseconds=1)  # SpiffWorkflow fires when due < now: step just past due
POLL_SECONDS = 0.05
# A rehearsal moves weeks or months at a time. Without a bound one request could move the clock
# to the year 5608, and every report and light would then walk the calendar day by day from
# each step's due time to that year (seconds of CPU per request).
MAX_ADVANCE = dt.timedelta(days=10 * 366)


def advance_clock(clock, timers, to=None, seconds=None):
    """Move the simulated ``clock`` to ``to`` (or by ``seconds``), firing ``timers`` in due order.

    Steps the clock just past each next due moment (+1 ms) and fires what is due there, so
    ``now()`` inside a firing is its due moment, and timers that a firing creates fire too
    when they fall due before the target. Due timers another worker holds are waited for
    (wall time, until it releases them or its lease lapses). Returns the new now. Raises
    Conflict for the system clock and InvalidInput for a target in the past or more than
    :data:`MAX_ADVANCE` ahead.
    """
    if not hasattr(clock, "advance"):
        raise Conflict('the system clock cannot be moved; set [clock] mode = "simulated"',
                       reason="system_clock")
    start = clock.now()
    try:
        target = (parse_moment(to).astimezone(dt.timezone.utc) if to is not None
                  else start + dt.timedelta(seconds=float(seconds or 0)))
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"cannot advance the clock to {to!r} / by {seconds!r}: {err}",
                           reason="invalid_moment")
    if target < start:
        raise InvalidInput(f"the clock cannot go back from {start.isoformat()} "
                           f"to {target.isoformat()}", reason="clock_backwards")
    if target - start > MAX_ADVANCE:
        raise InvalidInput(f"the clock moves at most {MAX_ADVANCE.days} days at a time "
                           f"(from {start.isoformat()} to {target.isoformat()})", reason="too_far")
    while not timers.stopping:
        due = timers.next_due()
        if due is None or due >= target:
            break
        now = clock.now()
        step = min(max(due + STEP, now), target)
        if step > now:
            _move(clock, step)
        drained = timers.drain()
        if step <= now and not (drained.claimed or drained.gave_up):
            time.sleep(POLL_SECONDS)  # someone else holds what is due: let them finish
    _move(clock, target)
    return clock.now()


def _move(clock, moment):
    try:
        clock.advance(to=moment)
    except ValueError:
        pass  # another process moved the shared clock further meanwhile
