"""The public complaint page (群众反映): ``/complaints/new``, no login, Simplified Chinese.

A small self-contained page (its own template, no site layout) whose form posts to the same
intake as ``POST /api/v1/complaints``: the same field limits, the same per-address throttle,
the same stored clue. Errors are shown on the page in plain words, with the status code an
API client would get (400, 413, 429 with ``Retry-After``). No CSRF token: the form carries
no session or authority to borrow, and the throttle bounds what a forged post could do.
"""
import math

from flask import Blueprint, g, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from api import complaints, request_guard
from engine.errors import InvalidInput
from workflows.complaints import intake
from workflows.complaints.intake import Throttled

bp = Blueprint("complaint_page", __name__, template_folder="templates")
FIELDS = ("text", "contact", "attachment_name")
LABELS = {"text": "反映内容", "contact": "联系方式", "attachment_name": "附件文件名", "photos": "现场照片"}
MESSAGES = {
    "required": "请填写{label}。",
    "too_long": "{label}不能超过 {max} 个字（当前 {length} 个字）。",
    "invalid_name": "{label}只能是文件名本身（如“现场照片.jpg”），不能包含路径、控制字符或 \\ / : * ? \" < > | 等符号，"
                    "也不能以空格开头或结尾。",
    "invalid": "{label}格式不正确。",
    "file_type": "{label}只能是图片（JPEG、PNG、GIF 或 WEBP 格式）。",
    "too_many_files": "{label}最多 {max} 张。",
    "file_too_large": "{label}每张不能超过 {megabytes} MB。",
    "empty_file": "{label}中有空文件，请重新选择。",
    "control_character": "{label}的文件名含有控制字符，请改名后重新选择。",
    "bidi_control": "{label}的文件名含有控制字符，请改名后重新选择。",
}


def _render(status=200, form=None, errors=None, notice=None, received=None, headers=None):
    page = render_template("complaints/new.html", form=form or {}, errors=errors or {}, notice=notice,
                           received=received, labels=LABELS, limits={
                               "text": intake.MAX_TEXT, "contact": intake.MAX_CONTACT,
                               "attachment_name": intake.MAX_FILE_NAME}, per_hour=complaints.per_hour(),
                           max_photos=intake.MAX_PHOTOS)
    return page, status, headers or {}


def _field_errors(err, form):
    errors = {}
    for problem in err.details or []:
        field = problem.get("field")
        template = MESSAGES.get(problem.get("code"), "{label}填写有误。")  # never the English message
        errors.setdefault(field, template.format(label=LABELS.get(field, field), max=problem.get("max"),
                                                 length=len(form.get(field) or ""),
                                                 megabytes=(problem.get("max") or 0) // (1024 * 1024)))
    return errors


@bp.route("/complaints/new", methods=["GET", "POST"])
def new():
    if request.method == "GET":
        return _render()
    try:
        form = {name: request.form.get(name, "") for name in FIELDS}
        photos = [(upload.filename, upload.read()) for upload in request.files.getlist("photos") if upload.filename]
        if g.get(request_guard.BODY_TOO_LARGE):
            raise RequestEntityTooLarge()
    except RequestEntityTooLarge:
        return _render(413, notice="提交的内容过大，未能受理。请精简反映内容（不超过 "
                                   f"{intake.MAX_TEXT} 个字）后重新提交。")
    data = {"text": form["text"], "contact": form["contact"] or None,
            "attachment_name": form["attachment_name"] or None}
    try:
        complaint = complaints.receive(data, photos)
    except InvalidInput as err:
        return _render(err.status, form, _field_errors(err, form), notice="提交未成功，请按提示修改后重新提交。")
    except Throttled as err:
        minutes = max(1, math.ceil(err.retry_after / 60))
        return _render(429, form, notice=f"提交过于频繁：同一网络每小时最多提交 {complaints.per_hour()} 条反映，"
                                         f"请约 {minutes} 分钟后再试。",
                       headers={"Retry-After": str(err.retry_after)})
    return _render(201, received=complaint)
