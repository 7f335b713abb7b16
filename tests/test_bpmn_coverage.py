"""The BPMN coverage table (docs/BPMN.md), row by row: each ✔ row's model deployed through the
engine and run down its expected path, each ◐ row's limitation shown, each ✘ row refused at
deploy with a message naming the element. The test names are the ones the table cites.

Speed: one engine per database for the whole module (each case deploys its own process
key and starts its own instance, so cases do not see each other); the simulated clock is
shared, so timer cases use durations, never fixed dates.
"""
import dataclasses

import pytest
from sqlalchemy import func, select

from api import schema
from engine.actor import Actor
from engine.db import Database
from engine.errors import Conflict, InvalidDefinition
from engine.models import Definition, HumanTask, Timer
from engine.registry import Registry
from engine.runtime import Engine
from tests.bpmn_coverage import (
    CANCEL_DEF, COMPENSATE_DEF, DMN, ERROR_DEF, ERROR_FAIL, ESCALATION_DEF, ESCALATION_UP, SIGNAL_DEF,
    SIGNAL_GO, START, boundary, catch, chain_arrows, chain_flows, conditional, document, end, flows, graph, inner, line,
    message, message_definition, node_id, script, service, subprocess, throw, timer, user)
from tests.conftest import _reset_postgres, make_config
from tests.helpers import snapshot

ADMIN = Actor("root", frozenset({"admin"}), "office")
HOUR = 3600


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request, tmp_path_factory):
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('coverage') / 'duban.db'}"
        db = Database(url)
        schema.upgrade(db)
        db.dispose()
    registry = Registry()
    registry.service("cov.double")(lambda n: 2 * n)
    built = Engine(make_config(url), registry)
    built.deploy(DMN)
    yield built
    built.close()


@dataclasses.dataclass
class Case:
    """Deploy ``model`` (process key = the case's name), start it with ``start``, run
    ``steps``, then expect ``status``, the open human tasks ``open`` (keys, sorted), the
    final data to contain ``data`` and to lack the keys in ``absent``.

    Steps: ``("complete", key, data)`` (the first open task with that key),
    ``("message", name, payload)``, ``("advance", seconds)``; checks on the way:
    ``("open", keys)``, ``("routed", key, role)`` (the open task's candidate role).
    ``error``: a part of the instance's error (a ◐ row that ends in error). ``cancelled``:
    the keys of the inbox rows that closed as cancelled (sorted).
    """
    model: bytes
    steps: tuple = ()
    start: dict = dataclasses.field(default_factory=dict)
    status: str = "completed"
    open: tuple = ()
    data: dict = dataclasses.field(default_factory=dict)
    absent: tuple = ()
    error: str | None = None
    cancelled: tuple = ()


def open_keys(engine, instance_id):
    rows, _ = engine.tasks.inbox(ADMIN, instance_id=instance_id)
    return tuple(sorted(row.key for row in rows))


def run(engine, name, case):
    instance = engine.instances.start(name, case.start, ADMIN)
    for step in case.steps:
        kind, *args = step
        if kind == "complete":
            key, data = args
            task = next(row for row in engine.tasks.inbox(ADMIN, instance_id=instance.id)[0] if row.key == key)
            engine.tasks.complete(task.id, data, ADMIN)
        elif kind == "message":
            engine.instances.send_message(instance.id, *args, ADMIN)
        elif kind == "advance":
            engine.advance_clock(seconds=args[0])
        elif kind == "open":
            assert open_keys(engine, instance.id) == tuple(sorted(args[0])), step
        elif kind == "routed":
            key, role = args
            task = next(row for row in engine.tasks.inbox(ADMIN, instance_id=instance.id)[0] if row.key == key)
            assert task.candidate_role == role, step
    return engine.instances.get(instance.id)


def rows(engine, table, instance_id, state):
    with engine.db.read() as session:
        return tuple(sorted(session.scalars(select(table.task_key if table is Timer else table.key).where(
            table.instance_id == instance_id, table.state == state))))


def final_data(engine, instance):
    workflow = engine.uow.load(instance)
    if workflow.is_completed():
        return workflow.data
    merged = {}
    for task in workflow.get_tasks():
        merged.update(task.data)
    return merged


WORK = user("work")
EXCLUSIVE = [START, '<bpmn:exclusiveGateway id="gw" default="f_gw_b"/>', script("a", "path = 'a'"),
             script("b", "path = 'b'"), '<bpmn:exclusiveGateway id="merge"/>', end("end")]
EXCLUSIVE_FLOWS = ("start>gw", ("gw>a", "x &gt; 1"), "gw>b", "a>merge", "b>merge", "merge>end")
EVENT_BASED = [
    '<bpmn:eventBasedGateway id="gw"/>', catch("msg", message_definition("go")), catch("tmo", timer("PT1H")),
    script("got_msg", "via = 'message'"), script("got_tmo", "via = 'timer'"), end("end")]
