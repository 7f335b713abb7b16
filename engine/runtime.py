"""The engine's composition root: wires the database, clock, calendar, registry and commands.

A thin facade, not a god object: each concern lives in its own module (``definitions``,
``instances``, ``tasks``, ``timers``, ``unit_of_work``, ``audit``); :class:`Engine` only
holds them and offers the calls the API and the domain use.
"""
import datetime as dt

from engine import audit as audit_module, simulation
from engine.audit import AuditLog
from engine.calendar import BusinessCalendar
from engine.calendar_schedules import CalendarSchedules
from engine.clock import CommandClock, install_spiff_clock, make_clock, parse_moment as _moment
from engine.clock_store import DatabaseClockStore
from engine.db import Database
from engine.definitions import DefinitionStore
from engine.instances import Instances
from engine.migration import Migrations
from engine.outbox import Outbox
from engine.periodic import Periodic
from engine.registry import Registry
from engine.scripting import make_script_engine
from engine.tasks import Tasks
from engine.timers import Timers
from engine.unit_of_work import UnitOfWork


class Engine:
    def __init__(self, config, registry=None, clock=None, db=None):
        install_spiff_clock()
        self.config = config
        self.registry = registry or Registry()
        self.db = db or Database(config["database"]["url"])
        # A simulated clock keeps its time in the database: every process shares it.
        self.clock = CommandClock(clock or make_clock(config["clock"], DatabaseClockStore(self.db)))
        self.audit = AuditLog(self.clock)
        self.calendar_schedules = CalendarSchedules(self.db, self.clock, self.audit)
        self.calendar = BusinessCalendar.from_config(config["calendar"], store=self.calendar_schedules)
        self.definitions = DefinitionStore(self.db, self.clock, self.audit)
        self.uow = UnitOfWork(self)
        self.instances = Instances(self)
        self.tasks = Tasks(self)
        self.timers = Timers(self)
        self.outbox = Outbox(self)
        self.migrations = Migrations(self)
        self.periodic = Periodic(self)
        self._functions = None

    # -- scripts ----------------------------------------------------------------------------
    def script_functions(self):
        """Functions BPMN expressions may call: time and calendar, then the registry's."""
        if self._functions is None:
            functions = self.builtin_functions()
            functions.update(self.registry.script_functions(self))
            self._functions = functions
        return self._functions

    def builtin_functions(self):
        """Time and calendar, and ``emit(name, data)``: a declared domain event (see engine.registry)."""
        cal, clock = self.calendar, self.clock

        def iso(moment):
            return cal.local(moment).isoformat()

        return {
            "now": lambda: iso(clock.now()),
            "add_working_days": lambda start, n: iso(cal.add_working_days(_moment(start), int(n))),
            "working_day_end": lambda start, n: iso(cal.working_day_end(_moment(start), int(n))),
            "last_working_day_start": lambda due: iso(cal.last_working_day_start(_moment(due))),
            "is_working_day": lambda day: cal.is_working_day(dt.date.fromisoformat(str(day)[:10])),
            "emit": lambda name, data=None: self.uow.emit_from_script(name, data),
        }

    def script_engine(self):
        scripts = self.config["scripts"]
        return make_script_engine(self.script_functions(), self.registry.services,
                                  float(scripts["timeout_seconds"]), decisions=self.definitions.decision,
                                  max_data_bytes=self.max_data_bytes,
                                  max_memory_bytes=int(scripts["max_memory_bytes"]))

    @property
    def max_data_bytes(self):
        """``[scripts] max_data_bytes``: an instance's data, and any one value a script builds."""
        return int(self.config["scripts"]["max_data_bytes"])

    # -- convenience --------------------------------------------------------------------------
    def deploy(self, source, actor=None):
        return self.definitions.deploy(source, actor)

    def advance_clock(self, to=None, seconds=None):
        """Move the simulated clock, firing timers in due order on the way (engine.simulation)."""
        return simulation.advance_clock(self.clock, self.timers, to=to, seconds=seconds)

    def verify_audit(self, progress=None):
        with self.db.stream() as session:
            return audit_module.verify(session, progress=progress)

    def close(self):
        self.db.dispose()
