"""Process definitions: validate, deploy, version per key, and the parsed-spec cache.

Deploying checks, before anything is stored: well-formed XML; the BPMN XSD (SpiffWorkflow's
validator); that no element the engine does not run is there (``refuse_unsupported``: the ✘
rows of docs/BPMN.md, refused by name rather than accepted and then silently run otherwise);
that every sequence flow joins existing nodes and no node dangles; that every script,
condition, loop, timer and task-property expression passes the sandbox (a timer may also be a
bare ISO 8601 value, ``engine.timer_literals``); that no call activity starts its own process
again before anything waits (``engine.recursion``); that each
``formSchema`` is a valid JSON Schema. Any failure raises :class:`InvalidDefinition` naming the
element and line, and nothing is deployed. Identical bytes deployed again return the
existing version. A BPMN version is parsed with the DMN decisions current when it was
deployed (a process calling a decision that is not deployed is refused); when its business
rule tasks run they evaluate the latest deployed version of their decision
(``engine.decisions``), so a redeployed table applies from then on without redeploying the
processes. A DMN document is checked too: one decision, and every cell passes the sandbox.

A call activity whose process is not in its own file calls a deployed definition (latest, or
a pinned version): deploy refuses a call to a process that is neither in the file, nor in the
bundle, nor deployed; see ``engine.calls`` for the notation and when "latest" is resolved.

**Bundles.** Several files (BPMN and DMN) deploy together (:meth:`DefinitionStore.deploy_bundle`):
they are checked together, so a process may call a process or a decision of another file of
the bundle, and stored in one transaction, so either every file is deployed or none is.
"""
import contextlib
import copy
import hashlib
import json
import threading

import jsonschema
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity as CallActivityMixin
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine.calls import VERSION_PROPERTY, split_call_key, valid_version
from engine.decisions import Parser, decision_engine
from engine.errors import Conflict, InvalidDefinition, NotFound, ScriptRejected
from engine.models import Definition
from engine.recursion import find_recursive_call
from engine.scripting import compile_script, lint_script
from engine.timer_literals import literal as timer_literal, quote_literals

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = ("https://www.omg.org/spec/DMN/20191111/MODEL/",
                  "http://www.omg.org/spec/DMN/20151101/dmn.xsd")
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

# Task properties the engine evaluates as expressions over the task's data.
EXPRESSION_PROPERTIES = ("candidateRole", "candidateDepartment", "assignee", "dueDate")
_NO_INCOMING = {"startEvent", "boundaryEvent"}
_NO_OUTGOING = {"endEvent"}
_CONTAINERS = {"subProcess", "transaction"}
_FLOW_NODES = {"startEvent", "endEvent", "task", "userTask", "manualTask", "scriptTask",
               "serviceTask", "businessRuleTask", "sendTask", "receiveTask", "callActivity",
               "exclusiveGateway", "parallelGateway", "inclusiveGateway",
               "eventBasedGateway", "intermediateCatchEvent", "intermediateThrowEvent",
               "boundaryEvent", "complexGateway", "adHocSubProcess", *_CONTAINERS}


def _fail(message, element=None, line=None, reason="invalid_definition"):
    details = {"element": element, "line": line, "code": reason}
    where = " ".join(part for part in (
        f"element '{element}'" if element else "", f"line {line}" if line else "") if part)
    raise InvalidDefinition(f"{message} ({where})" if where else message, details=details, reason=reason)


def _parser():
    # Hardened: no entities, no DTD loading, no network, no huge trees. SpiffWorkflow parses the
    # same bytes again with its own parser, so a DOCTYPE is refused before either sees it.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False)


def parse_xml(source):
    """The document's root, or InvalidDefinition: ``malformed_xml``, or ``doctype`` for any
    DOCTYPE (a BPMN or DMN document needs none; entities are how XML bombs and file reads come in)."""
    try:
        root = etree.fromstring(source, _parser())
    except etree.XMLSyntaxError as err:
        _fail(f"malformed XML: {err.msg}", line=err.lineno, reason="malformed_xml")
    except ValueError as err:  # lxml: e.g. a str with an encoding declaration
        _fail(f"malformed XML: {err}", reason="malformed_xml")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        _fail("a DOCTYPE is not allowed in a process definition", reason="doctype")
    return root


