"""公示: publishing a month's ranking to the public page (issue 16).

``POST /publications`` (the secretariat) freezes the ranking of a month with the chosen columns
(``workflows.supervision.publications``: the snapshot's contract); ``GET /publications`` lists
them, withdrawn ones included (``state``); ``GET /publications/{id}`` reads one with its
snapshot; ``DELETE`` withdraws it. The public reads them without login on ``/public``
(``api.public_page``).
"""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Regexp

from api import reports as api_reports
from api.auth import current_actor, require_roles, token_auth
from api.errors import abort
from api.present import iso
from api.runtime import engine
from api.schemas import Page
from workflows.supervision import publications, reports
from workflows.supervision.models import Publication

bp = APIBlueprint("publications", __name__, url_prefix="/api/v1", tag="Publications")
PUBLISHERS = ("secretariat",)


class PublicationIn(Schema):
    month = String(required=True, validate=[Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="use YYYY-MM, e.g. 2026-11"),
                                            api_reports._report_year])
    fields = List(String(validate=OneOf([name for name, _ in publications.COLUMNS])), required=True,
                  validate=Length(1, len(publications.COLUMNS)),
                  metadata={"description": "the ranking's columns to publish (the department's name always is)"})
    circular = Boolean(load_default=False, truthy={True}, falsy={False},
                       metadata={"description": "publish the circular's sentences too"})
    note = String(allow_none=True, validate=Length(0, publications.MAX_NOTE))


class PublicationOut(Schema):
    id = Integer(required=True)
    month = String(required=True)
    fields = List(String(), required=True)
    circular = Boolean(required=True)
    note = String(allow_none=True)
    state = String(required=True, metadata={"description": "published | withdrawn"})
    published_by = String(required=True)
    published_at = String(required=True)
    withdrawn_by = String(allow_none=True)
    withdrawn_at = String(allow_none=True)
    public_url = String(allow_none=True)


class PublicationDetail(PublicationOut):
    data = Dict(required=True, metadata={"description": "the snapshot the public page shows, exactly"})


class PublicationPage(Schema):
    items = List(Nested(PublicationOut), required=True)
    total = Integer(required=True)


def publication_out(row, with_data=False):
    out = {"id": row.id, "month": row.month, "fields": row.fields, "circular": row.circular, "note": row.note,
           "state": "withdrawn" if row.withdrawn_at else "published", "published_by": row.published_by,
           "published_at": iso(row.published_at), "withdrawn_by": row.withdrawn_by,
           "withdrawn_at": iso(row.withdrawn_at), "public_url": None if row.withdrawn_at else f"/public/{row.id}"}
    return {**out, "data": row.data} if with_data else out


def publish(month, fields, circular, note, actor):
    """Compute ``month``'s ranking (the ranked departments, as the ranking page) and store its
    publication in one write transaction; returns the row."""
    rt = engine()
    now = rt.clock.now()
    with rt.db.write() as session:
        report = reports.ranking(session, rt.calendar, month, now, api_reports.ranked(session))
        return publications.publish(session, rt.audit, report, fields, circular, note, actor, now)


def withdraw(publication_id, actor):
    rt = engine()
    with rt.db.write() as session:
        return publications.withdraw(session, rt.audit, publication_id, actor, rt.clock.now())


@bp.post("/publications")
@bp.auth_required(token_auth)
@require_roles(*PUBLISHERS)
@bp.input(PublicationIn, arg_name="body")
@bp.output(PublicationDetail, status_code=201)
@bp.doc(summary="Publish a month's ranking (公示) with the chosen columns: a frozen snapshot the public page "
                "/public/{id} shows", responses={400: "bad month or column", 403: "not allowed"})
def create(body):
    row = publish(body["month"], body["fields"], body["circular"], body.get("note"), current_actor().username)
    return publication_out(row, with_data=True)


@bp.get("/publications")
@bp.auth_required(token_auth)
@require_roles(*PUBLISHERS)
@bp.input(Page, location="query", arg_name="query")
@bp.output(PublicationPage)
@bp.doc(summary="Publications, newest first, withdrawn ones included", responses=[403])
def index(query):
    with engine().db.read() as session:
        rows, total = publications.listed(session, query["limit"], query["offset"], include_withdrawn=True)
        return {"items": [publication_out(r) for r in rows], "total": total}


@bp.get("/publications/<int:publication_id>")
@bp.auth_required(token_auth)
@require_roles(*PUBLISHERS)
@bp.output(PublicationDetail)
@bp.doc(summary="One publication with its snapshot", responses=[403, 404])
def show(publication_id):
    with engine().db.read() as session:
        row = session.get(Publication, publication_id)
        if row is None:
            abort(404, "not_found", f"no publication {publication_id}")
        return publication_out(row, with_data=True)


@bp.delete("/publications/<int:publication_id>")
@bp.auth_required(token_auth)
@require_roles(*PUBLISHERS)
@bp.output(PublicationOut)
@bp.doc(summary="Withdraw a publication: the public page no longer shows it (404 there)",
        responses=[403, 404])
def delete(publication_id):
    return publication_out(withdraw(publication_id, current_actor().username))
