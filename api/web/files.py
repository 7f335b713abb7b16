"""Evidence files on the pages: the upload the forms' file inputs send (``POST /files``, JSON,
CSRF token in the ``X-CSRFToken`` header), the download (``GET /files/<id>``), and what the
templates need to show files (``evidence_files``, ``filesize``).

The same functions as the API (``api.files.receive`` / ``download``), so the same limits,
types and access rule; a refusal answers JSON with the Chinese words of its code.
"""
from flask import g, jsonify
from sqlalchemy import select

from api import files as api_files
from api.runtime import engine
from api.web import bp
from api.web.labels import error_text
from api.web.session import login_required
from engine.errors import EngineError
from workflows import access
from workflows.complaints.models import Complaint
from workflows.files import evidence
from workflows.files.models import StoredFile


@bp.post("/files")
@login_required
def upload_file():
    try:
        row = api_files.receive(g.actor.username)
    except EngineError as err:
        return jsonify(error={"code": err.code, "text": error_text(err)}), err.status
    return jsonify(api_files.file_out(row)), 201


@bp.get("/files/<file_id>")
@login_required
def download_file(file_id):
    return api_files.download(g.actor, file_id)


@bp.app_template_global("evidence_files")
def evidence_files(ids):
    """The files among ``ids`` the current user may read, in the order given (a form's field
    shown again, a timeline entry)."""
    ids = [value for value in (ids or []) if isinstance(value, str) and len(value) <= 36]
    if not ids or g.get("actor") is None:
        return []
    with engine().db.read() as session:
        rows = {row.id: row for row in session.query(StoredFile).filter(StoredFile.id.in_(ids))}
        return [rows[i] for i in dict.fromkeys(ids) if i in rows and access.may_read_file(session, g.actor, rows[i])]


def record_files(db, record_id):
    """The files attached to an item or problem (and its steps), and the photos of the public
    complaint it was triaged from, oldest first."""
    origins = db.scalars(select(Complaint.id).where(
        (Complaint.problem_id == record_id) | (Complaint.item_id == record_id)))
    return evidence.of_record(db, record_id, also=list(origins))


@bp.app_template_filter("filesize")
def filesize(size):
    """``532 字节``, ``12.3 KB``, ``4.5 MB``."""
    if size < 1024:
        return f"{size} 字节"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
