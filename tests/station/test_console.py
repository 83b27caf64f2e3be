"""The progress line of ``chargeplane simulate`` and the log records: never on the same line."""

from __future__ import annotations

import io
import logging

from chargeplane.logs import configure
from chargeplane.station.console import CLEAR_LINE, ProgressLine


def _session(tty: bool) -> str:
    """A progress report, a warning, another report, through the logging setup of every command (the
    caller restores the root logger)."""
    stream = io.StringIO()
    configure("INFO", "text", stream)
    progress = ProgressLine(stream, tty=tty)
    with progress.around_logs():
        progress.show("10s  online 3/3")
        logging.getLogger("chargeplane.test").warning("a station lost its connection")
        progress.show("12s  online 2/3")
    return stream.getvalue()


def test_on_a_terminal_each_log_record_gets_its_own_line_and_the_progress_is_redrawn_below(
    restore_root_logger: None,
) -> None:
    screen = _render(_session(True))
    assert screen[-1] == ""  # the progress line was cleared at the end (the summary starts clean)
    assert len(screen) == 2
    assert screen[0].endswith("chargeplane.test: a station lost its connection")  # alone on its line
    assert "online" not in screen[0]


def test_elsewhere_progress_reports_are_whole_lines(restore_root_logger: None) -> None:
    text = _session(False)
    lines = text.splitlines()
    assert lines[0] == "10s  online 3/3"
    assert lines[1].endswith("chargeplane.test: a station lost its connection")
    assert lines[2] == "12s  online 2/3"
    assert CLEAR_LINE not in text


def _render(text: str) -> list[str]:
    """What a terminal shows: ``CLEAR_LINE`` erases the current line, ``\\n`` starts a new one."""
    lines = [""]
    for index, part in enumerate(text.split(CLEAR_LINE)):
        if index:
            lines[-1] = ""
        for number, piece in enumerate(part.split("\n")):
            if number:
                lines.append("")
            lines[-1] += piece
    return lines
