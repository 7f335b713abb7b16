"""The supervision loop (督查督办): items, routing, deadlines, reminders, escalations, listeners.

``register(registry)`` plugs the domain into an engine registry before the engine is built.
"""
from engine.clock import parse_moment
from workflows.supervision import (deadlines, escalations, extensions, items, management, measures, monthly,
                                   notifications, periodic, plan_changes, reminders, routing)


def _functions(engine):
    calendar = engine.calendar

    def report_due(start, previous=None):
        due = deadlines.report_due(calendar, parse_moment(start),
                                   parse_moment(previous) if previous else None)
        return calendar.local(due).isoformat()

    return {"report_due": report_due}


def register(registry):
    # Only this domain starts these: an item's process, and the requests made on an item.
    registry.owns("supervision", items.PROCESS_KEY, plan_changes.PROCESS_KEY, extensions.PROCESS_KEY)
    routing.register(registry)
    items.register(registry)
    management.register(registry, items.PROCESS_KEY)
    plan_changes.register(registry)
    extensions.register(registry)
    reminders.register(registry)
    escalations.register(registry)
    measures.register(registry)
    periodic.register(registry)
    monthly.register(registry)  # 一月一调度: key items' monthly reports
    registry.effect(notifications.PUSH, notifications.push_effect)
    registry.functions(_functions)
    return registry
