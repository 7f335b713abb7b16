"""The inbox's SQL filter (``workable_by``) selects exactly the open tasks ``may_work`` allows."""
import datetime as dt
import random

from sqlalchemy import select

from engine.actor import Actor
from engine.models import Definition, HumanTask, Instance
from engine.tasks import may_work, workable_by
from tests.conftest import BOTH_DATABASES

NOW = dt.datetime(2026, 11, 23, 1, tzinfo=dt.timezone.utc)
USERS = ("zhang", "li", "boss")
ACTORS = [Actor(name, frozenset(roles), department) for name, roles, department in (
    ("zhang", {"staff"}, "d1"), ("li", {"staff", "supervisor"}, "d2"), ("boss", {"leader"}, None),
    ("nobody", set(), None), ("sec", {"secretariat"}, "office"))] + [Actor("root", frozenset({"admin"}))]


@BOTH_DATABASES
def test_workable_by_matches_may_work(engine):
    rng = random.Random(3)
    choices = {"assignee": (None, *USERS), "candidate_user": (None, *USERS),
               "candidate_role": (None, "staff", "leader", "secretariat"),
               "candidate_department": (None, "d1", "d2", "office"), "started_by": ("zhang", "sec"),
               "state": ("open", "open", "completed"),
               "due_at": (None, NOW, NOW + dt.timedelta(hours=1), NOW + dt.timedelta(days=2)),
               "business_key": ("item-a", "item-b", None)}
    with engine.db.write() as session:
        session.add(Definition(id=1, key="p", version=1, kind="bpmn", sha256="x", source="", dmn_ids=[],
                               deployed_at=NOW))
        session.add(Instance(id="i", definition_id=1, definition_key="p", definition_version=1,
                             status="running", state="{}", variables={}, started_at=NOW, updated_at=NOW))
        session.flush()
        for n in range(400):
            session.add(HumanTask(id=f"t{n:03d}", instance_id="i", definition_id=1, key="k",
                                  created_at=NOW - dt.timedelta(minutes=rng.randrange(3)),
                                  **{field: rng.choice(values) for field, values in choices.items()}))
    with engine.db.read() as session:
        tasks = list(session.scalars(select(HumanTask)))
        for actor in ACTORS:
            expected = {t.id for t in tasks if t.state == "open" and may_work(actor, t)}
            found = set(session.scalars(select(HumanTask.id).where(workable_by(actor))))
            assert found == expected, actor
            # the inbox pages (a union of per-arm heads) in due order, no task twice or lost
            ordered = sorted((t for t in tasks if t.id in expected), key=lambda t: (
                t.due_at is None, t.due_at or NOW, t.created_at, t.id))
            for limit, offset in ((50, 0), (7, 0), (7, 7), (5, 30), (50, 400)):
                rows, total = engine.tasks.inbox(actor, limit=limit, offset=offset)
                assert total == len(expected)
                assert [r.id for r in rows] == [t.id for t in ordered[offset:offset + limit]], (actor, offset)
            moment = NOW + dt.timedelta(minutes=30)
            assert engine.tasks.count_overdue(actor, moment) == sum(
                1 for t in ordered if t.due_at is not None and t.due_at < moment)
            for task in [t for t in ordered if t.business_key][:3]:  # narrowed to one item
                rows, total = engine.tasks.inbox(actor, business_key=task.business_key, instance_id="i")
                assert total == sum(1 for t in ordered if t.business_key == task.business_key)


@BOTH_DATABASES
def test_department_rows_follow_the_item_status(supervision):
    """item_department.status (migration 0006) follows the item, so status-filtered lists agree."""
    from tests.conftest import SECRETARY, STAFF
    from tests.helpers import new_item
    from workflows.supervision import queries
    from workflows.supervision.models import ItemDepartment

    engine = supervision
    kept, cancelled = new_item(engine, SECRETARY), new_item(engine, SECRETARY, title="撤销事项")
    engine.instances.cancel(cancelled.instance_id, "重复立项", SECRETARY)
    with engine.db.read() as session:
        states = {(row.item_id, row.department): row.status for row in session.scalars(select(ItemDepartment))}
        assert states == {(kept.id, "d1"): "open", (kept.id, "d2"): "open",
                          (cancelled.id, "d1"): "cancelled", (cancelled.id, "d2"): "cancelled"}
        now = engine.clock.now()
        for actor, department in ((STAFF, None), (SECRETARY, "d2")):
            for status, expected in (("open", [kept.id]), ("cancelled", [cancelled.id]), ("closed", [])):
                rows, total = queries.list_items(session, actor, engine.calendar, now, status=status,
                                                 department=department)
                assert [r.id for r in rows] == expected and total == len(expected)
