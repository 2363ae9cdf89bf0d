"""Uploaded files (scanned contracts): type checked by content, size limited, stored under
UPLOAD_DIR (outside the static folder) with random names; only the services hand them out."""

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from ..validation import rules

# what the first bytes must be → (mime type, extension)
SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)
_KEY = re.compile(r"[0-9a-f]{32}\.(pdf|png|jpg)")


@dataclass(frozen=True)
class Upload:
    """A checked file, not yet written."""

    data: bytes
    name: str
    mime: str
    ext: str


@dataclass(frozen=True)
class StoredFile:
    key: str
    name: str
    mime: str
    size: int


def max_bytes() -> int:
    return int(current_app.config.get("CONTRACT_FILE_MAX_MB", 10)) * 1024 * 1024


def check(file, default_stem: str = "合同") -> Upload | None:
    """A werkzeug FileStorage (or anything with ``filename`` and ``read``) → Upload; None when no
    file was chosen; ValueError with a message in Chinese when it is not acceptable."""
    if file is None or not getattr(file, "filename", ""):
        return None
    limit = max_bytes()
    data = file.read(limit + 1)
    if not data:
        raise ValueError("上传的文件是空的")
    if len(data) > limit:
        raise ValueError(f"文件超过 {limit // (1024 * 1024)} MB，请压缩后再上传")
    for magic, mime, ext in SIGNATURES:
        if data.startswith(magic):
            name = rules.safe_file_name(file.filename, f"{default_stem}.{ext}")
            return Upload(data, name, mime, ext)
    raise ValueError("只接受 PDF、PNG 或 JPEG 格式的扫描件")


def download_name(mime: str | None, stem: str) -> str:
    """A download is named from its detected type, never from what the uploader called it."""
    ext = next((e for _, m, e in SIGNATURES if m == mime), "bin")
    return f"{stem}.{ext}"


def folder(area: str = "contracts") -> Path:
    """One folder per area (contracts, challenges)."""
    path = Path(current_app.config["UPLOAD_DIR"]) / area
    path.mkdir(parents=True, exist_ok=True)
    return path


def save(upload: Upload, area: str = "contracts") -> StoredFile:
    key = f"{secrets.token_hex(16)}.{upload.ext}"
    path = folder(area) / key
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "wb") as f:
        f.write(upload.data)
    return StoredFile(key, upload.name, upload.mime, len(upload.data))


def discard(key: str, area: str = "contracts") -> None:
    """Remove a file written for a change that was then rolled back."""
    if _KEY.fullmatch(key or ""):
        (folder(area) / key).unlink(missing_ok=True)


def path_of(key: str, area: str = "contracts") -> Path | None:
    if not _KEY.fullmatch(key or ""):
        return None
    path = folder(area) / key
    return path if path.is_file() else None
