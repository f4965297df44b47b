"""Rectification attachments: PDF, JPG or PNG, checked by content, stored by content hash.

- The type is decided by the file's first bytes (its magic number), never by its name. A name
  whose extension says another type is refused too (a PDF named ``.png``, a PNG named ``.pdf``):
  the file would open wrongly on the reader's machine, and a mismatch usually means the wrong file
  was picked. The refusal names the type the content really has.
- At most ``$FUNDWATCH_ATTACHMENT_MAX_MB`` MB each (default 10) and ``MAX_FILES`` per step; empty
  files are refused.
- Files are stored under ``Home.attachments_dir`` (outside every served folder) as
  ``<sha256[:2]>/<sha256>``, written to a temporary name and renamed, owner-only. The same content
  twice is stored once; the original name is kept in ``rectification_attachments``, never used as
  a path. They are served only through the scoped route (``fundwatch.rectification.attachment``).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV_MAX_MB = "FUNDWATCH_ATTACHMENT_MAX_MB"
DEFAULT_MAX_MB = 10
MAX_FILES = 5
MAX_NAME = 120

# media type -> (magic bytes at offset 0, extensions a name of that type may carry, label)
TYPES: dict[str, tuple[bytes, tuple[str, ...], str]] = {
    "application/pdf": (b"%PDF-", (".pdf",), "PDF 文件"),
    "image/png": (b"\x89PNG\r\n\x1a\n", (".png",), "PNG 图片"),
    "image/jpeg": (b"\xff\xd8\xff", (".jpg", ".jpeg"), "JPG 图片"),
}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


class AttachmentError(ValueError):
    """A file that cannot be accepted; the message is the Chinese reason shown to the sender."""


@dataclass(frozen=True)
class Upload:
    """One file as a person sent it (name as given, bytes as received)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Stored:
    sha256: str
    original_name: str
    media_type: str
    size_bytes: int


def max_bytes() -> int:
    """The size limit of one attachment, from ``$FUNDWATCH_ATTACHMENT_MAX_MB`` (default 10 MB)."""
    raw = os.environ.get(ENV_MAX_MB, "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_MAX_MB
    except ValueError:
        raise ValueError(f"{ENV_MAX_MB} must be a number of MB, not {raw!r}") from None
    return int(mb * 1024 * 1024)


def sniff(data: bytes) -> str | None:
    """The media type the content has (PDF, PNG, JPEG), None for anything else."""
    for media_type, (magic, _exts, _label) in TYPES.items():
        if data.startswith(magic):
            return media_type
    return None


def clean_name(name: str) -> str:
    """The name to keep and show: its last path part, no control or path characters, not too long."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .")
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 5 else base[:MAX_NAME]
    return base


def check(upload: Upload, limit: int | None = None) -> tuple[str, str]:
    """(clean name, media type) of an acceptable file; AttachmentError with the reason otherwise."""
    limit = max_bytes() if limit is None else limit
    name = clean_name(upload.name)
    shown = name or "（未命名）"
    if not upload.data:
        raise AttachmentError(f"附件“{shown}”是空文件。")
    if len(upload.data) > limit:
        raise AttachmentError(f"附件“{shown}”超过大小上限 {_mb(limit)}（实际 {_mb(len(upload.data))}）。")
    media_type = sniff(upload.data)
    if media_type is None:
        raise AttachmentError(f"附件“{shown}”的内容不是 PDF、JPG 或 PNG 文件，只接受这三种格式。")
    ext = os.path.splitext(name)[1].lower()
    exts, label = TYPES[media_type][1], TYPES[media_type][2]
    if ext not in exts:
        said = next((t[2] for t in TYPES.values() if ext in t[1]), None)
        if said:
            what = f"扩展名 {ext} 表示{said}"
        else:
            what = f"扩展名 {ext} 不是 PDF、JPG 或 PNG" if ext else "文件名没有扩展名"
        raise AttachmentError(f"附件“{shown}”的内容是{label}，但{what}：请改为 {exts[0]} 后重新上传。")
    return name, media_type


def store(root: Path, upload: Upload, limit: int | None = None) -> Stored:
    """Check and store one file (idempotent: the same content is one file)."""
    name, media_type = check(upload, limit)
    digest = hashlib.sha256(upload.data).hexdigest()
    target = path_of(root, digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(upload.data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return Stored(digest, name, media_type, len(upload.data))


def path_of(root: Path, sha256: str) -> Path:
    """Where the file of that hash is kept (the hash comes from our table; checked anyway)."""
    if not _HEX64.match(sha256 or ""):
        raise ValueError("not a sha256 hex digest")
    return Path(root) / sha256[:2] / sha256


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"
