"""Observability of the CSMS: Prometheus metrics (``/metrics``), liveness (``/healthz``) and readiness
(``/readyz``). See docs/METRICS.md."""