def _local(tag):
    return etree.QName(tag).localname if isinstance(tag, str) else None


def lint_bpmn(root):
    """Structural and expression checks the XSD and SpiffWorkflow's parser do not make."""
    refuse_unsupported(root)
    for process in root.iterfind("bpmn:process", NS):
        _lint_container(process)
    _lint_recursion(root.findall("bpmn:process", NS))
    for node in root.iter(f"{{{BPMN_NS}}}script", f"{{{BPMN_NS}}}conditionExpression",
                          f"{{{BPMN_NS}}}condition", f"{{{BPMN_NS}}}loopCondition",
                          f"{{{BPMN_NS}}}completionCondition", f"{{{BPMN_NS}}}loopCardinality"):
        mode = "exec" if _local(node.tag) == "script" else "eval"
        _lint_expression(node.text or "", mode, node)
    for node in root.iter(f"{{{SPIFF_NS}}}preScript", f"{{{SPIFF_NS}}}postScript"):
        _lint_expression(node.text or "", "exec", node)  # a task's own scripts, run on entry / completion
    for node in root.iter(f"{{{BPMN_NS}}}timeDate", f"{{{BPMN_NS}}}timeDuration",
                          f"{{{BPMN_NS}}}timeCycle"):
        _lint_timer(node)
    for prop in root.iter(f"{{{SPIFF_NS}}}property"):
        _lint_property(prop)


def _lint_recursion(processes):
    """Refuse a call activity that starts its own process again before anything waits
    (``engine.recursion``): the instance would recurse until its command's budget stops it."""
    found = find_recursive_call(processes)
    if found:
        call, cycle = found
        how = (f"calls its own process '{cycle[0]}'" if len(cycle) == 2 else
               f"calls its own process '{cycle[0]}' again through {' -> '.join(cycle)}")
        _fail(f"call activity {how} before any wait state (user task, receive task, catch event) "
              "or condition: the recursion would never end", call.get("id"), call.sourceline,
              reason="recursive_call")


# What the engine does not run (docs/BPMN.md, the ✘ rows): refused at deploy, naming the
# element, rather than accepted and then silently doing something else. Each entry:
# (XPath from the document root, message). The XPath selects the offending element.
_UNSUPPORTED = (
    (".//bpmn:complexGateway", "complex gateways are not supported"),
    (".//bpmn:adHocSubProcess", "ad-hoc subprocesses are not supported"),
    (".//bpmn:boundaryEvent[bpmn:compensateEventDefinition]", "compensation boundary events are not supported"),
    (".//bpmn:intermediateThrowEvent[bpmn:compensateEventDefinition]",
     "compensation throw events are not supported"),
    (".//bpmn:endEvent[bpmn:compensateEventDefinition]", "compensation end events are not supported"),
    (".//bpmn:startEvent[bpmn:compensateEventDefinition]",
     "event subprocesses started by compensation are not supported"),
    (".//*[@isForCompensation='true']", "compensation activities (isForCompensation) are not supported"),
    (".//*[bpmn:linkEventDefinition]", "link events are not supported; draw the sequence flow instead"),
    (".//bpmn:endEvent[bpmn:signalEventDefinition]",
     "signal end events are not supported (the signal would not be sent); "
     "use an intermediate signal throw event before a none end event"),
    ("./bpmn:process/bpmn:startEvent[bpmn:signalEventDefinition]",
     "signal start events of a process are not supported: no signal can reach an instance from outside; "
     "start the process and use a message"),
    (".//bpmn:subProcess[@triggeredByEvent='true']/bpmn:startEvent[not(@isInterrupting='false')]",
     "interrupting event subprocesses are not supported (they would run without interrupting); "
     "set isInterrupting=\"false\" or use a boundary event"),
    (".//bpmn:subProcess[@triggeredByEvent='true']/bpmn:startEvent[bpmn:errorEventDefinition]",
     "event subprocesses started by an error are not supported; use an error boundary event"),
    (".//bpmn:subProcess[@triggeredByEvent='true']/bpmn:startEvent[bpmn:escalationEventDefinition]",
     "event subprocesses started by an escalation are not supported; use an escalation boundary event"),
    (".//bpmn:subProcess[@triggeredByEvent='true']/bpmn:startEvent[bpmn:conditionalEventDefinition]",
     "event subprocesses started by a condition are not supported"),
    (".//bpmn:endEvent[bpmn:cancelEventDefinition][not(ancestor::bpmn:transaction)]",
     "cancel end events are only supported inside a transaction"),
    (".//bpmn:dataStore", "data stores are not supported; use data objects or process variables"),
    (".//bpmn:dataStoreReference", "data stores are not supported; use data objects or process variables"),
)


