"""The access policy (``workflows.access``): a table of actor × record → decision per rule, and
the visibility rules checked against their SQL twins in the domains' queries."""
import types

import pytest
from sqlalchemy import func, select

from engine.actor import Actor
from tests.conftest import deploy_shipped
from tests.helpers import new_item
from workflows import access
from workflows.rectification import queries as problem_queries
from workflows.rectification.models import Problem
from workflows.supervision import queries
from workflows.supervision.models import Item, ItemDepartment

ADMIN = Actor("root", frozenset({"admin"}))
SECRETARY = Actor("sec", frozenset({"secretariat"}), "office")
SUPERVISOR = Actor("sup", frozenset({"supervisor"}), "inspect")
LEADER = Actor("boss", frozenset({"leader"}), "office")
OTHER_LEADER = Actor("boss2", frozenset({"leader"}), "office")
LEAD_STAFF = Actor("zhang", frozenset({"staff"}), "d1")
CO_STAFF = Actor("wang", frozenset({"staff"}), "d2")
OUTSIDER = Actor("li", frozenset({"staff"}), "d3")
DESIGNER = Actor("ada", frozenset({"designer"}), "office")
NOBODY = Actor("ghost", frozenset())
ACTORS = {a.username: a for a in (ADMIN, SECRETARY, SUPERVISOR, LEADER, OTHER_LEADER, LEAD_STAFF,
                                  CO_STAFF, OUTSIDER, DESIGNER, NOBODY)}

ITEM = Item(id="i1", code="DB-1", leader="boss", department="d1", status="open")
PROBLEM = Problem(id="p1", code="ZG-1", department="d1")


class Rows:
    """A stand-in session holding the item's department rows and the records by id."""

    def __init__(self, departments=("d1", "d2"), records=(ITEM, PROBLEM)):
        self.departments = {(ITEM.id, d) for d in departments}
        self.records = {(type(r), r.id): r for r in records}

    def get(self, model, key):
        if model is ItemDepartment:
            return object() if key in self.departments else None
        return self.records.get((model, key))


def task(**fields):
    base = {"assignee": None, "candidate_user": None, "candidate_role": None, "candidate_department": None,
            "started_by": "sec", "business_key": None, "state": "open"}
    return types.SimpleNamespace(**{**base, **fields})


def _table(spec):
    """``"root sec sup boss boss2 zhang wang li ada ghost"`` row of Y/N → {username: bool}."""
    return dict(zip(ACTORS, (flag == "Y" for flag in spec.split())))


#                        root sec sup boss boss2 zhang wang li ada ghost
SEES_ITEM = _table(     "Y    Y   Y   Y    N     Y     Y    N  N   N")
SEES_PROBLEM = _table(  "Y    Y   Y   N    N     Y     N    N  N   N")
REGISTERS = _table(     "Y    Y   N   N    N     N     N    N  N   N")
REQUESTS = _table(      "N    N   N   N    N     Y     N    N  N   N")  # plan change, extension
SEES_ESCALATIONS = _table("Y   N   Y   N    N     N     N    N  N   N")
# A task of the item routed to the lead department's staff: who may see / override it.
SEES_ITEM_TASK = _table("Y    Y   Y   Y    N     Y     Y    Y  N   N")  # li: staff routed by role only
OVERRIDES = _table(     "Y    N   Y   Y    N     N     N    N  N   N")
# A task of a generic process (no item, no problem), routed to the secretariat's role.
SEES_PLAIN_TASK = _table("Y   Y   Y   N    N     N     N    N  N   N")


@pytest.mark.parametrize("username", ACTORS)
def test_record_rules(username):
    actor, rows = ACTORS[username], Rows()
    assert access.may_see_item(rows, actor, ITEM) is SEES_ITEM[username]
    assert access.may_see_problem(rows, actor, PROBLEM) is SEES_PROBLEM[username]
    assert access.may_register(actor) is REGISTERS[username]
    assert access.may_request_plan_change(actor, ITEM) is REQUESTS[username]
    assert access.may_request_extension(actor, ITEM) is REQUESTS[username]
    assert access.sees_every_escalation(actor) is SEES_ESCALATIONS[username]


