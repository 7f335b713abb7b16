"""A PostgreSQL restart under a running service: 503s with ``Retry-After`` while the database
is down, full service with no 5xx once it is back, and a timer that fell due during the
outage fires afterwards, once. Then a restart between two requests, which no request sees
fail: the pool's connections to the old server are replaced when taken (``pool_pre_ping``).

The test runs its own throwaway PostgreSQL cluster (``initdb``/``pg_ctl`` on a free port in a
temporary directory, one for the module), never the shared server on 5432. PostgreSQL refuses
to run as root, so as root the cluster belongs to the ``postgres`` user (``runuser``).
"""
import datetime as dt
import glob
import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.bpmn_snippets import chain, timer_after, user_task
from tests.test_cli import free_port, wait_for
from tests.test_serve_processes import DUBAN, Serve

PASSWORD = "outage-Pass-2026"
DEADLINE = 60  # seconds before a wait is declared hung: a guard, not a measurement
TIMER_SECONDS = 3  # the timer falls due this long after its instance starts: during the outage


def _pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class Cluster:
    """A PostgreSQL cluster of our own: ``stop()`` and ``start()`` it at will."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="duban-pg-")
        self.data, self.port = os.path.join(self.dir, "data"), free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(_pg_bin("initdb"), "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync")

    def _run(self, *args):
        result = subprocess.run([*self.as_postgres, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}\n{result.stderr}"

    def start(self):
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=60")
        self._run(_pg_bin("pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w",
                  "-o", options, "start")

    def stop(self, mode="fast"):
        self._run(_pg_bin("pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop")

    def url(self, database):
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name):
        self._run(_pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-d", "postgres", "-c", f"CREATE DATABASE {name}")
        return self.url(name)

    def remove(self):
        subprocess.run([*self.as_postgres, _pg_bin("pg_ctl"), "-D", self.data, "-m", "immediate",
                        "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    running = Cluster()
    running.start()
    yield running
    running.remove()


class Client:
    """HTTP with a cookie jar (for a page session) over ``urllib``; never raises for a status."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.token = None

    def call(self, method, path, body=None, form=None):
        headers, data = {}, None
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read().decode()

    def json(self, method, path, body=None):
        status, _headers, text = self.call(method, path, body)
        return status, json.loads(text)

    def log_in(self):
        status, body = self.json("POST", "/api/v1/auth/token", {"username": "admin", "password": PASSWORD})
        assert status == 200, body
        self.token = body["token"]
        _status, _headers, page = self.call("GET", "/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        status, _headers, page = self.call("POST", "/login", form={
            "csrf_token": csrf, "username": "admin", "password": PASSWORD})
        assert status == 200 and "退出" in page, page[:500]


PROCESS = chain("outage_timer", timer_after(1, f'"PT{TIMER_SECONDS}S"'), user_task(2, "After the wait"))
PROBE = chain("outage_probe", user_task(1, "Something to do"))


def unavailable_answers(client):
    """Everything a client may ask while the database is down: 503 and Retry-After."""
    status, body = client.json("GET", "/healthz")
    assert status == 503 and body == {"ok": False, "database": "unavailable"}
    for method, path, body in (("GET", "/api/v1/tasks", None),
                               ("POST", "/api/v1/instances", {"definition": "outage_probe"}),
                               ("POST", "/api/v1/auth/token", {"username": "admin", "password": PASSWORD}),
                               ("GET", "/api/v1/instances?definition=outage_timer", None)):
        status, headers, text = client.call(method, path, body)
        assert status == 503, (method, path, status, text)
        assert headers["Retry-After"] == "5"
        assert json.loads(text)["error"]["code"] == "database_unavailable"
    status, headers, page = client.call("GET", "/inbox")
    assert status == 503 and headers["Retry-After"] == "5" and "服务暂时不可用" in page


