"""Upload URLs for the logs stations send (N01, 1.6 GetDiagnostics), and the files they bring.

Theory of operation
-------------------
Each log request gets its own URL on the CSMS's HTTP API, ``<public url>/api/v1/uploads/<token>``: the token
(256 random bits) is the only credential, so a station needs no API token, and only its sha256 is stored.
The token opens one upload before it expires (``upload_url_lifetime``); an upload that does not complete
(too large, connection lost, no file in a form) gives it back, so that the station's retries can use it.

The OCPP specifications leave the transfer open; stations upload with HTTP PUT or POST, either the file as
the raw body or a ``multipart/form-data`` form with one file field. Both are taken: the body is streamed to a
temporary file in the uploads directory (refused with 413 beyond ``max_upload_bytes``, counted as it comes, so
a lying or missing Content-Length changes nothing); a form's file part is then cut out of it without reading
the whole body into memory. The stored file is named after the log id (``log-<id>``; the names the station
gave are kept in the record only) and its sha256 is kept with its size.
"""

from __future__ import annotations

import asyncio
import hashlib
import mmap
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
_BOUNDARY = re.compile(r'boundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))', re.IGNORECASE)
_FILENAME = re.compile(rb'filename="([^"\r\n]{0,255})"', re.IGNORECASE)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UploadTooLarge(Exception):
    """The body went beyond the limit."""


class BadUpload(Exception):
    """The body is not what was announced (a form without a file part, a broken form)."""


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    path: Path  # the final file
    name: str | None  # the file name a form gave
    size: int
    sha256: str


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a ``multipart/form-data`` body; None for any other body (taken as the file itself)."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise BadUpload("multipart/form-data without a boundary")
    return (match.group(1) or match.group(2)).encode()


async def receive(
    chunks: AsyncIterator[bytes], directory: Path, target_name: str, boundary: bytes | None, limit: int
) -> ReceivedFile:
    """Stream the body to ``directory``, keep the file (the body, or the form's file part) as
    ``target_name``. Raises :class:`UploadTooLarge` and :class:`BadUpload`; nothing is left behind then.
    The file system work runs in a worker thread, off the event loop."""
    out, path = await asyncio.to_thread(_temporary, directory)
    try:
        size = 0
        digest = hashlib.sha256()
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise UploadTooLarge(f"the upload is larger than {limit} bytes")
                await asyncio.to_thread(out.write, chunk)
                digest.update(chunk)
        finally:
            await asyncio.to_thread(out.close)
        target = directory / target_name
        if boundary is None:
            await asyncio.to_thread(os.replace, path, target)
            return ReceivedFile(target, None, size, digest.hexdigest())
        return await asyncio.to_thread(_cut_file_part, path, target, boundary)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


def _temporary(directory: Path) -> tuple[BinaryIO, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-")
    return os.fdopen(handle, "wb"), Path(temporary)


def _cut_file_part(body: Path, target: Path, boundary: bytes) -> ReceivedFile:
    """The first part of the form that carries a file name (else its only part), copied to ``target``."""
    if body.stat().st_size == 0:
        raise BadUpload("an empty multipart body")
    delimiter = b"--" + boundary
    with body.open("rb") as source, mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as data:
        parts: list[tuple[int, int, bytes]] = []  # (start of data, end of data, headers)
        position = data.find(delimiter)
        while position >= 0:
            line_end = data.find(b"\r\n", position)
            if line_end < 0 or data[position + len(delimiter) : position + len(delimiter) + 2] == b"--":
                break  # the closing delimiter
            headers_end = data.find(b"\r\n\r\n", line_end)
            if headers_end < 0:
                raise BadUpload("a form part without the end of its headers")
            start = headers_end + 4
            following = data.find(b"\r\n" + delimiter, start)
            if following < 0:
                raise BadUpload("a form part without its closing boundary")
            parts.append((start, following, bytes(data[line_end + 2 : headers_end])))
            position = following + 2
        with_name = [p for p in parts if _FILENAME.search(p[2])]
        if with_name:
            start, end, headers = with_name[0]
        elif len(parts) == 1:
            start, end, headers = parts[0]
        else:
            raise BadUpload("the form has no file part")
        found = _FILENAME.search(headers)
        name = found.group(1).decode("utf-8", errors="replace") if found else None
        digest = hashlib.sha256()
        with target.open("wb") as out:
            for offset in range(start, end, CHUNK):
                piece = data[offset : min(offset + CHUNK, end)]
                out.write(piece)
                digest.update(piece)
    return ReceivedFile(target, Path(name).name if name else None, end - start, digest.hexdigest())
