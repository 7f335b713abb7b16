"""Load without loss (issue 14, part 5): the supervision loop over HTTP under concurrent clients
while the timer worker is SIGKILLed and restarted, then a check that nothing was lost or doubled.

The deployment is the scale-out one (docs/DEPLOYMENT.md) on one PostgreSQL database:
``duban serve`` with ``[server] processes = 2`` (gunicorn: two worker processes, no in-process
scheduler) and one ``duban worker`` firing timers. The clock is simulated and shared.

The run is a sequence of simulated days. In each day's office hours, at the same time:

- an admin moves the clock from 09:00 to 21:00 through ``POST /api/v1/clock/advance`` (the
  serve process fires what falls due, in due order: the escalations at 12:00 and 18:00,
  racing the worker for each timer row);
- every client works its inboxes over HTTP. Client ``k`` is the staff member ``staff_c<k>`` of
  department ``d<k // 2>`` (two clients per department), that department's leader, the shared
  secretariat user and the shared supervisor: clients race for the same tasks, and the loser of
  a race gets 409. During the registration weeks a client registers an item every few
  working days; a department reports once a week, done a week after registration. Some plans
  and reports are left until their due time has passed on purpose (one in ``LATE_EVERY``,
  chosen by the item's number), so reminders and escalations fire and the supervisor handles
  the escalations.

Then the night: the harness moves the shared clock row on to 09:00:01 (``clock_state``, as
tests/test_scale_out.py does; that fires nothing by itself) and the worker alone fires what
fell due (the reminders, due at 09:00).

Twice during the run the worker is SIGKILLed at night, preferably while it holds timer leases
(its ``pause_after_claim_seconds`` widens that window; the harness kills it as soon as it sees
a row leased to the worker's pid, trying for up to ``KILL_TRIES`` nights), and started again
the next morning. The dead worker's leases lapse (2 s of wall time here); the timers it held
then fire once, claimed again by the new worker or by the admin's next advance, which waits
for them. The run ends when every item is closed and no task is open (or after the drain
weeks, a problem). Then :func:`check` reads the database: each completed task
has exactly one ``task_completed`` audit record naming it (same instance, item, key and user)
and each such record a completed task; no timer occurrence has two ``timer_fired`` records and
each fired row has one; no timer is due and still waiting, none is an incident; the audit chain
verifies (``GET /api/v1/audit/verify`` and the engine's own verify); and :func:`check_outbox`:
every outbox row is done, and each webhook push reached the harness's receiver.

Responses: 2xx and 409 (a lost race, with another client or with a timer firing on the same
instance) are expected; everything else, 5xx above all, and any connection error is a failure.
The serve processes are never killed, so no request falls in a kill window.

``python -m bench.soak`` runs the long form (16 clients, several simulated weeks) on a scratch
database and prints the figures; tests/test_load_without_loss.py runs a lean form of the same
code on the test database.
"""
import argparse
import collections
import datetime as dt
import http.server
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
import sqlalchemy as sa
from sqlalchemy import func, select

from bench.profiling import children
from bench.server import DUBAN, PASSWORD, free_port, seed_organisation
from engine.clock import SimulatedClock
from engine.clock_store import DatabaseClockStore
from engine.db import Database
from engine.models import AuditRecord, HumanTask, JobRun, Timer

START = "2026-11-23T09:00:00+08:00"  # a Monday
LATE_EVERY = 4          # one plan or report in this many is left past its due time on purpose
SPACING = 3             # a client registers an item every SPACING-th working day
PASSES = 4              # inbox sweeps per client per day (a completion may open the next step)
GUARD = 180             # seconds before a wait is declared hung: a guard, not a measurement
KILL_TRIES = 3          # nights in which a kill waits for the worker to hold a lease

LONG = dict(clients=16, register_weeks=4, drain_weeks=4)
LEAN = dict(clients=4, register_weeks=2, drain_weeks=4)


