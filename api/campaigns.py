"""Campaigns (专项行动 / 巡察轮次): create, list, one with its figures, edit, figures as downloads.

The secretariat (and admins) create and edit; the record overseers read every campaign, anyone
else the campaigns whose scope holds their department, with the figures of the problems they
may see (``workflows.campaigns.figures``).
"""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, Float, Integer, List, Nested, String
from apiflask.validators import Length, OneOf
from sqlalchemy import select

from api.auth import current_actor, require_roles, token_auth
from api.exports import csv_response, downloadable, xlsx_response
from api.present import iso
from api.runtime import engine
from workflows import access
from workflows.campaigns import campaigns, figures
from workflows.campaigns.models import STAGE_KINDS, Campaign

bp = APIBlueprint("campaigns", __name__, url_prefix="/api/v1", tag="Campaigns")
NAME = Length(1, 200)
FIGURE_COLUMNS = [("group", "分组"), ("name", "名称"), ("found", "发现问题"), ("open", "整改中"),
                  ("overdue", "逾期"), ("closed", "已销号"), ("rate", "销号率（%）")]


class SubCategoryIn(Schema):
    id = Integer(strict=True, metadata={"description": "PATCH: keeps this category (renamed, moved)"})
    name = String(required=True, validate=NAME)


class CategoryIn(SubCategoryIn):
    children = List(Nested(SubCategoryIn), load_default=list, validate=Length(0, 50))


class StageIn(Schema):
    name = String(required=True, validate=NAME)
    kind = String(required=True, validate=OneOf(STAGE_KINDS))
    starts_on = Date(required=True)
    ends_on = Date(required=True)


class CampaignPatch(Schema):
    """Fields to change; ``categories`` is the whole list as it shall be (an entry with ``id``
    keeps that category; one left out is removed, 409 ``category_in_use`` while used);
    ``departments`` and ``stages`` replace their lists."""
    name = String(validate=NAME)
    starts_on = Date()
    ends_on = Date()
    departments = List(String(validate=Length(1, 100)), validate=Length(0, 1000))
    categories = List(Nested(CategoryIn), validate=Length(0, 50))
    stages = List(Nested(StageIn), validate=Length(0, 20))


class CampaignIn(CampaignPatch):
    name = String(required=True, validate=NAME)
    starts_on = Date(required=True)
    ends_on = Date(required=True)
    departments = List(String(validate=Length(1, 100)), load_default=list, validate=Length(0, 1000))
    categories = List(Nested(CategoryIn), load_default=list, validate=Length(0, 50))
    stages = List(Nested(StageIn), load_default=list, validate=Length(0, 20))


class DepartmentRef(Schema):
    code = String(required=True)
    name = String(required=True)


class CategoryOut(Schema):
    id = Integer(required=True)
    name = String(required=True)
    parent_id = Integer(allow_none=True)


class StageOut(Schema):
    name = String(required=True)
    kind = String(required=True)
    starts_on = String(required=True)
    ends_on = String(required=True)
    current = Boolean(required=True)


class CampaignOut(Schema):
    id = Integer(required=True)
    name = String(required=True)
    starts_on = String(required=True)
    ends_on = String(required=True)
    departments = List(Nested(DepartmentRef), required=True)
    categories = List(Nested(CategoryOut), required=True, metadata={
        "description": "each kind followed by its sub-kinds (parent_id)"})
    stages = List(Nested(StageOut), required=True)
    current_stage = Nested(StageOut, allow_none=True, metadata={
        "description": "the stage whose dates contain today (engine clock, local date), or null"})
    problems = Integer(required=True, metadata={"description": "problems registered (cancelled not counted)"})
    created_by = String(allow_none=True)
    created_at = String(required=True)


class FigureRow(Schema):
    found = Integer(required=True)
    open = Integer(required=True)
    overdue = Integer(required=True)
    closed = Integer(required=True)
    rate = Float(allow_none=True, metadata={"description": "销号率: closed / found in percent, one decimal"})


class DepartmentFigures(FigureRow):
    code = String(required=True)
    name = String(required=True)


class CategoryFigures(FigureRow):
    id = Integer(allow_none=True, metadata={"description": "null: the problems without a category"})
    name = String(allow_none=True)
    parent_id = Integer(allow_none=True)


class FiguresOut(Schema):
    departments = List(Nested(DepartmentFigures), required=True)
    categories = List(Nested(CategoryFigures), required=True)
    total = Nested(FigureRow, required=True)


class CampaignDetailOut(CampaignOut):
    figures = Nested(FiguresOut, required=True)


class CampaignPage(Schema):
    items = List(Nested(CampaignOut), required=True)
    total = Integer(required=True)


class FiguresQuery(Schema):
    format = String(load_default="json", validate=OneOf(("json", "csv", "xlsx")))


