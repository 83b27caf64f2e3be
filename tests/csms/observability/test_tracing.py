"""OpenTelemetry traces (``otel_traces``): a span per OCPP CALL handled, read back with the SDK's in-memory
exporter; off by default, and only a warning when the package is missing."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the extra otel (in dev) is not installed")

from ocpp.v201 import call as v201_call
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from chargeplane.csms.observability.tracing import ACTION, MESSAGE_ID, STATION_ID, VERSION, message_tracer
from tests.csms.conftest import running, settings_for
from tests.csms.peers import boot, peer


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """An SDK provider with an in-memory exporter as the global one (the API sets the global only once)."""
    provider = TracerProvider()
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    return spans


async def test_a_span_per_handled_call_with_station_action_and_message_id(
    exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path}/otel.db", otel_traces=True)
    async with running(settings) as csms:
        assert csms.app.tracer is not None
        await csms.add_station("CS-OTEL")
        async with peer(csms.ocpp_url, "CS-OTEL", "2.0.1") as station:
            assert (await boot(station, "2.0.1")).status == "Accepted"
            await station.call(v201_call.Heartbeat())
    spans = [span for span in exporter.get_finished_spans() if span.name.startswith("ocpp ")]
    assert [span.name for span in spans] == ["ocpp BootNotification", "ocpp Heartbeat"]
    for span, action in zip(spans, ["BootNotification", "Heartbeat"], strict=True):
        assert span.kind is trace.SpanKind.SERVER
        assert span.attributes is not None
        assert span.attributes[STATION_ID] == "CS-OTEL"
        assert span.attributes[ACTION] == action
        assert span.attributes[VERSION] == "2.0.1"
        assert span.start_time is not None
        assert span.end_time is not None
        assert span.start_time <= span.end_time
    message_ids = {span.attributes[MESSAGE_ID] for span in spans if span.attributes is not None}
    assert len(message_ids) == 2
    assert "" not in message_ids


async def test_no_spans_unless_asked_for(exporter: InMemorySpanExporter, tmp_path: Path) -> None:
    async with running(settings_for(f"sqlite+aiosqlite:///{tmp_path}/plain.db")) as csms:
        assert csms.app.tracer is None
        await csms.add_station("CS-PLAIN")
        async with peer(csms.ocpp_url, "CS-PLAIN", "2.0.1") as station:
            await boot(station, "2.0.1")
    assert not [span for span in exporter.get_finished_spans() if span.name.startswith("ocpp ")]


def test_without_the_package_the_setting_only_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import opentelemetry raises ImportError
    with caplog.at_level(logging.WARNING, logger="chargeplane.csms.observability.tracing"):
        assert message_tracer(True) is None
    assert "opentelemetry-api is not installed" in caplog.text
    assert message_tracer(False) is None
