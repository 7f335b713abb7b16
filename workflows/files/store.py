"""Content-addressed blob storage: a file's bytes at ``<dir>/<sha[:2]>/<sha>``.

``[files] dir`` may be a volume several hosts share. Writing is a temporary file renamed into
place (atomic on one filesystem), so a reader never sees half a blob, and writing the same
content again just refreshes it. Every upload writes its blob (even when it exists) *before*
its row commits; removal only takes blobs untouched for longer than the orphan age, so a prune
racing an upload of the same content never removes the blob the new row needs.
"""
import hashlib
import os
import tempfile
import time
from pathlib import Path


class BlobStore:
    def __init__(self, directory):
        self.dir = Path(directory)

    def path(self, sha256):
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.dir / sha256[:2] / sha256

    def put(self, data):
        """Store ``data``; returns its SHA-256 (hex)."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return sha

    def read(self, sha256):
        return self.path(sha256).read_bytes()

    def remove(self, sha256, older_than_seconds):
        """Remove the blob unless it was written within ``older_than_seconds`` (wall time)."""
        target = self.path(sha256)
        try:
            if time.time() - target.stat().st_mtime >= older_than_seconds:
                target.unlink()
                return True
        except FileNotFoundError:
            pass
        return False
