"""OpenTelemetry traces of the OCPP messages the CSMS handles (optional: extra ``otel``, ``otel_traces``).

One span per CALL from a station, from the frame read off the WebSocket to its answer ready to go out (the
same interval as ``chargeplane_ocpp_handler``'s end-to-end time), named ``ocpp <Action>``, kind SERVER, with
the station id, action, message id and OCPP version as attributes. The span is recorded when the answer is
ready, with the measured start and end, so the hot path pays nothing while traces are off and one span
object per message while they are on.

The spans go to the global tracer provider: the operator sets it up the usual OpenTelemetry way (the SDK
and an exporter, e.g. ``opentelemetry-instrument chargeplane serve`` with ``OTEL_*`` variables). Without
the ``opentelemetry-api`` package the setting only logs that it has no effect.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from chargeplane import __version__
from chargeplane.ocpp.events import CallReceived
from chargeplane.transport.connection import OcppConnection

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger(__name__)

STATION_ID = "ocpp.station_id"
ACTION = "ocpp.action"
MESSAGE_ID = "ocpp.message_id"
VERSION = "ocpp.version"


class MessageTracer:
    def __init__(self, tracer: Tracer) -> None:
        from opentelemetry.trace import SpanKind

        self._tracer = tracer
        self._kind = SpanKind.SERVER

    def answered(self, connection: OcppConnection, call: CallReceived, seconds: float) -> None:
        end = time.time_ns()
        span = self._tracer.start_span(
            f"ocpp {call.action}",
            kind=self._kind,
            start_time=end - int(seconds * 1e9),
            attributes={
                STATION_ID: connection.station_id,
                ACTION: call.action,
                MESSAGE_ID: call.message_id,
                VERSION: connection.version.value,
            },
        )
        span.end(end_time=end)


def message_tracer(enabled: bool) -> MessageTracer | None:
    """The tracer when ``otel_traces`` is on and OpenTelemetry is installed, else ``None``."""
    if not enabled:
        return None
    try:
        from opentelemetry import trace
    except ImportError:
        log.warning(
            "otel_traces is on but opentelemetry-api is not installed (pip install 'chargeplane[otel]'): "
            "no traces"
        )
        return None
    return MessageTracer(trace.get_tracer("chargeplane.csms", __version__))
