"""The command language that drives a running station (``chargeplane station``): typed at the terminal,
read from a scenario file, or sent through the station's control socket (``chargeplane station-ctl``).
:data:`HELP` lists the commands; :func:`execute` runs one line and says what comes next."""

from __future__ import annotations

import asyncio
import enum
import math
import os
import shlex
import stat
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from chargeplane.station.core.model import EvChargingNeeds

if TYPE_CHECKING:  # at run time only the objects matter: the CLI reads HELP without loading the runtime
    from chargeplane.station.runtime import StationRuntime

HELP = """\
commands (one per line, # starts a comment):
  plug [EVSE] [CONNECTOR]       an EV is connected (simulated EV: 60 kWh, 40 %, 11 kW)
  unplug [EVSE]                 the EV leaves
  token ID [EVSE]               a card at the reader (no EVSE: the station's reader)
  button [EVSE]                 the start/stop button (C02: charges without authorization if AuthCtrlr.Enabled is false)
  priority [EVSE]               the priority charging button (K22: on / off for the running transaction)
  pin DIGITS [EVSE]             a PIN typed on the keypad (C04: a KeyCode token, authorized with the CSMS)
  card [EVSE]                   the payment terminal approves a card (2.1: DirectPayment token, C18)
  enrol CUSTOMER [TOKEN]        a driver enrols at the terminal as CUSTOMER, with the card TOKEN (N09/N10)

  swap ID [COUNT]               2.1 swap station: a driver's card to swap a set of COUNT batteries (S01)
  battery-in EVSE SERIAL SOC [SOH] [stock]
                                a battery into slot EVSE (stock: by the operator, outside a swap; S03, S04)
  battery-out EVSE              the battery of slot EVSE is taken out (S03)

  cancel-payment [EVSE]         the driver cancels on the terminal: released (C19), or the transaction ends (C20)
  qr [EVSE] [maxtime=S] [maxenergy=WH] [maxcost=C]
                                the URL the dynamic QR code of EVSE shows now (2.1 WebPaymentsCtrlr, C25),
                                with the driver's maximums (enforced on the paid transaction, C25.FR.04-06)
  vat NUMBER [EVSE]             the driver enters a VAT number for the receipt (2.1: VatNumberValidation, C18.FR.08)
  fault [EVSE]                  a hardware fault starts
  clear [EVSE]                  the fault ends
  temperature CELSIUS           the station's temperature sensor reads CELSIUS (monitored, N07)
  grid VOLTS [HZ]               the grid at the connection point (2.1 DER controls act on it, R05)
  limit EVSE WATTS|off          an external system (EMS) limits EVSE (0: the station), or lifts it (K11-K13)
  generation EVSE WATTS|off      an EMS reports local generation for EVSE (0: the station): added on top (2.1 K27)
  needs EVSE KWH [MINUTES] [scheduled|dynamic]
                                the ISO 15118 EV at EVSE wants KWH, leaving in MINUTES (K15; again: K17);
                                scheduled / dynamic: an ISO 15118-20 EV in that control mode (K18-K20)
  departure EVSE MINUTES        the driver gives the station a new departure for the ISO 15118-20 EV in
                                dynamic control at EVSE (K20 scenario 3: new needs go out)
  frequency HZ                  the grid's frequency alone (as grid; V2X LocalFrequency, Q08)
  load WATTS                    the upstream (building) meter's power (V2X LocalLoadBalancing, Q09)
  setpoint EVSE WATTS|off [VAR] an EMS's V2X setpoint for EVSE (0: the station; negative: discharge), with its
                                reactive setpoint VAR, or none any more (2.1 Q05/Q06)
  v2xlimits EVSE WATTS|- DISCHARGE|- | off
                                an EMS's V2X limits for EVSE (0: the station): charging at most WATTS,
                                discharging at most DISCHARGE (negative W); '-': none; off: lifted (Q05/Q06)
  offline                       drop the connection (the station reconnects after back-off)
  wait SECONDS                  let time pass (scenario files)
  status                        EVSE and transaction state
  stay                          end of the scenario: keep the station connected until it is stopped
  help                          this text
  quit                          stop the station"""


class Next(enum.Enum):
    """What the reader of commands does after one."""

    CONTINUE = "continue"
    STAY = "stay"  # stop reading commands, keep the station running
    QUIT = "quit"  # stop the station


# An external system's value the station would not take (K23/K27/Q05/Q06 prerequisites, Q06.FR.08).
EXTERNAL_REFUSED = (
    "refused: SmartChargingCtrlr.ExternalControlSignalsEnabled is false or"
    " ExternalConstraintsProfileDisallowed is true (Q06.FR.08)"
)


