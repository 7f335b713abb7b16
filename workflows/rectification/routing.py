"""Who works each lane of ``bpmn/rectification.bpmn``: the lanes it uses (roles: ``workflows.lanes``).

The department of the department lane comes from the problem's data through the tasks'
``candidateDepartment`` property in the diagram.
"""
from workflows import lanes

LANES = ("督查室", "承办部门", "督查员")


def register(registry):
    lanes.register(registry, LANES)
