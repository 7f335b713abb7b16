"""Notifications (通知): rows people read in the app, optionally pushed to a webhook and by email.

:func:`notify` writes one row per recipient through the unit of work's session, so a
notification exists exactly when what it announces does (a command that rolls back leaves
none). Pushes are outbox effects (``event.outbox("push_notifications", ...)``, see
engine.outbox): written in the same transaction, sent once it has committed, retried with
back-off when the receiver fails, and an incident on the monitor page after the last try;
a failure never blocks or undoes the process.

Configuration ``[notify]`` (all optional): ``webhook_url`` (one JSON POST per
notification), ``smtp_host``, ``smtp_port`` (25), ``smtp_from``, ``smtp_user``,
``smtp_password``, ``smtp_starttls`` (false) — mail goes to recipients with an e-mail
address in the directory — and ``timeout_seconds`` (5) for each push. The work-messaging
group robots (:mod:`workflows.supervision.robots`): ``dingtalk_webhook_url`` (the custom
robot's ``robot/send?access_token=`` URL), ``dingtalk_secret`` (its 加签 secret; unsigned
without), ``dingtalk_msgtype`` (``text`` or ``markdown``), ``wecom_webhook_url`` (the group
robot's ``webhook/send?key=`` URL: the key is its only secret), ``wecom_msgtype``. A robot
posts into a group, so it gets **one message per notice** (one :func:`notify` call: a handoff,
a reminder), naming its recipients, not one per person; its delivery id is the notice's first
notification id.

Delivery is **at least once**: a crash after sending and before the outbox row is marked
done, or a retry after one message of a batch failed, sends a message again. Each carries
its delivery id, the notification's id, so a receiver can drop repeats: the webhook's
``X-Duban-Delivery`` header (and ``id`` in the body), the mail's ``Message-ID``. One effect
per notification and channel: each push fails and is retried on its own.

Trade-off: the first try runs synchronously after the commit in the process that committed,
so a slow receiver delays the caller by at most ``timeout_seconds`` per push; retries run in
the schedulers.
"""
import functools
import json
import logging
import smtplib
import urllib.request
from email.message import EmailMessage

from sqlalchemy import func, select, update

from engine.clock import parse_moment
from engine.errors import NotFound
from workflows.supervision import robots
from workflows.supervision.models import Notification

log = logging.getLogger(__name__)


def recipients(session, directory, task):
    """Who a task is for: its assignee (or the diagram's user), else its role and department."""
    owner = task.assignee or task.candidate_user
    if owner:
        return [owner]
    if not task.candidate_role and not task.candidate_department:
        return [task.started_by] if task.started_by else []
    return directory.users(session, role=task.candidate_role, department=task.candidate_department)


def department_name(event, code):
    """A department as notices name it: its name, not its code (the code if it has none)."""
    return event.engine.registry.directory.departments(event.session).get(code, code)


def local_time(event, moment):
    """An instant (or its ISO text) as notices show it: local, ``2026-10-09 19:00``."""
    moment = parse_moment(moment) if isinstance(moment, str) else moment
    return f"{event.engine.calendar.local(moment):%Y-%m-%d %H:%M}"


def notify(event, usernames, kind, title, body, item_id=None, task_id=None):
    """Notify each of ``usernames`` (duplicates once) inside the event's transaction."""
    item_id = item_id if item_id is not None else event.instance.business_key
    return write(event.session, event.engine, event.outbox, usernames, kind, title, body,
                 item_id=item_id, task_id=task_id, at=event.at)


def write(session, engine, outbox, usernames, kind, title, body, item_id=None, task_id=None, at=None):
    """:func:`notify` outside a listener: the rows through ``session`` and each push through
    ``outbox(kind, payload)`` — an event's, or one whose effects the caller writes with
    ``engine.outbox.write`` in the same transaction (see workflows.complaints.intake)."""
    at = at or engine.clock.now()
    rows = [Notification(username=username, kind=kind, title=title, body=body, item_id=item_id,
                         task_id=task_id, created_at=at)
            for username in dict.fromkeys(u for u in usernames if u)]
    if not rows:
        return []
    if task_id is not None:  # who this transaction told about a task (told_about), without a query
        session.info.setdefault(_TOLD, set()).update((item_id, task_id, row.username) for row in rows)
    session.add_all(rows)
    session.flush()
    config = engine.config.get("notify", {})
    pusher = Pusher(config)
    for row in rows:
        if pusher.webhook_url:
            outbox(PUSH, {"channel": "webhook", "message": payload(row)})
        if pusher.smtp_host:
            person = engine.registry.directory.person(session, row.username)
            if person and person.email:
                outbox(PUSH, {"channel": "mail", "message": {**payload(row), "email": person.email}})
    for channel in robots.configured(config):
        outbox(PUSH, {"channel": channel, "message": robot_message(session, engine, rows)})
    return rows


_TOLD = "duban_notified_about_task"  # session.info key: {(item_id, task_id, username)}


def told_about(session, item_id, task_id):
    """Who was notified about ``task_id`` of ``item_id`` through ``session`` — in the unit of
    work, this command's listeners so far. A task the command opened has no older notice, so
    this answers the question a query would, without one (issue 18)."""
    return {username for item, task, username in session.info.get(_TOLD, ())
            if item == item_id and task == task_id}