def describe(runtime: StationRuntime) -> str:
    from chargeplane.station.core.local_auth_methods import loggable  # see TYPE_CHECKING above

    core = runtime.core
    temperature = core.model.value("ChargingStation", "Temperature")
    lines = [
        f"registration={core.registration.value} online={core.online} queued={len(core.queue)}"
        f" temperature={temperature}C"
    ]
    for evse in core.evses.values():
        meter = runtime.hardware.evses[evse.id]
        tx = evse.tx
        lines.append(
            f"  EVSE {evse.id}: plugged={evse.plugged} authorized={loggable(evse.authorized) if evse.authorized else None}"
            f" contactor={evse.contactor} power={meter.power_w:.0f}W energy={meter.energy_wh:.1f}Wh"
            f" limit={'-' if meter.limit_w is None else f'{meter.limit_w:.0f}W'}"
            f" tx={tx.id if tx else None}"
        )
    swap = core.battery_swap
    if swap.enabled:  # S01-S04: what each slot holds and the swap under way
        held = " ".join(f"{n}={b.serial}@{b.soc:.0f}%" for n, b in sorted(swap.slots.items())) or "none"
        session = swap.session
        lines.append(
            f"  battery slots: {held}"
            + (f" swap={session.request_id} ({session.phase})" if session is not None else "")
        )
    from chargeplane.station.core.display_messages import DisplayMessages  # see TYPE_CHECKING above

    der = core.der
    if der.controls or der.alarm is not None:  # 2.1 DER controls: the grid and the inverter's output
        inverter, out = der.inverter, der.last
        output = (
            "" if out is None else f" P={out.active_w:.0f}W Q={out.reactive_var:.0f}var tripped={out.tripped}"
        )
        alarm = f" alarm={der.alarm.control_type.value}" if der.alarm else ""
        caps = "".join(  # R01/R03: what each EVSE's inverter lets through
            f" EVSE {evse} <= {cap.max_charge_w:.0f}/-{cap.max_discharge_w:.0f}W"
            for evse, cap in der.limits.items()
        )
        lines.append(
            f"  DER: {len(der.controls)} control(s) grid={inverter.voltage_v:.1f}V/{inverter.frequency_hz:.2f}Hz"
            f"{output}{alarm}{caps}"
        )
    display = core.ctx.get(DisplayMessages)
    if display.items:  # O01-O06: what the CSMS's display messages put on the display now
        lines.append(f"  display: {display.shown!r} ({len(display.items)} display message(s))")
    return "\n".join(lines)


def _qr_limits(args: list[str]) -> dict[str, float]:
    """``maxtime=600 maxenergy=20000``: the driver's maximums for the QR code (C25.FR.03)."""
    limits: dict[str, float] = {}
    for arg in args:
        if "=" in arg:
            name, _, value = arg.partition("=")
            try:
                limits[name.lower()] = float(value)
            except ValueError:
                raise ValueError(f"{name} needs a number, not {value!r}") from None
    return limits


