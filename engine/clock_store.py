"""Where the simulated time lives: in this process, or in the database for every process.

A clock store is a small seam with two calls:

``read() -> datetime | None``
    The stored time (timezone-aware, UTC), or ``None`` before the first ``update``.
``update(move) -> datetime``
    Atomically replace the stored time with ``move(current)`` (``current`` may be ``None``)
    and return it. ``move`` may raise (e.g. ValueError for a backwards move); then nothing
    changes. Two processes updating at once see each other's result, never a lost update.

:class:`MemoryClockStore` is for unit tests and a single process. :class:`DatabaseClockStore`
keeps one row in ``clock_state`` so several ``duban serve``/``duban worker`` processes share
one simulated time. Trade-off: every ``now()`` of a database-backed simulated clock is a
primary-key read (well under a millisecond); the system clock costs nothing.
"""
import threading

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.models import ClockState

ROW_ID = 1


class MemoryClockStore:
    def __init__(self):
        self._now = None
        self._lock = threading.Lock()

    def read(self):
        return self._now

    def update(self, move):
        with self._lock:
            self._now = move(self._now)
            return self._now


class DatabaseClockStore:
    """The ``clock_state`` row; updates lock it (``FOR UPDATE``; SQLite: ``BEGIN IMMEDIATE``)."""

    def __init__(self, db):
        self.db = db

    def read(self):
        with self.db.read() as session:
            return session.scalar(select(ClockState.now_at).where(ClockState.id == ROW_ID))

    def update(self, move):
        for attempt in range(2):
            try:
                with self.db.write() as session:
                    row = session.scalar(select(ClockState).where(ClockState.id == ROW_ID)
                                         .with_for_update())
                    moved = move(row.now_at if row else None)
                    if row is None:
                        session.add(ClockState(id=ROW_ID, now_at=moved))
                    else:
                        row.now_at = moved
                return moved
            except IntegrityError:  # another process inserted the first row: lock it and retry
                if attempt:
                    raise
        raise AssertionError("unreachable")
