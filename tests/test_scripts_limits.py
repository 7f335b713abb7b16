"""Scripts cannot freeze or exhaust the server (issue 13): one C-level operation that would
build a huge value is refused before it runs, a Python loop that eats memory is stopped, and
an instance's data is capped. Each way ends the instance in ``error`` with the reason, like a
time-out, and the engine serves on."""
import resource
from xml.sax.saxutils import escape

import pytest

from engine import definitions
from engine.errors import InvalidDefinition, InvalidInput, ScriptLimitExceeded, ScriptTimeout
from engine.scripting import RestrictedEnvironment, compile_script
from tests.bpmn_snippets import chain, process, script, user_task
from tests.conftest import SECRETARY

# (script, what the instance's error names)
BOMBS = [
    ("x = (10 ** (3 * 10 ** 7)) > 1", "bits"),
    ('x = len("x" * (3 * 10 ** 9))', "bytes"),
    ("x = 1 << 10 ** 10", "bits"),
    ("x = 'x'.ljust(10 ** 10)", "ljust"),
    ("x = 'x'.rjust(10 ** 10)", "rjust"),
    ("x = 'x'.center(10 ** 10)", "center"),
    ("x = '1'.zfill(10 ** 10)", "zfill"),
    ("x = '\\t' * 1000\ny = x.expandtabs(10 ** 7)", "expandtabs"),
    ("x = ('ab' * 1000).replace('', 'x' * 100000)", "replace"),
    ("x = ','.join(['a' * 1000] * 5000)", "join"),
    ("x = ('a' * 100000).translate({97: 'b' * 1000})", "translate"),
    ("x = (1).to_bytes(10 ** 10, 'big')", "to_bytes"),
    ("x = str.ljust('x', 10 ** 10)", "ljust"),
    ("x = str.join(',', ['a' * 1000] * 5000)", "join"),
    ("x = int.to_bytes(1, 10 ** 10, 'big')", "to_bytes"),
    ("x = [0] * 10 ** 10", "bytes"),
    ("x = 10 ** 10 * [0]", "bytes"),
    ("x = 'a' * 10 ** 5 * 10 ** 5", "bytes"),
    ("x = 10 ** 10 ** 8", "bits"),
    ("x = pow(10, 10 ** 8)", "bits"),
    ("x = pow(3, 10 ** 4000, 10 ** 4000 + 1)", "modulus"),
    ("x = 2\nx **= 10 ** 8", "bits"),
    ("x = 'ab'\nx *= 10 ** 10", "bytes"),
    ("x = 1\nx <<= 10 ** 10", "bits"),
    ("x = 'a' * 1000\nfor i in range(100):\n    x = x + x", "bytes"),
    ("x = [1] * 1000\nfor i in range(100):\n    x += x", "bytes"),
    ("x = 10 ** 1000\nfor i in range(100):\n    x = x * x", "bits"),
    ("x = int('9' * 10 ** 6)", "limit"),
    ('x = f"{1:>{10 ** 10}}"', "f-string"),
    ('x = f"{1:,.10000000000f}"', "f-string"),
    ("x = '%*d' % (10 ** 10, 1)", "formatting"),
    ("x = '%10000000000d' % 1", "formatting"),
    ("x = '%.*f' % (10 ** 10, 1.5)", "formatting"),
    ("x = sum(range(10 ** 12))", "range"),
    ("x = sum([[0] * 1000] * 1000, [])", "sum()"),
    ("x = round(1, -10 ** 8)", "bits"),
    ("x = math.factorial(10 ** 7)", "bits"),
    ("x = math.comb(10 ** 8, 5 * 10 ** 7)", "bits"),
    ("x = math.perm(10 ** 8)", "bits"),
    ("x = math.prod([10 ** 1000] * 1000)", "bits"),
    ("x = [1]\nfor i in range(40):\n    x = [x, x]\ny = repr(x)", "repr"),
    ("x = [1]\nfor i in range(40):\n    x = [x, x]\ny = str(x)", "str()"),
    ("x = [1]\nfor i in range(40):\n    x = [x, x]\ny = f'{x}'", "f-string"),
    ("x = [1]\nfor i in range(40):\n    x = [x, x]\ny = '%s' % (x,)", "formatting"),
    ("x = [1]\nfor i in range(40):\n    x = [x, x]", "max_data_bytes"),   # stored: measured, refused
]


