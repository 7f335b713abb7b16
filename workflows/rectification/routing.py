"""Who works each lane of ``bpmn/rectification.bpmn``: lane names (Chinese) → roles.

The department of the department lane comes from the problem's data through the tasks'
``candidateDepartment`` property in the diagram.
"""
LANE_ROLES = {
    "督查室": "secretariat",
    "承办部门": "staff",
    "督查员": "supervisor",
}


def register(registry):
    for lane, role in LANE_ROLES.items():
        registry.lane_role(lane, role)
