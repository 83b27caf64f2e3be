"""The ``chargeplane station`` and ``chargeplane simulate`` commands (wired into :mod:`chargeplane.cli`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import re
import secrets
import shlex
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from chargeplane.ocpp.versions import Version
from chargeplane.station.control import HELP
from chargeplane.transport.security import CertificateFiles

if TYPE_CHECKING:
    from chargeplane.station.runtime import StationRuntime

VERSIONS = {v.value: v for v in Version}
log = logging.getLogger(__name__)


def add_station_commands(commands: Any) -> None:
    station = commands.add_parser(
        "station",
        help="run a simulated charging station (interactive or scripted)",
        description="A charging station with simulated hardware. Commands (plug, unplug, token ID, fault, clear, "
        "offline, status, stay, quit; help lists them) come from --scenario, standard input, or the control "
        "socket (chargeplane station-ctl). End of input stops the station; with --no-input, or when standard "
        "input is closed or /dev/null (a supervisor), it runs until SIGTERM, SIGINT or `station-ctl quit`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=HELP,
    )
    station.add_argument(
        "--url", required=True, help="CSMS endpoint without the identity, e.g. ws://127.0.0.1:9000/ocpp"
    )
    station.add_argument("--id", required=True, dest="station_id", help="charging station identity")
    station.add_argument("--version", dest="ocpp_version", default="2.0.1", choices=sorted(VERSIONS))
    station.add_argument("--evses", type=int, default=1, help="number of EVSEs (one connector each)")
    station.add_argument("--password", help="Basic auth password (security profiles 1 and 2)")
    station.add_argument("--security-profile", type=int, default=1, choices=[0, 1, 2, 3])
    station.add_argument("--ca-bundle", type=Path, help="wss: trust these CAs")
    station.add_argument("--certificate", type=Path, help="profile 3: station certificate chain (PEM)")
    station.add_argument("--key", type=Path, help="profile 3: its private key (PEM)")
    station.add_argument(
        "--database",
        type=Path,
        default=None,
        help="SQLite file for device model and queue (default: <data dir>/stations/<id>.db, the data dir "
        "being $CHARGEPLANE_DATA_DIR, else $XDG_DATA_HOME/chargeplane, else ~/.local/share/chargeplane)",
    )
    station.add_argument(
        "--manufacturer-root",
        type=Path,
        action="append",
        default=[],
        help="a ManufacturerRootCertificate (PEM) firmware signing certificates must chain to (L01); repeatable",
    )
    station.add_argument(
        "--allow-unsigned-firmware",
        action="store_true",
        help="accept a 2.x UpdateFirmware without signing certificate and signature (L02)",
    )
    station.add_argument(
        "--firmware-download-while-charging",
        action="store_true",
        help="simulate hardware that downloads firmware during transactions (Part 5 AQ-7)",
    )
    station.add_argument(
        "--firmware-install-while-charging",
        action="store_true",
        help="simulate hardware that installs firmware during transactions, which go on (Part 5 C-43)",
    )
    station.add_argument(
        "--scenario", type=Path, help="run the commands of this file, then stop (or keep running: `stay`)"
    )
    station.add_argument(
        "--no-input", action="store_true", help="read no commands from standard input: run until stopped"
    )
    station.add_argument(
        "--control",
        type=Path,
        help="control socket (default: <data dir>/stations/<id>.sock); `--control none` for no socket",
    )

    ctl = commands.add_parser(
        "station-ctl",
        help="send a command to a running station (through its control socket)",
        description="Send one command to a station started with `chargeplane station`, e.g. "
        "`chargeplane station-ctl --id CS001 plug 1`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=HELP,
    )
    ctl.add_argument("--id", required=True, dest="station_id", help="charging station identity")
    ctl.add_argument("--control", type=Path, help="control socket (default: <data dir>/stations/<id>.sock)")
    ctl.add_argument("words", nargs=argparse.REMAINDER, metavar="COMMAND", help="e.g. plug 1, token CARD42")

    simulate = commands.add_parser(
        "simulate",
        help="run a bounded fleet of simulated stations and print a summary",
        description="A fleet of simulated stations: they connect, boot, and run charging sessions (EV plugged "
        "in, card, charge, card, unplug) for the duration. Station n is PREFIX followed by n in 4 digits "
        "(SIM0001, SIM0002, ...); its card is CARD-<station id> (CARD-SIM0001, type ISO14443), or, with "
        "--token, one card shared by all. A CSMS must know the stations and accept the cards: --register "
        "creates both on a Chargeplane CSMS through its HTTP API. A session counts once the CSMS accepted "
        "its transaction.",
    )
    simulate.add_argument("--url", required=True, help="CSMS endpoint without the identity")
    simulate.add_argument("--stations", type=int, default=10)
    simulate.add_argument("--versions", default="2.0.1", help="comma-separated, e.g. 1.6,2.0.1,2.1")
    simulate.add_argument("--duration", default="1m", help="e.g. 30s, 10m, 1h")
    simulate.add_argument("--prefix", default="SIM", help="station ids are PREFIX0001, PREFIX0002, ...")
    simulate.add_argument("--password", help="Basic auth password shared by every station")
    simulate.add_argument(
        "--token", help="one card (id token) for every station, instead of CARD-<station id>"
    )
    simulate.add_argument(
        "--register",
        action="store_true",
        help="first create the stations (with --password, else a generated one) and the cards on a "
        "Chargeplane CSMS through its HTTP API (needs --api and --api-token)",
    )
    simulate.add_argument("--api", help="the CSMS's HTTP API, e.g. http://127.0.0.1:8080/api/v1")
    simulate.add_argument("--api-token", help="a bearer token of that API (chargeplane serve prints one)")
    simulate.add_argument(
        "--session-seconds", type=float, default=20.0, help="mean length of a charging session"
    )
    simulate.add_argument(
        "--charging-share", type=float, default=1.0, help="share of the stations that run sessions (0 to 1)"
    )
    simulate.add_argument("--meter-interval", type=int, help="seconds between meter values in a transaction")
    simulate.add_argument("--connect-rate", type=float, default=100.0, help="new connections per second")
    simulate.add_argument(
        "--manufacturer-root",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a ManufacturerRootCertificate (PEM) every station trusts for firmware signing certificates "
        "(L01), e.g. a Chargeplane CSMS's GET /api/v1/firmware/root-certificate; repeatable",
    )
    simulate.add_argument("--json", action="store_true", help="print the summary as JSON")
    simulate.add_argument(
        "--quiet", action="store_true", help="no live progress on standard error (logs still go there)"
    )


def manufacturer_roots(paths: list[Path], command: str) -> tuple[str, ...]:
    """The PEM texts of ``--manufacturer-root`` files; a file that cannot be read or holds no certificate ends
    the command with a message."""
    roots: list[str] = []
    for path in paths:
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise SystemExit(f"chargeplane {command}: --manufacturer-root {path}: {exc}") from None
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise SystemExit(f"chargeplane {command}: --manufacturer-root {path}: no PEM certificate in it")
        roots.append(text)
    return tuple(roots)


def data_directory(environ: Mapping[str, str] | None = None) -> Path:
    """Where a station keeps its state by default: never the working directory, which is often a checkout."""
    env = os.environ if environ is None else environ
    if env.get("CHARGEPLANE_DATA_DIR"):
        return Path(env["CHARGEPLANE_DATA_DIR"])
    base = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else Path.home() / ".local" / "share"
    return base / "chargeplane"


def default_station_database(station_id: str, environ: Mapping[str, str] | None = None) -> Path:
    """``<data dir>/stations/<id>.db``, its folder created; the id is percent-encoded as in the URL."""
    return _station_file(station_id, ".db", environ)


def default_control_socket(station_id: str, environ: Mapping[str, str] | None = None) -> Path:
    """``<data dir>/stations/<id>.sock``, next to the station's database."""
    return _station_file(station_id, ".sock", environ)


