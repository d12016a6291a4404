#!/usr/bin/env bash
# Development environment set-up for switch-agent; the Makefile calls this.
#
#   scripts/setup.sh venv      .venv: Python 3.11, `pip install -e '.[test,lint]'`
#                              (reinstalled only when pyproject.toml changes)
#   scripts/setup.sh deps      Debian packages the tests and benches need (ovs-ofctl,
#                              iperf3, ping, OVS's ovs-vswitchd); apt-get runs only
#                              if a binary is missing, with service starts forbidden
#   scripts/setup.sh ryu-venv  .ryu-venv: Ryu 4.34 on pyenv's Python 3.9, the
#                              independent OpenFlow implementation the tests compare with
#   scripts/setup.sh all       all three, in that order
#
# Each step is idempotent and fails loudly with the reason and the fix.
# Stamp files inside each venv record the recipe it was built from: a changed
# recipe (pyproject.toml, the Ryu pins below, the interpreter) rebuilds it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${VENV:-$ROOT/.venv}"
RYU_VENV="${RYU_VENV:-$ROOT/.ryu-venv}"

# The Ryu recipe. Ryu 4.34 (the last release) imports and runs unmodified on
# Python 3.9 with eventlet 0.30.2 (newer eventlets removed APIs Ryu uses).
# Its setup hook (ryu/hooks.py) patches setuptools' easy_install.get_script_args,
# which setuptools 68 removed, so it is built with an old setuptools (<58, the
# long-standing recipe; measured: up to 67.x builds too) and --no-build-isolation,
# else pip builds it in an isolated env with the newest setuptools and fails.
# eventlet 0.30.2 itself pins dnspython<2. See docs/development.md.
RYU_BOOTSTRAP=("setuptools<58" "wheel")
RYU_PACKAGES=("ryu==4.34" "eventlet==0.30.2")
RYU_PY_MINOR="3.9"

# Debian packages as "binary:package": the package is installed when the binary is
# not on PATH. ovs-ofctl is the independent OpenFlow client/printer the cross-checks
# use; iperf3 and ping drive the integration tests' and bench/datapath.py's TCP and
# RTT figures; ovs-vswitchd is the OVS-netdev reference bench/datapath.py starts in a
# private directory (the package's system service is never started: see
# with_services_forbidden); mininet (Debian's 2.3, for /usr/bin/python3) for the
# Mininet switch class's tests (tests/integration/test_mininet.py).
DEBIAN_PACKAGES=(
    "ovs-ofctl:openvswitch-common"
    "iperf3:iperf3"
    "ping:iputils-ping"
    "ovs-vswitchd:openvswitch-switch"
    "mnexec:mininet"
)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

# quiet_pip LOG PYTHON ARGS...: pip with its chatter in LOG, shown only on failure.
quiet_pip() {
    local log="$1" python="$2"
    shift 2
    if ! "$python" -m pip install --disable-pip-version-check "$@" >>"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "pip install $* failed (full log: $log)"
    fi
}

sha() { sha256sum | cut -d' ' -f1; }

pyenv_root() {
    if [[ -n "${PYENV_ROOT:-}" ]]; then
        printf '%s\n' "$PYENV_ROOT"
    elif command -v pyenv >/dev/null 2>&1; then
        pyenv root
    else
        printf '%s\n' "$HOME/.pyenv"
    fi
}

