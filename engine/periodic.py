"""Periodic jobs (weekly report, monthly ranking snapshot), each occurrence run once.

The domain registers a job as ``(name, occurrence, run)``: ``occurrence(engine, now)`` names
the occurrence that is due at ``now`` (e.g. ``"2026-W48"``) or None; ``run(engine, session,
occurrence, now)`` does the work inside a write transaction. :meth:`Periodic.run_due` is
called by every scheduler tick (in each ``duban serve`` and ``duban worker``); it inserts a
``job_run`` row keyed by (job, occurrence) in the same transaction as the work, so however
many scheduler processes tick, an occurrence commits once (the unique key makes the others
roll back), and a job that fails leaves no row and is tried again on the next tick.
Trade-off: ticks read the engine clock, so a simulated clock drives the jobs too.
"""
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.models import JobRun

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, runtime):
        self.rt = runtime

    def run_due(self, now=None):
        """Run every registered job whose current occurrence has not run yet; returns what ran."""
        now = now or self.rt.clock.now()
        self.rt.calendar.refresh()  # a worker serves no requests: see schedules other processes entered
        ran = []
        for name, occurrence_of, run in self.rt.registry.periodic_jobs:
            occurrence = occurrence_of(self.rt, now)
            if occurrence is None or self._done(name, occurrence):
                continue
            try:
                with self.rt.db.write() as session:
                    session.add(JobRun(job=name, occurrence=occurrence, ran_at=now))
                    session.flush()  # another process has it: IntegrityError, nothing of ours stays
                    effect_ids = run(self.rt, session, occurrence, now)
                    self.rt.audit.append(session, "periodic_job_ran", actor="system",
                                         data={"job": name, "occurrence": occurrence})
                ran.append((name, occurrence))
                self.rt.outbox.run_written(effect_ids or [])
            except IntegrityError:
                continue
            except Exception:  # noqa: BLE001 — a failing job is retried next tick, others go on
                log.exception("periodic job %s (%s) failed; it will be tried again", name, occurrence)
        return ran

    def _done(self, name, occurrence):
        with self.rt.db.read() as session:
            return session.scalar(select(JobRun.id).where(
                JobRun.job == name, JobRun.occurrence == occurrence)) is not None
