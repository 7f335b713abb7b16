"""Moving running instances from one definition version to another (SpiffWorkflow diff/migrate).

An instance can move when every task in its tree — finished ones too, since the stored state
names their specs — has a counterpart in the target version (same BPMN id), and so do its
subprocesses. Otherwise the dry run says which step is missing. Moving resets the READY and
WAITING branches onto the new spec: open tasks get new ids (the projection closes the old
rows and opens new ones) and timers are re-evaluated — due times that the diagram keeps as
data (``plan_due``) do not move. Each migration is one unit of work with an audit record.

Calls to other definitions (``engine.calls``): the instance keeps the versions its calls are
bound to, and the target version's new calls are bound to their latest; each subprocess is
compared with the spec under its call activity's call key (``B`` and a pinned ``B@3`` may
both run in one instance, under the same process name).
"""
import dataclasses

from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from engine import serialization
from engine.errors import Conflict, InvalidInput


@dataclasses.dataclass
class MigrationCheck:
    """Whether an instance can move. When not: ``code`` names why (``instance_not_running``,
    ``steps_missing``, ... as ``details[].code``), ``facts`` hold the particulars (``status``;
    ``version`` and ``steps``), ``reason`` says it in English for logs and API clients."""
    instance_id: str
    can_move: bool
    reason: str | None = None
    code: str | None = None
    facts: dict = dataclasses.field(default_factory=dict)


_PREDICTED = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE


def _missing(removed):
    """Removed specs that matter: predicted tasks are dropped and re-predicted by the move."""
    return [task.task_spec.bpmn_id or task.task_spec.name for task in removed
            if not task.state & _PREDICTED]


def _spec_key(workflow, sub_id):
    """The name a subprocess's spec has in ``subprocess_specs``: its task's ``spec`` (a call
    activity's call key, or an embedded subprocess's id)."""
    return workflow.get_task_from_id(sub_id).task_spec.spec


def _diff(workflow, spec, subprocess_specs):
    """SpiffWorkflow's ``diff_workflow``, with each subprocess compared under its call key."""
    registry = serialization.registry()
    top = WorkflowDiff(workflow, SpecDiff(registry, workflow.spec, spec))
    subprocesses = {}
    for sub_id, sub in workflow.subprocesses.items():
        target = subprocess_specs.get(_spec_key(workflow, sub_id))
        subprocesses[sub_id] = WorkflowDiff(sub, SpecDiff(registry, sub.spec, target)) if target else None
    return top, subprocesses


def _blockers(workflow, spec, subprocess_specs):
    top, subprocesses = _diff(workflow, spec, subprocess_specs)
    missing = _missing(top.removed)
    for sub_id, sub_diff in subprocesses.items():
        if sub_diff is None:
            missing.append(workflow.subprocesses[sub_id].spec.name)
        else:
            missing += _missing(sub_diff.removed)
    return top, subprocesses, sorted(set(missing))


class Migrations:
    def __init__(self, runtime):
        self.rt = runtime

    def _target(self, instance, to_version):
        with self.rt.db.read() as session:
            target = self.rt.definitions.get(session, instance.definition_key, to_version)
        if target.id == instance.definition_id:
            raise InvalidInput(f"instance {instance.id} is already on version {to_version}", reason="same_version")
        return target

    def check(self, instance_id, to_version):
        """Dry run for one instance: can it move, and if not, why."""
        instance = self.rt.instances.get(instance_id)
        if instance.status != "running":
            return MigrationCheck(instance.id, False, f"instance is {instance.status}", "instance_not_running",
                                  {"status": instance.status})
        target = self._target(instance, to_version)
        workflow = self.rt.uow.load(instance)
        called = self.rt.definitions.bind(target, keep=workflow.called)
        _, _, missing = _blockers(workflow, *self.rt.definitions.specs(target, called))
        if missing:
            return MigrationCheck(instance.id, False,
                                  f"steps not in version {target.version}: {', '.join(missing)}", "steps_missing",
                                  {"version": target.version, "steps": list(missing)})
        return MigrationCheck(instance.id, True)

    def migrate(self, instance_id, to_version, actor):
        """Move one running instance to ``to_version``; Conflict (409) if it cannot move."""
        instance = self.rt.instances.get(instance_id)
        target = self._target(instance, to_version)

        def action(ctx):
            workflow = ctx.workflow
            called = self.rt.definitions.bind(target, keep=workflow.called)
            spec, subprocess_specs = self.rt.definitions.specs(target, called)
            top, subprocesses, missing = _blockers(workflow, spec, subprocess_specs)
            if missing:
                raise Conflict(f"instance cannot move to version {target.version}: steps "
                               f"{', '.join(missing)} do not exist there", reason="steps_missing")
            removed = migrate_workflow(top, workflow, spec)
            for sub_id, sub_diff in subprocesses.items():
                sub = workflow.subprocesses[sub_id]
                removed += migrate_workflow(sub_diff, sub, subprocess_specs[_spec_key(workflow, sub_id)])
            workflow.subprocess_specs, workflow.called = subprocess_specs, called
            for task in removed:  # SpiffWorkflow 3.2 leaves reset timers registered (notes §10.3)
                workflow.event_manager.remove_task(task)
            ctx.migration_target = target
            ctx.audit("instance_migrated", from_version=instance.definition_version,
                      to_version=target.version)
        return self.rt.uow.run(instance_id, action, actor, command="migrate").instance

    def migrate_all(self, key, from_version, to_version, actor, dry_run=True):
        """Every running instance of ``key`` v``from_version``: checks, and unless ``dry_run``, moves."""
        rows, _ = self.rt.instances.list(definition=key, status="running", limit=100_000)
        results = []
        for row in rows:
            if row.definition_version != from_version:
                continue
            check = self.check(row.id, to_version)
            if check.can_move and not dry_run:
                try:
                    self.migrate(row.id, to_version, actor)
                except Conflict as err:  # moved on meanwhile: report, do not stop the batch
                    check = MigrationCheck(row.id, False, err.message, err.reason)
            results.append(check)
        return results
