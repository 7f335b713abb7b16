"""The registry with every shipped domain plugged in: what ``duban`` runs with."""
from engine.registry import Registry
from workflows import supervision


def build_registry():
    registry = Registry()
    supervision.register(registry)
    return registry
