"""Scale-out, shown (issue 7): 2 × ``duban serve`` + 2 × ``duban worker`` on one PostgreSQL.

Four separate processes share one database and one simulated clock (``clock_state``). The
servers run no scheduler (``[scheduler] in_process = false``); only the workers fire timers.
The supervision loop of 12 items is driven over HTTP through both servers alternately (item
``i`` goes to server ``i % 2``; tokens issued by one server are used on both). Half the items
miss their plan deadline: the test moves the shared clock past it through the clock store
(what ``engine.clock.advance`` does, firing nothing in-process), the workers fire the
reminders and escalations, the supervisor handles each escalation, and every item closes.
The deployment itself is described in docs/DEPLOYMENT.md.
"""
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.models import AuditRecord, HumanTask, Timer
from tests.api_client import PASSWORD, Client, seed_organisation
from tests.conftest import START
from tests.helpers import DONE_REPORT, ITEM, PLAN
from tests.test_cli import free_port, wait_for

DUBAN = str(Path(sys.executable).parent / "duban")
POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
ITEMS = 12
OVERDUE = "2026-11-25T18:00:01+08:00"  # just past the plan due time (Wed 18:00) of items made Mon 09:00
DEADLINE = 120  # seconds before a wait is declared hung: a guard on a busy machine, not a measurement


def config_text(url, port):
    """The one configuration every process uses (only the HTTP port differs)."""
    return (f'[database]\nurl = "{url}"\n'
            f'[server]\nhost = "127.0.0.1"\nport = {port}\nthreads = 4\ntrusted_proxies = 0\n'
            '[web]\nsecret_key = "scale-out-test-shared-secret"\n'
            '[auth]\ntoken_hours = 8784\n'
            f'[clock]\nmode = "simulated"\nstart = "{START}"\n'
            '[scheduler]\nin_process = false\ninterval_seconds = 0.2\nbatch_size = 2\n')


@pytest.fixture
def processes(tmp_path):
    """Start ``duban <command>`` with a config file; every process is stopped at the end."""
    started = []

    def start(command, name, text):
        config = tmp_path / f"{name}.toml"
        config.write_text(text, encoding="utf-8")
        env = {**os.environ, "DUBAN_CONFIG": str(config)}
        env.pop("DUBAN_DATABASE_URL", None)
        log = open(tmp_path / f"{name}.log", "w+", encoding="utf-8")
        process = subprocess.Popen([DUBAN, command], env=env, stdout=log, stderr=subprocess.STDOUT)
        process.log, process.name = log, name
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.log.close()


def output(process):
    process.log.seek(0)
    return f"--- {process.name} ---\n{process.log.read()}"


def wait_until(condition, what, running):
    end = time.monotonic() + DEADLINE
    while not condition():
        for process in running:
            assert process.poll() is None, f"{process.name} exited:\n{output(process)}"
        assert time.monotonic() < end, f"not reached: {what}\n" + "\n".join(map(output, running))
        time.sleep(0.1)


