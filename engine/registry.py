"""The registry the domain plugs into, the way a Flask app registers blueprints.

``engine`` never imports ``workflows``; instead ``workflows`` fills a :class:`Registry`:
script functions (visible to BPMN scripts, conditions, timers and task properties), service
task operations, lane-name aliases for routing, listeners called inside the unit of work,
hooks that run before a task completes, periodic jobs, and the directory of people.

Listeners and completion hooks are **scoped**: a domain registers for one process (its
definition key) and, for task events, one task key, and the registry calls it only for those;
``None`` (the default) means every process, or every task. So a listener of ``supervision``'s
``draft_plan`` never sees another process's task of the same key, and needs no guard of its own.

Listener contract: ``fn(event)`` receives an :class:`engine.events.Event` while the unit of
work's write transaction is open (``event.session``); whatever it writes commits or rolls
back with the instance. A listener that raises aborts the whole command. Its audit records go
through ``event.audit(kind, data)``: the unit of work appends them last, with its own (the
audit head is locked only from then until commit). Work that must not run unless the
transaction commits (mail, webhooks, commands on *other* instances) goes to the outbox:
``event.outbox(kind, payload)`` writes it in the same transaction and the handler registered
with :meth:`Registry.effect` runs it after the commit, at least once (engine.outbox). Listeners of one event run in the order they were registered,
whatever their scope.

Besides the engine's own events, the domain may declare events of its own
(:meth:`Registry.event`); BPMN scripts raise them with ``emit(name, data)`` and they reach
their listeners in the same transaction, like the engine's.
"""
import itertools
from collections import defaultdict

from engine.directory import Directory

EVENTS = ("instance_started", "task_completed", "instance_completed", "instance_cancelled",
          "timer_fired", "task_opened")
# Events that concern one task (``event.task_key``: the task's, or the timer's, BPMN id):
# only these may be scoped to a task.
TASK_EVENTS = ("task_opened", "task_completed", "timer_fired")


class _Scoped:
    """Callables registered per ``(name, process, task)``, ``None`` a wildcard.

    :meth:`matching` merges the four lists that apply to one ``(name, process, task)`` in
    registration order and caches the result: dispatch runs on every command, so after the
    first call it is one dictionary lookup. Registering clears the cache (registration happens
    at start-up, before the first command).
    """

    def __init__(self):
        self._by_scope = defaultdict(list)  # (name, process, task) -> [(order, fn)]
        self._order = itertools.count()
        self._cache = {}

    def add(self, name, process, task, fn):
        self._by_scope[(name, process, task)].append((next(self._order), fn))
        self._cache.clear()

    def matching(self, name, process, task):
        key = (name, process, task)
        found = self._cache.get(key)
        if found is None:
            scopes = {(name, p, t) for p in (None, process) for t in (None, task)}
            found = self._cache[key] = [fn for _, fn in sorted(
                entry for scope in scopes for entry in self._by_scope.get(scope, ()))]
        return found


class Registry:
    def __init__(self):
        self.services = {}
        self.lane_roles = {}
        self.directory = Directory()
        self._function_factories = []
        self._listeners = _Scoped()
        self._before_complete = _Scoped()
        self.periodic_jobs = []
        self._declared = set()
        self._owned = {}  # process key -> the domain that starts it
        self._effects = {}  # outbox effect kind -> handler

    def functions(self, factory):
        """Register ``factory(engine) -> {name: callable}`` for BPMN scripts and expressions.

        ``engine`` is the :class:`engine.runtime.Engine` (clock, calendar, db, registry...);
        factories are called once, when the engine first builds its script environment, so a
        function reads the database through ``engine.db`` when it is called, not before.
        """
        self._function_factories.append(factory)
        return factory

    def script_functions(self, engine):
        functions = {}
        for factory in self._function_factories:
            functions.update(factory(engine))
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

    def owns(self, domain, *process_keys):
        """Declare that ``domain`` alone starts ``process_keys``: its own commands create the
        rows its listeners expect (an item, a problem), so the generic ``start`` must not."""
        for key in process_keys:
            self._owned[key] = domain

    def owner(self, process_key):
        """The domain that owns ``process_key`` (:meth:`owns`), or None for a generic process."""
        return self._owned.get(process_key)

    def effect(self, kind, fn=None):
        """Register ``fn(engine, payload, effect)``, the handler of outbox effects ``kind``
        (``event.outbox(kind, payload)``); usable as a decorator.

        It runs after the command that wrote the effect committed, outside any transaction,
        **at least once** (engine.outbox): it must be idempotent. Raising means "try again
        later" (with back-off, then an incident an admin retries).
        """
        def register(handler):
            if kind in self._effects:
                raise ValueError(f"effect {kind!r} already has a handler")
            self._effects[kind] = handler
            return handler
        return register(fn) if fn is not None else register

    def effect_handler(self, kind):
        """The handler of outbox effects ``kind``, or None."""
        return self._effects.get(kind)

    def is_declared(self, name):
        return name in self._declared

    def on(self, event_name, process=None, task=None):
        """Decorator: ``fn(event)`` listens to ``event_name`` of ``process``'s instances (its
        definition key; ``None``: every process) and, for a task event (:data:`TASK_EVENTS`),
        of task ``task`` only (its BPMN id; ``None``: every task). See the module's contract."""
        if event_name not in EVENTS and event_name not in self._declared:
            raise ValueError(f"unknown engine event {event_name!r}; known: {', '.join(EVENTS)} "
                             "(declare domain events with Registry.event first)")
        if task is not None and event_name not in TASK_EVENTS:
            raise ValueError(f"{event_name!r} concerns no task: only {', '.join(TASK_EVENTS)} "
                             "may be scoped to one")

        def register(fn):
            self._listeners.add(event_name, process, task, fn)
            return fn
        return register

    def emit(self, event):
        """Call the listeners of ``event``, chosen by its name, ``event.instance.definition_key``
        and ``event.task_key``."""
        for fn in self._listeners.matching(event.name, event.instance.definition_key, event.task_key):
            fn(event)

    def before_complete(self, task, process=None):
        """Decorator: ``fn(step)`` runs when task ``task`` (its BPMN id) of ``process``
        (``None``: any process) is completed (see engine.tasks.CompletionStep).

        It runs inside the unit of work before the workflow advances, with the loaded
        instance: it may refuse the completion (raise an EngineError: nothing is written) or
        change the same instance through ``step`` (``step.reschedule``). It writes nothing to
        the database itself; listeners of ``task_completed`` do, in the write transaction.
        Hooks of one task run in registration order.
        """
        def register(fn):
            self._before_complete.add("before_complete", process, task, fn)
            return fn
        return register

    def completion_hooks(self, process, task):
        """The ``before_complete`` hooks of task ``task`` of process ``process``."""
        return self._before_complete.matching("before_complete", process, task)
