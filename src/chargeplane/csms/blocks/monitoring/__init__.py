"""Monitoring (N02-N08 on the CSMS side): monitors, monitoring reports, device events and alerts."""
