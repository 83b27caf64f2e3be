"""The live progress line of a long command (``chargeplane simulate``), kept apart from the log records.

On a terminal the progress is one line redrawn in place at the bottom; a log record clears it, prints
itself on a line of its own and redraws it, so the two never share a line. Elsewhere (a file, a pipe, CI)
nothing is redrawn: each progress report is a line of its own between whole log lines.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

CLEAR_LINE = "\r\x1b[K"  # back to column 0, erase to the end of the line


class ProgressLine(io.TextIOBase):
    """Shows progress on ``stream``; also the stream of the log handlers that wrote to it (see
    :meth:`around_logs`)."""

    def __init__(self, stream: TextIO, tty: bool | None = None) -> None:
        super().__init__()
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.text = ""  # what the line shows now (terminal only)

    def show(self, text: str) -> None:
        if self.tty:
            self.text = text
            self.stream.write(CLEAR_LINE + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def write(self, text: str) -> int:
        """A log record: on a terminal, printed over the cleared progress line, which is then redrawn."""
        if self.tty and self.text:
            self.stream.write(CLEAR_LINE + text + (self.text if text.endswith("\n") else ""))
        else:
            self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def finish(self) -> None:
        """Clear the progress line, so that what follows starts on a clean line."""
        if self.tty and self.text:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
        self.text = ""

    @contextmanager
    def around_logs(self) -> Iterator[None]:
        """While inside, the root logger's handlers that wrote to our stream write through us."""
        handlers = [
            handler
            for handler in logging.getLogger().handlers
            if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream
        ]
        for handler in handlers:
            handler.setStream(self)
        try:
            yield
        finally:
            for handler in handlers:
                handler.setStream(self.stream)
            self.finish()