EVENT_BASED_FLOWS = ("start>gw", "gw>msg", "gw>tmo", "msg>got_msg", "tmo>got_tmo", "got_msg>end", "got_tmo>end")
CALLEE = ('<bpmn:process id="cov_callee" isExecutable="true">'
          + inner("callee", user("inside"), script("add", "y = x + 1")) + "</bpmn:process>\n")


def on_work(key, event, *after, interrupting=True, root=""):
    """start -> work -> end, and ``event`` (a definition) on work's boundary -> ``after`` -> end2."""
    return graph(key, [WORK, boundary("evt", "work", event, interrupting), *after, end("end"), end("end2")],
                 "start>work", "work>end", *chain_arrows("evt", *map(node_id, after), "end2"), root=root)


def event_subprocess(key, start_definition, interrupting, *body, root=""):
    """start -> work -> end, and an event subprocess: its start (``start_definition``) -> body."""
    evt = subprocess("evt", f'<bpmn:startEvent id="evt_start" isInterrupting="{str(interrupting).lower()}">'
                     f"{start_definition}</bpmn:startEvent>" + "".join(body) + end("evt_end")
                     + chain_flows("evt_start", *map(node_id, body), "evt_end"), 'triggeredByEvent="true"')
    return graph(key, [WORK, end("end"), evt], "start>work", "work>end", root=root)


def multi_instance(task, sequential, inputs="", outputs="", cardinality="", condition="", item="", out_item=""):
    return (f'<bpmn:{task[0]} id="{task[1]}" name="{task[1]}">'
            f'<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}">'
            + (f"<bpmn:loopCardinality>{cardinality}</bpmn:loopCardinality>" if cardinality else "")
            + (f"<bpmn:loopDataInputRef>{inputs}</bpmn:loopDataInputRef>" if inputs else "")
            + (f"<bpmn:loopDataOutputRef>{outputs}</bpmn:loopDataOutputRef>" if outputs else "")
            + (f'<bpmn:inputDataItem id="{item}" name="{item}"/>' if item else "")
            + (f'<bpmn:outputDataItem id="{out_item}" name="{out_item}"/>' if out_item else "")
            + (f"<bpmn:completionCondition>{condition}</bpmn:completionCondition>" if condition else "")
            + f"</bpmn:multiInstanceLoopCharacteristics>{task[2]}</bpmn:{task[0]}>")


FLAG = ['<bpmn:dataObject id="flag" name="flag"/>',
        '<bpmn:dataObjectReference id="flag_ref" dataObjectRef="flag"/>',
        '<bpmn:scriptTask id="init"><bpmn:dataOutputAssociation id="init_flag"><bpmn:targetRef>flag_ref'
        '</bpmn:targetRef></bpmn:dataOutputAssociation><bpmn:script>flag = False</bpmn:script></bpmn:scriptTask>',
        '<bpmn:parallelGateway id="fork"/>',
        '<bpmn:userTask id="a" name="a"><bpmn:dataOutputAssociation id="a_flag"><bpmn:targetRef>flag_ref'
        '</bpmn:targetRef></bpmn:dataOutputAssociation></bpmn:userTask>']
"""Data object ``flag``: False at start, then whatever user task ``a`` (after ``fork``) sets."""