class People:
    """One token per user (issued by server 0), used against either server."""

    def __init__(self, bases):
        self.bases, self.tokens = bases, {}

    def __call__(self, username, server):
        if username not in self.tokens:
            response = Client(self.bases[0]).post("/api/v1/auth/token",
                                                  {"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self.tokens[username] = response.json()["token"]
        return Client(self.bases[server % 2], self.tokens[username])


def complete(client, key, item_id, data):
    response = client.get("/api/v1/tasks", params={"item_id": item_id})
    assert response.status_code == 200, response.text
    tasks = [t for t in response.json()["items"] if t["key"] == key]
    assert tasks, f"no {key} for item {item_id} at {client.base}: {response.json()}"
    done = client.post(f"/api/v1/tasks/{tasks[0]['id']}/complete", {"data": data})
    assert done.status_code == 200, f"{key} of {item_id} at {client.base}: {done.text}"


@POSTGRESQL
def test_two_servers_and_two_workers_run_the_loop_with_timers(
        engine_factory, processes, database_url, tmp_path):
    began = time.monotonic()
    # Deploy the shipped definitions with `duban init`, then seed the organisation directly.
    init_config = tmp_path / "init.toml"
    init_config.write_text(config_text(database_url, free_port()), encoding="utf-8")
    env = {**os.environ, "DUBAN_CONFIG": str(init_config)}
    env.pop("DUBAN_DATABASE_URL", None)
    env.pop("DUBAN_ADMIN_PASSWORD", None)
    init = subprocess.run([DUBAN, "init"], env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "supervision v1 (deployed)" in init.stdout
    engine = engine_factory(clock={"start": START}, scheduler={"in_process": False})
    seed_organisation(engine)

    ports = [free_port(), free_port()]
    servers = [processes("serve", f"serve{n}", config_text(database_url, port))
               for n, port in enumerate(ports)]
    workers = [processes("worker", f"worker{n}", config_text(database_url, free_port()))
               for n in range(2)]
    running = servers + workers
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    for base in bases:
        assert wait_for(f"{base}/healthz") == (200, {"ok": True, "database": "ok"})
    wait_until(lambda: all("firing timers" in output(w) for w in workers), "workers up", running)
    person = People(bases)

    # Register and dispatch every item, through both servers.
    items = []
    for i in range(ITEMS):
        created = person("sec", i).post("/api/v1/items", {**ITEM, "title": f"{ITEM['title']} {i}"})
        assert created.status_code == 201, created.text
        items.append(created.json())
    on_time, late = items[0::2], items[1::2]
    for i, item in enumerate(on_time):
        complete(person("zhang", i), "draft_plan", item["id"], PLAN)

    # The plan deadline passes: the shared clock moves, nothing fires in this process.
    with engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Timer).where(
            Timer.state == "fired")) == 0
    engine.clock.advance(to=OVERDUE)

    def due_waiting():
        now = engine.clock.now()
        with engine.db.read() as session:
            return session.scalar(select(func.count()).select_from(Timer).where(
                Timer.state == "waiting", Timer.fire_at < now))
    wait_until(lambda: due_waiting() == 0, "the workers fired every due timer", running)

    # The supervisor handles each escalation (remind), alternating servers.
    listed = person("sup", 0).get("/api/v1/escalations", params={"state": "open", "limit": 100}).json()
    assert sorted(e["item_id"] for e in listed["items"]) == sorted(i["id"] for i in late)
    assert sorted(e["level"] for e in listed["items"]) == list(range(1, len(late) + 1))
    for n, escalation in enumerate(listed["items"]):
        response = person("sup", n).post(f"/api/v1/tasks/{escalation['handle_task_id']}/complete",
                                         {"data": {"action": "remind", "comment": "尽快报送"}})
        assert response.status_code == 200, response.text

    # The rest of the loop, item i through server i % 2 (the late plans drafted first).
    for i, item in enumerate(items):
        if item in late:
            complete(person("zhang", i), "draft_plan", item["id"], PLAN)
    for i, item in enumerate(items):
        complete(person("boss", i), "approve_plan", item["id"], {"approved": True})
        complete(person("sec", i + 1), "file_plan", item["id"], {"note": "备案"})
        complete(person("zhang", i), "report_progress", item["id"], DONE_REPORT)
        complete(person("sec", i + 1), "recheck", item["id"], {"passed": True, "findings": "属实"})
        complete(person("boss", i), "confirm_close", item["id"], {"rating": "good"})

    for i, item in enumerate(items):
        body = person("sec", i).get(f"/api/v1/items/{item['id']}").json()
        assert body["status"] == "closed" and body["open_tasks"] == [], body

    with engine.db.read() as session:
        timers = list(session.scalars(select(Timer)))
        fired = [t for t in timers if t.state == "fired"]
        records = list(session.scalars(select(AuditRecord).where(
            AuditRecord.kind.in_(("timer_fired", "task_completed")))))
        tasks = list(session.scalars(select(HumanTask)))
    assert not [t for t in timers if t.state in ("incident", "waiting") and t.fire_at < engine.clock.now()]
    # Reminder and escalation of each late plan fired, nothing else was due.
    assert Counter(t.task_key for t in fired) == {"remind_plan": len(late), "escalate_plan": len(late)}
    firings = Counter((r.instance_id, r.data["task"]) for r in records if r.kind == "timer_fired")
    assert firings == Counter((t.instance_id, t.task_key) for t in fired), "a timer fired twice"
    completions = Counter(r.data["task_id"] for r in records if r.kind == "task_completed")
    assert set(completions.values()) == {1}, "a task completed twice"
    assert set(completions) == {t.id for t in tasks if t.state == "completed"}
    assert {t.state for t in tasks} == {"completed"}
    # 6 steps per item (draft, approve, file, report, recheck, close) + one handling per escalation.
    assert len(completions) == 6 * ITEMS + len(late)

    # A claimed row keeps its lease owner (host:pid:random) once fired. A unit of work fires
    # every due timer of its instance, so a row may fire under another row's claim (its
    # lease_owner stays empty): lease_owner shows which worker claimed, and a late instance
    # whose claimed rows all name one worker was fired by that worker.
    claims = {}
    for t in fired:
        if t.lease_owner:
            claims.setdefault(t.instance_id, set()).add(t.lease_owner.split(":")[1])
    assert set(claims) == {i["instance_id"] for i in late}
    claimers = set().union(*claims.values())
    fired_by = Counter(next(iter(pids)) for pids in claims.values() if len(pids) == 1)
    assert claimers == {str(w.pid) for w in workers}, f"claims per instance: {claims}"
    assert engine.verify_audit()["ok"]
    print(f"\nscale-out: {ITEMS} items, {len(fired)} timers fired, instances fired per worker pid "
          f"{dict(fired_by)}, {time.monotonic() - began:.1f} s")
