"""DingTalk and WeCom group robots against a local receiver that checks what the real ones check:
DingTalk's 加签 (timestamp + sign = base64 HMAC-SHA256 of "timestamp\\nsecret") and each
robot's JSON message format. One message per notice, sent through the outbox."""
import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from engine.models import Effect
from tests.api_client import seed_organisation
from tests.conftest import SECRETARY, SHIPPED, deploy_shipped
from tests.helpers import new_item
from workflows.supervision import robots

SECRET = "SECtest0123456789"
KEY = "wecom-key-1"


def _errcode(path, query, message):
    """What the robot would answer: 0, or the error code of the first problem found."""
    if path == "/robot/send":  # DingTalk
        if query.get("access_token") != ["tok"]:
            return 300001
        timestamp, sign = query["timestamp"][0], query["sign"][0]
        expected = base64.b64encode(hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(),
                                             hashlib.sha256).digest()).decode()
        if sign != expected:  # parse_qs has already undone the urlencoding
            return 310000
        if message.get("msgtype") != "text" or not message["text"]["content"].startswith("【督办】"):
            return 40035
        return 0
    if path == "/cgi-bin/webhook/send":  # WeCom: the key is the only secret
        if query.get("key") != [KEY]:
            return 93000
        if message.get("msgtype") != "markdown" or len(message["markdown"]["content"].encode()) > 4096:
            return 40058
        return 0
    return 404


class _Robot(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        url = urllib.parse.urlsplit(self.path)
        message = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        code = _errcode(url.path, urllib.parse.parse_qs(url.query), message)
        self.server.received.append((url.path, code, message))
        answer = json.dumps({"errcode": code, "errmsg": "ok" if code == 0 else "refused"}).encode()
        self.send_response(200)  # both robots answer 200 and say what went wrong in the body
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def robot():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Robot)
    server.received = []
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _config(robot, secret=SECRET):
    base = f"http://127.0.0.1:{robot.server_port}"
    return {"dingtalk_webhook_url": f"{base}/robot/send?access_token=tok", "dingtalk_secret": secret,
            "wecom_webhook_url": f"{base}/cgi-bin/webhook/send?key={KEY}", "wecom_msgtype": "markdown",
            "timeout_seconds": 2}


def test_a_handoff_posts_one_signed_dingtalk_text_and_one_wecom_markdown(engine_factory, robot):
    engine = seed_organisation(deploy_shipped(engine_factory(notify=_config(robot)), *SHIPPED))
    new_item(engine, SECRETARY)

    assert [(path, code) for path, code, _ in robot.received] == [
        ("/robot/send", 0), ("/cgi-bin/webhook/send", 0)]
    (_, _, ding), (_, _, wecom) = robot.received
    assert ding["text"]["content"] == (
        "【督办】待办：DB-2026-0001「制定工作计划」\n"
        "「推进政务服务一网通办」有新的待办「制定工作计划」交由您办理，办理期限 2026-11-25 18:00。\n"
        "接收人：发改委李四、发改委张三")
    assert wecom["markdown"]["content"].startswith("#### 【督办】待办：DB-2026-0001「制定工作计划」\n\n")
    assert wecom["markdown"]["content"].endswith("> 接收人：发改委李四、发改委张三")
    with engine.db.read() as session:
        assert set(session.scalars(select(Effect.state))) == {"done"}


def test_a_refused_signature_leaves_the_push_to_be_retried(engine_factory, robot):
    engine = seed_organisation(deploy_shipped(engine_factory(notify=_config(robot, secret="SECwrong")), *SHIPPED))
    new_item(engine, SECRETARY)

    assert [(path, code) for path, code, _ in robot.received] == [
        ("/robot/send", 310000), ("/cgi-bin/webhook/send", 0)]
    with engine.db.read() as session:
        pending = session.scalars(select(Effect).where(Effect.state == "pending")).one()
    assert pending.payload["channel"] == "dingtalk" and "310000" in pending.last_error


def test_the_signature_and_the_formats():
    # DingTalk's documented example shape: urlencoded base64, so '+', '/' and '=' are escaped.
    sign = robots.sign(SECRET, 1700000000000)
    raw = base64.b64encode(hmac.new(SECRET.encode(), f"1700000000000\n{SECRET}".encode(), hashlib.sha256).digest())
    assert sign == urllib.parse.quote_plus(raw)
    assert robots.signed_url("https://x/robot/send?access_token=t", "s", 1).startswith(
        "https://x/robot/send?access_token=t&timestamp=1&sign=")
    notice = {"title": "T", "body": "B", "recipients": ["甲"]}
    assert robots.body("dingtalk", "markdown", notice) == {
        "msgtype": "markdown", "markdown": {"title": "【督办】T", "text": "#### 【督办】T\n\nB\n\n> 接收人：甲"}}
    clipped = robots.body("wecom", "text", {**notice, "body": "长" * 3000})["text"]["content"]
    assert len(clipped.encode()) <= 2048
    with pytest.raises(ValueError, match="wecom_msgtype"):
        robots.send("wecom", {"wecom_webhook_url": "http://127.0.0.1:9/x", "wecom_msgtype": "card"}, notice)
