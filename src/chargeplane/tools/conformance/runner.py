"""Runs selected cases one after another, each on a fresh connection and within its own time limit."""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance import cases as cases_package
from chargeplane.tools.conformance.adapter import Adapter
from chargeplane.tools.conformance.case import TestCase
from chargeplane.tools.conformance.checks import StepFailed
from chargeplane.tools.conformance.declaration import Declaration
from chargeplane.tools.conformance.report import CaseResult, excluded, judge, not_applicable
from chargeplane.tools.conformance.states import booted, clean_up
from chargeplane.tools.conformance.station_adapter import MakeIdle, StationAdapter
from chargeplane.tools.conformance.station_states import transaction_ended, transaction_events
from chargeplane.tools.conformance.station_steps import CsmsEndpoint, StationTool
from chargeplane.tools.conformance.steps import CsmsTool, LinkSettings, StationLink

log = logging.getLogger(__name__)


def load_cases() -> None:
    """Import every module under ``cases/`` (each registers its cases): a new module needs no list entry."""
    for module in pkgutil.walk_packages(cases_package.__path__, f"{cases_package.__name__}."):
        importlib.import_module(module.name)


async def _run_all(
    selected: Sequence[TestCase],
    declaration: Declaration,
    run_one: Callable[[TestCase], Awaitable[CaseResult]],
    on_result: Callable[[CaseResult], None] | None,
) -> list[CaseResult]:
    results = []
    for case in selected:
        missing = case.missing_features(declaration.features)
        barred = case.excluded_by(declaration.profiles)
        if missing:
            result = not_applicable(case, missing)
        elif barred:
            result = excluded(case, barred)
        else:
            result = await run_one(case)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


async def _verdict(case: TestCase, body: Coroutine[Any, Any, None]) -> tuple[str | None, str | None]:
    """Run ``body`` within the case's time limit: (failure, failing step), both None when it passed."""
    try:
        async with asyncio.timeout(case.timeout):
            await body
    except StepFailed as failed:
        return str(failed), str(failed.step)
    except TimeoutError:
        return f"no result within the case's {case.timeout:g} s", None
    except Exception as error:  # a bug in the tool or the case: report it, go on with the next case
        log.exception("%s crashed", case.id)
        return f"tool error: {type(error).__name__}: {error}", None
    return None, None


async def run_csms_cases(
    selected: Sequence[TestCase],
    link: LinkSettings,
    adapter: Adapter,
    declaration: Declaration,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    await adapter.prepare(link.station_id, link.password, declaration.configured)
    return await _run_all(
        selected, declaration, lambda case: run_csms_case(case, link, adapter, declaration), on_result
    )


async def run_csms_case(
    case: TestCase, settings: LinkSettings, adapter: Adapter, declaration: Declaration
) -> CaseResult:
    link = StationLink(settings)
    tool = CsmsTool(link, adapter, declaration.configured)

    async def body() -> None:
        await link.connect()
        if case.starts_booted:
            await booted(tool)
        await case.body(tool)
        await tool.settle()

    started = time.monotonic()
    try:
        failure, step = await _verdict(case, body())
    finally:
        await tool.cancel_actions()
        try:
            async with asyncio.timeout(5.0):
                await clean_up(tool)
        except (StepFailed, TimeoutError) as error:
            log.warning("%s: clean-up after the case failed: %s", case.id, error)
        await link.close()
    return judge(case, failure, step, declaration.expected_failures, time.monotonic() - started)


CONNECT_WAIT = 60.0  # how long a case waits for the station under test to be connected


async def run_station_cases(
    selected: Sequence[TestCase],
    endpoint: CsmsEndpoint,
    adapter: StationAdapter,
    declaration: Declaration,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """The ``_CS`` cases against the station connected (or about to connect) to ``endpoint``, which stays
    up for the whole run: a station keeps its connection between cases, as with the OCTT."""
    if selected:
        try:
            await endpoint.wait_connected("before", CONNECT_WAIT)
        except StepFailed as failed:
            log.warning("%s", failed)  # each case then fails as not connected
        else:
            await prepare_station(StationTool(endpoint, adapter, declaration.configured))
    return await _run_all(
        selected, declaration, lambda case: run_station_case(case, endpoint, adapter, declaration), on_result
    )


async def prepare_station(tool: StationTool) -> None:
    """The general preconditions the tool can set itself: AuthCtrlr.LocalPreAuthorize false (so a cached
    token is still authorized with an AuthorizeRequest). A station without the variable is left as it is."""
    data = dt.SetVariableDataType(
        attribute_value="false",
        component=dt.ComponentType(name="AuthCtrlr"),
        variable=dt.VariableType(name="LocalPreAuthorize"),
    )
    await tool.drain()
    try:
        await tool.send(1, msg.SetVariablesRequest(set_variable_data=[data]))
    except StepFailed as failed:
        log.warning("setting AuthCtrlr.LocalPreAuthorize false: %s", failed)


async def run_station_case(
    case: TestCase, endpoint: CsmsEndpoint, adapter: StationAdapter, declaration: Declaration
) -> CaseResult:
    tool = StationTool(endpoint, adapter, declaration.configured)

    async def body() -> None:
        await endpoint.wait_connected("before", CONNECT_WAIT)
        await tool.drain()  # what the station sent between cases (general precondition: nothing queued)
        await case.body(tool)

    started = time.monotonic()
    try:
        failure, step = await _verdict(case, body())
    finally:
        try:
            async with asyncio.timeout(CONNECT_WAIT):
                await station_clean_up(tool)
        except (StepFailed, TimeoutError) as error:
            log.warning("%s: clean-up after the case failed: %s", case.id, error)
    return judge(case, failure, step, declaration.expected_failures, time.monotonic() - started)


async def station_clean_up(tool: StationTool) -> None:
    """Outside the verdict: back to the general preconditions (accepted, idle, connected) for the next case."""
    tool.answers = type(tool.answers)(valid_tokens={tool.configured.valid_idtoken})
    busy = bool(tool.progress) or (transaction_events(tool) and not transaction_ended(tool))
    if busy:
        await tool.adapter.perform(MakeIdle())
    await tool.endpoint.wait_connected("clean-up", CONNECT_WAIT)
    await tool.drain()
