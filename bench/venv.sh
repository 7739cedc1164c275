# shellcheck shell=bash
# bench/venv.sh - Python environment for the PyTorch side of the benchmarks.
#
# Source it (from bash):  source bench/venv.sh
#
# Makes sure a virtual environment with torch, numpy and safetensors exists
# and exports:
#   DESCENT_PYTHON        the interpreter to run the torch scripts with
#   DESCENT_TORCH_SOURCE  "pypi" or "debian" (where torch came from)
#
# 1. The venv at ${DESCENT_VENV:-<repo>/.venv}: used as is if it already
#    imports torch, numpy and safetensors; otherwise created if missing
#    (python3 -m venv) and the current releases of torch, numpy and
#    safetensors are pip installed from PyPI (packages already present are
#    left alone: delete the venv to move to a newer torch).
# 2. If that fails (no network, no wheel for this platform...), falls back to
#    Debian's python3-torch (1.13 on bookworm) and python3-numpy, installed
#    with apt-get (through sudo when not root), seen through a venv created
#    with --system-site-packages at ${DESCENT_VENV}-debian. This is reported
#    loudly: old torch versions are much slower on recent CPUs.
#
# Knobs (environment):
#   DESCENT_VENV            venv path (default <repo>/.venv)
#   DESCENT_BASE_PYTHON     interpreter that creates the venv (default python3)
#   DESCENT_TORCH_INDEX_URL pip index for torch only, e.g.
#                           https://download.pytorch.org/whl/cpu (CPU-only
#                           wheels, much smaller than PyPI's CUDA build)
#   DESCENT_NO_PIP=1        skip pip, go straight to the Debian fallback
#
# The functions return non-zero instead of exiting, and do not change the
# caller's shell options; sourcing fails if no usable torch was found.

_descent_venv_log() { printf 'venv.sh: %s\n' "$*" >&2; }

_descent_venv_ok() { # $1: python interpreter, $2: extra modules ("" or ", m")
    [ -x "$1" ] && "$1" -c "import torch, numpy${2:-}" >/dev/null 2>&1
}

_descent_venv_ignore() { # keep a venv inside the repo out of git
    [ -d "$1" ] && [ ! -e "$1/.gitignore" ] && printf '*\n' >"$1/.gitignore"
    return 0
}

_descent_venv_pip() { # $1: venv dir; create it if needed, pip install
    local venv=$1 base=${DESCENT_BASE_PYTHON:-python3}
    local pipopts=(--disable-pip-version-check --timeout "${PIP_DEFAULT_TIMEOUT:-60}" --retries 2)
    if [ ! -x "$venv/bin/python" ]; then
        _descent_venv_log "creating $venv with $base -m venv"
        "$base" -m venv "$venv" || return 1
    fi
    _descent_venv_ignore "$venv"
    _descent_venv_log "pip installing torch numpy safetensors from PyPI into $venv"
    if [ -n "${DESCENT_TORCH_INDEX_URL:-}" ]; then
        if ! "$venv/bin/python" -m pip install "${pipopts[@]}" \
            --index-url "$DESCENT_TORCH_INDEX_URL" torch; then
            _descent_venv_log "torch from $DESCENT_TORCH_INDEX_URL failed, trying PyPI"
        fi
    fi
    "$venv/bin/python" -m pip install "${pipopts[@]}" \
        torch numpy safetensors || return 1
    _descent_venv_ok "$venv/bin/python" ", safetensors"
}

_descent_venv_debian() { # $1: venv dir for the fallback
    local venv=$1 sys=/usr/bin/python3 sudo=()
    [ -x "$sys" ] || sys=$(command -v python3) || return 1
    if ! "$sys" -c 'import torch, numpy' >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ]; then
            if command -v sudo >/dev/null 2>&1; then
                sudo=(sudo)
            else
                _descent_venv_log "not root and no sudo: cannot apt-get install"
                return 1
            fi
        fi
        command -v apt-get >/dev/null 2>&1 || {
            _descent_venv_log "no apt-get on this system"
            return 1
        }
        _descent_venv_log "apt-get install -y python3-torch python3-numpy"
        "${sudo[@]}" apt-get update -q || true
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q python3-torch python3-numpy || return 1
        # safetensors is optional for the benchmark itself.
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q python3-safetensors >/dev/null 2>&1 || true
    fi
    if [ ! -x "$venv/bin/python" ]; then
        # --without-pip: works even where ensurepip is missing.
        "$sys" -m venv --system-site-packages --without-pip "$venv" || return 1
    fi
    _descent_venv_ignore "$venv"
    _descent_venv_ok "$venv/bin/python"
}

_descent_venv_setup() {
    local here repo venv
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || return 1
    repo=$(cd "$here/.." && pwd) || return 1
    venv=${DESCENT_VENV:-$repo/.venv}

    if _descent_venv_ok "$venv/bin/python" ", safetensors"; then
        DESCENT_PYTHON=$venv/bin/python
        DESCENT_TORCH_SOURCE=pypi
    elif [ "${DESCENT_NO_PIP:-0}" != 1 ] && _descent_venv_pip "$venv"; then
        DESCENT_PYTHON=$venv/bin/python
        DESCENT_TORCH_SOURCE=pypi
    else
        _descent_venv_log "################################################################"
        _descent_venv_log "PyPI torch unavailable: FALLING BACK to Debian's python3-torch."
        _descent_venv_log "This is an OLD torch (1.13 on bookworm); its numbers are not"
        _descent_venv_log "PyTorch at its best. Fix network/pip access and rerun."
        _descent_venv_log "################################################################"
        if ! _descent_venv_debian "$venv-debian"; then
            _descent_venv_log "no usable torch at all (neither PyPI nor Debian)"
            return 1
        fi
        DESCENT_PYTHON=$venv-debian/bin/python
        DESCENT_TORCH_SOURCE=debian
    fi
    export DESCENT_PYTHON DESCENT_TORCH_SOURCE
    _descent_venv_log "DESCENT_PYTHON=$DESCENT_PYTHON (torch from $DESCENT_TORCH_SOURCE," \
        "version $("$DESCENT_PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null))"
}

_descent_venv_setup || return 1
