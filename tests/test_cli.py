"""The command line and the served app, as separate processes over real HTTP."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.bpmn_snippets import chain, user_task
from tests.conftest import REPO

DUBAN = str(Path(sys.executable).parent / "duban")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(tmp_path, url, port):
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{url}"\n[server]\nhost = "127.0.0.1"\nport = {port}\n'
                    '[scheduler]\ninterval_seconds = 1\n', encoding="utf-8")
    return path


def run(args, config, **env):
    environment = {**os.environ, "DUBAN_CONFIG": str(config), **env}
    environment.pop("DUBAN_DATABASE_URL", None)
    return subprocess.run([DUBAN, *args], env=environment, capture_output=True, text=True, timeout=120)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def serve(tmp_path):
    processes = []

    def start(config):
        process = subprocess.Popen([DUBAN, "serve"], env={**os.environ, "DUBAN_CONFIG": str(config)},
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def wait_for(url, deadline=30):
    end = time.monotonic() + deadline
    while True:
        try:
            return get(url)
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def test_init_deploys_and_is_idempotent(tmp_path):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'duban.db'}", free_port())
    first = run(["init"], config, DUBAN_ADMIN_PASSWORD="s3cret")
    assert first.returncode == 0, first.stderr
    assert "supervision v1 (deployed)" in first.stdout and "user admin ready" in first.stdout
    second = run(["init"], config)
    assert second.returncode == 0 and "supervision v1 (unchanged)" in second.stdout
    verify = run(["audit", "verify"], config)
    assert verify.returncode == 0 and "audit chain intact" in verify.stdout


def test_deploy_command_reports_errors(tmp_path):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'duban.db'}", free_port())
    assert run(["init"], config).returncode == 0
    bad = tmp_path / "bad.bpmn"
    bad.write_text("<bpmn:definitions", encoding="utf-8")
    result = run(["deploy", str(bad)], config)
    assert result.returncode == 2 and "malformed XML" in result.stderr
    good = run(["deploy", str(REPO / "bpmn" / "supervision.bpmn")], config)
    assert good.returncode == 0 and "supervision v1 (unchanged)" in good.stdout
    # several files are one bundle: deployed together, or none of them
    outer, inner = tmp_path / "outer.bpmn", tmp_path / "inner.bpmn"
    outer.write_bytes(chain("outer", '<bpmn:callActivity id="n1" calledElement="inner"/>'))
    inner.write_bytes(chain("inner", user_task(1)))
    refused = run(["deploy", str(outer), str(inner), str(bad)], config)
    assert refused.returncode == 2 and refused.stderr.startswith("bad.bpmn: malformed XML")
    bundle = run(["deploy", str(outer), str(inner)], config)
    assert bundle.returncode == 0, bundle.stderr
    assert bundle.stdout.splitlines() == ["outer.bpmn: outer v1 (deployed)", "inner.bpmn: inner v1 (deployed)"]


def test_serve_answers_healthz(tmp_path, serve):
    port = free_port()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'duban.db'}", port)
    assert run(["init"], config).returncode == 0
    serve(config)
    assert wait_for(f"http://127.0.0.1:{port}/healthz") == (200, {"ok": True, "database": "ok"})


def test_healthz_is_503_when_the_database_is_down(tmp_path, serve):
    port = free_port()
    config = write_config(tmp_path, f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none", port)
    config.write_text(config.read_text() + "in_process = false\n", encoding="utf-8")
    serve(config)
    status, body = wait_for(f"http://127.0.0.1:{port}/healthz")
    assert status == 503 and body["ok"] is False


def test_audit_verify_command_reports_a_tampered_record(tmp_path):
    import sqlalchemy as sa

    db_path = tmp_path / "duban.db"
    config = write_config(tmp_path, f"sqlite:///{db_path}", free_port())
    assert run(["init"], config, DUBAN_ADMIN_PASSWORD="s3cret").returncode == 0
    engine = sa.create_engine(f"sqlite:///{db_path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE audit SET actor = 'mallory' WHERE seq = 1")
    engine.dispose()
    result = run(["audit", "verify"], config)
    assert result.returncode == 1 and "BROKEN at seq 1" in result.stdout
    assert "verifying audit chain" in result.stderr
