"""Firing due timers through the unit of work.

Reads the ``timer`` projection (never the workflows) for rows due before now, groups them by
instance and lets each instance's unit of work refresh its timers. A lost optimistic race
is retried: timers are system work (DESIGN invariant 2). A failure inside the model puts
that instance in error and never stops the other timers.

Note: this is the single-process core. Leases for several worker processes
(``FOR UPDATE SKIP LOCKED``), retries with backoff and incidents build on it.
"""
import logging

from sqlalchemy import select

from engine.actor import SYSTEM
from engine.errors import Conflict, StaleInstance
from engine.models import Timer

log = logging.getLogger(__name__)


class Timers:
    def __init__(self, runtime, retries=5):
        self.rt = runtime
        self.retries = retries

    def due(self, now, limit=1000):
        with self.rt.db.read() as session:
            return list(session.scalars(select(Timer).where(
                Timer.state == "waiting", Timer.fire_at < now).order_by(Timer.fire_at, Timer.id)
                .limit(limit)))

    def fire_due(self, limit=1000):
        """Fire every timer due by the clock's now, in due order. Returns the number of instances woken."""
        woken = 0
        while True:
            due = self.due(self.rt.clock.now(), limit)
            instances = list(dict.fromkeys(timer.instance_id for timer in due))
            progressed = 0
            for instance_id in instances:
                progressed += self._wake(instance_id)
            woken += progressed
            if len(due) < limit or not progressed:
                return woken

    def _wake(self, instance_id):
        for _ in range(self.retries):
            try:
                self.rt.uow.run(instance_id, lambda ctx: None, SYSTEM)
                return 1
            except StaleInstance:
                continue
            except Conflict as err:  # not running any more: its timers are moot
                log.info("timer of instance %s skipped: %s", instance_id, err)
                return 0
        log.warning("instance %s: timers not fired after %s stale retries", instance_id, self.retries)
        return 0