# find_python MINOR: the newest pyenv-installed CPython MINOR.x, else pythonMINOR on PATH.
find_python() {
    local minor="$1" minor_tuple="${1/./, }" root candidate
    root="$(pyenv_root)"
    candidate="$(compgen -G "$root/versions/$minor.*/bin/python$minor" | sort -V | tail -n1 || true)"
    if [[ -n "$candidate" && -x "$candidate" ]]; then
        printf '%s\n' "$candidate"
        return 0
    fi
    # Not via pyenv: accept a real interpreter on PATH (not a pyenv shim, which
    # may resolve to a different version depending on the directory).
    candidate="$(command -v "python$minor" || true)"
    if [[ -n "$candidate" && "$candidate" != */shims/* ]] \
        && "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != ($minor_tuple))" 2>/dev/null; then
        printf '%s\n' "$candidate"
        return 0
    fi
    return 1
}

# ------------------------------------------------------------------ .venv
cmd_venv() {
    local py stamp want
    py="$(find_python 3.11)" || die "Python 3.11 not found: looked for $(pyenv_root)/versions/3.11.*/bin/python3.11 and python3.11 on PATH.
  Fix: pyenv install 3.11   (or install python3.11 and put it on PATH)"

    # Rebuild if the venv is missing or its interpreter is broken/not 3.11.
    if [[ -d "$VENV" ]] && ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        log "$VENV is broken or not Python 3.11; recreating it"
        rm -rf "$VENV"
    fi
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating $VENV with $py"
        "$py" -m venv "$VENV"
    fi

    stamp="$VENV/.switch-agent-installed"
    want="$( { cat pyproject.toml; echo "$py"; } | sha)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    log "installing switch-agent (editable) with extras test,lint into $VENV"
    : >"$VENV/pip-install.log"
    quiet_pip "$VENV/pip-install.log" "$VENV/bin/python" -e ".[test,lint]"
    printf '%s\n' "$want" > "$stamp"
}

# ------------------------------------------------------------------ Debian packages
# with_services_forbidden CMD...: run CMD with a /usr/sbin/policy-rc.d that exits 101,
# so invoke-rc.d / deb-systemd-invoke start no service a package ships (no system
# ovsdb-server/ovs-vswitchd, no iperf3 daemon). Whatever policy-rc.d was there
# before is put back afterwards (ours is removed if there was none), also on failure.
POLICY_RC=/usr/sbin/policy-rc.d
with_services_forbidden() {
    local rc=0
    POLICY_RC_BACKUP=""
    if [[ -e "$POLICY_RC" ]]; then
        POLICY_RC_BACKUP="$(mktemp "$POLICY_RC.switch-agent-backup.XXXXXX")"
        cp -p "$POLICY_RC" "$POLICY_RC_BACKUP"
    fi
    trap restore_policy_rc EXIT
    trap 'exit 130' INT TERM
    printf '#!/bin/sh\n# written by switch-agent scripts/setup.sh for one apt-get run\nexit 101\n' >"$POLICY_RC"
    chmod 755 "$POLICY_RC"
    "$@" || rc=$?
    restore_policy_rc
    trap - EXIT INT TERM
    return "$rc"
}

restore_policy_rc() {
    if [[ -n "$POLICY_RC_BACKUP" ]]; then
        mv -f "$POLICY_RC_BACKUP" "$POLICY_RC"
        POLICY_RC_BACKUP=""
    else
        rm -f "$POLICY_RC"
    fi
}

cmd_deps() {
    local missing=() entry binary package
    for entry in "${DEBIAN_PACKAGES[@]}"; do
        binary="${entry%%:*}" package="${entry#*:}"
        # ovs-vswitchd lives in /usr/sbin, not on a non-root PATH.
        command -v "$binary" >/dev/null 2>&1 || [[ -x "/usr/sbin/$binary" ]] || missing+=("$package")
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "missing Debian packages ${missing[*]} and no apt-get: install them by hand"
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "missing Debian packages ${missing[*]}; need root (or sudo) to apt-get install them"
        log "missing Debian packages ${missing[*]}: re-running this step with sudo"
        sudo "$ROOT/scripts/setup.sh" deps
        return 0
    fi
    log "installing Debian packages (no services started): ${missing[*]}"
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
    "${apt[@]}" update || die "apt-get update failed"
    with_services_forbidden "${apt[@]}" install -y --no-install-recommends "${missing[@]}" \
        || die "apt-get install ${missing[*]} failed"
    for entry in "${DEBIAN_PACKAGES[@]}"; do
        binary="${entry%%:*}" package="${entry#*:}"
        command -v "$binary" >/dev/null 2>&1 || [[ -x "/usr/sbin/$binary" ]] \
            || die "installed $package but $binary is still not found"
    done
}

# ------------------------------------------------------------------ .ryu-venv
ryu_check() {
    "$RYU_VENV/bin/python" -c 'import ryu.ofproto.ofproto_v1_0_parser, ryu.ofproto.ofproto_v1_3_parser' \
        && "$RYU_VENV/bin/ryu-manager" --version >/dev/null 2>&1
}

cmd_ryu_venv() {
    local py stamp want
    py="$(find_python "$RYU_PY_MINOR")" || die "Python $RYU_PY_MINOR not found (the Ryu 4.34 + eventlet 0.30.2 recipe is for 3.9): looked for $(pyenv_root)/versions/$RYU_PY_MINOR.*/bin/python$RYU_PY_MINOR and python$RYU_PY_MINOR on PATH.
  Fix: pyenv install $RYU_PY_MINOR"

    stamp="$RYU_VENV/.ryu-recipe"
    want="$(printf '%s\n' "$py" "${RYU_BOOTSTRAP[@]}" -- "${RYU_PACKAGES[@]}" | sha)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && ryu_check; then
        return 0
    fi
    log "building $RYU_VENV: $py, ${RYU_BOOTSTRAP[*]}, then --no-build-isolation ${RYU_PACKAGES[*]}"
    rm -rf "$RYU_VENV"
    "$py" -m venv "$RYU_VENV"
    quiet_pip "$RYU_VENV/pip-install.log" "$RYU_VENV/bin/python" "${RYU_BOOTSTRAP[@]}"
    quiet_pip "$RYU_VENV/pip-install.log" "$RYU_VENV/bin/python" --no-build-isolation "${RYU_PACKAGES[@]}"
    ryu_check || die "$RYU_VENV was built but Ryu does not work: try
  $RYU_VENV/bin/python -c 'import ryu.ofproto.ofproto_v1_3_parser'
  $RYU_VENV/bin/ryu-manager --version"
    # Written last: an interrupted build has no stamp and is rebuilt next time.
    printf '%s\n' "$want" > "$stamp"
}

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

(($# >= 1)) || usage
for step in "$@"; do
    case "$step" in
        venv) cmd_venv ;;
        deps) cmd_deps ;;
        ryu-venv) cmd_ryu_venv ;;
        all) cmd_venv; cmd_deps; cmd_ryu_venv ;;
        *) usage ;;
    esac
done
