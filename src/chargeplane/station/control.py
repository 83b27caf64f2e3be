"""Commands that drive a running station by hand or from a scenario file (``chargeplane station``).

One command per line; ``#`` starts a comment::

    plug [EVSE] [CONNECTOR]     an EV is connected (simulated EV: 60 kWh, 40 %, 11 kW)
    unplug [EVSE]
    token ID [EVSE]             a card at the reader (no EVSE: the station's reader)
    fault [EVSE] / clear [EVSE] a hardware fault starts / ends
    offline                     drop the connection (the station reconnects after back-off)
    wait SECONDS                scenario files: let time pass
    status                      print EVSE and transaction state
    quit
"""

from __future__ import annotations

import asyncio
import shlex
import sys
from collections.abc import Callable

from chargeplane.station.runtime import StationRuntime

HELP = __doc__ or ""


class Quit(Exception):
    """The ``quit`` command."""


def describe(runtime: StationRuntime) -> str:
    core = runtime.core
    lines = [f"registration={core.registration.value} online={core.online} queued={len(core.queue)}"]
    for evse in core.evses.values():
        meter = runtime.hardware.evses[evse.id]
        tx = evse.tx
        lines.append(
            f"  EVSE {evse.id}: plugged={evse.plugged} authorized={evse.authorized.value if evse.authorized else None}"
            f" contactor={evse.contactor} power={meter.power_w:.0f}W energy={meter.energy_wh:.1f}Wh"
            f" tx={tx.id if tx else None}"
        )
    return "\n".join(lines)


async def execute(runtime: StationRuntime, line: str, out: Callable[[str], None] = print) -> None:
    """Run one command line; raises :class:`Quit` on ``quit`` and ValueError on a bad command."""
    words = shlex.split(line.split("#", 1)[0])
    if not words:
        return
    command, args = words[0].lower(), words[1:]
    numbers = [int(a) for a in args if a.isdigit()]
    if command == "plug":
        runtime.plug(numbers[0] if numbers else 1, numbers[1] if len(numbers) > 1 else 1)
    elif command == "unplug":
        runtime.unplug(numbers[0] if numbers else 1)
    elif command == "token":
        if not args:
            raise ValueError("token needs an id")
        evse = int(args[1]) if len(args) > 1 else None
        runtime.present_token(args[0], evse)
    elif command in ("fault", "clear"):
        runtime.fault(numbers[0] if numbers else 1, command == "fault")
    elif command == "offline":
        await runtime.go_offline()
    elif command == "wait":
        await asyncio.sleep(float(args[0]) if args else 1.0)
    elif command == "status":
        out(describe(runtime))
    elif command in ("help", "?"):
        out(HELP)
    elif command in ("quit", "exit"):
        raise Quit
    else:
        raise ValueError(f"unknown command {command!r} (try help)")


async def run_scenario(runtime: StationRuntime, text: str, out: Callable[[str], None] = print) -> None:
    """Run a scenario file's commands in order, waiting for the first connection before the first one."""
    await runtime.accepted.wait()
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            await execute(runtime, line, out)
        except Quit:
            return
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from exc


async def interactive(runtime: StationRuntime, out: Callable[[str], None] = print) -> None:
    """Read commands from standard input until ``quit`` or end of input."""
    loop = asyncio.get_running_loop()
    out("commands: plug, unplug, token ID, fault, clear, offline, status, quit (help for more)")
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        try:
            await execute(runtime, line, out)
        except Quit:
            return
        except ValueError as exc:
            out(str(exc))
