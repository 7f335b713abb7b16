"""Chinese labels for the codes the engine and the domain store (statuses, lights, roles, ...)."""
import re

from api.rectification import STATUS_NAMES as PROBLEM_STATUS_NAMES
from api.reports import RATING_NAMES
from engine.budget import REASON_PREFIX as BUDGET_REASON
from workflows.rectification.problems import SOURCE_NAMES

ROLES = {"staff": "承办人员", "leader": "分管领导", "secretariat": "秘书科", "supervisor": "督查员",
         "designer": "流程设计", "admin": "管理员", "discipline": "纪检", "personnel": "人事"}
LIGHTS = {"green": "正常", "yellow": "临期", "red": "逾期"}
ITEM_FIELDS = {"title": "事项名称", "requirements": "工作要求", "deadline": "办结时限", "leader": "分管领导",
               "doc_number": "文号", "department": "主办部门"}  # 修改通知内容: the fields as the timeline names them
ITEM_STATUS = {"open": "办理中", "closed": "已办结", "cancelled": "已撤销"}
TASK_STATE = {"open": "待办", "completed": "已办", "cancelled": "已取消"}
PLAN_STATE = {"submitted": "待审定", "approved": "已审定", "returned": "已退回", "filed": "已备案",
              "changed": "已调整"}
BASES = {"meeting_decision": "会议决定", "leader_instruction": "领导批示", "inspection_finding": "督查发现",
         "public_complaint": "群众反映", "other": "其他"}
RATINGS = RATING_NAMES
YEAR_STATUS = {"official": "国务院公布的节假日安排（holidays 库）",
               "entered": "管理员录入的节假日安排",
               "estimated": "估算：仅按法定节假日计算（尚未录入当年的放假调休安排）",
               "weekends_only": "无节假日数据：仅按周末计算"}
AUDIT_KINDS = {
    "instance_started": "流程启动", "instance_completed": "流程结束", "instance_cancelled": "流程撤销",
    "item_amended": "修改通知内容", "item_sent_back": "退回交办",
    "instance_error": "流程出错", "task_completed": "办理", "task_claimed": "认领",
    "task_unclaimed": "退回认领", "task_assigned": "指派", "task_commented": "留言",
    "timer_fired": "定时触发", "message_delivered": "收到消息", "definition_deployed": "部署流程",
    "user_logged_in": "登录", "user_created": "创建用户", "department_created": "创建部门",
    "clock_advanced": "时钟推进", "message_received": "收到消息",
    "escalation_opened": "逾期升级督办", "problem_deadline_extended": "延长整改时限",
    "measure_recorded": "记录问责措施", "reminder_sent": "催办提醒",
    "measure_referred": "问责移送", "referral_decided": "移送处理结果", "interview_recorded": "记录约谈",
    "measure_kind_created": "新增问责措施种类", "measure_kind_changed": "修改问责措施种类",
    "task_rescheduled": "调整办理期限", "extension_not_applied": "延期未能生效",
    "instance_suspended": "流程暂停", "instance_resumed": "流程恢复", "instance_retried": "故障重试",
    "instance_migrated": "流程迁移", "timer_incident": "定时器故障", "timer_incident_retried": "定时器重试",
    "outbox_incident": "后续动作故障", "outbox_incident_retried": "后续动作重试",
    "calendar_schedule_entered": "录入节假日安排", "calendar_change_applied": "按新日历调整办理期限",
    "complaint_received": "收到群众反映", "complaint_triaged": "群众反映分拣", "complaint_dismissed": "群众反映不予处理",
    "lookback_held": "回头看：整改成果巩固", "lookback_rebounded": "回头看：问题反弹",
}
# Outbox effects (engine/outbox.py): what a committed command still has to do.
EFFECT_KINDS = {"push_notifications": "推送通知", "apply_extension": "延期生效", "open_referral": "问责移送",
                "lookback_reopen_problem": "回头看反弹：重新启动整改", "lookback_rectify_item": "回头看反弹：登记整改问题"}
EFFECT_STATE = {"pending": "待执行", "done": "已完成", "incident": "故障"}
INSTANCE_STATUS = {"running": "运行中", "suspended": "已暂停", "completed": "已结束", "cancelled": "已撤销",
                   "error": "出错"}
