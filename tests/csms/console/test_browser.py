"""The console in a real browser: Playwright driving Debian's Chromium (never a downloaded browser) against a
running CSMS, with our simulated station (``StationRuntime``) as the station.

Screenshots of the main pages go to ``docs/console/`` (shown in the README). In CI (CI=true) a missing
``/usr/bin/chromium`` is installed with apt-get; locally the tests are skipped with the reason instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from chargeplane.csms.console.users import Role
from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from tests import migrated_databases
from tests.csms.conftest import PASSWORD, RunningCsms, running, settings_for
from tests.csms.console.helpers import PASSWORDS, add_users

playwright_api = pytest.importorskip("playwright.async_api")

# A browser beside two other test workers on two cores makes live-update waits a matter of luck: alone.
pytestmark = pytest.mark.serial

CHROMIUM = Path("/usr/bin/chromium")
# The README's screenshots (docs/console) are remade with CHARGEPLANE_SCREENSHOTS=docs/console; otherwise they
# go to a temporary directory (still taken: every page must render) and a test run leaves the tree clean.
SCREENSHOTS = Path(
    os.environ.get("CHARGEPLANE_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / "chargeplane-console-screenshots"
)
TABLET = {"width": 1024, "height": 768}
TABLET_PORTRAIT = {"width": 768, "height": 1024}
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def chromium() -> Iterator[Path]:
    """The system Chromium; installed with apt-get in CI when it is missing."""
    if not CHROMIUM.exists() and os.environ.get("CI") == "true":
        apt = shutil.which("apt-get")
        if apt is not None:
            sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
            subprocess.run([*sudo, apt, "install", "-y", "chromium"], check=False, timeout=600)
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (install the Debian package chromium; CI installs it)")
    return CHROMIUM


@pytest.fixture
async def csms(tmp_path: Path) -> AsyncIterator[RunningCsms]:
    """SQLite only: the browser tests test the console, the database is tested elsewhere."""
    async with running(settings_for(migrated_databases.sqlite_url(tmp_path))) as running_csms:
        await add_users(running_csms.app)
        yield running_csms


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as driver:
        launched = await driver.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            await launched.close()


async def open_page(browser: Any, csms: RunningCsms, viewport: dict[str, int] = TABLET) -> Any:
    context = await browser.new_context(base_url=str(csms.api.base_url), viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    return await context.new_page()


async def log_in(page: Any, role: Role, path: str = "/") -> None:
    await page.goto(path)
    await page.get_by_label("Username").fill(role.value)
    await page.get_by_label("Password").fill(PASSWORDS[role])
    await page.get_by_label("Password").press("Enter")  # the keyboard is enough
    await page.wait_for_url(f"**{path}")
    await page.locator('#live-state[data-state="open"]').wait_for()


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@asynccontextmanager
async def station(
    csms: RunningCsms,
    station_id: str = "CS-DEPOT-1",
    password: str = PASSWORD,
    measurands: str = "Energy.Active.Import.Register,Power.Active.Import",
) -> AsyncIterator[StationRuntime]:
    settings = RuntimeSettings(
        url=csms.ocpp_url,
        station_id=station_id,
        version=Version.V201,
        connectors=(1, 1),
        password=password,
        meter_tick_s=0.1,
        backoff=BackOffSettings(0.1, 0.0, 1),
        variables={
            ("SampledDataCtrlr", "TxUpdatedInterval", None): "1",
            (
                "SampledDataCtrlr",
                "TxUpdatedMeasurands",
                None,
            ): measurands,
        },
    )
    runtime = StationRuntime(settings)
    task = asyncio.create_task(runtime.run())
    try:
        yield runtime
    finally:
        await runtime.stop()
        await asyncio.wait_for(task, timeout=5)


async def at_least(count: Callable[[], Awaitable[int]], wanted: int, what: str) -> int:
    """``count()`` once it reaches ``wanted`` (polled from Python: the page's Content-Security-Policy forbids
    the eval behind Playwright's wait_for_function)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_MS / 1000
    while True:
        found = await count()
        if found >= wanted or loop.time() > deadline:
            assert found >= wanted, f"{found} {what}, expected at least {wanted}"
            return found
        await asyncio.sleep(0.1)


async def energy_points(chart: Any, wanted: int) -> int:
    async def count() -> int:
        return int(await chart.get_attribute("data-energy-points") or 0)

    return await at_least(count, wanted, "energy points")


async def test_wrong_password_is_refused_then_login(browser: Any, csms: RunningCsms) -> None:
    page = await open_page(browser, csms)
    await page.goto("/stations")
    assert page.url.endswith("/login?next=/stations")
    await page.get_by_label("Username").fill("operator")
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Log in").click()
    await playwright_api.expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    await shot(page, "login")
    await page.get_by_label("Username").fill("operator")
    await page.get_by_label("Password").fill(PASSWORDS[Role.OPERATOR])
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/stations")
    await playwright_api.expect(page.get_by_role("heading", name="Stations")).to_be_visible()


async def test_station_comes_online_without_reload(browser: Any, csms: RunningCsms) -> None:
    await csms.add_station("CS-DEPOT-1", description="Depot, bay 1")
    await csms.add_station("CS-DEPOT-2", description="Depot, bay 2")
    page = await open_page(browser, csms)
    await log_in(page, Role.VIEWER)
    await playwright_api.expect(page.locator("#stations-online")).to_have_text("0")
    overview = page
    stations = await page.context.new_page()
    await stations.goto("/stations")
    row = stations.locator('tr[data-station="CS-DEPOT-2"]')  # not the first row: the page hears every station
    await playwright_api.expect(row.locator(".badge")).to_have_text("offline")
    await stations.locator('#live-state[data-state="open"]').wait_for()
    for tab in (overview, stations):
        await tab.evaluate("window.notReloaded = true")
    async with station(csms, "CS-DEPOT-2"):
        await playwright_api.expect(row.locator(".badge")).to_have_text("online")
        await playwright_api.expect(overview.locator("#stations-online")).to_have_text("1")
        await playwright_api.expect(overview.locator("#stations-offline")).to_have_text("1")
        for tab in (overview, stations):
            assert await tab.evaluate("window.notReloaded") is True  # live, not reloaded
        await stations.get_by_label("Search stations").fill("bay 2")
        await stations.get_by_label("Search stations").press("Enter")
        await playwright_api.expect(stations.locator("tbody tr")).to_have_count(1)
        await stations.goto("/stations")
        await stations.locator('#live-state[data-state="open"]').wait_for()
        await shot(stations, "stations")


async def test_remote_start_from_the_panel_and_the_chart_grows(browser: Any, csms: RunningCsms) -> None:
    await csms.add_station("CS-DEPOT-1")
    added = await csms.api.post(
        "/api/v1/id-tokens", json={"idToken": "DRIVER-0042", "type": "ISO14443"}, headers=csms.auth
    )
    assert added.status_code == 201, added.text
    page = await open_page(browser, csms)
    async with station(csms) as runtime:
        await log_in(page, Role.OPERATOR, "/stations/CS-DEPOT-1")
        await playwright_api.expect(page.locator("#station-badge")).to_have_text("online")
        await playwright_api.expect(page.locator('#connectors tr[data-evse="1"] .badge')).to_have_text(
            "Available"
        )
        runtime.plug(1)
        await playwright_api.expect(page.locator('#connectors tr[data-evse="1"] .badge')).to_have_text(
            "Occupied"
        )
        await page.get_by_label("Id token").fill("DRIVER-0042")
        await page.get_by_role("button", name="Start").click()
        result = page.locator("#command-result")
        await playwright_api.expect(result).to_contain_text("RequestStartTransaction: the station answered")
        await playwright_api.expect(result.locator("pre")).to_contain_text('"status": "Accepted"')
        link = page.locator("#active-list a").first
        await playwright_api.expect(link).to_be_visible()
        await playwright_api.expect(page.locator("#command-log")).to_contain_text("RequestStartTransaction")
        await playwright_api.expect(page.get_by_label("Transaction id")).not_to_have_value("")  # filled live
        await shot(page, "station")
        await link.click()
        chart = page.locator("#chart")
        await page.locator('#live-state[data-state="open"]').wait_for()
        await playwright_api.expect(page.locator("#tx-status")).to_have_text("active")
        before = await energy_points(chart, 2)
        events = page.locator("#transaction-events tbody tr")
        rows = await events.count()
        await page.evaluate("window.notReloaded = true")
        await energy_points(chart, before + 2)
        await at_least(events.count, rows + 1, "event rows")  # the events table grows live too
        assert await page.evaluate("window.notReloaded") is True  # the chart grew live
        assert await chart.locator("svg polyline.energy").count() == 1
        await shot(page, "transaction")
        await page.goto("/")
        await playwright_api.expect(page.locator("#evses-charging")).to_have_text("1")
        await playwright_api.expect(page.locator("#energy-today")).not_to_have_text("0.00 kWh")
        await shot(page, "overview")
        await page.goto("/transactions")
        await playwright_api.expect(page.locator("#transactions tbody tr")).to_have_count(1)
        await shot(page, "transactions")


async def test_first_time_operator_registers_a_station_and_charges_without_curl(
    browser: Any, csms: RunningCsms
) -> None:
    """Everything in the console: register the station (its password shown once), add the driver's id token,
    watch the station (our StationRuntime, configured with that password) boot, start a session from the
    command panel and read the energy chart."""
    page = await open_page(browser, csms)
    await log_in(page, Role.OPERATOR, "/stations")
    await page.get_by_role("link", name="Register a station").click()
    await page.get_by_label("Station id").fill("CS-NEW-1")
    await page.get_by_label("Security profile").select_option("1")
    await page.get_by_label("Description (optional)").fill("Car park, level 2")
    await page.get_by_role("button", name="Register").click()
    password = (await page.locator("#generated-password").text_content() or "").strip()
    assert len(password) >= 16
    await shot(page, "register")
    await page.get_by_role("link", name="Id tokens").click()
    await page.get_by_label("Token", exact=True).fill("DRIVER-0100")
    await page.get_by_role("button", name="Create").click()
    await playwright_api.expect(page.locator("#done")).to_have_text("Id token DRIVER-0100 created.")
    await shot(page, "id_tokens")
    await page.goto("/stations/CS-NEW-1")
    await page.locator('#live-state[data-state="open"]').wait_for()
    await playwright_api.expect(page.locator("#station-badge")).to_have_text("offline")
    async with station(csms, "CS-NEW-1", password) as runtime:
        await playwright_api.expect(page.locator("#station-badge")).to_have_text("online")  # booted, live
        runtime.plug(1)
        await playwright_api.expect(page.locator('#connectors tr[data-evse="1"] .badge')).to_have_text(
            "Occupied"
        )
        await page.get_by_label("Id token").fill("DRIVER-0100")
        await page.get_by_role("button", name="Start").click()
        await playwright_api.expect(page.locator("#command-result pre")).to_contain_text(
            '"status": "Accepted"'
        )
        link = page.locator("#active-list a").first
        await playwright_api.expect(link).to_be_visible()
        await link.click()
        await page.locator('#live-state[data-state="open"]').wait_for()
        chart = page.locator("#chart")
        before = await energy_points(chart, 2)
        await energy_points(chart, before + 1)
        assert await chart.locator("svg polyline.energy").count() == 1


async def test_viewer_cannot_send_commands(browser: Any, csms: RunningCsms) -> None:
    await csms.add_station("CS-DEPOT-1")
    page = await open_page(browser, csms, TABLET_PORTRAIT)
    await log_in(page, Role.VIEWER, "/stations/CS-DEPOT-1")
    await playwright_api.expect(page.locator("#viewer-note")).to_be_visible()
    assert await page.locator("form[data-command]").count() == 0
    # Usable at a tablet's portrait width: nothing wider than the window.
    assert await page.evaluate("document.documentElement.scrollWidth") <= TABLET_PORTRAIT["width"]
    await shot(page, "station-viewer-portrait")
    # Not only hidden: the server refuses the viewer's POST even with the session's CSRF token.
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = await page.request.post(
        "/stations/CS-DEPOT-1/commands/reset", form={"type": "Immediate", "csrf_token": token or ""}
    )
    assert answer.status == 403
    log = await csms.api.get("/api/v1/commands", headers=csms.auth)
    assert log.json()["total"] == 0


async def test_post_without_csrf_token_is_403(browser: Any, csms: RunningCsms) -> None:
    await csms.add_station("CS-DEPOT-1")
    page = await open_page(browser, csms)
    await log_in(page, Role.OPERATOR, "/stations/CS-DEPOT-1")
    await page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach((i) => i.remove())")
    await page.evaluate("document.querySelector('meta[name=csrf-token]').content = ''")
    await page.get_by_label("Reset type").select_option("Immediate")
    await page.get_by_role("button", name="Reset").click()
    await playwright_api.expect(page.locator("#command-result")).to_contain_text("Refused (403)")
    answer = await page.request.post("/stations/CS-DEPOT-1/commands/reset", form={"type": "Immediate"})
    assert answer.status == 403
