"""The role names a person can hold: the one list the engine, the domain and the API share.

The engine matches a lane's name against these (a lane named for a role routes its tasks to
that role) and lets admins work any task; which role may do what in supervision work is the
domain's policy (``workflows.access``), not the engine's.
"""
STAFF = "staff"              # 承办人员: works the tasks of their department
LEADER = "leader"            # 分管领导: approves and closes the items they lead
SECRETARIAT = "secretariat"  # 秘书科: registers items and problems, rechecks, files
SUPERVISOR = "supervisor"    # 督查员: handles escalations, reassigns
DESIGNER = "designer"        # 流程设计: deploys process definitions
ADMIN = "admin"              # 系统管理员: passes every role check
DISCIPLINE = "discipline"    # 纪检: receives referrals of accountability measures
PERSONNEL = "personnel"      # 人事: receives referrals of accountability measures

ROLES = (STAFF, LEADER, SECRETARIAT, SUPERVISOR, DESIGNER, ADMIN, DISCIPLINE, PERSONNEL)

# Who may give a task to someone at all (``engine.tasks.assign``); which tasks each of them may
# give is the caller's layer's rule (``workflows.access.may_override_task``).
ASSIGNING_ROLES = (SUPERVISOR, LEADER, ADMIN)