def _station_file(station_id: str, suffix: str, environ: Mapping[str, str] | None) -> Path:
    folder = data_directory(environ) / "stations"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{quote(station_id, safe='')}{suffix}"


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if match is None:
        raise ValueError(f"bad duration {text!r}")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


async def run_command(args: argparse.Namespace) -> int:
    if args.command == "station":
        return await _station(args)
    if args.command == "station-ctl":
        return await _station_ctl(args)
    return await _simulate(args)


STOP_WITHIN_S = 5.0  # a stopping station closes its connection within this; then its task is cancelled


async def _station(args: argparse.Namespace) -> int:
    from chargeplane.logs import current_station
    from chargeplane.station.control_socket import ControlServer, ControlSocketInUse
    from chargeplane.station.events import EventReporter
    from chargeplane.station.runtime import RuntimeSettings, StationRuntime

    certificate = None
    if args.certificate is not None:
        if args.key is None:
            raise SystemExit("--certificate needs --key")
        certificate = CertificateFiles(args.certificate, args.key)
    settings = RuntimeSettings(
        url=args.url,
        station_id=args.station_id,
        version=VERSIONS[args.ocpp_version],
        connectors=(1,) * max(1, args.evses),
        password=args.password,
        security_profile=args.security_profile,
        ca_bundle=args.ca_bundle,
        client_certificate=certificate,
        database=args.database or default_station_database(args.station_id),
        manufacturer_roots=manufacturer_roots(args.manufacturer_root, "station"),
        allow_unsigned_firmware=args.allow_unsigned_firmware,
        firmware_download_while_charging=args.firmware_download_while_charging,
        firmware_install_while_charging=args.firmware_install_while_charging,
    )
    current_station.set(args.station_id)  # every line this station logs names it
    runtime = StationRuntime(settings)
    runtime.watchers.append(EventReporter())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    control = None
    if str(args.control) != "none":
        path = args.control or default_control_socket(args.station_id)
        control = ControlServer(path, runtime, on_quit=stop.set)
        try:
            await control.start()
        except ControlSocketInUse as exc:
            raise SystemExit(f"chargeplane station: {exc}") from None
        except (RuntimeError, OSError) as exc:
            if args.control is not None:  # asked for: a station without it would not be what was asked
                raise SystemExit(f"chargeplane station: {exc}") from None
            log.warning("no control socket (%s); --control PATH puts it elsewhere", exc)
            control = None
    task = asyncio.create_task(runtime.run())
    driver = asyncio.create_task(_drive(args, runtime, stop))
    try:
        await stop.wait()
        if driver.done() and driver.exception() is not None:
            raise SystemExit(f"chargeplane station: {driver.exception()}")
    finally:
        driver.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if control is not None:
            await control.close()
        await _stop_station(runtime, task)
    return 0


