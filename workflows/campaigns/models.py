"""Campaigns (专项行动 / 巡察轮次): their scope, categories and stages (issue 15, item 4).

A campaign groups problems and items (``problem.campaign_id`` / ``item.campaign_id``, each
optionally with a ``category_id`` of that campaign). Its rows are written by the secretariat's
commands (``workflows.campaigns.campaigns``); its figures are read by aggregate queries
(``workflows.campaigns.figures``).
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base

STAGE_KINDS = ("mobilise", "self_check", "rectify", "assess", "summary")


class Campaign(Base):
    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    starts_on: Mapped[dt.date] = mapped_column(sa.Date)
    ends_on: Mapped[dt.date] = mapped_column(sa.Date)
    created_by: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime]


class CampaignDepartment(Base):
    """A department in the campaign's scope."""
    __tablename__ = "campaign_department"

    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), primary_key=True)
    department: Mapped[str] = mapped_column(sa.String(100), primary_key=True, index=True)


class CampaignCategory(Base):
    """A kind (``parent_id`` None) or a sub-kind of a kind: two levels at most."""
    __tablename__ = "campaign_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("campaign_category.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    position: Mapped[int] = mapped_column(default=0)


class CampaignStage(Base):
    """A stage with its dates; ``kind`` one of :data:`STAGE_KINDS`."""
    __tablename__ = "campaign_stage"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(20))
    starts_on: Mapped[dt.date] = mapped_column(sa.Date)
    ends_on: Mapped[dt.date] = mapped_column(sa.Date)
    position: Mapped[int] = mapped_column(default=0)
