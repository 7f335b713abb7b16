"""专项行动 (campaigns): the list, create and edit (secretariat), a campaign's page (stage
timeline, figures by department and by category linking to the filtered ledger, CSV/XLSX), and
the departments' own self-check registration (自查登记, 边查边改).

Everything goes through the API's functions (``api.campaigns``, ``workflows.campaigns``,
``create_problem``), so the pages refuse exactly what the API refuses.

The create/edit form is plain HTML: categories are typed one kind per line, ``大类：子类、子类``;
on edit a line whose kind (and sub-kind) name an existing category keeps it (its id), so
renaming is "remove and add" and removing a category in use is refused (409, shown in words).
"""
import datetime as dt

from flask import abort, flash, g, redirect, render_template, request, url_for

from sqlalchemy import select

from api.campaigns import campaign_body, describe, figures_file
from api.runtime import engine
from api.web import bp
from api.web.labels import field_errors
from api.web.lookups import department_names
from api.web.registration import registration_page
from api.web.session import login_required, roles_required
from engine.errors import EngineError
from workflows import access
from workflows.campaigns import campaigns
from workflows.campaigns.models import STAGE_KINDS, Campaign
from workflows.rectification.problems import create_problem


@bp.get("/campaigns")
@login_required
def campaigns_list():
    rt = engine()
    query = select(Campaign).order_by(Campaign.starts_on.desc(), Campaign.id.desc())
    condition = access.campaign_scope(g.actor)
    with rt.db.read() as db:
        rows = list(db.scalars(query.where(condition) if condition is not None else query))
        counts, day = campaigns.counts_by_campaign(db), campaigns.today(rt)
        listed = [describe(db, c, day, counts.get(c.id, 0)) for c in rows]
    return render_template("campaigns.html", campaigns=listed, may_manage=access.may_manage_campaigns(g.actor),
                           stage_names=campaigns.STAGE_NAMES)


@bp.get("/campaigns/<int(max=2147483647):campaign_id>")
@login_required
def campaign(campaign_id):
    body = campaign_body(campaign_id, g.actor)
    return render_template("campaign.html", c=body, may_manage=access.may_manage_campaigns(g.actor),
                           may_self_check=_may_self_check(campaign_id), stage_names=campaigns.STAGE_NAMES)


@bp.get("/campaigns/<int(max=2147483647):campaign_id>/figures.<any(csv, xlsx):fmt>")
@login_required
def campaign_download(campaign_id, fmt):
    return figures_file(fmt, campaign_body(campaign_id, g.actor))


# -- create and edit ------------------------------------------------------------------------------
@bp.route("/campaigns/new", methods=["GET", "POST"])
@roles_required(*access.CAMPAIGN_MANAGERS)
def campaign_new():
    values, errors = _blank(), []
    if request.method == "POST":
        values = _form_values(request.form)
        data, errors = _parse(values, {})
        if not errors:
            try:
                campaign_id = campaigns.create(engine(), data, g.actor)
            except EngineError as err:
                errors = _words(err)
            else:
                flash(f"已创建专项行动：{data['name']}")
                return redirect(url_for("web.campaign", campaign_id=campaign_id))
    return _form_page(values, errors, None)


@bp.route("/campaigns/<int(max=2147483647):campaign_id>/edit", methods=["GET", "POST"])
@roles_required(*access.CAMPAIGN_MANAGERS)
def campaign_edit(campaign_id):
    body = campaign_body(campaign_id, g.actor, with_figures=False)
    values, errors = _values_of(body), []
    if request.method == "POST":
        values = _form_values(request.form)
        data, errors = _parse(values, _category_ids(body))
        if not errors:
            try:
                campaigns.update(engine(), campaign_id, data)
            except EngineError as err:
                errors = _words(err)
            else:
                flash("专项行动已保存")
                return redirect(url_for("web.campaign", campaign_id=campaign_id))
    return _form_page(values, errors, body)


def _form_page(values, errors, body):
    return render_template("campaign_form.html", values=values, errors=errors, c=body,
                           departments=department_names(), stage_kinds=STAGE_KINDS,
                           stage_names=campaigns.STAGE_NAMES)


def _words(err):
    return [text for texts in field_errors(err).values() for text in texts]


def _blank():
    return {"name": "", "starts_on": "", "ends_on": "", "departments": [], "categories": "",
            "stages": {kind: {"name": campaigns.STAGE_NAMES[kind], "starts_on": "", "ends_on": ""}
                       for kind in STAGE_KINDS}}


def _values_of(body):
    values = {"name": body["name"], "starts_on": body["starts_on"], "ends_on": body["ends_on"],
              "departments": [d["code"] for d in body["departments"]]}
    kinds = [c for c in body["categories"] if c["parent_id"] is None]
    values["categories"] = "\n".join(
        k["name"] + ("：" + "、".join(c["name"] for c in body["categories"] if c["parent_id"] == k["id"])
                     if any(c["parent_id"] == k["id"] for c in body["categories"]) else "") for k in kinds)
    values["stages"] = _blank()["stages"]
    for stage in body["stages"]:
        values["stages"][stage["kind"]] = {k: stage[k] for k in ("name", "starts_on", "ends_on")}
    return values


