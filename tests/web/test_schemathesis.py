"""Property-based run of Schemathesis over the OpenAPI schema of a real server: every check it
has (no 5xx, status codes and bodies as documented, Allow headers, stateful links...), with a
bounded number of examples per operation. `schemathesis.toml` at the root holds its settings.

One worker: with several threads, Hypothesis trips over a CPython 3.11.7 `ast.parse` bug
("AST constructor recursion depth mismatch") that has nothing to do with our API."""

import os
import subprocess
import sys
from pathlib import Path

from tests.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "30")


def test_api_conforms_to_its_schema_and_never_fails(live_server: LiveServer) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{live_server.url}/api/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        MAX_EXAMPLES,
        "--no-color",
    ]
    if seed := os.environ.get("SCHEMATHESIS_SEED"):
        command += ["--seed", seed]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "Failures:" not in result.stdout, report
    assert " passed" in result.stdout, report
