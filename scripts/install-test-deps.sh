#!/usr/bin/env bash
# Install the system packages the test suite needs: the database servers it starts by itself
# (tests/dbservers.py), MariaDB (server + client) and PostgreSQL; and Debian's Chromium with
# CJK and emoji fonts for the browser tests (tests/web/test_ai_call_page.py, driven by
# Playwright; never `playwright install`). Idempotent: does nothing, quickly, when everything
# is already there. Never leaves a system-wide database service running.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

have_postgresql() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [[ -x "$d/initdb" && -x "$d/postgres" ]]; then
            return 0
        fi
    done
    return 1
}

have_deb() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

have_any() {
    local name
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1 || [[ -x "/usr/sbin/$name" || -x "/usr/bin/$name" ]]; then
            return 0
        fi
    done
    return 1
}

packages=()
if ! have_any mariadbd mysqld || ! have_any mariadb-install-db mysql_install_db; then
    packages+=(mariadb-server)
fi
if ! have_any mariadb mysql; then
    packages+=(mariadb-client)
fi
if ! have_postgresql; then
    packages+=(postgresql)
fi
if [[ ! -x /usr/bin/chromium ]]; then
    packages+=(chromium)
fi
for font in fonts-noto-cjk fonts-noto-color-emoji; do
    have_deb "$font" || packages+=("$font")
done

if [[ ${#packages[@]} -eq 0 ]]; then
    echo "install-test-deps: MariaDB, PostgreSQL, Chromium and its fonts are already installed"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    SUDO=(sudo)
else
    SUDO=()
fi

# Server processes that were already running before us: never touched.
# (pgrep matches nothing for patterns over 15 characters, so one name at a time)
server_pids() {
    local name
    for name in mariadbd mysqld postgres; do
        pgrep -x "$name" 2>/dev/null || true
    done
}
mapfile -t before < <(server_pids)

# Keep the packages' maintainer scripts from starting system-wide services
# (mariadb on 3306, postgresql on 5432): invoke-rc.d asks policy-rc.d first.
policy=/usr/sbin/policy-rc.d
backup=""
if [[ -e $policy ]]; then
    backup=$(mktemp)
    "${SUDO[@]}" cp -p "$policy" "$backup"
fi
restore_policy() {
    if [[ -n $backup ]]; then
        "${SUDO[@]}" cp -p "$backup" "$policy"
        rm -f "$backup"
    else
        "${SUDO[@]}" rm -f "$policy"
    fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# written by scripts/install-test-deps.sh while it installs\nexit 101\n' \
    | "${SUDO[@]}" tee "$policy" >/dev/null
"${SUDO[@]}" chmod 755 "$policy"

echo "install-test-deps: installing ${packages[*]}"
start=$SECONDS
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "install-test-deps: installed in $((SECONDS - start)) s"

# If a server got started by the install anyway, stop that one (by its PID) only.
mapfile -t after < <(server_pids)
for pid in "${after[@]}"; do
    [[ -n $pid ]] || continue
    if [[ " ${before[*]} " != *" $pid "* ]]; then
        echo "install-test-deps: stopping server process $pid started by the install"
        "${SUDO[@]}" kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        "${SUDO[@]}" kill -KILL "$pid" 2>/dev/null || true
    fi
done
