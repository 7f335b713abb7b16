"""Security headers: those of every response, and those of user-supplied documents.

Every response (``init_app``: an ``after_request`` hook) carries a Content-Security-Policy for
our pages (scripts, styles, images and connections from our own origin only; no framing),
``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy:
same-origin``. A response that already set one of these keeps its own.

A document whose bytes a user supplied — deployed BPMN/DMN XML, CSV and XLSX exports — is made
with :func:`user_document` (or marked with :func:`as_user_document`): a download
(``Content-Disposition: attachment``), ``nosniff`` and ``Content-Security-Policy: sandbox``, so
a browser never renders it as active content on our origin (an XHTML ``<script>`` in a BPMN
extension element stays text). The pages' scripts still ``fetch()`` such documents: the headers
only stop rendering, not reading.
"""
from urllib.parse import quote

from flask import Response

# Scripts only from files we serve (no inline scripts, no eval); the pages' data islands are
# <script type="application/json">, which CSP does not govern. Styles allow inline because
# bpmn-js, dmn-js and ECharts set style attributes in the markup they build; a style cannot run
# script. bpmn-js inlines its icons and ECharts exports charts as data: / blob: images.
PAGE_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# A user's document: no script, no plugin, no same origin, nothing loaded, never framed.
DOCUMENT_POLICY = "sandbox; default-src 'none'; frame-ancestors 'none'"

EVERY_RESPONSE = {
    "Content-Security-Policy": PAGE_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def init_app(app):
    """Add :data:`EVERY_RESPONSE` to each response of ``app`` (keeping headers a view set)."""
    app.after_request(add_headers)


def add_headers(response):
    for name, value in EVERY_RESPONSE.items():
        response.headers.setdefault(name, value)
    return response


def user_document(body, mimetype, filename):
    """A response carrying ``body`` (user-supplied bytes or text) as a download named ``filename``."""
    return as_user_document(Response(body, mimetype=mimetype), filename)


def as_user_document(response, filename):
    """Mark ``response`` as a user-supplied document (see the module docstring); returns it."""
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = DOCUMENT_POLICY
    return response


def content_disposition(filename):
    """``attachment`` with an ASCII ``filename`` and the exact name as RFC 5987 ``filename*``."""
    ascii_name = "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\;' else "_"
                         for ch in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