async def _drive(args: argparse.Namespace, runtime: StationRuntime, stop: asyncio.Event) -> None:
    """Feed the station its commands; set ``stop`` when they say quit (or end), or fail."""
    from chargeplane.station.control import Next, input_absent, interactive, run_scenario

    step = Next.QUIT  # also when the commands fail (_station reports it)
    try:
        if args.scenario is not None:
            step = await run_scenario(runtime, args.scenario.read_text())
        elif args.no_input or input_absent():
            step = Next.STAY
        else:
            step = await interactive(runtime)
    finally:
        if step is Next.QUIT:
            stop.set()
    if step is Next.STAY:
        log.info("running until SIGTERM, SIGINT or `chargeplane station-ctl --id %s quit`", args.station_id)


async def _stop_station(runtime: StationRuntime, task: asyncio.Task[None]) -> None:
    await runtime.stop()
    done, _ = await asyncio.wait({task}, timeout=STOP_WITHIN_S)
    if not done:
        log.warning("the connection did not close within %.0f s; stopping anyway", STOP_WITHIN_S)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _station_ctl(args: argparse.Namespace) -> int:
    from chargeplane.station.control_socket import StationNotRunning, send_command

    if not args.words:
        raise SystemExit("chargeplane station-ctl: which command? (help lists them)")
    path = args.control or default_control_socket(args.station_id)
    try:
        reply = await send_command(path, shlex.join(args.words))
    except StationNotRunning as exc:
        print(f"chargeplane station-ctl: {exc}", file=sys.stderr)
        return 2
    if reply.output:
        print(reply.output, file=sys.stdout if reply.ok else sys.stderr)
    return 0 if reply.ok else 1


