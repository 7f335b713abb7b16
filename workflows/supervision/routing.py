"""Who works each lane of the shipped supervision diagrams: the lanes they use (roles: ``workflows.lanes``).

The department of the department lane and the leader of the leader lane come from the item's
data through the tasks' ``candidateDepartment`` and ``assignee`` properties in the diagram.
"""
from workflows import lanes

LANES = ("秘书科", "督查室", "承办部门", "分管领导", "督查员")


def register(registry):
    lanes.register(registry, LANES)