@pytest.fixture
def runtime_only(monkeypatch):
    """As if deployed before the deploy-time check of constants: the run-time guards alone."""
    monkeypatch.setattr(definitions, "lint_script", compile_script)


def _maxrss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest.mark.parametrize("code, reason", BOMBS, ids=[code for code, _ in BOMBS])
def test_a_hostile_script_puts_the_instance_in_error_with_the_reason(engine_factory, runtime_only,
                                                                      code, reason):
    engine = engine_factory(scripts={"max_data_bytes": 1 << 20})
    engine.deploy(chain("bomb", script(1, escape(code)), user_task(2)))
    engine.deploy(chain("fine", user_task(1)))
    before = _maxrss_bytes()
    instance = engine.instances.start("bomb", {}, SECRETARY)
    assert instance.status == "error" and instance.error_task == "n1"
    assert reason in instance.error
    assert "time limit" not in instance.error   # refused before computing, not stopped late
    assert len(instance.state) < 3 << 20        # nothing huge stored (the data: at most 1 MB) ...
    assert _maxrss_bytes() - before < 1 << 30   # ... nor held (peak growth of this process)
    assert engine.instances.start("fine", {}, SECRETARY).status == "running"


@pytest.mark.parametrize("code", [
    "x = (10 ** (3 * 10 ** 7)) > 1", 'x = len("x" * (3 * 10 ** 9))', "x = 1 << 10 ** 10",
    "x = [0] * 10 ** 10", "x = 'a' * 10 ** 5 * 10 ** 5", "x = -(10 ** 10 ** 8)",
])
def test_obvious_cases_are_refused_at_deploy(engine, code):
    with pytest.raises(InvalidDefinition) as refused:
        engine.deploy(chain("bomb", script(1, escape(code)), user_task(2)))
    assert refused.value.details["element"] == "n1" and refused.value.details["code"] == "too_large"


def test_deploy_keeps_what_only_data_makes_too_large(engine):
    engine.deploy(chain("ok", script(1, "x = 'ab' * n + '%d' % 10 ** 6"), user_task(2)))


@pytest.mark.parametrize("code", [
    "l = []\nwhile True:\n    l.append('x' * 1000000)",
    "l = []\nwhile True:\n    l.append(list(range(100000)))",
    "l = [0] * 100000\nwhile True:\n    l.extend(l)",
])
def test_a_loop_that_eats_memory_is_stopped_by_the_memory_ceiling(engine_factory, code):
    engine = engine_factory(scripts={"timeout_seconds": 30, "max_memory_bytes": 64 << 20})
    engine.deploy(chain("hog", script(1, code), user_task(2)))
    before = _maxrss_bytes()
    instance = engine.instances.start("hog", {}, SECRETARY)
    assert instance.status == "error" and "max_memory_bytes" in instance.error
    assert _maxrss_bytes() - before < 1 << 30


# -- the same guards in every kind of expression ---------------------------------------------
def _gateway(condition):
    return process("gw", f'''<bpmn:startEvent id="start"/>
<bpmn:exclusiveGateway id="split" default="f3"/>
<bpmn:userTask id="yes" name="Yes"/><bpmn:userTask id="no" name="No"/><bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split"/>
<bpmn:sequenceFlow id="f4" sourceRef="yes" targetRef="end"/><bpmn:sequenceFlow id="f5" sourceRef="no" targetRef="end"/>
<bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="yes"><bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="no"/>''')


def _timer(expression):
    return chain("tm", f'<bpmn:intermediateCatchEvent id="n1"><bpmn:timerEventDefinition>'
                       f'<bpmn:timeDate>{escape(expression)}</bpmn:timeDate></bpmn:timerEventDefinition>'
                       '</bpmn:intermediateCatchEvent>', user_task(2))


