"""Chinese labels for the codes the engine and the domain store (statuses, lights, roles, ...)."""
from api.rectification import STATUS_NAMES as PROBLEM_STATUS_NAMES
from workflows.rectification.problems import SOURCE_NAMES

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
    "clock_advanced": "时钟推进", "message_received": "收到消息",
    "escalation_opened": "逾期升级督办", "measure_recorded": "记录问责措施", "reminder_sent": "催办提醒",
    "task_rescheduled": "调整办理期限", "extension_not_applied": "延期未能生效",
    "instance_suspended": "流程暂停", "instance_resumed": "流程恢复", "instance_retried": "故障重试",
    "instance_migrated": "流程迁移", "timer_incident": "定时器故障", "timer_incident_retried": "定时器重试",
    "complaint_received": "收到群众反映", "complaint_triaged": "群众反映分拣", "complaint_dismissed": "群众反映不予处理",
}
INSTANCE_STATUS = {"running": "运行中", "suspended": "已暂停", "completed": "已结束", "cancelled": "已撤销",
                   "error": "出错"}
ESCALATION_ACTIONS = {"remind": "提醒催办", "extend": "延期", "reassign": "改派", "accountability": "确认问责"}
ESCALATION_STATE = {"open": "待处置", "handled": "已处置", "cancelled": "已撤销"}
NOTIFICATION_KINDS = {"reminder": "催办", "escalation": "逾期督办", "escalation_reminder": "督办催办",
                      "deadline_extended": "延期", "task_reassigned": "改派", "measure_recorded": "问责",
                      "extension_requested": "延期申请", "extension_decided": "延期审批"}
PROBLEM_SOURCES = SOURCE_NAMES
PROBLEM_STATUS = PROBLEM_STATUS_NAMES
COMPLAINT_STATE = {"received": "待分拣", "triaged": "已分拣", "dismissed": "不予处理"}
TRIAGED_AS = {"problem": "整改问题", "item": "督办事项"}
# Enum values of task forms that have no titles of their own (JSON Schema ``enumNames`` wins).
ENUM_VALUES = {**RATINGS, "remind": "提醒催办", "extend": "延期", "reassign": "改派",
               "accountability": "问责"}


def label(table, value):
    return table.get(value, value) if value is not None else ""