def robot_message(session, engine, rows):
    """One group-robot message for the notice ``rows`` (one per recipient, same text)."""
    directory = engine.registry.directory
    names = []
    for row in rows:
        person = directory.person(session, row.username)
        names.append(person.display_name if person is not None and person.display_name else row.username)
    first = rows[0]
    return {"id": first.id, "kind": first.kind, "title": first.title, "body": first.body,
            "item_id": first.item_id, "task_id": first.task_id, "recipients": names,
            "created_at": first.created_at.isoformat()}


def close_item(session, item_id, at):
    """Mark every unread notification of ``item_id`` read at ``at`` (an item that closed or was
    cancelled leaves no unread reminders); returns how many."""
    return session.execute(update(Notification).where(
        Notification.item_id == item_id, Notification.read_at.is_(None)).values(read_at=at)).rowcount


PUSH = "push_notifications"


def push_effect(engine, data, effect):
    """The outbox handler of :data:`PUSH`: send ``data["message"]`` on ``data["channel"]``
    (``webhook``, ``mail``, ``dingtalk`` or ``wecom``); raises when it fails, so the outbox
    retries it."""
    Pusher(engine.config.get("notify", {})).push(data["channel"], data["message"])


# -- reading (the API's /notifications and the web's 通知 page) -------------------------------
def listing(session, username, unread=None, limit=50, offset=0):
    """``(rows, total, unread_count)``: ``username``'s notifications, newest first;
    ``unread`` True / False keeps only the unread / read ones."""
    mine = select(Notification).where(Notification.username == username)
    listed = mine
    if unread is True:
        listed = mine.where(Notification.read_at.is_(None))
    elif unread is False:
        listed = mine.where(Notification.read_at.is_not(None))
    total = session.scalar(select(func.count()).select_from(listed.subquery()))
    rows = list(session.scalars(listed.order_by(Notification.created_at.desc(), Notification.id.desc())
                                .limit(limit).offset(offset)))
    return rows, total, unread_count(session, username)


def unread_count(session, username):
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.username == username, Notification.read_at.is_(None)))


def mark_read(engine, username, notification_id):
    """Mark one of ``username``'s notifications read (idempotent); NotFound for anyone else's."""
    with engine.db.write() as session:
        row = session.get(Notification, notification_id)
        if row is None or row.username != username:  # others' are not even shown to exist
            raise NotFound(f"no notification {notification_id}", reason="no_notification")
        if row.read_at is None:
            row.read_at = engine.clock.now()
        return row


def mark_all_read(engine, username):
    """Mark every unread notification of ``username`` read; returns how many."""
    now = engine.clock.now()
    with engine.db.write() as session:
        rows = list(session.scalars(select(Notification).where(
            Notification.username == username, Notification.read_at.is_(None))))
        for row in rows:
            row.read_at = now
        return len(rows)


def payload(row):
    return {"id": row.id, "username": row.username, "kind": row.kind, "title": row.title,
            "body": row.body, "item_id": row.item_id, "task_id": row.task_id,
            "created_at": row.created_at.isoformat()}


class Pusher:
    """Sends notifications out of the process; a failure raises (the outbox retries)."""

    def __init__(self, config):
        self.config = config
        self.webhook_url = config.get("webhook_url") or None
        self.smtp_host = config.get("smtp_host") or None
        self.smtp_port = int(config.get("smtp_port", 25))
        self.smtp_from = config.get("smtp_from") or "duban@localhost"
        self.smtp_user = config.get("smtp_user") or None
        self.smtp_password = config.get("smtp_password") or ""
        self.smtp_starttls = bool(config.get("smtp_starttls", False))
        self.timeout = float(config.get("timeout_seconds", 5))

    def push(self, channel, body):
        """Send one notification on ``channel`` (``webhook``, ``mail``, ``dingtalk``, ``wecom``);
        raises on failure."""
        if channel in robots.CHANNELS:
            if channel not in robots.configured(self.config):
                raise RuntimeError(f"[notify] has no {channel} robot configured in this process")
            send = functools.partial(robots.send, channel, self.config, timeout=self.timeout)
        else:
            send = {"webhook": self._post, "mail": self._mail}[channel]
            if not (self.webhook_url if channel == "webhook" else self.smtp_host):
                raise RuntimeError(f"[notify] has no {channel} configured in this process")
        try:
            send(body)
        except Exception as err:
            log.warning("notification %s to %s: %s failed: %s", body["id"],
                        body.get("username") or ", ".join(body.get("recipients", ())), channel, err)
            raise

    def _post(self, body):
        request = urllib.request.Request(
            self.webhook_url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8",
                     "X-Duban-Delivery": str(body["id"])}, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
            response.read()

    def _mail(self, body):
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = body["title"], self.smtp_from, body["email"]
        # The same id on every try: a mail system that sees it twice may drop the repeat.
        message["Message-ID"] = f"<duban-notification-{body['id']}@duban>"
        message.set_content(body["body"])
        with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout) as smtp:
            if self.smtp_starttls:
                smtp.starttls()
            if self.smtp_user:
                smtp.login(self.smtp_user, self.smtp_password)
            smtp.send_message(message)
