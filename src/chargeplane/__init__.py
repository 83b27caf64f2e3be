"""Chargeplane: an open OCPP platform (CSMS, charging-station stack, tools)."""

__version__ = "0.1.0"
