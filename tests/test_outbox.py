"""The transactional outbox (engine/outbox.py): effects written with their command, run after
the commit — at once, or by a scheduler after a crash — retried with back-off, and incidents
an admin sees on the monitor page and retries."""
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import AuditRecord, Effect
from engine.registry import Registry
from engine.runtime import Engine
from tests.bpmn_snippets import chain, user_task
from tests.conftest import BOTH_DATABASES, SECRETARY, make_config
from tests.helpers import ITEM
from tests.test_api_escalation import LONG_TOKENS, advance
from tests.test_api_loop import inbox_task
from tests.test_web_pages import Web
from tests.test_timer_workers import DUBAN, wait_until


class WallClock:
    """A wall clock the test moves (the outbox's leases and back-offs run on wall time)."""

    def __init__(self, engine):
        self.at = engine.outbox.wall.now()

    def now(self):
        return self.at

    def move(self, seconds):
        self.at += dt.timedelta(seconds=seconds)


@pytest.fixture
def bare(database_url):
    """A bare engine whose effect ``note`` records its payloads and fails while ``failing``."""
    registry = Registry()
    notes = {"ran": [], "failing": False}

    def note(engine, payload, effect):
        if notes["failing"]:
            raise RuntimeError("receiver down")
        notes["ran"].append((payload["n"], effect.attempts))

    registry.effect("note", note)

    @registry.on("task_completed")
    def listener(event):
        for n in range(event.data.get("notes", 0)):
            event.outbox("note", {"n": n})
        if event.data.get("refuse"):
            raise InvalidInput("listener refused")

    engine = Engine(make_config(database_url, outbox={"max_attempts": 3, "backoff_seconds": 10}), registry)
    engine.deploy(chain("steps", user_task(1), user_task(2), user_task(3)))
    engine.notes = notes
    engine.outbox.wall = WallClock(engine)
    yield engine
    engine.close()


def _open_task(engine, instance_id):
    [task] = engine.tasks.inbox(SECRETARY, instance_id=instance_id)[0]
    return task


def _effects(engine):
    with engine.db.read() as session:
        return list(session.scalars(select(Effect).order_by(Effect.created_at, Effect.id)))


def _audit(engine, kind):
    with engine.db.read() as session:
        return list(session.scalars(select(AuditRecord).where(AuditRecord.kind == kind)))


@BOTH_DATABASES
def test_effects_commit_with_their_command_and_run_after_it_in_order(bare):
    instance = bare.instances.start("steps", {}, SECRETARY)
    with pytest.raises(InvalidInput):  # the listener refuses: the command and its effects roll back
        bare.tasks.complete(_open_task(bare, instance.id).id, {"notes": 2, "refuse": True}, SECRETARY)
    assert _effects(bare) == [] and bare.notes["ran"] == []

    bare.tasks.complete(_open_task(bare, instance.id).id, {"notes": 3}, SECRETARY)
    assert bare.notes["ran"] == [(0, 1), (1, 1), (2, 1)]  # at once, in order, first attempt
    rows = sorted(_effects(bare), key=lambda r: r.payload["n"])
    assert [(r.kind, r.payload, r.instance_id, r.state, r.lease_owner) for r in rows] == [
        ("note", {"n": n}, instance.id, "done", None) for n in range(3)]
    assert all(r.done_at is not None for r in rows)
    assert bare.outbox.dispatch_due().claimed == 0  # nothing left for a scheduler

    with pytest.raises(ValueError, match="no effect handler"):  # a typo fails the command
        @bare.registry.on("task_completed")
        def typo(event):
            event.outbox("no_such_effect", {})
        bare.tasks.complete(_open_task(bare, instance.id).id, {}, SECRETARY)
    assert len(_effects(bare)) == 3 and bare.instances.get(instance.id).version == 2