def _property(expression):
    return chain("prop", user_task(1, properties=f'<spiffworkflow:property name="dueDate" '
                                                  f'value="{escape(expression, {chr(34): "&quot;"})}"/>'))


@pytest.mark.parametrize("source, key", [
    (_gateway("len('x' * (3 * 10 ** 9)) > 1"), "gw"),
    (_gateway("(10 ** (3 * 10 ** 7)) > 1"), "gw"),
    (_timer("'x'.ljust(10 ** 10)"), "tm"),
    (_timer("f'{1:>{10 ** 10}}'"), "tm"),
    (_property("'%*d' % (10 ** 10, 1)"), "prop"),
    (_property("str(1 << 10 ** 10)"), "prop"),
], ids=["condition-mul", "condition-pow", "timer-ljust", "timer-fstring", "property-percent",
        "property-shift"])
def test_conditions_timers_and_property_expressions_are_guarded_too(engine, runtime_only, source, key):
    engine.deploy(source)
    instance = engine.instances.start(key, {}, SECRETARY)
    assert instance.status == "error"
    assert "ScriptLimitExceeded" in instance.error and "time limit" not in instance.error


def test_decision_cells_and_any_expression_go_through_the_same_guards():
    """DMN input and output cells are evaluated by the same environment (engine.decisions)."""
    environment = RestrictedEnvironment({}, timeout_seconds=1)
    with pytest.raises(ScriptLimitExceeded):
        environment.evaluate("'x' * 10 ** 10", {})
    with pytest.raises(ScriptLimitExceeded):
        environment.evaluate("amount ** 10 ** 8", {"amount": 7})
    assert environment.evaluate("amount * 2 < 10 ** 6", {"amount": 7}) is True


def test_ordinary_scripts_keep_working(engine):
    code = ("a = 'abc' * 3\n"
            "b = f'{a!r:>12}|{3.14159:.2f}|{42:05d}'\n"
            "c = '%s-%03d' % ('x', 7) + '%(k)s' % {'k': 'v'}\n"
            "d = [1, 2] + [3] * 2\n"
            "e = 2 ** 64 + (1 << 10) + pow(3, 4) + pow(3, 4, 5)\n"
            "f = ','.join(str(i) for i in range(5)).ljust(12, '.')\n"
            "g = sum([1.5, 2.5]) + round(1234, -2) + math.factorial(5) + math.prod([2, 3])\n"
            "h = 'x'.zfill(3).center(5).replace('0', 'o')\n"
            "i = [isinstance('a', str), str(12), str.upper('q'), str(b'ok', 'ascii'), pow(2, exp=3)]\n"
            "total = 0\n"
            "total += 5\n"
            "total *= 3\n"
            "total **= 2")
    engine.deploy(chain("ok", script(1, escape(code)), user_task(2)))
    variables = engine.instances.start("ok", {}, SECRETARY).variables
    assert variables["b"] == " 'abcabcabc'|3.14|00042"
    assert variables["c"] == "x-007v" and variables["d"] == [1, 2, 3, 3]
    assert variables["e"] == 2 ** 64 + 1024 + 81 + 1
    assert variables["f"] == "0,1,2,3,4..." and variables["g"] == 4.0 + 1200 + 120 + 6
    assert variables["h"] == " oox " and variables["total"] == 225
    assert variables["i"] == [True, "12", "Q", "ok", 8]


@pytest.mark.parametrize("code", ["x = random.getrandbits(10 ** 10)", "x = string.ascii_letters",
                                  "x = reorder([1, 2])", "x = sorted([2, 1])"])
def test_random_string_reorder_and_sorted_are_not_exposed(engine, code):
    engine.deploy(chain("mods", script(1, code), user_task(2)))
    instance = engine.instances.start("mods", {}, SECRETARY)
    assert instance.status == "error" and "NameError" in instance.error


