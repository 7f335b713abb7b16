"""Timer expressions as modelers write them: a bare ISO 8601 value, or an expression.

SpiffWorkflow evaluates a timer's ``timeDate``, ``timeDuration`` or ``timeCycle`` as a Python
expression over the task's data, so ``"PT5M"`` (quoted) or ``add_working_days(start, 2)``
work, while ``PT5M`` as bpmn-js, Camunda Modeler and the BPMN MIWG reference models write it
fails at run time as an unknown name (and ``R6/P1D`` as a division). Duban accepts both:

* a text that is, as a whole, an ISO 8601 value of the timer's kind is that value:
  ``timeDate`` a date and time with its UTC offset (``2026-12-01T09:00:00+08:00``, or ``Z``),
  ``timeDuration`` a duration (``PT5M``, ``P2D``, ``P1Y2M``), ``timeCycle`` a repetition
  (``R3/PT1H``, ``R/P1D`` for ever, ``R6/2026-12-01T09:00:00+08:00/P1D``);
* anything else is an expression, checked by the sandbox as before.

Detection is a strict regular expression, before anything is evaluated, and then
SpiffWorkflow's own ISO parser. A text that looks like an ISO value (``P...``, ``R.../``, a
date) but is not a valid one of the timer's kind is refused at deploy with the reason (a date
without an offset too: it would be read in the server's zone, DESIGN invariant 5).
:func:`quote_literals` turns each literal of a parsed spec into the quoted string, so the
library evaluates it to itself; nothing else about timers changes (durations count from when
the timer starts waiting, on the engine clock).

Trade-off: a variable named like a duration (``P2D``) can no longer be a timer's expression
on its own; ``(P2D)`` still is one.
"""
import datetime as dt
import re

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (CycleTimerEventDefinition,
                                                             DurationTimerEventDefinition,
                                                             TimeDateEventDefinition,
                                                             TimerEventDefinition)

_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = (rf"P(?=\d|T\d)(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
             rf"(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?")
_MOMENT = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})"
DURATION = re.compile(_DURATION)
MOMENT = re.compile(_MOMENT)
CYCLE = re.compile(rf"R\d*/(?:{_DURATION}|{_MOMENT}/{_DURATION}|{_DURATION}/{_MOMENT})")
# Texts meant as ISO values: checked strictly instead of being read as Python.
_LOOKS_ISO = re.compile(r"(?:R\d*/|P\d|PT\d|\d{4}-\d{2}-\d{2})\S*")

KINDS = {"timeDate": (MOMENT, "a date and time with its UTC offset, e.g. 2026-12-01T09:00:00+08:00"),
         "timeDuration": (DURATION, "a duration, e.g. PT5M or P2D"),
         "timeCycle": (CYCLE, "a repetition, e.g. R3/PT1H or R/P1D")}
_KIND_OF = {TimeDateEventDefinition: "timeDate", DurationTimerEventDefinition: "timeDuration",
            CycleTimerEventDefinition: "timeCycle"}


def literal(kind, text):
    """The ISO value ``text`` is for a timer of ``kind`` (``timeDate``, ``timeDuration``,
    ``timeCycle``), or None when it is an expression. ValueError, with what was expected,
    when it looks like an ISO value but is not a valid one of that kind."""
    text = (text or "").strip()
    if not _LOOKS_ISO.fullmatch(text):
        return None
    pattern, expected = KINDS[kind]
    if not pattern.fullmatch(text) or not _parses(kind, text):
        raise ValueError(f"{kind} '{text}' is not a valid ISO 8601 value for this timer: "
                         f"expected {expected}, or an expression")
    return text


def _parses(kind, text):
    """SpiffWorkflow's own parser accepts ``text`` (the regular expression leaves e.g. month
    13, or a week combined with days)."""
    try:
        if kind == "timeDate":
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None
        if kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(text)
        else:
            TimerEventDefinition.parse_iso_recurring_interval(text)
    except Exception:  # noqa: BLE001 — the library raises bare Exception for a bad duration
        return False
    return True


def quote_literals(specs):
    """In parsed process specs (``BpmnProcessSpec``), make each timer written as a bare ISO
    value an expression of that string, so SpiffWorkflow evaluates it to itself. Texts that
    are not valid literals stay as they are (deploy refuses them; a version deployed before
    this existed fails at run time as it did)."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            for timer in getattr(definition, "event_definitions", None) or [definition]:
                kind = _KIND_OF.get(type(timer))
                if kind is None:
                    continue
                try:
                    value = literal(kind, timer.expression)
                except ValueError:
                    continue
                if value is not None:
                    timer.expression = repr(value)