@BOTH_DATABASES
def test_a_failing_effect_backs_off_becomes_an_incident_and_an_admin_retries_it(bare):
    wall = bare.outbox.wall
    instance = bare.instances.start("steps", {}, SECRETARY)
    bare.notes["failing"] = True
    bare.tasks.complete(_open_task(bare, instance.id).id, {"notes": 1}, SECRETARY)  # attempt 1 fails
    [row] = _effects(bare)
    assert (row.state, row.attempts, row.lease_owner, "receiver down" in row.last_error) == ("pending", 1, None, True)
    assert row.next_attempt_at == wall.now() + bare.outbox.backoff(1)
    assert bare.instances.get(instance.id).status == "running"  # the command stands

    assert bare.outbox.dispatch_due().claimed == 0  # backing off
    wall.move(10)
    assert bare.outbox.dispatch_due().failed == 1  # attempt 2; now 20 s
    wall.move(19)
    assert bare.outbox.dispatch_due().claimed == 0
    wall.move(1)
    assert bare.outbox.dispatch_due().failed == 1  # attempt 3 = max_attempts: an incident
    [row] = bare.outbox.incidents()
    assert (row.state, row.attempts) == ("incident", 3)
    [record] = _audit(bare, "outbox_incident")
    assert record.data["effect"] == row.id and record.instance_id == instance.id
    wall.move(3600)
    assert bare.outbox.dispatch_due().claimed == 0  # incidents wait for an admin

    with pytest.raises(NotFound):
        bare.outbox.retry_incident("no-such-effect", SECRETARY)
    bare.outbox.retry_incident(row.id, SECRETARY)  # still failing: back to back-off, fresh count
    assert (bare.outbox.get(row.id).state, bare.outbox.get(row.id).attempts) == ("pending", 1)
    with pytest.raises(Conflict):
        bare.outbox.retry_incident(row.id, SECRETARY)
    bare.notes["failing"] = False
    wall.move(10)
    bare.outbox.dispatch_due()
    assert (bare.outbox.get(row.id).state, bare.notes["ran"]) == ("done", [(0, 2)])
    assert len(_audit(bare, "outbox_incident_retried")) == 1
    assert bare.verify_audit()["ok"] is True


class _Exited(BaseException):
    pass


def _exit(status):
    raise _Exited(status)


@BOTH_DATABASES
def test_a_process_that_died_after_commit_leaves_its_effects_to_a_scheduler(bare, monkeypatch):
    """The lease written with the row lapses; a row whose runs all died becomes an incident.
    (The subprocess test below dies for real; here ``os._exit`` raises, to look inside.)"""
    wall = bare.outbox.wall
    instance = bare.instances.start("steps", {}, SECRETARY)
    bare.outbox.exit_after_commit = True
    monkeypatch.setattr(os, "_exit", _exit)
    with pytest.raises(_Exited, match="70"):
        bare.tasks.complete(_open_task(bare, instance.id).id, {"notes": 1}, SECRETARY)
    monkeypatch.undo()
    bare.outbox.exit_after_commit = False
    assert bare.notes["ran"] == [] and bare.instances.get(instance.id).version == 2  # committed
    [row] = _effects(bare)
    assert (row.state, row.attempts, row.lease_owner) == ("pending", 1, bare.outbox.owner)

    assert bare.outbox.dispatch_due().claimed == 0  # leased to the dead process
    wall.move(61)  # its lease lapsed
    assert bare.outbox.dispatch_due().done == 1
    assert bare.notes["ran"] == [(0, 2)]

    bare.notes["ran"].clear()
    with bare.db.write() as session:  # a row started max_attempts times, each run dying
        session.add(Effect(id="dying", kind="note", payload={"n": 9}, instance_id=instance.id,
                           state="pending", attempts=3, next_attempt_at=wall.now(),
                           created_at=wall.now()))
    assert bare.outbox.dispatch_due().gave_up == 1
    assert bare.outbox.get("dying").state == "incident" and bare.notes["ran"] == []


# -- the shipped effects over HTTP ---------------------------------------------------------------
class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append((self.headers["X-Duban-Delivery"], body))
        self.send_response(500 if self.server.broken else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received, server.broken = [], False
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_port}/duban"
    yield server
    server.shutdown()
    server.server_close()


@BOTH_DATABASES
def test_a_failing_push_is_an_incident_on_the_monitor_page_and_retrying_it_delivers(server_factory, hook):
    server = server_factory(**LONG_TOKENS, notify={"webhook_url": hook.url, "timeout_seconds": 2},
                            outbox={"max_attempts": 2, "backoff_seconds": 0})
    item = server.login("sec").post("/api/v1/items", ITEM).json()
    hook.broken = True
    advance(server, "2026-11-25T09:00:01+08:00")  # the reminder to li and zhang: attempt 1 fails
    assert server.engine.outbox.dispatch_due().failed == 2  # attempt 2 fails: incidents
    admin = server.login("admin")
    incidents = admin.get("/api/v1/incidents/outbox").json()
    assert incidents["total"] == 2
    assert {(e["kind"], e["state"], e["attempts"], e["payload"]["message"]["item_id"]) for e in incidents["items"]} == {
        ("push_notifications", "incident", 2, item["id"])}
    assert "500" in incidents["items"][0]["last_error"]
    assert server.login("sec").get("/api/v1/incidents/outbox").status_code == 403
    assert server.login("sec").post(f"/api/v1/incidents/outbox/{incidents['items'][0]['id']}/retry").status_code == 403

    page = Web(server.app, "admin").get("/admin/monitor").text
    assert 'data-status="effect-incidents"><b>2</b>后续动作故障' in page
    assert page.count('<tr data-effect="') == 2 and "推送通知" in page and "HTTP Error 500" in page

    hook.broken, hook.received = False, []
    first, second = (e["id"] for e in incidents["items"])
    web = Web(server.app, "admin")
    assert web.post(f"/admin/outbox/{first}/retry", {"back": "monitor"}).status_code == 302
    response = admin.post(f"/api/v1/incidents/outbox/{second}/retry")
    assert response.status_code == 200 and response.json()["state"] == "done"
    assert admin.post(f"/api/v1/incidents/outbox/{second}/retry").status_code == 409
    assert admin.post("/api/v1/incidents/outbox/no-such-effect/retry").status_code == 404
    assert sorted((b["username"], b["kind"]) for _, b in hook.received) == [("li", "reminder"), ("zhang", "reminder")]
    assert all(delivery == str(body["id"]) for delivery, body in hook.received)  # the delivery id
    assert admin.get("/api/v1/incidents/outbox").json()["total"] == 0
    assert 'id="no-effect-incidents"' in web.get("/admin/monitor").text
    assert admin.get("/api/v1/audit/verify").json()["ok"] is True


