"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``.

Engine errors carry their own code and status; HTTP errors raised by Flask, APIFlask and
webargs (validation, 401, 404, 405, 413) are mapped here, so a client never sees HTML.

A database that cannot be reached (``engine.db.unavailable``) is a 503 with ``Retry-After``:
code ``database_unavailable`` under ``/api/``, a Chinese page elsewhere. The failed request
changed nothing (its transaction never committed, or, when the link broke during ``COMMIT``,
the client's retry is checked against the state it finds); any other database error stays a 500.
"""
import logging

from apiflask import HTTPError, Schema
from apiflask.fields import Nested, Raw, String
from flask import render_template, request
from sqlalchemy.exc import SQLAlchemyError

from engine.db import unavailable
from engine.errors import EngineError, problem

app_log = logging.getLogger("api")

RETRY_AFTER_SECONDS = 5  # what a 503 asks clients to wait: a database restart takes seconds

_CODES = {400: "invalid_input", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
          429: "too_many_requests", 500: "internal_error", 503: "unavailable"}


class ErrorBody(Schema):
    code = String(required=True)
    message = String(required=True)
    details = Raw(allow_none=True)


class ErrorOut(Schema):
    error = Nested(ErrorBody, required=True)


class ApiError(HTTPError):
    """An HTTPError with our snake_case code."""

    def __init__(self, status, code, message, details=None, headers=None):
        super().__init__(status, message, detail=details, headers=headers)
        self.code = code


def abort(status, code, message, details=None, headers=None):
    raise ApiError(status, code, message, details, headers)


# marshmallow's default messages that have a code of their own; any other is "invalid".
_SCHEMA_CODES = {"Missing data for required field.": "required", "Unknown field.": "unknown",
                 "Field may not be null.": "required"}


def _field_details(detail):
    """webargs' ``{"json": {"field": ["msg"]}}`` → ``[{"field", "code", "message"}]``."""
    problems = []

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}/{key}" if path else str(key))
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            problems.extend(problem(path, _SCHEMA_CODES.get(message, "invalid"), message) for message in value)
        else:
            problems.append(problem(path, "invalid", str(value)))
    for location, fields in (detail or {}).items():
        walk(fields, "" if location in ("json", "query", "form", "files") else location)
    return problems


def error_body(error):
    """The APIFlask error processor: every HTTPError → our shape."""
    code = getattr(error, "code", None) or _CODES.get(error.status_code, "error")
    details = error.detail
    if error.status_code == 400 and code == "invalid_input" and isinstance(details, dict):
        details = _field_details(details) or None
    message = error.message
    if error.status_code == 400 and code == "invalid_input" and message == "Validation error":
        message = "the request is invalid: see details"
    body = {"error": {"code": code, "message": message, "details": details or None}}
    return body, error.status_code, error.headers


def register(app):
    app.error_processor(error_body)

    @app.errorhandler(EngineError)
    def engine_error(err):
        return error_body(ApiError(err.status, err.code, err.message, err.details))

    @app.errorhandler(SQLAlchemyError)
    def database_error(err):
        if unavailable(err) is None:
            raise err  # a real fault: Flask logs it and answers 500
        return database_unavailable(err)


def database_unavailable(err):
    """503 with ``Retry-After``: the API's error shape under ``/api/``, a page elsewhere."""
    app_log.warning("database unavailable: %s %s: %s", request.method, request.path,
                    str(err).splitlines()[0])
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path.startswith("/api/"):
        return error_body(ApiError(503, "database_unavailable",
                                   "the database is unavailable; try again shortly",
                                   headers=headers))
    # A page of its own: the usual layout reads the database (the user, the unread count).
    return render_template("unavailable.html", retry_after=RETRY_AFTER_SECONDS), 503, headers
