"""Campaigns (专项行动 / 巡察轮次): the secretariat's commands and what registration asks of them.

A campaign has a name, its dates, the departments in its scope, a two-level category list
(kinds and their sub-kinds, editable while problems use them: a category in use cannot be
removed, 409 ``category_in_use``) and dated stages. The *current stage* is the first stage (by
position) whose dates contain today — the engine clock's local date, as for every business
date — or None between and outside the stages.

Problems and items may name a campaign and one of its categories at registration
(:func:`refuse_membership`): the category must be the campaign's, the department in its scope.
Input arrives as the API schema loaded it (``datetime.date`` for dates); the checks here are
the ones a schema cannot make (date order, existing departments, references), each with its code.
"""
import datetime as dt

from sqlalchemy import delete, func, select

from engine.errors import Conflict, InvalidInput, NotFound, problem
from workflows import departments, text
from workflows.campaigns.models import Campaign, CampaignCategory, CampaignDepartment, CampaignStage, STAGE_KINDS
from workflows.rectification.models import Problem
from workflows.supervision.models import Item

STAGE_NAMES = {"mobilise": "动员部署", "self_check": "自查自纠", "rectify": "问题整改", "assess": "督查测评",
               "summary": "工作总结"}
assert set(STAGE_NAMES) == set(STAGE_KINDS)


def today(engine):
    """The engine clock's local date: what "the stage the campaign is in" is read against."""
    return engine.calendar.local(engine.clock.now()).date()


# -- input --------------------------------------------------------------------------------------
def _check(session, data, starts_on, ends_on):
    """The field problems of ``data`` (a whole campaign or a PATCH's fields) against the
    campaign's dates ``starts_on`` / ``ends_on`` as they will be."""
    problems = [p for name in ("name",) if (p := text.name_problem(name, data.get(name)))]
    if "name" in data and not data["name"].strip():
        problems.append(problem("name", "blank", "must not be blank"))
    if ends_on < starts_on:
        problems.append(problem("ends_on", "ends_before_starts", "must not be before starts_on"))
    codes = data.get("departments")
    if codes is not None:
        known = set(session.scalars(select(departments.DEPARTMENT.c.code)
                                    .where(departments.DEPARTMENT.c.code.in_(codes))))
        problems += [problem(f"departments/{i}", "unknown_department", f"unknown department {code!r}")
                     for i, code in enumerate(codes) if code not in known]
        if len(set(codes)) != len(codes):
            problems.append(problem("departments", "duplicate", "a department is listed twice"))
    for i, stage in enumerate(data.get("stages") or []):
        problems += [p for p in [text.name_problem(f"stages/{i}/name", stage["name"])] if p]
        if not stage["name"].strip():
            problems.append(problem(f"stages/{i}/name", "blank", "must not be blank"))
        if stage["ends_on"] < stage["starts_on"]:
            problems.append(problem(f"stages/{i}/ends_on", "ends_before_starts", "must not be before starts_on"))
        elif stage["starts_on"] < starts_on or stage["ends_on"] > ends_on:
            problems.append(problem(f"stages/{i}", "stage_outside_campaign", "must lie within the campaign's dates"))
    for i, kind in enumerate(data.get("categories") or []):
        for path, entry in [(f"categories/{i}", kind)] + [
                (f"categories/{i}/children/{j}", child) for j, child in enumerate(kind.get("children") or [])]:
            problems += [p for p in [text.name_problem(f"{path}/name", entry["name"])] if p]
            if not entry["name"].strip():
                problems.append(problem(f"{path}/name", "blank", "must not be blank"))
    if problems:
        raise InvalidInput("invalid campaign", details=problems)


# -- commands -----------------------------------------------------------------------------------
def create(engine, data, actor):
    """A new campaign from ``data`` (name, starts_on, ends_on, departments, categories, stages);
    returns its id. Nothing is written when any field is refused."""
    with engine.db.write() as session:
        _check(session, data, data["starts_on"], data["ends_on"])
        campaign = Campaign(name=data["name"].strip(), starts_on=data["starts_on"], ends_on=data["ends_on"],
                            created_by=actor.username, created_at=engine.clock.now())
        session.add(campaign)
        session.flush()
        _write_departments(session, campaign.id, data.get("departments") or [])
        _write_categories(session, campaign.id, data.get("categories") or [])
        _write_stages(session, campaign.id, data.get("stages") or [])
        return campaign.id


