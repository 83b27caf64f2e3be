"""Settings of the DER control block (``CHARGEPLANE_DER_CONTROL_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from typing_extensions import Doc


@dataclass(frozen=True)
class DerControlSettings:
    reconcile_interval: Annotated[
        float,
        Doc(
            "seconds between passes that send a site's DER controls to the site's online 2.1 stations lacking"
            " them (a station added to the site's tree, a send that failed)"
        ),
    ] = 60.0
