"""The caller's notifications (催办, 督办, decisions), newest first; marking one read."""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, List, Nested, String

from api.auth import current_actor, token_auth
from api.present import notification
from api.runtime import engine
from api.schemas import Page
from workflows.supervision import notifications

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


@bp.get("/notifications")
@bp.auth_required(token_auth)
@bp.input(NotificationQuery, location="query", arg_name="query")
@bp.output(NotificationPage)
@bp.doc(summary="The caller's notifications, newest first; ?unread=true for unread only")
def list_notifications(query):
    with engine().db.read() as session:
        rows, total, unread = notifications.listing(session, current_actor().username, query.get("unread"),
                                                    query["limit"], query["offset"])
        return {"items": [notification(r) for r in rows], "total": total, "unread": unread}


@bp.post("/notifications/<int:notification_id>/read")
@bp.auth_required(token_auth)
@bp.output(NotificationOut)
@bp.doc(summary="Mark one of the caller's notifications read (idempotent)", responses=[404])
def mark_read(notification_id):
    return notification(notifications.mark_read(engine(), current_actor().username, notification_id))
