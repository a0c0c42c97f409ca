#!/usr/bin/env bash
# Install the system packages the test suite needs: the database servers it starts by itself
# (tests/dbservers.py), MariaDB (server + client) and PostgreSQL; Debian's Janus, which the tests
# start through Parley's supervisor (tests/janus/); Debian's Chromium with CJK and emoji fonts
# for the browser tests (tests/web/test_ai_call_page.py, driven by Playwright; never
# `playwright install`); and Debian's Firefox ESR (tests/web/test_ai_call_page_firefox.py,
# driven over WebDriver BiDi, which it speaks natively). Idempotent: does nothing, quickly, when everything is already there.
# Never leaves a system-wide database or Janus service running.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive

# shellcheck source=scripts/lib.sh
source scripts/lib.sh

have_postgresql() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [[ -x "$d/initdb" && -x "$d/postgres" ]]; then
            return 0
        fi
    done
    return 1
}

ensure_janus

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
if [[ ! -x /usr/bin/firefox-esr ]]; then
    packages+=(firefox-esr)
fi
for font in fonts-noto-cjk fonts-noto-color-emoji; do
    have_deb "$font" || packages+=("$font")
done

if [[ ${#packages[@]} -eq 0 ]]; then
    say "MariaDB, PostgreSQL, Janus, Chromium and its fonts, Firefox are already installed"
    exit 0
fi
apt_install_no_services "${packages[@]}"
