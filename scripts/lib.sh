# Shared by the set-up scripts (sourced): `say` with the script's name, package checks, and apt
# installs that never leave a system-wide service running.
say() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*"; }

# Run as root: directly when we are, through sudo otherwise.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    say "installing $* (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_deb() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# True when one of the named programs is on PATH or in /usr/sbin or /usr/bin.
have_any() {
    local name
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1 || [[ -x "/usr/sbin/$name" || -x "/usr/bin/$name" ]]; then
            return 0
        fi
    done
    return 1
}

# Server programs whose packages start a system-wide service when installed.
SERVER_NAMES=(mariadbd mysqld postgres janus)

# PIDs of running server processes (pgrep matches nothing for patterns over 15 characters,
# so one name at a time).
server_pids() {
    local name
    for name in "${SERVER_NAMES[@]}"; do
        pgrep -x "$name" 2>/dev/null || true
    done
}

# Stop one process by its PID: SIGTERM, then SIGKILL after 10 s.
stop_pid() {
    local pid=$1
    as_root kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    as_root kill -KILL "$pid" 2>/dev/null || true
}

# apt-install packages without letting their maintainer scripts start system-wide services
# (invoke-rc.d and deb-systemd-invoke ask /usr/sbin/policy-rc.d first; it says no while we
# install). A server started anyway is stopped, by its PID; servers that ran before are never
# touched.
apt_install_no_services() {
    local policy=/usr/sbin/policy-rc.d backup="" before after pid start=$SECONDS
    mapfile -t before < <(server_pids)
    if [[ -e $policy ]]; then
        backup=$(mktemp)
        as_root cp -p "$policy" "$backup"
    fi
    printf '#!/bin/sh\n# written by scripts/lib.sh while it installs\nexit 101\n' \
        | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    local status=0
    apt_install "$@" || status=$?
    if [[ -n $backup ]]; then
        as_root cp -p "$backup" "$policy"
        rm -f "$backup"
    else
        as_root rm -f "$policy"
    fi
    ((status == 0)) || return "$status"
    say "installed in $((SECONDS - start)) s"
    mapfile -t after < <(server_pids)
    for pid in "${after[@]}"; do
        [[ -n $pid && " ${before[*]} " != *" $pid "* ]] || continue
        say "stopping server process $pid started by the install"
        stop_pid "$pid"
    done
}

# Debian's Janus WebRTC Gateway, which Parley runs itself with a generated configuration
# (parley/janus/process.py). Its system-wide service is neither started nor enabled at boot.
ensure_janus() {
    have_any janus && return 0
    apt_install_no_services janus
    if command -v systemctl >/dev/null 2>&1; then
        as_root systemctl disable janus.service >/dev/null 2>&1 || true
    fi
    say "janus $(janus --help 2>/dev/null | sed -n '1s/.*(\(.*\)).*/\1/p') installed"
}
