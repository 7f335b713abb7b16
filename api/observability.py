"""Watching the service run: request ids, request metrics, JSON logs and ``GET /metrics``.

**Request ids.** Every request gets one: the caller's ``X-Request-Id`` when it is 1–64 plain
characters (letters, digits, ``. _ : -``), else a fresh one (a malformed header is replaced,
not refused: it is a tracing aid, not input). It is returned in the response's
``X-Request-Id``, carried by every log line of the request and written into the data of
every audit record the request's commands append (``engine.request_ids``).

**Metrics** (Prometheus text format; names and alerts in ``docs/OPERATIONS.md``): this
module's per-request latency histogram and response counter by route template (not by URL:
the number of series stays bounded), the engine's instruments (``engine.metrics``), and the
database gauges read at scrape time. ``GET /metrics`` answers admins (bearer token or page
session) and scrapers presenting ``[metrics] token``; anyone else gets 401 (no credentials)
or 403 (not an admin), in the API's error shape. ``[metrics] bind`` adds a listener of its own
without authentication (``start_listener``), for a scraper on a private address.

Under gunicorn (``[server] processes > 1``) each worker writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` (``api.server`` sets it up) and a scrape, whichever worker
answers it, adds every worker's up (``MultiProcessCollector``); one process uses the default
registry (with the process's own CPU and memory series).

**Logs.** ``[logging] format = "json"``: one JSON object per line (time, level, logger,
message, request_id, and for the line each request ends with: method, path, status,
duration_ms). ``"text"`` (the default) keeps the plain format.
"""
import datetime as dt
import hmac
import json
import logging
import os
import re
import time
import uuid

from flask import Response, g, jsonify, request, session
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from api.auth import session_user
from api.runtime import engine
from engine import request_ids
from engine.metrics import DatabaseCollector, child

HEADER = "X-Request-Id"
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

requests_log = logging.getLogger("duban.requests")

REQUEST_SECONDS = Histogram(
    "duban_http_request_seconds", "Time to answer an HTTP request, by method and route template",
    ["method", "route"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
RESPONSES = Counter("duban_http_responses", "HTTP responses by method, route template and status",
                    ["method", "route", "status"])


# -- request ids, request metrics and the request's log line -------------------------------------
def init_app(app):
    """Register the hooks (before any other ``before_request``: a refused request is measured
    and carries its id too) and ``GET /metrics``."""
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_end)
    app.teardown_request(_teardown)
    # Prometheus text, not the JSON API: kept out of the OpenAPI document.
    app.add_url_rule("/metrics", "metrics", app.doc(hide=True)(_metrics_view), methods=["GET"])


def request_id_from(header):
    """The caller's id when it is plain and short enough, else a fresh one."""
    if header and _PLAIN_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def _begin():
    g.request_started = time.perf_counter()
    g.request_id = request_id_from(request.headers.get(HEADER))
    g.request_id_token = request_ids.use(g.request_id)


def _end(response):
    started = g.get("request_started")
    if started is None:  # our before_request did not run
        return response
    seconds = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    method = request.method if request.method in _METHODS else "other"  # bounded: clients choose it
    child(REQUEST_SECONDS, method, route).observe(seconds)
    child(RESPONSES, method, route, str(response.status_code)).inc()
    response.headers[HEADER] = g.request_id
    requests_log.info("%s %s %s %.1f ms", request.method, request.path, response.status_code, seconds * 1000,
                      extra={"method": request.method, "path": request.path,
                             "status": response.status_code, "duration_ms": round(seconds * 1000, 1)})
    return response


def _teardown(_error):
    token = g.pop("request_id_token", None)
    if token is not None:
        request_ids.reset(token)


# -- GET /metrics ---------------------------------------------------------------------------------
def _metrics_view():
    refusal = _refusal()
    if refusal is not None:
        return refusal
    return Response(exposition(engine()), content_type=CONTENT_TYPE_LATEST)


def _refusal():
    """None when the caller may read the metrics, else the 401 or 403 response."""
    bearer = request.headers.get("Authorization", "")
    token = bearer[len("Bearer "):].strip() if bearer.startswith("Bearer ") else ""
    scraper_token = str(engine().config["metrics"].get("token") or "")
    if token and scraper_token and hmac.compare_digest(token.encode(), scraper_token.encode()):
        return None
    user = session_user(token) if token else None
    if user is None and not token and session.get("token"):
        user = session_user(session["token"])  # an admin's page session
    if user is None:
        return _error(401, "unauthorized", "missing, invalid or expired token", {"WWW-Authenticate": "Bearer"})
    if "admin" not in (user.roles or ()):
        return _error(403, "forbidden", "the metrics are for admins and the metrics scraper")
    return None


def _error(status, code, message, headers=None):
    response = jsonify(error={"code": code, "message": message, "details": None})
    response.status_code = status
    response.headers.update(headers or {})
    return response


class _Scrape:
    """What one scrape reports: this process's registry, or every gunicorn worker's files,
    and the database gauges (``engine.metrics.DatabaseCollector``)."""

    def __init__(self, runtime):
        self.database = DatabaseCollector(runtime)

    def collect(self):
        if os.environ.get(MULTIPROCESS_ENV):
            yield from MultiProcessCollector(None).collect()
        else:
            yield from REGISTRY.collect()
        yield from self.database.collect()


def exposition(runtime):
    """The metrics in Prometheus text format (bytes), ``runtime`` an engine (``db``, ``clock``)."""
    return generate_latest(_Scrape(runtime))


def start_listener(address, runtime):
    """``[metrics] bind``, as ``(host, port)`` (:func:`listen_address`): serve the metrics
    there, without authentication, from a daemon thread. Returns the server (``shutdown()``,
    ``server_close()``, ``socket``)."""
    from prometheus_client import start_wsgi_server

    host, port = address
    server, _thread = start_wsgi_server(port, addr=host, registry=_Scrape(runtime))
    return server


def listen_address(bind):
    """``"host:port"`` (``"[::1]:9464"`` for IPv6) → ``(host, port)``; ValueError when malformed."""
    host, _, port = str(bind).rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"[metrics] bind must be host:port, not {bind!r}")
    return host, int(port)


# -- logs -------------------------------------------------------------------------------------------
class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id, and a
    request's method, path, status and duration_ms when the record has them."""

    REQUEST_FIELDS = ("method", "path", "status", "duration_ms")

    def format(self, record):
        line = {"time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                "request_id": request_ids.current()}
        for field in self.REQUEST_FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(config):
    """Apply ``[logging] format`` to the root logger's handlers; ValueError for an unknown one."""
    kind = (config.get("logging") or {}).get("format", "text")
    if kind not in ("text", "json"):
        raise ValueError(f'[logging] format must be "text" or "json", not {kind!r}')
    if kind == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
