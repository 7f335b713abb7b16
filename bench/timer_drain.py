"""Benchmark 6 — timer drain: T timers due at once, fired by 1 and by 2 ``duban worker`` processes.

Workload: T instances of a small process (timer → user task) on PostgreSQL, all timers due at
the same moment (created on a simulated clock before it, drained on the system clock long after
it, as deployed). Baseline: the engine's in-process drain
(``Timers.fire_due``, what ``duban serve`` runs in its scheduler), on an identical copy of the
database (``CREATE DATABASE … TEMPLATE``). Then 1 and 2 ``duban worker`` subprocesses (the
durable, leased worker) each on their own copy, timed until no timer is left waiting.
When this branch has no ``duban worker`` command, those rows say "not available": nothing is
simulated in their place.
"""
import os
import subprocess
import time

import sqlalchemy as sa

from api.app import build_engine
from bench.common import Result, engine_config, ratio
from bench.server import DUBAN
from engine.actor import SYSTEM
from engine.db import Database

# The timers are created on a simulated clock before DUE and drained on the system clock (as
# deployed: a simulated clock would add a row read per firing), for which DUE is long past.
BEFORE = "2026-01-04T09:00:00+08:00"
DUE = "2026-01-05T09:00:00+08:00"
TIMER_PROCESS = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs_timer_drain"
  targetNamespace="http://duban.bench">
  <bpmn:process id="timer_drain" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>
      <bpmn:timeDate>'{DUE}'</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="after_timer" name="到期处理"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after_timer"/>
    <bpmn:sequenceFlow id="f3" sourceRef="after_timer" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
""".encode("utf-8")


# Issue 18: 10,000 due timers drained by one `duban worker` in ≤ 20 s, by two in ≤ 12 s —
# as rates, so a smaller --scale is held to the same pace.
WORKER_TARGETS = {1: (10_000, 20), 2: (10_000, 12)}


def worker_available():
    """``(True, "")`` when this install has a ``duban worker`` command, else ``(False, why)``."""
    try:
        result = subprocess.run([DUBAN, "worker", "--help"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return False, f"{DUBAN} not found"
    if result.returncode != 0:
        return False, "`duban worker` does not exist on this branch (" + \
            (result.stderr.strip().splitlines() or ["no output"])[-1] + ")"
    return True, ""


def waiting(url):
    db = Database(url)
    with db.read() as session:
        count = session.execute(sa.text("SELECT count(*) FROM timer WHERE state = 'waiting'")).scalar()
    db.dispose()
    return count


def prepare(scratch, timers, log=print):
    """A template database with ``timers`` instances waiting on a timer due at DUE."""
    url = scratch.postgres("timers_template")
    engine = build_engine(engine_config(url, clock={"start": BEFORE}))
    engine.deploy(TIMER_PROCESS, actor="bench")
    start = time.perf_counter()
    for _ in range(timers):
        engine.instances.start("timer_drain", {}, SYSTEM)
    engine.close()
    log(f"  {timers} waiting timers created in {time.perf_counter() - start:.1f} s")
    return url


def drain_in_process(url):
    engine = build_engine(engine_config(url, clock={"mode": "system"}))
    start = time.perf_counter()
    woken = engine.timers.fire_due()
    elapsed = time.perf_counter() - start
    engine.close()
    return elapsed, woken


def drain_with_workers(scratch, url, processes, timeout):
    config = scratch.dir / f"worker_{processes}.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[clock]\nmode = "system"\n'
                      '[scheduler]\ninterval_seconds = 1\n', encoding="utf-8")
    env = {**os.environ, "DUBAN_CONFIG": str(config)}
    env.pop("DUBAN_DATABASE_URL", None)
    logs = [open(scratch.dir / f"worker_{processes}_{n}.log", "wb") for n in range(processes)]
    start = time.perf_counter()
    workers = [subprocess.Popen([DUBAN, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
               for log in logs]
    try:
        while waiting(url) > 0:
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"{processes} worker(s): timers still waiting after {timeout} s")
            if any(w.poll() is not None for w in workers):
                raise RuntimeError(f"a worker exited early; see {logs[0].name}")
            time.sleep(0.2)
        return time.perf_counter() - start
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
        for log in logs:
            log.close()


def run(scratch, timers=10_000, timeout=1800, log=print):
    available, reason = worker_available()
    template = prepare(scratch, timers, log=log)
    result = Result(
        "timer_drain", f"Timer drain: {timers} timers due at once (PostgreSQL)",
        f"{timers} instances waiting on one timer each, all due at the same moment; each drain on its "
        "own copy of the database, timed until no timer is left waiting",
        {"label": "in-process drain (Timers.fire_due, one process)", "value": None, "unit": "timers/s"})
    copy = scratch.postgres("timers_inprocess", template=template)
    elapsed, woken = drain_in_process(copy)
    left = waiting(copy)
    scratch.drop(copy)
    baseline = timers / elapsed
    result.baseline["value"] = round(baseline, 1)
    result.row("in-process Timers.fire_due (baseline)", round(baseline, 1), "timers/s", 1.0,
               seconds=round(elapsed, 2), instances_woken=woken, left_waiting=left)
    log(f"  in-process: {baseline:.1f} timers/s ({elapsed:.1f} s)")
    for processes in (1, 2):
        label = f"{processes} × duban worker"
        if not available:
            result.row(label, None, "timers/s", None, status="not available", reason=reason)
            continue
        copy = scratch.postgres(f"timers_workers{processes}", template=template)
        seconds = drain_with_workers(scratch, copy, processes, timeout)
        scratch.drop(copy)
        rate = timers / seconds
        result.row(label, round(rate, 1), "timers/s", ratio(rate, baseline), seconds=round(seconds, 2))
        log(f"  {label}: {rate:.1f} timers/s")
        count, limit = WORKER_TARGETS[processes]
        result.target(f"{label}: {count:,} timers in ≤ {limit} s (≥ {count / limit:.0f} timers/s)",
                      f">= {count / limit:.0f}", round(rate, 1), rate >= count / limit, issue=18)
    if not available:
        result.available = False
        result.notes.append(f"duban worker: not available — {reason}")
    scratch.drop(template)
    return result
