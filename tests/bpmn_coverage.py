"""The small models behind docs/BPMN.md: one per row (or a few rows), built in code.

Each document holds one executable process ``key`` (plus, where a row needs them, root
elements: messages, signals, errors, escalations; and further processes for call
activities). Flows are written ``"a>b"`` (id ``f_a_b``), or ``("a>b", "condition")``.
"""
from tests.bpmn_snippets import HEAD


def document(key, body, root="", more=""):
    """A BPMN document: root elements ``root``, process ``key`` with ``body``, then ``more``."""
    return (HEAD + root + f'<bpmn:process id="{key}" isExecutable="true">\n{body}\n'
            f'</bpmn:process>\n{more}</bpmn:definitions>\n').encode("utf-8")


def node_id(node):
    """The id of an XML node string (its first ``id="..."``)."""
    return node.split('id="', 1)[1].split('"', 1)[0]


def chain_arrows(*ids):
    """``a>b``, ``b>c``, ... for ids a, b, c, ..."""
    return [f"{a}>{b}" for a, b in zip(ids, ids[1:])]


def chain_flows(*ids):
    return flows(*chain_arrows(*ids))


def flows(*arrows):
    out = []
    for arrow in arrows:
        arrow, condition = (arrow, None) if isinstance(arrow, str) else arrow
        source, target = arrow.split(">")
        cond = (f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>"
                if condition else "")
        out.append(f'<bpmn:sequenceFlow id="f_{source}_{target}" sourceRef="{source}" '
                   f'targetRef="{target}">{cond}</bpmn:sequenceFlow>')
    return "\n".join(out)


def user(task_id):
    return f'<bpmn:userTask id="{task_id}" name="{task_id}"/>'


def script(task_id, code):
    return f'<bpmn:scriptTask id="{task_id}"><bpmn:script>{code}</bpmn:script></bpmn:scriptTask>'


def message(name):
    """A root ``bpmn:message`` with id ``m_<name>``."""
    return f'<bpmn:message id="m_{name}" name="{name}"/>'


def message_definition(name, variable=None):
    ext = (f"<bpmn:extensionElements><spiffworkflow:messageVariable>{variable}"
           "</spiffworkflow:messageVariable></bpmn:extensionElements>") if variable else ""
    return f'<bpmn:messageEventDefinition messageRef="m_{name}">{ext}</bpmn:messageEventDefinition>'


def timer(duration):
    """A duration timer definition with a quoted ISO literal (an expression; bare literals: timer_catch_bare_iso)."""
    return (f'<bpmn:timerEventDefinition><bpmn:timeDuration>"{duration}"</bpmn:timeDuration>'
            '</bpmn:timerEventDefinition>')


def catch(event_id, definition):
    return f'<bpmn:intermediateCatchEvent id="{event_id}">{definition}</bpmn:intermediateCatchEvent>'


def throw(event_id, definition):
    return f'<bpmn:intermediateThrowEvent id="{event_id}">{definition}</bpmn:intermediateThrowEvent>'


def boundary(event_id, attached, definition, interrupting=True):
    return (f'<bpmn:boundaryEvent id="{event_id}" attachedToRef="{attached}" '
            f'cancelActivity="{str(interrupting).lower()}">{definition}</bpmn:boundaryEvent>')


def end(end_id, definition=""):
    return f'<bpmn:endEvent id="{end_id}">{definition}</bpmn:endEvent>'


START = '<bpmn:startEvent id="start"/>'


def line(key, *nodes, root="", more="", finish=""):
    """start -> nodes (their ids are the first id="..." of each) -> end (with the event
    definition ``finish``, if any)."""
    return document(key, START + "\n".join(nodes) + end("end", finish)
                    + chain_flows("start", *map(node_id, nodes), "end"), root, more)


SIGNAL_GO = '<bpmn:signal id="s_go" name="go"/>'
SIGNAL_DEF = '<bpmn:signalEventDefinition signalRef="s_go"/>'
ERROR_FAIL = '<bpmn:error id="e_fail" name="fail" errorCode="E1"/>'
ERROR_DEF = '<bpmn:errorEventDefinition errorRef="e_fail"/>'
ESCALATION_UP = '<bpmn:escalation id="x_up" name="up" escalationCode="X1"/>'
ESCALATION_DEF = '<bpmn:escalationEventDefinition escalationRef="x_up"/>'
COMPENSATE_DEF = "<bpmn:compensateEventDefinition/>"
CANCEL_DEF = "<bpmn:cancelEventDefinition/>"


def subprocess(sub_id, body, attributes=""):
    return f'<bpmn:subProcess id="{sub_id}" {attributes}>{body}</bpmn:subProcess>'


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="cov_dmn" name="cov"
             namespace="http://duban.test">
  <decision id="cov_level" name="等级">
    <decisionTable id="t" hitPolicy="UNIQUE">
      <input id="i1" label="amount">
        <inputExpression id="ie1" typeRef="integer"><text>amount</text></inputExpression>
      </input>
      <output id="o1" label="level" name="level" typeRef="string"/>
      <rule id="r1"><inputEntry id="r1i"><text>&lt; 100</text></inputEntry>
        <outputEntry id="r1o"><text>"low"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="r2i"><text>&gt;= 100</text></inputEntry>
        <outputEntry id="r2o"><text>"high"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def graph(key, nodes, *arrows, root="", more=""):
    """Process ``key``: a none start ``start``, ``nodes`` (XML strings) and the flows ``arrows``."""
    return document(key, START + "\n".join(nodes) + flows(*arrows), root, more)


def conditional(expression):
    return (f"<bpmn:conditionalEventDefinition><bpmn:condition>{expression}</bpmn:condition>"
            "</bpmn:conditionalEventDefinition>")


def service(task_id, operation, result, **params):
    values = "".join(f'<spiffworkflow:parameter id="{name}" type="any" value="{value}"/>'
                     for name, value in params.items())
    return (f'<bpmn:serviceTask id="{task_id}"><bpmn:extensionElements>'
            f'<spiffworkflow:serviceTaskOperator id="{operation}" resultVariable="{result}">'
            f'<spiffworkflow:parameters>{values}</spiffworkflow:parameters>'
            '</spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>')


def inner(prefix, *nodes):
    """The body of a subprocess: prefix_start -> nodes -> prefix_end."""
    return (f'<bpmn:startEvent id="{prefix}_start"/>' + "\n".join(nodes) + end(f"{prefix}_end")
            + chain_flows(f"{prefix}_start", *map(node_id, nodes), f"{prefix}_end"))
