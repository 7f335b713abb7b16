"""The public pages (公示, 反映查询): no login, Simplified Chinese, their own small layout.

``/public`` lists the publications in force and ``/public/<id>`` shows one: its snapshot
(``workflows.supervision.publications``) and nothing else, so the page cannot show a column
that was not chosen; a withdrawn or unknown one is 404. ``/complaints/lookup`` lets a
complainant read the state of their complaint by its reference (``workflows.complaints.lookup``),
each look-up counted per address (``[complaints] lookups_per_hour``, default 20; 429 beyond).
The form posts (the reference stays out of addresses and logs); as on the complaint page, no
CSRF token: there is no session to borrow.
"""
import math

from flask import Blueprint, render_template, request

from api import complaints
from api.runtime import engine
from workflows.complaints import lookup as complaint_lookup
from workflows.supervision import publications

bp = Blueprint("public_page", __name__, template_folder="templates")
STATES = {"received": "已受理，等待分办", "handling": "已转交有关部门办理", "closed": "已办结",
          "dismissed": "经核实不予立项"}


@bp.app_template_filter("public_date")
def public_date(moment):
    """An instant as the local date in Chinese (``2026年11月3日``)."""
    local = engine().calendar.local(moment)
    return f"{local.year}年{local.month}月{local.day}日"


@bp.get("/public")
def index():
    with engine().db.read() as session:
        rows, _ = publications.listed(session, limit=100, offset=0)
    return render_template("public/index.html", rows=rows)


@bp.get("/public/<int:publication_id>")
def show(publication_id):
    with engine().db.read() as session:
        row = publications.public(session, publication_id)
    if row is None:
        return render_template("public/missing.html"), 404
    return render_template("public/show.html", data=row.data, published_at=row.published_at)


@bp.route("/complaints/lookup", methods=["GET", "POST"])
def lookup():
    if request.method == "GET":
        return render_template("public/lookup.html", reference="", found=None, notice=None, states=STATES)
    reference = request.form.get("reference", "")[:100]
    try:
        found = complaints.look_up(reference)
    except complaint_lookup.Throttled as err:
        minutes = max(1, math.ceil(err.retry_after / 60))
        notice = f"查询过于频繁：同一网络每小时最多查询 {complaints.lookups_per_hour()} 次，请约 {minutes} 分钟后再试。"
        return (render_template("public/lookup.html", reference=reference, found=None, notice=notice, states=STATES),
                429, {"Retry-After": str(err.retry_after)})
    if found is None:
        notice = "未找到该受理编号对应的反映，请核对编号（如 TS-2026-000123-K7QM）后重新输入。"
        return render_template("public/lookup.html", reference=reference, found=None, notice=notice,
                               states=STATES), 404
    return render_template("public/lookup.html", reference=reference, found=found, notice=None, states=STATES)
