"""What changed between two versions of a BPMN definition, element by element.

:func:`diff` parses both sources and compares their *elements*: the parts a diagram draws and
a designer names (processes, flow nodes, sequence and message flows, lanes, participants,
annotations, data references), matched by ``id``. An element is *added*, *removed*, or
*changed* when any of its aspects differs:

- ``@attr``: one of its own attributes (``name``, ``sourceRef``, ``calledElement`` ...);
- ``property:NAME``: a ``spiffworkflow:property`` (``candidateRole``, ``formSchema`` ...);
- ``path/of/tags``: any other content nested in it (a condition, a script, a timer's
  ``timerEventDefinition/timeDuration``, its documentation), as text with attributes; a
  lane's ``flowNodeRef`` members as one sorted list.

Left out on purpose: elements nested in an element are compared as elements of their own
(a subprocess is not "changed" because a task inside it is), ``incoming``/``outgoing`` (they
repeat the flows, which are compared), ids of nested parts (a modeler renumbers them), and
the diagram interchange (shapes' positions), reported only as :attr:`Diff.layout_changed`.
The words people read are the pages' (``api.web.designer``); this module speaks tags and keys.
"""
import dataclasses

from lxml import etree

from engine.definitions import BPMN_NS, SPIFF_NS, parse_xml

BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
ELEMENTS = {
    "process", "participant", "lane", "sequenceFlow", "messageFlow", "textAnnotation", "association",
    "dataObjectReference", "dataStoreReference", "dataObject", "group",
    "startEvent", "endEvent", "task", "userTask", "manualTask", "scriptTask", "serviceTask",
    "businessRuleTask", "sendTask", "receiveTask", "callActivity", "exclusiveGateway", "parallelGateway",
    "inclusiveGateway", "eventBasedGateway", "complexGateway", "intermediateCatchEvent",
    "intermediateThrowEvent", "boundaryEvent", "subProcess", "transaction", "adHocSubProcess",
}
SKIPPED = {"incoming", "outgoing", "laneSet", "childLaneSet"}  # repeated elsewhere, or containers only


@dataclasses.dataclass
class Change:
    kind: str                 # added, removed, changed
    element: str              # the element's id
    tag: str                  # its tag's local name (userTask)
    name: str | None          # its name (in the newer version, when it has one)
    aspects: list = dataclasses.field(default_factory=list)  # [(aspect, old, new)] for "changed"


@dataclasses.dataclass
class Diff:
    changes: list
    layout_changed: bool

    def ids(self, kind):
        return [c.element for c in self.changes if c.kind == kind]


def _local(tag):
    return etree.QName(tag).localname if isinstance(tag, str) else None


def _is_element(node):
    return isinstance(node.tag, str) and etree.QName(node.tag).namespace == BPMN_NS \
        and _local(node.tag) in ELEMENTS and node.get("id")


def elements(root):
    """``{id: node}`` for every element of a parsed definition."""
    return {node.get("id"): node for node in root.iter() if _is_element(node)}


def aspects(node):
    """``{aspect: value}`` of one element (see the module's docstring)."""
    out = {f"@{name}": value for name, value in sorted(node.attrib.items()) if name != "id"}
    _nested(node, "", out)
    return out


def _nested(node, prefix, out):
    seen = {}
    for child in node:
        tag = _local(child.tag)
        if tag is None or tag in SKIPPED or _is_element(child):
            continue
        if etree.QName(child.tag).namespace == SPIFF_NS and tag == "property" and child.get("name"):
            out[f"property:{child.get('name')}"] = child.get("value") or ""
            continue
        if tag == "flowNodeRef":  # a lane's members: a set, whatever order the modeler writes
            members = set(filter(None, (out.get(prefix + tag) or "").split(", "))) | {(child.text or "").strip()}
            out[prefix + tag] = ", ".join(sorted(members))
            continue
        seen[tag] = seen.get(tag, 0) + 1
        path = f"{prefix}{tag}" + (f"[{seen[tag]}]" if seen[tag] > 1 else "")
        text = (child.text or "").strip()
        attrs = " ".join(f"{k}={v}" for k, v in sorted(child.attrib.items())
                         if k != "id" and not k.startswith(XSI))  # xsi:type: how a modeler spells it
        if text or attrs:
            out[path] = " ".join(part for part in (attrs, text) if part)
        _nested(child, path + "/", out)


def _layout(root):
    """The shapes and edges of the diagrams, each canonicalized, as a set: a modeler that writes
    them in another order has not moved anything."""
    parts = root.iterfind(f".//{{{BPMNDI_NS}}}BPMNShape"), root.iterfind(f".//{{{BPMNDI_NS}}}BPMNEdge")
    return {etree.canonicalize(etree.tostring(node, encoding="unicode"), strip_text=True)
            for nodes in parts for node in nodes}


def diff(old_source, new_source):
    """The :class:`Diff` from ``old_source`` to ``new_source`` (bytes or str); raises
    ``InvalidDefinition`` for a source that is not well-formed XML."""
    old_root, new_root = parse_xml(_bytes(old_source)), parse_xml(_bytes(new_source))
    old, new = elements(old_root), elements(new_root)
    changes = []
    for element_id, node in new.items():
        if element_id not in old:
            changes.append(Change("added", element_id, _local(node.tag), node.get("name")))
            continue
        before, after = aspects(old[element_id]), aspects(node)
        changed = [(key, before.get(key), after.get(key)) for key in sorted(before.keys() | after.keys())
                   if before.get(key) != after.get(key)]
        if _local(old[element_id].tag) != _local(node.tag):
            changed.insert(0, ("tag", _local(old[element_id].tag), _local(node.tag)))
        if changed:
            name = node.get("name") or old[element_id].get("name")
            changes.append(Change("changed", element_id, _local(node.tag), name, changed))
    for element_id, node in old.items():
        if element_id not in new:
            changes.append(Change("removed", element_id, _local(node.tag), node.get("name")))
    return Diff(changes, _layout(old_root) != _layout(new_root))


def _bytes(source):
    return source.encode("utf-8") if isinstance(source, str) else source
