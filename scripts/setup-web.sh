#!/usr/bin/env bash
# Installs the pages' browser dependencies (socket.io-client, and swagger-ui-dist for /api/docs;
# pinned by web/package-lock.json) into web/node_modules/, from which the server serves them;
# Node.js and npm come from apt when missing. Idempotent, and instant when node_modules is already newer than the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
source scripts/lib.sh

command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm

# `npm ci` rewrites node_modules/ whole; the directory is touched after it, so its time says when.
if [[ ! -d web/node_modules || web/package-lock.json -nt web/node_modules ]]; then
    say "installing web/ dependencies (npm ci)"
    # No install scripts: none is needed, and swagger-ui-dist's @scarf/scarf would report the
    # install to an outside host (package.json's scarfSettings turns it off for `npm install` too).
    (cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    touch web/node_modules
fi
version() { node -p "require('./web/node_modules/$1/package.json').version"; }
say "ready: socket.io-client $(version socket.io-client), swagger-ui-dist $(version swagger-ui-dist)"
