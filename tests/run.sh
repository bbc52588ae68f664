#!/bin/sh
# Set up and run the whole test suite: `sh tests/run.sh` as root (or `sudo sh tests/run.sh`).
#
# Meant for a fresh Debian 12 machine and for CI (.ci/run, CI=true, no stdin).
# Idempotent: system packages are installed only when missing, the virtualenv
# is created only once.  Works from any directory.  Needs root because the
# differential and lab tests build network namespaces.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# dnsmasq, iptables and ip live in sbin, which a non-login PATH may lack
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export PATH

# What the suite drives: nmap and ndiff (oracles), xmllint/xsltproc (XML
# checks), dnsmasq/iptables/ip/tcpdump/ethtool (the lab), python3 -m venv.
need_pkgs=""
want() {  # want COMMAND PACKAGE: queue PACKAGE when COMMAND is absent
    command -v "$1" >/dev/null 2>&1 || need_pkgs="$need_pkgs $2"
}
want nmap nmap
want ndiff ndiff
want xmllint libxml2-utils
want xsltproc xsltproc
want dnsmasq dnsmasq-base
want iptables iptables
want ip iproute2
want tcpdump tcpdump
want ethtool ethtool
# The -sV lab's real services (tests/support/servicelab.py starts each one by
# hand in a namespace, with its own config in a temporary directory).  `nginx`
# is bookworm's core build: nginx-light is that plus an echo module.
want sshd openssh-server
want vsftpd vsftpd
want nginx nginx
want redis-server redis-server
want memcached memcached
want exim4 exim4-daemon-light
want openssl openssl
# --proxies' lab (tests/support/proxylab.py): SOCKS4/5 and HTTP CONNECT daemons
want danted dante-server
want tinyproxy tinyproxy
# Debian's python3 lacks ensurepip, which `python3 -m venv` needs
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need_pkgs="$need_pkgs python3 python3-venv"
fi
if [ -n "$need_pkgs" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "tests/run.sh: missing packages:$need_pkgs; run as root (sudo sh tests/run.sh)" >&2
        exit 1
    fi
    echo "tests/run.sh: installing$need_pkgs"
    DEBIAN_FRONTEND=noninteractive
    export DEBIAN_FRONTEND
    apt-get update </dev/null
    # The daemons among them must not start on install: the lab starts its own
    # copies, and nothing may be left listening.  Debian's maintainer scripts
    # start services through invoke-rc.d, which asks policy-rc.d first (101:
    # action forbidden); a policy-rc.d already there is kept and put back.
    policy=/usr/sbin/policy-rc.d
    saved=""
    if [ -e "$policy" ]; then
        saved=$(mktemp)
        cp -p "$policy" "$saved"
    fi
    restore_policy() {
        if [ -n "$saved" ]; then
            cp -p "$saved" "$policy" && rm -f "$saved"
        else
            rm -f "$policy"
        fi
    }
    trap restore_policy EXIT
    printf '#!/bin/sh\n# tests/run.sh: no service starts while it installs packages\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    # shellcheck disable=SC2086  # one word per package
    apt-get install -y --no-install-recommends $need_pkgs </dev/null
    restore_policy
    trap - EXIT
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# Editable install: reinstalled only when pyproject.toml changed since the last one
stamp=.venv/.pynmap-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ ! -x .venv/bin/pynmap ]; then
    .venv/bin/pip install -q --disable-pip-version-check -e '.[test]' </dev/null
    touch "$stamp"
fi

.venv/bin/ruff check pynmap tests benchmarks
# strict type checking of the package ([tool.mypy] in pyproject.toml); errors fail the script
.venv/bin/mypy

# pytest's own exit codes: 0 all passed, 1 failures, 5 nothing collected.
# Every one but 0 fails this script (set -e), 5 included.
status=0
.venv/bin/pytest </dev/null || status=$?
if [ "$status" -eq 5 ]; then
    echo "tests/run.sh: pytest collected no tests" >&2
fi
exit "$status"
