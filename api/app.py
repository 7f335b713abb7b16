"""The Flask application factory: the REST API under /api/v1 with its OpenAPI document, and the
web pages (``api.web``, Simplified Chinese) over the same engine."""
import logging

from apiflask import APIFlask
from flask import jsonify
from werkzeug.middleware.proxy_fix import ProxyFix

from api import (audit, auth, calendar, campaigns, clock, cockpit, complaint_page, complaints, definitions, errors,
                 escalations, files, headers, instances, items, lookback, measures, notifications, observability,
                 organisation, public_page, publications, rectification, reports, request_guard, runtime, tasks, web)
from api.directory import UserDirectory
from api.errors import ErrorOut
from engine.config import load_config
from engine.runtime import Engine
from workflows.registry import build_registry

log = logging.getLogger(__name__)
BLUEPRINTS = (auth, organisation, calendar, definitions, instances, items, rectification, lookback, complaints, tasks,
              files, escalations, measures, notifications, reports, publications, cockpit, campaigns, audit, clock,
              complaint_page, public_page)


def build_engine(config=None):
    """An engine with every shipped domain registered, from ``config`` (or the loaded file)."""
    registry = build_registry()
    registry.use_directory(UserDirectory())
    return Engine(config or load_config(), registry)


def create_app(config=None, engine=None):
    config = config or (engine.config if engine else load_config())
    engine = engine or build_engine(config)
    app = APIFlask(__name__, title="Duban 督办 API", version="1",
                   spec_path="/api/v1/openapi.json", docs_path=None)  # docs: api/web/api_docs.py
    app.config.update(
        MAX_CONTENT_LENGTH=int(config["limits"]["max_body_bytes"]),
        VALIDATION_ERROR_STATUS_CODE=400,
        VALIDATION_ERROR_SCHEMA=ErrorOut,
        HTTP_ERROR_SCHEMA=ErrorOut,
        OPENAPI_VERSION="3.0.3",
        DESCRIPTION="The HTTP API of Duban, a BPMN engine service for supervision work (督查督办). "
                    "Errors: {\"error\": {\"code\", \"message\", \"details\"}}.",
        SECURITY_SCHEMES={"BearerAuth": {"type": "http", "scheme": "bearer"}},
        JSON_SORT_KEYS=False,
    )
    app.extensions[runtime.EXTENSION] = engine
    proxies = int(config["server"].get("trusted_proxies", 0))
    if proxies:  # behind N balancers: the client address (per-client throttles) from X-Forwarded-For
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    errors.register(app)
    observability.init_app(app)  # first of the before_request hooks: request ids, metrics
    files.allow_large_uploads(app)  # before the guard reads the form: uploads may pass max_body_bytes
    request_guard.register(app)  # before every view: what no endpoint accepts
    headers.init_app(app)
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    web.init_app(app, config)
    # Holiday schedules another process entered count from this request on (engine.calendar).
    app.before_request(engine.calendar.refresh)

    @app.get("/healthz")
    @app.doc(summary="Health: 200 when the database answers, 503 otherwise", tags=["Health"],
             responses={200: "healthy", 503: "database unavailable"})
    def healthz():
        try:
            engine.db.ping()
        except Exception as err:  # noqa: BLE001 — any database failure means "not healthy"
            log.warning("health check: database unavailable: %s", err)
            return jsonify(ok=False, database="unavailable"), 503
        return jsonify(ok=True, database="ok")

    return app
