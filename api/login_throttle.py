"""The login throttle: failed logins per username and per client address slow, then refuse.

Counters live in the ``login_throttle`` table, so every process of a deployment shares them;
all times are wall time (``api.runtime.wall_now``), never the business clock. Each attempt
is counted *before* the password is checked (:func:`admit`), in one write transaction that
first locks the counters (SQLite: ``BEGIN IMMEDIATE`` queues writers; PostgreSQL: an advisory
lock per counter, as the complaints intake does), so parallel guesses cannot slip past the
limit; a successful login then takes its attempt back (:func:`succeeded`).

For each counter, failures within ``throttle_window_minutes`` count. After ``free`` of them
(``free_failures`` per username, ``address_free_failures`` per address) every further
attempt must wait 1, 2, 4 ... seconds (up to ``max_delay_seconds``) after the last; at
``lock`` of them (``lock_failures``, ``address_lock_failures``) the counter is locked for
``lockout_minutes``. A refused attempt (:class:`Throttled`, 429 with ``Retry-After``) is
refused whatever the password, and is not itself counted. Admins list and lift locks (:func:`lockouts`, :func:`lift`).

Expired counters (failures all older than the window, no lock in force) are deleted when a
failure starts a new counter (:func:`_sweep`): the table grows only by such an insert, so it
holds no more than the counters active in the window plus the locked ones, and the sweep
costs nothing while an attacker keeps hitting the same counters. It runs in the attempt's
own write transaction rather than a periodic job because the engine's periodic jobs follow
the business clock, and the throttle is wall time.
"""
import dataclasses
import datetime as dt
import math

from sqlalchemy import delete, func, select, text as sql_text

from api.models import LoginThrottle
from engine.errors import EngineError

USERNAME, ADDRESS = "username", "address"
KINDS = (USERNAME, ADDRESS)
_LOCK_NAMESPACE = 0x6C6F6769  # "logi"


class Throttled(EngineError):
    """Too many failed logins for this username or address; ``retry_after`` in seconds."""

    code, status = "too_many_requests", 429

    def __init__(self, retry_after):
        super().__init__(f"too many failed logins; try again in {retry_after} seconds",
                         reason="login_throttled")
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class Limit:
    free: int   # failures before attempts are slowed
    lock: int   # failures that lock the counter


@dataclasses.dataclass(frozen=True)
class Policy:
    window: dt.timedelta
    max_delay: float
    lockout: dt.timedelta
    limits: dict  # kind → Limit

    @classmethod
    def from_config(cls, config):
        auth = config.get("auth", {})
        lock = int(auth.get("lock_failures", 10))
        address_lock = int(auth.get("address_lock_failures", 50))
        return cls(window=dt.timedelta(minutes=float(auth.get("throttle_window_minutes", 15))),
                   max_delay=float(auth.get("max_delay_seconds", 60)),
                   lockout=dt.timedelta(minutes=float(auth.get("lockout_minutes", 15))),
                   limits={USERNAME: Limit(int(auth.get("free_failures", 3)), lock),
                           ADDRESS: Limit(int(auth.get("address_free_failures", 25)), address_lock)})

    def wait(self, row, now):
        """Seconds until ``row``'s counter admits another attempt (0: now)."""
        if row is None:
            return 0
        if row.locked_until is not None and row.locked_until > now:
            return _seconds(row.locked_until - now)
        if self.stale(row, now):
            return 0
        over = row.failures - self.limits[row.kind].free
        if over < 0:
            return 0
        ready = row.last_failure_at + dt.timedelta(seconds=min(2 ** over, self.max_delay))
        return _seconds(ready - now) if ready > now else 0

    def stale(self, row, now):
        """The counter's failures are all older than the window (and it is not locked)."""
        locked = row.locked_until is not None and row.locked_until > now
        return not locked and row.last_failure_at <= now - self.window


