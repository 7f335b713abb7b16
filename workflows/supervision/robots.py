"""Work-messaging group robots (工作群机器人): DingTalk custom robots and WeCom group robots.

A robot posts a notice into a group chat; :func:`workflows.supervision.notifications.write`
queues one outbox effect per notice and configured robot (``channel`` ``dingtalk`` or
``wecom``), and :func:`send` posts it after the commit. Configuration ``[notify]``:

- ``dingtalk_webhook_url``: the custom robot's URL (``https://oapi.dingtalk.com/robot/send?
  access_token=…``); ``dingtalk_secret``: its 加签 secret (``SEC…``), when the robot's
  security setting is signing. Each try is signed afresh with the wall time (DingTalk refuses
  a timestamp more than an hour off): ``timestamp`` (ms) and ``sign`` =
  urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))) appended as query
  parameters. A robot secured by a keyword instead matches 督办: every message starts with
  【督办】.
- ``wecom_webhook_url``: the group robot's URL (``https://qyapi.weixin.qq.com/cgi-bin/webhook/
  send?key=…``). WeCom robots have no signature: the key in the URL is the secret.
- ``dingtalk_msgtype`` / ``wecom_msgtype``: ``text`` (default) or ``markdown``.

Both answer HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; any other errcode (a bad
signature, a throttled robot: DingTalk allows 20 messages a minute) is a failure, so the
outbox retries it. Trade-off: a group message names its recipients by display name and does
not @-mention them (that needs their phone numbers or robot user ids, which the directory
does not hold).
"""
import base64
import hashlib
import hmac
import json
import time
import urllib.parse
import urllib.request

CHANNELS = ("dingtalk", "wecom")
MSGTYPES = ("text", "markdown")
PREFIX = "【督办】"
# WeCom's limits (bytes of UTF-8): text content 2048, markdown content 4096.
WECOM_LIMITS = {"text": 2048, "markdown": 4096}


def configured(config):
    """The robot channels ``[notify]`` configures (a webhook URL), in :data:`CHANNELS` order."""
    return [channel for channel in CHANNELS if config.get(f"{channel}_webhook_url")]


def msgtype(config, channel):
    """The configured message type. A wrong one raises when the push is sent, not when the
    notice is written: the push fails into an outbox incident naming the setting, and the
    command that notified is never refused for a deployment's typo."""
    value = config.get(f"{channel}_msgtype") or "text"
    if value not in MSGTYPES:
        raise ValueError(f"[notify] {channel}_msgtype must be one of {', '.join(MSGTYPES)}, not {value!r}")
    return value


def sign(secret, timestamp_ms):
    """DingTalk's 加签: urlencoded base64 of HMAC-SHA256(secret, "timestamp\\nsecret")."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"),
                      hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def signed_url(url, secret, timestamp_ms):
    return f"{url}{'&' if '?' in url else '?'}timestamp={timestamp_ms}&sign={sign(secret, timestamp_ms)}"


def body(channel, kind, message):
    """The JSON body of ``message`` (a notice: title, body, recipients) for ``channel`` as
    message type ``kind``."""
    title = f"{PREFIX}{message['title']}"
    names = "、".join(message.get("recipients") or ())
    to = f"接收人：{names}" if names else ""
    if kind == "text":
        content = "\n".join(part for part in (title, message["body"], to) if part)
        if channel == "wecom":
            content = clip(content, WECOM_LIMITS["text"])
        return {"msgtype": "text", "text": {"content": content}}
    text = "\n\n".join(part for part in (f"#### {title}", message["body"], f"> {to}" if to else "") if part)
    if channel == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    return {"msgtype": "markdown", "markdown": {"content": clip(text, WECOM_LIMITS["markdown"])}}


def clip(text, limit):
    """``text`` cut to at most ``limit`` UTF-8 bytes (whole characters, … when cut)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit - 3].decode("utf-8", errors="ignore") + "…"


def send(channel, config, message, timeout=5, now=time.time):
    """Post ``message`` to ``channel``'s robot; raises on a transport error or a non-zero errcode."""
    url = config[f"{channel}_webhook_url"]
    if channel == "dingtalk" and config.get("dingtalk_secret"):
        url = signed_url(url, config["dingtalk_secret"], int(now() * 1000))
    request = urllib.request.Request(
        url, data=json.dumps(body(channel, msgtype(config, channel), message), ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"}, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
        answer = response.read()
    try:
        result = json.loads(answer or b"{}")
    except ValueError:
        raise RuntimeError(f"{channel} robot answered no JSON: {answer[:200]!r}") from None
    if result.get("errcode", 0) != 0:
        raise RuntimeError(f"{channel} robot refused: {result.get('errcode')} {result.get('errmsg')}")
