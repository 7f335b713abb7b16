"""Decisions (DMN) are evaluated in their latest deployed version, when they run.

SpiffWorkflow binds a business rule task to the decision table it was parsed with. Duban
parses a BPMN version with the DMN current at its deploy (so a process whose decision does
not exist cannot be deployed), but evaluates, when the task runs, the *latest* deployed
version of the decision: designers edit and redeploy a table (the accountability ladder)
and every business rule task that runs from then on, in new and running instances alike,
applies it, without redeploying the processes that call it.

Trade-off: a decision is policy in force at the moment it is taken, not part of the
process version; the outcome is data of the instance (and of the domain's records), so
past outcomes stay as they were. The parsed table of each DMN version is cached.

Mechanism: :class:`Parser` builds business rule tasks whose ``dmnEngine`` is a
:class:`LatestDecision`; it asks the workflow's script engine (which the unit of work
attaches after every load) for the current table, and falls back to the one parsed at
deploy when no resolver is attached.
"""
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask, CallActivity

from engine.calls import CallActivityParser


class LatestDecision:
    """Stands in for SpiffWorkflow's DMNEngine on a business rule task spec."""

    def __init__(self, decision_id, deployed):
        self.decision_id = decision_id
        self.deployed = deployed

    @property
    def decision_table(self):
        return self.deployed.decision_table

    def current(self, task):
        resolve = getattr(task.workflow.script_engine, "decisions", None)
        return (resolve(self.decision_id) if resolve else None) or self.deployed

    def decide(self, task):
        return self.current(task).decide(task)

    def result(self, task):
        return self.current(task).result(task)


class _LatestDecisionTaskParser(BusinessRuleTaskParser):
    def create_task(self):
        task = super().create_task()
        task.dmnEngine = LatestDecision(self.get_decision_ref(self.node), task.dmnEngine)
        return task


class Parser(SpiffBpmnParser):
    """SpiffWorkflow's parser whose business rule tasks evaluate the latest decision, and
    whose call activities are named by their call key (``engine.calls``)."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("businessRuleTask"): (_LatestDecisionTaskParser, BusinessRuleTask),
        full_tag("callActivity"): (CallActivityParser, CallActivity),
    }


def decision_engine(parser, decision_id):
    """The DMNEngine of ``decision_id`` from a parser that was given its DMN source."""
    dmn_parser = parser.dmn_parsers[decision_id]
    dmn_parser.parse()
    return DMNEngine(dmn_parser.decision.decisionTables[0])
