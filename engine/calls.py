"""Call activities across deployed definitions: the notation, and how a call is resolved.

A ``<bpmn:callActivity calledElement="B">`` calls process ``B``. The process is looked for
first in the caller's own file (SpiffWorkflow resolves it there, as part of the caller's
version), and otherwise among the deployed definitions: the BPMN definition whose key (its
executable process id) is ``B``. A process that is neither in the file, nor deployed, nor
in the same deploy bundle is refused at deploy, naming the call activity and the process.

**Latest, or pinned.** Unpinned, a call runs the *latest* deployed version of ``B``. A
designer pins a version with a task property on the call activity, written like the other
task properties (``candidateRole``, ``formSchema``; the SpiffWorkflow properties panel for
bpmn-js edits them); the name is Camunda's ``calledElementVersion``, which designers know::

    <bpmn:callActivity id="call_b" calledElement="B">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="calledElementVersion" value="3"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:callActivity>

A pinned call always runs that deployed version, even when ``B`` is also in the caller's
file; the version must be deployed before the caller (a pin cannot name a version that the
same bundle creates). Inside the engine a call is named by its *call key*: ``B`` (latest) or ``B@3`` (pinned);
the parser gives the call activity's task spec that key, so one instance can hold the
latest ``B`` and a pinned ``B@3`` side by side.

**When "latest" is resolved: at the start of the instance.** SpiffWorkflow wants every
called spec when the workflow is built (``BpmnWorkflow(spec, subprocess_specs)``) and
restores a subprocess from the specs it is given at load. So ``DefinitionStore.bind`` fixes,
when an instance starts, the definition version behind each call key of the whole call tree
(A calls B calls C: C is bound too), and the instance keeps that binding (stored with its
state) for its life, as it keeps its own version. Trade-off: a called process redeployed
while an instance runs applies to instances started afterwards, not to the running one
(unlike a decision, which is policy evaluated when taken, see ``engine.decisions``); in
exchange a running subprocess never changes spec under its tasks, and a call activity
reached twice in a loop runs the same version both times. Moving an instance to a new version
(``engine.migration``) keeps its bindings and binds the target's new calls to their latest.
"""
import re

from SpiffWorkflow.spiff.parser.task_spec import CallActivityParser as _SpiffCallActivityParser

VERSION_PROPERTY = "calledElementVersion"
_VERSION = re.compile(r"\s*[1-9][0-9]{0,8}\s*")


def call_key(process_id, version=None):
    """The call key of ``process_id``: itself (latest), or ``process_id@version`` (pinned)."""
    return f"{process_id}@{version}" if version else process_id


def split_call_key(key):
    """``(process_id, version or None)`` of a call key."""
    process_id, _, version = key.partition("@")
    return process_id, int(version) if version else None


def valid_version(value):
    """Whether ``value`` (the property's text) is a version number: 1, 2, ..."""
    return bool(_VERSION.fullmatch(value or ""))


class CallActivityParser(_SpiffCallActivityParser):
    """SpiffWorkflow's call activity, named by its call key (``B`` or ``B@3``)."""

    def create_task(self):
        task = super().create_task()
        version = self.parse_extensions().get("properties", {}).get(VERSION_PROPERTY)
        if version is not None:  # deploy's lint has checked it is a version number
            task.spec = call_key(task.spec, int(version))
        return task
