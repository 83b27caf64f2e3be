"""A loopback contract-certificate service for the tests (M01/M02): it answers the CSMS's JSON POST the way
the test set it to, and records what it was asked."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

Mode = Literal["accept", "refuse", "hang", "error", "garbage"]


class FakeContractService:
    def __init__(self) -> None:
        self.mode: Mode = "accept"
        self.asked: list[dict[str, object]] = []
        self.port = 0
        self._never = asyncio.Event()  # "hang": the answer never comes (the CSMS's timeout ends the wait)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/contracts"

    def answer(self, request: dict[str, object]) -> tuple[int, bytes]:
        if self.mode == "error":
            return 500, b"{}"
        if self.mode == "garbage":
            return 200, b"<html>not json</html>"
        if self.mode == "refuse":
            return 200, json.dumps({"status": "Failed", "reasonCode": "NoCertAvailable"}).encode()
        exi = base64.b64decode(str(request["exiRequest"]))
        response = base64.b64encode(b"res:" + str(request["action"]).encode() + b":" + exi).decode()
        return 200, json.dumps({"status": "Accepted", "exiResponse": response}).encode()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            request = json.loads(await reader.readexactly(length))
            self.asked.append(request)
            if self.mode == "hang":
                await self._never.wait()
            status, body = self.answer(request)
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def contract_service() -> AsyncIterator[FakeContractService]:
    fake = FakeContractService()
    server = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    try:
        yield fake
    finally:
        server.close()
        fake._never.set()
        await server.wait_closed()
