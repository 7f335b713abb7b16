"""The registry with every shipped domain plugged in: what ``duban`` runs with."""
from engine.registry import Registry
from workflows import complaints, files, handoffs, rectification, returns, supervision


def build_registry():
    registry = Registry()
    supervision.register(registry)
    rectification.register(registry)
    complaints.register(registry)
    files.register(registry)
    returns.register(registry)
    handoffs.register(registry)  # last: it skips whom the others' listeners already told
    return registry
