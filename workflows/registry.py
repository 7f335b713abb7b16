"""The registry with every shipped domain plugged in: what ``duban`` runs with."""
from engine.registry import Registry
from workflows import complaints, rectification, supervision


def build_registry():
    registry = Registry()
    supervision.register(registry)
    rectification.register(registry)
    complaints.register(registry)
    return registry