ESCALATION_ACTIONS = {"remind": "提醒催办", "extend": "延期", "reassign": "改派", "accountability": "确认问责"}
ESCALATION_STATE = {"open": "待处置", "handled": "已处置", "cancelled": "已撤销"}
NOTIFICATION_KINDS = {"reminder": "催办", "escalation": "逾期督办", "escalation_reminder": "督办催办",
                      "deadline_extended": "延期", "task_reassigned": "改派", "measure_recorded": "问责",
                      "extension_requested": "延期申请", "extension_decided": "延期审批",
                      "returned": "退回", "plan_change_decided": "计划调整审批",
                      "weekly_report": "督办周报", "monthly_ranking": "月度排名",
                      "task_opened": "待办", "overdue": "逾期", "complaint_received": "群众反映",
                      "measure_referred": "问责移送", "referral_decided": "移送处理结果"}
# 一案双查 (workflows/supervision/measures.py)
REFERRALS = {"discipline": "移送纪检", "personnel": "移送人事"}
REFERRAL_RESULTS = {"filed": "立案", "punished": "处分", "dismissed": "不予处理", "other": "其他"}
ANSWERABLE = {"department": "仅责任单位", "owner": "责任人", "owner_and_leader": "责任人和分管领导"}
ANSWERING_AS = {"owner": "责任人", "leader": "分管领导"}
PROBLEM_SOURCES = SOURCE_NAMES
PROBLEM_STATUS = PROBLEM_STATUS_NAMES
COMPLAINT_STATE = {"received": "待分拣", "triaged": "已分拣", "dismissed": "不予处理"}
TRIAGED_AS = {"problem": "整改问题", "item": "督办事项"}
# Enum values of task forms that have no titles of their own (JSON Schema ``enumNames`` wins).
ENUM_VALUES = {**RATINGS, "remind": "提醒催办", "extend": "延期", "reassign": "改派",
               "accountability": "问责"}


_BUDGET_REASON = re.compile(re.escape(BUDGET_REASON) + r" (\d+) steps / ([\d.]+) s")


def instance_error(error):
    """An instance's stored error as the pages show it: the Chinese of what the engine itself
    stopped (a command past its budget, ``engine.budget``); any other error (the model's own:
    a script's exception) as stored."""
    match = _BUDGET_REASON.search(error or "")
    if match is None:
        return error or ""
    return (f"流程运行未到达等待环节：一次操作最多运行 {match[1]} 步、{match[2]} 秒，已被停止。"
            "请检查流程中是否有不经过等待环节（用户任务、接收消息、定时器等）的循环，"
            "或调用自身的调用活动。")


SYSTEM = "系统"  # who acted when no person did: timers, periodic jobs, start-up (actor ``system`` or none)


def person(username, users):
    """Who did something, as the pages name them: the display name (``users``: username → name),
    系统 for the engine itself (``system`` or no actor)."""
    if not username or username == "system":
        return SYSTEM
    return users.get(username, username)


_ISO_WEEK = re.compile(r"(?<!\d)(\d{4})-W(\d{2})(?!\d)")


def weeks_in_words(text):
    """``"2026-W41 督办周报已生成"`` → ``"2026年第41周 督办周报已生成"``: stored text written
    before notices named weeks in words (workflows.supervision.periodic) reads as users say it."""
    return _ISO_WEEK.sub(lambda m: f"{int(m[1])}年第{int(m[2])}周", text or "")


def label(table, value):
    return table.get(value, value) if value is not None else ""


