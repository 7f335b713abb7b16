"""Managing an item from its page (issue 17, item 7): 撤销, 修改通知内容 / 更换主办部门, 退回交办,
and the printable 督办通知单.

The forms post here and come back to the item's page: done — a message saying what changed;
refused (bad input, the item closed meanwhile) — the reason in Chinese and nothing changed
(the values typed are not kept: the forms are short). The rules are the domain's
(``workflows.supervision.management``); a caller without the right gets the 403 page.
"""
from flask import flash, g, redirect, render_template, request, url_for

from api.runtime import engine
from api.web import bp
from api.web.labels import ITEM_FIELDS, error_text
from api.web.lookups import department_names, user_names
from api.web.session import login_required, roles_required
from engine.errors import Conflict, InvalidInput
from workflows import access
from workflows.supervision import management

DEFAULT_OFFICE = "督查室"


def _item(item_id):
    return access.visible_item(engine(), g.actor, item_id)


def _run(item, command, done):
    try:
        command()
    except (InvalidInput, Conflict) as err:
        flash(f"操作未执行：{error_text(err)}。")
    else:
        flash(done)
    return redirect(url_for("web.item", item_id=item.id))


def management_context(item):
    """What the item page's 事项管理 card offers the caller (empty when nothing)."""
    actor = g.actor
    if item.status != "open":
        return {}
    context = {}
    if access.may_manage_item(actor):
        from api.web.items import item_schema  # the registration form's choices
        properties = item_schema()["properties"]
        # the current leader stays a choice (no longer a leader: saving other fields keeps them)
        context["leaders"] = {item.leader: user_names().get(item.leader, item.leader),
                              **dict(zip(properties["leader"]["enum"], properties["leader"]["enumNames"]))}
        context["lead_choices"] = {code: name for code, name in zip(
            properties["department"]["enum"], properties["department"]["enumNames"])
            if code not in (item.co_departments or [])}
    if access.may_send_back(actor, item):
        context["may_send_back"] = management.drafting(engine(), item)
    return context


@bp.post("/items/<item_id>/cancel")
@roles_required(*access.ITEM_MANAGERS)
def item_cancel(item_id):
    item = _item(item_id)
    return _run(item, lambda: management.cancel_item(engine(), item, request.form.get("reason", ""), g.actor),
                f"已撤销事项 {item.code}：流程已终止，待办已全部取消。")


@bp.post("/items/<item_id>/amend")
@roles_required(*access.ITEM_MANAGERS)
def item_amend(item_id):
    """修改通知内容 and 更换主办部门 (one form: the fields left as they were change nothing)."""
    item = _item(item_id)
    changes = {field: request.form[field] for field in management.FIELDS if field in request.form}
    try:
        changed = management.amend_item(engine(), item, changes, g.actor)
    except (InvalidInput, Conflict) as err:
        flash(f"操作未执行：{error_text(err)}。")
    else:
        names = "、".join(ITEM_FIELDS[field] for field in changed)
        flash(f"已修改{names}。" + ("主办部门的待办已转至新的主办部门。" if "department" in changed else "")
              if changed else "内容没有变化，未作修改。")
    return redirect(url_for("web.item", item_id=item.id))


@bp.post("/items/<item_id>/send-back")
@login_required
def item_send_back(item_id):
    item = _item(item_id)
    return _run(item, lambda: management.send_back(engine(), item, request.form.get("reason", ""), g.actor),
                "已退回交办，秘书科将重新确定主办部门。")


@bp.get("/items/<item_id>/notice")
@login_required
def item_notice(item_id):
    """督办通知单: A4 print view; 文号 as set or generated, the office's name from ``[office] name``."""
    item = _item(item_id)
    office = engine().config.get("office", {}).get("name") or DEFAULT_OFFICE
    return render_template("item_notice.html", item=item, doc_number=management.doc_number(item),
                           office=office, departments=department_names(), users=user_names(),
                           issued=f"{engine().calendar.local(item.created_at):%Y年%-m月%-d日}")
