"""公示发布: the secretariat chooses a month's ranking columns, previews, publishes, withdraws.

The preview is the snapshot the public page would show (``publications.snapshot`` rendered by
``public/_snapshot.html``, the public page's own template), computed from the same ranking the
publish then freezes (``api.publications.publish``); publishing and withdrawing go through the
API's functions, so the page and ``/api/v1/publications`` store and audit alike.
"""
from flask import flash, g, redirect, render_template, request, url_for

from api import publications as api_publications
from api import reports as api_reports
from api.runtime import engine
from api.web import bp
from api.web.labels import error_text
from api.web.reports import MONTH, BadPeriod, _month
from api.web.session import roles_required
from engine.errors import InvalidInput, NotFound
from workflows.supervision import publications, reports

DEFAULT_FIELDS = ("rank", "name", "on_time_rate", "overdue_steps")


def _choice(values):
    """The form's choice: month, fields (known columns only), circular, note."""
    fields = [f for f in values.getlist("fields") if f in publications.LABELS] or list(DEFAULT_FIELDS)
    return {"fields": fields, "circular": values.get("circular") == "1",
            "note": (values.get("note") or "").strip()[:publications.MAX_NOTE] or None}


@bp.get("/publications")
@roles_required(*api_publications.PUBLISHERS)
def publications_page():
    month, choice = _month(), _choice(request.args)
    rt = engine()
    with rt.db.read() as session:
        report = reports.ranking(session, rt.calendar, month, rt.clock.now(), api_reports.ranked(session))
        preview = publications.snapshot(report, choice["fields"], choice["circular"], choice["note"])
        rows, _ = publications.listed(session, limit=100, offset=0, include_withdrawn=True)
    return render_template("publications.html", month=month, choice=choice, data=preview, rows=rows,
                           columns=publications.COLUMNS, always=publications.ALWAYS)


@bp.post("/publications")
@roles_required(*api_publications.PUBLISHERS)
def publications_publish():
    month, choice = _month_of(request.form), _choice(request.form)
    try:
        row = api_publications.publish(month, choice["fields"], choice["circular"], choice["note"],
                                       g.actor.username)
    except InvalidInput as err:
        flash(error_text(err), "error")
        return redirect(url_for("web.publications_page", month=month))
    flash(f"已发布：{row.data['title']}。", "ok")
    return redirect(url_for("web.publications_page", month=month))


@bp.post("/publications/<int:publication_id>/withdraw")
@roles_required(*api_publications.PUBLISHERS)
def publications_withdraw(publication_id):
    try:
        row = api_publications.withdraw(publication_id, g.actor.username)
    except NotFound:
        flash("该公示不存在或已撤回。", "error")
        return redirect(url_for("web.publications_page"))
    flash(f"已撤回：{row.data['title']}。", "ok")
    return redirect(url_for("web.publications_page", month=row.month))


def _month_of(form):
    """The month posted with the form, checked as the pickers' months are (a 400 page otherwise)."""
    text = (form.get("month") or "").strip()
    if not MONTH.match(text) or not api_reports.FIRST_YEAR <= int(text[:4]) <= api_reports.LAST_YEAR:
        raise BadPeriod(f"月份“{text}”无效，应为如 2026-11 的年月。")
    return text