# -- ✔: runs as BPMN says ------------------------------------------------------------------------
SUPPORTED = {
    # tasks
    "user_task": Case(line("user_task", WORK), (("open", ["work"]), ("complete", "work", {"ok": True})),
                      data={"ok": True}),
    "user_task_pre_script": Case(line("user_task_pre_script", '<bpmn:userTask id="work" name="work">'
                                      '<bpmn:extensionElements><spiffworkflow:preScript>opened = 1 + 1'
                                      '</spiffworkflow:preScript></bpmn:extensionElements></bpmn:userTask>'),
                                 (("open", ["work"]), ("complete", "work", {"ok": True})),
                                 data={"opened": 2, "ok": True}),
    "manual_task": Case(line("manual_task", '<bpmn:manualTask id="m" name="m"/>'),
                        (("open", ["m"]), ("complete", "m", {"done": 1})), data={"done": 1}),
    "script_task": Case(line("script_task", script("s", "x = 1 + 1")), data={"x": 2}),
    "service_task": Case(line("service_task", service("svc", "cov.double", "doubled", n="n")),
                         start={"n": 21}, data={"doubled": 42}),
    "business_rule_task": Case(line("business_rule_task", '<bpmn:businessRuleTask id="br"><bpmn:extensionElements>'
                                    '<spiffworkflow:calledDecisionId>cov_level</spiffworkflow:calledDecisionId>'
                                    '</bpmn:extensionElements></bpmn:businessRuleTask>'),
                               start={"amount": 150}, data={"level": "high"}),
    "receive_task": Case(line("receive_task", '<bpmn:receiveTask id="r" messageRef="m_go"><bpmn:extensionElements>'
                              '<spiffworkflow:messageVariable>payload</spiffworkflow:messageVariable>'
                              '</bpmn:extensionElements></bpmn:receiveTask>', root=message("go")),
                         (("message", "go", {"v": 1}),), data={"payload": {"v": 1}}),
    "send_task_within_instance": Case(graph(
        "send_task_within_instance",
        ['<bpmn:parallelGateway id="fork"/>', WORK,
         '<bpmn:sendTask id="s" messageRef="m_go"><bpmn:extensionElements><spiffworkflow:messagePayload>'
         "{'from': 's'}</spiffworkflow:messagePayload></bpmn:extensionElements></bpmn:sendTask>",
         '<bpmn:receiveTask id="r" messageRef="m_go"><bpmn:extensionElements><spiffworkflow:messageVariable>'
         'payload</spiffworkflow:messageVariable></bpmn:extensionElements></bpmn:receiveTask>',
         '<bpmn:parallelGateway id="join"/>', end("end")],
        "start>fork", "fork>work", "work>s", "s>join", "fork>r", "r>join", "join>end", root=message("go")),
        (("open", ["work"]), ("complete", "work", {})), data={"payload": {"from": "s"}}),
    # gateways
    "exclusive_gateway_condition": Case(document("exclusive_gateway_condition", "".join(EXCLUSIVE)
                                                 + flows(*EXCLUSIVE_FLOWS)), start={"x": 5}, data={"path": "a"}),
    "exclusive_gateway_default": Case(document("exclusive_gateway_default", "".join(EXCLUSIVE)
                                               + flows(*EXCLUSIVE_FLOWS)), start={"x": 0}, data={"path": "b"}),
    "inclusive_gateway": Case(graph(
        "inclusive_gateway",
        ['<bpmn:inclusiveGateway id="gw" default="f_gw_c"/>', script("a", "a_ran = True"),
         script("b", "b_ran = True"), script("c", "c_ran = True"), '<bpmn:inclusiveGateway id="merge"/>', end("end")],
        "start>gw", ("gw>a", "x &gt; 1"), ("gw>b", "x &gt; 2"), "gw>c", "a>merge", "b>merge", "c>merge", "merge>end"),
        start={"x": 5}, data={"a_ran": True, "b_ran": True}, absent=("c_ran",)),
    "parallel_gateway": Case(graph(
        "parallel_gateway", ['<bpmn:parallelGateway id="fork"/>', user("a"), user("b"),
                             '<bpmn:parallelGateway id="join"/>', end("end")],
        "start>fork", "fork>a", "fork>b", "a>join", "b>join", "join>end"),
        (("open", ["a", "b"]), ("complete", "a", {"a": 1}), ("open", ["b"]), ("complete", "b", {"b": 2})),
        data={"a": 1, "b": 2}),
    "event_based_gateway_message": Case(graph("event_based_gateway_message", EVENT_BASED, *EVENT_BASED_FLOWS,
                                              root=message("go")), (("message", "go", {}),), data={"via": "message"}),
    "event_based_gateway_timer": Case(graph("event_based_gateway_timer", EVENT_BASED, *EVENT_BASED_FLOWS,
                                            root=message("go")), (("advance", HOUR + 1),), data={"via": "timer"}),
    # subprocesses
    "embedded_subprocess": Case(line("embedded_subprocess", subprocess("sub", inner("sub", user("inside")))),
                                (("open", ["inside"]), ("complete", "inside", {"v": 1})), data={"v": 1}),
    "call_activity_same_file": Case(line("call_activity_same_file",
                                         '<bpmn:callActivity id="call" calledElement="cov_callee"/>', more=CALLEE),
                                    (("open", ["inside"]), ("complete", "inside", {})), start={"x": 1},
                                    data={"y": 2}),
    "call_activity_error_boundary": Case(graph(
        "call_activity_error_boundary",
        ['<bpmn:callActivity id="call" calledElement="cov_failing"/>', boundary("caught", "call", ERROR_DEF),
         script("h", "handled = True"), end("end"), end("end2")],
        "start>call", "call>end", "caught>h", "h>end2", root=ERROR_FAIL,
        more='<bpmn:process id="cov_failing" isExecutable="true"><bpmn:startEvent id="f_start"/>'
             + end("f_end", ERROR_DEF) + flows("f_start>f_end") + "</bpmn:process>\n"), data={"handled": True}),
    "event_subprocess_timer_non_interrupting": Case(event_subprocess(
        "event_subprocess_timer_non_interrupting", timer("PT1H"), False, user("follow")),
        (("open", ["work"]), ("advance", HOUR + 1), ("open", ["follow", "work"]), ("complete", "follow", {}),
         ("complete", "work", {}))),
    "event_subprocess_message_non_interrupting": Case(event_subprocess(
        "event_subprocess_message_non_interrupting", message_definition("ask"), False, user("answer"),
        root=message("ask")), (("message", "ask", {}), ("open", ["answer", "work"]),
                               ("complete", "answer", {}), ("complete", "work", {}))),
    "event_subprocess_signal_non_interrupting": Case(graph(
        "event_subprocess_signal_non_interrupting",
        [WORK, throw("t", SIGNAL_DEF), user("last"), end("end"), subprocess(
            "evt", f'<bpmn:startEvent id="evt_start" isInterrupting="false">{SIGNAL_DEF}</bpmn:startEvent>'
            + user("heard") + end("evt_end") + flows("evt_start>heard", "heard>evt_end"),
            'triggeredByEvent="true"')],
        "start>work", "work>t", "t>last", "last>end", root=SIGNAL_GO),
        (("complete", "work", {}), ("open", ["heard", "last"]), ("complete", "heard", {}),
         ("complete", "last", {}))),
    "transaction": Case(line("transaction", '<bpmn:transaction id="tx">' + inner("tx", user("inside"))
                             + "</bpmn:transaction>"), (("complete", "inside", {"v": 1}),), data={"v": 1}),
    "cancel_end_and_boundary_on_transaction": Case(graph(
        "cancel_end_and_boundary_on_transaction",
        ['<bpmn:transaction id="tx"><bpmn:startEvent id="tx_start"/>' + end("tx_cancel", CANCEL_DEF)
         + flows("tx_start>tx_cancel") + "</bpmn:transaction>",
         boundary("cancelled", "tx", CANCEL_DEF), script("h", "cancelled = True"), end("end"), end("end2")],
        "start>tx", "tx>end", "cancelled>h", "h>end2"), data={"cancelled": True}),
    # intermediate events
    "timer_catch_duration": Case(line("timer_catch_duration", catch("wait", timer("PT1H")), script("s", "x = 1")),
                                 (("advance", HOUR - 1), ("open", []), ("advance", 2)), data={"x": 1}),
    "timer_catch_bare_iso": Case(line(
        "timer_catch_bare_iso", '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
        script("s", "x = 1")), (("advance", HOUR - 1), ("open", []), ("advance", 2)), data={"x": 1}),
    "timer_catch_date_working_days": Case(line("timer_catch_date_working_days", catch(
        "wait", "<bpmn:timerEventDefinition><bpmn:timeDate>add_working_days(now(), 1)</bpmn:timeDate>"
        "</bpmn:timerEventDefinition>"), user("next")),
        (("advance", 23 * HOUR), ("open", []), ("advance", 7 * 24 * HOUR)), status="running", open=("next",)),
    "message_catch_event": Case(line("message_catch_event", catch("c", message_definition("go", "payload")),
                                     root=message("go")), (("message", "go", {"v": 1}),), data={"payload": {"v": 1}}),
    "signal_throw_and_catch": Case(graph(
        "signal_throw_and_catch", ['<bpmn:parallelGateway id="fork"/>', WORK, throw("t", SIGNAL_DEF),
                                   catch("c", SIGNAL_DEF), '<bpmn:parallelGateway id="join"/>', end("end")],
        "start>fork", "fork>work", "work>t", "t>join", "fork>c", "c>join", "join>end", root=SIGNAL_GO),
        (("open", ["work"]), ("complete", "work", {}))),
    "multiple_catch_event": Case(line("multiple_catch_event", catch("either", message_definition("go") + timer("PT1H")),
                                      user("next"), root=message("go")),
                                 (("message", "go", {}), ("complete", "next", {}))),
    "parallel_multiple_catch_event": Case(line(
        "parallel_multiple_catch_event", catch("both", message_definition("go") + timer("PT1H")).replace(
            'id="both"', 'id="both" parallelMultiple="true"'), user("next"), root=message("go")),
        (("message", "go", {}), ("open", []), ("advance", HOUR + 1), ("complete", "next", {}))),
    "none_throw_event": Case(line("none_throw_event", throw("t", ""), script("s", "x = 1")), data={"x": 1}),
    "conditional_catch": Case(graph(
        "conditional_catch", [*FLAG, catch("c", conditional("flag")), script("h", "seen = True"),
                              '<bpmn:parallelGateway id="join"/>', end("end")],
        "start>init", "init>fork", "fork>a", "a>join", "fork>c", "c>h", "h>join", "join>end"),
        (("open", ["a"]), ("complete", "a", {"flag": True})), data={"seen": True}),
    # boundary events
    "timer_boundary_interrupting": Case(on_work("timer_boundary_interrupting", timer("PT1H"),
                                                 script("late", "late = True")),
                                        (("advance", HOUR + 1),), data={"late": True}, cancelled=("work",)),
    "timer_boundary_non_interrupting": Case(on_work("timer_boundary_non_interrupting", timer("PT1H"),
                                                     user("remind"), interrupting=False),
                                            (("advance", HOUR + 1), ("open", ["remind", "work"]),
                                             ("complete", "remind", {}), ("complete", "work", {}))),
    "timer_boundary_cycle": Case(on_work("timer_boundary_cycle", '<bpmn:timerEventDefinition><bpmn:timeCycle>'
                                          '"R2/PT1H"</bpmn:timeCycle></bpmn:timerEventDefinition>',
                                          user("remind"), interrupting=False),
                                 (("advance", 3 * HOUR), ("open", ["remind", "remind", "work"]),
                                  ("complete", "remind", {}), ("complete", "remind", {}), ("complete", "work", {}))),
    "message_boundary_interrupting": Case(on_work("message_boundary_interrupting", message_definition("stop", "why"),
                                                   script("h", "stopped = True"), root=message("stop")),
                                          (("message", "stop", {"r": 1}),), data={"stopped": True, "why": {"r": 1}},
                                          cancelled=("work",)),
    "message_boundary_non_interrupting": Case(on_work("message_boundary_non_interrupting", message_definition("ask"),
                                                       user("answer"), interrupting=False, root=message("ask")),
                                              (("message", "ask", {}), ("open", ["answer", "work"]),
                                               ("complete", "answer", {}), ("complete", "work", {}))),
    "signal_boundary": Case(graph(
        "signal_boundary", ['<bpmn:parallelGateway id="fork"/>', user("a"), throw("t", SIGNAL_DEF), WORK,
                            boundary("sig", "work", SIGNAL_DEF), script("h", "signalled = True"),
                            end("end"), end("end2"), end("end3")],
        "start>fork", "fork>a", "a>t", "t>end", "fork>work", "work>end2", "sig>h", "h>end3", root=SIGNAL_GO),
        (("open", ["a", "work"]), ("complete", "a", {})), data={"signalled": True}, cancelled=("work",)),
    "error_end_and_boundary": Case(graph(
        "error_end_and_boundary",
        [subprocess("sub", '<bpmn:startEvent id="sub_start"/>' + end("sub_end", ERROR_DEF)
                    + flows("sub_start>sub_end")),
         boundary("caught", "sub", ERROR_DEF), script("h", "handled = True"), end("end"), end("end2")],
        "start>sub", "sub>end", "caught>h", "h>end2", root=ERROR_FAIL), data={"handled": True}),
    "escalation_throw_and_boundary": Case(graph(
        "escalation_throw_and_boundary",
        [subprocess("sub", inner("sub", throw("up", ESCALATION_DEF), user("inside"))),
         boundary("seen", "sub", ESCALATION_DEF, interrupting=False), user("notice"), end("end"), end("end2")],
        "start>sub", "sub>end", "seen>notice", "notice>end2", root=ESCALATION_UP),
        (("open", ["inside", "notice"]), ("complete", "notice", {}), ("complete", "inside", {}))),
    "escalation_end_and_boundary": Case(graph(
        "escalation_end_and_boundary",
        [subprocess("sub", '<bpmn:startEvent id="sub_start"/>' + end("sub_end", ESCALATION_DEF)
                    + flows("sub_start>sub_end")),
         boundary("seen", "sub", ESCALATION_DEF), script("h", "escalated = True"), end("end"), end("end2")],
        "start>sub", "sub>end", "seen>h", "h>end2", root=ESCALATION_UP), data={"escalated": True}),
    "conditional_boundary": Case(graph(
        "conditional_boundary", [*FLAG, WORK, boundary("cond", "work", conditional("flag")),
                                 script("h", "interrupted = True"), end("end"), end("end2"), end("end3")],
        "start>init", "init>fork", "fork>a", "a>end", "fork>work", "work>end2", "cond>h", "h>end3"),
        (("open", ["a", "work"]), ("complete", "a", {"flag": True})), data={"interrupted": True},
        cancelled=("work",)),
    # end events
    "terminate_end_event": Case(graph(
        "terminate_end_event", ['<bpmn:parallelGateway id="fork"/>', user("a"), user("b"),
                                end("stop", "<bpmn:terminateEventDefinition/>"), end("end")],
        "start>fork", "fork>a", "fork>b", "a>stop", "b>end"),
        (("open", ["a", "b"]), ("complete", "a", {})), cancelled=("b",)),
    "terminate_end_in_subprocess": Case(line("terminate_end_in_subprocess", subprocess(
        "sub", '<bpmn:startEvent id="sub_start"/><bpmn:parallelGateway id="sub_fork"/>' + user("a") + user("b")
        + end("sub_stop", "<bpmn:terminateEventDefinition/>") + end("sub_end")
        + flows("sub_start>sub_fork", "sub_fork>a", "sub_fork>b", "a>sub_stop", "b>sub_end")), user("after")),
        (("complete", "a", {}), ("open", ["after"]), ("complete", "after", {})), cancelled=("b",)),
    "escalation_end_uncaught": Case(graph("escalation_end_uncaught", [end("up", ESCALATION_DEF)], "start>up",
                                          root=ESCALATION_UP)),
    # multi-instance and loops
    "multi_instance_parallel_collection": Case(line("multi_instance_parallel_collection", multi_instance(
        ("userTask", "opinion", ""), False, inputs="depts", outputs="opinions", item="dept", out_item="op")),
        (("open", ["opinion", "opinion"]), ("complete", "opinion", {"op": "yes"}),
         ("complete", "opinion", {"op": "no"})), start={"depts": ["d1", "d2"]},
        data={"opinions": ["yes", "no"]}),
    "multi_instance_sequential_collection": Case(line("multi_instance_sequential_collection", multi_instance(
        ("userTask", "opinion", ""), True, inputs="depts", outputs="opinions", item="dept", out_item="op")),
        (("open", ["opinion"]), ("complete", "opinion", {"op": "yes"}), ("open", ["opinion"]),
         ("complete", "opinion", {"op": "no"})), start={"depts": ["d1", "d2"]},
        data={"opinions": ["yes", "no"]}),
    "multi_instance_cardinality": Case(line("multi_instance_cardinality", multi_instance(
        ("scriptTask", "sq", "<bpmn:script>square = i * i</bpmn:script>"), True, cardinality="3",
        outputs="squares", item="i", out_item="square")), data={"squares": [0, 1, 4]}),
    "multi_instance_completion_condition": Case(line("multi_instance_completion_condition", multi_instance(
        ("userTask", "opinion", ""), False, inputs="depts", outputs="opinions", item="dept", out_item="op",
        condition="op == 'veto'")),
        (("open", ["opinion"] * 3), ("complete", "opinion", {"op": "veto"})), start={"depts": ["d1", "d2", "d3"]},
        cancelled=("opinion", "opinion")),
    "standard_loop": Case(line("standard_loop", '<bpmn:scriptTask id="s"><bpmn:standardLoopCharacteristics>'
                               "<bpmn:loopCondition>count &lt; 3</bpmn:loopCondition>"
                               "</bpmn:standardLoopCharacteristics><bpmn:script>count = count + 1</bpmn:script>"
                               "</bpmn:scriptTask>"), start={"count": 0}, data={"count": 3}),
    "standard_loop_maximum": Case(line("standard_loop_maximum",
                                       '<bpmn:scriptTask id="s"><bpmn:standardLoopCharacteristics loopMaximum="2">'
                                       "<bpmn:loopCondition>True</bpmn:loopCondition>"
                                       "</bpmn:standardLoopCharacteristics><bpmn:script>count = count + 1</bpmn:script>"
                                       "</bpmn:scriptTask>"), start={"count": 0}, data={"count": 2}),
    # data
    "data_objects": Case(graph(
        "data_objects",
        ['<bpmn:dataObject id="total" name="total"/>',
         '<bpmn:dataObjectReference id="total_ref" dataObjectRef="total"/>',
         '<bpmn:scriptTask id="s1"><bpmn:dataOutputAssociation id="da1"><bpmn:targetRef>total_ref</bpmn:targetRef>'
         '</bpmn:dataOutputAssociation><bpmn:script>total = 5</bpmn:script></bpmn:scriptTask>',
         '<bpmn:scriptTask id="s2"><bpmn:property id="s2_in" name="__targetRef_placeholder"/>'
         '<bpmn:dataInputAssociation id="da2"><bpmn:sourceRef>total_ref</bpmn:sourceRef><bpmn:targetRef>s2_in'
         '</bpmn:targetRef></bpmn:dataInputAssociation>'
         '<bpmn:script>doubled = total * 2</bpmn:script></bpmn:scriptTask>',
         end("end")], "start>s1", "s1>s2", "s2>end"), data={"doubled": 10}, absent=("total",)),
    "io_specification": Case(line(
        "io_specification",
        '<bpmn:scriptTask id="s"><bpmn:ioSpecification><bpmn:dataInput id="x" name="x"/>'
        '<bpmn:dataOutput id="y" name="y"/><bpmn:inputSet><bpmn:dataInputRefs>x</bpmn:dataInputRefs></bpmn:inputSet>'
        '<bpmn:outputSet><bpmn:dataOutputRefs>y</bpmn:dataOutputRefs></bpmn:outputSet></bpmn:ioSpecification>'
        '<bpmn:script>y = x * 2\nz = 9</bpmn:script></bpmn:scriptTask>'), start={"x": 2}, data={"y": 4}, absent=("z",)),
    # lanes
    "lanes": Case(document("lanes", '<bpmn:laneSet id="ls"><bpmn:lane id="l1" name="leader"><bpmn:flowNodeRef>work'
                           '</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>' + START + WORK + end("end")
                           + flows("start>work", "work>end")),
                  (("routed", "work", "leader"), ("complete", "work", {}))),
}

