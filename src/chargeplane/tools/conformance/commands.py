"""The ``chargeplane conformance`` command (wired into :mod:`chargeplane.cli`).

``conformance csms``: the tool plays a charging station against the CSMS under test. ``conformance station``:
the tool plays the CSMS, the station under test connects to it. Both share the cases' registry, the
declaration file and the reports.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Any

from chargeplane.tools.conformance.adapter import Adapter, ChargeplaneAdapter, InteractiveAdapter
from chargeplane.tools.conformance.case import PROFILES, REGISTRY, Side, TestCase
from chargeplane.tools.conformance.catalog import case_ids
from chargeplane.tools.conformance.declaration import Declaration, DeclarationError, load_declaration
from chargeplane.tools.conformance.report import (
    CaseResult,
    console_line,
    exit_status,
    summary_lines,
    write_reports,
)
from chargeplane.tools.conformance.runner import load_cases, run_csms_cases, run_station_cases
from chargeplane.tools.conformance.station_adapter import InteractiveStationAdapter
from chargeplane.tools.conformance.station_steps import CsmsEndpoint, ListenSettings
from chargeplane.tools.conformance.steps import LinkSettings


def add_conformance_command(commands: Any) -> None:
    conformance = commands.add_parser(
        "conformance",
        help="run OCPP 2.0.1 Part 6 conformance test cases against a CSMS or a charging station",
        description="Exit status 0 only when no applicable case failed (expected failures aside).",
    )
    sides = conformance.add_subparsers(dest="side", required=True)
    csms = sides.add_parser("csms", help="test a CSMS: the tool plays the charging station")
    csms.add_argument(
        "--url", required=True, help="OCPP endpoint without the identity, e.g. ws://host:9000/ocpp"
    )
    _common_arguments(csms)
    csms.add_argument(
        "--api", help="Chargeplane CSMS: HTTP API root (e.g. http://127.0.0.1:8080) for manual actions"
    )
    csms.add_argument("--api-token", help="its bearer token")
    csms.add_argument(
        "--interactive", action="store_true", help="any CSMS: ask for manual actions at the terminal"
    )
    csms.add_argument(  # TLS (security profile 2): a wss --url, or --tls-url beside a ws one
        "--ca-file", type=Path, help="wss: trust the CA certificates of this PEM file (default: the system's)"
    )
    csms.add_argument(
        "--tls-url", help="the CSMS's wss endpoint for the TLS cases (TC_A_04, A_06, A_19) when --url is ws"
    )

    station = sides.add_parser("station", help="test a charging station: the tool plays the CSMS")
    station.add_argument(
        "--listen",
        required=True,
        help="HOST:PORT the tool listens on; the station connects to ws://HOST:PORT/ocpp/<station-id>",
    )
    # The TLS cases (blocks A, M): a wss listener and the tool's test PKI, kept for the station to trust.
    station.add_argument("--tls-port", type=int, help="also listen for wss on this port (security profile 2)")
    station.add_argument(
        "--tls-name",
        action="append",
        default=[],
        help="a host name or address of the wss server certificate (repeatable; default: the --listen host)",
    )
    station.add_argument(
        "--pki-dir",
        type=Path,
        help="keep the tool's test certificates here between runs (install csms_root.crt and "
        "manufacturer_root.crt at the station)",
    )
    _common_arguments(station)


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--station-id", required=True, help="the station identity (the tool's or the SUT's)")
    parser.add_argument("--password", help="Basic auth password of that station (security profile 1)")
    parser.add_argument(
        "--features",
        type=Path,
        help="declaration file (TOML): features, configured values, expected failures",
    )
    parser.add_argument("--cases", default="", help="comma-separated id patterns, e.g. 'TC_B_*,TC_E_0?_CS*'")
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        type=_profile,
        metavar="PROFILE",
        help=f"only the cases of this certification profile (repeatable): {', '.join(map(repr, PROFILES))}",
    )
    parser.add_argument("--junit", type=Path, help="write a JUnit XML report here")
    parser.add_argument("--json", type=Path, help="write a JSON report here")
    parser.add_argument("--list", action="store_true", help="list the selected cases and exit")


async def run_command(args: argparse.Namespace) -> int:
    load_cases()
    side = Side.CSMS if args.side == "csms" else Side.STATION
    selected = REGISTRY.select(side, args.cases.split(","))
    if args.profile:
        selected = [c for c in selected if set(c.profiles) & set(args.profile)]
    if args.list:
        _list(side, selected, args.profile)
        return 0
    if not selected:
        print(f"no case matches {args.cases!r}", file=sys.stderr)
        return 2
    try:
        declaration = load_declaration(args.features)
    except (OSError, DeclarationError) as error:
        print(f"--features: {error}", file=sys.stderr)
        return 2
    if side is Side.STATION:
        return await _test_station(args, selected, declaration)
    adapter: Adapter
    if args.interactive == bool(args.api):
        print("give either --api URL --api-token TOKEN (Chargeplane) or --interactive", file=sys.stderr)
        return 2
    if args.api:
        if not args.api_token:
            print("--api needs --api-token", file=sys.stderr)
            return 2
        adapter = ChargeplaneAdapter.connect(args.api, args.api_token)
    else:
        adapter = InteractiveAdapter()
    link = LinkSettings(args.url, args.station_id, args.password, ca_file=args.ca_file, tls_url=args.tls_url)
    try:
        results = await run_csms_cases(
            selected, link, adapter, declaration, on_result=lambda r: print(console_line(r), flush=True)
        )
    finally:
        if isinstance(adapter, ChargeplaneAdapter):
            await adapter.aclose()
    return _finish(args, results, "csms")


def _profile(name: str) -> str:
    """A profile's name as Part 5 writes it, from any spelling of its case ("core", "reservation")."""
    for profile in PROFILES:
        if profile.casefold() == name.strip().casefold():
            return profile
    raise argparse.ArgumentTypeError(f"unknown profile {name!r}; one of {', '.join(PROFILES)}")