# -- refusals: the Chinese of each problem code (``details[].code``, see ``engine.errors``) ----------
# The pages show these, never an error's English message. Every code raised in engine/, workflows/
# and api/ has an entry (tests/test_refusal_codes.py checks it).
REFUSALS = {
    # evidence files (workflows.files)
    "file_type": "不支持此类文件：请上传 PDF、图片（JPEG、PNG）、Word、Excel、OFD 或压缩包",
    "file_too_large": "文件过大，超出上传大小上限", "empty_file": "文件是空的",
    "unknown_file": "附件不存在，请重新上传", "file_not_yours": "不能使用他人上传的附件，请重新上传",
    "no_file": "附件不存在或您无权查看", "too_many_files": "附件数量超出上限",
    # a field's problem (domain validation, API schemas)
    "required": "此项为必填", "invalid": "填写的内容格式不正确", "unknown": "表单中没有此项",
    "too_long": "内容过长", "blank": "不能为空", "invalid_date": "请输入有效日期（年-月-日）",
    "invalid_choice": "请选择有效选项", "invalid_name": "文件名无效：只能是文件名本身，不能含路径或特殊字符",
    "not_an_object": "提交的内容格式不正确", "not_a_moment": "请输入有效的日期时间",
    "no_offset": "请输入带时区的日期时间", "not_future": "新的办理期限须晚于当前时间",
    "not_later": "须晚于该环节当前的办理期限", "not_a_step": "请选择本事项的办理环节",
    "no_such_user": "该用户不存在或已停用", "unknown_user": "该用户不存在或已停用",
    "wrong_department": "该用户不属于承办部门", "wrong_role": "该用户不能办理此环节",
    "unknown_department": "部门不存在", "unknown_process": "该流程不存在（未部署）", "not_a_leader": "请选择在任的分管领导",
    "lead_co_handles": "主办部门不能同时作为协办部门", "reserved_key": "不能使用保留的字段名 typename",
    "reserved_name": "该变量名与流程脚本函数重名", "not_json": "内容无法保存（不是有效的 JSON 数据）",
    "one_of": "目标时间与推进秒数只能填写一项", "invalid_week": "请选择有效的周",
    "unknown_field": "排名中没有此列", "unknown_reference": "未找到该受理编号对应的反映",
    "lookup_throttled": "查询过于频繁，请稍后再试", "already_opened": "本月调度报告已开启",
    # a task form's problem: the JSON Schema keyword that failed (engine.forms)
    "additionalProperties": "表单中没有此项", "minLength": "内容过短", "maxLength": "内容过长",
    "minimum": "数值过小", "maximum": "数值过大", "exclusiveMinimum": "数值过小", "exclusiveMaximum": "数值过大",
    "minItems": "填写的项数不足", "maxItems": "填写的项数过多", "enum": "请选择有效选项",
    "const": "取值不符合要求", "pattern": "格式不正确", "uniqueItems": "不能重复", "type": "格式不正确",
    "format": "格式不正确",
    # a refused command
    "no_definition": "未找到该流程定义", "no_task": "未找到该任务",
    "no_instance": "未找到该流程实例", "no_timer": "未找到该定时器", "no_effect": "未找到该后续动作", "no_item": "未找到该督办事项",
    "no_problem": "未找到该整改问题", "no_complaint": "未找到该群众反映", "no_notification": "未找到该通知",
    "no_escalation": "该任务没有对应的升级督办记录",
    "not_yours": "该任务不由您办理", "not_claimed_by_you": "该任务不是由您认领的",
    "may_not_assign": "只有督查员、分管领导和管理员可以指派任务", "out_of_scope": "该记录不在您的查看范围内",
    "not_lead_staff": "只有主办部门的承办人员可以提出此申请", "not_secretariat": "只有秘书科可以分拣群众反映",
    "task_closed": "该任务已办理或已取消", "task_taken": "该任务已办理或已被他人认领",
    "changed_concurrently": "该事项已被他人同时处理，请刷新后重试", "level_taken": "升级督办被同时记录，请重试",
    "instance_not_running": "流程实例已结束、已暂停或出错", "item_closed": "该事项已办结或已撤销",
    "in_the_past": "办结时限不能早于今天", "date_in_past": "整改完成时限不能早于今天",
    "not_drafting": "只有在制定工作计划阶段才能退回交办",
    "not_lead_department": "只有主办部门可以退回交办", "not_item_manager": "只有秘书科可以管理事项",
    "step_closed": "逾期环节已办理完毕，只能提醒催办或确认问责", "no_measure": "本次升级没有建议的问责措施，请选择一项问责措施",
    "unknown_measure": "问责措施不存在或已停用", "reason_required": "改选其他问责措施时须填写理由",
    "duplicate_code": "该措施编码已存在", "duplicate_name": "已有同名的问责措施",
    "bad_code": "措施编码只能由小写字母、数字和下划线组成，并以字母开头",
    "no_interview": "该问责措施不是约谈，不能记录约谈情况", "already_referred": "该问责措施已移送",
    "step_done": "该环节已办理完毕，无需延期", "no_due": "该环节没有办理期限，不能延期",
    "no_due_variable": "该环节的办理期限不能调整",
    "fell_due": "该环节已到期：延期须在到期前申请；逾期环节由督查员督办处置",
    "already_requested": "该环节已有延期申请在等待分管领导审批",
    "not_closed": "尚未销号（办结），不能安排回头看", "lookback_pending": "已安排回头看，尚未完成",
    "not_after_today": "回头看日期须晚于今天", "out_of_range": "超出允许的范围",
    "no_plan": "该事项尚无可调整的工作计划，请先提交工作计划", "already_triaged": "该群众反映已分拣或已不予处理",
    "weak_password": "密码强度不足", "password_too_short": "密码至少 10 个字符",
    "common_password": "这是常见密码，容易被猜中，请换一个", "contains_username": "密码不能包含用户名",
    "wrong_password": "当前密码不正确", "login_throttled": "登录失败次数过多，请稍后再试",
    "no_lockout": "该用户名或地址没有登录限制", "inactive_department": "该部门已停用",
    "department_cycle": "上级部门不能是本部门或其下级部门", "department_too_deep": "部门层级过多（最多 5 级）",
    "ends_before_starts": "结束日期不能早于开始日期", "stage_outside_campaign": "阶段日期须在专项行动起止日期之内",
    "duplicate": "有重复的项目", "unknown_category": "该问题类别不属于此专项行动",
    "category_in_use": "该类别下已有问题或事项，不能删除", "no_campaign": "专项行动不存在",
    "unknown_campaign": "专项行动不存在", "category_without_campaign": "选择问题类别前请先选择专项行动",
    "department_not_in_campaign": "该部门不在此专项行动的范围内",
    "self_check_only": "只能在专项行动的自查自纠阶段登记本部门自查发现的问题",
    "outside_subtree": "只能涉及本辖区（本部门及其下级部门）的部门", "own_admin": "不能停用自己的账号或取消自己的管理员角色", "no_user": "用户不存在", "no_department": "部门不存在",
    "exists": "编码或用户名已存在", "not_a_process": "这是决策表，不能作为流程启动",
    "nothing_to_retry": "该实例没有出错的环节可重试", "not_waiting": "该实例没有在等待此消息",
    "same_version": "实例已在该版本上", "steps_missing": "实例当前所在的环节在目标版本中不存在，不能迁移",
    "not_an_incident": "该定时器不处于故障状态", "system_clock": "系统时钟不能调整（仅模拟时钟可推进）",
    "invalid_moment": "请输入有效的时间", "clock_backwards": "时钟不能回拨", "too_far": "时钟一次最多推进 10 年",
    # the holiday schedule (engine.calendar_schedules, engine.calendar_changes)
    "invalid_year": "年份须在 1900–2200 之间", "outside_year": "日期不在该年度内",
    "holiday_and_working": "同一天不能既放假又调休上班", "too_many": "日期过多，一年最多 366 天",
    "working_day_not_weekend": "调休上班日只能是周六或周日（周一至周五本就上班）",
    "holiday_on_weekend": "该日是周末，本就休息（已保存，不影响计算）",
    "no_schedule": "该年度尚未录入节假日安排", "schedule_changed": "预览后又录入了新的安排，请重新预览",
    "calendar_applied": "该安排已应用到待办任务，不能重复应用", "due_changed": "预览后该任务的办理期限已被调整，未改动",
    "stale": "该事项正被他人同时处理，未能调整，请稍后重试",
    "domain_process": "该流程只能通过其业务功能发起（如立项交办、问题登记）",
    "operators_only": "只有系统管理员可以操作运行中的流程实例",
    # a request the server cannot read (api.request_guard)
    "control_character": "内容含有不允许的控制字符", "lone_surrogate": "内容含有无效的字符编码",
    "too_deep": "提交的内容层级过深", "number_too_long": "数字位数过多", "malformed_json": "提交的内容不是有效的 JSON",
    "bidi_control": "名称中不能含有文字方向控制字符", "doctype": "流程定义不能含有 DOCTYPE 声明",
    # a definition the engine cannot run (designer)
    "invalid_definition": "流程定义有误，引擎无法运行", "malformed_xml": "XML 格式有误",
    "bpmn_schema": "不符合 BPMN 规范", "not_bpmn": "不是 BPMN 或 DMN 文档", "no_process": "文档中没有可执行的流程",
    "no_decision": "DMN 文档中没有决策表", "bad_dmn": "决策表有误", "empty_expression": "表达式为空",
    "bad_timer": "定时器的时间写法有误（应为带时区的日期时间、时长如 PT5M，或周期如 R3/PT1H，或表达式）",
    "recursive_call": "调用活动在任何等待环节或条件之前再次调用自身所在的流程，会无限递归",
    "bad_form_schema": "表单定义（formSchema）不是有效的 JSON Schema",
    "form_schema_missing": "表单定义为空", "form_schema_not_json": "表单定义不是有效的 JSON",
    "form_schema_not_object": "表单定义须为对象（type 为 object），其中每个属性是一个字段",
    "bad_field_key": "字段键只能使用字母、数字和下划线，且不能以数字开头",
    "unknown_flow_node": "顺序流连接了不存在的节点", "no_incoming_flow": "该节点没有流入的顺序流",
    "no_outgoing_flow": "该节点没有流出的顺序流", "version_taken": "版本号被同时部署占用，请重试",
    "unknown_called_process": "调用活动所调用的流程既不在本文件中，也未部署",
    "bad_called_version": "调用活动的版本（calledElementVersion）须为正整数",
    "called_process_clash": "所调用流程中的流程或子流程编号与调用方重复",
    "duplicate_key": "同一批部署的文件中有重复的流程或决策编号", "empty": "文档为空",
    "unsupported_element": "流程中含有引擎不支持的 BPMN 元素",
    "catch_all": "脚本不允许使用不指明异常的 except", "finally": "脚本不允许使用 finally",
    "import": "脚本不允许导入模块", "forbidden_name": "脚本使用了不允许的名称",
    "script_syntax": "脚本有语法错误或使用了不允许的写法",
    "data_too_large": "数据量超过上限，请精简填写内容或改用附件",
    "too_large": "脚本中的运算结果过大（超出数值或数据量上限）",
}
# Fuller words when the problem (``limit``, ``max``) or the page (``title``, ``due``) has the facts.
DETAILED = {
    "too_long": "不能超过 {limit} 个字符", "minLength": "至少 {limit} 个字符", "maxLength": "不能超过 {limit} 个字符",
    "minimum": "不能小于 {limit}", "maximum": "不能大于 {limit}", "exclusiveMinimum": "须大于 {limit}",
    "exclusiveMaximum": "须小于 {limit}", "minItems": "至少填写 {limit} 项", "maxItems": "最多填写 {limit} 项",
    "not_later": "须晚于该环节当前的办理期限（{due}）",
    "fell_due": "「{title}」已于 {due} 到期：延期须在到期前申请；逾期环节由督查员督办处置。",
    "already_requested": "「{title}」已有延期申请在等待分管领导审批。",
    "no_due": "「{title}」的办理期限不能调整。", "no_due_variable": "「{title}」的办理期限不能调整。",
    "step_done": "「{title}」已办理完毕，无需延期。",
    "invalid_date": "「{date}」不是有效日期（年-月-日）", "outside_year": "{date} 不在 {year} 年内",
    "holiday_and_working": "{date} 不能既放假又调休上班",
    "working_day_not_weekend": "{date} 是周一至周五，本就上班：调休上班日只能是周六或周日",
    "holiday_on_weekend": "{date} 是周末，本就休息（已保存，不影响计算）",
    "steps_missing": "版本 {version} 中没有这些环节：{steps}", "instance_not_running": "实例{status}",
    "no_incoming_flow": "{element_kind}没有流入的顺序流", "no_outgoing_flow": "{element_kind}没有流出的顺序流",
}
# BPMN element kinds (the tag's local name) as the designer's messages name them.
ELEMENT_KINDS = {
    "startEvent": "开始事件", "endEvent": "结束事件", "task": "任务", "userTask": "用户任务",
    "manualTask": "手工任务", "scriptTask": "脚本任务", "serviceTask": "服务任务", "businessRuleTask": "业务规则任务",
    "sendTask": "发送任务", "receiveTask": "接收任务", "callActivity": "调用活动", "exclusiveGateway": "排他网关",
    "parallelGateway": "并行网关", "inclusiveGateway": "包容网关", "eventBasedGateway": "事件网关",
    "complexGateway": "复杂网关", "intermediateCatchEvent": "中间捕获事件", "intermediateThrowEvent": "中间抛出事件",
    "boundaryEvent": "边界事件", "subProcess": "子流程", "transaction": "事务子流程", "adHocSubProcess": "自由子流程",
    "sequenceFlow": "顺序流",
}
FIELD_PROBLEM = "填写的内容不符合要求"  # a field problem whose code has no words yet
REFUSED = "操作未能完成，请检查后重试"      # a refusal whose code has no words yet


