"""Benchmark 1 — engine ceiling.

Workload: the full supervision loop (start + 7 completions, see ``bench.workload``) for N
items. Baseline (the ceiling): bare SpiffWorkflow in memory with the same parsed BPMN and the
same restricted script engine and functions, loading and saving the instance's JSON (the
instance-only format Duban stores) at every step; no database. Compared: Duban's engine
Python API (``create_item``, ``Tasks.complete``; each completion uses the ``next_tasks`` the
previous one returned, as an API client does) on SQLite and on PostgreSQL. The variants run
interleaved in rounds and each reports its median rate over the rounds, so a noisy
neighbour hurts all of them alike.
"""
import statistics
import time

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from api.app import build_engine
from bench import workload
from bench.common import REPO, Result, engine_config, ratio
from engine import serialization
from engine.clock import FixedClock, using_clock
from workflows.supervision.items import create_item

# Issue 18: the engine loop's share of the bare-SpiffWorkflow ceiling, per database.
TARGETS = {"Duban SQLite": 0.6, "Duban PostgreSQL": 0.5}
_stock = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


class BareLoop:
    """The supervision loop on SpiffWorkflow alone: load JSON, run one step, save JSON."""

    def __init__(self, engine, stock_json=False):
        self.engine = engine
        definition = _definition(engine)
        self.spec, self.subprocess_specs = engine.definitions.spec(definition)
        self.stock_json = stock_json
        # In memory means no database at all: scripts' now() and the timers read a fixed
        # instant, not the simulated clock's row (Duban reads that row once per command).
        self.clock = FixedClock(engine.clock.now())

    def dump(self, workflow):
        return _stock.serialize_json(workflow) if self.stock_json else serialization.dump(workflow)

    def load(self, state):
        if self.stock_json:
            workflow = _stock.deserialize_json(state)
            workflow.script_engine = self.engine.script_engine()
            return workflow
        return serialization.load(state, self.spec, self.subprocess_specs, self.engine.script_engine())

    def advance(self, workflow):
        with using_clock(self.clock):
            workflow.refresh_timers()
            workflow.do_engine_steps()

    def start(self, department, n):
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.engine.script_engine())
        workflow.task_tree.data.update({"item_id": f"bare-{n}", **workload.item_data(department, n)})
        self.advance(workflow)
        return self.dump(workflow)

    def step(self, state, key, data):
        workflow = self.load(state)
        task = next(t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                    if t.task_spec.bpmn_id == key)
        task.set_data(**data)
        task.run()
        self.advance(workflow)
        return self.dump(workflow), workflow

    def loop(self, department="d1"):
        state = self.start(department, workload.next_number())
        for key, _who, data in workload.STEPS:
            state, workflow = self.step(state, key, data)
        assert workflow.is_completed()


class DubanLoop:
    """The supervision loop through Duban's engine Python API (one unit of work per command)."""

    def __init__(self, engine):
        self.engine = engine

    def loop(self, department="d1"):
        engine = self.engine
        people = workload.actors(department)
        item = create_item(engine, workload.item_data(department, workload.next_number()), people["sec"])
        rows, _ = engine.tasks.inbox(people["staff"], business_key=item.id)
        task_id = rows[0].id
        for index, (key, who, data) in enumerate(workload.STEPS):
            _row, opened = engine.tasks.complete(task_id, data, people[who])
            if index + 1 < len(workload.STEPS):
                task_id = next(t.id for t in opened if t.key == workload.STEPS[index + 1][0])
        return item.id


def _definition(engine):
    with engine.db.read() as session:
        return engine.definitions.get(session, "supervision")


def deploy(engine):
    """The shipped supervision process and the decision its escalation path calls."""
    for name in ("accountability.dmn", "supervision.bpmn"):
        engine.deploy((REPO / "bpmn" / name).read_bytes(), actor="bench")
    return engine


def run(scratch, loops=60, rounds=5, log=print):
    per_round = max(1, loops // rounds)
    system = {"mode": "system"}  # as deployed; a simulated clock adds one row read per command
    engines = {"sqlite": deploy(build_engine(engine_config(scratch.sqlite("ceiling"), clock=system))),
               "postgresql": deploy(build_engine(engine_config(scratch.postgres("ceiling"), clock=system)))}
    variants = {
        "ceiling": BareLoop(engines["sqlite"]),
        "bare, stock JSON": BareLoop(engines["sqlite"], stock_json=True),
        "Duban SQLite": DubanLoop(engines["sqlite"]),
        "Duban PostgreSQL": DubanLoop(engines["postgresql"]),
    }
    try:
        for variant in variants.values():  # warm up: spec cache, connections, imports
            variant.loop()
        rates = {name: [] for name in variants}
        for round_ in range(rounds):
            for name, variant in variants.items():
                start = time.perf_counter()
                for _ in range(per_round):
                    variant.loop()
                rates[name].append(per_round / (time.perf_counter() - start))
            log(f"  round {round_ + 1}/{rounds}: " + ", ".join(
                f"{name} {values[-1]:.1f}/s" for name, values in rates.items()))
        caches = {name: engines[db].uow.cache.stats()
                  for name, db in (("Duban SQLite", "sqlite"), ("Duban PostgreSQL", "postgresql"))}
    finally:
        for engine in engines.values():
            engine.close()
    median = {name: statistics.median(values) for name, values in rates.items()}
    ceiling = median["ceiling"]
    result = Result(
        "engine_ceiling", "Engine ceiling: full supervision loops per second",
        f"{per_round * rounds} loops per variant (start + {workload.COMPLETIONS_PER_LOOP} completions "
        f"each), {rounds} interleaved rounds, median rate",
        {"label": "bare SpiffWorkflow + instance-only JSON load/save per step", "value": round(ceiling, 2),
         "unit": "loops/s"})
    for name, rate in median.items():
        cache = caches.get(name)
        extra = {"workflow_cache_hit_rate": cache["hit_rate"]} if cache else {}
        result.row(name, round(rate, 2), "loops/s", ratio(rate, ceiling),
                   ms_per_loop=round(1000 / rate, 2), rounds=[round(r, 2) for r in rates[name]], **extra)
    for name, target in TARGETS.items():
        value = ratio(median[name], ceiling)
        result.target(f"{name} ≥ {target:.0%} of ceiling", f">= {target}", value, value >= target, issue=18)
    for name, cache in caches.items():
        result.notes.append(f"{name}: workflow cache (engine.workflow_cache) hits {cache['hits']}, "
                            f"misses {cache['misses']}, stale {cache['stale']}, hit rate {cache['hit_rate']}")
    return result
