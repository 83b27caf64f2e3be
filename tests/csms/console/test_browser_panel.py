"""The generated command panel and the live message trace in a real browser (the fixtures and helpers of
``test_browser``: Debian's Chromium, a running CSMS, our simulated station). Screenshots: ``command-panel``
and ``command-panel-16`` (into docs/console with CHARGEPLANE_SCREENSHOTS=docs/console)."""

from __future__ import annotations

from typing import Any

import pytest

from chargeplane.csms.console.users import Role
from tests.csms.blocks.remote_control.test_remote_control import STATIONS
from tests.csms.conftest import RunningCsms
from tests.csms.console import test_browser as shared
from tests.csms.console.test_browser import log_in, open_page, playwright_api, shot, station
from tests.csms.peers import boot, peer

pytestmark = pytest.mark.serial
chromium, browser, csms = shared.chromium, shared.browser, shared.csms  # the same fixtures
expect = playwright_api.expect


async def test_operator_sends_get_variables_from_the_generated_panel(browser: Any, csms: RunningCsms) -> None:
    await csms.add_station("CS-DEPOT-1")
    page = await open_page(browser, csms)
    async with station(csms):
        await log_in(page, Role.OPERATOR, "/stations/CS-DEPOT-1")
        await expect(page.locator("#station-badge")).to_have_text("online")
        await page.get_by_role("link", name="Every command of its OCPP version").click()
        await page.locator('#trace-state[data-state="open"]').wait_for()
        await expect(page.locator("#panel-title")).to_contain_text("OCPP 2.0.1")
        await page.get_by_label("Command", exact=True).select_option(
            "GetVariables"
        )  # the form comes without a reload
        form = page.locator("form[data-panel]")
        await expect(form.locator("h3")).to_contain_text("GetVariables")
        await page.locator("#cf-getVariableData-0-component-name").fill("OCPPCommCtrlr")
        await page.locator("#cf-getVariableData-0-variable-name").fill("HeartbeatInterval")
        # A second item, malformed: its EVSE id is not a number. Refused next to the field, nothing sent.
        await form.get_by_role("button", name="Add to getVariableData").click()
        await page.locator("#cf-getVariableData-1-component-name").fill("EVSE")
        await page.locator("#cf-getVariableData-1-component-evse-id").fill("one")
        await page.locator("#cf-getVariableData-1-variable-name").fill("AvailabilityState")
        await page.get_by_role("button", name="Send GetVariables").click()
        await expect(page.locator("#cf-getVariableData-1-component-evse-id-error")).to_have_text(
            "Not a whole number."
        )
        await expect(page.locator("#cf-getVariableData-1-component-evse-id")).to_have_value("one")  # kept
        # Removed again, the first item alone goes to the station; its actual answer is shown.
        await page.locator("[data-item]").nth(1).get_by_role("button", name="Remove").click()
        await page.get_by_role("button", name="Send GetVariables").click()
        answer = page.locator("#panel-answer")
        await expect(page.locator("#panel-result")).to_contain_text("GetVariables: the station answered")
        await expect(answer).to_contain_text('"attributeStatus": "Accepted"')
        await expect(answer).to_contain_text('"name": "HeartbeatInterval"')
        # The trace shows both frames live, and the command log who sent it.
        trace = page.locator("#trace-rows")
        await expect(trace.locator('tr[data-action="GetVariables"][data-direction="out"]')).to_have_count(1)
        await expect(trace.locator('tr[data-action="GetVariables"][data-direction="in"]')).to_have_count(1)
        await expect(trace.locator('tr[data-kind="CALLRESULT"][data-action="GetVariables"]')).to_contain_text(
            "HeartbeatInterval"
        )
        await expect(page.locator("#command-log tbody tr").first).to_contain_text("console:operator")
        await shot(page, "command-panel")
        # Filtered by direction: only the frames from the station.
        await page.get_by_label("Only the direction").select_option("in")
        await expect(trace.locator('tr[data-action="GetVariables"]')).to_have_count(1)
        assert await trace.locator('tr[data-direction="out"]').count() == 0


async def test_a_16_station_gets_its_own_actions_and_the_trace_hides_secrets(
    browser: Any, csms: RunningCsms
) -> None:
    await csms.add_station("CS-OLD-1")
    page = await open_page(browser, csms)
    async with peer(csms.ocpp_url, "CS-OLD-1", "1.6", station_class=STATIONS["1.6"]) as old:
        await boot(old, "1.6")
        await log_in(page, Role.OPERATOR, "/stations/CS-OLD-1/panel")
        await page.locator('#trace-state[data-state="open"]').wait_for()
        await expect(page.locator("#panel-title")).to_contain_text("OCPP 1.6")
        options = await page.locator("#panel-action option").all_text_contents()
        assert "ChangeConfiguration" in options
        assert "RemoteStartTransaction" in options
        assert "GetVariables" not in options
        assert "RequestStartTransaction" not in options
        await page.get_by_label("Command", exact=True).select_option("ChangeConfiguration")
        await page.locator("#cf-key").fill("AuthorizationKey")
        await page.locator("#cf-value").fill("0011223344556677")
        await page.get_by_role("button", name="Send ChangeConfiguration").click()
        # The test station has no ChangeConfiguration handler: its CALLERROR is what the panel shows.
        await expect(page.locator("#panel-refusal")).to_contain_text("(502) NotImplemented")
        call = page.locator('#trace-rows tr[data-action="ChangeConfiguration"][data-kind="CALL"]')
        await expect(call).to_contain_text('"value": "***"')
        await expect(page.locator("#trace")).not_to_contain_text("0011223344556677")
        logged = page.locator("#command-log tbody tr").first  # live, with its secret hidden too
        await expect(logged).to_contain_text("callerror")
        await expect(logged).to_contain_text('"value":"***"')
        await expect(page.locator("#command-log")).not_to_contain_text("0011223344556677")
        await shot(page, "command-panel-16")