def refusal_text(problem, **facts):
    """The Chinese for one problem (``{"field", "code", ...}``), never its English message.

    ``facts`` (e.g. ``title``, ``due``) fill the fuller words of :data:`DETAILED`; without
    them the plain words of :data:`REFUSALS` apply, and an unknown code gets a generic sentence.
    """
    code = problem.get("code")
    known = {**problem, **facts}
    known.setdefault("limit", problem.get("max"))  # the complaint form says max=
    known = {key: value for key, value in known.items() if value is not None}
    if code == "minLength" and known.get("limit") == 1:
        return "不能为空"
    try:
        return DETAILED[code].format(**known)
    except KeyError:  # no fuller words, or not all their facts
        return REFUSALS.get(code) or (FIELD_PROBLEM if problem.get("field") else REFUSED)


def error_text(err, **facts):
    """The Chinese for a whole ``EngineError``: its problems' words, joined."""
    texts = []
    for problem in err.problems():
        text = refusal_text(problem, **facts)
        if text not in texts:
            texts.append(text)
    return "；".join(texts)


def field_errors(err, fields=None, default="", **facts):
    """An ``EngineError``'s problems as a form's ``{field: [中文, ...]}``.

    Field paths ``a/b`` become the forms' ``a.b``; a problem of no field, or of a field not in
    ``fields`` (when given), goes under ``default`` (``""``: the whole form).
    """
    errors = {}
    for problem in err.problems():
        field = (problem.get("field") or "").replace("/", ".")
        if not field or (fields is not None and field not in fields):
            field = default
        text = refusal_text(problem, **facts)
        if text not in errors.setdefault(field, []):
            errors[field].append(text)
    return errors


