"""The running engine of a Flask app: the one accessor the API, the pages and the server use."""
import datetime as dt

from flask import current_app

EXTENSION = "duban"  # the key ``create_app`` stores the engine under in ``app.extensions``


def engine_of(app):
    """The ``engine.runtime.Engine`` that ``app`` serves."""
    return app.extensions[EXTENSION]


def engine():
    """The engine of the current app (inside an app or request context)."""
    return engine_of(current_app)


WALL_CLOCK = "duban_wall_clock"  # optional ``app.extensions`` key: a clock tests may set


def wall_now():
    """Wall time, never the business clock: what token, session and login-throttle lifetimes
    are measured in, so advancing a simulated clock logs nobody out. Tests may put an object
    with ``now()`` under ``app.extensions[WALL_CLOCK]``."""
    clock = current_app.extensions.get(WALL_CLOCK) or _SYSTEM
    return clock.now()


class _SystemClock:
    def now(self):
        return dt.datetime.now(dt.timezone.utc)


_SYSTEM = _SystemClock()
