"""The registry with every shipped domain plugged in: what ``duban`` runs with."""
from engine.registry import Registry
from workflows import (access, complaints, drafts, files, handoffs, lookback, rectification, returns, step_deadlines,
                       supervision)


def build_registry():
    registry = Registry()
    access.register(registry)  # first: a confined overseer's refusal comes before any hook's work
    supervision.register(registry)
    rectification.register(registry)
    lookback.register(registry)
    complaints.register(registry)
    step_deadlines.register(registry)
    files.register(registry)
    returns.register(registry)
    drafts.register(registry)
    handoffs.register(registry)  # last: it skips whom the others' listeners already told
    return registry