# -- ◐: runs, with the limitation the table states ---------------------------------------------------
LIMITED = {
    "none_task_waits_for_a_person": Case(line("none_task_waits_for_a_person", '<bpmn:task id="t" name="t"/>'),
                                         (("open", ["t"]), ("complete", "t", {}))),
    "message_start_event_waits_in_a_started_instance": Case(document(
        "message_start_event_waits_in_a_started_instance",
        f'<bpmn:startEvent id="s1">{message_definition("go", "payload")}</bpmn:startEvent>' + end("end")
        + flows("s1>end"), root=message("go")), (("message", "go", {"v": 1}),), data={"payload": {"v": 1}}),
    "timer_start_event_waits_in_a_started_instance": Case(document(
        "timer_start_event_waits_in_a_started_instance",
        f'<bpmn:startEvent id="s1">{timer("PT1H")}</bpmn:startEvent>' + script("s", "x = 1") + end("end")
        + flows("s1>s", "s>end")), (("advance", HOUR + 1),), data={"x": 1}),
    "conditional_start_event_checked_once": Case(document(
        "conditional_start_event_checked_once",
        f'<bpmn:startEvent id="s1">{conditional("ready")}</bpmn:startEvent>' + user("go") + end("end")
        + flows("s1>go", "go>end")), start={"ready": False}, status="running"),
    "error_end_event_uncaught_completes": Case(graph("error_end_event_uncaught_completes", [end("boom", ERROR_DEF)],
                                                     "start>boom", root=ERROR_FAIL)),
    "error_end_event_uncaught_in_subprocess_goes_on": Case(line(
        "error_end_event_uncaught_in_subprocess_goes_on",
        subprocess("sub", '<bpmn:startEvent id="sub_start"/>' + end("sub_err", ERROR_DEF) + flows("sub_start>sub_err")),
        user("after"), root=ERROR_FAIL), (("open", ["after"]), ("complete", "after", {}))),
    "task_failure_is_not_a_bpmn_error": Case(on_work(
        "task_failure_is_not_a_bpmn_error", ERROR_DEF, script("h", "handled = True"), root=ERROR_FAIL).replace(
            b'<bpmn:userTask id="work" name="work"/>', b'<bpmn:scriptTask id="work"><bpmn:script>x = 1 / 0'
            b'</bpmn:script></bpmn:scriptTask>'), status="error", error="division by zero", absent=("handled",)),
    "event_subprocess_data_stays_inside": Case(event_subprocess(
        "event_subprocess_data_stays_inside", message_definition("ask", "question"), False,
        script("h", "answered = True"), root=message("ask")),
        (("message", "ask", {"q": 1}), ("complete", "work", {})), absent=("question", "answered")),
}


