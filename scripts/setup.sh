#!/usr/bin/env bash
# Set up SPANDEX on Debian 12 / Ubuntu: system packages (apt) and the Python venv.
#
#   bash scripts/setup.sh            # as root, or as a user who can sudo
#
# Idempotent. System packages are installed only when some are missing. The venv ($VENV, default .venv,
# made with $PYTHON, default python3, which must be Python 3.11) is filled from requirements/*.txt and
# this project; a stamp file in it records a hash of what it was built from, so a re-run with nothing
# changed returns at once.
# Environment: VENV, PYTHON, SKIP_APT=1 (not Debian: install the packages listed below yourself).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.spandex-installed"
STARTED=$SECONDS

APT_PACKAGES=(
    # audio files and devices (soundfile, sounddevice)
    libportaudio2 libsndfile1
    # Qt under a virtual X server (GUI tests, screenshots); mesa gives libgl1/libegl1 a software renderer
    xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
    libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxcb-sync1 libxkbcommon-x11-0 libegl1 libgl1 libegl-mesa0
    libglx-mesa0 libgl1-mesa-dri libfontconfig1 libdbus-1-3 libglib2.0-0 fonts-dejavu-core
    # a virtual sound card: PipeWire null sinks as microphone and speaker, apps run under pw-jack
    pipewire pipewire-pulse pipewire-jack wireplumber pulseaudio-utils dbus libasound2-plugins
    # a C compiler for the trainer's compiled loops (engine/training/fused.py; without one it trains on torch's, slower)
    gcc libc6-dev
)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'printf "setup: ERROR: failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

# Packages of $@ that dpkg does not have installed, one per line.
missing_packages() {
    local installed
    installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null | awk '$2 == "ii" {print $1}' || true)
    local package
    for package in "$@"; do
        grep -qxF "$package" <<<"$installed" || echo "$package"
    done
}

python_usable() {
    command -v "$PYTHON" >/dev/null 2>&1 && "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1
}

# Hash of everything the venv is built from: requirements, project metadata, this script, the Python.
venv_recipe_hash() {
    {
        cat requirements/*.txt pyproject.toml scripts/setup.sh
        "$VENV/bin/python" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}

install_system_packages() {
    local wanted=("${APT_PACKAGES[@]}")
    python_usable || wanted+=(python3 python3-venv)
    local missing
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "${SKIP_APT:-0}" = 1 ]; then
        say "SKIP_APT=1: not installing ${missing[*]}"
        return 0
    fi
    command -v apt-get >/dev/null || die "not a Debian/Ubuntu system: install the equivalents of ${missing[*]} yourself, then run again with SKIP_APT=1"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "these system packages are missing and installing them needs root: ${missing[*]}. Run as root, or install them and run again."
        sudo=(sudo)
    fi
    say "apt: installing ${#missing[@]} system packages: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        || die "apt-get update failed (no network to the Debian mirror?)"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || die "apt-get install failed for: ${missing[*]}"
    say "apt: done ($((SECONDS - STARTED)) s)"
}

create_venv() {
    if [ -x "$VENV/bin/python" ]; then
        "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
            || die "$VENV exists but is not a working Python 3.11 venv: remove it (rm -rf $VENV) and run again"
        return 0
    fi
    python_usable || die "$PYTHON with the venv module is needed (Debian: apt-get install python3 python3-venv)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
        || die "$PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())'); SPANDEX needs 3.11 (lava-nc and lava-dl are known to work on it): set PYTHON=/path/to/python3.11"
    say "venv: creating $VENV with $("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    "$PYTHON" -m venv "$VENV" || die "could not create the venv at $VENV"
}

install_python_packages() {
    local pip=("$VENV/bin/python" -m pip install --quiet --progress-bar off)
    local torch
    torch=$(grep -E '^torch==' requirements/base.txt) || die "requirements/base.txt has no exact torch== pin"
    say "pip: $torch first, alone, so that nothing can pull a CUDA build"
    "${pip[@]}" "$torch" || die "pip could not install $torch"
    say "pip: requirements/base.txt ($((SECONDS - STARTED)) s)"
    "${pip[@]}" -r requirements/base.txt || die "pip could not install requirements/base.txt"
    say "pip: requirements/lava.txt with --no-deps --ignore-requires-python ($((SECONDS - STARTED)) s)"
    "${pip[@]}" --no-deps --ignore-requires-python -r requirements/lava.txt \
        || die "pip could not install requirements/lava.txt"
    say "pip: requirements/baselines.txt with --no-deps ($((SECONDS - STARTED)) s)"
    "${pip[@]}" --no-deps -r requirements/baselines.txt \
        || die "pip could not install requirements/baselines.txt"
    say "pip: this project, editable ($((SECONDS - STARTED)) s)"
    "${pip[@]}" --no-deps -e . || die "pip could not install the project itself (pip install -e .)"
}

install_system_packages
create_venv
hash=$(venv_recipe_hash)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$hash" ]; then
    say "up to date ($VENV)"
    exit 0
fi
install_python_packages
printf '%s\n' "$hash" >"$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
say "done in $((SECONDS - STARTED)) s: $VENV is ready"
