"""Evidence files (佐证材料): ``POST /api/v1/files`` (multipart ``file``) and ``GET
/api/v1/files/{id}`` (the bytes, as a download). The pages use the same two functions
(:func:`receive`, :func:`download`) under their session (``api.web.files``).

The body limit (``MAX_CONTENT_LENGTH``, ``[limits] max_body_bytes``) is raised on the upload
routes only, to ``[files] max_bytes`` plus room for the multipart envelope
(:func:`allow_large_uploads`, before the request guard reads the form). Downloads are
``headers.user_document``: attachment, ``nosniff``, ``Content-Security-Policy: sandbox``, the
Chinese name as RFC 5987 ``filename*``: an uploaded HTML or SVG never renders on our origin
(and the allowed types hold neither).
"""
from apiflask import APIBlueprint, Schema
from apiflask.fields import File, Integer, String
from flask import g, request

from api import headers, request_guard
from api.auth import current_actor, token_auth
from api.runtime import engine, engine_of
from engine.errors import InvalidInput, NotFound, problem
from workflows import access
from workflows.complaints import intake
from workflows.files import evidence
from workflows.files.models import StoredFile

bp = APIBlueprint("files", __name__, url_prefix="/api/v1", tag="Files")
ENVELOPE_BYTES = 64 * 1024  # multipart boundaries and headers around the file itself
UPLOAD_PATHS = ("/api/v1/files", "/files")
COMPLAINT_PATH = "/complaints/new"  # the public page: its photos (workflows.complaints.intake.MAX_PHOTOS)


class FileIn(Schema):
    file = File(required=True)


class FileOut(Schema):
    id = String(required=True)
    name = String(required=True)
    size = Integer(required=True)
    content_type = String(required=True)
    sha256 = String(required=True)


def allow_large_uploads(app):
    """Register, before the request guard, the larger body limit of the upload routes."""
    def raise_limit():
        if request.method == "POST" and request.path in UPLOAD_PATHS:
            request.max_content_length = evidence.max_bytes(engine_of(app)) + ENVELOPE_BYTES
        elif request.method == "POST" and request.path == COMPLAINT_PATH and request.mimetype == "multipart/form-data":
            # room for the photos; the text fields together stay within the usual body limit
            request.max_form_memory_size = int(app.config["MAX_CONTENT_LENGTH"])
            request.max_content_length = (intake.MAX_PHOTOS * evidence.max_bytes(engine_of(app))
                                          + int(app.config["MAX_CONTENT_LENGTH"]))
    app.before_request(raise_limit)


def file_out(row):
    return {"id": row.id, "name": row.name, "size": row.size, "content_type": row.content_type,
            "sha256": row.sha256}


def receive(actor_name, only=None):
    """Store the request's multipart ``file`` for ``actor_name``: the new row, or InvalidInput."""
    if g.get(request_guard.BODY_TOO_LARGE):
        size = evidence.max_bytes(engine())
        raise evidence.TooLarge(f"a file may have at most {size} bytes",
                                details=[problem("file", "file_too_large", "the file is too large", max=size)])
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("send the file as multipart field 'file'",
                           details=[problem("file", "required", "no file in the request")])
    return evidence.upload(engine(), actor_name, upload.filename, upload.read(), only=only)


def download(actor, file_id):
    """The download response of file ``file_id`` for ``actor``; NotFound when they may not read it."""
    rt = engine()
    with rt.db.read() as session:
        row = session.get(StoredFile, file_id) if len(file_id) <= 36 else None
        if row is None or not access.may_read_file(session, actor, row):
            raise NotFound(f"no file {file_id}", reason="no_file")
    data = evidence.read(rt, row)
    if data is None:
        raise NotFound(f"file {file_id} is no longer stored", reason="no_file")
    return headers.user_document(data, row.content_type, row.name)


@bp.post("/files")
@bp.auth_required(token_auth)
@bp.input(FileIn, location="files", arg_name="body")
@bp.output(FileOut, status_code=201)
@bp.doc(summary="Upload an evidence file (multipart field `file`); attach it by naming its id in a form",
        responses={400: "not an accepted type (file_type) or no file", 413: "larger than [files] max_bytes"})
def upload(body):
    return file_out(receive(current_actor().username))


@bp.get("/files/<file_id>")
@bp.auth_required(token_auth)
@bp.doc(summary="Download an evidence file (attachment): for its uploader and whoever may see "
                "the task, item or problem that references it", responses=[404])
def get_file(file_id):
    return download(current_actor(), file_id)
