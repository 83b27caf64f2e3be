"""2.1 periodic event streams, CSMS side (N11-N15): a station opens a stream for one of its monitors
(OpenPeriodicEventStream, answered Accepted when the stream can be kept: N11.FR.05/06), sends its values as
NotifyPeriodicEventStream SEND messages (never answered, N15.FR.02), which are stored as the monitor's
Periodic events in the same store as NotifyEvent (N11.FR.08, N15.FR.03), and closes it
(ClosePeriodicEventStream, N13.FR.02). From the API: the streams, GetPeriodicEventStream (N12) to learn them
again, AdjustPeriodicEventStream (N14)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.device_model import wire as dm
from chargeplane.csms.blocks.monitoring.alerting import Event
from chargeplane.csms.blocks.monitoring.service import MonitoringService
from chargeplane.csms.blocks.monitoring.tables import monitoring_event_streams, monitoring_monitors
from chargeplane.csms.errors import Invalid, NotFound
from chargeplane.csms.storage.group_commit import GroupCommitter
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.timestamps import from_wire

log = logging.getLogger(__name__)

OPEN, CLOSED = "Open", "Closed"


class StreamParams(msgspec.Struct, rename="camel", omit_defaults=True):
    """PeriodicEventStreamParamsType: flush every ``interval`` s and/or after ``values`` values."""

    interval: int | None = None
    values: int | None = None


class ConstantStreamData(msgspec.Struct, rename="camel"):
    id: int
    variable_monitoring_id: int
    params: StreamParams


class GetStreamsAnswer(msgspec.Struct, rename="camel"):
    constant_stream_data: list[ConstantStreamData] = []


@dataclass(frozen=True, slots=True)
class StreamRecord:
    stream_id: int
    monitor_id: int
    interval: int | None
    values: int | None
    status: str
    pending: int
    received: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StreamValue:
    at: datetime
    value: str


_COLUMNS = [monitoring_event_streams.c[n] for n in StreamRecord.__dataclass_fields__ if n != "stream_id"]
_COLUMNS.insert(0, monitoring_event_streams.c.stream_id)


def _record(row: sa.Row[Any]) -> StreamRecord:
    return StreamRecord(**row._mapping)


class StreamRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    async def open(self, station_id: str, data: ConstantStreamData, now: datetime) -> bool:
        """Store an opened stream; False when that id is open for another monitor (the station must close it
        first)."""
        key = station_id.casefold()
        s = monitoring_event_streams.c

        def unit(connection: sa.Connection) -> bool:
            where = (s.station_key == key) & (s.stream_id == data.id)
            found = connection.execute(sa.select(s.monitor_id, s.status).where(where)).first()
            if found is not None and found.status == OPEN and found.monitor_id != data.variable_monitoring_id:
                return False
            row = {
                "monitor_id": data.variable_monitoring_id,
                "interval": data.params.interval,
                "values": data.params.values,
                "status": OPEN,
                "pending": 0,
                "received": 0,
                "updated_at": now,
            }
            if found is None:
                connection.execute(
                    sa.insert(monitoring_event_streams).values(station_key=key, stream_id=data.id, **row)
                )
            else:
                connection.execute(sa.update(monitoring_event_streams).where(where).values(**row))
            return True

        return await self.committer.run(unit)

    async def set(self, station_id: str, stream_id: int, now: datetime, **values: object) -> None:
        s = monitoring_event_streams.c

        def unit(connection: sa.Connection) -> None:
            connection.execute(
                sa.update(monitoring_event_streams)
                .where((s.station_key == station_id.casefold()) & (s.stream_id == stream_id))
                .values(updated_at=now, **values)
            )

        await self.committer.run(unit)

    async def replace(self, station_id: str, found: list[ConstantStreamData], now: datetime) -> None:
        """What GetPeriodicEventStream answered is what is open (N12.FR.01): the rest is closed."""
        s = monitoring_event_streams.c
        key = station_id.casefold()

        def unit(connection: sa.Connection) -> None:
            connection.execute(
                sa.update(monitoring_event_streams)
                .where((s.station_key == key) & s.stream_id.not_in([d.id for d in found]))
                .values(status=CLOSED, updated_at=now)
            )
            for data in found:
                connection.execute(
                    sa.delete(monitoring_event_streams).where(
                        (s.station_key == key) & (s.stream_id == data.id)
                    )
                )
                connection.execute(
                    sa.insert(monitoring_event_streams).values(
                        station_key=key,
                        stream_id=data.id,
                        monitor_id=data.variable_monitoring_id,
                        interval=data.params.interval,
                        values=data.params.values,
                        status=OPEN,
                        pending=0,
                        received=0,
                        updated_at=now,
                    )
                )

        await self.committer.run(unit)

    async def streams(self, station_id: str) -> list[StreamRecord]:
        s = monitoring_event_streams.c
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(*_COLUMNS).where(s.station_key == station_id.casefold()).order_by(s.stream_id)
            )
            return [_record(r) for r in rows]

    async def stream(self, station_id: str, stream_id: int) -> StreamRecord | None:
        s = monitoring_event_streams.c
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(*_COLUMNS).where(
                        (s.station_key == station_id.casefold()) & (s.stream_id == stream_id)
                    )
                )
            ).first()
        return None if row is None else _record(row)

    async def events(
        self, station_id: str, stream: StreamRecord, values: list[StreamValue]
    ) -> list[Event] | None:
        """The stream's values as the monitor's Periodic events (N15.FR.03); None: the monitor is unknown."""
        m = monitoring_monitors.c
        async with self.engine.connect() as connection:
            monitor = (
                await connection.execute(
                    sa.select(monitoring_monitors).where(
                        (m.station_key == station_id.casefold()) & (m.monitor_id == stream.monitor_id)
                    )
                )
            ).first()
        if monitor is None:
            return None
        return [
            Event(
                station_id=station_id,
                event_id=0,  # a stream has no event ids (N15: any value will do, it never goes back)
                timestamp=v.at,
                trigger="Periodic",
                actual_value=v.value,
                component=monitor.component,
                variable=monitor.variable,
                component_instance=monitor.component_instance,
                evse_id=monitor.evse_id,
                connector_id=monitor.connector_id,
                variable_instance=monitor.variable_instance,
                monitor_id=stream.monitor_id,
                notification_type=monitor.kind,
                severity=monitor.severity,
            )
            for v in values
        ]


class StreamData(msgspec.Struct):
    """StreamDataElementType: ``t`` seconds after the basetime, value ``v``."""

    t: float
    v: str


class NotifyStream(msgspec.Struct):
    id: int
    pending: int
    basetime: str
    data: list[StreamData]

    def values(self) -> list[StreamValue]:
        base = from_wire(self.basetime)
        return [StreamValue(base + timedelta(seconds=d.t), d.v) for d in self.data]


class StreamService:
    def __init__(self, repository: StreamRepository, monitoring: MonitoringService) -> None:
        self.repository = repository
        self.monitoring = monitoring

    # -- from the station -----------------------------------------------------------------------------------
    async def opened(self, station_id: str, request: Payload) -> bool:
        """N11.FR.04-06: kept (Accepted) unless the id is open for another monitor (Rejected)."""
        data = dm.read(request, _OpenRequest).constant_stream_data
        accepted = await self.repository.open(station_id, data, self.monitoring.clock.now())
        if not accepted:
            log.warning("%s: stream %d is already open for another monitor", station_id, data.id)
        return accepted

    async def closed(self, station_id: str, stream_id: int) -> None:
        """N13.FR.02: no more values expected on it."""
        await self.repository.set(station_id, stream_id, self.monitoring.clock.now(), status=CLOSED)

    async def notified(self, station_id: str, request: Payload) -> None:
        """N15.FR.03: the values become the monitor's Periodic events; a stream this CSMS does not know as open,
        or whose monitor it does not know, is logged and dropped (a SEND cannot be refused)."""
        message = dm.read(request, NotifyStream)
        stream = await self.repository.stream(station_id, message.id)
        if stream is None or stream.status != OPEN:
            log.warning("%s: values of stream %d, which is not open: dropped", station_id, message.id)
            return
        events = await self.repository.events(station_id, stream, message.values())
        if events is None:
            log.warning(
                "%s: stream %d of unknown monitor %d: dropped", station_id, message.id, stream.monitor_id
            )
        else:
            await self.monitoring.record(station_id, events)
        if message.pending > stream.pending > 0:  # N15.FR.05: the operator should adjust the stream
            log.warning("%s: stream %d falls behind (%d pending)", station_id, message.id, message.pending)
        await self.repository.set(
            station_id,
            message.id,
            self.monitoring.clock.now(),
            pending=message.pending,
            received=stream.received + len(message.data),
        )

    # -- from the API ---------------------------------------------------------------------------------------
    async def streams(self, station_id: str) -> list[StreamRecord]:
        return await self.repository.streams(await self.monitoring.known(station_id))

    async def refresh(self, station_id: str) -> list[StreamRecord]:
        """N12: ask the station which streams are open and keep that."""
        station_id = await self.monitoring.known(station_id)
        sent = await self.monitoring.commands.send_action(station_id, "GetPeriodicEventStream", b"{}")
        answer = dm.read(sent.response, GetStreamsAnswer)
        await self.repository.replace(station_id, answer.constant_stream_data, self.monitoring.clock.now())
        return await self.repository.streams(station_id)

    async def adjust(self, station_id: str, stream_id: int, params: StreamParams) -> dm.StatusInfo | None:
        """N14.FR.01: new interval and/or values; the station's refusal (N14.FR.02) comes back as its
        statusInfo, Accepted as None (and the stream's parameters are stored)."""
        station_id = await self.monitoring.known(station_id)
        if params.interval is None and params.values is None:
            raise Invalid("give interval or values or both (N14.FR.01)")
        stream = await self.repository.stream(station_id, stream_id)
        if stream is None or stream.status != OPEN:
            raise NotFound(f"no open event stream {stream_id} on {station_id}")
        payload = msgspec.json.encode({"id": stream_id, "params": params})
        sent = await self.monitoring.commands.send_action(station_id, "AdjustPeriodicEventStream", payload)
        answer = dm.read(sent.response, _StatusAnswer)
        if answer.status != "Accepted":
            return answer.status_info or dm.StatusInfo(reason_code=answer.status)
        await self.repository.set(
            station_id, stream_id, self.monitoring.clock.now(), interval=params.interval, values=params.values
        )
        return None


class _OpenRequest(msgspec.Struct, rename="camel"):
    constant_stream_data: ConstantStreamData


class _StatusAnswer(msgspec.Struct, rename="camel"):
    status: str
    status_info: dm.StatusInfo | None = None
