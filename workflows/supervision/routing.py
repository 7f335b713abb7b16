"""Who works each lane of the shipped diagrams: lane names (Chinese, as designers see them) → roles.

The department of the department lane and the leader of the leader lane come from the item's
data through the tasks' ``candidateDepartment`` and ``assignee`` properties in the diagram.
"""
LANE_ROLES = {
    "秘书科": "secretariat",
    "督查室": "secretariat",
    "承办部门": "staff",
    "分管领导": "leader",
    "督查员": "supervisor",
}


def register(registry):
    for lane, role in LANE_ROLES.items():
        registry.lane_role(lane, role)
