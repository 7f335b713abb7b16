"""Due times of the overseers' own steps: the script functions their BPMN pre-scripts call.

A department's steps have had due times from the start (``working_day_end(now(), 2)``,
``report_due``); the steps of the people who oversee them had none, so a leader's approval or a
supervisor's escalation could wait unseen. Each such user task now computes its due time once,
when it opens, in its ``spiffworkflow:preScript`` (``approval_due_at = approval_due()``), and
names that variable as its ``dueDate``: due times stay data (a restart, a redeploy or a new
holiday schedule never moves them; an admin's schedule change moves them like any other).

* ``approval_due()`` — office close of the ``[deadlines] approval_working_days``-th working day
  after now: 审定工作计划, 审定整改方案, 办结审核, 审批计划调整, 审批延期申请, 整改验收.
* ``escalation_due()`` — the same with ``[deadlines] escalation_working_days``: 逾期督办处理.

Trade-off: only the light turns; these steps carry no reminder or overdue timer (an overdue
escalation does not escalate again).
"""


def _functions(engine):
    calendar, settings = engine.calendar, engine.config["deadlines"]

    def due_in(setting):
        def due():
            moment = calendar.working_day_end(engine.clock.now(), int(settings[setting]))
            return calendar.local(moment).isoformat()
        return due

    return {"approval_due": due_in("approval_working_days"),
            "escalation_due": due_in("escalation_working_days")}


def register(registry):
    registry.functions(_functions)
