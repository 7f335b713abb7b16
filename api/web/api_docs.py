"""The API docs page (``/api/v1/docs``, no login): Swagger UI over ``/api/v1/openapi.json``.

Served here rather than by APIFlask, whose page loads an unpinned Swagger UI from a public CDN
and starts it with an inline script: this one loads the pinned ``swagger-ui-dist`` from
node_modules (``/vendor``) and starts it from ``static/api-docs.js``, so it keeps to the
pages' Content-Security-Policy (``api.headers``: scripts from our origin only).
"""
from flask import render_template, url_for

from api.web import bp


@bp.get("/api/v1/docs")
def api_docs():
    return render_template("api_docs.html", spec_url=url_for("openapi.spec"))
