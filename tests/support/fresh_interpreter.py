"""What a piece of code imports, measured in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def modules_imported_by(code: str) -> list[str]:
    """Top-level names of every module loaded after running `code` in a fresh interpreter.

    A fresh interpreter, because the test tools already loaded in this one would hide an import.
    """
    script = f"{code}\nimport json, sys\n" + (
        "print(json.dumps(sorted({name.partition('.')[0] for name in sys.modules})))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    imported: list[str] = json.loads(completed.stdout.splitlines()[-1])
    return imported
