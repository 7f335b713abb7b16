"""Tiny BPMN documents built in code for engine tests (no diagram interchange needed)."""
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
        'id="defs" targetNamespace="http://duban.test">\n')


def process(key, body):
    return (HEAD + f'<bpmn:process id="{key}" isExecutable="true">\n{body}\n'
            '</bpmn:process>\n</bpmn:definitions>\n').encode("utf-8")


def chain(key, *nodes):
    """start -> nodes... -> end, each node an XML string with id="nN" (N = position)."""
    ids = ["start"] + [f"n{i}" for i in range(1, len(nodes) + 1)] + ["end"]
    flows = "\n".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                      for i, (a, b) in enumerate(zip(ids, ids[1:])))
    return process(key, '<bpmn:startEvent id="start"/>\n' + "\n".join(nodes)
                   + '\n<bpmn:endEvent id="end"/>\n' + flows)


def script(n, code):
    return f'<bpmn:scriptTask id="n{n}"><bpmn:script>{code}</bpmn:script></bpmn:scriptTask>'


def user_task(n, name="Do it", properties=""):
    ext = (f"<bpmn:extensionElements><spiffworkflow:properties>{properties}"
           "</spiffworkflow:properties></bpmn:extensionElements>") if properties else ""
    return f'<bpmn:userTask id="n{n}" name="{name}">{ext}</bpmn:userTask>'


def timer_wait(n, expression):
    return (f'<bpmn:intermediateCatchEvent id="n{n}"><bpmn:timerEventDefinition>'
            f'<bpmn:timeDate>{expression}</bpmn:timeDate></bpmn:timerEventDefinition>'
            '</bpmn:intermediateCatchEvent>')


def timer_after(n, expression):
    """An intermediate timer with a ``timeDuration`` (e.g. ``'"PT30M"'``), counted from arrival."""
    return (f'<bpmn:intermediateCatchEvent id="n{n}"><bpmn:timerEventDefinition>'
            f'<bpmn:timeDuration>{expression}</bpmn:timeDuration></bpmn:timerEventDefinition>'
            '</bpmn:intermediateCatchEvent>')
