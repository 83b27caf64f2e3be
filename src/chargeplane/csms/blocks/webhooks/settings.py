"""Settings of the webhooks block (``CHARGEPLANE_WEBHOOKS_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from typing_extensions import Doc


@dataclass(frozen=True)
class WebhooksSettings:
    deliver_interval: Annotated[
        float, Doc("seconds between two passes over the due deliveries (on the cluster's leader only)")
    ] = 1.0
    max_attempts: Annotated[
        int,
        Doc("failed attempts after which a delivery goes to the dead letters (GET /webhooks/dead-letters)"),
    ] = 8
    backoff_base: Annotated[
        float, Doc("seconds before the first retry; each further retry waits twice as long as the one before")
    ] = 2.0
    backoff_max: Annotated[float, Doc("the longest wait between two attempts, in seconds")] = 3600.0
    timeout: Annotated[float, Doc("seconds an endpoint has to answer one POST (else the attempt failed)")] = (
        10.0
    )
    batch: Annotated[int, Doc("due deliveries attempted per pass at most")] = 100
