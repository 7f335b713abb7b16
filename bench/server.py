"""A real ``duban serve`` subprocess on a bench database, and the organisation it serves."""
import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from werkzeug.security import generate_password_hash

from api.models import Department, User
from bench.profiling import children
from engine.db import Database

DUBAN = str(Path(sys.executable).parent / "duban")
PASSWORD = "bench-password-1"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed_organisation(url, departments, people):
    """Write departments ``{code: name}`` and people ``{username: (department, [roles])}`` directly
    (one password hash for all: hashing is deliberately slow and not what is measured)."""
    password_hash = generate_password_hash(PASSWORD)
    now = dt.datetime.now(dt.timezone.utc)
    db = Database(url)
    with db.write() as session:
        for code, name in departments.items():
            session.merge(Department(code=code, name=name))
        session.flush()
        for username, (department, roles) in people.items():
            session.merge(User(username=username, password_hash=password_hash, display_name=username,
                               department=department, roles=list(roles), created_at=now))
    db.dispose()


def _status(pid):
    """``{"VmHWM_kb", "VmRSS_kb"}`` from /proc/<pid>/status (empty if the process is gone)."""
    values = {}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return values
    for line in lines:
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[f"{key}_kb"] = int(rest.split()[0])
    return values


class Serve:
    """``duban init`` then ``duban serve`` with a config file naming the bench database;
    ``processes`` > 1 runs it as a prefork server (a master and that many workers)."""

    def __init__(self, workdir, url, name, threads=8, processes=1):
        self.url, self.threads, self.processes = url, threads, processes
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = Path(workdir) / f"{name}.toml"
        self.log = Path(workdir) / f"{name}.log"
        self.config.write_text(
            f'[database]\nurl = "{url}"\n'
            f'[server]\nhost = "127.0.0.1"\nport = {self.port}\nthreads = {threads}\n'
            f'processes = {processes}\n'
            '[scheduler]\nin_process = false\n', encoding="utf-8")
        self.process = None

    def env(self):
        env = {**os.environ, "DUBAN_CONFIG": str(self.config)}
        env.pop("DUBAN_DATABASE_URL", None)
        return env

    def init(self):
        """Create the schema and deploy bpmn/ through the CLI, as an operator would."""
        result = subprocess.run([DUBAN, "init"], env=self.env(), capture_output=True, text=True,
                                timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"duban init failed: {result.stderr[-2000:]}")
        return self

    def start(self, timeout=60):
        self._log = open(self.log, "ab")
        self.process = subprocess.Popen([DUBAN, "serve"], env=self.env(), stdout=self._log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"duban serve exited: {self.log.read_text()[-2000:]}")
            try:
                if (requests.get(self.base + "/healthz", timeout=2).status_code == 200
                        and len(self.workers()) == self.processes):
                    return self
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("duban serve did not answer /healthz in time")
            time.sleep(0.1)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self._log.close()
        self.process = None

    def workers(self):
        """The processes that serve requests: ``duban serve`` itself, or its worker processes."""
        return [self.process.pid] if self.processes == 1 else children(self.process.pid)

    def memory(self):
        """``{"VmHWM_kb", "VmRSS_kb"}`` of one serving process (peak and current resident set):
        the serve process itself, or with several processes the largest of its workers (each
        worker's own peak; ``workers`` lists them all, ``master_VmHWM_kb`` is the master's)."""
        per_worker = {pid: _status(pid) for pid in self.workers()}
        per_worker = {pid: values for pid, values in per_worker.items() if values}
        values = {key: max(v[key] for v in per_worker.values()) for key in ("VmHWM_kb", "VmRSS_kb")}
        if self.processes > 1:
            values["workers"] = per_worker
            values["master_VmHWM_kb"] = _status(self.process.pid).get("VmHWM_kb")
        return values

    def login(self, username):
        response = requests.post(self.base + "/api/v1/auth/token",
                                 json={"username": username, "password": PASSWORD}, timeout=30)
        response.raise_for_status()
        return response.json()["token"]

    def session(self, token):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        return session

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
