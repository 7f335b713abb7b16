"""Item lists (``queries.list_items``) and light counts select exactly what their contract says.

Random items, departments and open or finished tasks are written straight into the projection
tables; every list (caller's scope × status × department × light × overdue × search × page) is
compared with a plain Python reading of the contract: scope (overseers all, leaders the items
they lead, staff their department's), filters, lights from the item's open tasks (red: one is
due before now; yellow: otherwise one is due before the warning limit; green: neither — so an
item with no open task is green), newest first (created_at, then code, descending).
"""
import datetime as dt
import itertools
import random

from sqlalchemy import select

from engine.actor import Actor
from engine.models import Definition, HumanTask, Instance
from tests.conftest import BOTH_DATABASES
from workflows import access, lights
from workflows.supervision import queries
from workflows.supervision.models import Item, ItemDepartment

NOW = dt.datetime(2026, 11, 23, 1, tzinfo=dt.timezone.utc)  # Monday 09:00 in Beijing
DEPARTMENTS = ("d1", "d2", "d3", "office")
ACTORS = [Actor(name, frozenset(roles), department) for name, roles, department in (
    ("zhang", {"staff"}, "d1"), ("wang", {"staff"}, "d2"), ("boss", {"leader"}, "office"),
    ("chief", {"leader", "staff"}, "d3"), ("sec", {"secretariat"}, "office"), ("root", {"admin"}, None),
    ("nobody", set(), None), ("drifter", {"staff"}, None))]
LEADERS = ("boss", "chief", "other")


def _populate(engine, rng):
    """About 80 items (some created at the same moment, so the code breaks the tie) and their tasks."""
    with engine.db.write() as session:
        session.add(Definition(id=1, key="p", version=1, kind="bpmn", sha256="x", source="", dmn_ids=[],
                               deployed_at=NOW))
        session.add(Instance(id="i", definition_id=1, definition_key="p", definition_version=1,
                             status="running", state="{}", variables={}, started_at=NOW, updated_at=NOW))
        session.flush()
        moments = [NOW - dt.timedelta(days=rng.randrange(60), minutes=rng.randrange(3)) for _ in range(50)]
        dues = (None, NOW - dt.timedelta(days=3), NOW - dt.timedelta(seconds=1), NOW,
                NOW + dt.timedelta(hours=2), NOW + dt.timedelta(days=1, hours=-1), NOW + dt.timedelta(days=1),
                NOW + dt.timedelta(days=5))
        task_number = itertools.count()
        for n in range(80):
            item_id = f"item-{n:02d}"
            status = rng.choice(("open", "open", "open", "closed", "cancelled"))
            lead = rng.choice(DEPARTMENTS[:3])
            co = rng.sample([d for d in DEPARTMENTS if d != lead], rng.choice((0, 0, 1, 2)))
            item = Item(id=item_id, code=f"DB-2026-{rng.randrange(10_000):05d}-{n}", year=2026, seq=n,
                        title=f"事项 {n}", department=lead, co_departments=co, leader=rng.choice(LEADERS),
                        status=status, created_at=rng.choice(moments))
            session.add(item)
            session.flush()
            for department in [lead, *co]:
                session.add(ItemDepartment(item_id=item_id, department=department,
                                           role="lead" if department == lead else "co", status=status,
                                           **_copies(item)))
            for _ in range(rng.choice((0, 1, 1, 2, 3))):
                # (a finished item rarely keeps an open task: a plan change's, say; it still lights)
                state = rng.choice(("open", "open", "completed") if status == "open" else ("completed",) * 5 + ("open",))
                session.add(HumanTask(id=f"t{next(task_number):04d}", instance_id="i", definition_id=1,
                                      business_key=item_id, key="k", state=state, created_at=NOW,
                                      due_at=rng.choice(dues)))
        for key in ("ZG-elsewhere", None):  # open tasks of no item light nothing
            session.add(HumanTask(id=f"t{next(task_number):04d}", instance_id="i", definition_id=1,
                                  business_key=key, key="k", state="open", created_at=NOW, due_at=dues[1]))


def _copies(item):
    """What ``item_department`` copies from its item besides the status (none before migration 0009)."""
    columns = ItemDepartment.__table__.columns.keys()
    return {name: getattr(item, name) for name in ("created_at", "code") if name in columns}


def _expected(items, departments, open_dues, actor, limit_of_warning, status=None, department=None,
              light=None, overdue=None, q=None):
    def visible(item):
        if actor.is_admin or actor.has_any(*access.RECORD_OVERSEERS):
            return True
        return (("leader" in actor.roles and item.leader == actor.username)
                or (actor.department is not None and actor.department in departments[item.id]))

    def light_of(item):
        return lights.worst(lights.light(due, NOW, limit_of_warning) for due in open_dues.get(item.id, ()))

    chosen = [i for i in items if visible(i) and (status is None or i.status == status)
              and (department is None or department in departments[i.id])
              and (light is None or light_of(i) == light)
              and (overdue is None or (light_of(i) == "red") == overdue)
              and (q is None or q in i.title or q in i.code)]
    return sorted(chosen, key=lambda i: (i.created_at, i.code), reverse=True)


@BOTH_DATABASES
def test_list_items_and_light_counts_match_the_contract(engine):
    rng = random.Random(11)
    _populate(engine, rng)
    _, limit_of_warning = lights.thresholds(engine.calendar, NOW)
    with engine.db.read() as session:
        items = list(session.scalars(select(Item)))
        departments = {}
        for row in session.scalars(select(ItemDepartment)):
            departments.setdefault(row.item_id, set()).add(row.department)
        open_dues = {}
        for task in session.scalars(select(HumanTask).where(HumanTask.state == "open")):
            open_dues.setdefault(task.business_key, []).append(task.due_at)
        assert {light for light in ("green", "yellow", "red") if any(
            _expected(items, departments, open_dues, ACTORS[4], limit_of_warning, light=light))} == \
            {"green", "yellow", "red"}  # the data has every light

        combinations = list(itertools.product(ACTORS, (None, "open", "closed"), (None, "d1", "d2", "office"),
                                              (None, "green", "yellow", "red"), (None, True, False),
                                              (None, "1")))
        for actor, status, department, light, overdue, q in rng.sample(combinations, 400):
            filters = dict(status=status, department=department, light=light, overdue=overdue, q=q)
            expected = [i.id for i in _expected(items, departments, open_dues, actor, limit_of_warning,
                                                **filters)]
            for limit, offset in ((50, 0), (4, 0), (4, 4), (5, 200)):
                rows, total = queries.list_items(session, actor, engine.calendar, NOW, limit=limit,
                                                 offset=offset, **filters)
                assert (total, [r.id for r in rows]) == (len(expected), expected[offset:offset + limit]), \
                    (actor.username, filters, limit, offset)

        for actor in ACTORS:
            assert queries.light_counts(session, actor, engine.calendar, NOW) == {
                light: len(_expected(items, departments, open_dues, actor, limit_of_warning, status="open",
                                     light=light))
                for light in ("green", "yellow", "red")}, actor.username
