"""Chinese labels for the codes the engine and the domain store (statuses, lights, roles, ...)."""

ROLES = {"staff": "承办人员", "leader": "分管领导", "secretariat": "秘书科", "supervisor": "督查员",
         "designer": "流程设计", "admin": "管理员"}
LIGHTS = {"green": "正常", "yellow": "临期", "red": "逾期"}
ITEM_STATUS = {"open": "办理中", "closed": "已办结", "cancelled": "已撤销"}
TASK_STATE = {"open": "待办", "completed": "已办", "cancelled": "已取消"}
PLAN_STATE = {"submitted": "待审定", "approved": "已审定", "returned": "已退回", "filed": "已备案",
              "changed": "已调整"}
BASES = {"meeting_decision": "会议决定", "leader_instruction": "领导批示", "inspection_finding": "督查发现",
         "public_complaint": "群众反映", "other": "其他"}
RATINGS = {"excellent": "优", "good": "良", "poor": "差"}
YEAR_STATUS = {"official": "国务院公布的节假日安排（holidays 库）",
               "configured": "仅本地配置的节假日与调休",
               "weekends_only": "无节假日数据：仅按周末计算"}
AUDIT_KINDS = {
    "instance_started": "流程启动", "instance_completed": "流程结束", "instance_cancelled": "流程撤销",
    "instance_error": "流程出错", "task_completed": "办理", "task_claimed": "认领",
    "task_unclaimed": "退回认领", "task_assigned": "指派", "task_commented": "留言",
    "timer_fired": "定时触发", "message_delivered": "收到消息", "definition_deployed": "部署流程",
    "user_logged_in": "登录", "user_created": "创建用户", "department_created": "创建部门",
    "clock_advanced": "时钟推进",
}
# Enum values of task forms that have no titles of their own (JSON Schema ``enumNames`` wins).
ENUM_VALUES = {**RATINGS, "remind": "提醒催办", "extend": "延期", "reassign": "改派",
               "accountability": "问责"}


def label(table, value):
    return table.get(value, value) if value is not None else ""
