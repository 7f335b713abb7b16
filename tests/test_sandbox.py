"""BPMN scripts are not trusted code: imports, file access and dunder escapes are refused; a
script that never ends is stopped, the instance is marked in error, and the engine serves on."""
import pytest

from engine.errors import InvalidDefinition, ScriptRejected
from engine.scripting import RestrictedEnvironment
from tests.bpmn_snippets import chain, script, user_task
from tests.conftest import DESIGNER, SECRETARY
from tests.helpers import snapshot

ESCAPES = [
    "x = __import__('os').getpid()",
    "import os",
    "x = open('/etc/hostname').read()",
    "x = ().__class__.__base__.__subclasses__()",
    "x = getattr((), '__class__')",
    "x = [c for c in ().__class__.__mro__]",
    "exec('y = 1')",
]


@pytest.mark.parametrize("code", ESCAPES)
def test_escapes_are_refused_at_deploy(engine, code):
    before = snapshot(engine)
    with pytest.raises(InvalidDefinition) as caught:
        engine.deploy(chain("evil", script(1, code)), actor=DESIGNER.username)
    assert caught.value.details["element"] == "n1"
    assert snapshot(engine) == before


@pytest.mark.parametrize("code", ESCAPES)
def test_escapes_are_refused_at_run_time(code):
    environment = RestrictedEnvironment({}, timeout_seconds=1)
    with pytest.raises((ScriptRejected, NameError, AttributeError, TypeError)):
        environment.execute(code, {})


def test_allowed_script_computes(engine):
    engine.deploy(chain("calc", script(1, "total = sum(x * 2 for x in [1, 2, 3])\n"
                                           "due = working_day_end(now(), 2)"), user_task(2)))
    instance = engine.instances.start("calc", {}, SECRETARY)
    assert instance.variables["total"] == 12
    assert instance.variables["due"] == "2026-11-25T18:00:00+08:00"


def test_endless_script_is_stopped_and_instance_marked_in_error(engine):
    engine.deploy(chain("spin", user_task(1), script(2, "while True:\n    pass")))
    engine.deploy(chain("fine", user_task(1)))
    instance = engine.instances.start("spin", {}, SECRETARY)
    task = engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0][0]
    engine.tasks.complete(task.id, {"answer": 1}, SECRETARY)

    stuck = engine.instances.get(instance.id)
    assert stuck.status == "error"
    assert stuck.error_task == "n2" and "time limit" in stuck.error
    assert engine.tasks.get(task.id).state == "completed"   # the person's step is kept
    # ... and the engine keeps serving other work.
    other = engine.instances.start("fine", {}, SECRETARY)
    assert other.status == "running"


@pytest.mark.parametrize("code", [
    "while True:\n    try:\n        x = 1\n    except:\n        pass",
    "try:\n    x = 1\nexcept (ValueError, Exception):\n    pass",
    "try:\n    x = 1\nfinally:\n    x = 2",
])
def test_scripts_that_could_swallow_the_time_limit_are_refused(engine, code):
    with pytest.raises(InvalidDefinition, match="not allowed"):
        engine.deploy(chain("stubborn", script(1, code)))


def test_a_named_exception_can_still_be_handled(engine):
    engine.deploy(chain("careful", script(1, "try:\n    x = int('a')\nexcept ValueError:\n    x = 0"),
                        user_task(2)))
    assert engine.instances.start("careful", {}, SECRETARY).variables["x"] == 0


def test_failing_script_puts_instance_in_error_with_reason(engine):
    engine.deploy(chain("broken", script(1, "x = 1 / 0")))
    instance = engine.instances.start("broken", {}, SECRETARY)
    assert instance.status == "error" and "ZeroDivisionError" in instance.error
    assert instance.error_task == "n1"


def test_instance_in_error_is_retried_after_the_cause_is_fixed(engine):
    """A failing service task is an incident; an admin retry after the fault is removed completes it."""
    from engine.actor import Actor

    state = {"up": False}

    def ping():
        if not state["up"]:
            raise ConnectionError("registry office unreachable")
        return {"ok": True}
    engine.registry.services["office.ping"] = ping
    service = ('<bpmn:serviceTask id="n1"><bpmn:extensionElements>'
               '<spiffworkflow:serviceTaskOperator id="office.ping" resultVariable="answer">'
               '<spiffworkflow:parameters/></spiffworkflow:serviceTaskOperator>'
               '</bpmn:extensionElements></bpmn:serviceTask>')
    engine.deploy(chain("svc", service, user_task(2)))
    instance = engine.instances.start("svc", {}, SECRETARY)
    assert instance.status == "error" and "unreachable" in instance.error and instance.error_task == "n1"

    admin = Actor("admin", frozenset({"admin"}))
    again = engine.instances.retry(instance.id, admin)
    assert again.status == "error"  # still down
    state["up"] = True
    fixed = engine.instances.retry(instance.id, admin)
    assert fixed.status == "running" and fixed.error is None
    assert fixed.variables["answer"] == {"ok": True}
    assert [t.key for t in engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0]] == ["n2"]
