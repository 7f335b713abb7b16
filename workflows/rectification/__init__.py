"""Problem rectification (问题整改): problems, routing, deadlines, listeners, the ledger.

``register(registry)`` plugs the domain into an engine registry before the engine is built.
"""
from workflows.rectification import deadlines, problems, routing


def register(registry):
    registry.owns("rectification", problems.PROCESS_KEY)  # started only with its problem
    routing.register(registry)
    problems.register(registry)
    registry.functions(deadlines.functions)
    return registry
