"""The running engine of a Flask app: the one accessor the API, the pages and the server use."""
from flask import current_app

EXTENSION = "duban"  # the key ``create_app`` stores the engine under in ``app.extensions``


def engine_of(app):
    """The ``engine.runtime.Engine`` that ``app`` serves."""
    return app.extensions[EXTENSION]


def engine():
    """The engine of the current app (inside an app or request context)."""
    return engine_of(current_app)
