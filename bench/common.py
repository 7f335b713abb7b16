"""What every benchmark shares: scratch databases, timing statistics, the result record."""
import contextlib
import dataclasses
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from api import schema
from engine.config import load_config
from engine.db import Database

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
PG_SERVER = os.environ.get("DUBAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
START = "2026-11-23T09:00:00+08:00"  # a Monday


class Scratch:
    """Scratch databases for one run: ``duban_bench_<pid>_<name>`` on PostgreSQL, SQLite files in
    a temporary directory. ``close()`` drops and removes all of them."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="duban_bench_"))
        self.pg_names = []
        self._admin = None

    def admin(self):
        if self._admin is None:
            self._admin = sa.create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
        return self._admin

    def postgres(self, name, template=None, migrate=True):
        """A new, migrated PostgreSQL database (or a copy of ``template``); returns its URL."""
        db_name = f"duban_bench_{os.getpid()}_{name}"
        with self.admin().connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
            clause = f" TEMPLATE {template.rsplit('/', 1)[1]}" if template else ""
            connection.exec_driver_sql(f"CREATE DATABASE {db_name}{clause}")
        self.pg_names.append(db_name)
        url = f"{PG_SERVER}/{db_name}"
        if migrate and not template:
            migrate_url(url)
        return url

    def sqlite(self, name, migrate=True):
        url = f"sqlite:///{self.dir / (name + '.db')}"
        if migrate:
            migrate_url(url)
        return url

    def drop(self, url):
        if url.startswith("postgresql"):
            db_name = url.rsplit("/", 1)[1]
            with self.admin().connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
            self.pg_names.remove(db_name)

    def close(self):
        for db_name in list(self.pg_names):
            with self.admin().connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        self.pg_names.clear()
        if self._admin is not None:
            self._admin.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)


def migrate_url(url):
    db = Database(url)
    schema.upgrade(db)
    db.dispose()


def engine_config(url, **overrides):
    base = {"database": {"url": url}, "clock": {"mode": "simulated", "start": START},
            "scheduler": {"in_process": False}}
    for section, values in overrides.items():
        base.setdefault(section, {}).update(values)
    return load_config(os.devnull, base)


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_summary(seconds):
    """p50/p95/p99/mean in milliseconds of a list of durations in seconds."""
    if not seconds:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None}
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 3), "p95_ms": round(percentile(ms, 95), 3),
            "p99_ms": round(percentile(ms, 99), 3), "mean_ms": round(statistics.fmean(ms), 3)}


@contextlib.contextmanager
def stopwatch():
    """``with stopwatch() as elapsed: ...`` then ``elapsed()`` is the block's wall time."""
    start = time.perf_counter()
    end = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def ratio(value, baseline):
    return round(value / baseline, 3) if value is not None and baseline else None


@dataclasses.dataclass
class Result:
    """One benchmark's outcome: what it ran, its baseline, its rows, and its targets."""

    name: str
    title: str
    workload: str
    baseline: dict                       # {"label", "value", "unit"}
    rows: list = dataclasses.field(default_factory=list)      # {"label", "value", "unit", "ratio", ...}
    targets: list = dataclasses.field(default_factory=list)   # {"label", "target", "value", "met"}
    notes: list = dataclasses.field(default_factory=list)
    available: bool = True

    def row(self, label, value, unit, ratio_=None, **extra):
        self.rows.append({"label": label, "value": value, "unit": unit, "ratio": ratio_, **extra})

    def target(self, label, target, value, met, issue=None):
        """``issue``: the issue that set this target (the summary lists issue 18's together)."""
        self.targets.append({"label": label, "target": target, "value": value,
                             "met": None if value is None else bool(met), "issue": issue})

    def as_dict(self):
        return dataclasses.asdict(self)
