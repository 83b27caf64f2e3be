"""Write docs/SETTINGS.md from the settings dataclasses (``--check``: fail if it is not up to date)."""

from __future__ import annotations

import sys
from pathlib import Path

from chargeplane.csms.config import markdown

TARGET = Path(__file__).resolve().parent.parent / "docs" / "SETTINGS.md"


def main(argv: list[str]) -> int:
    text = markdown()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python scripts/settings_doc.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
