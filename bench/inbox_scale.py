"""Benchmark 3 — inbox and item lists at scale.

Workload: ``items`` supervision items (100,000 at scale 1) with 10 ``human_task`` rows each
(1,000,000), bulk-loaded with COPY (PostgreSQL) or executemany (SQLite), not through the
engine. Distributions: 60 departments with Zipf-like sizes; items created over two years,
30 % open / 65 % closed / 5 % cancelled; every open item has one open step — 70 % with its
department (10 % of those claimed by a colleague), 15 % with its leader, 15 % with the
secretariat — due from 5 days overdue to 10 days ahead; 0–3 co-departments per item.
Then, against a real ``duban serve`` on that database, each query is called R times in a row
(one client, latency not throughput): the inbox of a staff user of the largest department
(GET /api/v1/tasks), item lists with filters (GET /api/v1/items?department=&light=&status=),
and the cockpit (驾驶舱, GET /api/v1/cockpit: every figure an aggregate over all items, for the
secretariat, or over a leader's scope).
Baseline, same server, same run: GET /api/v1/me. The SQL each endpoint runs is captured
in-process and its EXPLAIN (ANALYZE) plan is stored with the results.
"""
import datetime as dt
import json
import random
import sqlite3
import time
import uuid

import sqlalchemy as sa
from sqlalchemy import event

from api.app import build_engine
from bench.common import Result, engine_config, latency_summary, ratio
from bench.server import Serve, seed_organisation
from engine.actor import Actor
from engine.db import Database
from workflows.supervision import cockpit, queries, reports

TARGET_P95_MS = 20
# The cockpit reads every open item's light, a month's ranking and 12 weeks of items in one
# request (about 15 aggregate statements): a page leaders open a few times a day, not per click.
TARGET_COCKPIT_P95_MS = 150
DEPARTMENTS = [f"d{i:02d}" for i in range(60)]
LEADERS = [f"lead{i:02d}" for i in range(20)]
STEPS = [  # (key, title, lane, kind) in loop order; kind = who it is routed to
    ("draft_plan", "制定工作计划", "承办部门", "dept"), ("approve_plan", "审定工作计划", "分管领导", "leader"),
    ("file_plan", "备案", "秘书科", "sec"), ("report_progress", "进度反馈", "承办部门", "dept"),
    ("recheck", "复查核实", "秘书科", "sec"), ("confirm_close", "办结审核", "分管领导", "leader")]
TASKS_PER_ITEM = 10
UTC = dt.timezone.utc

ITEM_COLUMNS = ("id", "code", "year", "seq", "title", "basis", "department", "co_departments", "leader",
                "deadline", "requirements", "status", "instance_id", "created_by", "created_at",
                "closed_at", "rating")
INSTANCE_COLUMNS = ("id", "definition_id", "definition_key", "definition_version", "business_key", "status",
                    "state", "variables", "started_by", "started_at", "updated_at", "ended_at", "version")
TASK_COLUMNS = ("id", "instance_id", "definition_id", "business_key", "key", "title", "lane",
                "candidate_role", "candidate_department", "candidate_user", "assignee", "started_by",
                "state", "created_at", "due_at", "completed_at", "completed_by")
ITEM_DEPT_COLUMNS = ("item_id", "department", "role", "status", "created_at", "code")


