"""Results of a run: one console line per case, a summary per certification profile, JUnit XML and JSON.

Outcomes: PASS; FAIL (with the step and what differed); N/A (an optional feature the implementation does
not declare); XFAIL (failed, and listed as an expected failure with its reason); XPASS (listed as an
expected failure, yet passed). FAIL and XPASS fail the run: an expected-failure list must be kept true.
"""

from __future__ import annotations

import enum
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chargeplane.tools.conformance.case import TestCase


class Outcome(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NA = "N/A"
    XFAIL = "XFAIL"
    XPASS = "XPASS"

    @property
    def fails_run(self) -> bool:
        return self in (Outcome.FAIL, Outcome.XPASS)


@dataclass(frozen=True)
class CaseResult:
    case: TestCase
    outcome: Outcome
    detail: str = ""  # FAIL: "step N: ..."; N/A: the missing features; XFAIL/XPASS: the listed reason
    seconds: float = 0.0
    step: str | None = None  # the failing step, when one failed


def judge(
    case: TestCase, failure: str | None, step: str | None, expected: dict[str, str], seconds: float
) -> CaseResult:
    """The outcome of a case that ran, given the expected-failure list."""
    reason = expected.get(case.id)
    if failure is None:
        if reason is not None:
            return CaseResult(
                case, Outcome.XPASS, f"listed as expected failure ({reason}) but passed", seconds
            )
        return CaseResult(case, Outcome.PASS, "", seconds)
    if reason is not None:
        return CaseResult(case, Outcome.XFAIL, f"{failure} [expected: {reason}]", seconds, step)
    return CaseResult(case, Outcome.FAIL, failure, seconds, step)


def not_applicable(case: TestCase, missing: Sequence[str]) -> CaseResult:
    return CaseResult(case, Outcome.NA, f"needs optional feature(s) {', '.join(missing)}, not declared")


def excluded(case: TestCase, declared: Sequence[str]) -> CaseResult:
    """N/A for a case whose condition is NOT a feature or profile the SUT declares (e.g. NOT C-13)."""
    return CaseResult(case, Outcome.NA, f"only for implementations without {', '.join(declared)}")


def exit_status(results: Sequence[CaseResult]) -> int:
    return 1 if any(r.outcome.fails_run for r in results) else 0


def console_line(result: CaseResult) -> str:
    text = f"{result.outcome.value:<5} {result.case.id:<14} {result.case.name}"
    if result.detail:
        text += f"\n      {result.detail}"
    return text


def profile_summary(results: Sequence[CaseResult]) -> dict[str, dict[str, int]]:
    """Counts of each outcome per certification profile (a case in two profiles counts in both)."""
    summary: dict[str, dict[str, int]] = {}
    for result in results:
        for profile in result.case.profiles:
            counts = summary.setdefault(profile, {o.value: 0 for o in Outcome})
            counts[result.outcome.value] += 1
    return summary


def summary_lines(results: Sequence[CaseResult]) -> list[str]:
    lines = []
    for profile, counts in profile_summary(results).items():
        parts = ", ".join(f"{count} {name}" for name, count in counts.items() if count)
        lines.append(f"{profile}: {parts}")
    verdict = "FAILED" if exit_status(results) else "OK"
    lines.append(f"{len(results)} cases: {verdict}")
    return lines


def to_json(results: Sequence[CaseResult], direction: str) -> dict[str, Any]:
    return {
        "direction": direction,
        "passed": exit_status(results) == 0,
        "profiles": profile_summary(results),
        "cases": [
            {
                "id": r.case.id,
                "name": r.case.name,
                "outcome": r.outcome.value,
                "step": r.step,
                "detail": r.detail,
                "seconds": round(r.seconds, 3),
                "profiles": list(r.case.profiles),
                "useCases": list(r.case.use_cases),
                "requirements": list(r.case.requirements),
                "features": list(r.case.features),
            }
            for r in results
        ],
    }


def to_junit(results: Sequence[CaseResult], direction: str) -> ET.ElementTree[ET.Element]:
    """One testsuite per profile; N/A and XFAIL are skipped, FAIL and XPASS are failures."""
    root = ET.Element("testsuites", name=f"chargeplane conformance {direction}")
    for profile in profile_summary(results):
        members = [r for r in results if profile in r.case.profiles]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{direction}.{profile}",
            tests=str(len(members)),
            failures=str(sum(r.outcome.fails_run for r in members)),
            skipped=str(sum(r.outcome in (Outcome.NA, Outcome.XFAIL) for r in members)),
            errors="0",
            time=f"{sum(r.seconds for r in members):.3f}",
        )
        for r in members:
            testcase = ET.SubElement(
                suite, "testcase", classname=f"{direction}.{profile}", name=r.case.id, time=f"{r.seconds:.3f}"
            )
            if r.outcome.fails_run:
                ET.SubElement(testcase, "failure", message=r.detail, type=r.outcome.value).text = r.detail
            elif r.outcome in (Outcome.NA, Outcome.XFAIL):
                ET.SubElement(testcase, "skipped", message=f"{r.outcome.value}: {r.detail}")
    return ET.ElementTree(root)


def write_reports(
    results: Sequence[CaseResult], direction: str, junit: Path | None, json_path: Path | None
) -> None:
    if junit is not None:
        tree = to_junit(results, direction)
        ET.indent(tree)
        tree.write(junit, encoding="utf-8", xml_declaration=True)
    if json_path is not None:
        json_path.write_text(json.dumps(to_json(results, direction), indent=2) + "\n", encoding="utf-8")