@pytest.mark.parametrize("username", ACTORS)
def test_task_rules(username):
    actor, rows = ACTORS[username], Rows()
    item_task = task(business_key=ITEM.id, candidate_role="staff")
    assert access.may_see_task(rows, actor, item_task) is SEES_ITEM_TASK[username]
    assert access.may_override_task(rows, actor, item_task) is OVERRIDES[username]
    plain = task(candidate_role="secretariat")
    assert access.may_see_task(rows, actor, plain) is SEES_PLAIN_TASK[username]


def test_a_task_record_is_shown_to_whoever_works_the_task_even_outside_their_scope():
    rows = Rows(departments=("d1",))
    assigned = task(business_key=ITEM.id, assignee="wang")
    assert not access.may_see_item(rows, CO_STAFF, ITEM)
    assert access.may_see_task_record(rows, CO_STAFF, assigned, ITEM)
    assert not access.may_see_task_record(rows, OUTSIDER, assigned, ITEM)
    assert not access.may_see_task_record(rows, ADMIN, assigned, None)


def test_claim_and_unclaim():
    free = task(candidate_role="staff", candidate_department="d1")
    held = task(candidate_role="staff", candidate_department="d1", assignee="zhang")
    assert access.may_claim_task(LEAD_STAFF, free) and not access.may_claim_task(CO_STAFF, free)
    assert not access.may_claim_task(LEAD_STAFF, held)  # held: its holder's until given back
    assert not access.may_claim_task(LEAD_STAFF, task(candidate_role="staff", state="completed"))
    assert access.may_unclaim_task(LEAD_STAFF, held, override=False)
    assert not access.may_unclaim_task(CO_STAFF, held, override=False)
    assert access.may_unclaim_task(CO_STAFF, held, override=True)
    assert access.may_unclaim_task(ADMIN, held, override=False)
    assert not access.may_unclaim_task(LEAD_STAFF, free, override=True)  # nothing to give back


def test_the_visibility_rules_agree_with_their_sql_twins(supervision):
    """``may_see_item`` / ``may_see_problem`` against ``queries.scope`` on real rows."""
    deploy_shipped(supervision, "rectification.bpmn")
    items = [new_item(supervision, SECRETARY),
             new_item(supervision, SECRETARY, department="d2", co_departments=[], leader="boss2")]
    from workflows.rectification.problems import create_problem
    problems = [create_problem(supervision, {"title": "问题", "source": "inspection", "department": d,
                                             "deadline": "2026-12-31"}, SECRETARY) for d in ("d1", "d3")]
    with supervision.db.read() as session:
        for actor in ACTORS.values():
            for item in items:
                in_scope = session.scalar(queries.scope(
                    select(func.count()).select_from(Item).where(Item.id == item.id), actor)) == 1
                assert access.may_see_item(session, actor, item) is in_scope, (actor.username, item.department)
            for problem in problems:
                in_scope = session.scalar(problem_queries.scope(
                    select(func.count()).select_from(Problem).where(Problem.id == problem.id), actor)) == 1
                assert access.may_see_problem(session, actor, problem) is in_scope, (actor.username, problem.department)


