"""通知: the reader's notifications (催办, 逾期督办, 延期, 问责 …), newest first, unread marked, and
marking them read — ``workflows.supervision.notifications``, as the API's ``/notifications``.
The navigation shows the unread count (``session.navigation``).
"""
from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from api.runtime import engine
from api.web import bp, paging
from api.web.labels import NOTIFICATION_KINDS
from api.web.session import login_required
from workflows.supervision import notifications as notes
from workflows.supervision.models import Item

PAGE = 50


def _show():
    return request.values.get("show") if request.values.get("show") in ("unread", "read") else "all"


@bp.get("/notifications")
@login_required
def notifications():
    rt = engine()
    show = _show()
    page = paging.page_number()
    with rt.db.read() as db:
        rows, total, unread = notes.listing(db, g.user.username, {"unread": True, "read": False}.get(show),
                                                    PAGE, (page - 1) * PAGE)
        item_ids = {r.item_id for r in rows if r.item_id}
        items = {i.id: i for i in db.scalars(select(Item).where(Item.id.in_(item_ids)))} if item_ids else {}
    return render_template("notifications.html", rows=rows, total=total, unread=unread, show=show, page=page,
                           pages=max((total + PAGE - 1) // PAGE, 1), items=items, kinds=NOTIFICATION_KINDS)


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def notification_read(notification_id):
    notes.mark_read(engine(), g.user.username, notification_id)  # another's: 404, as in the API
    return redirect(url_for("web.notifications", show=_show()))


@bp.post("/notifications/read-all")
@login_required
def notifications_read_all():
    count = notes.mark_all_read(engine(), g.user.username)
    flash(f"已将 {count} 条通知标为已读。" if count else "没有未读通知。")
    return redirect(url_for("web.notifications"))
