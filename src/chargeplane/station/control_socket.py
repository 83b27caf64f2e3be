"""The control socket of a running station: a UNIX-domain socket (``<data dir>/stations/<id>.sock`` by
default) through which ``chargeplane station-ctl`` sends the commands of :mod:`chargeplane.station.control`
to a station that runs without a terminal (under a supervisor, or with ``--no-input``).

One command per line; each is answered with one JSON line ``{"ok": bool, "output": str}``. The socket is
created with mode 0600: whoever may drive the station is whoever owns its data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path

import msgspec

from chargeplane.station.control import Next, execute
from chargeplane.station.runtime import StationRuntime

log = logging.getLogger(__name__)

MAX_LINE = 4096
# sockaddr_un holds 108 bytes on Linux (104 on macOS), the terminating NUL included
MAX_PATH = 103


class ControlReply(msgspec.Struct, frozen=True):
    ok: bool
    output: str = ""


class StationNotRunning(Exception):
    """Nothing listens on the control socket."""


class ControlSocketInUse(RuntimeError):
    """Another station listens on the control socket already (same id, same data directory)."""


class ControlServer:
    """Serves one station's control socket; ``quit`` sets ``on_quit`` (the station stops)."""

    def __init__(self, path: Path, runtime: StationRuntime, on_quit: Callable[[], None]) -> None:
        self.path = path
        self.runtime = runtime
        self.on_quit = on_quit
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen; raises :class:`ControlSocketInUse` when another station listens there, RuntimeError when the
        path is too long for a UNIX socket."""
        if len(os.fsencode(self.path)) > MAX_PATH:
            raise RuntimeError(f"control socket path too long for a UNIX socket: {self.path}")
        if self.path.exists():
            if _answers(self.path):
                raise ControlSocketInUse(f"a station already runs with the control socket {self.path}")
            self.path.unlink()  # left by a process that ended without cleaning up
        self.path.parent.mkdir(parents=True, exist_ok=True)
        old = os.umask(0o177)  # created 0600, never briefly open to others
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_LINE)
        finally:
            os.umask(old)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        with contextlib.suppress(TimeoutError):  # a client in the middle of a `wait` does not hold us up
            await asyncio.wait_for(self._server.wait_closed(), timeout=1.0)
        self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                reply = await self._run(line.decode(errors="replace"))
                writer.write(msgspec.json.encode(reply) + b"\n")
                await writer.drain()
        except (ConnectionError, ValueError):  # the client went away, or sent a line over MAX_LINE
            pass
        except asyncio.CancelledError:
            # The station is stopping (`quit` arrives on this very connection) and the loop cancels what is
            # left. Ending quietly: on 3.11 a cancelled client_connected_cb task makes asyncio log a traceback.
            return
        finally:
            writer.close()

    async def _run(self, line: str) -> ControlReply:
        output: list[str] = []
        try:
            step = await execute(self.runtime, line, output.append)
        except ValueError as exc:
            return ControlReply(False, str(exc))
        if step is Next.QUIT:
            output.append("stopping")
            self.on_quit()
        return ControlReply(True, "\n".join(output))


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


async def send_command(path: Path, line: str) -> ControlReply:
    """Send one command line to the station listening on ``path`` and return its answer."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=1 << 20)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise StationNotRunning(f"no station listens on {path}") from exc
    try:
        writer.write(line.replace("\n", " ").encode() + b"\n")
        await writer.drain()
        answer = await reader.readline()  # no time limit: `wait 60` takes a minute
    finally:
        writer.close()
    if not answer:
        raise StationNotRunning(f"the station on {path} closed the connection")
    return msgspec.json.decode(answer, type=ControlReply)
