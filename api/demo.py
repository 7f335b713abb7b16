"""``duban demo``: a small demonstration organisation with items in every state.

Everything is made through the real engine - departments and users through the admin functions,
items registered and tasks completed as the people whose work they are, the clock moved so that
timers fire - so every record is real and the audit chain verifies.

The clock: under ``[clock] mode = "simulated"`` the demonstration moves the configured clock
forward (about five weeks). Under the system clock (the ``make run`` default) it cannot move real
time, so it runs on a simulated clock of its own that starts five weeks ago, kept in memory, and
ends at the present moment: the records carry past times as if the work had been done then, and
the served system continues from now.

Trade-off: the organisation is fixed (``DEPARTMENTS``, ``PEOPLE``); every demo user shares one
password (``DUBAN_DEMO_PASSWORD`` or a random one the command prints).
"""
import datetime as dt
import secrets

from sqlalchemy import func, select

from api import passwords
from api.models import Department, User
from api.organisation import add_department, add_user
from api.web import labels
from engine.actor import Actor
from engine.clock import SimulatedClock
from engine.clock_store import MemoryClockStore
from workflows.supervision.items import create_item, get_item
from workflows.supervision.models import Escalation, Item

DEPARTMENTS = {"office": "政府办公室", "fgw": "发展和改革委员会", "zjj": "住房和城乡建设局",
               "jyj": "教育局"}
PEOPLE = {  # username: (display name, department, roles)
    "admin": ("系统管理员", "office", ["admin"]),
    "mishu": ("秘书科陈敏", "office", ["secretariat"]),
    "lingdao": ("分管领导赵刚", "office", ["leader"]),
    "ducha": ("督查员孙丽", "office", ["supervisor"]),
    "sheji": ("流程设计周平", "office", ["designer"]),
    "jijian": ("纪检组吴强", "office", ["discipline"]),
    "renshi": ("人事科郑洁", "office", ["personnel"]),
    "zhangsan": ("发改委张三", "fgw", ["staff"]),
    "wangwu": ("住建局王五", "zjj", ["staff"]),
    "liuliu": ("教育局刘六", "jyj", ["staff"]),
}
STATES = {"registered": "刚登记", "plan_drafted": "方案待审批", "approved": "方案已批准",
          "reporting": "进展报送中", "overdue": "逾期（红灯，已升级）", "closed": "已办结"}
SPAN = dt.timedelta(days=35)  # from the oldest item to the end of the demonstration


class DemoRefused(Exception):
    """Nothing loaded: the database already holds items (and ``force`` was not given), or the
    given password does not meet the password policy."""


def _actor(username):
    _, department, roles = PEOPLE[username]
    return Actor(username, frozenset(roles), department)


def _complete(engine, username, key, item_id, data):
    rows, _ = engine.tasks.inbox(_actor(username), business_key=item_id)
    tasks = [row for row in rows if row.key == key]
    if not tasks:  # the shipped process changed: say so, not StopIteration
        raise RuntimeError(f"演示：{username} 没有事项 {item_id} 的待办 {key}")
    task = tasks[0]
    engine.tasks.complete(task.id, data, _actor(username))


def _item(engine, title, department, start, **extra):
    deadline = (start + dt.timedelta(days=90)).date().isoformat()
    data = {"title": title, "basis": "meeting_decision", "department": department,
            "leader": "lingdao", "deadline": deadline, "requirements": "每周五前反馈进展", **extra}
    return create_item(engine, data, _actor("mishu"))


def _plan(start, owner):
    return {"owner": owner, "measures": "成立专班，倒排工期", "expected_result": "按期完成",
            "milestones": [{"date": (start + dt.timedelta(days=60)).date().isoformat(), "target": "完成主体任务"}]}


def _organisation(engine, password, echo):
    with engine.db.read() as session:
        departments = set(session.scalars(select(Department.code)))
        users = set(session.scalars(select(User.username)))
    for code, name in DEPARTMENTS.items():
        if code not in departments:
            add_department(engine, code, name, "demo")
    for username, (display, department, roles) in PEOPLE.items():
        if username not in users:
            add_user(engine, {"username": username, "password": password, "display_name": display,
                              "department": department, "roles": roles}, "demo")
            echo(f"用户 {username}（{display}，{'、'.join(labels.ROLES[role] for role in roles)}）")


