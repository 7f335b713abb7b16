"""Fixtures: engines on real SQLite files and on the real PostgreSQL server.

PostgreSQL is not optional: the suite fails (never skips) when 127.0.0.1:5432 is down, with
the command that starts it. ``DUBAN_TEST_PG`` overrides the server URL (without database).
"""
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from api import schema
from api.app import build_engine
from engine.actor import Actor
from engine.config import load_config
from engine.db import Database
from engine.models import Base
from workflows.supervision.measures import default_kinds

REPO = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("DUBAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
START = "2026-11-23T09:00:00+08:00"  # a Monday

SECRETARY = Actor("sec", frozenset({"secretariat"}), "office")
STAFF = Actor("zhang", frozenset({"staff"}), "d1")
OTHER_STAFF = Actor("wang", frozenset({"staff"}), "d2")
LEADER = Actor("boss", frozenset({"leader"}), "office")
DESIGNER = Actor("ada", frozenset({"designer"}), "office")


@pytest.fixture(scope="session")
def pg_url():
    name = f"duban_test_{os.getpid()}"
    admin = sa.create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as err:
        pytest.fail(f"PostgreSQL is required at {PG_SERVER} ({err.orig}); start it with "
                    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`")
    url = f"{PG_SERVER}/{name}"
    db = Database(url)
    schema.upgrade(db)
    db.dispose()
    yield url
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def _reset_postgres(url):
    """Empty every table (keeping the migrated schema) and restore the audit chain's genesis."""
    db = Database(url)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with db.write() as session:
        session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        session.execute(sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"),
                        {"h": "0" * 64})
        session.add_all(default_kinds())  # the measure catalogue migration 0021 seeded
    db.dispose()


def make_config(url, **overrides):
    base = {"database": {"url": url}, "clock": {"mode": "simulated", "start": START},
            "scripts": {"timeout_seconds": 1.0}}
    for section, values in overrides.items():
        base.setdefault(section, {}).update(values)
    return load_config(os.devnull, base)


@pytest.fixture
def database_url(request, tmp_path):
    """A fresh, migrated database: SQLite by default, PostgreSQL when parametrized so."""
    backend = getattr(request, "param", "sqlite")
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
        _reset_postgres(url)
        return url
    url = f"sqlite:///{tmp_path / 'duban.db'}"
    db = Database(url)
    schema.upgrade(db)
    db.dispose()
    return url


@pytest.fixture
def engine_factory(database_url):
    """Build engines on the test database (several = several processes sharing it)."""
    engines = []

    def factory(**overrides):
        engine = build_engine(make_config(database_url, **overrides))
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.close()


@pytest.fixture
def engine(engine_factory):
    return engine_factory()


def deploy_shipped(engine, *names):
    """Deploy files of bpmn/ in the given order (decisions before the processes that call them)."""
    for name in names:
        engine.deploy((REPO / "bpmn" / name).read_bytes(), actor="designer")
    return engine


@pytest.fixture
def supervision(engine):
    """The engine with the shipped supervision process (and the decision it calls) deployed."""
    return deploy_shipped(engine, "accountability.dmn", "supervision.bpmn")


BOTH_DATABASES = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


SHIPPED = ("accountability.dmn", "supervision.bpmn", "plan_change.bpmn", "extension.bpmn", "monthly_report.bpmn",
           "referral.bpmn", "rectification.bpmn", "lookback.bpmn")


@pytest.fixture
def server_factory(engine_factory):
    """``factory(**config_overrides)``: the API on a real HTTP server over the test database,
    organisation seeded, every shipped process deployed."""
    from tests.api_client import Server

    servers = []

    def factory(**overrides):
        engine = deploy_shipped(engine_factory(**overrides), *SHIPPED)
        servers.append(Server(engine).seed())
        return servers[-1]

    yield factory
    for running in servers:
        running.stop()


@pytest.fixture
def server(server_factory):
    return server_factory()


@pytest.fixture
def history(engine_factory):
    """The reports' known history (tests/report_history.py): (engine, item A, item B, item C)."""
    from tests.report_history import START, build_history

    return build_history(engine_factory(clock={"start": START}))


@pytest.fixture
def history_server(history):
    """The history behind a real HTTP server, organisation seeded (and d3, 教育局, which item C needs)."""
    from api.models import Department
    from tests.api_client import Server

    running = Server(history[0]).seed()
    with history[0].db.write() as session:
        session.add(Department(code="d3", name="教育局"))
    yield running
    running.stop()


# -- the browser tests (tests/test_web_browser_*.py) ---------------------------------------------
@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole run (tests/web_browser.py); each person gets a context of it."""
    from tests.web_browser import launch

    yield from launch()


def _people(server, browser):
    from tests.web_browser import Person

    opened = []

    def open_as(username, viewport=None):
        person = Person(browser, server.base, **({"viewport": viewport} if viewport else {}))
        opened.append(person)
        return person.login(username)

    yield open_as
    for person in opened:
        person.close()  # asserts: no console errors, no page errors


@pytest.fixture
def people(server, browser):
    """``people(username, viewport=None)``: a logged-in person in the browser, on ``server``."""
    yield from _people(server, browser)


@pytest.fixture
def history_people(history_server, browser):
    """People on the server over the reports' known history (tests/report_history.py; now 2026-10-20)."""
    yield from _people(history_server, browser)