def _list(side: Side, selected: list[TestCase], profiles: list[str]) -> None:
    for test_case in selected:
        needs = (*test_case.features, *((test_case.condition,) if test_case.condition else ()))
        features = f"  [needs {', '.join(needs)}]" if needs else ""
        if test_case.unless_profiles:
            features += f"  [not with {', '.join(test_case.unless_profiles)}]"
        print(f"{test_case.id:<14} {test_case.name}{features}")
    implemented = {c.id for c in REGISTRY.select(side)}
    for profile in profiles:
        missing = [i for i in case_ids(profile, side.value) if i not in implemented]
        if missing:
            print(f"{profile}: {len(missing)} case(s) of Part 5 not in this tool yet: {', '.join(missing)}")


def _finish(args: argparse.Namespace, results: list[CaseResult], direction: str) -> int:
    for line in summary_lines(results):
        print(line)
    write_reports(results, direction, args.junit, args.json)
    return exit_status(results)


async def _test_station(args: argparse.Namespace, selected: list[TestCase], declaration: Declaration) -> int:
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        print("--listen takes HOST:PORT, e.g. 0.0.0.0:9000", file=sys.stderr)
        return 2
    if args.password is None and not _loopback(host):
        print("--password is required unless the tool listens on a loopback address", file=sys.stderr)
        return 2
    settings = ListenSettings(
        host,
        int(port),
        args.station_id,
        args.password,
        tls_port=args.tls_port,
        tls_names=tuple(args.tls_name),
        pki_dir=args.pki_dir,
    )
    endpoint = CsmsEndpoint(settings)
    await endpoint.start()
    print(f"waiting for station {args.station_id} at {endpoint.url}/{args.station_id}", file=sys.stderr)
    if endpoint.tls_url is not None:
        print(f"wss (security profile 2): {endpoint.tls_url}/{args.station_id}", file=sys.stderr)
    try:
        results = await run_station_cases(
            selected,
            endpoint,
            InteractiveStationAdapter(),
            declaration,
            on_result=lambda r: print(console_line(r), flush=True),
        )
    finally:
        await endpoint.stop()
    return _finish(args, results, "station")


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