def ts(moment):
    """Naive UTC text, the form UTCDateTime stores on both databases."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if moment else None


class Generator:
    def __init__(self, items, now, definition_id, seed=7):
        self.items, self.now, self.definition_id = items, now, definition_id
        self.rng = random.Random(seed)
        weights = [1 / (i + 1) ** 0.8 for i in range(len(DEPARTMENTS))]
        self.dept_weights = weights

    def uid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def rows(self):
        """Yield (table, row) in an order the foreign keys accept per table batch."""
        rng, now = self.rng, self.now
        items, instances, tasks, item_depts = [], [], [], []
        span = 730 * 86400
        created = sorted(now - dt.timedelta(seconds=rng.random() * span) for _ in range(self.items))
        seq_by_year = {}
        for n in range(self.items):
            item_id, instance_id = self.uid(), self.uid()
            created_at = created[n]
            year = created_at.astimezone(dt.timezone(dt.timedelta(hours=8))).year
            seq = seq_by_year[year] = seq_by_year.get(year, 0) + 1
            dept = rng.choices(DEPARTMENTS, self.dept_weights)[0]
            co = rng.sample([d for d in DEPARTMENTS if d != dept], rng.choices([0, 1, 2, 3], [50, 30, 15, 5])[0])
            leader = rng.choice(LEADERS)
            roll = rng.random()
            age_days = (now - created_at).days
            status = "cancelled" if roll < 0.05 else ("open" if roll < 0.05 + (0.55 if age_days < 120 else 0.22)
                                                      else "closed")
            closed_at = created_at + dt.timedelta(days=rng.uniform(10, max(11, age_days))) if status != "open" else None
            if closed_at and closed_at > now:
                closed_at = now
            code = f"DB-{year}-{seq:05d}"
            items.append((item_id, code, year, seq, f"督办事项 {n}", "meeting_decision", dept,
                          json.dumps(co), leader, (created_at + dt.timedelta(days=60)).date().isoformat(),
                          "按期反馈", status, instance_id, "sec", ts(created_at), ts(closed_at),
                          "good" if status == "closed" else None))
            instances.append((instance_id, self.definition_id, "supervision", 1, item_id,
                              {"open": "running", "closed": "completed"}.get(status, "cancelled"), "{}", "{}",
                              "sec", ts(created_at), ts(closed_at or created_at), ts(closed_at), 1))
            item_depts.append((item_id, dept, "lead", status, ts(created_at), code))
            item_depts.extend((item_id, other, "co", status, ts(created_at), code) for other in co)
            tasks.extend(self.tasks_of(item_id, instance_id, dept, leader, created_at, closed_at, status))
        return items, instances, item_depts, tasks

    def tasks_of(self, item_id, instance_id, dept, leader, created_at, closed_at, status):
        rng, now = self.rng, self.now
        end = closed_at or now
        step_gap = max(60.0, (end - created_at).total_seconds() / TASKS_PER_ITEM)
        for i in range(TASKS_PER_ITEM):
            key, title, lane, kind = STEPS[min(i, 3) if i < 9 else 5] if status != "open" else (
                STEPS[[0, 1, 2, 3, 3, 3, 3, 3, 3][i]] if i < 9 else self.open_step())
            created = created_at + dt.timedelta(seconds=step_gap * i)
            last_open = status == "open" and i == TASKS_PER_ITEM - 1
            state = "open" if last_open else ("cancelled" if status == "cancelled" and i == TASKS_PER_ITEM - 1
                                              else "completed")
            due = created + dt.timedelta(days=rng.uniform(1, 7))
            if last_open:
                created = min(created, now - dt.timedelta(hours=1))
                due = now + dt.timedelta(hours=rng.choice([rng.uniform(-120, 0)] * 15 + [rng.uniform(0, 30)] * 10
                                                          + [rng.uniform(30, 240)] * 75))
            role = {"dept": "staff", "leader": None, "sec": "secretariat"}[kind]
            yield (self.uid(), instance_id, self.definition_id, item_id, key, title, lane, role,
                   dept if kind == "dept" else None, leader if kind == "leader" else None,
                   (f"staff_{dept}_b" if kind == "dept" and last_open and rng.random() < 0.1 else None),
                   "sec", state, ts(created), ts(due),
                   None if last_open else ts(created + dt.timedelta(seconds=step_gap * 0.8)),
                   None if last_open else (f"staff_{dept}" if kind == "dept" else leader if kind == "leader" else "sec"))

    def open_step(self):
        roll = self.rng.random()
        if roll < 0.70:
            return STEPS[self.rng.choice([0, 3, 3, 3])]
        return STEPS[self.rng.choice([1, 5])] if roll < 0.85 else STEPS[self.rng.choice([2, 4])]


def _copy(connection, table, columns, rows):
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def load(url, items, now, log=print):
    """Bulk-load the generated rows; returns seconds spent generating and loading."""
    db = Database(url)
    with db.read() as session:
        definition_id = session.execute(sa.text(
            "SELECT id FROM definition WHERE key = 'supervision' ORDER BY version DESC")).scalar()
    db.dispose()
    start = time.perf_counter()
    item_rows, instance_rows, dept_rows, task_rows = Generator(items, now, definition_id).rows()
    generated = time.perf_counter() - start
    tables = (("instance", INSTANCE_COLUMNS, instance_rows), ("item", ITEM_COLUMNS, item_rows),
              ("item_department", ITEM_DEPT_COLUMNS, dept_rows), ("human_task", TASK_COLUMNS, task_rows))
    if url.startswith("postgresql"):
        import psycopg
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
            for table, columns, rows in tables:
                _copy(connection, table, columns, rows)
            connection.commit()
            connection.autocommit = True
            connection.execute("VACUUM ANALYZE")
    else:
        connection = sqlite3.connect(sa.engine.make_url(url).database)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        with connection:
            for table, columns, rows in tables:
                connection.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                       f"({', '.join('?' * len(columns))})", rows)
        connection.execute("ANALYZE")
        connection.close()
    loaded = time.perf_counter() - start - generated
    log(f"  {url.split(':')[0]}: generated {len(task_rows)} tasks in {generated:.1f} s, loaded in {loaded:.1f} s")
    return {"items": len(item_rows), "human_tasks": len(task_rows), "item_departments": len(dept_rows),
            "generate_s": round(generated, 1), "load_s": round(loaded, 1)}


def organisation():
    departments = {"office": "政府办公室", **{code: f"部门{code}" for code in DEPARTMENTS}}
    users = {"sec": ("office", ["secretariat"]), "staff_d00": ("d00", ["staff"]),
             "staff_d05": ("d05", ["staff"]), **{leader: ("office", ["leader"]) for leader in LEADERS}}
    return departments, users


QUERIES = (  # (label, user, path, params)
    ("inbox, staff of largest department", "staff_d00", "/api/v1/tasks", {}),
    ("inbox, staff of a mid-size department", "staff_d05", "/api/v1/tasks", {}),
    ("inbox, a leader", "lead03", "/api/v1/tasks", {}),
    ("items, staff: status=open", "staff_d00", "/api/v1/items", {"status": "open"}),
    ("items, staff: status=open&light=red", "staff_d00", "/api/v1/items", {"status": "open", "light": "red"}),
    ("items, secretariat: department=d00&status=open&light=red", "sec", "/api/v1/items",
     {"department": "d00", "status": "open", "light": "red"}),
    ("items, secretariat: department=d05&light=yellow", "sec", "/api/v1/items",
     {"department": "d05", "light": "yellow"}),
    ("items, secretariat: status=open (all departments)", "sec", "/api/v1/items", {"status": "open"}),
    ("cockpit, secretariat (all items)", "sec", "/api/v1/cockpit", {}),
    ("cockpit, a leader", "lead03", "/api/v1/cockpit", {}),
)


def target_ms(label):
    return TARGET_COCKPIT_P95_MS if label.startswith("cockpit") else TARGET_P95_MS


def explain(url, now):
    """EXPLAIN (ANALYZE) of the SQL the inbox and item list run, captured from the real functions."""
    engine = build_engine(engine_config(url, clock={"mode": "system"}))
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "EXPLAIN" not in statement:
            captured.append((statement, parameters))

    plans = {}
    event.listen(engine.db.engine, "before_cursor_execute", capture)
    try:
        staff = Actor("staff_d00", frozenset({"staff"}), "d00")
        sec = Actor("sec", frozenset({"secretariat"}), "office")
        calls = {
            "inbox (staff d00)": lambda s: (engine.tasks.inbox(staff), engine.tasks.count_overdue(staff, now)),
            "items (staff d00, status=open, light=red)": lambda s: queries.list_items(
                s, staff, engine.calendar, now, status="open", light="red"),
            "items (secretariat, department=d00, status=open, light=red)": lambda s: queries.list_items(
                s, sec, engine.calendar, now, status="open", department="d00", light="red"),
            "items (secretariat, department=d05, light=yellow)": lambda s: queries.list_items(
                s, sec, engine.calendar, now, department="d05", light="yellow"),
            "items (staff d00, status=open)": lambda s: queries.list_items(
                s, staff, engine.calendar, now, status="open"),
            "cockpit (secretariat)": lambda s: cockpit.figures(
                s, sec, engine.calendar, now, engine.registry.directory.departments(s),
                reports.ranked_departments(s, engine.registry.directory)),
        }
        for label, call in calls.items():
            captured.clear()
            with engine.db.read() as session:
                call(session)
            statements = list(captured)
            plans[label] = []
            for statement, parameters in statements:
                with engine.db.engine.connect() as connection:
                    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if engine.db.is_sqlite is False else "EXPLAIN QUERY PLAN "
                    rows = connection.exec_driver_sql(prefix + statement, parameters).all()
                lines = [str(r[0]) if len(r) == 1 else " | ".join(str(v) for v in r) for r in rows]
                plans[label].append({"sql": " ".join(statement.split())[:600], "plan": lines[:60]})
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", capture)
        engine.close()
    return plans


def measure(server, tokens, repeats):
    sessions = {user: server.session(token) for user, token in tokens.items()}
    out = {}

    def timed(user, path, params):
        durations = []
        for _ in range(repeats):
            start = time.perf_counter()
            response = sessions[user].get(server.base + path, params=params, timeout=60)
            durations.append(time.perf_counter() - start)
            response.raise_for_status()
        return durations, response.json()

    me, _ = timed("staff_d00", "/api/v1/me", {})
    out["baseline"] = latency_summary(me)
    for label, user, path, params in QUERIES:
        durations, body = timed(user, path, params)
        listed = body.get("items")
        out[label] = {**latency_summary(durations), "total": body.get("total"),
                      "returned": len(listed) if isinstance(listed, list) else None}
    return out


def run_backend(scratch, backend, items, repeats, log=print):
    url = scratch.postgres("inbox") if backend == "postgresql" else scratch.sqlite("inbox", migrate=False)
    server = Serve(scratch.dir, url, f"inbox_{backend}").init()
    departments, users = organisation()
    seed_organisation(url, departments, users)
    now = dt.datetime.now(UTC)
    loaded = load(url, items, now, log=log)
    with server.start():
        tokens = {user: server.login(user) for user in ("staff_d00", "staff_d05", "lead03", "sec")}
        measure(server, tokens, 2)  # warm up caches and connections
        results = measure(server, tokens, repeats)
    plans = explain(url, now)
    scratch.drop(url)
    return {"backend": backend, "data": loaded, "latency": results, "plans": plans}


def run(scratch, items=100_000, repeats=50, backends=("postgresql", "sqlite"), log=print):
    runs = [run_backend(scratch, backend, items, repeats, log=log) for backend in backends]
    result = Result(
        "inbox_scale", "Inbox and item lists at scale",
        f"{items} items, {items * TASKS_PER_ITEM} human_task rows, 60 departments; each query "
        f"{repeats}× in a row over HTTP against `duban serve`",
        {"label": "GET /api/v1/me on the same server (per database)", "value": None, "unit": "ms p50"})
    for out in runs:
        name = "PostgreSQL" if out["backend"] == "postgresql" else "SQLite"
        base = out["latency"]["baseline"]
        result.row(f"{name}: data", out["data"]["human_tasks"], "human_task rows", None, **out["data"])
        result.row(f"{name}: GET /me (baseline)", base["p50_ms"], "ms p50", 1.0, p95_ms=base["p95_ms"])
        for label, *_ in QUERIES:
            stats = out["latency"][label]
            result.row(f"{name}: {label}", stats["p50_ms"], "ms p50", ratio(stats["p50_ms"], base["p50_ms"]),
                       p95_ms=stats["p95_ms"], total=stats["total"], returned=stats["returned"])
            limit = target_ms(label)
            result.target(f"{name}: {label} p95 ≤ {limit} ms", f"<= {limit}", stats["p95_ms"],
                          stats["p95_ms"] <= limit)
        result.notes.append({f"{name} EXPLAIN plans": out["plans"]})
    return result
