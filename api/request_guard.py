"""What no endpoint accepts, refused before any view runs (issue 13): one check for all of them.

Contract: a request is answered 400, and nothing is read or written, when

- a string anywhere in it (the path, the query string, form fields and file names, the JSON
  body's keys and values) holds a NUL or a lone UTF-16 surrogate (``"\\ud800"``): neither can be
  stored (PostgreSQL refuses NUL in text; UTF-8 cannot encode a surrogate) — ``control_character``,
  ``lone_surrogate``;
- a JSON body is nested deeper than :data:`MAX_DEPTH` (scripts, forms and the serializer all
  recurse) — ``too_deep``;
- a JSON number has more than :data:`MAX_DIGITS` digits, or is not finite (``1e999``) —
  ``number_too_long``;
- a JSON body is not JSON at all — ``malformed_json``.

An integer in the path (``<int:...>``) beyond a 64-bit column names nothing that can exist: 404,
before the database would overflow on it.

The API answers in the contract's error shape (``{"error": {"code": "invalid_input", "message",
"details": [{"field", "code", "message"}]}}``); a page answers the Chinese 400 page (the web
blueprint's handler of ``BadRequest``). Field-specific rules (control characters in a
complaint, a form's lengths) stay with the fields' own validation.
"""
import json
import math

from flask import g, request
from werkzeug.exceptions import BadRequest, NotFound, RequestEntityTooLarge

from api.errors import ApiError
from engine.errors import problem

MAX_DEPTH = 32      # no form, variable set or payload of the contract comes near
BODY_TOO_LARGE = "body_too_large"  # flask.g: the guard met a body over the limit
MAX_DIGITS = 30     # a 64-bit integer has 19; Python refuses more than 4300 with a ValueError


class Refused(ValueError):
    """One problem of the request: ``field`` (``""``: the whole request), ``code``, ``message``."""

    def __init__(self, field, code, message):
        super().__init__(message)
        self.problem = problem(field, code, message)


def _int(text):
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise Refused("", "number_too_long", f"a number has more than {MAX_DIGITS} digits")
    return int(text)


def _float(text):
    if len(text) > 2 * MAX_DIGITS + 10 or not math.isfinite(value := float(text)):
        raise Refused("", "number_too_long", "a number is too long or not finite")
    return value


def _constant(name):
    raise Refused("", "number_too_long", f"{name} is not a number JSON allows")


def loads(raw):
    """Parse a JSON body as the guard does: numbers bounded, depth bounded (:class:`Refused`)."""
    try:
        value = json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise Refused("", "too_deep", f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except Refused:
        raise
    except ValueError as err:  # includes UnicodeDecodeError
        raise Refused("", "malformed_json", f"the body is not valid JSON: {err}") from None
    check(value)
    return value


def check_text(text, field):
    """Refuse a NUL or a lone surrogate in ``text`` (``field`` names where it was)."""
    if "\x00" in text:
        raise Refused(field, "control_character", "a NUL character cannot be stored")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(field, "lone_surrogate", "a lone surrogate is not a character") from None


def check(value, field=""):
    """Walk a parsed JSON value without recursion: depth, and every key and string."""
    stack = [(value, field, 1)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Refused("", "too_deep", f"the body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, str):
            check_text(node, path)
        elif isinstance(node, dict):
            for key, item in node.items():
                check_text(key, path)
                stack.append((item, f"{path}/{key}" if path else key, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, f"{path}/{i}" if path else str(i), depth + 1) for i, item in enumerate(node))


def _check_request():
    check_text(request.path, "path")
    for key, value in request.args.items(multi=True):
        check_text(key, key)
        check_text(value, key)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in request.form.items(multi=True):
            check_text(key, key)
            check_text(value, key)
        for key, upload in request.files.items(multi=True):
            check_text(upload.filename or "", key)
    if request.is_json and request.get_data(cache=True):
        loads(request.get_data(cache=True))


def _check_path_ids():
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not -2 ** 63 <= value < 2 ** 63:
            if request.path.startswith("/api/"):
                raise ApiError(404, "not_found", f"no such {name}")
            raise NotFound()


def guard():
    """``before_request``: the checks above; the API's error shape, or the pages' 400 (404 for
    an impossible id)."""
    _check_path_ids()
    try:
        _check_request()
    except RequestEntityTooLarge:
        # The view meets it again and answers its own 413 (a page's is in Chinese); a multipart
        # body's parser does not raise twice, so the view may also ask BODY_TOO_LARGE.
        g.setdefault(BODY_TOO_LARGE, True)
        return
    except Refused as err:
        if request.path.startswith("/api/"):
            raise ApiError(400, "invalid_input", str(err), [err.problem]) from None
        raise BadRequest(str(err)) from None


def register(app):
    app.before_request(guard)