# -- ✘: refused at deploy, naming the element --------------------------------------------------------
LINKED = [throw("to_b", '<bpmn:linkEventDefinition name="b"/>'),
          catch("from_a", '<bpmn:linkEventDefinition name="b"/>'), end("end")]
REFUSED = {
    "pre_script_import": (line("pre_script_import", '<bpmn:userTask id="work" name="work"><bpmn:extensionElements>'
                               '<spiffworkflow:preScript>import os</spiffworkflow:preScript>'
                               '</bpmn:extensionElements></bpmn:userTask>'), "work", "imports are not allowed"),
    "complex_gateway": (graph("complex_gateway", ['<bpmn:complexGateway id="cx"/>', end("end")],
                              "start>cx", "cx>end"), "cx", "complex gateways are not supported"),
    "ad_hoc_subprocess": (line("ad_hoc_subprocess", '<bpmn:adHocSubProcess id="adhoc">' + user("inside")
                               + "</bpmn:adHocSubProcess>"), "adhoc", "ad-hoc subprocesses are not supported"),
    "compensation_boundary_event": (graph(
        "compensation_boundary_event",
        [WORK, boundary("comp", "work", COMPENSATE_DEF), end("end"),
         '<bpmn:scriptTask id="undo" isForCompensation="true"><bpmn:script>x = 0</bpmn:script></bpmn:scriptTask>'],
        "start>work", "work>end"), "comp", "compensation boundary events are not supported"),
    "compensation_activity": (graph(
        "compensation_activity", [WORK, end("end"), '<bpmn:scriptTask id="undo" isForCompensation="true">'
                                  "<bpmn:script>x = 0</bpmn:script></bpmn:scriptTask>"],
        "start>work", "work>end"), "undo", "compensation activities (isForCompensation) are not supported"),
    "compensation_throw_event": (line("compensation_throw_event", throw("comp", COMPENSATE_DEF)), "comp",
                                 "compensation throw events are not supported"),
    "compensation_end_event": (graph("compensation_end_event", [end("comp", COMPENSATE_DEF)], "start>comp"),
                               "comp", "compensation end events are not supported"),
    "link_events": (graph("link_events", LINKED, "start>to_b", "from_a>end"), "to_b", "link events are not supported"),
    "signal_end_event": (graph("signal_end_event", [end("sig", SIGNAL_DEF)], "start>sig", root=SIGNAL_GO), "sig",
                         "signal end events are not supported"),
    "signal_start_event": (document("signal_start_event", f'<bpmn:startEvent id="sig">{SIGNAL_DEF}</bpmn:startEvent>'
                                    + end("end") + flows("sig>end"), root=SIGNAL_GO), "sig",
                           "signal start events of a process are not supported"),
    "event_subprocess_interrupting": (event_subprocess(
        "event_subprocess_interrupting", message_definition("stop"), True, script("h", "x = 1"), root=message("stop")),
        "evt_start", "interrupting event subprocesses are not supported"),
    "event_subprocess_error_start": (event_subprocess(
        "event_subprocess_error_start", ERROR_DEF, False, script("h", "x = 1"), root=ERROR_FAIL),
        "evt_start", "event subprocesses started by an error are not supported"),
    "event_subprocess_escalation_start": (event_subprocess(
        "event_subprocess_escalation_start", ESCALATION_DEF, False, script("h", "x = 1"), root=ESCALATION_UP),
        "evt_start", "event subprocesses started by an escalation are not supported"),
    "event_subprocess_conditional_start": (event_subprocess(
        "event_subprocess_conditional_start", conditional("x"), False, script("h", "x = 1")),
        "evt_start", "event subprocesses started by a condition are not supported"),
    "cancel_end_event_outside_transaction": (graph("cancel_end_event_outside_transaction", [end("c", CANCEL_DEF)],
                                                   "start>c"), "c", "cancel end events are only supported inside"),
    "cancel_boundary_event_outside_transaction": (on_work(
        "cancel_boundary_event_outside_transaction", CANCEL_DEF, script("h", "x = 1")), "evt",
        "cancel boundary events are only supported on a transaction"),
    "data_store": (line("data_store", '<bpmn:dataStoreReference id="store_ref"/>' + WORK), "store_ref",
                   "data stores are not supported"),
    "call_activity_unknown_process": (line("call_activity_unknown_process",
                                           '<bpmn:callActivity id="call" calledElement="elsewhere"/>'),
                                 None, "elsewhere"),
}


