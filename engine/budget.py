"""A command's budget: how far one unit of work may run the workflow before it must wait.

SpiffWorkflow's ``do_engine_steps`` runs READY automatic tasks (scripts, gateways, events,
call activities) until only user tasks and waiting events are left. A model that never waits
never leaves that loop: a call activity calling its own process starts a new subprocess at
every level, forever, in the server thread that runs the command. :class:`CommandBudget`
bounds every command (start, completion, message, timer firing, retry):

* ``[engine] max_steps_per_command``: the automatic tasks one command may run;
* ``[engine] max_seconds_per_command``: the wall time (not the business clock) since the
  command began, checked before each task;
* a chain of :data:`MAX_CHAIN` tasks in one tree. SpiffWorkflow's task iterator does not look
  deeper than 1000 tasks, so a cycle of gateways and scripts with no wait state does not spin:
  at that depth the library stops seeing its own READY tasks and reports the workflow
  *completed*. Stopping just before keeps that silent false end from happening. Compaction
  (``engine.compaction``) re-roots the tree after every command, so a chain this long only
  grows inside one command;
* subprocesses (call activities, embedded subprocesses) nested :data:`MAX_NESTING` deep.
  SpiffWorkflow cancels and walks nested subprocesses recursively, so an instance nested a
  few hundred deep could not even be cancelled (RecursionError); no model needs 50 levels.

Past any of them the next task is not run: :class:`BudgetExceeded` is raised from
SpiffWorkflow's ``will_complete_task`` hook (no copy of the library's loop, no patch), before
that task starts, so every task that ran is whole. The unit of work saves what it saves for
any failure of the model (``Context.fail``): the instance in ``error`` with the reason and the
task it stopped before, the workflow as it stood after the last task that ran (its data
included), and the person's own step, if the command was one, done. A retry continues from
there with a fresh budget (``Instances.retry``).

Trade-off: the time is checked between tasks, so one task can overrun it by up to its own
bound (a script by ``[scripts] timeout_seconds``); the checks cost a counter and a monotonic
clock read per task.
"""
import time

DEFAULT_MAX_STEPS = 10_000
DEFAULT_MAX_SECONDS = 30.0
# SpiffWorkflow's TaskIterator stops at depth 1000 (util/task.py, max_depth); a margin for
# the few levels (root, start, boundary splits) a chain hangs under.
MAX_CHAIN = 990
# Nested subprocess levels: far beyond any model, far below Python's recursion limit (SpiffWorkflow
# cancels a subprocess tree with about five frames per level).
MAX_NESTING = 50
# Every reason starts with this, so pages can show it in Chinese (api/web/labels.py).
REASON_PREFIX = "did not reach a wait state within"


class BudgetExceeded(Exception):
    """The workflow ran past its command's budget without reaching a wait state.

    ``task`` is the task it stopped before (never run), so ``Context.fail`` names its element.
    """

    def __init__(self, message, task):
        super().__init__(message)
        self.task = task


class CommandBudget:
    """One command's allowance; :meth:`step` is SpiffWorkflow's ``will_complete_task`` hook."""

    def __init__(self, max_steps=DEFAULT_MAX_STEPS, max_seconds=DEFAULT_MAX_SECONDS, clock=time.monotonic):
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.clock = clock
        self.started = clock()
        self.steps = 0

    @classmethod
    def from_config(cls, config):
        """The budget ``[engine]`` sets; ValueError unless both limits are positive numbers."""
        settings = config.get("engine", {})
        steps = settings.get("max_steps_per_command", DEFAULT_MAX_STEPS)
        seconds = settings.get("max_seconds_per_command", DEFAULT_MAX_SECONDS)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
            raise ValueError(f"[engine] max_steps_per_command must be a positive integer, not {steps!r}")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
            raise ValueError(f"[engine] max_seconds_per_command must be a positive number, not {seconds!r}")
        return cls(steps, float(seconds))

    def step(self, task):
        """Count ``task`` as the next step, or raise :class:`BudgetExceeded` before it runs."""
        self.steps += 1
        if self.steps > self.max_steps:
            self._stop(task, "the step limit ([engine] max_steps_per_command) was reached")
        elapsed = self.clock() - self.started
        if elapsed > self.max_seconds:
            self._stop(task, f"the time limit ([engine] max_seconds_per_command) was reached "
                             f"after {elapsed:.1f} s")
        if task.workflow.depth > MAX_NESTING:
            self._stop(task, f"call activities or subprocesses are nested {task.workflow.depth} deep "
                             f"(at most {MAX_NESTING})")
        if len(task.workflow.tasks) >= MAX_CHAIN and task.depth >= MAX_CHAIN:  # len(): O(1) first
            self._stop(task, f"a chain of {task.depth} tasks ran without waiting (SpiffWorkflow "
                             "does not look past 1000)")

    def _stop(self, task, why):
        name = task.task_spec.bpmn_id or task.task_spec.name
        raise BudgetExceeded(
            f"{REASON_PREFIX} {self.max_steps} steps / {self.max_seconds:g} s: {why}; stopped "
            f"after {self.steps - 1} steps, before '{name}' (a loop or a recursive call activity "
            "with no wait state?)", task)