# -- the designer's version comparison (api.web.designer, engine.definition_diff) ---------------
DIFF_KINDS = {"added": "新增", "removed": "删除", "changed": "修改"}
DIFF_ELEMENTS = {"process": "流程", "participant": "参与者", "lane": "泳道", "messageFlow": "消息流",
                 "textAnnotation": "注释", "association": "关联", "dataObjectReference": "数据对象",
                 "dataStoreReference": "数据存储", "dataObject": "数据对象", "group": "分组"}
DIFF_ASPECTS = {
    "tag": "类型", "@name": "名称", "@sourceRef": "起点", "@targetRef": "终点", "@calledElement": "调用的流程",
    "@isExecutable": "可执行", "@default": "默认流向", "@attachedToRef": "附着于", "@cancelActivity": "中断活动",
    "@processRef": "参与者的流程", "@triggeredByEvent": "事件子流程",
    "property:candidateRole": "候选角色", "property:candidateDepartment": "候选部门",
    "property:assignee": "指定办理人", "property:dueDate": "办理期限", "property:formSchema": "办理表单",
    "property:calledElementVersion": "调用的版本",
    "conditionExpression": "条件", "script": "脚本", "documentation": "说明", "flowNodeRef": "泳道成员",
    "timeDate": "定时（指定时间）", "timeDuration": "定时（等待时长）", "timeCycle": "定时（循环）",
    "messageEventDefinition": "消息", "signalEventDefinition": "信号", "errorEventDefinition": "错误",
    "escalationEventDefinition": "上报", "timerEventDefinition": "定时", "text": "文字",
    "calledDecisionId": "调用的决策", "multiInstanceLoopCharacteristics": "多实例", "loopCardinality": "循环次数",
    "completionCondition": "完成条件", "standardLoopCharacteristics": "循环",
}