def refuse_unsupported(root):
    """InvalidDefinition (``unsupported_element``) naming the first element the engine does not run."""
    for path, message in _UNSUPPORTED:
        for node in root.xpath(path, namespaces=NS):
            _fail(message, _owner_id(node), node.sourceline, reason="unsupported_element")
    for event in root.iterfind(".//bpmn:boundaryEvent[bpmn:cancelEventDefinition]", NS):
        attached = root.xpath(".//*[@id=$ref]", ref=event.get("attachedToRef"))
        if not attached or _local(attached[0].tag) != "transaction":
            _fail("cancel boundary events are only supported on a transaction", event.get("id"),
                  event.sourceline, reason="unsupported_element")


def _owner_id(node):
    while node is not None and node.get("id") is None:
        node = node.getparent()
    return node.get("id") if node is not None else None


def _lint_expression(text, mode, node):
    if not text.strip():
        _fail("empty expression", _owner_id(node), node.sourceline, reason="empty_expression")
    try:
        lint_script(text.strip(), mode)
    except ScriptRejected as err:
        _fail(err.message, _owner_id(node), node.sourceline, reason=err.reason)


def _lint_timer(node):
    """A bare ISO 8601 value of the timer's kind (``engine.timer_literals``), else an expression."""
    try:
        if timer_literal(_local(node.tag), node.text) is not None:
            return
    except ValueError as err:
        _fail(str(err), _owner_id(node), node.sourceline, reason="bad_timer")
    _lint_expression(node.text or "", "eval", node)


def _lint_property(prop):
    name, value = prop.get("name"), prop.get("value") or ""
    if name in EXPRESSION_PROPERTIES:
        _lint_expression(value, "eval", prop)
    elif name == VERSION_PROPERTY:
        if not valid_version(value):
            _fail(f"{VERSION_PROPERTY} must be a version number (1, 2, ...), not {value!r}",
                  _owner_id(prop), prop.sourceline, reason="bad_called_version")
    elif name == "formSchema":
        try:
            jsonschema.Draft202012Validator.check_schema(json.loads(value))
        except (ValueError, jsonschema.SchemaError) as err:
            _fail(f"formSchema is not a valid JSON Schema: {str(err).splitlines()[0]}",
                  _owner_id(prop), prop.sourceline, reason="bad_form_schema")


def _lint_container(container):
    nodes = {child.get("id"): child for child in container if _local(child.tag) in _FLOW_NODES}
    flows = [child for child in container if _local(child.tag) == "sequenceFlow"]
    incoming, outgoing = set(), set()
    for flow in flows:
        for attr, seen in (("sourceRef", outgoing), ("targetRef", incoming)):
            ref = flow.get(attr)
            if ref not in nodes:
                _fail(f"sequence flow {attr} '{ref}' is not a node of this process",
                      flow.get("id"), flow.sourceline, reason="unknown_flow_node")
            seen.add(ref)
    for node_id, node in nodes.items():
        kind = _local(node.tag)
        event_subprocess = node.get("triggeredByEvent") == "true"  # its start event's trigger starts it
        if kind not in _NO_INCOMING and not event_subprocess and node_id not in incoming:
            _fail(f"{kind} has no incoming sequence flow", node_id, node.sourceline, reason="no_incoming_flow")
        if kind not in _NO_OUTGOING and not event_subprocess and node_id not in outgoing:
            _fail(f"{kind} has no outgoing sequence flow (dangling)", node_id, node.sourceline,
                  reason="no_outgoing_flow")
        if kind in _CONTAINERS:
            _lint_container(node)


