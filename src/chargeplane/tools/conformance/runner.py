"""Runs selected cases one after another, each on a fresh connection and within its own time limit."""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
import time
from collections.abc import Callable, Sequence

from chargeplane.tools.conformance import cases as cases_package
from chargeplane.tools.conformance.adapter import Adapter
from chargeplane.tools.conformance.case import TestCase
from chargeplane.tools.conformance.checks import StepFailed
from chargeplane.tools.conformance.declaration import Declaration
from chargeplane.tools.conformance.report import CaseResult, judge, not_applicable
from chargeplane.tools.conformance.states import booted, clean_up
from chargeplane.tools.conformance.steps import CsmsTool, LinkSettings, StationLink

log = logging.getLogger(__name__)


def load_cases() -> None:
    """Import every module under ``cases/`` (each registers its cases): a new module needs no list entry."""
    for module in pkgutil.walk_packages(cases_package.__path__, f"{cases_package.__name__}."):
        importlib.import_module(module.name)


async def run_csms_cases(
    selected: Sequence[TestCase],
    link: LinkSettings,
    adapter: Adapter,
    declaration: Declaration,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    await adapter.prepare(link.station_id, link.password, declaration.configured)
    results = []
    for case in selected:
        missing = case.missing_features(declaration.features)
        if missing:
            result = not_applicable(case, missing)
        else:
            result = await run_csms_case(case, link, adapter, declaration)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


async def run_csms_case(
    case: TestCase, settings: LinkSettings, adapter: Adapter, declaration: Declaration
) -> CaseResult:
    link = StationLink(settings)
    tool = CsmsTool(link, adapter, declaration.configured)
    failure: str | None = None
    step: str | None = None
    started = time.monotonic()
    try:
        async with asyncio.timeout(case.timeout):
            await link.connect()
            if case.starts_booted:
                await booted(tool)
            await case.body(tool)
            await tool.settle()
    except StepFailed as failed:
        failure, step = str(failed), str(failed.step)
    except TimeoutError:
        failure = f"no result within the case's {case.timeout:g} s"
    except Exception as error:  # a bug in the tool or the case: report it, go on with the next case
        log.exception("%s crashed", case.id)
        failure = f"tool error: {type(error).__name__}: {error}"
    finally:
        await tool.cancel_actions()
        try:
            async with asyncio.timeout(5.0):
                await clean_up(tool)
        except (StepFailed, TimeoutError) as error:
            log.warning("%s: clean-up after the case failed: %s", case.id, error)
        await link.close()
    return judge(case, failure, step, declaration.expected_failures, time.monotonic() - started)
