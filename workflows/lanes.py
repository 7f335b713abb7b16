"""Lane names of the shipped diagrams (Chinese, as designers see them) → the roles that work them.

One vocabulary for every domain: the registry's lane table is global, not per process, so a
lane name means the same role in every diagram; two domains naming a lane differently would
silently overwrite each other. Each domain registers the lanes its own diagrams use.
"""
ROLES = {
    "秘书科": "secretariat",
    "督查室": "secretariat",
    "承办部门": "staff",
    "分管领导": "leader",
    "督查员": "supervisor",
}


def register(registry, lanes):
    """Route tasks of each lane in ``lanes`` to users of its role (KeyError: not in :data:`ROLES`)."""
    for lane in lanes:
        registry.lane_role(lane, ROLES[lane])
