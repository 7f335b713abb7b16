"""回头看 (look-back checks after closure): ``register(registry)`` plugs the domain in."""
from workflows import lanes
from workflows.lookback import lookbacks


def register(registry):
    lanes.register(registry, ("督查室",))
    lookbacks.register(registry)
    return registry