def config_text(url, port, webhook, worker=False):
    """Serve and worker share the database, clock and notification webhook. The worker claims
    two rows at a time and holds them half a second before firing (fault-injection setting),
    so a kill often finds it holding leases; leases (timers' and outbox rows') lapse after 2 s
    of wall time instead of 60."""
    scheduler = ("interval_seconds = 0.2\nbatch_size = 2\npause_after_claim_seconds = 0.5\n"
                 if worker else "")
    return (f'[database]\nurl = "{url}"\n'
            f'[server]\nhost = "127.0.0.1"\nport = {port}\nthreads = 4\nprocesses = 2\n'
            '[web]\nsecret_key = "soak-shared-secret"\n'
            '[auth]\ntoken_hours = 48\n'
            f'[clock]\nmode = "simulated"\nstart = "{START}"\n'
            f'[notify]\nwebhook_url = "{webhook}"\ntimeout_seconds = 5\n'
            '[outbox]\nlease_seconds = 2\n'  # the outbox's leases, once merged (issue 14, part 2)
            f'[scheduler]\nin_process = false\nlease_seconds = 2\n{scheduler}')


def organisation(clients):
    """Departments and people: ``staff_c<k>`` in ``d<k // 2>``, one leader per department."""
    departments = {"office": "政府办公室", **{f"d{j}": f"部门{j}" for j in range((clients + 1) // 2)}}
    people = {"admin": (None, ["admin"]), "sec": ("office", ["secretariat"]),
              "sup": ("office", ["supervisor"])}
    for j in range((clients + 1) // 2):
        people[f"lead_d{j}"] = ("office", ["leader"])
    for k in range(clients):
        people[f"staff_c{k}"] = (f"d{k // 2}", ["staff"])
    return departments, people


class Deployment:
    """``duban init``, ``duban serve`` (2 processes) and one ``duban worker``, as subprocesses
    with their output in ``workdir``; the worker can be killed and started again."""

    def __init__(self, url, workdir, webhook):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.serve_config = self._config("serve", config_text(url, self.port, webhook))
        self.worker_config = self._config("worker", config_text(url, free_port(), webhook, True))
        self.serve = self.worker = None
        self.worker_runs, self.worker_pids = 0, []
        self.logs = []

    def _config(self, name, text):
        path = self.workdir / f"soak_{name}.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def _env(self, config):
        env = {**os.environ, "DUBAN_CONFIG": str(config)}
        env.pop("DUBAN_DATABASE_URL", None)
        env.pop("DUBAN_ADMIN_PASSWORD", None)
        return env

    def _start(self, command, config, name):
        log = open(self.workdir / f"soak_{name}.log", "w+", encoding="utf-8")
        self.logs.append(log)
        process = subprocess.Popen([DUBAN, command], env=self._env(config), stdout=log,
                                   stderr=subprocess.STDOUT)
        process.log = log
        return process

    @staticmethod
    def output(process):
        process.log.flush()
        return Path(process.log.name).read_text(encoding="utf-8")

    def _wait(self, process, condition, what):
        end = time.monotonic() + GUARD
        while not condition():
            if process.poll() is not None:
                raise RuntimeError(f"{what}: the process exited\n{self.output(process)[-3000:]}")
            if time.monotonic() > end:
                raise RuntimeError(f"not reached: {what}\n{self.output(process)[-3000:]}")
            time.sleep(0.05)

    def init(self):
        result = subprocess.run([DUBAN, "init"], env=self._env(self.serve_config),
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"duban init failed: {result.stdout}{result.stderr}"[-3000:])
        return self

    def start(self):
        self.serve = self._start("serve", self.serve_config, "serve")

        def answering():
            try:
                healthy = requests.get(self.base + "/healthz", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False
            return healthy and len(children(self.serve.pid)) == 2
        self._wait(self.serve, answering, "duban serve answers with 2 processes")
        self.start_worker()
        return self

    def start_worker(self):
        self.worker_runs += 1
        self.worker = self._start("worker", self.worker_config, f"worker{self.worker_runs}")
        self.worker_pids.append(self.worker.pid)
        self._wait(self.worker, lambda: "firing timers" in self.output(self.worker), "worker up")

    def kill_worker(self):
        os.kill(self.worker.pid, signal.SIGKILL)
        self.worker.wait()
        self.worker = None

    def stop(self):
        for process in (self.worker, self.serve):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for log in self.logs:
            log.close()


class Webhook:
    """A local receiver for ``[notify] webhook_url``: counts the pushes per notification id."""

    def __init__(self):
        received = self.received = collections.Counter()
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    received[body["id"]] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.request_queue_size = 128  # pushes come in bursts
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Tally:
    """Every response by status, the failures among them (a sample of each), the conflicts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = collections.Counter()
        self.failures = []
        self.completions = 0
        self.late = set()
        self.unhandled = collections.Counter()

    def count(self, method, path, status, text=""):
        with self.lock:
            self.statuses[status] += 1
            if not (200 <= status < 300 or status == 409):
                self.failures.append(f"{method} {path}: {status} {text[:300]}")


class Client:
    """One person at the desk: a department's staff member who also acts as its leader, the
    secretariat and the supervisor (the last two shared by every client)."""

    def __init__(self, k, base, tokens, tally, registered):
        self.k, self.base, self.tally, self.registered = k, base, tally, registered
        self.department, self.random = f"d{k // 2}", random.Random(k)
        self.sessions = {who: _session(tokens[who])
                         for who in (f"staff_c{k}", f"lead_d{k // 2}", "sec", "sup")}

    def call(self, who, method, path, **kwargs):
        try:
            response = self.sessions[who].request(method, self.base + path, timeout=GUARD, **kwargs)
        except requests.RequestException as err:
            self.tally.count(method, path, 0, repr(err))
            return None, None
        self.tally.count(method, path, response.status_code, response.text)
        return response.status_code, (response.json() if response.status_code < 300 else None)

    def day(self, today, register):
        """Work one simulated day: maybe register an item, then sweep the inboxes."""
        if register:
            item = {"title": f"督办事项 c{self.k} {today:%m-%d}", "basis": "meeting_decision",
                    "department": self.department, "co_departments": [],
                    "leader": f"lead_d{self.k // 2}", "deadline": "2027-12-31",
                    "requirements": "每周五前反馈进展"}
            status, body = self.call("sec", "POST", "/api/v1/items", json=item)
            if status == 201:
                with self.tally.lock:  # numbered in registration order: 0, 1, 2 ...
                    self.registered[body["id"]] = (today, len(self.registered))
        for _ in range(PASSES):
            done = 0
            for who in self.sessions:
                _status, inbox = self.call(who, "GET", "/api/v1/tasks", params={"limit": 500})
                tasks = list(inbox["items"]) if inbox else []
                self.random.shuffle(tasks)  # clients sharing an inbox collide on some tasks, not all
                for task in tasks:
                    data = self.answer(task, today)
                    if data is None:
                        continue
                    status, _ = self.call(who, "POST", f"/api/v1/tasks/{task['id']}/complete",
                                          json={"data": data})
                    if status == 200:
                        done += 1
                        with self.tally.lock:
                            self.tally.completions += 1
            if not done:
                break

    def answer(self, task, today):
        """The form data for ``task`` today, or None to leave it (late on purpose, or unknown)."""
        key = task["key"]
        due = dt.datetime.fromisoformat(task["due_at"]) if task.get("due_at") else None
        if key == "report_progress" and due and today < due - dt.timedelta(days=7):
            return None  # next week's report: one report a week (an early one moves the next due a week on)
        since, number = self.registered.get(task.get("item_id"), (None, None))
        if key in ("draft_plan", "report_progress") and due and number is not None:
            # Late on purpose: the plan of every LATE_EVERY-th item (the first one included),
            # and a report when the item's number and the week of its due time agree.
            late_turn = number if key == "draft_plan" else number + due.isocalendar().week
            if late_turn % LATE_EVERY == 0 and today <= due:
                with self.tally.lock:
                    self.tally.late.add(task["id"])
                return None
        if key == "draft_plan":
            return {"owner": f"staff_c{self.k}", "measures": "专班推进", "expected_result": "按期完成",
                    "milestones": [{"date": "2027-06-30", "target": "方案落地"}]}
        if key == "report_progress":
            if since is None or today - since >= dt.timedelta(days=7):
                return {"progress": 100, "summary": "已完成", "done": True,
                        "completion_report": "办结报告"}
            return {"progress": 40, "summary": "推进中", "done": False}
        answers = {"approve_plan": {"approved": True, "comment": "同意"},
                   "file_plan": {"note": "备案"},
                   "recheck": {"passed": True, "findings": "属实"},
                   "confirm_close": {"rating": "good", "comment": "按期办结"},
                   "handle_escalation": {"action": "remind", "comment": "尽快办理"}}
        if key not in answers:
            with self.tally.lock:
                self.tally.unhandled[key] += 1
        return answers.get(key)


def _session(token):
    """A person's HTTP session. Each request opens its own connection: gunicorn closes a
    keep-alive connection idle for 2 s, and a request sent on one just as it closes is reset
    (a transport race between client and server, not an answer of the service)."""
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Connection": "close"})
    return session


def _utc_naive(value):
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def check(db, now):
    """Compare the audit trail with the task and timer projections; returns (problems, counts).

    ``now`` is the simulated clock at the end: no timer due by then may still wait."""
    problems = []
    with db.read() as session:
        tasks = {t.id: t for t in session.scalars(select(HumanTask))}
        records = list(session.scalars(select(AuditRecord).where(
            AuditRecord.kind.in_(("task_completed", "timer_fired"))).order_by(AuditRecord.seq)))
        timers = list(session.scalars(select(Timer)))
    completed = {task_id: t for task_id, t in tasks.items() if t.state == "completed"}
    completions = [r for r in records if r.kind == "task_completed"]
    per_task = collections.Counter(r.data["task_id"] for r in completions)
    problems += [f"task {task_id} has {n} task_completed records" for task_id, n in per_task.items() if n > 1]
    problems += [f"completed task {task_id} ({t.key}, item {t.business_key}) has no task_completed record"
                 for task_id, t in completed.items() if task_id not in per_task]
    for record in completions:
        task_id = record.data["task_id"]
        task = completed.get(task_id)
        if task is None:
            state = tasks[task_id].state if task_id in tasks else "absent"
            problems.append(f"audit seq {record.seq} completes task {task_id}, which is {state}")
            continue
        said = (record.instance_id, record.business_key, record.data["task"], record.actor)
        done = (task.instance_id, task.business_key, task.key, task.completed_by)
        if said != done:
            problems.append(f"audit seq {record.seq} disagrees with task {task_id}: {said} ≠ {done}")
    # Per item: the audit history's completions are the task history's.
    audit_items = collections.Counter(r.business_key for r in completions)
    task_items = collections.Counter(t.business_key for t in completed.values())
    problems += [f"item {key}: {audit_items[key]} task_completed records, {task_items[key]} completed tasks"
                 for key in set(audit_items) | set(task_items) if audit_items[key] != task_items[key]]

    fired = [t for t in timers if t.state == "fired"]
    firings = collections.Counter((r.instance_id, r.data["task"], _utc_naive(r.data["due"]))
                                  for r in records if r.kind == "timer_fired")
    problems += [f"timer {task} of instance {instance_id} due {due:%Y-%m-%d %H:%M:%S} UTC fired {n} times"
                 for (instance_id, task, due), n in firings.items() if n > 1]
    problems += [f"fired timer {t.id} ({t.task_key} of {t.instance_id}) has no timer_fired record"
                 for t in fired if (t.instance_id, t.task_key, _utc_naive(t.fire_at)) not in firings]
    rows = {(t.instance_id, t.task_key) for t in fired}
    problems += [f"timer_fired record of {task} of instance {instance_id} matches no fired timer row"
                 for instance_id, task, _due in firings if (instance_id, task) not in rows]
    end = _utc_naive(now)
    problems += [f"timer {t.id} ({t.task_key}) is {t.state}, due {t.fire_at}"
                 for t in timers if t.state == "incident"
                 or (t.state == "waiting" and _utc_naive(t.fire_at) < end)]
    counts = {"tasks_completed": len(completed), "task_completed_records": len(completions),
              "timers_fired": len(fired), "timer_fired_records": sum(firings.values()),
              "timers": dict(collections.Counter(t.state for t in timers)),
              "fired_by_key": dict(collections.Counter(t.task_key for t in fired)),
              # lease_owner is host:pid:random; a row fired under another row's claim (the
              # unit of work fires every due timer of its instance) keeps it empty
              "claimed_by_pid": collections.Counter(int(t.lease_owner.split(":")[1]) if t.lease_owner
                                                    else None for t in fired)}
    return problems, counts


def has_outbox(db):
    with db.read() as session:
        return sa.inspect(session.connection()).has_table("outbox")


def check_outbox(db, webhook):
    """OUTBOX CHECK (issue 14, part 2): skipped, returning None, ONLY when the database has no
    ``outbox`` table; otherwise ``(problems, counts)``.

    Written against the merged outbox (engine/outbox.py: rows ``pending | done | incident``;
    a webhook push is a ``push_notifications`` row with ``{"channel": "webhook", "message":
    {"id": notification id, ...}}``). Every row must be done (none pending or an incident),
    and every webhook push row's notification must have reached the harness's receiver.
    Delivery is at least once (a dispatcher killed after sending and before marking its row
    done sends again; the receiver dedupes by id), so a repeat is counted, not failed. The
    periodic jobs' notifications (workflows/supervision/periodic.py) write no push row, so
    they are not expected at the receiver."""
    if not has_outbox(db):
        return None
    with db.read() as session:
        rows = session.execute(sa.text("SELECT kind, state, payload FROM outbox")).all()
    states = collections.Counter(state for _kind, state, _payload in rows)
    pushed = set()
    for kind, _state, payload in rows:
        payload = json.loads(payload) if isinstance(payload, str) else payload
        if kind == "push_notifications" and payload.get("channel") == "webhook":
            pushed.add(payload["message"]["id"])
    problems = [f"{n} outbox rows are {state}" for state, n in states.items() if state != "done"]
    missing = pushed - set(webhook.received)
    if missing:
        problems.append(f"{len(missing)} notification pushes done but never received, "
                        f"e.g. {sorted(missing)[:5]}")
    return problems, {"rows": dict(states),
                      "kinds": dict(collections.Counter(kind for kind, _s, _p in rows)),
                      "webhook_pushes": len(pushed)}


def _settle_outbox(db):
    """Wait (bounded) until no outbox row is pending: a killed worker's leases lapse, and
    failed pushes wait out their back-off, before a scheduler runs them."""
    end = time.monotonic() + GUARD
    while has_outbox(db) and time.monotonic() < end:
        with db.read() as session:
            if not session.scalar(sa.text("SELECT count(*) FROM outbox WHERE state = 'pending'")):
                return
        time.sleep(0.1)


def run(url, workdir, clients, register_weeks, drain_weeks, log=print):
    """Run the soak on the (migrated, empty) PostgreSQL database ``url``; returns the figures
    and ``problems``, the list of every invariant broken (empty when nothing was lost)."""
    webhook = Webhook()
    deployment = Deployment(url, workdir, webhook.url)
    began = time.monotonic()
    try:
        deployment.init()
        departments, people = organisation(clients)
        seed_organisation(url, departments, people)
        deployment.start()
        figures = _drive(deployment, url, clients, register_weeks, drain_weeks, webhook, log)
    finally:
        deployment.stop()
        webhook.stop()
    figures["seconds"] = round(time.monotonic() - began, 1)
    return figures


def _drive(deployment, url, clients, register_weeks, drain_weeks, webhook, log):
    base, tally, registered = deployment.base, Tally(), {}
    tokens = {}
    for username in organisation(clients)[1]:
        response = requests.post(base + "/api/v1/auth/token",
                                 json={"username": username, "password": PASSWORD}, timeout=GUARD)
        response.raise_for_status()
        tokens[username] = response.json()["token"]
    admin = _session(tokens["admin"])
    desks = [Client(k, base, tokens, tally, registered) for k in range(clients)]
    db = Database(url)
    register_days, last_day = 7 * register_weeks, 7 * (register_weeks + drain_weeks)
    kill_days = [register_days // 3, 2 * register_days // 3]
    clock = SimulatedClock(START, DatabaseClockStore(db))
    kills, holding, restart_on, trying = 0, 0, None, 0
    today = dt.datetime.fromisoformat(START)
    day = 0
    try:
        for day in range(last_day):
            morning = dt.datetime.fromisoformat(START) + dt.timedelta(days=day)
            today = morning + dt.timedelta(seconds=1 if day else 0)  # the clock as the night left it
            if restart_on == day:
                deployment.start_worker()
                restart_on = None
            if day in kill_days:
                trying = KILL_TRIES
            # Office hours: the clients work while the admin moves the clock to 21:00.
            register = day < register_days and today.weekday() < 5
            threads = [threading.Thread(target=desk.day, args=(today, register and (day + k) % SPACING == 0))
                       for k, desk in enumerate(desks)]
            threads.append(threading.Thread(target=_advance, args=(
                admin, base, tally, morning + dt.timedelta(hours=12))))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            # The night: the shared clock moves on to 09:00:01 (this moves the clock row and
            # fires nothing): the worker alone fires what falls due (reminders are due at the
            # start of a working day, 09:00; due means strictly before now), or is killed while
            # at it.
            clock.advance(to=morning + dt.timedelta(days=1, seconds=1))
            if deployment.worker is not None:
                leased = _night(db, clock, deployment.worker.pid, kill=bool(trying))
                if trying and (leased or trying == 1):
                    deployment.kill_worker()
                    kills, holding = kills + 1, holding + bool(leased)
                    restart_on, trying = day + 1, 0
                    log(f"  day {day}: worker killed ({leased} timer rows leased to it)")
                elif trying:
                    trying -= 1
            if day >= register_days and restart_on is None and _all_done(db):
                break
        if deployment.worker is None:
            deployment.start_worker()
        verify = admin.get(base + "/api/v1/audit/verify", timeout=GUARD)
        tally.count("GET", "/api/v1/audit/verify", verify.status_code, verify.text)
        now = admin.get(base + "/api/v1/clock", timeout=GUARD).json()["now"]
        problems, counts = check(db, now)
        from engine.audit import verify as engine_verify
        with db.stream() as session:
            engine_result = engine_verify(session)
        _settle_outbox(db)
        outbox = check_outbox(db, webhook)
        with db.read() as session:
            notifications = dict(session.execute(sa.text("SELECT id, kind FROM notification")).all())
            open_items = session.scalar(sa.text("SELECT count(*) FROM item WHERE status = 'open'"))
            open_tasks = [(t.key, t.business_key, t.assignee or t.candidate_user or t.candidate_role,
                           t.candidate_department, str(t.due_at)) for t in session.scalars(
                select(HumanTask).where(HumanTask.state == "open"))]
            job_runs = session.scalar(select(func.count()).select_from(JobRun))
    finally:
        db.dispose()
    api_verify = verify.json() if verify.status_code == 200 else {"ok": False}
    if not api_verify.get("ok"):
        problems.append(f"GET /api/v1/audit/verify: {api_verify}")
    if not engine_result.get("ok"):
        problems.append(f"engine audit verify: {engine_result}")
    if outbox is not None:
        problems += outbox[0]
    problems += tally.failures[:20]
    if len(tally.failures) > 20:
        problems.append(f"... {len(tally.failures) - 20} more failed requests")
    if open_items or open_tasks:
        problems.append(f"not finished after {day + 1} simulated days: {open_items} items and "
                        f"{len(open_tasks)} tasks still open: {open_tasks[:10]}")
    if kills < 2:
        problems.append(f"the worker was killed {kills} times, not 2")
    if tally.unhandled:
        problems.append(f"tasks the clients do not know how to work: {dict(tally.unhandled)}")
    pushes = sum(webhook.received.values())
    claimed = counts.pop("claimed_by_pid")
    workers = set(deployment.worker_pids)
    counts["fired_claimed_by"] = {
        "worker": sum(n for pid, n in claimed.items() if pid in workers),
        "serve": sum(n for pid, n in claimed.items() if pid is not None and pid not in workers),
        "with_another_row": claimed[None]}
    return {
        "clients": clients, "simulated_days": day + 1, "items": len(registered),
        "completions": tally.completions, **counts,
        "late_on_purpose": len(tally.late), "periodic_job_runs": job_runs,
        "requests": sum(tally.statuses.values()),
        "statuses": dict(sorted(tally.statuses.items())), "conflicts_409": tally.statuses[409],
        "failures": len(tally.failures), "kills": kills, "kills_holding_leases": holding,
        "worker_runs": deployment.worker_runs, "notifications": len(notifications),
        "pushes_received": pushes, "pushes_duplicated": pushes - len(webhook.received),
        "notifications_not_pushed": dict(collections.Counter(
            kind for id_, kind in notifications.items() if id_ not in webhook.received)),
        "outbox": "not present (check skipped)" if outbox is None else outbox[1],
        "audit_verify": api_verify, "problems": problems,
    }


def _advance(admin, base, tally, to):
    """The admin moves the shared clock to ``to`` (the evening); the call returns once every
    timer due by then has fired (waiting out a killed worker's leases)."""
    try:
        response = admin.post(base + "/api/v1/clock/advance", json={"to": to.isoformat()},
                              timeout=GUARD)
    except requests.RequestException as err:
        tally.count("POST", "/api/v1/clock/advance", 0, repr(err))
        return
    tally.count("POST", "/api/v1/clock/advance", response.status_code, response.text)


def _due_waiting(session, clock):
    return session.scalar(select(func.count()).select_from(Timer).where(
        Timer.state == "waiting", Timer.fire_at < clock.now()))


def _night(db, clock, pid, kill):
    """Wait for worker ``pid`` to fire every due timer; returns 0. With ``kill``, return as
    soon as rows are leased to it (their count), or 0 once nothing due is left."""
    pattern = f"%:{pid}:%"
    end = time.monotonic() + GUARD
    while True:
        with db.read() as session:
            leased = session.scalar(select(func.count()).select_from(Timer).where(
                Timer.state == "waiting", Timer.lease_owner.like(pattern))) if kill else 0
            due = _due_waiting(session, clock)
        if leased or not due:
            return leased
        if time.monotonic() > end:
            raise RuntimeError(f"the worker left {due} due timers waiting for {GUARD} s")
        time.sleep(0.02)


def _all_done(db):
    with db.read() as session:
        return not (session.scalar(sa.text("SELECT count(*) FROM item WHERE status = 'open'"))
                    or session.scalar(select(func.count()).select_from(HumanTask).where(
                        HumanTask.state == "open")))


def report(figures):
    """The figures as plain lines (for the closing note)."""
    lines = [f"{key}: {value}" for key, value in figures.items() if key != "problems"]
    lines.append(f"problems: {len(figures['problems'])}")
    lines += [f"  - {problem}" for problem in figures["problems"]]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=LONG["clients"])
    parser.add_argument("--register-weeks", type=int, default=LONG["register_weeks"],
                        help="simulated weeks in which items are registered")
    parser.add_argument("--drain-weeks", type=int, default=LONG["drain_weeks"],
                        help="simulated weeks at most, after that, for every item to close")
    args = parser.parse_args(argv)
    if args.clients < 2 or args.register_weeks < 1 or args.drain_weeks < 1:
        parser.error("--clients must be at least 2, the weeks at least 1")
    from bench.common import Scratch
    scratch = Scratch()
    try:
        url = scratch.postgres("soak")
        figures = run(url, scratch.dir, args.clients, args.register_weeks, args.drain_weeks)
    finally:
        scratch.close()
    print(report(figures))
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
