"""Scheduler processes: the APScheduler job that fires due timers and runs outbox effects.

``duban serve`` runs it in the background when ``[scheduler] in_process = true`` (the
embedded default); ``duban worker`` runs only it, until SIGTERM or SIGINT. Any number of
these may share one PostgreSQL database: timer rows (engine/timers.py) and outbox rows
(engine/outbox.py) are claimed with leases, so the job needs no coordination between processes.

A database outage never stops the job: a tick that finds the database unreachable is skipped
(one warning when the outage starts, one line when it ends, not a traceback per tick) and the
next tick tries again. Timers that fell due meanwhile fire on the first tick after the
outage; a timer whose firing the outage interrupted is given back uncounted, or its lease
lapses (``[scheduler] lease_seconds``), and then fires once (engine/timers.py). Outbox rows
likewise: a claimed row's lease lapses and it runs again (engine/outbox.py).
"""
import logging
import signal
import threading

from apscheduler.schedulers.background import BackgroundScheduler

from engine.clock import SystemClock
from engine.db import unavailable

log = logging.getLogger(__name__)


def start_scheduler(engine):
    """Fire due timers and run due outbox effects now and then every ``[scheduler]
    interval_seconds``; one run at a time."""
    interval = float(engine.config["scheduler"]["interval_seconds"])
    scheduler = BackgroundScheduler(daemon=True)

    outage = [False]  # touched by one tick at a time (max_instances=1)

    def run(job, what):
        try:
            job()
        except Exception as err:  # noqa: BLE001 — a bad tick must not stop the next one
            cause = unavailable(err)
            if cause is None:
                log.exception("%s failed", what)
            elif not outage[0]:
                outage[0] = True
                log.warning("database unavailable, timers wait for it: %s", str(cause).splitlines()[0])
            return False
        return True

    def tick():
        fired = run(engine.timers.fire_due, "timer tick")
        dispatched = run(engine.outbox.dispatch_due, "outbox dispatch")  # effects left behind
        # weekly report, monthly ranking: each occurrence once
        if run(engine.periodic.run_due, "periodic jobs") and fired and dispatched and outage[0]:
            outage[0] = False
            log.warning("database available again, timers resume")

    # The first tick at once, so a restarted process catches up; APScheduler runs on wall time.
    scheduler.add_job(tick, "interval", seconds=interval, max_instances=1, coalesce=True,
                      id="fire_due_timers", next_run_time=SystemClock().now())
    scheduler.start()
    return scheduler


def stop_scheduler(engine, scheduler):
    """Let the running tick finish the instance at hand and give back its other leases."""
    engine.timers.stop()
    engine.outbox.stop()
    scheduler.shutdown(wait=True)


def run_worker(engine):
    """Run the timer scheduler until SIGTERM or SIGINT, then shut down cleanly."""
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("worker %s: %s received, stopping", engine.timers.owner, signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    scheduler = start_scheduler(engine)
    log.info("worker %s: firing timers every %ss", engine.timers.owner,
             engine.config["scheduler"]["interval_seconds"])
    try:
        stop.wait()
    finally:
        stop_scheduler(engine, scheduler)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("worker %s: stopped", engine.timers.owner)

