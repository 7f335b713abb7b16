"""The Flask application factory."""
import logging

from flask import Flask, jsonify

from engine.config import load_config
from engine.runtime import Engine
from workflows.registry import build_registry

log = logging.getLogger(__name__)


def build_engine(config=None):
    """An engine with every shipped domain registered, from ``config`` (or the loaded file)."""
    return Engine(config or load_config(), build_registry())


def create_app(config=None, engine=None):
    config = config or (engine.config if engine else load_config())
    engine = engine or build_engine(config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = int(config["limits"]["max_body_bytes"])
    app.extensions["duban"] = engine

    @app.get("/healthz")
    def healthz():
        try:
            engine.db.ping()
        except Exception as err:  # noqa: BLE001 — any database failure means "not healthy"
            log.warning("health check: database unavailable: %s", err)
            return jsonify(ok=False, database="unavailable"), 503
        return jsonify(ok=True, database="ok")

    return app