@pytest.mark.parametrize("name", SUPPORTED)
def test_supported(engine, name):
    _check(engine, name, SUPPORTED[name])


@pytest.mark.parametrize("name", LIMITED)
def test_limited(engine, name):
    _check(engine, name, LIMITED[name])


def _check(engine, name, case):
    engine.deploy(case.model)
    instance = run(engine, name, case)
    assert instance.status == case.status, instance.error
    assert (case.error in (instance.error or "")) if case.error else instance.error is None, instance.error
    assert open_keys(engine, instance.id) == tuple(sorted(case.open))
    assert rows(engine, HumanTask, instance.id, "cancelled") == tuple(sorted(case.cancelled))
    if instance.status == "completed":
        assert rows(engine, Timer, instance.id, "waiting") == ()
    data = final_data(engine, instance)
    assert {key: data.get(key) for key in case.data} == case.data
    assert not set(case.absent) & set(data)


@pytest.mark.parametrize("name", REFUSED)
def test_refused(engine, name):
    model, element, message = REFUSED[name]
    with engine.db.read() as session:
        before = session.scalar(select(func.count()).select_from(Definition))
    with pytest.raises(InvalidDefinition) as refused:
        engine.deploy(model)
    assert message in refused.value.message
    if element:
        assert refused.value.details["element"] == element
        assert refused.value.details["line"]
    with engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Definition)) == before


