"""Events the unit of work hands to the registry's listeners, inside its write transaction."""
import dataclasses
import datetime as dt
from typing import Any, Callable


def _no_outbox(kind, payload=None):
    raise RuntimeError("outbox is only available inside a unit of work")


def _no_audit(kind, data=None, business_key=None):
    raise RuntimeError("audit is only available inside a unit of work")


@dataclasses.dataclass
class Event:
    name: str
    session: Any            # the open write session: listeners write through it
    instance: Any           # engine.models.Instance, as saved by this unit of work
    actor: Any              # engine.actor.Actor
    at: dt.datetime
    engine: Any             # engine.runtime.Engine: clock, calendar, definitions
    task_key: str | None = None
    task_id: str | None = None
    data: dict = dataclasses.field(default_factory=dict)
    # outbox(kind, payload=None): an effect to run once this transaction has committed (never
    # if it rolls back), written in it as an outbox row and run by the registry's handler for
    # ``kind`` at least once (engine.outbox); payload is JSON
    outbox: Callable = _no_outbox
    # audit(kind, data=None, business_key=None): an audit record of this command, appended with
    # the engine's own records after every listener has run (the audit head is locked last);
    # business_key defaults to the instance's
    audit: Callable = _no_audit