def update(engine, campaign_id, data):
    """Change the fields given in ``data``. ``departments`` and ``stages`` replace the lists;
    ``categories`` is the whole list as it shall be: an entry with an ``id`` keeps that category
    (renamed, moved), one without is new, and a category left out is removed — refused (409
    ``category_in_use``) while a problem or an item names it; an ``id`` that is not this
    campaign's is 400 ``unknown_category``."""
    with engine.db.write() as session:
        campaign = _get(session, campaign_id)
        _check(session, data, data.get("starts_on", campaign.starts_on), data.get("ends_on", campaign.ends_on))
        if "stages" not in data:  # the kept stages must still lie within new dates
            _check(session, {"stages": [_stage_fields(s) for s in stages(session, campaign_id)]},
                   data.get("starts_on", campaign.starts_on), data.get("ends_on", campaign.ends_on))
        for name in ("name", "starts_on", "ends_on"):
            if name in data:
                setattr(campaign, name, data[name].strip() if name == "name" else data[name])
        if "departments" in data:
            session.execute(delete(CampaignDepartment).where(CampaignDepartment.campaign_id == campaign_id))
            _write_departments(session, campaign_id, data["departments"])
        if "stages" in data:
            session.execute(delete(CampaignStage).where(CampaignStage.campaign_id == campaign_id))
            _write_stages(session, campaign_id, data["stages"])
        if "categories" in data:
            _sync_categories(session, campaign_id, data["categories"])


def _stage_fields(stage):
    return {"name": stage.name, "kind": stage.kind, "starts_on": stage.starts_on, "ends_on": stage.ends_on}


def _write_departments(session, campaign_id, codes):
    session.add_all(CampaignDepartment(campaign_id=campaign_id, department=code) for code in codes)


def _write_stages(session, campaign_id, entries):
    session.add_all(CampaignStage(campaign_id=campaign_id, position=i, name=s["name"].strip(), kind=s["kind"],
                                  starts_on=s["starts_on"], ends_on=s["ends_on"]) for i, s in enumerate(entries))


def _write_categories(session, campaign_id, kinds):
    for i, kind in enumerate(kinds):
        parent = CampaignCategory(campaign_id=campaign_id, name=kind["name"].strip(), position=i)
        session.add(parent)
        session.flush()
        session.add_all(CampaignCategory(campaign_id=campaign_id, parent_id=parent.id, name=c["name"].strip(),
                                         position=j) for j, c in enumerate(kind.get("children") or []))


def _sync_categories(session, campaign_id, kinds):
    existing = {c.id: c for c in session.scalars(select(CampaignCategory)
                                                 .where(CampaignCategory.campaign_id == campaign_id))}
    entries = kinds + [child for kind in kinds for child in kind.get("children") or []]
    named = [e["id"] for e in entries if e.get("id") is not None]
    unknown = [i for i in named if i not in existing]
    if unknown:
        raise InvalidInput("invalid campaign", details=[
            problem("categories", "unknown_category", f"category {i} is not this campaign's") for i in unknown])
    removed = [existing[i] for i in existing if i not in named]
    used = _categories_in_use(session, [c.id for c in removed])
    if used:
        raise Conflict("categories in use cannot be removed", details=[
            problem("categories", "category_in_use", f"category {existing[i].name} is in use") for i in used])
    for i, kind in enumerate(kinds):
        parent = _keep(session, existing, campaign_id, kind, None, i)
        for j, child in enumerate(kind.get("children") or []):
            _keep(session, existing, campaign_id, child, parent.id, j)
    for row in sorted(removed, key=lambda c: c.parent_id is None):  # sub-kinds before their kinds
        session.delete(row)
        session.flush()


def _keep(session, existing, campaign_id, entry, parent_id, position):
    """The category row of ``entry`` (kept by its id, or new) with its name and place."""
    row = existing.get(entry.get("id")) or CampaignCategory(campaign_id=campaign_id)
    row.name, row.parent_id, row.position = entry["name"].strip(), parent_id, position
    session.add(row)
    session.flush()
    return row