def _seconds(delta):
    return max(1, math.ceil(delta.total_seconds()))


def _keys(username, address):
    return [(USERNAME, (username or "")[:100]), (ADDRESS, (address or "unknown")[:100])]


def _lock(session, kind, key):
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql_text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:counter))"),
                        {"namespace": _LOCK_NAMESPACE, "counter": f"{kind}:{key}"})


def admit(db, policy, username, address, now):
    """Count a login attempt for ``username`` from ``address`` as a failure, or raise
    :class:`Throttled` (nothing counted) when either counter refuses it now."""
    with db.write() as session:
        rows = []
        for kind, key in _keys(username, address):
            _lock(session, kind, key)
            rows.append((kind, key, session.get(LoginThrottle, (kind, key))))
        wait = max(policy.wait(row, now) for _, _, row in rows)
        if wait:
            raise Throttled(wait)
        if any(row is None for _, _, row in rows):
            _sweep(session, policy, now, keep=[(kind, key) for kind, key, _ in rows])
        for kind, key, row in rows:
            _count(session, policy, kind, key, row, now)


def _count(session, policy, kind, key, row, now):
    if row is None:
        row = LoginThrottle(kind=kind, key=key, failures=0, first_failure_at=now, last_failure_at=now)
        session.add(row)
    elif policy.stale(row, now):
        row.failures, row.first_failure_at, row.locked_until = 0, now, None
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= policy.limits[kind].lock:
        row.locked_until = now + policy.lockout


def _sweep(session, policy, now, keep):
    """Delete the expired counters (:meth:`Policy.stale`) but those of ``keep`` (this attempt's
    own, which it has read and is about to count). On PostgreSQL a counter whose lock another
    attempt holds (:func:`_lock`: it may be reviving it) is left for a later sweep; SQLite's
    write transactions are serial already."""
    expired = [LoginThrottle.last_failure_at <= now - policy.window,
               (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until <= now),
               *(~((LoginThrottle.kind == kind) & (LoginThrottle.key == key)) for kind, key in keep)]
    if session.get_bind().dialect.name == "postgresql":
        expired.append(func.pg_try_advisory_xact_lock(
            _LOCK_NAMESPACE, func.hashtext(LoginThrottle.kind + ":" + LoginThrottle.key)))
    session.execute(delete(LoginThrottle).where(*expired).execution_options(synchronize_session=False))


def succeeded(db, username, address):
    """The attempt :func:`admit` counted was a success: the username's failures are forgotten,
    the address gives back the one attempt (other people behind it keep theirs)."""
    with db.write() as session:
        kind, key = _keys(username, address)[0]
        session.execute(delete(LoginThrottle).where(LoginThrottle.kind == kind, LoginThrottle.key == key))
        kind, key = _keys(username, address)[1]
        _lock(session, kind, key)
        row = session.get(LoginThrottle, (kind, key))
        if row is not None and row.locked_until is None:
            row.failures = max(0, row.failures - 1)
            if row.failures == 0:
                session.delete(row)


def lockouts(db, policy, now):
    """Counters with failed logins in the window or a lock: ``[{"kind", "key", "failures",
    "locked_until", "retry_after"}]`` (``retry_after`` > 0 while logins for it are refused)."""
    with db.read() as session:
        rows = session.scalars(select(LoginThrottle).order_by(LoginThrottle.kind, LoginThrottle.key)).all()
    return [{"kind": row.kind, "key": row.key, "failures": row.failures,
             "locked_until": row.locked_until, "retry_after": policy.wait(row, now)}
            for row in rows if not policy.stale(row, now)]


def lift(db, kind, key):
    """Forget a counter's failures (and its lock); False when there was none."""
    with db.write() as session:
        _lock(session, kind, key)
        result = session.execute(delete(LoginThrottle).where(LoginThrottle.kind == kind,
                                                             LoginThrottle.key == key))
        return result.rowcount > 0
