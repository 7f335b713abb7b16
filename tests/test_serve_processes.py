"""``duban serve`` with ``[server] processes = 2``: a gunicorn master and two worker processes,
as real processes over real HTTP.

Which worker served a request is read from outside, without any debug endpoint: the test
opens a fresh TCP connection per request and, while the connection is still open, finds the
server side of it in ``/proc/net/tcp`` and the worker process holding that socket among the
children of ``duban serve`` (``/proc/<pid>/fd``).
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.models import AuditRecord, HumanTask, Timer
from tests.api_client import PASSWORD, seed_organisation
from tests.conftest import START
from tests.helpers import DONE_REPORT, ITEM, PLAN
from tests.test_cli import free_port, wait_for

DUBAN = str(Path(sys.executable).parent / "duban")
POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
OVERDUE = "2026-11-25T18:00:01+08:00"  # just past the plan due time (Wed 18:00) of items made Mon 09:00
DEADLINE = 120  # seconds before a wait is declared hung: a guard on a busy machine, not a measurement


def config_text(url, port, processes=2, in_process=True, extra=""):
    return (f'[database]\nurl = "{url}"\n'
            f'[server]\nhost = "127.0.0.1"\nport = {port}\nthreads = 4\nprocesses = {processes}\n'
            f'[clock]\nmode = "simulated"\nstart = "{START}"\n'
            f'[scheduler]\nin_process = {str(in_process).lower()}\ninterval_seconds = 0.2\n{extra}')


class Serve:
    """``duban init`` then ``duban serve`` on one config file; its output goes to a log file."""

    def __init__(self, tmp_path, text):
        self.config = tmp_path / "serve.toml"
        self.config.write_text(text, encoding="utf-8")
        self.env = {**os.environ, "DUBAN_CONFIG": str(self.config)}
        self.env.pop("DUBAN_DATABASE_URL", None)
        self.env.pop("DUBAN_ADMIN_PASSWORD", None)
        self.log = open(tmp_path / "serve.log", "w+", encoding="utf-8")
        self.process = None

    def run(self, *args):
        return subprocess.run([DUBAN, *args], env=self.env, capture_output=True, text=True, timeout=120)

    def start(self):
        self.process = subprocess.Popen([DUBAN, "serve"], env=self.env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        return self

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def wait_until(self, condition, what):
        end = time.monotonic() + DEADLINE
        while not condition():
            assert self.process.poll() is None, f"duban serve exited:\n{self.output()}"
            assert time.monotonic() < end, f"not reached: {what}\n{self.output()}"
            time.sleep(0.1)

    def workers(self):
        return children(self.process.pid)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def serve_factory(tmp_path):
    started = []

    def factory(text):
        started.append(Serve(tmp_path, text))
        return started[-1]

    yield factory
    for running in started:
        running.stop()


def children(pid):
    """Live child processes of ``pid`` (from /proc/*/stat)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def alive(pid):
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


def socket_inodes(pid):
    inodes = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def server_side_inode(port, client_port):
    """The inode of the established server-side socket ``127.0.0.1:port ← :client_port``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if (int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == client_port
                and state == "01"):  # ESTABLISHED
            return int(fields[9])
    return None


class Http:
    """One fresh connection per request; each answer notes the worker process that served it."""

    def __init__(self, serve, port):
        self.serve, self.port, self.tokens = serve, port, {}
        self.served_by = Counter()

    def request(self, method, path, body=None, user=None):
        headers = {"Content-Type": "application/json"}
        if user:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=None if body is None else json.dumps(body),
                               headers=headers)
            response = connection.getresponse()
            payload = json.loads(response.read() or b"null")
            # Still connected (keep-alive): the server side of this connection belongs to the
            # worker that accepted it and answered.
            inode = server_side_inode(self.port, connection.sock.getsockname()[1])
            owners = [pid for pid in self.serve.workers() if inode in socket_inodes(pid)]
            if inode is not None and len(owners) == 1:
                self.served_by[owners[0]] += 1
            return response.status, payload
        finally:
            connection.close()

    def token(self, user):
        if user not in self.tokens:
            status, body = self.request("POST", "/api/v1/auth/token",
                                        {"username": user, "password": PASSWORD})
            assert status == 200, body
            self.tokens[user] = body["token"]
        return self.tokens[user]

    def ok(self, method, path, body=None, user=None, status=200):
        answer, payload = self.request(method, path, body, user)
        assert answer == status, f"{method} {path} as {user}: {answer} {payload}"
        return payload

    def complete(self, user, key, item_id, data):
        tasks = self.ok("GET", f"/api/v1/tasks?item_id={item_id}", user=user)["items"]
        matching = [t for t in tasks if t["key"] == key]
        assert matching, f"no {key} for item {item_id} in {user}'s inbox: {tasks}"
        self.ok("POST", f"/api/v1/tasks/{matching[0]['id']}/complete", {"data": data}, user)


def started(serve, database_url, engine_factory):
    """``duban init`` (deploys bpmn/), the organisation seeded, then ``duban serve``, up."""
    init = serve.run("init")
    assert init.returncode == 0, init.stdout + init.stderr
    seed_organisation(engine_factory(clock={"start": START}, scheduler={"in_process": False}))
    serve.start()
    return serve


@POSTGRESQL
def test_two_processes_serve_the_loop_survive_a_killed_worker_and_stop(
        serve_factory, engine_factory, database_url):
    port = free_port()
    serve = started(serve_factory(config_text(database_url, port)), database_url, engine_factory)
    assert wait_for(f"http://127.0.0.1:{port}/healthz") == (200, {"ok": True, "database": "ok"})
    assert f"serving on http://127.0.0.1:{port} (2 processes × 4 threads)" in serve.output()
    serve.wait_until(lambda: len(serve.workers()) == 2, "two worker processes")
    first = serve.workers()
    serve.wait_until(lambda: serve.output().count("firing timers every") == 2,
                     "a scheduler in each worker")
    client = Http(serve, port)

    # The first half of the loop for four items.
    items = [client.ok("POST", "/api/v1/items", {**ITEM, "title": f"{ITEM['title']} {i}"}, "sec", 201)
             for i in range(4)]
    for item in items:
        client.complete("zhang", "draft_plan", item["id"], PLAN)
        client.complete("boss", "approve_plan", item["id"], {"approved": True})
    # Both workers answer requests (the kernel hands each new connection to one of them).
    # Connections are not spread evenly, so read on until each worker has answered some.
    tries = 0
    while set(client.served_by) != first and tries < 500:
        client.ok("GET", f"/api/v1/items/{items[tries % 4]['id']}", user="sec")
        tries += 1
    assert set(client.served_by) == first, f"served by {dict(client.served_by)}, workers {first}"

    # One worker is killed outright: requests keep succeeding, and the master replaces it.
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    for item in items:
        client.complete("sec", "file_plan", item["id"], {"note": "备案"})
        client.complete("zhang", "report_progress", item["id"], DONE_REPORT)
    serve.wait_until(lambda: len(serve.workers()) == 2 and victim not in serve.workers(),
                     "a replacement worker")
    replacement = serve.workers() - first
    assert len(replacement) == 1 and serve.workers() == (first - {victim}) | replacement
    for item in items:
        client.complete("sec", "recheck", item["id"], {"passed": True, "findings": "属实"})
        client.complete("boss", "confirm_close", item["id"], {"rating": "good"})
    for item in items:
        body = client.ok("GET", f"/api/v1/items/{item['id']}", user="sec")
        assert body["status"] == "closed" and body["open_tasks"] == [], body

    engine = engine_factory(scheduler={"in_process": False})
    with engine.db.read() as session:
        completed = Counter(r.data["task_id"] for r in session.scalars(
            select(AuditRecord).where(AuditRecord.kind == "task_completed")))
        tasks = list(session.scalars(select(HumanTask)))
    assert set(completed.values()) == {1} and len(completed) == 6 * len(items)
    assert {t.state for t in tasks} == {"completed"}
    assert engine.verify_audit()["ok"]

    # SIGTERM: the master stops every worker, then exits cleanly.
    workers = serve.workers()
    serve.process.send_signal(signal.SIGTERM)
    assert serve.process.wait(timeout=60) == 0, serve.output()
    end = time.monotonic() + DEADLINE
    while any(alive(pid) for pid in workers | {victim}) and time.monotonic() < end:
        time.sleep(0.1)
    assert not [pid for pid in workers | {victim} if alive(pid)], serve.output()
    assert serve.output().count("Worker exiting") >= 2
    print(f"\nrequests answered per worker pid: {dict(client.served_by)} (killed {victim}, "
          f"replacement {replacement})")


def test_two_processes_on_sqlite_fire_each_due_timer_once(serve_factory, engine_factory,
                                                          database_url):
    """Each worker runs its own scheduler; they race for the same due rows (SQLite serialises
    the claims with BEGIN IMMEDIATE), and every timer still fires exactly once."""
    items_count = 6
    port = free_port()
    # One row per claim, and a claimer holds its lease a moment before firing: the other
    # worker's scheduler, ticking meanwhile, has to take other rows.
    text = config_text(database_url, port, extra="batch_size = 1\npause_after_claim_seconds = 0.3\n")
    serve = started(serve_factory(text), database_url, engine_factory)
    assert wait_for(f"http://127.0.0.1:{port}/healthz") == (200, {"ok": True, "database": "ok"})
    serve.wait_until(lambda: len(serve.workers()) == 2, "two worker processes")
    serve.wait_until(lambda: serve.output().count("firing timers every") == 2,
                     "a scheduler in each worker")
    workers = serve.workers()
    client = Http(serve, port)
    items = [client.ok("POST", "/api/v1/items", {**ITEM, "title": f"{ITEM['title']} {i}"}, "sec", 201)
             for i in range(items_count)]

    engine = engine_factory(scheduler={"in_process": False})
    with engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Timer).where(
            Timer.state == "fired")) == 0
    engine.clock.advance(to=OVERDUE)  # the shared clock moves; nothing fires in this process

    def due_waiting():
        with engine.db.read() as session:
            return session.scalar(select(func.count()).select_from(Timer).where(
                Timer.state == "waiting", Timer.fire_at < engine.clock.now()))
    serve.wait_until(lambda: due_waiting() == 0, "the workers fired every due timer")

    with engine.db.read() as session:
        timers = list(session.scalars(select(Timer)))
        fired = [t for t in timers if t.state == "fired"]
        records = list(session.scalars(select(AuditRecord).where(AuditRecord.kind == "timer_fired")))
    assert not [t for t in timers if t.state == "incident"]
    assert Counter(t.task_key for t in fired) == {"remind_plan": items_count,
                                                  "escalate_plan": items_count}
    firings = Counter((r.instance_id, r.data["task"]) for r in records)
    assert firings == Counter((t.instance_id, t.task_key) for t in fired), "a timer fired twice"
    assert set(firings.values()) == {1}
    assert {t.instance_id for t in fired} == {i["instance_id"] for i in items}
    # Both workers' schedulers claimed rows (lease_owner is host:pid:random), and nobody else did.
    claimers = Counter(int(t.lease_owner.split(":")[1]) for t in fired if t.lease_owner)
    assert set(claimers) == workers, f"claims per pid {dict(claimers)}, workers {workers}"
    escalations = client.ok("GET", "/api/v1/escalations?state=open&limit=100", user="sup")["items"]
    assert sorted(e["level"] for e in escalations) == list(range(1, items_count + 1))
    assert engine.verify_audit()["ok"]
    print(f"\ntimer rows claimed per worker pid: {dict(claimers)}")


@pytest.mark.parametrize("value", ["0", "-1", '"two"', "1.5", "true"])
def test_a_bad_processes_value_is_refused(tmp_path, value):
    config = tmp_path / "serve.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "duban.db"}"\n'
                      f'[server]\nport = {free_port()}\nprocesses = {value}\n', encoding="utf-8")
    env = {**os.environ, "DUBAN_CONFIG": str(config)}
    env.pop("DUBAN_DATABASE_URL", None)
    result = subprocess.run([DUBAN, "serve"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "[server] processes must be a whole number ≥ 1" in result.stderr, result.stderr


@pytest.mark.parametrize("processes", [1, 2])
def test_a_port_in_use_is_refused(tmp_path, processes):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "serve.toml"
        config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "duban.db"}"\n'
                          f'[server]\nport = {port}\nprocesses = {processes}\n', encoding="utf-8")
        env = {**os.environ, "DUBAN_CONFIG": str(config)}
        env.pop("DUBAN_DATABASE_URL", None)
        result = subprocess.run([DUBAN, "serve"], env=env, capture_output=True, text=True,
                                timeout=120)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr, result.stderr
