"""Settings of the tariffs block (``CHARGEPLANE_TARIFFS_*``): how the running cost reaches the driver, the
stations' local time zone and when the driver's tariff text is sent."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated

from typing_extensions import Doc


class TariffText(enum.Enum):
    AUTO = "auto"  # when the station reports TariffCostCtrlr or DisplayMessageCtrlr available (I01.FR.02)
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True)
class TariffsSettings:
    cost_updated_interval: Annotated[
        float,
        Doc(
            "seconds between CostUpdated messages with the running cost of each ongoing 2.0.1 / 2.1 "
            "transaction that has a tariff (I02); 0: none are sent"
        ),
    ] = 60.0
    running_cost_in_response: Annotated[
        bool,
        Doc(
            "also answer every TransactionEvent Updated with the running cost in totalCost (I02, alternative)"
        ),
    ] = True
    time_zone: Annotated[
        str,
        Doc(
            "the IANA time zone of the stations' local time, in which tariff conditions are read (I07.FR.17)"
        ),
    ] = "UTC"
    tariff_text: Annotated[
        TariffText,
        Doc(
            "when the driver's tariff text goes into AuthorizeResponse personalMessage: auto (the station "
            "reports TariffCostCtrlr or DisplayMessageCtrlr available, I01.FR.02), always or never"
        ),
    ] = TariffText.AUTO
    mismatch_tolerance: Annotated[
        str,
        Doc(
            "how far (in the currency) a 2.1 station's own total may differ from the CSMS's before it is "
            "recorded as a mismatch"
        ),
    ] = "0.01"
