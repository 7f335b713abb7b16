"""Notifications pushed out after commit ([notify] webhook and SMTP): a failing receiver is
logged and never stops the process."""
import json
import logging
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers import ITEM
from tests.test_api_escalation import LONG_TOKENS, advance


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(json.loads(body))
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b"receiver broken")

    def log_message(self, *args):
        pass


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: records (recipients, message) per DATA."""

    def handle(self):
        self.wfile.write(b"220 test ready\r\n")
        recipients = []
        while line := self.rfile.readline():
            verb = line.decode().strip().upper()
            if verb.startswith("RCPT TO"):
                recipients.append(line.decode().split(":", 1)[1].strip().strip("<>"))
            if verb == "DATA":
                self.wfile.write(b"354 go on\r\n")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data)
                self.server.received.append((recipients, b"".join(lines).decode()))
                recipients = []
            if verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def receivers():
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    for server in (hook, smtp):
        server.received = []
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield hook, smtp
    for server in (hook, smtp):
        server.shutdown()
        server.server_close()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_failing_webhook_is_logged_and_the_process_goes_on(server_factory, receivers, caplog):
    hook, smtp = receivers
    server = server_factory(**LONG_TOKENS, notify={
        "webhook_url": f"http://127.0.0.1:{hook.server_port}/duban", "smtp_host": "127.0.0.1",
        "smtp_port": smtp.server_address[1], "smtp_from": "duban@gov.test", "timeout_seconds": 2})
    item = server.login("sec").post("/api/v1/items", ITEM).json()
    assert sorted((b["username"], b["kind"]) for b in hook.received) == [("li", "task_opened"), ("zhang", "task_opened")]
    hook.received.clear(), smtp.received.clear()  # the handoff's pushes; the reminder's follow
    caplog.set_level(logging.WARNING, logger="workflows.supervision.notifications")
    caplog.clear()

    advance(server, "2026-11-25T09:00:01+08:00")  # the reminder
    assert sorted((b["username"], b["kind"], b["item_id"]) for b in hook.received) == [
        ("li", "reminder", item["id"]), ("zhang", "reminder", item["id"])]
    assert sorted(to for to, _ in smtp.received) == [["li@duban.test"], ["zhang@duban.test"]]
    assert all("Subject:" in message and "duban@gov.test" in message for _, message in smtp.received)
    assert caplog.text.count("webhook failed") == 2

    advance(server, "2026-11-25T18:00:01+08:00")  # the process went on: the escalation opened
    assert server.login("sup").get("/api/v1/escalations").json()["total"] == 1
    assert {b["kind"] for b in hook.received} == {"reminder", "escalation", "overdue"}  # overdue: the department


def test_unreachable_receivers_never_block_the_process(server_factory, caplog):
    server = server_factory(**LONG_TOKENS, notify={
        "webhook_url": f"http://127.0.0.1:{_free_port()}/hook", "smtp_host": "127.0.0.1",
        "smtp_port": _free_port(), "timeout_seconds": 1})
    item = server.login("sec").post("/api/v1/items", ITEM).json()
    advance(server, "2026-11-25T18:00:01+08:00")
    assert server.login("sup").get("/api/v1/escalations").json()["items"][0]["item_id"] == item["id"]
    assert {n["kind"] for n in server.login("zhang").get("/api/v1/notifications").json()["items"]} == {
        "task_opened", "reminder", "overdue"}
    assert "mail failed" in caplog.text and "webhook failed" in caplog.text
