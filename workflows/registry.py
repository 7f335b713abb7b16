"""The registry with every shipped domain plugged in: what ``duban`` runs with."""
from engine.registry import Registry
from workflows import complaints, rectification, returns, supervision


def build_registry():
    registry = Registry()
    supervision.register(registry)
    rectification.register(registry)
    complaints.register(registry)
    returns.register(registry)
    return registry