# -- the instance's data cap -------------------------------------------------------------------
def test_a_script_storing_more_than_the_data_limit_fails_and_stores_nothing(engine_factory):
    engine = engine_factory(scripts={"max_data_bytes": 100_000})
    engine.deploy(chain("store", user_task(1), script(2, "a = 'x' * 60000\nb = 'y' * 60000"), user_task(3)))
    instance = engine.instances.start("store", {"keep": "me"}, SECRETARY)
    task = engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0][0]
    engine.tasks.complete(task.id, {"answer": 1}, SECRETARY)
    failed = engine.instances.get(instance.id)
    assert failed.status == "error" and failed.error_task == "n2"
    assert "max_data_bytes" in failed.error
    assert len(failed.state) < 60_000 and "keep" in failed.variables and "a" not in failed.variables


def test_a_50_mb_string_cannot_be_built_let_alone_stored(engine, runtime_only):
    engine.deploy(chain("store", script(1, "blob = 'x' * (50 * 1024 * 1024)"), user_task(2)))
    instance = engine.instances.start("store", {}, SECRETARY)
    assert instance.status == "error" and "ScriptLimitExceeded" in instance.error
    assert len(instance.state) < 100_000 and "blob" not in (instance.variables or {})


def test_data_grown_in_place_over_the_limit_is_not_stored(engine_factory):
    engine = engine_factory(scripts={"max_data_bytes": 100_000})
    engine.deploy(chain("grow", script(1, "items.append('x' * 60000)\nitems.append('y' * 60000)"),
                        user_task(2)))
    instance = engine.instances.start("grow", {"items": []}, SECRETARY)
    assert instance.status == "error" and "max_data_bytes" in instance.error
    assert len(instance.state) < 60_000


def test_a_completion_over_the_data_limit_is_refused_and_changes_nothing(engine_factory):
    from tests.helpers import snapshot

    engine = engine_factory(scripts={"max_data_bytes": 100_000})
    engine.deploy(chain("form", user_task(1), user_task(2)))
    instance = engine.instances.start("form", {"notes": "n" * 60_000}, SECRETARY)
    task = engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0][0]
    before = snapshot(engine)
    for data in ({"blob": "x" * 200_000}, {"more": "x" * 50_000}):  # alone; with what is there
        with pytest.raises(InvalidInput) as refused:
            engine.tasks.complete(task.id, data, SECRETARY)
        assert refused.value.reason == "data_too_large"
        assert snapshot(engine) == before
    with pytest.raises(InvalidInput) as refused:
        engine.instances.start("form", {"notes": "n" * 200_000}, SECRETARY)
    assert refused.value.reason == "data_too_large"


# -- comparing and hashing (engine.compare_guards) ---------------------------------------------
# Thirty doublings: 31 objects, 2**30 elements unfolded; C compares or hashes them all in one call.
DEEP_LISTS = "a = []\nb = []\nfor i in range(30):\n    a = [a, a]\n    b = [b, b]\n"
DEEP_TUPLE = "t = ()\nfor i in range(30):\n    t = (t, t)\n"
DEEP_TYPES = "t = (KeyError,)\nfor i in range(30):\n    t = (t, t)\n"