def test_message_not_waited_for_is_refused(engine):
    """Messages go to one instance, by its id; one it does not wait for changes nothing."""
    engine.deploy(SUPPORTED["message_catch_event"].model)
    instance = engine.instances.start("message_catch_event", {}, ADMIN)
    before = snapshot(engine)
    with pytest.raises(Conflict) as refused:
        engine.instances.send_message(instance.id, "other", {}, ADMIN)
    assert refused.value.reason == "not_waiting"
    assert snapshot(engine) == before
    assert engine.instances.send_message(instance.id, "go", {}, ADMIN).status == "completed"


def test_thrown_message_and_signal_stay_in_their_instance(engine):
    """A message or signal thrown with no catcher in its own instance reaches no other instance."""
    engine.deploy(graph("cov_listener", [
        '<bpmn:parallelGateway id="fork"/>', catch("c_msg", message_definition("go")), catch("c_sig", SIGNAL_DEF),
        '<bpmn:parallelGateway id="join"/>', end("end")],
        "start>fork", "fork>c_msg", "fork>c_sig", "c_msg>join", "c_sig>join", "join>end",
        root=message("go") + SIGNAL_GO))
    engine.deploy(line("cov_thrower", throw("t_sig", SIGNAL_DEF), '<bpmn:sendTask id="s" messageRef="m_go"/>',
                       root=message("go") + SIGNAL_GO, finish=message_definition("go")))
    listener = engine.instances.start("cov_listener", {}, ADMIN)
    assert engine.instances.start("cov_thrower", {}, ADMIN).status == "completed"
    assert engine.instances.get(listener.id).status == "running"
    assert engine.instances.send_message(listener.id, "go", {}, ADMIN).status == "running"  # still waits for the signal