_APPROVE = """
import sys
from api.app import build_engine
from engine.actor import Actor
engine = build_engine()
engine.tasks.complete(sys.argv[1], {"approved": True, "comment": "同意"}, Actor("boss", frozenset({"leader"}), "office"))
print("the effects ran: the exit after commit did not happen")
"""


@BOTH_DATABASES
def test_an_approval_whose_process_is_killed_after_commit_is_applied_once_by_a_worker(
        server_factory, database_url, hook, tmp_path):
    server = server_factory(**LONG_TOKENS, notify={"webhook_url": hook.url})
    sec, zhang, boss = (server.login(u) for u in ("sec", "zhang", "boss"))
    item = sec.post("/api/v1/items", ITEM).json()
    draft = inbox_task(zhang, "draft_plan", item["id"])
    response = zhang.post(f"/api/v1/items/{item['id']}/extension", {
        "task_id": draft["id"], "reason": "需协调市级部门", "new_due": "2026-11-30T18:00:00+08:00",
        "progress": 30})
    assert response.status_code == 202, response.text
    approve = inbox_task(boss, "approve_extension", item["id"])

    # A process completes the approval and dies right after the commit, before any effect.
    config = tmp_path / "approver.toml"
    clock = '[clock]\nmode = "simulated"\nstart = "2026-11-23T09:00:00+08:00"\n'
    config.write_text(f'[database]\nurl = "{database_url}"\n{clock}[notify]\nwebhook_url = "{hook.url}"\n'
                      '[outbox]\nlease_seconds = 1\nexit_after_commit = true\n', encoding="utf-8")
    env = {**os.environ, "DUBAN_CONFIG": str(config)}
    env.pop("DUBAN_DATABASE_URL", None)
    approver = subprocess.run([sys.executable, "-c", _APPROVE, approve["id"]], env=env, cwd=Path(DUBAN).parents[2],
                              capture_output=True, text=True, timeout=300)
    assert approver.returncode == 70, approver.stdout + approver.stderr
    assert inbox_task(zhang, "draft_plan", item["id"])["due_at"] == "2026-11-25T10:00:00+00:00"  # not applied
    decided = [b for _, b in hook.received if b["kind"] == "extension_decided"]
    assert decided == []
    pending = {row.kind for row in _effects(server.engine) if row.state == "pending"}
    assert pending == {"apply_extension", "push_notifications"}

    # A worker picks the effects up once the dead process's lease lapses: each happens once.
    config = tmp_path / "worker.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n{clock}[notify]\nwebhook_url = "{hook.url}"\n'
                      '[scheduler]\ninterval_seconds = 0.2\n', encoding="utf-8")
    log = open(tmp_path / "worker.log", "w+", encoding="utf-8")
    worker = subprocess.Popen([DUBAN, "worker"], env={**env, "DUBAN_CONFIG": str(config)},
                              stdout=log, stderr=subprocess.STDOUT)
    worker.log = log
    try:
        wait_until(lambda: all(row.state == "done" for row in _effects(server.engine)), "effects done", worker)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()
    assert inbox_task(zhang, "draft_plan", item["id"])["due_at"] == "2026-11-30T10:00:00+00:00"
    moved = [r for r in _audit(server.engine, "task_rescheduled") if r.business_key == item["id"]]
    assert len(moved) == 1 and moved[0].actor == "boss"
    assert [b["username"] for _, b in hook.received if b["kind"] == "extension_decided"] == ["zhang"]

    # Running the effect again (as after a crash before it was marked done) moves nothing.
    [apply] = [row for row in _effects(server.engine) if row.kind == "apply_extension"]
    server.engine.registry.effect_handler("apply_extension")(server.engine, apply.payload, apply)
    assert len([r for r in _audit(server.engine, "task_rescheduled") if r.business_key == item["id"]]) == 1
    assert server.login("admin").get("/api/v1/audit/verify").json()["ok"] is True