def test_the_instance_rule_agrees_with_its_sql_twin(supervision):
    """``may_see_instance`` against ``instance_scope`` (issue 13): items' and problems' instances
    only to who may see the record, generic ones to the instance readers and their starter."""
    from engine.models import Instance
    from tests.bpmn_snippets import chain, user_task
    from workflows.rectification.problems import create_problem

    deploy_shipped(supervision, "rectification.bpmn")
    supervision.deploy(chain("generic", user_task(1)))
    instance_ids = [new_item(supervision, SECRETARY).instance_id,
                    new_item(supervision, SECRETARY, department="d2", co_departments=[], leader="boss2").instance_id,
                    create_problem(supervision, {"title": "问题", "source": "inspection", "department": "d3",
                                                 "deadline": "2026-12-31"}, SECRETARY).instance_id,
                    supervision.instances.start("generic", {}, DESIGNER).id,
                    supervision.instances.start("generic", {}, ADMIN, business_key="not-a-record").id]
    with supervision.db.read() as session:
        for actor in ACTORS.values():
            scope = access.instance_scope(actor)
            for instance_id in instance_ids:
                instance = session.get(Instance, instance_id)
                query = select(func.count()).select_from(Instance).where(Instance.id == instance_id)
                in_scope = session.scalar(query if scope is None else query.where(scope)) == 1
                assert access.may_see_instance(session, actor, instance) is in_scope, (actor.username, instance_id)
    with supervision.db.read() as session:
        seen = {a: [access.may_see_instance(session, ACTORS[a], session.get(Instance, i)) for i in instance_ids]
                for a in ("ada", "sec", "zhang", "boss")}
    assert seen["ada"] == [False, False, False, True, True]
    assert seen["sec"] == [True] * 5
    assert seen["zhang"] == [False] * 5 and seen["boss"] == [False] * 5  # no instance reader, started none


def test_confined_overseers_rules_agree_with_their_sql_twins(supervision):
    """The department tree (issue 16): a county's secretariat and supervisor see their subtree;
    the rules and their SQL twins (items, problems, tasks, instances) agree on real rows."""
    from api.models import Department
    from engine.models import HumanTask, Instance
    from workflows.rectification.problems import create_problem

    deploy_shipped(supervision, "rectification.bpmn")
    with supervision.db.write() as session:
        for code, path in (("city", "/city/"), ("ca", "/city/ca/"), ("d1", "/city/ca/d1/"),
                           ("cb", "/city/cb/"), ("d2", "/city/cb/d2/"), ("d3", "/d3/")):
            session.add(Department(code=code, name=code, path=path, parent_code=path.split("/")[-3] or None))
    county_a = [Actor("seca", frozenset({"secretariat"}), "ca", "/city/ca/"),
                Actor("supa", frozenset({"supervisor"}), "ca", "/city/ca/")]
    city = Actor("secc", frozenset({"secretariat"}), "city", "/city/")
    assert [access.confinement(a) for a in (*county_a, city, ADMIN, LEAD_STAFF)] == ["/city/ca/", "/city/ca/",
                                                                                      None, None, None]
    items = [new_item(supervision, city, co_departments=[]),
             new_item(supervision, city, department="d2", co_departments=["d1"]),
             new_item(supervision, city, department="d2", co_departments=[])]
    problems = [create_problem(supervision, {"title": "问题", "source": "inspection", "department": d,
                                             "deadline": "2026-12-31"}, city) for d in ("d1", "d2", "d3")]
    with supervision.db.read() as session:
        tasks = list(session.scalars(select(HumanTask)))
        for actor in (*county_a, city):
            seen = [access.may_see_item(session, actor, i) for i in items]
            in_scope = [session.scalar(queries.scope(select(func.count()).select_from(Item)
                                                     .where(Item.id == i.id), actor)) == 1 for i in items]
            assert seen == in_scope == ([True, True, False] if actor in county_a else [True] * 3)
            seen = [access.may_see_problem(session, actor, p) for p in problems]
            in_scope = [session.scalar(problem_queries.scope(select(func.count()).select_from(Problem)
                                                             .where(Problem.id == p.id), actor)) == 1 for p in problems]
            assert seen == in_scope == ([True, False, False] if actor in county_a else [True] * 3)
            scope = access.instance_scope(actor)
            for item in items:
                instance = session.get(Instance, item.instance_id)
                query = select(func.count()).select_from(Instance).where(Instance.id == instance.id)
                assert access.may_see_instance(session, actor, instance) is (
                    session.scalar(query if scope is None else query.where(scope)) == 1)
            condition = access.task_scope(actor)
            for row in tasks:
                query = select(func.count()).select_from(HumanTask).where(HumanTask.id == row.id)
                twin = session.scalar(query if condition is None else query.where(condition)) == 1
                assert access.may_work_task(session, actor, row) is (access.may_work(actor, row) and twin)
