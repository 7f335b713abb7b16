"""Observability: ``GET /metrics`` (names, counters that move, who may read it), request ids in
responses and audit records, JSON log lines, and the metrics of two gunicorn processes added up.
"""
import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from api.observability import JsonFormatter, configure_logging
from engine.models import AuditRecord
from tests.conftest import BOTH_DATABASES, START
from tests.helpers import ITEM, PLAN
from tests.test_cli import free_port, wait_for

REPO = Path(__file__).resolve().parent.parent
DUBAN = str(Path(sys.executable).parent / "duban")
SCRAPER_TOKEN = "scraper-7c1e0f4b2a9d"
NAMES = ("duban_http_request_seconds", "duban_http_responses", "duban_commands", "duban_unit_of_work_seconds",
         "duban_timer_lag_seconds", "duban_timers_waiting", "duban_timers_overdue", "duban_timers_overdue_seconds",
         "duban_outbox_depth", "duban_incidents", "duban_db_pool_checked_out", "duban_db_pool_size",
         "duban_database_up")


def samples(text):
    """``{(sample name, frozenset(labels.items())): value}`` of a Prometheus text exposition."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())), 0.0)


def scrape(client):
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def text_when_up(url, deadline=60):
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.read().decode()
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < end, f"{url} never answered"
            time.sleep(0.2)


def open_task(client, key, item_id):
    tasks = client.get("/api/v1/tasks", params={"item_id": item_id}).json()["items"]
    return next(task for task in tasks if task["key"] == key)


@pytest.fixture
def metrics_server(server_factory):
    return server_factory(metrics={"token": SCRAPER_TOKEN})


@BOTH_DATABASES
def test_names_present_and_counters_move_after_a_completion(metrics_server):
    admin, sec, zhang = (metrics_server.login(user) for user in ("admin", "sec", "zhang"))
    families = {family.name for family in text_string_to_metric_families(scrape(admin))}
    assert set(NAMES) <= families, set(NAMES) - families

    item = sec.post("/api/v1/items", ITEM).json()
    task = open_task(zhang, "draft_plan", item["id"])
    before = samples(scrape(admin))
    invalid = zhang.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {}})
    assert invalid.status_code == 400  # the form is checked before any unit of work: no command
    refused = admin.post(f"/api/v1/instances/{item['instance_id']}/retry")  # it is not in error
    assert refused.status_code == 409
    done = zhang.post(f"/api/v1/tasks/{task['id']}/complete", {"data": PLAN})
    assert done.status_code == 200, done.text
    after = samples(scrape(admin))

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("duban_commands_total", command="complete_task", outcome="ok") == 1
    assert moved("duban_commands_total", command="complete_task", outcome="refused") == 0
    assert moved("duban_commands_total", command="retry", outcome="refused") == 1
    assert moved("duban_unit_of_work_seconds_count", phase="save") == 1  # the refusal never loaded
    assert moved("duban_unit_of_work_seconds_count", phase="run") == 1
    route = "/api/v1/tasks/<task_id>/complete"
    assert moved("duban_http_responses_total", method="POST", route=route, status="200") == 1
    assert moved("duban_http_responses_total", method="POST", route=route, status="400") == 1
    assert moved("duban_http_request_seconds_count", method="POST", route=route) == 2
    assert value(after, "duban_database_up") == 1
    assert value(before, "duban_timers_waiting") >= 2  # the plan step's 催办 and 逾期 timers
    assert value(after, "duban_timers_overdue") == 0
    assert value(after, "duban_incidents", kind="instance") == 0
    pool = "write" if metrics_server.engine.db.is_sqlite else "main"
    assert value(after, "duban_db_pool_size", pool=pool) >= 5


def test_timer_lag_and_overdue_timers(metrics_server):
    admin, sec = metrics_server.login("admin"), metrics_server.login("sec")
    sec.post("/api/v1/items", ITEM)
    before = samples(scrape(admin))
    assert admin.post("/api/v1/clock/advance", {"seconds": 4 * 86400}).status_code == 200
    after = samples(scrape(admin))
    fired = value(after, "duban_timer_lag_seconds_count") - value(before, "duban_timer_lag_seconds_count")
    assert fired >= 2  # 催办 and 逾期 of the plan step
    assert value(after, "duban_commands_total", command="fire_timers", outcome="ok") >= 1
    assert value(after, "duban_timers_overdue") == 0  # advancing fires what falls due


def test_who_may_read_the_metrics(metrics_server):
    anonymous = metrics_server.anonymous()
    refused = anonymous.get("/metrics")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    wrong = anonymous.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    staff = metrics_server.login("zhang").get("/metrics")
    assert staff.status_code == 403 and staff.json()["error"]["code"] == "forbidden"
    scraper = anonymous.get("/metrics", headers={"Authorization": f"Bearer {SCRAPER_TOKEN}"})
    assert scraper.status_code == 200 and "# TYPE duban_commands_total counter" in scraper.text
    # An admin's page session (the signed cookie holding a session token) reads it too.
    from api.auth import open_session

    with metrics_server.app.app_context():
        token, _ = open_session(metrics_server.engine, "admin", via="web")
    with metrics_server.app.test_client() as browser:
        assert browser.get("/metrics").status_code == 401
        with browser.session_transaction() as cookie:
            cookie["token"] = token
        assert browser.get("/metrics").status_code == 200


def test_no_scraper_token_means_admins_only(server):
    assert server.anonymous().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    assert server.login("admin").get("/metrics").status_code == 200


def test_request_id_in_the_response_and_the_audit_records(server):
    sec, zhang, admin = server.login("sec"), server.login("zhang"), server.login("admin")
    item = sec.post("/api/v1/items", ITEM).json()
    task = open_task(zhang, "draft_plan", item["id"])
    done = zhang.post(f"/api/v1/tasks/{task['id']}/complete", {"data": PLAN},
                      headers={"X-Request-Id": "req-42.a:b_c"})
    assert done.status_code == 200 and done.headers["X-Request-Id"] == "req-42.a:b_c"
    with server.engine.db.read() as session:
        records = list(session.scalars(select(AuditRecord).where(AuditRecord.data["request_id"].as_string()
                                                                 == "req-42.a:b_c")))
    assert {record.kind for record in records} >= {"task_completed"}
    assert all(record.instance_id == item["instance_id"] for record in records)
    assert admin.get("/api/v1/audit/verify").json()["ok"] is True

    for unsafe in ("x" * 65, "a b", "<script>", ""):
        answered = server.anonymous().get("/healthz", headers={"X-Request-Id": unsafe})
        generated = answered.headers["X-Request-Id"]
        assert generated != unsafe and len(generated) == 32 and generated.isalnum()
    assert server.anonymous().get("/nowhere").headers["X-Request-Id"]  # a 404 page has one too


def test_json_log_lines(server):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    requests_log = logging.getLogger("duban.requests")
    requests_log.addHandler(handler)
    level = requests_log.level
    requests_log.setLevel(logging.INFO)
    try:
        answered = server.anonymous().get("/healthz", headers={"X-Request-Id": "log-line-1"})
        time.sleep(0.05)
    finally:
        requests_log.removeHandler(handler)
        requests_log.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    line = next(line for line in lines if line["request_id"] == "log-line-1")
    assert answered.status_code == 200
    assert line["method"] == "GET" and line["path"] == "/healthz" and line["status"] == 200
    assert line["level"] == "INFO" and line["logger"] == "duban.requests" and line["time"].endswith("+00:00")
    assert isinstance(line["duration_ms"], float) and "GET /healthz 200" in line["message"]


def test_log_format_is_checked():
    with pytest.raises(ValueError, match="json"):
        configure_logging({"logging": {"format": "xml"}})
    configure_logging({"logging": {"format": "text"}})  # changes nothing


def test_two_gunicorn_processes_add_up(tmp_path, database_url):
    port, metrics_port = free_port(), free_port()
    config = tmp_path / "serve.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n'
        f'[server]\nhost = "127.0.0.1"\nport = {port}\nthreads = 2\nprocesses = 2\n'
        f'[clock]\nmode = "simulated"\nstart = "{START}"\n[scheduler]\nin_process = false\n'
        f'[metrics]\ntoken = "{SCRAPER_TOKEN}"\nbind = "127.0.0.1:{metrics_port}"\n[logging]\nformat = "json"\n',
        encoding="utf-8")
    env = {**os.environ, "DUBAN_CONFIG": str(config), "PYTHONPATH": str(REPO)}  # this checkout's code
    env.pop("DUBAN_DATABASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = open(tmp_path / "serve.log", "w+", encoding="utf-8")
    process = subprocess.Popen([DUBAN, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", deadline=60)
        for _ in range(20):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30).read()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                         headers={"Authorization": f"Bearer {SCRAPER_TOKEN}"})
        through_workers = samples(urllib.request.urlopen(request, timeout=30).read().decode())
        listener = samples(urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics",
                                                  timeout=30).read().decode())
        for found in (through_workers, listener):
            # 21 health checks (wait_for's first one that answered, then 20), whichever worker answered
            assert value(found, "duban_http_responses_total", method="GET", route="/healthz", status="200") == 21
            # both workers' pools, added up (5 connections each for SQLite's reader)
            assert value(found, "duban_db_pool_size", pool="read") == 10
            assert value(found, "duban_database_up") == 1
        log.seek(0)
        lines = [json.loads(line) for line in log.read().splitlines() if line.startswith("{")]
        assert any(line.get("path") == "/healthz" and line.get("status") == 200 for line in lines)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_a_worker_serves_its_metrics_on_bind(tmp_path, database_url):
    metrics_port = free_port()
    config = tmp_path / "worker.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n[clock]\nmode = "simulated"\nstart = "{START}"\n'
                      f'[scheduler]\ninterval_seconds = 0.2\n[metrics]\nbind = "127.0.0.1:{metrics_port}"\n',
                      encoding="utf-8")
    env = {**os.environ, "DUBAN_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    env.pop("DUBAN_DATABASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen([DUBAN, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        found = samples(text_when_up(f"http://127.0.0.1:{metrics_port}/metrics"))
        assert value(found, "duban_database_up") == 1 and value(found, "duban_timers_waiting") == 0
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
