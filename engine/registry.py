"""The registry the domain plugs into, the way a Flask app registers blueprints.

``engine`` never imports ``workflows``; instead ``workflows`` fills a :class:`Registry`:
script functions (visible to BPMN scripts, conditions, timers and task properties), service
task operations, lane-name aliases for routing, listeners called inside the unit of work,
hooks that run before a task of a given key completes, and the directory of people.

Listener contract: ``fn(event)`` receives an :class:`engine.events.Event` while the unit of
work's write transaction is open (``event.session``); whatever it writes commits or rolls
back with the instance. A listener that raises aborts the whole command. Work that must not
run unless the transaction commits (mail, webhooks, commands on *other* instances) goes to
``event.after_commit(fn)``.

Besides the engine's own events, the domain may declare events of its own
(:meth:`Registry.event`); BPMN scripts raise them with ``emit(name, data)`` and they reach
their listeners in the same transaction, like the engine's.
"""
from collections import defaultdict

from engine.directory import Directory

EVENTS = ("instance_started", "task_completed", "instance_completed", "instance_cancelled",
          "timer_fired", "task_opened")


class Registry:
    def __init__(self):
        self.services = {}
        self.lane_roles = {}
        self.directory = Directory()
        self._function_factories = []
        self._listeners = defaultdict(list)
        self.periodic_jobs = []
        self._declared = set()
        self._before_complete = defaultdict(list)

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

    def periodic(self, name, occurrence, run):
        """A periodic job (see engine.periodic): ``occurrence(engine, now)``, ``run(engine, session, occurrence, now)``."""
        self.periodic_jobs.append((name, occurrence, run))

    def lane_role(self, lane_name, role):
        """Route tasks of lanes named ``lane_name`` to users with ``role``."""
        self.lane_roles[lane_name] = role

    def use_directory(self, directory):
        """Answer "who has role R in department D" (the application owns the user table)."""
        self.directory = directory

    def event(self, name):
        """Declare a domain event that BPMN scripts may raise with ``emit(name, data)``."""
        if name in EVENTS:
            raise ValueError(f"{name!r} is an engine event; scripts cannot emit it")
        self._declared.add(name)

    def is_declared(self, name):
        return name in self._declared

    def on(self, event_name):
        if event_name not in EVENTS and event_name not in self._declared:
            raise ValueError(f"unknown engine event {event_name!r}; known: {', '.join(EVENTS)} "
                             "(declare domain events with Registry.event first)")

        def register(fn):
            self._listeners[event_name].append(fn)
            return fn
        return register

    def emit(self, event):
        for fn in self._listeners[event.name]:
            fn(event)

    def before_complete(self, task_key):
        """Decorator: ``fn(step)`` runs when a task with this key is completed (see engine.tasks).

        It runs inside the unit of work before the workflow advances, with the loaded
        instance: it may refuse the completion (raise an EngineError: nothing is written) or
        change the same instance through ``step`` (``step.reschedule``). It writes nothing to
        the database itself; listeners of ``task_completed`` do, in the write transaction.
        """
        def register(fn):
            self._before_complete[task_key].append(fn)
            return fn
        return register

    def completion_hooks(self, task_key):
        return list(self._before_complete.get(task_key, ()))
