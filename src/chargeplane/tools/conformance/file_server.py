"""The tool's file server for the ``_CS`` cases that move files: firmware the station downloads (L01) and the
log files it uploads (N01).

A small HTTP server (Litestar on uvicorn) on the tool's listen address: ``GET /firmware/<name>`` serves what a
case published, ``PUT`` or ``POST /logs/<name>`` records what the station uploads (the body as it came,
multipart or not), unless the case told it to refuse uploads (the "upload failed" cases). A case may hold
transfers open (a download or upload for the station to cancel). Bodies are bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, get, route
from litestar.enums import HttpMethod

MAX_BODY = 16 * 1024 * 1024  # a log file or a firmware image of a conformance run


@dataclass(frozen=True)
class Upload:
    name: str  # the last path segment the station used
    body: bytes
    content_type: str


@dataclass
class FileStore:
    """What the server serves and what it received; the cases change it between steps."""

    firmware: dict[str, bytes] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    refuse_uploads: bool = False  # answer uploads 403 (nothing is recorded)
    upload_attempts: int = 0  # refused ones included
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set at each accepted upload
    hold: asyncio.Event = field(default_factory=asyncio.Event)  # cleared: transfers wait (one to cancel)

    def __post_init__(self) -> None:
        self.hold.set()


def _app(store: FileStore) -> Litestar:
    # path parameters read from the request: the same on every Litestar 2.x
    @get("/firmware/{name:str}")
    async def firmware(request: Request[Any, Any, Any]) -> Response[bytes]:
        await store.hold.wait()
        image = store.firmware.get(str(request.path_params["name"]))
        if image is None:
            return Response(b"", status_code=404)
        return Response(image, media_type="application/octet-stream")

    @route("/logs/{name:str}", http_method=[HttpMethod.PUT, HttpMethod.POST], status_code=201)
    async def upload(request: Request[Any, Any, Any]) -> Response[bytes]:
        store.upload_attempts += 1
        if store.refuse_uploads:
            return Response(b"refused by the conformance tool", status_code=403)
        await store.hold.wait()
        body = await request.body()
        store.uploads.append(
            Upload(str(request.path_params["name"]), body, request.headers.get("content-type", ""))
        )
        store.arrived.set()
        return Response(b"", status_code=201)

    return Litestar([firmware, upload], request_max_body_size=MAX_BODY, openapi_config=None)


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn inside the tool's event loop: the tool owns the signals (Ctrl-C stops the run, not the server)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_embedded(app: Litestar, host: str) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """``app`` served on ``host`` at a free port, in this event loop: (server, its task, the port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", log_config=None, lifespan="off", access_log=False)
    server = _EmbeddedUvicorn(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.01)
    return server, task, port


async def stop_embedded(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, 5.0)


class FileServer:
    """Started on first use by a case (:meth:`StationTool.file_server`), stopped with the endpoint."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.store = FileStore()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._port = 0

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    def firmware_url(self, name: str) -> str:
        return f"{self.base_url}/firmware/{name}"

    def upload_url(self) -> str:
        """The remoteLocation of a GetLogRequest: the station appends nothing, it PUTs or POSTs here."""
        return f"{self.base_url}/logs/upload"

    async def start(self) -> None:
        self._server, self._task, self._port = await serve_embedded(_app(self.store), self.host)

    async def stop(self) -> None:
        server, task = self._server, self._task
        self._server = self._task = None
        if server is not None and task is not None:
            await stop_embedded(server, task)
