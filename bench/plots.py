"""PNG plots of the end-to-end benchmark (issue #6), drawn from the raw results of ``bench/e2e.py``.

Reads the JSON that ``bench/e2e.py`` writes (``bench/e2e-results.json`` by default in full mode, or the
file given with its ``--json``) and writes, next to bench/RESULTS.md:

- ``throughput_vs_stations.png``: sustained TransactionEvents/s (closed loop; every event persisted by our
  CSMS before it answers, the baseline persists nothing) at each station count, for ours on SQLite, ours
  on PostgreSQL and the baseline (the ``ocpp`` package);
- ``latency_percentiles.png``: p50 / p99 / p99.9 latency of the open-loop run at half of each server's own
  maximum rate, per server and station count, with the p99 < 50 ms goal.

Run: ``.venv/bin/python bench/plots.py`` (``make bench`` runs it after ``bench/e2e.py``). Not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display needed

import matplotlib.pyplot as plt

BENCH = Path(__file__).resolve().parent
DEFAULT_JSON = BENCH / "e2e-results.json"
THROUGHPUT_PNG = "throughput_vs_stations.png"
LATENCY_PNG = "latency_percentiles.png"
# Drawing order, legend label and colour of each server in the JSON's "throughput" block.
SERVERS = {
    "sqlite": ("ours, SQLite", "#1f77b4"),
    "postgres": ("ours, PostgreSQL", "#2ca02c"),
    "baseline": ("baseline (ocpp package, persists nothing)", "#7f7f7f"),
}
PERCENTILES = (("p50_ms", "p50", 1.0), ("p99_ms", "p99", 0.7), ("p999_ms", "p99.9", 0.45))
P99_GOAL_MS = 50.0


def caption(results: dict[str, Any], source: Path, note: str | None) -> str:
    info = results.get("machine")
    if info:
        text = (
            f"Run of {info.get('date', '?')} (commit {info.get('git', '?')}); machine: {info.get('nproc', '?')} "
            f"CPUs ({info.get('cpu', '?')}), shared VM, Python {info.get('python', '?')}, websockets "
            f"{info.get('websockets', '?')}; server, load client (bench/loadgen.py) and orchestrator on "
            f"127.0.0.1. Source: {source.name} written by bench/e2e.py; see bench/RESULTS.md."
        )
    else:
        text = f"Date and machine not recorded in {source.name}. Source: bench/e2e.py; see bench/RESULTS.md."
    if note:
        text += f" {note}"
    return "\n".join(textwrap.wrap(text, 130))


def servers_in(results: dict[str, Any]) -> list[str]:
    throughput = results.get("throughput", {})
    return [name for name in SERVERS if throughput.get(name)]


def sizes_in(results: dict[str, Any]) -> list[str]:
    sizes = {size for rows in results.get("throughput", {}).values() for size in rows}
    return sorted(sizes, key=int)


def finish(fig: Any, text: str, path: Path) -> None:
    fig.text(0.01, 0.01, text, ha="left", va="bottom", fontsize=7.5, color="#333333")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def plot_throughput(results: dict[str, Any], text: str, path: Path) -> None:
    throughput = results["throughput"]
    servers, sizes = servers_in(results), sizes_in(results)
    fig, ax = plt.subplots(figsize=(10, 6.2))
    fig.subplots_adjust(left=0.09, right=0.98, top=0.86, bottom=0.2)
    width = 0.8 / len(servers)
    for index, name in enumerate(servers):
        label, colour = SERVERS[name]
        xs, rates = [], []
        for position, size in enumerate(sizes):
            row = throughput[name].get(size)
            if row:
                xs.append(position + (index - (len(servers) - 1) / 2) * width)
                rates.append(row["closed"]["rate"])
        bars = ax.bar(xs, rates, width * 0.95, label=label, color=colour)
        for bar, x, rate in zip(bars, xs, rates, strict=True):
            size = sizes[round(x)]
            base = throughput.get("baseline", {}).get(size)
            ratio = f"\n{rate / base['closed']['rate']:.2f}x baseline" if base and name != "baseline" else ""
            ax.annotate(
                f"{rate:,.0f}{ratio}",
                (bar.get_x() + bar.get_width() / 2, rate),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8.5,
            )
    ax.set_xticks(range(len(sizes)), [f"{int(size):,} stations" for size in sizes])
    ax.set_xlabel("connected charging stations (one CALL outstanding per station)")
    ax.set_ylabel("TransactionEvents/s (persisted by ours)")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.45)  # room for the legend above the bars
    ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    fig.suptitle("Sustained TransactionEvents/s vs connected stations (higher is better)", fontsize=13)
    ax.set_title(
        "closed loop, OCPP 2.0.1 TransactionEvent Updated with 4 sampled values; our CSMS commits every "
        "event before it answers",
        fontsize=9,
    )
    finish(fig, text, path)


def plot_latency(results: dict[str, Any], text: str, path: Path) -> None:
    throughput = results["throughput"]
    servers, sizes = servers_in(results), sizes_in(results)
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.2 * len(sizes) + 1, 6.2), sharey=True, squeeze=False)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.84, bottom=0.22, wspace=0.06)
    width = 0.8 / len(PERCENTILES)
    for ax, size in zip(axes[0], sizes, strict=True):
        names = [name for name in servers if throughput[name].get(size)]
        for index, (key, label, alpha) in enumerate(PERCENTILES):
            xs = [position + (index - (len(PERCENTILES) - 1) / 2) * width for position in range(len(names))]
            values = [throughput[name][size]["open"][key] for name in names]
            colours = [SERVERS[name][1] for name in names]
            bars = ax.bar(
                xs, values, width * 0.95, color=colours, alpha=alpha, edgecolor="black", linewidth=0.4
            )
            for bar, value in zip(bars, values, strict=True):
                ax.annotate(
                    f"{label}\n{value:,.1f}",
                    (bar.get_x() + bar.get_width() / 2, value),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
        rates = [f"{throughput[name][size]['open']['rate']:,.0f}/s" for name in names]
        ax.set_xticks(
            range(len(names)),
            [
                f"{SERVERS[name][0].split(' (')[0]}\nat {rate}"
                for name, rate in zip(names, rates, strict=True)
            ],
            fontsize=8.5,
        )
        ax.axhline(P99_GOAL_MS, color="#d62728", linestyle="--", linewidth=1)
        ax.set_title(f"{int(size):,} stations", fontsize=11)
        ax.set_yscale("log")
        ax.grid(axis="y", which="both", alpha=0.25)
        ax.set_xlabel("server, open-loop rate (half of its own max)")
    axes[0][0].set_ylabel("latency CALL -> CALLRESULT (ms, log scale)")
    top = max(
        throughput[name][size]["open"]["p999_ms"]
        for name in servers
        for size in sizes
        if throughput[name].get(size)
    )
    axes[0][0].set_ylim(1, max(top, P99_GOAL_MS) * 4)
    handles = [
        matplotlib.patches.Patch(facecolor=SERVERS[name][1], edgecolor="black", label=SERVERS[name][0])
        for name in servers
    ]
    handles.append(
        matplotlib.lines.Line2D([], [], color="#d62728", linestyle="--", label="goal: p99 < 50 ms")
    )
    # Below the panels, where no bar or value label can be: tall bars would hide behind a legend inside one.
    fig.legend(
        handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.07), ncols=len(handles), fontsize=8.5
    )
    fig.suptitle("TransactionEvent latency percentiles: p50 / p99 / p99.9 (lower is better)", fontsize=13)
    fig.text(
        0.5,
        0.895,
        "open loop: each station sends on a fixed schedule (random phase) at a total of half of that server's "
        "own maximum; latency from the scheduled send time; bars left to right: p50, p99, p99.9",
        ha="center",
        fontsize=8.5,
    )
    finish(fig, text, path)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="raw results of bench/e2e.py")
    parser.add_argument("--out-dir", type=Path, default=BENCH, help="where the PNG files go")
    parser.add_argument("--note", help="extra text for the caption (e.g. where the figures come from)")
    args = parser.parse_args()
    try:
        results: dict[str, Any] = json.loads(args.json.read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(f"{args.json} not found: run .venv/bin/python bench/e2e.py first", file=sys.stderr)
        return 1
    if not servers_in(results):
        print(f"{args.json} has no throughput results (run bench/e2e.py without --only)", file=sys.stderr)
        return 1
    text = caption(results, args.json, args.note)
    plot_throughput(results, text, args.out_dir / THROUGHPUT_PNG)
    plot_latency(results, text, args.out_dir / LATENCY_PNG)
    return 0


if __name__ == "__main__":
    sys.exit(main())
