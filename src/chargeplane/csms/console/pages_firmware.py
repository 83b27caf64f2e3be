"""The console's firmware rollout campaign pages: the campaigns, a form to start one (to listed stations or to
a station group), one campaign's progress per station (live), and pause / resume / cancel.

Everything goes through the firmware block: the form is checked with the HTTP API's own ``CampaignIn`` and
turned into the service's spec by the same :func:`campaign_spec`, the state changes are the service's."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath

from chargeplane.csms.blocks.firmware.api import CampaignIn, campaign_spec
from chargeplane.csms.blocks.firmware.campaigns import (
    CampaignRecord,
    CampaignService,
    UpdateRecord,
    counts,
    windows_of,
)
from chargeplane.csms.blocks.firmware.service import FirmwareService
from chargeplane.csms.blocks.groups.service import StationGroupService
from chargeplane.csms.console.forms import needs, offset, refusal, text
from chargeplane.csms.console.users import Role, Session
from chargeplane.csms.errors import Invalid

if TYPE_CHECKING:
    from chargeplane.csms.console.web import Console

AnyRequest = Request[Any, Any, Any]
PAGE = 50
CHOICES = 500  # images and groups offered in the form
CHANGES = {"pause": "paused", "resume": "running", "cancel": "aborted"}
_SEPARATORS = re.compile(r"[\s,;]+")


def _number(value: object, what: str) -> float | None:
    found = text(value, 20)
    if found is None:
        return None
    try:
        return float(found)
    except ValueError:
        raise Invalid(f"{what} is not a number: {found}") from None


def campaign_input(form: Any) -> CampaignIn:
    """The create form as the API's input (its limits and messages); raises Invalid with the reason."""
    target = form.get("target")
    station_text = form.get("station_ids")
    stations = [s for s in _SEPARATORS.split(station_text if isinstance(station_text, str) else "") if s]
    batch = _number(form.get("batch"), "the batch")
    batch_size = int(batch) if batch is not None and form.get("batch_unit") != "percent" else None
    item: dict[str, Any] = {
        "name": text(form.get("name")) or "",
        "firmwareId": int(_number(form.get("firmware_id"), "the image") or 0),
        "batchSize": batch_size,
        "batchPercent": batch if batch is not None and batch_size is None else None,
    }
    if target == "group":
        item["group"] = text(form.get("group"))
    else:
        item["stationIds"] = stations
    for name, field in (("failure_threshold", "failureThreshold"), ("station_timeout", "stationTimeout")):
        value = _number(form.get(name), name.replace("_", " "))
        if value is not None:
            item[field] = value
    try:
        return msgspec.convert(item, CampaignIn)
    except msgspec.ValidationError as error:
        raise Invalid(str(error)) from None


class CampaignPages:
    def __init__(
        self,
        console: Console,
        campaigns: CampaignService,
        firmware: FirmwareService,
        groups: StationGroupService,
    ) -> None:
        self.console = console
        self.campaigns = campaigns
        self.firmware = firmware
        self.groups = groups

    async def list_page(
        self, session: Session, at: int = 0, status: int = 200, message: str | None = None
    ) -> Response[str]:
        records, total = await self.campaigns.campaigns(at, PAGE)
        images, _ = await self.firmware.images(0, CHOICES)
        groups, _ = await self.groups.list_groups(0, CHOICES)
        return self.console.render(
            "campaigns.html",
            status,
            session=session,
            campaigns=records,
            total=total,
            offset=at,
            page=PAGE,
            images=images,
            names={image.id: f"{image.name} {image.version}" for image in images},
            groups=groups,
            message=message,
        )

    async def progress(self, campaign_id: int) -> dict[str, Any]:
        record, updates = await self.campaigns.progress(campaign_id)
        image = await self.firmware.image(record.firmware_id)
        return {
            "campaign": record,
            "image": image,
            "counts": counts(record),
            "windows": windows_of(record.windows),
            "statuses": _statuses(record, updates),
        }

    async def campaign_page(
        self,
        session: Session,
        campaign_id: int,
        status: int = 200,
        message: str | None = None,
        done: str | None = None,
    ) -> Response[str]:
        shown = await self.progress(campaign_id)
        return self.console.render(
            "campaign.html", status, session=session, message=message, done=done, **shown
        )

    def routes(self) -> list[Any]:
        pages = self
        console = self.console

        @get("/firmware/campaigns", include_in_schema=False)
        async def campaigns(request: AnyRequest) -> Response[Any]:
            at = offset(request.query_params.get("offset"))

            async def build(session: Session) -> Response[Any]:
                return await pages.list_page(session, at)

            return await console.page(request, build)

        @post("/firmware/campaigns", include_in_schema=False)
        async def create_campaign(request: AnyRequest) -> Response[Any]:
            session, form = await console.checked_post(request)
            needs(session, Role.OPERATOR, "starting firmware campaigns")
            try:
                created = await pages.campaigns.create(campaign_spec(campaign_input(form)))
            except Exception as error:
                status, reason = refusal(error)
                return await pages.list_page(session, 0, status, reason)
            started = f"Campaign {created.name} started: its first batch goes out shortly."
            return await pages.campaign_page(session, created.id, 201, done=started)

        @get("/firmware/campaigns/{campaign_id:int}", include_in_schema=False)
        async def campaign(request: AnyRequest, campaign_id: FromPath[int]) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return await pages.campaign_page(session, campaign_id)

            return await console.page(request, build)

        @get("/fragments/firmware/campaigns/{campaign_id:int}", include_in_schema=False)
        async def campaign_fragment(request: AnyRequest, campaign_id: FromPath[int]) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return console.render("_campaign.html", **await pages.progress(campaign_id))

            return await console.page(request, build)

        @post("/firmware/campaigns/{campaign_id:int}/{change:str}", include_in_schema=False)
        async def change_campaign(
            request: AnyRequest, campaign_id: FromPath[int], change: FromPath[str]
        ) -> Response[Any]:
            session, form = await console.checked_post(request)
            needs(session, Role.OPERATOR, "changing firmware campaigns")

            async def build(session: Session) -> Response[Any]:
                wanted = CHANGES.get(change)
                if wanted is None:
                    return await pages.campaign_page(session, campaign_id, 404, f"no change {change[:20]}")
                try:
                    if wanted == "paused":
                        await pages.campaigns.pause(campaign_id)
                    elif wanted == "running":
                        await pages.campaigns.resume(campaign_id)
                    else:
                        reason = text(form.get("reason"), 200) or "cancelled from the console"
                        await pages.campaigns.abort(campaign_id, reason)
                except Exception as error:
                    status, reason = refusal(error)  # 409: it cannot go there from its state
                    return await pages.campaign_page(session, campaign_id, status, reason)
                return await pages.campaign_page(session, campaign_id, done=f"Campaign {wanted}.")

            return await console.page(request, build)

        return [campaigns, create_campaign, campaign, campaign_fragment, change_campaign]


def _statuses(record: CampaignRecord, updates: dict[int, UpdateRecord]) -> dict[str, str | None]:
    """Per station the last firmware status notification of its update, as it comes in."""
    found: dict[str, str | None] = {}
    for member in record.stations:
        update = None if member.update_id is None else updates.get(member.update_id)
        found[member.station_id] = None if update is None else update.firmware_status
    return found
