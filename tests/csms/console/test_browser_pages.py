"""The transaction, local list, group, campaign and site pages in a real browser (Debian's Chromium through
Playwright, as in ``test_browser``), with our simulated station; screenshots into docs/console/ with
CHARGEPLANE_SCREENSHOTS=docs/console."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from chargeplane.csms.blocks.firmware.settings import FirmwareSettings
from chargeplane.csms.blocks.sites.settings import SitesSettings
from chargeplane.csms.console.users import Role
from tests.csms.conftest import RunningCsms
from tests.csms.console.helpers import sqlite_csms
from tests.csms.console.test_browser import (  # the browser fixtures and helpers
    at_least,
    browser,  # noqa: F401
    chromium,  # noqa: F401
    log_in,
    open_page,
    playwright_api,
    shot,
    station,
)

pytestmark = pytest.mark.serial
WITH_SOC = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,SoC"
expect = playwright_api.expect
NONE = "\u2013"  # what the pages show for no value


@pytest.fixture
async def csms(tmp_path: Path) -> AsyncIterator[RunningCsms]:
    """SQLite; the campaign job and the site allocation run often, so that their pages change within a test."""
    blocks = (FirmwareSettings(campaign_interval=0.2), SitesSettings(min_interval=0.1))
    async with sqlite_csms(tmp_path, *blocks) as running_csms:
        yield running_csms


def soc_points(page: Any) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return int(await page.locator("#soc-chart").get_attribute("data-points") or 0)

    return count


async def _api(csms: RunningCsms, method: str, url: str, **kwargs: Any) -> Any:
    headers = csms.auth | kwargs.pop("headers", {})
    answer = await csms.api.request(method, f"/api/v1{url}", headers=headers, **kwargs)
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None


async def test_filter_transactions_export_csv_and_soc_chart(browser: Any, csms: RunningCsms) -> None:  # noqa: F811
    await csms.add_station("CS-DEPOT-1")
    for token in ("DRIVER-A", "DRIVER-B"):
        await _api(csms, "POST", "/id-tokens", json={"idToken": token, "type": "ISO14443"})
    page = await open_page(browser, csms)
    async with station(csms, measurands=WITH_SOC) as runtime:
        await log_in(page, Role.VIEWER, "/stations/CS-DEPOT-1")
        await expect(page.locator("#station-badge")).to_have_text("online")
        runtime.plug(1)
        runtime.present_token("DRIVER-A", 1)
        runtime.plug(2)
        runtime.present_token("DRIVER-B", 2)
        await expect(page.locator("#active-list a")).to_have_count(2)
        # The detail of DRIVER-A's transaction: its SoC chart shows up live once the meter values carry it.
        await page.goto("/transactions?id_token=DRIVER-A")
        await page.locator("#transactions tbody a").click()
        await page.locator('#live-state[data-state="open"]').wait_for()
        await expect(page.locator("#soc-card")).to_be_visible()
        await expect(page.locator("#soc-chart svg polyline.soc")).to_have_count(1)
        await at_least(soc_points(page), 2, "SoC points")  # a line, not a dot, in the screenshot
        runtime.unplug(1)  # the driver leaves: the transaction ends, its stop reason shows live
        await expect(page.locator("#tx-status")).to_have_text("ended")
        await expect(page.locator("#tx-stop-reason")).not_to_have_text(NONE)
        await expect(page.locator("#tx-cost")).to_have_text("not known")  # no tariff
        await shot(page, "transaction-soc")
    # The list filtered by state, then by id token, with the keyboard.
    await page.goto("/transactions")
    await expect(page.locator("#transactions tbody tr")).to_have_count(2)
    await page.get_by_label("State").select_option("active")
    await page.get_by_role("button", name="Filter").press("Enter")
    await expect(page.locator("#transactions tbody tr")).to_have_count(1)
    await expect(page.locator("#transactions tbody")).to_contain_text("DRIVER-B")
    await page.get_by_label("State").select_option("")
    await page.get_by_label("Id token").fill("DRIVER-A")
    await page.get_by_label("Id token").press("Enter")
    await expect(page.locator("#transactions tbody tr")).to_have_count(1)
    await shot(page, "transactions-filtered")
    # The CSV of the filtered list, downloaded by the browser.
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Export CSV").click()
    download = await download_info.value
    assert download.suggested_filename.startswith("transactions-")
    text = await asyncio.to_thread(Path(await download.path()).read_text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(row["idToken"], row["stationId"], row["status"]) for row in rows] == [
        ("DRIVER-A", "CS-DEPOT-1", "ended")
    ]
    assert rows[0]["stopReason"] not in ("", "'")
    assert float(rows[0]["energyWh"]) > 0


async def test_group_campaign_and_local_list(browser: Any, csms: RunningCsms) -> None:  # noqa: F811
    for name in ("CS-DEPOT-1", "CS-DEPOT-2"):
        await csms.add_station(name)
    await _api(csms, "POST", "/id-tokens", json={"idToken": "DRIVER-0042", "type": "ISO14443"})
    await _api(
        csms,
        "POST",
        "/firmware?name=acme-m1&version=2.0",
        content=b"image",
        headers={"Content-Type": "application/octet-stream"},
    )
    page = await open_page(browser, csms)
    await log_in(page, Role.OPERATOR, "/groups")
    await page.get_by_label("Group name").fill("depot")
    await page.get_by_role("button", name="Create group").click()
    await expect(page.locator("#done")).to_have_text("Group depot created.")
    for name in ("CS-DEPOT-1", "CS-DEPOT-2"):
        await page.get_by_label("Station id").fill(name)
        await page.get_by_label("Station id").press("Enter")
        await expect(page.locator("#done")).to_have_text(f"{name} joined depot.")
    await shot(page, "groups")
    # A campaign to the group, one station per batch, never aborted by failures.
    await page.get_by_role("link", name="Campaigns").click()
    await page.get_by_label("Campaign name").fill("Depot to 2.0")
    await page.get_by_label("A station group").check()
    await page.get_by_label("Batch", exact=True).fill("1")
    await page.get_by_label("Abort past this failure rate (%)").fill("100")
    await page.get_by_role("button", name="Start campaign").click()
    await expect(page.locator("#done")).to_contain_text("Campaign Depot to 2.0 started")
    await page.locator('#live-state[data-state="open"]').wait_for()
    await page.evaluate("window.notReloaded = true")
    first = page.locator('#campaign-stations tr[data-station="CS-DEPOT-1"] .badge')
    async with station(csms, "CS-DEPOT-1"):
        # Online, the first station gets its update: the page follows it live.
        await expect(first).to_have_text(re.compile("updating|installed|failed"))
        assert await page.evaluate("window.notReloaded") is True
        await shot(page, "campaign")
        await page.get_by_label("Reason (optional)").fill("wrong image")
        await page.get_by_role("button", name="Cancel campaign").click()
        await expect(page.locator("#campaign-state")).to_have_text("aborted")
        # The local list of the connected station: a Full update through the authorization block.
        await page.goto("/local-lists")
        await page.get_by_role("link", name="CS-DEPOT-1").click()
        await expect(page.locator(".facts .badge")).to_have_text("online")
        await page.get_by_label("Update type").select_option("Full")
        await page.get_by_role("button", name="Send").click()
        await expect(page.locator("#sync-result h2")).to_have_text("Full update: done")
        await expect(page.locator("#list-version")).to_have_text("1")
        await expect(page.locator("#list-entries-table tbody")).to_contain_text("DRIVER-0042")
        await shot(page, "local_list")


async def test_site_tree_live_allocation_and_grid_limit(browser: Any, csms: RunningCsms) -> None:  # noqa: F811
    await csms.add_station("CS-DEPOT-1")
    await _api(csms, "POST", "/id-tokens", json={"idToken": "DRIVER-A", "type": "ISO14443"})
    evses = [{"id": f"bay-{n}", "stationId": "CS-DEPOT-1", "evseId": n, "limit": 32.0} for n in (1, 2)]
    tree = {"id": "grid", "limit": [63.0], "circuits": [{"id": "feeder-a", "limit": [40.0], "evses": evses}]}
    await _api(csms, "PUT", "/sites/depot", json=tree)
    page = await open_page(browser, csms)
    async with station(csms, measurands=WITH_SOC) as runtime:
        await log_in(page, Role.OPERATOR, "/sites")
        await page.get_by_role("link", name="depot").click()
        await page.locator('#live-state[data-state="open"]').wait_for()
        bay = page.locator('#site-tree tr[data-node="bay-1"]')
        await expect(bay.locator(".badge")).to_have_text("online")
        await page.evaluate("window.notReloaded = true")
        runtime.plug(1)
        runtime.present_token("DRIVER-A", 1)
        # The allocation and the measured power appear without a reload.
        await expect(bay.locator("[data-allocated]")).to_have_text("32.0")
        await expect(bay.locator("[data-power]")).not_to_have_text(NONE)
        await expect(page.locator('#site-tree tr[data-node="feeder-a"] [data-power]')).not_to_have_text(NONE)
        assert await page.evaluate("window.notReloaded") is True
        await page.get_by_label("Grid limit, amperes per phase (one value, or three: L1 L2 L3)").fill("20")
        await page.get_by_role("button", name="Set grid limit").click()
        await expect(page.locator("#done")).to_have_text("Grid limit set to 20 A.")
        await expect(page.locator("#site-grid-limit")).to_have_text("20.0 / 20.0 / 20.0")
        await expect(bay.locator("[data-allocated]")).to_have_text("20.0")  # re-allocated below the limit
        await shot(page, "site")