def load(engine, password=None, force=False, echo=print):
    """Load the demonstration into ``engine``'s database; returns ``{state: item code}``.

    Refuses (DemoRefused, nothing written) when the database holds items, unless ``force``.
    ``password`` is every demo user's; None: a random one, printed through ``echo``.
    """
    with engine.db.read() as session:
        if session.scalar(select(func.count()).select_from(Item)) and not force:
            raise DemoRefused("数据库中已有督办事项：演示数据只装入空库（确需装入请加 --force）")
    if password is None:
        password = secrets.token_urlsafe(12)
        echo(f"演示用户的密码：{password}")
    for username in PEOPLE:  # checked before anything is written
        if passwords.problems(password, username):
            raise DemoRefused(f"演示密码不符合密码规则（至少 {passwords.MIN_LENGTH} 位，不是常见密码，"
                              f"不含用户名，如 {username}）")
    if engine.config["clock"].get("mode", "system") == "simulated":
        end = engine.clock.now() + SPAN
    else:  # the real clock cannot move: a clock of our own, five weeks ago, ending now
        end = engine.clock.now()
        engine.clock.base = SimulatedClock(end - SPAN, MemoryClockStore())
    start = engine.clock.now()
    echo("部门与用户 ...")
    _organisation(engine, password, echo)
    items = {}
    echo("事项 ...")
    # Weeks ago: one item closed the whole loop, one left undrafted (it falls overdue, escalates).
    closed = _item(engine, "老旧小区改造年度任务", "zjj", start)
    _complete(engine, "wangwu", "draft_plan", closed.id, _plan(start, "wangwu"))
    _complete(engine, "lingdao", "approve_plan", closed.id, {"approved": True, "comment": "同意"})
    _complete(engine, "mishu", "file_plan", closed.id, {"note": "已备案"})
    _complete(engine, "wangwu", "report_progress", closed.id,
              {"progress": 100, "summary": "已完成", "done": True, "completion_report": "改造全部完成"})
    _complete(engine, "mishu", "recheck", closed.id, {"passed": True, "findings": "现场核查属实"})
    _complete(engine, "lingdao", "confirm_close", closed.id, {"rating": "excellent", "comment": "很好"})
    items["closed"] = closed.code
    overdue = _item(engine, "义务教育学位扩容", "jyj", start)
    items["overdue"] = overdue.code
    engine.advance_clock(to=end - dt.timedelta(hours=1))  # timers fire: reminders, escalation
    # Today: the loop's other stops.
    recent = end - dt.timedelta(hours=1)
    items["registered"] = _item(engine, "推进政务服务一网通办", "fgw", recent).code
    drafted = _item(engine, "优化营商环境专项行动", "fgw", recent)
    _complete(engine, "zhangsan", "draft_plan", drafted.id, _plan(recent, "zhangsan"))
    items["plan_drafted"] = drafted.code
    approved = _item(engine, "重点项目开工建设", "fgw", recent)
    _complete(engine, "zhangsan", "draft_plan", approved.id, _plan(recent, "zhangsan"))
    _complete(engine, "lingdao", "approve_plan", approved.id, {"approved": True, "comment": "同意"})
    items["approved"] = approved.code
    reporting = _item(engine, "城市燃气管道更新", "zjj", recent)
    _complete(engine, "wangwu", "draft_plan", reporting.id, _plan(recent, "wangwu"))
    _complete(engine, "lingdao", "approve_plan", reporting.id, {"approved": True})
    _complete(engine, "mishu", "file_plan", reporting.id, {"note": "已备案"})
    _complete(engine, "wangwu", "report_progress", reporting.id,
              {"progress": 40, "summary": "已完成管道排查", "done": False})
    items["reporting"] = reporting.code
    engine.advance_clock(to=end)
    with engine.db.read() as session:
        escalated = session.scalar(select(func.count()).select_from(Escalation)
                                   .where(Escalation.item_id == overdue.id))
    if not escalated or get_item(engine, closed.id).status != "closed":
        raise RuntimeError("演示数据未达到预期状态")  # the shipped process changed: say so loudly
    return items