def executable_process_id(root):
    processes = root.findall("bpmn:process", NS)
    executable = [p for p in processes if p.get("isExecutable", "false") == "true"] or processes
    if not executable:
        _fail("no bpmn:process in the document", reason="no_process")
    return executable[0].get("id"), executable[0].get("name")


def _dmn_decision(root):
    for ns in DMN_NAMESPACES:
        decision = root.find(f"{{{ns}}}decision")
        if decision is not None:
            return decision.get("id"), decision.get("name")
    _fail("DMN document has no decision", reason="no_decision")


def _kind(root):
    namespace = etree.QName(root).namespace
    if _local(root.tag) == "definitions" and namespace == BPMN_NS:
        return "bpmn"
    if _local(root.tag) == "definitions" and namespace in DMN_NAMESPACES:
        return "dmn"
    _fail(f"not a BPMN or DMN document (root element {root.tag})", line=root.sourceline, reason="not_bpmn")


def lint_dmn(parser, decision_id):
    """Parse the decision table and run every cell through the sandbox's compiler.

    Input cells are Python as SpiffWorkflow reads them: a value (``2``), a comparison with
    the input left out (``>= 4``), or with ``?`` standing for it (``1 <= ? < 4``).
    """
    try:
        engine = decision_engine(parser, decision_id)
    except (ValidationException, SpiffWorkflowException, KeyError, IndexError) as err:
        _fail(f"DMN: {str(err).splitlines()[0] if str(err) else type(err).__name__}", decision_id, reason="bad_dmn")
    for rule in engine.decision_table.rules:
        try:
            for entry in rule.inputEntries:
                if entry.input.expression:
                    compile_script(entry.input.expression.strip(), "eval")
                for text in filter(None, entry.lhs):
                    _compile_input_cell(text.replace("?", "dmninputexpr").strip())
            for entry in rule.outputEntries:
                if getattr(entry, "text", None):
                    compile_script(entry.text.strip(), "eval")
        except ScriptRejected as err:
            _fail(f"DMN rule {rule.row_number}: {err.message}", rule.id, reason=err.reason)


def _compile_input_cell(text):
    try:
        compile_script(text, "eval")
    except ScriptRejected:
        compile_script(f"dmninputexpr {text}", "eval")


def check_schema(root):
    """The BPMN XSD (with SpiffWorkflow's extensions), before our own structural checks."""
    try:
        VALIDATOR.validate(copy.deepcopy(root))
    except ValidationException as err:
        _fail(f"BPMN schema: {str(err).splitlines()[0]}", getattr(err, "id", None) or None,
              getattr(err, "line_number", None) or None, reason="bpmn_schema")


def build_parser(source, kind, dmn_sources=()):
    """Parse with SpiffWorkflow; its errors become InvalidDefinition naming element and line."""
    parser = Parser(validator=VALIDATOR)
    try:
        for dmn in dmn_sources:
            parser.add_dmn_str(dmn.encode() if isinstance(dmn, str) else dmn)
        if kind == "bpmn":
            parser.add_bpmn_str(source)
        else:
            parser.add_dmn_str(source)
    except ValidationException as err:
        _fail(str(err).split("\n")[0], getattr(err, "id", None) or None,
              getattr(err, "line_number", None) or None)
    return parser


class _Document:
    """One file of a deploy: its bytes and, once checked, its kind and key (and for BPMN, once
    parsed, its ``parts``: see ``DefinitionStore._spiff_spec``)."""

    def __init__(self, name, source):
        self.name = name
        self.source = source.encode("utf-8") if isinstance(source, str) else source
        self.digest = hashlib.sha256(self.source).hexdigest()
        self.kind = self.key = self.title = self.parts = None

    def check(self):
        """Every check that needs this file alone."""
        root = parse_xml(self.source)
        self.kind = _kind(root)
        if self.kind == "bpmn":
            check_schema(root)
            lint_bpmn(root)
            self.key, self.title = executable_process_id(root)
        else:
            self.key, self.title = _dmn_decision(root)
            lint_dmn(build_parser(self.source, "dmn"), self.key)


