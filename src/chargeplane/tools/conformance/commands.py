"""The ``chargeplane conformance`` command (wired into :mod:`chargeplane.cli`).

``conformance csms``: the tool plays a charging station against the CSMS under test. ``conformance station``
(the tool plays the CSMS) will sit beside it, on the same cases, declaration and reports.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from chargeplane.tools.conformance.adapter import Adapter, ChargeplaneAdapter, InteractiveAdapter
from chargeplane.tools.conformance.case import REGISTRY, Side
from chargeplane.tools.conformance.declaration import DeclarationError, load_declaration
from chargeplane.tools.conformance.report import console_line, exit_status, summary_lines, write_reports
from chargeplane.tools.conformance.runner import load_cases, run_csms_cases
from chargeplane.tools.conformance.steps import LinkSettings


def add_conformance_command(commands: Any) -> None:
    conformance = commands.add_parser(
        "conformance",
        help="run OCPP 2.0.1 Part 6 conformance test cases against a CSMS",
        description="Exit status 0 only when no applicable case failed (expected failures aside).",
    )
    sides = conformance.add_subparsers(dest="side", required=True)
    csms = sides.add_parser("csms", help="test a CSMS: the tool plays the charging station")
    csms.add_argument(
        "--url", required=True, help="OCPP endpoint without the identity, e.g. ws://host:9000/ocpp"
    )
    csms.add_argument("--station-id", required=True, help="the identity the tool connects as")
    csms.add_argument("--password", help="Basic auth password of that station (security profile 1)")
    csms.add_argument(
        "--features",
        type=Path,
        help="declaration file (TOML): features, configured values, expected failures",
    )
    csms.add_argument("--cases", default="", help="comma-separated id patterns, e.g. 'TC_B_*,TC_E_0?_CSMS'")
    csms.add_argument("--junit", type=Path, help="write a JUnit XML report here")
    csms.add_argument("--json", type=Path, help="write a JSON report here")
    csms.add_argument("--list", action="store_true", help="list the selected cases and exit")
    csms.add_argument(
        "--api", help="Chargeplane CSMS: HTTP API root (e.g. http://127.0.0.1:8080) for manual actions"
    )
    csms.add_argument("--api-token", help="its bearer token")
    csms.add_argument(
        "--interactive", action="store_true", help="any CSMS: ask for manual actions at the terminal"
    )


async def run_command(args: argparse.Namespace) -> int:
    load_cases()
    selected = REGISTRY.select(Side.CSMS, args.cases.split(","))
    if args.list:
        for test_case in selected:
            features = f"  [needs {', '.join(test_case.features)}]" if test_case.features else ""
            print(f"{test_case.id:<14} {test_case.name}{features}")
        return 0
    if not selected:
        print(f"no case matches {args.cases!r}", file=sys.stderr)
        return 2
    try:
        declaration = load_declaration(args.features)
    except (OSError, DeclarationError) as error:
        print(f"--features: {error}", file=sys.stderr)
        return 2
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
    link = LinkSettings(args.url, args.station_id, args.password)
    try:
        results = await run_csms_cases(
            selected, link, adapter, declaration, on_result=lambda r: print(console_line(r), flush=True)
        )
    finally:
        if isinstance(adapter, ChargeplaneAdapter):
            await adapter.aclose()
    for line in summary_lines(results):
        print(line)
    write_reports(results, "csms", args.junit, args.json)
    return exit_status(results)
