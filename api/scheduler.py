"""The in-process timer scheduler (APScheduler) used by ``duban serve`` in the embedded default."""
import logging

from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


def start_scheduler(engine):
    """Fire due timers every ``[scheduler] interval_seconds``; one run at a time, never piled up."""
    interval = float(engine.config["scheduler"]["interval_seconds"])
    scheduler = BackgroundScheduler(daemon=True)

    def tick():
        try:
            engine.timers.fire_due()
        except Exception:  # noqa: BLE001 — a bad tick must not stop the next one
            log.exception("timer tick failed")

    scheduler.add_job(tick, "interval", seconds=interval, max_instances=1, coalesce=True,
                      id="fire_due_timers")
    scheduler.start()
    return scheduler
