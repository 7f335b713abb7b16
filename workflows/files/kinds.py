"""What a file is, from its bytes: never from its name or the client's Content-Type.

``filetype`` (pure Python, magic numbers) names the format; a ZIP container is opened to tell
the office formats apart (a .docx, .xlsx, .pptx and an OFD 版式文件 are all ZIP archives whose
first member varies with the program that wrote them), so a renamed archive is a ``zip`` and a
ZIP is never taken for a document it does not contain.
"""
import io
import zipfile

import filetype

# kind -> the Content-Type a download is served with
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "ofd": "application/ofd",
    "zip": "application/zip",
}
IMAGES = ("jpeg", "png", "gif", "webp")
_FILETYPE_KINDS = {"pdf": "pdf", "jpg": "jpeg", "png": "png", "gif": "gif", "webp": "webp"}
# A ZIP member that marks each office format (OOXML parts, the OFD entry file).
_ZIP_MARKERS = (("word/document.xml", "docx"), ("xl/workbook.xml", "xlsx"),
                ("ppt/presentation.xml", "pptx"), ("OFD.xml", "ofd"))


def detect(data):
    """The kind of ``data`` (a key of :data:`CONTENT_TYPES`), or None when it is none of them."""
    guess = filetype.guess(data[:8192])
    if guess is None:
        return None
    if guess.extension in ("zip", "docx", "xlsx", "pptx"):
        return _zip_kind(data)
    return _FILETYPE_KINDS.get(guess.extension)


def _zip_kind(data):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    for marker, kind in _ZIP_MARKERS:
        if marker in names:
            return kind
    return "zip"
