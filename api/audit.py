"""Records: the audit log and its verification."""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, String
from apiflask.validators import Length
from sqlalchemy import func, select

from api.auth import require_roles, token_auth
from api.present import audit
from api.runtime import engine
from api.schemas import AuditPage, Page
from engine.models import AuditRecord

bp = APIBlueprint("audit", __name__, url_prefix="/api/v1", tag="Records")
READERS = ("admin", "secretariat", "supervisor")


class AuditQuery(Page):
    item_id = String(validate=Length(1, 200))
    instance_id = String(validate=Length(1, 200))
    actor = String(validate=Length(1, 100))
    kind = String(validate=Length(1, 100))


class VerifyOut(Schema):
    ok = Boolean(required=True)
    count = Integer(required=True)
    seq = Integer()
    reason = String()


@bp.get("/audit")
@bp.auth_required(token_auth)
@require_roles(*READERS)
@bp.input(AuditQuery, location="query", arg_name="query")
@bp.output(AuditPage)
@bp.doc(summary="Audit records, oldest first, with filters", responses=[403])
def list_records(query):
    statement = select(AuditRecord)
    for field, column in (("item_id", AuditRecord.business_key), ("instance_id", AuditRecord.instance_id),
                          ("actor", AuditRecord.actor), ("kind", AuditRecord.kind)):
        if query.get(field):
            statement = statement.where(column == query[field])
    with engine().db.read() as session:
        total = session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = session.scalars(statement.order_by(AuditRecord.seq).limit(query["limit"]).offset(query["offset"]))
        return {"items": [audit(r) for r in rows], "total": total}


@bp.get("/audit/verify")
@bp.auth_required(token_auth)
@require_roles(*READERS)
@bp.output(VerifyOut)
@bp.doc(summary="Walk the hash chain: ok, or the first bad seq", responses=[403])
def verify():
    return engine().verify_audit()
