"""The tool as a charging station: the link to the CSMS under test and the context a ``_CSMS`` case runs in.

Everything goes through Chargeplane's own OCPP-J client and the generated 2.0.1 Structs, so every message
the tool sends is checked against the OCA schemas before it leaves, and every message the CSMS sends (its
responses and its CALLs) is decoded against them: a CSMS that breaks a schema fails the step at hand with the
CALLERROR the tool's endpoint answered, or with the schema error of its response.

CALLs from the CSMS are queued as they come; a step takes the next one with :meth:`CsmsTool.expect` and
answers it. A CALL of another type than the step expects fails the step (and is refused with a CALLERROR,
so the CSMS is not left waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar, cast

from chargeplane.ocpp.catalog import STATION, ActionCatalog
from chargeplane.ocpp.errors import InternalError, OcppError
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.tools.conformance.adapter import Adapter, ManualAction
from chargeplane.tools.conformance.checks import StepFailed
from chargeplane.tools.conformance.declaration import Configured
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.client import ClientSettings, OcppClient
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost, OcppConnection
from chargeplane.transport.security import CertificateFiles

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Payload)
CONNECT_TIMEOUT = 10.0
CALL_TIMEOUT = 10.0  # the CSMS's answer to one of the tool's CALLs
ANSWER_TIMEOUT = 30.0  # how long a queued CSMS CALL waits for the case to answer it
DEFAULT_WITHIN = 10.0  # how long expect() waits for a CALL from the CSMS


@dataclass(eq=False)  # identity: kept in a set until answered
class Incoming(Generic[R]):
    """A CALL from the CSMS, waiting for the case's answer."""

    request: R
    reply: asyncio.Future[Payload] = field(repr=False)
    received_at: float = 0.0  # the event loop's time when the CALL was queued (retry and back-off timing)

    def answer(self, response: Payload) -> None:
        if not self.reply.done():
            self.reply.set_result(response)

    def refuse(self, error: OcppError) -> None:
        if not self.reply.done():
            self.reply.set_exception(error)


async def queue_and_wait(
    request: Payload, queue: asyncio.Queue[Incoming[Payload]], unanswered: set[Incoming[Payload]]
) -> Payload:
    """A router handler's body on either side: queue the peer's CALL for the steps, wait for their answer."""
    loop = asyncio.get_running_loop()
    incoming: Incoming[Payload] = Incoming(request, loop.create_future(), loop.time())
    unanswered.add(incoming)
    await queue.put(incoming)
    try:
        return await asyncio.wait_for(asyncio.shield(incoming.reply), ANSWER_TIMEOUT)
    except TimeoutError:
        raise InternalError("the conformance tool did not answer in time") from None
    finally:
        unanswered.discard(incoming)


@dataclass(frozen=True)
class LinkSettings:
    url: str  # without the identity, e.g. ws://127.0.0.1:9000/ocpp
    station_id: str
    password: str | None = None
    # TLS (security profile 2): the CAs a wss URL is checked against (None: the system's), and the CSMS's wss
    # endpoint for the TLS cases when ``url`` is plain ws (TC_A_04, A_06, A_19)
    ca_file: Path | None = None
    tls_url: str | None = None
    client_certificate: CertificateFiles | None = (
        None  # presented on wss (security profile 3: TC_A_07 / A_08)
    )


