"""Station fleet benchmark (issue #5): thousands of simulated stations in one process against our CSMS.

The CSMS (``chargeplane serve``, development mode: unauthenticated stations auto-registered and accepted,
unknown tokens accepted, a temporary SQLite database, admission limits raised) runs as a subprocess; the
fleet (:func:`chargeplane.station.fleet.run_fleet`) runs in this process, so the figures below are the
simulator's alone:

* RSS per station: (RSS at the end of the activity - RSS before the stations were built) / stations, after
  every station connected, booted and ran for ``--duration`` seconds (idle, heartbeating, some charging);
* CPU share of the fleet process during the activity (1.0 = one core), and the CSMS process's beside it;
* CALLs sent, their answers by action, CALLERRORs, timeouts, refusals, connection losses, and the latency
  from the station's send to the answer (p50/p90/p99, 8 % buckets).

Run: ``.venv/bin/python bench/station_fleet.py [--stations 5000] [--duration 60]``; ``--json`` prints the
raw summary. Loopback only. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from procstat import cpu_model, cpu_seconds

from chargeplane.ocpp.versions import Version
from chargeplane.station.fleet import FleetSettings, run_fleet

HOST = "127.0.0.1"
VERSIONS = {v.value: v for v in Version}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def proc_rss(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def machine() -> str:
    model = cpu_model()
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} CPUs ({model}){memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def start_csms(directory: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], int]:
    port, api_port = free_port(), free_port()
    executable = shutil.which("chargeplane", path=str(Path(sys.executable).parent)) or "chargeplane"
    env = dict(
        os.environ,
        CHARGEPLANE_OCPP_ADMISSION_RATE="100000",
        CHARGEPLANE_OCPP_ADMISSION_BURST="100000",
        CHARGEPLANE_OCPP_ADMISSION_MAX_OPENING="0",
        CHARGEPLANE_OCPP_MAX_CONNECTIONS=str(args.stations + 1000),
        CHARGEPLANE_HEARTBEAT_INTERVAL=str(args.heartbeat),
        CHARGEPLANE_UNKNOWN_TOKENS="accept",
    )
    command = [
        executable,
        "serve",
        "--database-url",
        f"sqlite+aiosqlite:///{directory / 'csms.db'}",
        "--ocpp-host",
        HOST,
        "--ocpp-port",
        str(port),
        "--api-host",
        HOST,
        "--api-port",
        str(api_port),
        "--dev-allow-unauthenticated",
        "--unknown-stations",
        "accept",
    ]
    log = (directory / "csms.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the CSMS exited: {(directory / 'csms.log').read_text()[-2000:]}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the CSMS did not start listening in 30 s")


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        directory = Path(tmp)
        csms, port = start_csms(directory, args)
        try:
            csms_cpu = cpu_seconds(csms.pid)
            started = time.monotonic()
            summary = await run_fleet(
                FleetSettings(
                    url=f"ws://{HOST}:{port}/ocpp",
                    stations=args.stations,
                    versions=tuple(VERSIONS[v.strip()] for v in args.versions.split(",")),
                    duration_s=args.duration,
                    session_s=args.session,
                    idle_s=args.idle,
                    charging_share=args.charging_share,
                    meter_interval_s=args.meter_interval,
                    connect_rate=args.connect_rate,
                    connect_wait_s=args.connect_wait,
                    drain_s=30.0,
                )
            )
            elapsed = time.monotonic() - started
            summary["csms_cpu_share_overall"] = round((cpu_seconds(csms.pid) - csms_cpu) / elapsed, 3)
            summary["csms_rss_bytes_end"] = proc_rss(csms.pid)
        finally:
            csms.terminate()
            try:
                csms.wait(timeout=30)
            except subprocess.TimeoutExpired:
                csms.kill()
        errors = [
            line
            for line in (directory / "csms.log").read_text(errors="replace").splitlines()
            if line.startswith(("ERROR", "CRITICAL"))
        ]
        summary["csms_error_log_lines"] = len(errors)
        summary["csms_first_errors"] = errors[:3]
    return summary


def report(summary: dict[str, Any], args: argparse.Namespace, command: str) -> str:
    mib = 1024 * 1024
    per = summary["memory_bytes_per_station"]
    idle = summary["memory_bytes_per_station_idle"]
    latency = summary["latency_ms"]
    boot = summary["latency_ms_connecting"]
    lines = [
        f"- Command: `{command}`; {dt.date.today().isoformat()}; {machine()}.",
        f"- Load: {summary['stations']} stations ({', '.join(summary['versions'])} in turn), all in one process; "
        f"heartbeat interval {args.heartbeat} s; {args.charging_share:.0%} of the stations run sessions "
        f"(mean {args.session:.0f} s, mean idle gap {args.idle:.0f} s, meter values every "
        f"{args.meter_interval} s); connect rate {args.connect_rate:.0f}/s; then {args.duration:.0f} s of "
        "activity, an orderly end (sessions finished, answers and queues drained) and stop.",
        f"- Connected and accepted: {summary['accepted_after_connect']}/{summary['stations']} after "
        f"{summary['connect_s']} s; {summary['connected_at_end']} connected at the end of the activity.",
        f"- **Fleet RSS per station: {per / 1024:.1f} KiB** running ({idle / 1024:.1f} KiB built, before "
        f"connecting); fleet process RSS {summary['rss_bytes_running'] / mib:.0f} MiB "
        f"(peak {summary['max_rss_bytes'] / mib:.0f} MiB).",
        f"- Fleet CPU during the activity: {summary['cpu_share_during_activity']:.2f} of a core; "
        f"CSMS process: {summary['csms_cpu_share_overall']:.2f} of a core over the whole run, "
        f"RSS {summary['csms_rss_bytes_end'] / mib:.0f} MiB.",
        f"- CALLs: {summary['calls_sent']} sent ({summary['calls_per_s_during_activity']}/s during the "
        f"activity), {summary['calls_answered']} answered: "
        + ", ".join(f"{k} {v}" for k, v in summary["calls_by_action"].items())
        + ".",
        f"- EV arrivals: {summary['ev_arrivals']}; sessions (transactions the CSMS accepted): "
        f"{summary['sessions_started']} started, {summary['sessions_completed']} completed; "
        f"transactions {summary['transactions_started']} started, {summary['transactions_ended']} ended.",
        f"- Errors: {summary['call_errors']} CALLERRORs, {summary['call_timeouts']} timeouts, "
        f"{summary['calls_rejected']} refusals, {summary['connection_lost_during_run']} calls lost to a "
        f"dropped connection, {summary['calls_lost_at_stop']} unanswered at stop, "
        f"{summary['transaction_messages_still_queued']} transaction messages still queued; CSMS error log "
        f"lines: {summary['csms_error_log_lines']}.",
        f"- Latency (station send -> answer, including the wait behind the station's own outstanding CALL): "
        f"p50 {latency['p50']} ms, p90 {latency['p90']} ms, p99 {latency['p99']} ms, max {latency['max']} ms "
        f"during the activity and the end; while connecting (boot burst): p50 {boot['p50']} ms, "
        f"p99 {boot['p99']} ms, max {boot['max']} ms.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stations", type=int, default=5000)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of activity after connecting")
    parser.add_argument("--versions", default="1.6,2.0.1,2.1")
    parser.add_argument("--heartbeat", type=int, default=60, help="heartbeat interval the CSMS gives (s)")
    parser.add_argument("--session", type=float, default=120.0, help="mean session length (s)")
    parser.add_argument("--idle", type=float, default=1080.0, help="mean gap between sessions (s)")
    parser.add_argument("--charging-share", type=float, default=1.0, help="share of stations with sessions")
    parser.add_argument("--meter-interval", type=int, default=30, help="TxUpdatedInterval (s)")
    parser.add_argument("--connect-rate", type=float, default=100.0, help="new connections per second")
    parser.add_argument("--connect-wait", type=float, default=120.0, help="max wait for all boots (s)")
    parser.add_argument("--json", action="store_true", help="print the raw summary as JSON")
    args = parser.parse_args()
    summary = asyncio.run(bench(args))
    command = "python bench/station_fleet.py " + " ".join(sys.argv[1:])
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    print(report(summary, args, command.strip()))


if __name__ == "__main__":
    main()