@contextlib.contextmanager
def _naming(file_name):
    """A refusal raised inside names ``file_name`` (in its message and as ``details.file``)."""
    try:
        yield
    except InvalidDefinition as err:
        if file_name is None:
            raise
        details = {**err.details, "file": file_name} if isinstance(err.details, dict) else {"file": file_name}
        raise InvalidDefinition(f"{file_name}: {err.message}", details=details, reason=err.reason) from err


def _call_activities(spec, subprocess_specs):
    for process in (spec, *subprocess_specs.values()):
        for task_spec in process.task_specs.values():
            if isinstance(task_spec, CallActivityMixin):
                yield task_spec


class DefinitionStore:
    """Deploy and look up definitions; caches parsed specs per definition id (immutable)."""

    def __init__(self, db, clock, audit):
        self.db, self.clock, self.audit = db, clock, audit
        self._specs = {}
        self._decisions = {}
        self._rows = {}
        self._lock = threading.Lock()

    # -- deploy ---------------------------------------------------------------------------
    def deploy(self, source, actor=None):
        """Validate and store ``source`` (bytes). Returns ``(definition, created)``."""
        return self.deploy_bundle([(None, source)], actor)[0]

    def deploy_bundle(self, files, actor=None):
        """Validate ``files`` (``[(name, bytes)]``, BPMN and DMN) together and store them in one
        transaction: all or none. Returns ``[(definition, created)]`` in the order given.

        A process may call a decision or a process of another file of the bundle. Any refusal
        raises InvalidDefinition and deploys nothing; in a bundle of several files its message
        starts with the file's name and its details carry ``file``.
        """
        named = len(files) > 1
        documents = [_Document(name or f"file {index}", source) for index, (name, source) in enumerate(files, 1)]
        for doc in documents:
            with _naming(doc.name if named else None):
                doc.check()
        keys = {}
        for doc in documents:
            if doc.key in keys:
                with _naming(doc.name if named else None):
                    _fail(f"{doc.kind.upper()} key '{doc.key}' is also in file '{keys[doc.key].name}' "
                          "of this bundle", doc.key, reason="duplicate_key")
            keys[doc.key] = doc
        with self.db.read() as session:
            deployed_dmn = {d.key: d for d in self._latest_dmn(session)}
        bundle_dmn = {doc.key: doc for doc in documents if doc.kind == "dmn"}
        dmn_sources = [d.source for k, d in deployed_dmn.items() if k not in bundle_dmn]
        dmn_sources += [doc.source for doc in bundle_dmn.values()]
        bundle_bpmn = {doc.key for doc in documents if doc.kind == "bpmn"}
        for doc in documents:
            if doc.kind == "bpmn":
                with _naming(doc.name if named else None):
                    doc.parts = self._spiff_spec(build_parser(doc.source, "bpmn", dmn_sources), doc.key)
                    self._check_calls(doc, bundle_bpmn)
        for _ in range(3):  # a concurrent deploy of the same key may take our version number
            try:
                return self._store(documents, deployed_dmn, actor)
            except IntegrityError:
                continue
        raise InvalidDefinition("could not allocate a version; retry", reason="version_taken")

    def _check_calls(self, doc, bundle_bpmn):
        """Every call to a process outside the file names one in the bundle or deployed; when
        all are deployed, the call tree as an instance started now would bind it has no clash."""
        spec, subprocess_specs, external = doc.parts
        in_bundle = {key for key in external if key in bundle_bpmn}  # a pinned key has "@": never
        with self.db.read() as session:
            for key in external - in_bundle:
                process_id, version = split_call_key(key)
                if self._called(session, key) is None:
                    callers = sorted(task_spec.bpmn_id for task_spec in _call_activities(spec, subprocess_specs)
                                     if task_spec.spec == key)
                    what = (f"version {version} of process '{process_id}' is not deployed" if version
                            else f"process '{process_id}' is neither in this file nor deployed")
                    _fail(f"call activity '{callers[0]}' calls {what}", callers[0], reason="unknown_called_process")
        if external and not in_bundle:
            try:
                self._merge(doc.parts, doc.key, self._bind(external, doc.key))
            except Conflict as err:
                _fail(err.message, doc.key, reason=err.reason)

    def _store(self, documents, deployed_dmn, actor):
        """One transaction: the bundle's decisions first (its processes record their ids)."""
        results, stored = {}, []
        with self.db.write() as session:
            dmn_ids = {key: d.id for key, d in deployed_dmn.items()}
            for doc in sorted(documents, key=lambda d: d.kind != "dmn"):
                existing = session.scalar(select(Definition).where(
                    Definition.key == doc.key, Definition.sha256 == doc.digest))
                if existing:
                    results[id(doc)] = (existing, False)
                    if doc.kind == "dmn":
                        dmn_ids[doc.key] = existing.id
                    continue
                latest = session.scalar(select(func.max(Definition.version)).where(Definition.key == doc.key))
                definition = Definition(
                    key=doc.key, version=(latest or 0) + 1, kind=doc.kind, name=doc.title,
                    sha256=doc.digest, source=doc.source.decode("utf-8"),
                    dmn_ids=list(dmn_ids.values()) if doc.kind == "bpmn" else [],
                    deployed_at=self.clock.now(), deployed_by=actor)
                session.add(definition)
                session.flush()
                if doc.kind == "dmn":
                    dmn_ids[doc.key] = definition.id
                self.audit.append(session, actor=actor, kind="definition_deployed", data={
                    "key": doc.key, "version": definition.version, "kind": doc.kind, "sha256": doc.digest})
                results[id(doc)] = (definition, True)
                stored.append((definition, doc.parts))
        for definition, parts in stored:
            if parts:
                self._cache(definition.id, parts)
        return [results[id(doc)] for doc in documents]

    def _cache(self, definition_id, parts):
        """Keep ``parts``; each spec carries ``definition_id`` (the projection reads which
        definition a task of a called process belongs to)."""
        spec, subprocess_specs, _ = parts
        for process in (spec, *subprocess_specs.values()):
            process.definition_id = definition_id
        with self._lock:
            self._specs[definition_id] = parts

    @staticmethod
    def _spiff_spec(parser, key):
        """``(spec, subprocess_specs, external_calls)``: the processes of the file, and the call
        keys of the call activities whose process is not in it (``engine.calls``)."""
        try:
            spec = parser.get_spec(key)
            found = parser.get_subprocess_specs(key, require_call_activity_specs=False)
        except (ValidationException, SpiffWorkflowException) as err:
            _fail(str(err).split("\n")[0], getattr(err, "id", None) or key,
                  getattr(err, "line_number", None) or None)
        subprocess_specs = {name: sub for name, sub in found.items() if sub is not None}
        quote_literals([spec, *subprocess_specs.values()])  # bare ISO timers: engine.timer_literals
        return spec, subprocess_specs, frozenset(name for name, sub in found.items() if sub is None)

    def _latest_dmn(self, session):
        latest = (select(Definition.key, func.max(Definition.version).label("v"))
                  .where(Definition.kind == "dmn").group_by(Definition.key).subquery())
        return list(session.scalars(select(Definition).join(
            latest, (Definition.key == latest.c.key) & (Definition.version == latest.c.v))))

    # -- call activities (engine.calls) ------------------------------------------------------
    @staticmethod
    def _called(session, key):
        """The deployed BPMN definition a call key names (pinned version, or latest), or None."""
        process_id, version = split_call_key(key)
        query = select(Definition).where(Definition.key == process_id, Definition.kind == "bpmn")
        query = (query.where(Definition.version == version) if version
                 else query.order_by(Definition.version.desc()).limit(1))
        return session.scalar(query)

    def bind(self, definition, keep=None):
        """``{call key: definition id}`` for every call, at any depth of the call tree, to a
        process outside its caller's file: the pinned version, or the latest deployed now.
        ``keep``: bindings to keep as they are (an instance's, when it moves version)."""
        return self._bind(self._parts(definition)[2], definition.key, keep)

    def _bind(self, external, caller, keep=None):
        keep, called, pending = keep or {}, {}, list(external)
        with self.db.read() as session:
            while pending:
                key = pending.pop()
                if key in called:
                    continue
                target = self.by_id(session, keep[key]) if key in keep else self._called(session, key)
                if target is None:  # deploy checked it; a bundle partner is deployed with its caller
                    raise Conflict(f"process {key!r}, called by {caller}, is not deployed",
                                   reason="unknown_called_process")
                called[key] = target.id
                pending.extend(self._parts(target)[2])
        return called

    def specs(self, definition, called=None):
        """``(spec, subprocess_specs)`` to build or restore a workflow of ``definition`` whose
        calls are bound as ``called`` (see :meth:`bind`): the file's own processes and, under
        each call key, the called definition's process with its own file's processes.

        Conflict ``called_process_clash`` when two files of the call tree use one id for
        different processes or subprocesses (SpiffWorkflow keys them all by id in one
        workflow); deploy refuses that where it can see it (calls to deployed processes)."""
        return self._merge(self._parts(definition), definition.key, called)

    def _merge(self, parts, caller, called):
        spec, subprocess_specs, _ = parts
        if not called:
            return spec, subprocess_specs
        merged = dict(subprocess_specs)
        with self.db.read() as session:
            targets = {key: self.by_id(session, definition_id) for key, definition_id in called.items()}
        for key, target in targets.items():
            target_spec, target_subprocesses = self.spec(target)
            for name, process in ((key, target_spec), *target_subprocesses.items()):
                if merged.setdefault(name, process) is not process:
                    raise Conflict(f"process or subprocess id {name!r} of {target.key} v{target.version} "
                                   f"is also used by another file in the call tree of {caller}",
                                   reason="called_process_clash")
        return spec, merged

    # -- look up --------------------------------------------------------------------------
    def get(self, session, key, version=None):
        query = select(Definition).where(Definition.key == key)
        query = (query.where(Definition.version == version) if version is not None
                 else query.order_by(Definition.version.desc()).limit(1))
        definition = session.scalar(query)
        if definition is None:
            raise NotFound(f"no definition {key!r}" + (f" version {version}" if version else ""), reason="no_definition")
        return definition

    def by_id(self, session, definition_id):
        """The definition with ``definition_id``. A stored version never changes, so each is read
        once per process and kept as a detached copy (every unit of work needs its definition)."""
        cached = self._rows.get(definition_id)
        if cached is not None:
            return cached
        definition = session.get(Definition, definition_id)
        if definition is None:
            raise NotFound(f"no definition with id {definition_id}", reason="no_definition")
        detached = Definition(**{column.key: getattr(definition, column.key)
                                 for column in Definition.__table__.columns})
        with self._lock:
            self._rows[definition_id] = detached
        return detached

    def spec(self, definition):
        """``(spec, subprocess_specs)`` of a BPMN definition's own file, parsed once per process."""
        spec, subprocess_specs, _ = self._parts(definition)
        return spec, subprocess_specs

    def _parts(self, definition):
        parts = self._specs.get(definition.id)
        if parts is None:
            with self.db.read() as session:
                dmn = [session.get(Definition, i).source for i in definition.dmn_ids]
            parser = build_parser(definition.source.encode("utf-8"), "bpmn", dmn)
            parts = self._spiff_spec(parser, definition.key)
            self._cache(definition.id, parts)
        return parts

    def decision(self, decision_id):
        """The DMNEngine of the latest deployed version of ``decision_id``, or None."""
        with self.db.read() as session:
            definition = session.scalar(select(Definition).where(
                Definition.key == decision_id, Definition.kind == "dmn")
                .order_by(Definition.version.desc()).limit(1))
        if definition is None:
            return None
        engine = self._decisions.get(definition.id)
        if engine is None:
            engine = decision_engine(build_parser(definition.source.encode("utf-8"), "dmn"), decision_id)
            with self._lock:
                self._decisions[definition.id] = engine
        return engine

    def task_spec(self, definition, task_key):
        """The spec of the task ``task_key``: for a multi-instance or loop task, the spec of
        one instance (the one a person completes, with the task's form), not its wrapper."""
        spec, subprocess_specs = self.spec(definition)
        for process in (spec, *subprocess_specs.values()):
            for task_spec in process.task_specs.values():
                if getattr(task_spec, "bpmn_id", None) == task_key and not isinstance(task_spec, LoopTask):
                    return task_spec
        raise NotFound(f"definition {definition.key} v{definition.version} has no task {task_key!r}", reason="no_task")