class StationLink:
    """One OCPP 2.0.1 connection to the CSMS under test, opened and closed by the runner and the cases."""

    def __init__(self, settings: LinkSettings) -> None:
        self.settings = settings
        self._client: OcppClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._incoming: asyncio.Queue[Incoming[Payload]] = asyncio.Queue()
        self._open: set[Incoming[Payload]] = set()  # CSMS CALLs not answered yet (taken by a step or queued)
        self._router = self._queueing_router()

    def _queueing_router(self) -> Router[OcppConnection]:
        router = Router[OcppConnection](Version.V201, STATION)
        catalog = ActionCatalog.for_version(Version.V201)
        router.delegate(
            (
                s.request
                for s in catalog.actions.values()
                if s.direction in STATION.receives and not s.is_send
            ),
            self._queue_call,
        )
        return router

    async def _queue_call(self, request: Payload, connection: OcppConnection) -> Payload:
        return await queue_and_wait(request, self._incoming, self._open)

    @property
    def connected(self) -> bool:
        client = self._client
        return client is not None and client.connection is not None and client.connection.is_open

    async def connect(self, step: int | str = "before") -> None:
        settings = self.settings
        client = OcppClient(
            ClientSettings(
                url=settings.url,
                station_id=settings.station_id,
                password=settings.password,
                ca_bundle=settings.ca_file,
                client_certificate=settings.client_certificate,
                call_timeout=CALL_TIMEOUT,
                queue_offline=False,
                backoff=BackOffSettings(wait_minimum=1.0, random_range=0.5),
            ),
            lambda version: self._router,
        )
        self._client = client
        self._task = asyncio.create_task(client.run())
        try:
            await asyncio.wait_for(client.wait_connected(), CONNECT_TIMEOUT)
        except TimeoutError:
            await self.close()
            raise StepFailed(
                step, f"no OCPP 2.0.1 connection to {client.uri} within {CONNECT_TIMEOUT:g} s"
            ) from None

    async def close(self) -> None:
        """Close the connection (a station going down); pending CSMS CALLs are dropped."""
        client, task = self._client, self._task
        self._client = self._task = None
        for incoming in list(self._open):  # their handlers must end for the connection to close
            incoming.refuse(InternalError("station going down"))
        if client is not None:
            await client.stop()
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5.0)
        while not self._incoming.empty():
            self._incoming.get_nowait()

    async def call(self, step: int | str, request: Payload) -> Payload:
        name = type(request).__name__
        if self._client is None:
            raise StepFailed(step, f"cannot send {name}: not connected")
        try:
            return await self._client.call(request)
        except CallFailed as failed:
            error = failed.error
            raise StepFailed(
                step, f"the CSMS answered {name} with CALLERROR {error.code} {error.description}".rstrip()
            ) from None
        except CallTimeout:
            raise StepFailed(step, f"no answer to {name} within {CALL_TIMEOUT:g} s") from None
        except ConnectionLost as lost:
            raise StepFailed(step, f"connection lost while sending {name}: {lost}") from None

    async def call_error(self, step: int | str, request: Payload) -> str:
        """Send ``request`` expecting a CALLERROR; returns its code."""
        name = type(request).__name__
        if self._client is None:
            raise StepFailed(step, f"cannot send {name}: not connected")
        try:
            response = await self._client.call(request)
        except CallFailed as failed:
            return failed.error.code
        except (CallTimeout, ConnectionLost) as error:
            raise StepFailed(step, f"{name}: expected a CALLERROR, got {error}") from None
        raise StepFailed(step, f"expected a CALLERROR, the CSMS answered with {type(response).__name__}")

    async def expect(self, step: int | str, request_type: type[R], within: float) -> Incoming[R]:
        try:
            incoming = await asyncio.wait_for(self._incoming.get(), within)
        except TimeoutError:
            raise StepFailed(
                step, f"expected a {request_type.__name__} from the CSMS within {within:g} s, none came"
            ) from None
        if not isinstance(incoming.request, request_type):
            incoming.refuse(InternalError(f"the test case expected {request_type.__name__}"))
            raise StepFailed(
                step,
                f"expected a {request_type.__name__}, the CSMS sent {type(incoming.request).__name__}",
            )
        return cast("Incoming[R]", incoming)  # its request was just checked to be an R


@dataclass
class Transaction:
    """The tool's transaction in progress (one at a time is enough for the cases so far)."""

    id: str
    seq_no: int = 0
    evse_sent: bool = False  # the EVSE goes in the first TransactionEventRequest only (E01.FR.16)
    remote_start_id: int | None = None


@dataclass
class Progress:
    """What the reusable states have done so far (their post conditions)."""

    authorized: bool = False
    ev_connected: bool = False
    energy_transfer: bool = False
    stop_authorized: bool = False


class CsmsTool:
    """What a ``_CSMS`` case works with: the link, the configured values, the manual-action adapter and the
    tool's own transaction state."""

    def __init__(self, link: StationLink, adapter: Adapter, configured: Configured) -> None:
        self.link = link
        self.adapter = adapter
        self.configured = configured
        self.transaction: Transaction | None = None
        self.progress = Progress()
        self._actions: list[tuple[ManualAction, asyncio.Task[None]]] = []

    @property
    def station_id(self) -> str:
        return self.link.settings.station_id

    async def send(self, step: int | str, request: Payload) -> Payload:
        return await self.link.call(step, request)

    async def send_expecting_error(self, step: int | str, request: Payload) -> str:
        return await self.link.call_error(step, request)

    async def expect(
        self, step: int | str, request_type: type[R], within: float = DEFAULT_WITHIN
    ) -> Incoming[R]:
        """The next CALL from the CSMS, of ``request_type``; a manual action that fails meanwhile (the CSMS
        refused to send it) fails the step at once rather than after ``within``."""
        expecting = asyncio.ensure_future(self.link.expect(step, request_type, within))
        try:
            while True:
                self._raise_failed_action()
                running = {task for _, task in self._actions if not task.done()}
                await asyncio.wait({expecting, *running}, return_when=asyncio.FIRST_COMPLETED)
                if expecting.done():
                    return expecting.result()
        finally:
            expecting.cancel()

    def _raise_failed_action(self) -> None:
        for action, task in self._actions:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise StepFailed("manual action", f"{action.describe()}: {task.exception()}")

    def manual(self, action: ManualAction) -> None:
        """Ask the CSMS (through the adapter) to do something; runs alongside the steps that follow, since an
        API may only return once the station answered."""
        task = asyncio.create_task(self.adapter.perform(self.station_id, action))
        self._actions.append((action, task))

    async def settle(self, limit: float = 10.0) -> None:
        """Wait for the manual actions started so far; a failed one fails the case."""
        actions, self._actions = self._actions, []
        for action, task in actions:
            try:
                await asyncio.wait_for(task, limit)
            except StepFailed:
                raise
            except Exception as error:
                raise StepFailed("manual action", f"{action.describe()}: {error}") from None

    async def cancel_actions(self) -> None:
        actions, self._actions = self._actions, []
        for _, task in actions:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
