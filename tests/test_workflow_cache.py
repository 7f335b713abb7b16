"""The per-process workflow cache (engine.workflow_cache): used only while the stored version
is the one it holds, and never after a failed command."""
import pytest
from sqlalchemy import update

from engine import projection
from engine.errors import EngineError
from engine.models import HumanTask, Instance
from engine.workflow_cache import WorkflowCache
from tests.conftest import BOTH_DATABASES, LEADER, SECRETARY, STAFF
from tests.helpers import PLAN, complete, new_item, open_task


def _stats(engine):
    return engine.uow.cache.stats()


def _open_keys(engine, item_id):
    with engine.db.read() as session:
        return sorted(t.key for t in session.query(HumanTask).filter_by(business_key=item_id, state="open"))


def test_consecutive_commands_reuse_the_workflow(supervision):
    item = new_item(supervision, SECRETARY)
    before = _stats(supervision)
    complete(supervision, STAFF, "draft_plan", PLAN, item.id)
    complete(supervision, LEADER, "approve_plan", {"approved": True}, item.id)
    after = _stats(supervision)
    assert after["hits"] - before["hits"] == 2 and after["stale"] == before["stale"]
    assert "file_plan" in _open_keys(supervision, item.id)


@BOTH_DATABASES
def test_a_command_of_another_process_makes_the_entry_stale(engine_factory):
    from tests.conftest import deploy_shipped
    here = deploy_shipped(engine_factory(), "accountability.dmn", "supervision.bpmn")
    there = engine_factory()  # another process on the same database
    item = new_item(here, SECRETARY)  # cached here at version 1
    complete(there, STAFF, "draft_plan", PLAN, item.id)  # version 2, elsewhere
    stale = _stats(here)["stale"]
    complete(here, LEADER, "approve_plan", {"approved": True}, item.id)  # loads version 2 from JSON
    assert _stats(here)["stale"] == stale + 1
    assert "file_plan" in _open_keys(here, item.id)


def test_a_direct_update_of_the_version_makes_the_entry_stale(supervision):
    item = new_item(supervision, SECRETARY)
    with supervision.db.write() as session:
        session.execute(update(Instance).where(Instance.id == item.instance_id).values(version=Instance.version + 1))
    stale = _stats(supervision)["stale"]
    complete(supervision, STAFF, "draft_plan", PLAN, item.id)
    assert _stats(supervision)["stale"] == stale + 1


def test_a_failed_write_drops_the_workflow_it_advanced(supervision, monkeypatch):
    """The failed command completed the task in memory; the next one must not see that."""
    item = new_item(supervision, SECRETARY)
    task = open_task(supervision, STAFF, "draft_plan", item.id)

    def broken(connection, ctx, new):
        raise RuntimeError("the database went away mid-write")
    monkeypatch.setattr(projection, "write", broken)
    with pytest.raises(RuntimeError):
        supervision.tasks.complete(task.id, PLAN, STAFF)
    monkeypatch.undo()
    assert _stats(supervision)["entries"] == 0
    misses = _stats(supervision)["misses"]
    supervision.tasks.complete(task.id, PLAN, STAFF)  # the task is still open: loaded from JSON
    assert _stats(supervision)["misses"] == misses + 1
    assert "approve_plan" in _open_keys(supervision, item.id)


def test_a_refused_command_drops_the_entry(supervision):
    item = new_item(supervision, SECRETARY)
    task = open_task(supervision, STAFF, "draft_plan", item.id)
    with pytest.raises(EngineError):
        supervision.tasks.complete(task.id, {"owner": ""}, STAFF)  # the form refuses it
    misses = _stats(supervision)["misses"]
    supervision.tasks.complete(task.id, PLAN, STAFF)
    assert _stats(supervision)["misses"] in (misses, misses + 1)  # refused before or after the load
    assert "approve_plan" in _open_keys(supervision, item.id)


def test_bounded_and_off():
    cache = WorkflowCache(2)
    for n in range(3):
        cache.put(f"i{n}", 1, object())
    assert cache.take("i0", 1) is None and cache.take("i2", 1) is not None
    off = WorkflowCache(0)
    off.put("i", 1, object())
    assert off.take("i", 1) is None
    with pytest.raises(ValueError):
        WorkflowCache(-1)
