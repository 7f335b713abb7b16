"""Call activities that would recurse without end, seen at deploy (issue 19).

A call activity whose ``calledElement`` is its own process, directly or through a chain of
processes (A calls B, B calls A), recurses for ever if nothing on the way waits: every level
starts the next one in the same command. The command's budget (``engine.budget``) stops such
an instance at run time; what the diagram already shows is refused before it is deployed.

:func:`find_recursive_call` follows, from each process's start, the sequence flows that are
certainly taken (no condition, not one branch among several of a gateway) through the
elements that never wait (script, service, send and business rule tasks, throw events,
gateway splits, an exclusive join), into embedded subprocesses, and notes the call
activities it reaches. A cycle of such calls is unbounded recursion.

Trade-off: it refuses only what is certain. Recursion guarded by a condition (a depth
counter) or passing a wait state (user or receive task, a catch event) deploys: it may be
bounded, and if it is not, the budget ends it. A path through a parallel or inclusive join,
through another call activity or out of a subprocess is not followed (whether it continues
depends on other branches or processes), so a cycle only seen that way deploys too.
"""
from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_Q = f"{{{BPMN_NS}}}"

# Elements a token passes at once, without waiting (gateways are handled apart).
_PASS = {"scriptTask", "serviceTask", "sendTask", "businessRuleTask"}
_THROWN_AT_ONCE = {"signalEventDefinition", "messageEventDefinition", "escalationEventDefinition"}
_GATEWAYS = {"exclusiveGateway", "inclusiveGateway", "parallelGateway"}
_SUBPROCESSES = {"subProcess", "transaction"}


def _local(element):
    return etree.QName(element).localname if isinstance(element.tag, str) else None


def find_recursive_call(processes):
    """The first call activity (lxml element) of ``processes`` (``bpmn:process`` elements, in
    document order) that starts its own process again before anything waits, with the cycle
    of process ids it closes (``['Level3', 'Level3']``); ``None`` when there is none."""
    by_id = {process.get("id"): process for process in processes}
    calls = {key: _certain_calls(process) for key, process in by_id.items()}
    for key in by_id:
        cycle = _cycle_from(key, calls)
        if cycle:
            return cycle
    return None


def _cycle_from(start, calls):
    """Depth first along certain calls from process ``start``; the first call activity of a
    path that leads back to ``start``, with the path's process ids."""
    stack = [(start, [start], None)]
    seen = set()
    while stack:
        key, path, first = stack.pop()
        for call, called in calls.get(key, ()):
            head = first if first is not None else call
            if called == start:
                return head, path + [called]
            if called in calls and called not in seen:
                seen.add(called)
                stack.append((called, path + [called], head))
    return None


def _certain_calls(container):
    """``[(call activity, calledElement)]`` a token certainly reaches from the none start
    events of ``container`` (a process or an embedded subprocess) without waiting."""
    nodes = {child.get("id"): child for child in container if _local(child) is not None}
    outgoing, incoming = {}, {}
    for flow in container.iterchildren(f"{_Q}sequenceFlow"):
        outgoing.setdefault(flow.get("sourceRef"), []).append(flow)
        incoming[flow.get("targetRef")] = incoming.get(flow.get("targetRef"), 0) + 1
    todo = [node_id for node_id, node in nodes.items()
            if _local(node) == "startEvent" and not _has_event_definition(node)]
    reached, calls = set(todo), []
    while todo:
        node = nodes.get(todo.pop())
        if node is None:
            continue
        kind = _local(node)
        if kind == "callActivity":
            calls.append((node, node.get("calledElement")))
            continue
        if kind in _SUBPROCESSES and node.get("triggeredByEvent") != "true":
            calls.extend(_certain_calls(node))
            continue
        if not _passes(node, kind, incoming.get(node.get("id"), 0)):
            continue
        flows = outgoing.get(node.get("id"), [])
        for flow in flows:
            target = flow.get("targetRef")
            if _certain(node, kind, flow, flows) and target not in reached:
                reached.add(target)
                todo.append(target)
    return calls


def _event_definitions(event):
    return [child for child in event if (_local(child) or "").endswith("EventDefinition")]


def _has_event_definition(event):
    return bool(_event_definitions(event))


def _passes(node, kind, incoming):
    if kind in ("startEvent", *_PASS):
        return True
    if kind == "intermediateThrowEvent":  # none, signal, message, escalation: thrown at once
        return all(_local(child) in _THROWN_AT_ONCE for child in _event_definitions(node))
    if kind in _GATEWAYS:  # a join of several branches may wait for the others (not an exclusive one)
        return kind == "exclusiveGateway" or incoming <= 1
    return False


def _certain(node, kind, flow, flows):
    """Whether a token that passes ``node`` certainly takes ``flow``."""
    if flow.find(f"{_Q}conditionExpression") is not None:
        return False
    if kind in ("exclusiveGateway", "inclusiveGateway"):
        return len(flows) == 1
    return True