def full_service(client):
    """The first requests after the restart, each on a pooled connection that went stale."""
    statuses = []
    for _ in range(4):  # more requests than either process has pooled connections in use
        statuses.append(client.json("GET", "/healthz")[0])
        statuses.append(client.json("GET", "/api/v1/tasks")[0])
        statuses.append(client.call("GET", "/inbox")[0])
        statuses.append(client.json("POST", "/api/v1/instances", {"definition": "outage_probe"})[0])
    assert statuses == [200, 200, 200, 201] * 4


def exercise(cluster, tmp_path, name, processes, worker):
    url = cluster.create_database(name)
    port = free_port()
    serve = Serve(tmp_path, (
        f'[database]\nurl = "{url}"\n[server]\nhost = "127.0.0.1"\nport = {port}\nthreads = 4\n'
        f'processes = {processes}\n[scheduler]\nin_process = {str(not worker).lower()}\n'
        'interval_seconds = 0.2\n'))
    serve.env["DUBAN_ADMIN_PASSWORD"] = PASSWORD
    assert serve.run("init").returncode == 0
    serve.start()
    worker_log = open(tmp_path / "worker.log", "w+", encoding="utf-8")
    scheduler = (subprocess.Popen([DUBAN, "worker"], env=serve.env, stdout=worker_log,
                                  stderr=subprocess.STDOUT) if worker else None)
    try:
        assert wait_for(f"http://127.0.0.1:{port}/healthz")[0] == 200
        client = Client(port)
        client.log_in()
        for definition in (PROCESS, PROBE):
            request = urllib.request.Request(client.base + "/api/v1/definitions", data=definition,
                                             method="POST", headers={
                                                 "Authorization": f"Bearer {client.token}",
                                                 "Content-Type": "application/xml"})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 201
        status, started = client.json("POST", "/api/v1/instances", {"definition": "outage_timer"})
        assert status == 201
        due = time.monotonic() + TIMER_SECONDS
        assert client.json("GET", f"/api/v1/instances/{started['id']}")[1]["open_tasks"] == []

        cluster.stop("fast")
        down_since = dt.datetime.now(dt.timezone.utc)  # nothing can be written from here on
        for _ in range(2 * processes):  # several requests: with 2 processes, both answer some
            unavailable_answers(client)
        while time.monotonic() < due + 0.5:  # the timer falls due while the database is down
            time.sleep(0.1)
        unavailable_answers(client)
        cluster.start()

        full_service(client)
        end = time.monotonic() + DEADLINE
        while not client.json("GET", f"/api/v1/instances/{started['id']}")[1]["open_tasks"]:
            assert time.monotonic() < end, f"the timer did not fire after the outage\n{serve.output()}"
            time.sleep(0.1)
        _status, audit = client.json("GET", f"/api/v1/audit?instance_id={started['id']}&limit=500")
        fired = [record for record in audit["items"] if record["kind"] == "timer_fired"]
        assert len(fired) == 1 and dt.datetime.fromisoformat(fired[0]["at"]) > down_since
        # A quick restart that no request notices: the pool still holds connections to the
        # old server, and the first requests after it must not fail on them.
        cluster.stop("fast")
        cluster.start()
        full_service(client)
        # Nothing the outage refused was half done: exactly the instances that answered 201.
        _status, probes = client.json("GET", "/api/v1/instances?definition=outage_probe")
        assert probes["total"] == 8
        assert client.json("GET", "/api/v1/audit/verify")[1]["ok"] is True
        assert serve.process.poll() is None and (scheduler is None or scheduler.poll() is None)
        if worker:
            worker_log.seek(0)
            log = worker_log.read()
        else:
            log = serve.output()
        assert "database unavailable, timers wait" in log and "timers resume" in log, log
    finally:
        if scheduler:
            scheduler.terminate()
            scheduler.wait(timeout=30)
        serve.stop()
        worker_log.close()


def test_one_process_with_its_scheduler_survives_a_restart(cluster, tmp_path):
    exercise(cluster, tmp_path, "outage_one", processes=1, worker=False)


def test_two_processes_and_a_worker_survive_a_restart(cluster, tmp_path):
    exercise(cluster, tmp_path, "outage_two", processes=2, worker=True)
