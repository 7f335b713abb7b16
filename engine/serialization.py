"""Instance-only serialization: the spec is stored once per definition version (invariant 4).

SpiffWorkflow's serializer embeds the whole spec in every instance's JSON; this converter
leaves it out and takes the (cached) spec back at load time. The format is otherwise
SpiffWorkflow 3.2.0's own (serializer_version 1.5), so its migrations still apply, plus one
key, ``called``: the instance's bindings of call activities to deployed definitions
(``{call key: definition id}``, see ``engine.calls``), kept on the workflow as ``called`` so
that a load restores its subprocesses with the specs they started with.

Also the rules for the JSON data the engine stores beside the state: :func:`jsonable` and
:func:`task_data` (variables, form and event data), and :func:`typename_paths` (the one key
the serializer cannot take back).
"""
import json
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG


class _InstanceOnlyConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["spec_name"] = workflow.spec.name
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        if getattr(workflow, "called", None):
            dct["called"] = dict(workflow.called)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(SPIFF_CONFIG)
_config[BpmnWorkflow] = _InstanceOnlyConverter
_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config))


def registry():
    """The serializer's converter registry (SpiffWorkflow's spec diff compares specs through it)."""
    return _serializer.registry


def dump(workflow):
    """The instance's state as a JSON string, without its spec."""
    return _serializer.serialize_json(workflow)


def load(state, spec, subprocess_specs, script_engine, specs=None):
    """Rebuild a workflow from :func:`dump` output; attaches ``script_engine`` (never the default).

    ``specs(called)``: when the state holds call bindings, returns the ``(spec,
    subprocess_specs)`` to restore it with, in place of the two given (which then serve
    only an instance without calls to other definitions).
    """
    dct = json.loads(state, cls=_serializer.json_decoder_cls)
    _serializer.migrate(dct)
    called = {key: int(value) for key, value in dct.pop("called", {}).items()}
    if called and specs is not None:
        spec, subprocess_specs = specs(called)
    workflow = _serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.called = called
    workflow.script_engine = script_engine
    return workflow


def typename_paths(value, path=""):
    """The paths (``a/b/0``) of every key named ``typename`` in JSON ``value``.

    SpiffWorkflow's serializer takes a dict with that key for an encoded object and cannot
    load the instance again (spiff-arena #1712), so task data and start variables with one
    are refused before they reach a workflow.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}/{key}" if path else str(key)
            if key == "typename":
                yield here
            yield from typename_paths(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from typename_paths(item, f"{path}/{index}" if path else str(index))


def jsonable(data):
    """A JSON-safe copy of ``data`` as the database stores it (instance variables, form data,
    event data): values JSON cannot hold (datetimes, decimals) become their ``str``."""
    return json.loads(json.dumps(data, default=str, ensure_ascii=False))


def task_data(task):
    """A SpiffWorkflow task's data as JSON, without the functions scripts may leave in it."""
    return jsonable({key: value for key, value in task.data.items() if not callable(value)})