def describe(session, campaign, day, problem_count):
    """A campaign as the API answers it (without figures)."""
    stage_rows = campaigns.stages(session, campaign.id)
    current = campaigns.current_stage(stage_rows, day)
    codes = campaigns.scope(session, campaign.id)
    names = _department_names(session, codes)
    stages = [{"name": s.name, "kind": s.kind, "starts_on": iso(s.starts_on), "ends_on": iso(s.ends_on),
               "current": s is current} for s in stage_rows]
    return {"id": campaign.id, "name": campaign.name, "starts_on": iso(campaign.starts_on),
            "ends_on": iso(campaign.ends_on), "departments": [{"code": c, "name": names.get(c, c)} for c in codes],
            "categories": [{"id": c.id, "name": c.name, "parent_id": c.parent_id}
                           for c in campaigns.categories(session, campaign.id)],
            "stages": stages, "current_stage": next((s for s in stages if s["current"]), None),
            "problems": problem_count, "created_by": campaign.created_by, "created_at": iso(campaign.created_at)}


def _department_names(session, codes):
    from workflows.departments import DEPARTMENT
    return dict(session.execute(select(DEPARTMENT.c.code, DEPARTMENT.c.name).where(DEPARTMENT.c.code.in_(codes))).all())


def campaign_body(campaign_id, actor, with_figures=True):
    """The campaign ``campaign_id`` as ``actor`` may see it, with its figures (403/404 otherwise);
    the pages call it too."""
    rt = engine()
    campaign = access.visible_campaign(rt, actor, campaign_id)
    with rt.db.read() as session:
        body = describe(session, campaign, campaigns.today(rt),
                        campaigns.counts_by_campaign(session).get(campaign.id, 0))
        if with_figures:
            body["figures"] = figures.figures(session, actor, campaign.id, rt.clock.now())
    return body


@bp.post("/campaigns")
@bp.auth_required(token_auth)
@require_roles(*access.CAMPAIGN_MANAGERS)
@bp.input(CampaignIn, arg_name="body")
@bp.output(CampaignDetailOut, status_code=201)
@bp.doc(summary="Create a campaign (专项行动 / 巡察轮次): scope, categories (two levels), stages",
        responses=[400, 403])
def create(body):
    campaign_id = campaigns.create(engine(), body, current_actor())
    return campaign_body(campaign_id, current_actor())


@bp.get("/campaigns")
@bp.auth_required(token_auth)
@bp.output(CampaignPage)
@bp.doc(summary="The campaigns the caller may see, newest first")
def index():
    rt, actor = engine(), current_actor()
    with rt.db.read() as session:
        query = select(Campaign)
        condition = access.campaign_scope(actor)
        if condition is not None:
            query = query.where(condition)
        rows = list(session.scalars(query.order_by(Campaign.starts_on.desc(), Campaign.id.desc())))
        counts, day = campaigns.counts_by_campaign(session), campaigns.today(rt)
        items = [describe(session, c, day, counts.get(c.id, 0)) for c in rows]
    return {"items": items, "total": len(items)}


@bp.get("/campaigns/<int(max=2147483647):campaign_id>")
@bp.auth_required(token_auth)
@bp.output(CampaignDetailOut)
@bp.doc(summary="One campaign with its current stage and figures by department and by category",
        responses=[403, 404])
def get(campaign_id):
    return campaign_body(campaign_id, current_actor())


@bp.patch("/campaigns/<int(max=2147483647):campaign_id>")
@bp.auth_required(token_auth)
@require_roles(*access.CAMPAIGN_MANAGERS)
@bp.input(CampaignPatch, arg_name="body")
@bp.output(CampaignDetailOut)
@bp.doc(summary="Edit a campaign: name, dates, departments, categories, stages", responses=[400, 403, 404, 409])
def patch(campaign_id, body):
    campaigns.update(engine(), campaign_id, body)
    return campaign_body(campaign_id, current_actor())


@bp.get("/campaigns/<int(max=2147483647):campaign_id>/figures")
@bp.auth_required(token_auth)
@bp.input(FiguresQuery, location="query", arg_name="query")
@bp.doc(summary="A campaign's figures; ?format=csv|xlsx downloads them (分组, 名称, 发现问题, 整改中, 逾期, 已销号, 销号率)",
        responses={200: downloadable("the figures by department and by category"),
                   403: {"description": "not in your scope"}, 404: {"description": "no such campaign"}})
def figures_of(campaign_id, query):
    body = campaign_body(campaign_id, current_actor())
    if query["format"] == "json":
        return body["figures"]
    return figures_file(query["format"], body)


def figures_rows(body):
    """The campaign's figures as one table: departments, then categories, then the total."""
    result = body["figures"]
    kinds = {c["id"]: c["name"] for c in result["categories"] if c["parent_id"] is None}
    rows = [{**r, "group": "按部门"} for r in result["departments"]]
    rows += [{**r, "group": "按类别", "name": (f"{kinds.get(r['parent_id'], '')} / {r['name']}" if r["parent_id"]
                                            else r["name"] or "未分类")} for r in result["categories"]]
    return rows + [{**result["total"], "group": "合计", "name": body["name"]}]


def figures_file(format_, body):
    rows = figures_rows(body)
    filename = f"campaign-{body['id']}"
    if format_ == "csv":
        return csv_response(FIGURE_COLUMNS, rows, filename)
    return xlsx_response(FIGURE_COLUMNS, rows, filename, "专项行动统计")
