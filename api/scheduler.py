"""Scheduler processes: the APScheduler job that fires due timers and runs outbox effects.

``duban serve`` runs it in the background when ``[scheduler] in_process = true`` (the
embedded default); ``duban worker`` runs only it, until SIGTERM or SIGINT. Any number of
these may share one PostgreSQL database: timer rows (engine/timers.py) and outbox rows
(engine/outbox.py) are claimed with leases, so the job needs no coordination between processes.
"""
import logging
import signal
import threading

from apscheduler.schedulers.background import BackgroundScheduler

from engine.clock import SystemClock

log = logging.getLogger(__name__)


def start_scheduler(engine):
    """Fire due timers and run due outbox effects now and then every ``[scheduler]
    interval_seconds``; one run at a time."""
    interval = float(engine.config["scheduler"]["interval_seconds"])
    scheduler = BackgroundScheduler(daemon=True)

    def tick():
        try:
            engine.timers.fire_due()
        except Exception:  # noqa: BLE001 — a bad tick must not stop the next one
            log.exception("timer tick failed")
        try:
            engine.outbox.dispatch_due()  # effects a crash or a failure left behind
        except Exception:  # noqa: BLE001
            log.exception("outbox dispatch failed")
        try:
            engine.periodic.run_due()  # weekly report, monthly ranking: each occurrence once
        except Exception:  # noqa: BLE001
            log.exception("periodic jobs failed")

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