# (script, the operation its error names)
COMPARE_BOMBS = [
    (DEEP_LISTS + "x = a == b", "'=='"),
    (DEEP_LISTS + "x = a < b", "'<'"),
    (DEEP_LISTS + "x = 1 < 2 != a <= b", "'<='"),             # a chain
    (DEEP_LISTS + "x = a in [b]", "'in'"),
    (DEEP_LISTS + "x = a not in (y for y in [b])", "'not in'"),
    (DEEP_LISTS + "x = {1: a} == {1: b}", "'=='"),
    (DEEP_LISTS + "x = {1: a}.items() == {1: b}.items()", "'=='"),
    ("w = [[[0] * 1000] * 1000] * 1000\nc = [[[0] * 1000] * 1000] * 1000\nx = w == c", "'=='"),
    (DEEP_TUPLE + "h = hash(t)", "hash()"),
    (DEEP_TUPLE + "s = {t}", "set element"),
    (DEEP_TUPLE + "s = {*[t]}", "set element"),
    (DEEP_TUPLE + "s = {x for x in [t]}", "set element"),
    (DEEP_TUPLE + "d = {t: 1}", "dict key"),
    (DEEP_TUPLE + "d = {x: 1 for x in [t]}", "dict key"),
    (DEEP_TUPLE + "x = t in {}", "'in'"),
    (DEEP_TUPLE + "x = {}[t]", "subscript"),
    (DEEP_TUPLE + "d = {}\nd[t] = 1", "subscript"),
    (DEEP_TUPLE + "d = {}\ndel d[t]", "subscript"),
    (DEEP_TUPLE + "x = {}.get(t)", "dict.get()"),
    (DEEP_TUPLE + "x = {}.pop(t, 0)", "dict.pop()"),
    (DEEP_TUPLE + "x = {}.setdefault(t)", "dict.setdefault()"),
    (DEEP_TUPLE + "x = dict.fromkeys([t])", "dict.fromkeys()"),
    (DEEP_TUPLE + "d = {}\nd.update([(t, 1)])", "dict.update()"),
    (DEEP_TUPLE + "d = {}\nd |= [(t, 1)]", "'|='"),
    (DEEP_TUPLE + "x = {}.keys() | [t]", "'|'"),
    (DEEP_TUPLE + "x = set([t])", "set()"),
    (DEEP_TUPLE + "x = frozenset([t])", "frozenset()"),
    (DEEP_TUPLE + "x = dict([(t, 1)])", "dict()"),
    (DEEP_TUPLE + "s = set()\ns.add(t)", "set.add()"),
    (DEEP_TUPLE + "x = {1}.union([t])", "set.union()"),
    (DEEP_TUPLE + "x = set.issubset({1}, [t])", "set.issubset()"),      # unbound
    (DEEP_TUPLE + "s = {1}\ns.symmetric_difference_update([t])", "set.symmetric_difference_update()"),
    (DEEP_TUPLE + "x = {}.keys().isdisjoint([t])", "dict.keys().isdisjoint()"),
    (DEEP_LISTS + "x = slice(a) == slice(b)", "'=='"),
    (DEEP_LISTS + "x = max([a, b])", "max()"),
    (DEEP_LISTS + "x = min(a, b)", "min()"),
    (DEEP_LISTS + "x = max([1, 2], key=lambda i: a if i == 1 else b)", "max() keys"),
    (DEEP_LISTS + "x = [a].count(b)", "list.count()"),
    (DEEP_LISTS + "x = list.count([a], b)", "list.count()"),             # unbound
    (DEEP_LISTS + "x = [a].index(b)", "list.index()"),
    (DEEP_LISTS + "l = [a]\nl.remove(b)", "list.remove()"),
    (DEEP_LISTS + "x = (a,).count(b)", "tuple.count()"),
    (DEEP_LISTS + "l = [a, b]\nl.sort()", "list.sort()"),
    (DEEP_LISTS + "l = [1, 2]\nl.sort(key=lambda i: a if i == 1 else b)", "list.sort() keys"),
    (DEEP_TYPES + "x = isinstance('s', t)", "isinstance()"),
    (DEEP_TYPES + "try:\n    x = 1 / 0\nexcept t:\n    pass", "'except'"),
]


@pytest.mark.parametrize("code, operation", COMPARE_BOMBS, ids=[code.rsplit("\n", 1)[-1] for code, _ in COMPARE_BOMBS])
def test_comparing_or_hashing_deep_shared_values_is_refused_before_it_runs(code, operation):
    """Unguarded, each is 2**30 (or 10**9) steps of C holding the GIL: the time limit would
    only raise after it, so ScriptLimitExceeded here means refused before computing."""
    environment = RestrictedEnvironment({}, timeout_seconds=1)
    with pytest.raises(ScriptLimitExceeded) as refused:
        environment.execute(code, {})
    assert operation in str(refused.value) and "1,000,000 bytes unfolded" in str(refused.value)


# Hash flooding: distinct ints of one hash (i * (2**61 - 1) all hash to 0); built in one C call,
# a set of 20,000 of them is 2·10**8 probes. A set grown by a loop is bounded by the time limit
# instead, but copying, comparing or combining it is again one call.
FLOOD = "l = [i * (2 ** 61 - 1) for i in range(20000)]\n"
GROWN = ("s = set()\nt = set()\nfor i in range(1500):\n    s.add(i * (2 ** 61 - 1))\n"
         "    t.add(-i * (2 ** 61 - 1))\n")