def _categories_in_use(session, ids):
    if not ids:
        return []
    used = set(session.scalars(select(Problem.category_id).where(Problem.category_id.in_(ids))))
    used |= set(session.scalars(select(Item.category_id).where(Item.category_id.in_(ids))))
    return sorted(used)


# -- reads --------------------------------------------------------------------------------------
def _get(session, campaign_id):
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}", reason="no_campaign")
    return campaign


def get(engine, campaign_id):
    """The campaign row (detached); NotFound (``no_campaign``) when there is none."""
    with engine.db.read() as session:
        return _get(session, campaign_id)


def scope(session, campaign_id):
    """The codes of the departments in the campaign's scope, in code order."""
    return list(session.scalars(select(CampaignDepartment.department)
                                .where(CampaignDepartment.campaign_id == campaign_id)
                                .order_by(CampaignDepartment.department)))


def categories(session, campaign_id):
    """The categories, each kind followed by its sub-kinds, in their positions."""
    rows = list(session.scalars(select(CampaignCategory).where(CampaignCategory.campaign_id == campaign_id)
                                .order_by(CampaignCategory.position, CampaignCategory.id)))
    ordered = []
    for kind in (r for r in rows if r.parent_id is None):
        ordered += [kind] + [r for r in rows if r.parent_id == kind.id]
    return ordered


def stages(session, campaign_id):
    return list(session.scalars(select(CampaignStage).where(CampaignStage.campaign_id == campaign_id)
                                .order_by(CampaignStage.position)))


def current_stage(stage_rows, day):
    """The first stage whose dates contain ``day`` (both ends included), or None."""
    return next((s for s in stage_rows if s.starts_on <= day <= s.ends_on), None)


def counts_by_campaign(session):
    """``{campaign id: problems registered}`` (cancelled ones not counted), for the list."""
    return dict(session.execute(select(Problem.campaign_id, func.count()).where(
        Problem.campaign_id.is_not(None), Problem.status != "cancelled").group_by(Problem.campaign_id)).all())


# -- registration of problems and items ------------------------------------------------------------
def refuse_membership(session, campaign_id, category_id, department):
    """InvalidInput unless the record may belong to the campaign: it exists
    (``unknown_campaign``), the category is one of its (``unknown_category``; a category needs
    its campaign: ``category_without_campaign``), and ``department`` is in its scope
    (``department_not_in_campaign``). Nothing to check without either."""
    if campaign_id is None:
        if category_id is not None:
            raise InvalidInput("a category needs its campaign", details=[
                problem("category", "category_without_campaign", "name the campaign of the category")])
        return
    if session.get(Campaign, campaign_id) is None:
        raise InvalidInput("unknown campaign", details=[
            problem("campaign", "unknown_campaign", f"no campaign {campaign_id}")])
    problems = []
    category = session.get(CampaignCategory, category_id) if category_id is not None else None
    if category_id is not None and (category is None or category.campaign_id != campaign_id):
        problems.append(problem("category", "unknown_category", f"category {category_id} is not the campaign's"))
    if session.get(CampaignDepartment, (campaign_id, department)) is None:
        problems.append(problem("department", "department_not_in_campaign",
                                f"department {department!r} is not in the campaign's scope"))
    if problems:
        raise InvalidInput("invalid campaign membership", details=problems)


def in_self_check(session, campaign_id, department, day):
    """Whether the campaign's current stage on ``day`` is a self-check stage (自查自纠) and
    ``department`` is in its scope: when its own staff and leaders may register findings."""
    if campaign_id is None or session.get(CampaignDepartment, (campaign_id, department)) is None:
        return False
    stage = current_stage(stages(session, campaign_id), day)
    return stage is not None and stage.kind == "self_check"


def self_check_campaigns(session, department, day):
    """The campaigns whose current stage is a self-check stage and whose scope holds ``department``."""
    ids = session.scalars(select(CampaignDepartment.campaign_id).where(CampaignDepartment.department == department))
    return [c for c in (session.get(Campaign, i) for i in ids) if in_self_check(session, c.id, department, day)]