async def execute(runtime: StationRuntime, line: str, out: Callable[[str], None] = print) -> Next:
    """Run one command line; raises ValueError on a bad command."""
    words = shlex.split(line.split("#", 1)[0])
    if not words:
        return Next.CONTINUE
    command, args = words[0].lower(), words[1:]
    numbers = [int(a) for a in args if a.isdigit()]
    evse = numbers[0] if numbers else 1
    if evse not in runtime.hardware.evses and command in (
        "plug",
        "unplug",
        "fault",
        "clear",
        "button",
        "priority",
    ):
        raise ValueError(f"no EVSE {evse} (this station has {len(runtime.hardware.evses)})")
    if command == "plug":
        runtime.plug(evse, numbers[1] if len(numbers) > 1 else 1)
    elif command == "unplug":
        runtime.unplug(evse)
    elif command == "token":
        if not args:
            raise ValueError("token needs an id")
        runtime.present_token(args[0], int(args[1]) if len(args) > 1 else None)
    elif command == "button":
        runtime.press_start_button(evse)
    elif command == "priority":
        out("priority charging on" if runtime.press_priority_button(evse) else "priority charging off")
    elif command == "pin":
        if not args:
            raise ValueError("pin needs the digits")
        runtime.enter_pin(args[0], int(args[1]) if len(args) > 1 else None)
    elif command == "card":
        psp_ref = runtime.pay_by_card(int(args[0]) if args else None)
        if psp_ref is not None:
            out(f"payment reference {psp_ref}")
    elif command == "enrol":
        if not args:
            raise ValueError("enrol needs a customer identifier")
        runtime.enrol_customer(args[0], args[1] if len(args) > 1 else None)

    elif command == "swap":
        if not args:
            raise ValueError("swap needs an id")
        runtime.swap_token(args[0], count=int(args[1]) if len(args) > 1 else 1)
    elif command == "battery-in":
        _battery_in(runtime, args, out)
    elif command == "battery-out":
        if not runtime.remove_battery(evse):
            out(f"slot {evse} is empty")

    elif command == "cancel-payment":
        runtime.cancel_payment(int(args[0]) if args else None)
    elif command == "qr":
        out(runtime.payment_url(evse, _qr_limits(args)) or "web payments are off")
    elif command == "vat":
        if not args:
            raise ValueError("vat needs the number")
        runtime.enter_vat_number(args[0], int(args[1]) if len(args) > 1 else None)
    elif command in ("fault", "clear"):
        runtime.fault(evse, command == "fault")
    elif command == "temperature":
        runtime.set_temperature(_celsius(args))
    elif command == "grid":
        runtime.set_grid(*_grid(args))
    elif command == "limit":
        runtime.external_limit(*_external_limit(runtime, args))
    elif command == "generation":
        runtime.local_generation(*_external_limit(runtime, args))
    elif command == "needs":
        evse_id, needs = _needs(runtime, args)
        runtime.ev_charging_needs(evse_id, needs)
    elif command == "departure":
        if len(numbers) != 2 or len(args) != 2:
            raise ValueError("departure needs an EVSE and minutes")
        if not runtime.change_departure(numbers[0], numbers[1] * 60):
            out(f"no ISO 15118-20 EV in dynamic control at EVSE {numbers[0]}")
    elif command == "frequency":
        runtime.set_grid(frequency_hz=_number(args, "frequency needs hertz", positive=True))
    elif command == "load":
        runtime.upstream_load(_number(args, "load needs watts (negative: feeding in)"))
    elif command == "setpoint":
        evse_id, setpoint, reactive = _setpoint(args)
        if not runtime.external_setpoint(evse_id, setpoint, reactive):
            out(EXTERNAL_REFUSED)
    elif command == "v2xlimits":
        evse_id, limit, discharge = _v2x_limits(args)
        if not runtime.external_limits(evse_id, limit, discharge):
            out(EXTERNAL_REFUSED)
    elif command == "offline":
        await runtime.go_offline()
    elif command == "wait":
        await asyncio.sleep(float(args[0]) if args else 1.0)
    elif command == "status":
        out(describe(runtime))
    elif command in ("help", "?"):
        out(HELP)
    elif command in ("stay", "keep"):
        return Next.STAY
    elif command in ("quit", "exit"):
        return Next.QUIT
    else:
        raise ValueError(f"unknown command {command!r} (try help)")
    return Next.CONTINUE


def _external_limit(runtime: StationRuntime, args: list[str]) -> tuple[int, float | None]:
    if len(args) != 2 or not args[0].isdigit():
        raise ValueError("limit needs an EVSE (0: the station) and watts or off")
    evse = int(args[0])
    if evse != 0 and evse not in runtime.hardware.evses:
        raise ValueError(f"no EVSE {evse} (this station has {len(runtime.hardware.evses)})")
    if args[1].lower() == "off":
        return evse, None
    try:
        watts = float(args[1])
    except ValueError:
        watts = math.nan
    if not math.isfinite(watts) or watts < 0:
        raise ValueError("limit needs a number of watts (or off)")
    return evse, watts


CONTROL_MODES = {"scheduled": "ScheduledControl", "dynamic": "DynamicControl"}  # ISO 15118-20 (K18/K19)


def _needs(runtime: StationRuntime, args: list[str]) -> tuple[int, EvChargingNeeds]:
    mode = CONTROL_MODES.get(args[-1].lower()) if args else None
    if mode is not None:
        args = args[:-1]
    if len(args) not in (2, 3) or not args[0].isdigit():
        raise ValueError("needs takes an EVSE, the kWh wanted and optionally the minutes until departure")
    evse = int(args[0])
    if evse not in runtime.hardware.evses or runtime.hardware.evses[evse].ev is None:
        raise ValueError(f"no EV connected at EVSE {evse}")
    try:
        kwh = float(args[1])
        minutes = int(args[2]) if len(args) == 3 else None
    except ValueError:
        raise ValueError("needs takes numbers: kWh and minutes") from None
    if not math.isfinite(kwh) or kwh <= 0 or (minutes is not None and minutes <= 0):
        raise ValueError("needs takes a positive energy and departure")
    departure = None if minutes is None else minutes * 60
    return evse, EvChargingNeeds(kwh * 1000.0, departure_s=departure, control_mode=mode)


def _grid(args: list[str]) -> tuple[float, float | None]:
    try:
        return float(args[0]), float(args[1]) if len(args) > 1 else None
    except (IndexError, ValueError):
        raise ValueError("grid needs a voltage in volts and optionally a frequency in Hz") from None


