"""The registry the domain plugs into, the way a Flask app registers blueprints.

``engine`` never imports ``workflows``; instead ``workflows`` fills a :class:`Registry`:
script functions (visible to BPMN scripts, conditions, timers and task properties), service
task operations, lane-name aliases for routing, and listeners called inside the unit of work.

Listener contract: ``fn(event)`` receives an :class:`engine.events.Event` while the unit of
work's write transaction is open (``event.session``); whatever it writes commits or rolls
back with the instance. A listener that raises aborts the whole command.
"""
from collections import defaultdict

EVENTS = ("instance_started", "task_completed", "instance_completed", "instance_cancelled",
          "timer_fired", "task_opened")


class Registry:
    def __init__(self):
        self.services = {}
        self.lane_roles = {}
        self._function_factories = []
        self._listeners = defaultdict(list)

    def functions(self, factory):
        """Register ``factory(context) -> {name: callable}``; ``context`` has ``clock`` and ``calendar``."""
        self._function_factories.append(factory)
        return factory

    def script_functions(self, context):
        functions = {}
        for factory in self._function_factories:
            functions.update(factory(context))
        return functions

    def service(self, name):
        """Decorator: expose ``fn(**params)`` to ``spiffworkflow:serviceTaskOperator id=name``."""
        def register(fn):
            self.services[name] = fn
            return fn
        return register

    def lane_role(self, lane_name, role):
        """Route tasks of lanes named ``lane_name`` to users with ``role``."""
        self.lane_roles[lane_name] = role

    def on(self, event_name):
        if event_name not in EVENTS:
            raise ValueError(f"unknown engine event {event_name!r}; known: {', '.join(EVENTS)}")

        def register(fn):
            self._listeners[event_name].append(fn)
            return fn
        return register

    def emit(self, event):
        for fn in self._listeners[event.name]:
            fn(event)
