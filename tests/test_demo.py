"""``duban demo``: the demonstration organisation, loaded through the real engine."""
import pytest
from sqlalchemy import select

from api import demo

from api.app import build_engine
from engine.config import load_config
from tests.conftest import BOTH_DATABASES, SHIPPED, deploy_shipped
from tests.helpers import snapshot
from tests.test_cli import free_port, run, write_config
from engine.models import HumanTask
from workflows.supervision.models import Escalation, Item

PASSWORD = "demo-horse-battery-9"


def test_demo_loads_items_in_every_state_and_refuses_a_second_run(tmp_path):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'duban.db'}", free_port())
    first = run(["demo"], config, DUBAN_DEMO_PASSWORD=PASSWORD)
    assert first.returncode == 0, first.stderr
    assert "刚登记：DB-" in first.stdout and "已办结：DB-" in first.stdout

    engine = build_engine(load_config(config))  # the system clock, as `make run` uses
    try:
        now = engine.clock.now()
        with engine.db.read() as session:
            items = {item.title: item for item in session.scalars(select(Item))}
            escalated = set(session.scalars(select(Escalation.item_id)))
            open_steps = {title: sorted((task.key, task.due_at is not None and task.due_at < now) for task in session.scalars(
                select(HumanTask).where(HumanTask.business_key == item.id, HumanTask.state == "open")))
                for title, item in items.items()}
        # One item per stop of the loop; only the undrafted one is overdue, and it escalated (the
        # escalation, due one working day after it opened weeks ago, is overdue as well).
        assert open_steps == {
            "推进政务服务一网通办": [("draft_plan", False)],       # just registered
            "优化营商环境专项行动": [("approve_plan", False)],     # plan drafted
            "重点项目开工建设": [("file_plan", False)],            # plan approved
            "城市燃气管道更新": [("report_progress", False)],      # reporting
            "义务教育学位扩容": [("draft_plan", True), ("handle_escalation", True)],  # overdue, red; the supervisors' step waits for weeks too
            "老旧小区改造年度任务": [],                             # closed
        }
        assert items["老旧小区改造年度任务"].status == "closed"
        assert escalated == {items["义务教育学位扩容"].id}
        assert engine.verify_audit()["ok"]
    finally:
        engine.close()

    second = run(["demo"], config, DUBAN_DEMO_PASSWORD=PASSWORD)
    assert second.returncode != 0 and "已有督办事项" in second.stderr


@BOTH_DATABASES
def test_demo_moves_a_simulated_clock_and_a_refusal_changes_nothing(engine_factory):
    engine = deploy_shipped(engine_factory(), *SHIPPED)   # the tests' simulated clock
    start = engine.clock.now()
    said = []
    items = demo.load(engine, PASSWORD, echo=said.append)
    assert set(items) == set(demo.STATES) and len(set(items.values())) == len(items)
    assert engine.clock.now() == start + demo.SPAN
    assert not any(PASSWORD in line for line in said)   # a given password is not echoed
    before = snapshot(engine)
    with pytest.raises(demo.DemoRefused):
        demo.load(engine, PASSWORD, echo=said.append)
    with pytest.raises(demo.DemoRefused):   # a weak password, even with force
        demo.load(engine, "short", force=True, echo=said.append)
    assert snapshot(engine) == before
    assert engine.verify_audit()["ok"]
