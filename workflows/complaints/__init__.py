"""Public complaints (群众反映): anonymous intake with a per-client throttle, and triage by the
secretariat into a rectification problem or a supervision item (or dismissal).

``register(registry)`` plugs the triage listener into an engine registry.
"""
from workflows.complaints import triage


def register(registry):
    triage.register(registry)
    return registry
