# Shared by the set-up scripts (sourced): `say` with the script's name, and `apt_install`.
say() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*"; }

apt_install() {
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    say "installing $* (apt)"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