FLOOD_BOMBS = [
    (FLOOD + "x = set(l)", "set()"), (FLOOD + "x = frozenset(l)", "frozenset()"),
    # many middling chains: 40 hashes of 750 distinct keys each, none crowded on its own
    ("l = [i * (2 ** 61 - 1) + j for j in range(40) for i in range(750)]\nx = set(l)", "set()"),
    (FLOOD + "x = {*l}", "set"), (FLOOD + "x = dict.fromkeys(l)", "dict.fromkeys()"),
    (FLOOD + "x = dict([(k, 1) for k in l])", "dict()"), (FLOOD + "x = {1}.union(l)", "set.union()"),
    (FLOOD + "s = set()\ns.update(l)", "set.update()"),
    (GROWN + "x = s == t", "'=='"), (GROWN + "x = s | t", "'|'"), (GROWN + "x = s.copy()", "set.copy()"),
    (GROWN + "x = set(s)", "set()"),
]


@pytest.mark.parametrize("code, operation", FLOOD_BOMBS, ids=[code.rsplit("\n", 1)[-1] for code, _ in FLOOD_BOMBS])
def test_keys_of_one_hash_are_refused_before_a_bulk_operation_probes_them(code, operation):
    environment = RestrictedEnvironment({}, timeout_seconds=5)
    with pytest.raises(ScriptLimitExceeded) as refused:
        environment.execute(code, {})
    assert operation in str(refused.value) and "keys of equal hash" in str(refused.value)


def test_many_keys_of_one_hash_that_are_equal_or_few_are_fine():
    """Duplicates cost nothing, and -1 and -2 share a hash: neither is flooding."""
    environment = RestrictedEnvironment({}, timeout_seconds=5)
    context = {}
    environment.execute("x = set([-1, -2] * 5000)\ny = set([7] * 50000)\nz = set(range(50000)) == set(range(50000))\n"
                        "w = dict.fromkeys([(1, 2)] * 3000)", context)
    assert context["x"] == {-1, -2} and context["y"] == {7} and context["z"] is True
    assert context["w"] == {(1, 2): None}


def test_looking_for_a_container_in_a_c_iterator_is_refused_as_unmeasurable():
    environment = RestrictedEnvironment({}, timeout_seconds=1)
    with pytest.raises(ScriptLimitExceeded, match="'in' over an 'enumerate' object"):
        environment.execute(DEEP_LISTS + "x = a in enumerate([b])", {})
    context = {}
    environment.execute("x = 2 in enumerate([1, 2])\ny = (1, 2) in list(enumerate([1, 2]))", context)
    assert context["x"] is False and context["y"] is True


@pytest.mark.parametrize("call", ["is_working_day(a)", "working_day_end(a, 1)", "emit('x', data=a)"])
def test_engine_functions_are_not_handed_values_they_would_render_exponentially(engine, call):
    """Trusted code renders or compares what scripts pass (``str(day)[:10]``): the arguments
    of the engine's and the registry's functions are measured like a task's data."""
    engine.deploy(chain("fn", script(1, escape(DEEP_LISTS + f"x = {call}")), user_task(2)))
    instance = engine.instances.start("fn", {}, SECRETARY)
    assert instance.status == "error" and "ScriptLimitExceeded" in instance.error
    assert f"{call.split('(')[0]}() was handed over" in instance.error


def test_a_deep_comparison_puts_the_instance_in_error_and_the_engine_serves_on(engine):
    engine.deploy(chain("deep", script(1, escape(DEEP_LISTS + "same = a == b")), user_task(2)))
    engine.deploy(chain("fine", user_task(1)))
    instance = engine.instances.start("deep", {}, SECRETARY)
    assert instance.status == "error" and instance.error_task == "n1"
    assert "ScriptLimitExceeded" in instance.error and "'=='" in instance.error
    assert "time limit" not in instance.error
    assert engine.instances.start("fine", {}, SECRETARY).status == "running"


