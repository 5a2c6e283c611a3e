"""Attachments units send with their reports (photos, files), kept on disk.

Files are content-addressed: `<root>/<subdir>/<sha256><ext>`, so the same file sent twice is
stored once. The sender's file name never becomes part of a path; it is only kept, cleaned, for
display (`ProblemAttachment.file_name`). The extension comes from that name when it is short and
plain, else from the content's first bytes, else `.bin`. Writes go through a temporary file and
an atomic rename, in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from bot.messages import Attachment


class Downloader(Protocol):
    """What fetching attachments needs of the DingTalk client (bot.dingtalk_api.DingTalkAPI)."""

    async def download(self, download_code: str, max_bytes: int) -> bytes: ...

log = logging.getLogger(__name__)
_EXT = re.compile(r"\.[a-z0-9]{1,8}")
_SUBDIR_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"GIF8", ".gif"), (b"%PDF-", ".pdf"),
    (b"PK\x03\x04", ".zip"), (b"#!AMR", ".amr"), (b"OggS", ".ogg"),
)
NAME_LIMIT = 200  # ProblemAttachment.file_name


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative to the store's root, "/"-separated (ProblemAttachment.path)
    size: int
    sha256: str
    kind: str  # picture / file / audio / video
    file_name: str  # the sender's file name, cleaned; for display only


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    async def save(self, data: bytes, *, kind: str, file_name: str, subdir: str) -> StoredFile:
        """Store `data` under `subdir`, a relative path of our own making (e.g. a problem number):
        parts of letters, digits, '.', '_' and '-' joined by '/'; "" is the root itself."""
        parts = _subdir_parts(subdir)
        name = clean_name(file_name)
        rel, digest = await asyncio.to_thread(self._write, data, parts, name)
        return StoredFile(path=rel, size=len(data), sha256=digest, kind=kind, file_name=name)

    def path_of(self, relative: str) -> Path:
        """The absolute path of a stored file, refusing anything that would lead outside the root."""
        rel = PurePosixPath(relative)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise ValueError(f"not a stored file path: {relative!r}")
        return self._inside(self.root.joinpath(*rel.parts))

    async def read(self, relative: str) -> bytes:
        return await asyncio.to_thread(self.path_of(relative).read_bytes)

    def _inside(self, path: Path) -> Path:
        root = self.root.resolve()
        resolved = path.resolve()  # follows symlinks, so a link pointing out is caught too
        if not resolved.is_relative_to(root):
            raise ValueError(f"path leads outside the file store: {path}")
        return resolved

    def _write(self, data: bytes, parts: tuple[str, ...], name: str) -> tuple[str, str]:
        digest = hashlib.sha256(data).hexdigest()
        rel = PurePosixPath(*parts, digest + _extension(name, data))
        target = self._inside(self.root.joinpath(*rel.parts))
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.stat().st_size == len(data):
            return str(rel), digest  # the same content is already there
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return str(rel), digest


async def fetch_attachments(
    api: Downloader, store: FileStore, attachments: Iterable[Attachment], *, subdir: str, max_bytes: int,
) -> list[StoredFile]:
    """Download each attachment and store it, one after another.

    Raises the first DingTalkError (too large, bad downloadCode, network); files stored before it
    stay on disk, which is harmless: they are content-addressed and not yet in the database.
    """
    stored = []
    for att in attachments:
        data = await api.download(att.download_code, max_bytes)
        stored.append(await store.save(data, kind=att.kind, file_name=att.file_name, subdir=subdir))
    return stored


def clean_name(file_name: str) -> str:
    """The last component of a sender's file name, without control characters, for display."""
    name = PurePosixPath(file_name.replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return "" if not name.strip(".") else name[:NAME_LIMIT]


def _extension(name: str, data: bytes) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    if _EXT.fullmatch(suffix):
        return suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return next((ext for magic, ext in _MAGIC if data.startswith(magic)), ".bin")


def _subdir_parts(subdir: str) -> tuple[str, ...]:
    parts = tuple(subdir.split("/")) if subdir else ()
    if any(not _SUBDIR_PART.fullmatch(p) for p in parts):
        raise ValueError(f"bad storage subdir {subdir!r}: use letters, digits, '.', '_', '-' and '/'")
    return parts


async def read_capped(content: Any, declared: int | None, limit: int) -> bytes | None:
    """A body read in chunks, or None as soon as it is (or says it is) larger than `limit` bytes."""
    if declared is not None and declared > limit:
        return None
    chunks, size = [], 0
    async for chunk in content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def keep_attachments(api: Downloader | None, root: Path, attachments: Iterable[Attachment], *, subdir: str,
                           max_file_mb: int) -> list[StoredFile] | None:
    """Download a message's photos and files from DingTalk and keep them under `root/subdir`; None
    (logged) when there is no DingTalk connection, DingTalk refused, or a file is too large."""
    if api is None:
        log.warning("attachments for %s not stored: no DingTalk API", subdir)
        return None
    try:
        return await fetch_attachments(api, FileStore(root), list(attachments), subdir=subdir,
                                       max_bytes=max_file_mb * 1024 * 1024)
    except Exception as e:  # DingTalk refused the download, or the file is too large
        log.warning("attachments for %s not stored: %s", subdir, e)
        return None
