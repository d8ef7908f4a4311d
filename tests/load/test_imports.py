"""The engine stays free of locust/gevent (they patch the process on import) and of TensorFlow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tfsverify

PACKAGE = Path(tfsverify.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_locust_user_module_imports_locust() -> None:
    importers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if imported_roots(path) & {"locust", "gevent"}
    }
    assert importers == {"load/locust_user.py"}


def test_importing_the_engine_and_its_command_loads_no_locust_nor_tensorflow() -> None:
    code = (
        "import sys, tfsverify.load, tfsverify.load.command, tfsverify.load.workers;"
        "bad = {'locust', 'gevent', 'tensorflow'} & set(sys.modules); print(sorted(bad))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