def _form_values(form):
    return {"name": form.get("name", "").strip(), "starts_on": form.get("starts_on", ""),
            "ends_on": form.get("ends_on", ""), "departments": form.getlist("departments"),
            "categories": form.get("categories", ""),
            "stages": {kind: {"name": form.get(f"stage_{kind}_name", "").strip() or campaigns.STAGE_NAMES[kind],
                              "starts_on": form.get(f"stage_{kind}_starts_on", ""),
                              "ends_on": form.get(f"stage_{kind}_ends_on", "")} for kind in STAGE_KINDS}}


def _category_ids(body):
    """``{(kind name, sub-kind name or None): id}`` of the campaign's categories."""
    names = {c["id"]: c["name"] for c in body["categories"]}
    return {(names[c["parent_id"]], c["name"]) if c["parent_id"] else (c["name"], None): c["id"]
            for c in body["categories"]}


def _date(text, label, errors):
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors.append(f"{label}：请填写日期")
        return None


def _parse(values, ids):
    """The form's answers as the API's body (``ids``: existing categories to keep), and the
    Chinese words of what cannot be read."""
    errors = []
    if not values["name"]:
        errors.append("名称：请填写")
    data = {"name": values["name"], "starts_on": _date(values["starts_on"], "开始日期", errors),
            "ends_on": _date(values["ends_on"], "结束日期", errors), "departments": values["departments"],
            "categories": [], "stages": []}
    for line in values["categories"].splitlines():
        kind, _, children = line.replace(":", "：").partition("：")
        if not kind.strip():
            continue
        kind = kind.strip()[:200]
        subs = [s.strip()[:200] for s in children.replace(",", "、").replace("，", "、").split("、") if s.strip()]
        data["categories"].append({"name": kind, "id": ids.get((kind, None)), "children": [
            {"name": s, "id": ids.get((kind, s))} for s in subs]})
    for kind in STAGE_KINDS:
        stage = values["stages"][kind]
        if not stage["starts_on"] and not stage["ends_on"]:
            continue  # a stage left out
        label = campaigns.STAGE_NAMES[kind]
        data["stages"].append({"name": stage["name"][:200], "kind": kind,
                               "starts_on": _date(stage["starts_on"], f"{label}开始日期", errors),
                               "ends_on": _date(stage["ends_on"], f"{label}结束日期", errors)})
    for entry in data["categories"] + [c for k in data["categories"] for c in k["children"]]:
        if entry["id"] is None:
            del entry["id"]
    return data, errors


# -- 自查登记: a department's own findings ------------------------------------------------------------
def _may_self_check(campaign_id):
    rt = engine()
    with rt.db.read() as db:
        return access.may_register_self_check(db, g.actor, campaign_id, g.actor.department, campaigns.today(rt))


def self_check_schema(body):
    kinds = {c["id"]: c["name"] for c in body["categories"] if c["parent_id"] is None}
    choices = [(str(c["id"]), f"{kinds[c['parent_id']]} / {c['name']}" if c["parent_id"] else c["name"])
               for c in body["categories"]]
    properties = {
        "title": {"type": "string", "minLength": 1, "maxLength": 400, "title": "问题", "x-widget": "text"},
        "deadline": {"type": "string", "format": "date", "title": "整改时限"},
        "description": {"type": "string", "maxLength": 10000, "title": "问题描述", "x-widget": "textarea"},
        "evidence": {"type": "array", "title": "佐证材料（附件）", "maxItems": 50,
                     "items": {"type": "string", "format": "file"}},
    }
    if choices:
        properties["category"] = {"type": "string", "enum": [v for v, _ in choices],
                                  "enumNames": [t for _, t in choices], "title": "问题类别"}
    return {"type": "object", "additionalProperties": False, "required": ["title", "deadline"],
            "properties": properties}


@bp.route("/campaigns/<int(max=2147483647):campaign_id>/self-check", methods=["GET", "POST"])
@login_required
def campaign_self_check(campaign_id):
    body = campaign_body(campaign_id, g.actor, with_figures=False)
    if not _may_self_check(campaign_id):
        abort(403)

    def create(rt, data, actor):
        category = data.pop("category", None)
        return create_problem(rt, {**data, "source": "self_check", "department": actor.department,
                                   "campaign": campaign_id, "category": int(category) if category else None}, actor)
    return registration_page("campaign_self_check.html", self_check_schema(body), create, lambda problem: (
        f"已登记自查问题：{problem.code}，整改流程已启动，秘书科移交后请制定整改方案。",
        url_for("web.problem", problem_id=problem.id)), campaign=body)