def test_a_guard_that_calls_back_many_times_stops_at_the_time_limit():
    """The guards' frames are not traced: max() calling the checked d.get for 300,000 keys,
    each measured (under the budget), stops at the time limit by the guards' own check."""
    environment = RestrictedEnvironment({}, timeout_seconds=0.5)
    code = "t = ()\nfor i in range(16):\n    t = (t, t)\nd = {}\nx = max([t] * 300000, key=d.get)"
    with pytest.raises(ScriptTimeout):
        environment.execute(code, {})


ORDINARY_COMPARISONS = """
a1 = "yes" == "yes"
a2 = 3 < 4 <= 4 != 5
codes = ["A1", "B2", "C3"]
c = "B2"
a3 = c in codes and c not in [] and "B" not in ("a", "b")
d = {"k": 1, (1, 2): 2}
k = "k"
a4 = d["k"] + d[(1, 2)] + d.get("z", 10) + d.get("k") + d[k]
d[k] = 5
d[("x", 1)] = 7
del d[(1, 2)]
a5 = d.pop("k"), d.setdefault("q", 9), d
rows = [{"n": "b", "v": 2}, {"n": "a", "v": 1}, {"n": "c", "v": 2}]
rows.sort(key=lambda r: r["n"])
a6 = [r["n"] for r in rows]
rows.sort(key=lambda r: r["v"], reverse=True)
a7 = [r["n"] for r in rows]
a8 = max(rows, key=lambda r: r["v"])["n"], min([3, 1, 2]), max(3, 1, 2), min([], default=0), max("abc")
a9 = max({"a": 3, "b": 5}, key={"a": 3, "b": 5}.get)
s = {1, 2, c}
s.add(4)
s.discard(1)
a10 = s, set([1, 2]) | {3}, frozenset([1]) <= frozenset([1, 2]), {*[1, 2], *{3}}
a11 = dict([("a", 1)], b=2), dict.fromkeys(["x", "y"], 0), {**{"a": 1}, "b": 2}
a12 = [1, 2, 2, 3].count(2) + [1, 2, 3].index(3) + (1, 1).count(1)
l = [3, 1, 2]
l.remove(1)
l.sort()
a13 = l, {x: x * 2 for x in range(3)}, {x % 2 for x in range(5)}
a14 = isinstance(s, set) and isinstance(a11[0], dict) and not isinstance(1, (str, (list, dict)))
a15 = sorted_keys = list({"a": 1}.keys() | {"b"}), {"a": 1, "b": 2}.keys() - {"a"}
x = 5
x |= 2
x &= 6
x ^= 1
u = {1}
alias = u
u |= {2}
m = {"a": 1}
m |= [("b", 2)]
a16 = x, alias, m
a17 = [1, 2] == [1, 2] and (1, [2]) < (1, [3]) and {"a": [1]} == {"a": [1]}, hash((1, 2)) == hash((1, 2))
try:
    z = {}["missing"]
except (KeyError, IndexError):
    a18 = "caught"
a19 = [1, [2]] in [[1, [2]], 3], 2 in (y for y in [1, 2]), (1, 2) in enumerate([1, 2])
a20 = set.union({1}, [2]), list.count([1, 1], 1), dict.get({"a": 1}, "a")
n = -1
a21 = n < 0 < 1 and n == -1, 3 in range(5), [1] not in range(3), None is None
big = list(range(100000))
a22 = big == list(range(100000)), 99999 in big, {i: i for i in range(100000)}[99999]
"""


def test_ordinary_comparisons_and_lookups_give_python_s_own_results():
    environment = RestrictedEnvironment({}, timeout_seconds=5)
    sandboxed, plain = {}, {}
    environment.execute(ORDINARY_COMPARISONS, sandboxed)
    exec(ORDINARY_COMPARISONS, {}, plain)  # noqa: S102 (the reference: plain Python, trusted text)
    results = sorted(name for name in plain if name[0] == "a" and name[1:].isdigit())
    assert len(results) == 22
    for name in results:
        assert sandboxed[name] == plain[name], name
