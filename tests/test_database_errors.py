"""A database outage is no failure of the model: a command that meets one fails and writes
nothing, even when it surfaces inside a BPMN script, and succeeds when sent again after it."""
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from engine.db import unavailable
from engine.models import AuditRecord, Instance, Timer
from engine.registry import Registry
from engine.runtime import Engine
from tests.bpmn_snippets import chain, script, timer_wait, user_task
from tests.conftest import BOTH_DATABASES, SECRETARY, make_config

LOST = sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


def test_unavailable_recognises_outages_and_nothing_else():
    assert unavailable(LOST) is LOST
    assert unavailable(sa.exc.TimeoutError("QueuePool limit reached")) is not None
    try:
        try:
            raise LOST
        except sa.exc.OperationalError as err:
            raise RuntimeError("a script failed") from err
    except RuntimeError as wrapped:
        assert unavailable(wrapped) is LOST
    assert unavailable(sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key"))) is None
    assert unavailable(RuntimeError("no database involved")) is None


@pytest.fixture
def lookup_engine(database_url):
    """An engine whose script function ``lookup()`` meets a lost connection while ``down``;
    ``lookup`` runs after a user task, ``timed_lookup`` after a timer."""
    registry, state = Registry(), {"down": False}

    def lookup():
        if state["down"]:
            raise LOST
        return "found"

    registry.functions(lambda _engine: {"lookup": lookup})
    engine = Engine(make_config(database_url, scheduler={"max_attempts": 1}), registry)
    engine.deploy(chain("lookup", user_task(1, "First"), script(2, "result = lookup()"),
                        user_task(3, "Second")))
    engine.deploy(chain("timed_lookup", timer_wait(1, '"2026-11-23T10:00:00+08:00"'),
                        script(2, "result = lookup()"), user_task(3, "Second")))
    engine.state = state
    yield engine
    engine.close()


def saved(engine, instance_id):
    with engine.db.read() as session:
        row = session.get(Instance, instance_id)
        records = session.scalar(select(func.count()).select_from(AuditRecord))
        return row.status, row.version, row.error, records


@BOTH_DATABASES
def test_an_outage_inside_a_script_fails_the_command_and_saves_nothing(lookup_engine):
    engine = lookup_engine
    instance = engine.instances.start("lookup", {}, SECRETARY)
    first = engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0][0]
    before = saved(engine, instance.id)

    engine.state["down"] = True
    with pytest.raises(sa.exc.OperationalError):
        engine.tasks.complete(first.id, {}, SECRETARY)
    assert saved(engine, instance.id) == before  # not in error, not a step further, no record
    assert [task.key for task in engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0]] == ["n1"]

    engine.state["down"] = False  # the database is back: the same command succeeds
    engine.tasks.complete(first.id, {}, SECRETARY)
    assert [task.key for task in engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0]] == ["n3"]
    assert saved(engine, instance.id)[:3] == ("running", before[1] + 1, None)


@BOTH_DATABASES
def test_an_outage_while_a_timer_fires_gives_it_back_uncounted_never_an_incident(lookup_engine):
    engine = lookup_engine  # max_attempts = 1: one counted failure would make an incident
    instance = engine.instances.start("timed_lookup", {}, SECRETARY)
    engine.clock.advance(to="2026-11-23T10:00:01+08:00")
    engine.state["down"] = True
    for _ in range(3):
        with pytest.raises(sa.exc.OperationalError):  # the scheduler's tick logs it and waits
            engine.timers.fire_due()
        with engine.db.read() as session:
            row = session.scalars(select(Timer).where(Timer.instance_id == instance.id)).one()
        assert (row.state, row.attempts, row.lease_owner, row.last_error) == ("waiting", 0, None, None)
    assert saved(engine, instance.id)[:3] == ("running", 1, None)

    engine.state["down"] = False
    assert engine.timers.fire_due() == 1
    assert [task.key for task in engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0]] == ["n3"]


def test_the_app_answers_an_outage_503_with_retry_after_and_other_database_errors_500(engine):
    from api.app import create_app

    app = create_app(engine=engine)

    def lost():
        raise LOST

    def duplicate():
        raise sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key"))

    app.add_url_rule("/api/v1/probe/lost", "probe_lost", lost)
    app.add_url_rule("/api/v1/probe/duplicate", "probe_duplicate", duplicate)
    app.add_url_rule("/probe/lost", "page_lost", lost)
    client = app.test_client()

    answer = client.get("/api/v1/probe/lost")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.json["error"]["code"] == "database_unavailable"
    page = client.get("/probe/lost")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "服务暂时不可用" in page.get_data(as_text=True)
    answer = client.get("/api/v1/probe/duplicate")
    assert answer.status_code == 500 and answer.json["error"]["code"] == "internal_error"
