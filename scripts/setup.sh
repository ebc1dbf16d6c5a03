#!/usr/bin/env bash
# Installs everything gridwatch needs on Debian/Ubuntu: system packages and .venv.
# Idempotent: a second run only checks. Set GRIDWATCH_SKIP_APT=1 to skip apt.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc pkg-config
  mosquitto mosquitto-clients ffmpeg postgresql
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 gir1.2-gstreamer-1.0
  gir1.2-gst-plugins-base-1.0 gobject-introspection libgirepository1.0-dev
  libcairo2-dev libgl1 libglib2.0-0
  chromium fonts-noto-cjk
)

sudo_cmd() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup: need root or sudo to install: ${APT_PACKAGES[*]}" >&2; exit 1; fi
}

if [ "${GRIDWATCH_SKIP_APT:-0}" != "1" ]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing system packages: ${missing[*]}"
    sudo_cmd apt-get update -qq
    sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  # The broker is started by gridwatch itself (tests, demo); keep the system one off.
  if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
    sudo_cmd systemctl stop mosquitto || true
  fi
  # Tests start a throw-away PostgreSQL cluster of their own; the system one may stay.
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.gridwatch-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
echo "setup: ready (.venv/bin/gridwatch)"