def _battery_in(runtime: StationRuntime, args: list[str], out: Callable[[str], None]) -> None:
    """battery-in EVSE SERIAL SOC [SOH] [stock]."""
    stock = bool(args) and args[-1] == "stock"
    values = args[:-1] if stock else args
    if len(values) < 3 or not values[0].isdigit():
        raise ValueError("battery-in needs EVSE SERIAL SOC [SOH] [stock]")
    try:
        soc = float(values[2])
        soh = float(values[3]) if len(values) > 3 else 100.0
    except ValueError:
        raise ValueError("SOC and SOH are percentages") from None
    if not (0 <= soc <= 100 and 0 <= soh <= 100):
        raise ValueError("SOC and SOH are percentages")
    evse = int(values[0])
    if evse not in runtime.hardware.evses:
        raise ValueError(f"no slot {evse} (this station has {len(runtime.hardware.evses)})")
    if not runtime.insert_battery(evse, values[1], soc, soh, stock=stock):
        out(f"slot {evse} did not take the battery")


def _number(args: list[str], complaint: str, *, positive: bool = False) -> float:
    try:
        value = float(args[0]) if len(args) == 1 else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(complaint)
    return value


def _setpoint(args: list[str]) -> tuple[int, float | None, float | None]:
    """``EVSE WATTS|off [VAR]`` of the setpoint command."""
    complaint = "setpoint needs EVSE and WATTS (or off), then optionally the reactive VAR"
    if len(args) not in (2, 3) or not args[0].isdigit():
        raise ValueError(complaint)
    if args[1] == "off":
        return int(args[0]), None, None
    reactive = _number(args[2:], complaint) if len(args) == 3 else None
    return int(args[0]), _number(args[1:2], complaint), reactive


def _v2x_limits(args: list[str]) -> tuple[int, float | None, float | None]:
    """``EVSE WATTS|- DISCHARGE|-`` or ``EVSE off`` of the v2xlimits command."""
    complaint = "v2xlimits needs EVSE, then WATTS (or -) and DISCHARGE <= 0 (or -), or off"
    if not args or not args[0].isdigit():
        raise ValueError(complaint)
    if args[1:] == ["off"]:
        return int(args[0]), None, None
    if len(args) != 3 or args[1:] == ["-", "-"]:
        raise ValueError(complaint)
    limit = None if args[1] == "-" else _number(args[1:2], complaint)
    discharge = None if args[2] == "-" else _number(args[2:3], complaint)
    if (limit is not None and limit < 0) or (discharge is not None and discharge > 0):
        raise ValueError(complaint)
    return int(args[0]), limit, discharge


def _celsius(args: list[str]) -> float:
    try:
        celsius = float(args[0]) if args else math.nan
    except ValueError:
        celsius = math.nan
    if not math.isfinite(celsius):
        raise ValueError("temperature needs a number of degrees Celsius")
    return celsius


async def run_scenario(runtime: StationRuntime, text: str, out: Callable[[str], None] = print) -> Next:
    """Run a scenario file's commands in order, waiting for the first connection before the first one.
    :attr:`Next.STAY` when it ended with ``stay``, else :attr:`Next.QUIT`."""
    await runtime.accepted.wait()
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            step = await execute(runtime, line, out)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from exc
        if step is not Next.CONTINUE:
            return step
    return Next.QUIT


def input_absent() -> bool:
    """No standard input to read: closed, or ``/dev/null`` (what systemd, docker without ``-i`` and nohup
    give a service). Input that ends later (a pipe, a file) is a script, and its end means quit."""
    if sys.stdin is None:
        return True
    try:
        mode = os.fstat(sys.stdin.fileno())
        null = os.stat(os.devnull)
    except (OSError, ValueError):  # no file descriptor (closed, or replaced by a test runner)
        return True
    return stat.S_ISCHR(mode.st_mode) and mode.st_rdev == null.st_rdev


def _read_lines(queue: asyncio.Queue[str], loop: asyncio.AbstractEventLoop) -> None:
    for line in iter(sys.stdin.readline, ""):
        loop.call_soon_threadsafe(queue.put_nowait, line)
    loop.call_soon_threadsafe(queue.put_nowait, "")  # end of input


async def interactive(runtime: StationRuntime, out: Callable[[str], None] = print) -> Next:
    """Read commands from standard input until ``quit``, ``stay`` or end of input (quit).

    The reading thread is a daemon: a blocking ``readline`` must not hold up the end of the process when
    the station is stopped by a signal (the default executor would be waited for)."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()
    threading.Thread(target=_read_lines, args=(lines, loop), name="stdin", daemon=True).start()
    out("commands: plug, unplug, token ID, fault, clear, offline, status, stay, quit (help for more)")
    while line := await lines.get():
        try:
            step = await execute(runtime, line, out)
        except ValueError as exc:
            out(str(exc))
            continue
        if step is not Next.CONTINUE:
            return step
    return Next.QUIT
