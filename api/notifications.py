"""The caller's notifications (催办, 督办, decisions), newest first; marking one read."""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, List, Nested, String
from flask import current_app
from sqlalchemy import func, select

from api.auth import current_actor, token_auth
from api.errors import abort
from api.present import notification
from api.schemas import Page
from workflows.supervision.models import Notification

bp = APIBlueprint("notifications", __name__, url_prefix="/api/v1", tag="Notifications")


class NotificationQuery(Page):
    unread = Boolean()


class NotificationOut(Schema):
    id = Integer(required=True)
    kind = String(required=True)
    title = String(required=True)
    body = String(required=True)
    item_id = String(allow_none=True)
    task_id = String(allow_none=True)
    created_at = String(required=True)
    read_at = String(allow_none=True)
    read = Boolean(required=True)


class NotificationPage(Schema):
    items = List(Nested(NotificationOut), required=True)
    total = Integer(required=True)
    unread = Integer(required=True)


def engine():
    return current_app.extensions["duban"]


@bp.get("/notifications")
@bp.auth_required(token_auth)
@bp.input(NotificationQuery, location="query", arg_name="query")
@bp.output(NotificationPage)
@bp.doc(summary="The caller's notifications, newest first; ?unread=true for unread only")
def list_notifications(query):
    mine = select(Notification).where(Notification.username == current_actor().username)
    listed = mine.where(Notification.read_at.is_(None)) if query.get("unread") else mine
    if query.get("unread") is False:
        listed = mine.where(Notification.read_at.is_not(None))
    with engine().db.read() as session:
        total = session.scalar(select(func.count()).select_from(listed.subquery()))
        unread = session.scalar(select(func.count()).select_from(
            mine.where(Notification.read_at.is_(None)).subquery()))
        rows = session.scalars(listed.order_by(Notification.created_at.desc(), Notification.id.desc())
                               .limit(query["limit"]).offset(query["offset"]))
        return {"items": [notification(r) for r in rows], "total": total, "unread": unread}


@bp.post("/notifications/<int:notification_id>/read")
@bp.auth_required(token_auth)
@bp.output(NotificationOut)
@bp.doc(summary="Mark one of the caller's notifications read (idempotent)", responses=[404])
def mark_read(notification_id):
    rt = engine()
    with rt.db.write() as session:
        row = session.get(Notification, notification_id)
        if row is None or row.username != current_actor().username:  # others' are not even shown to exist
            abort(404, "not_found", f"no notification {notification_id}")
        if row.read_at is None:
            row.read_at = rt.clock.now()
        return notification(row)