async def _simulate(args: argparse.Namespace) -> int:
    from chargeplane.station.console import ProgressLine
    from chargeplane.station.fleet import FleetSettings, cards, run_fleet, station_ids

    versions = tuple(VERSIONS[v.strip()] for v in args.versions.split(",") if v.strip())
    password = args.password
    if args.register and password is None:
        password = secrets.token_hex(20)  # 40 hex digits: a valid 1.6 AuthorizationKey and 2.x password
    settings = FleetSettings(
        url=args.url,
        stations=args.stations,
        versions=versions,
        duration_s=parse_duration(args.duration),
        prefix=args.prefix,
        password=password,
        token=args.token,
        session_s=args.session_seconds,
        charging_share=args.charging_share,
        meter_interval_s=args.meter_interval,
        connect_rate=args.connect_rate,
        manufacturer_roots=manufacturer_roots(args.manufacturer_root, "simulate"),
    )
    longest = max((len(card) for card in cards(settings)), default=0)
    if longest > (20 if Version.V16 in versions else 36):  # idTag CiString20, IdToken identifierString36
        raise SystemExit(
            f"chargeplane simulate: card ids of {longest} characters are too long; shorter --prefix"
        )
    if args.register:
        from chargeplane.station.register import RegistrationError, register_fleet

        if not args.api or not args.api_token:
            raise SystemExit("chargeplane simulate: --register needs --api and --api-token")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request: one per failure
        try:
            await register_fleet(args.api, args.api_token, station_ids(settings), password, cards(settings))
        except (RegistrationError, OSError) as exc:
            raise SystemExit(f"chargeplane simulate: registration failed: {exc}") from None
    progress = None if args.quiet else ProgressLine(sys.stderr)
    if progress is None:
        summary = await run_fleet(settings)
    else:
        with progress.around_logs():
            summary = await run_fleet(dataclasses.replace(settings, progress=progress.show))
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(describe_summary(summary))
    failures = summary["call_errors"] + summary["call_timeouts"] + summary["connection_lost_during_run"]
    return 1 if failures else 0


def describe_summary(summary: dict[str, Any]) -> str:
    """The human-readable end-of-run summary of ``chargeplane simulate``."""
    latency = summary["latency_ms"]
    refused = ", ".join(f"{action} {count}" for action, count in summary["calls_refused_by_action"].items())
    return "\n".join(
        (
            f"stations         {summary['stations']} ({', '.join(summary['versions'])}),"
            f" {summary['accepted']} accepted, connected in {summary['connect_s']} s",
            f"EV arrivals      {summary['ev_arrivals']} (cards: {summary['cards']}),"
            f" {summary['sessions_cut_short']} without a transaction when the EV left (refused, or answers late)",
            f"sessions         {summary['sessions_started']} accepted by the CSMS,"
            f" {summary['sessions_completed']} completed",
            f"transactions     {summary['transactions_started']} started, {summary['transactions_ended']} ended",
            f"messages         {summary['calls_sent']} sent = {summary['calls_answered']} answered"
            f" + {summary['calls_failed']} failed + {summary['calls_lost_at_stop']} unanswered at stop",
            f"activity         {summary['activity_s']} s: {summary['calls_sent_during_activity']} sent"
            f" ({summary['calls_per_s_during_activity']}/s), {summary['calls_answered_during_activity']}"
            f" answered ({summary['answers_per_s_during_activity']}/s)",
            f"errors           {summary['call_errors']} CALLERROR, {summary['call_timeouts']} timeouts,"
            f" {summary['connection_lost_during_run']} lost connections",
            f"refused          {summary['calls_rejected']}" + (f" ({refused})" if refused else ""),
            f"latency (ms)     p50 {latency['p50']}  p90 {latency['p90']}  p99 {latency['p99']}  max {latency['max']}",
            f"memory/station   {summary['memory_bytes_per_station']} bytes",
        )
    )
