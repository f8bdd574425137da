#!/usr/bin/env bash
# What the end-to-end tests need, made sure of: a current build of the server, the bank simulator and the
# web app (they run as users run them, from dist/), and Debian's Chromium (browsers are not downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."

npm run build --silent >/dev/null

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "e2e: installing Chromium with apt" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "e2e: installing Chromium with apt (sudo)" >&2
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "e2e: Chromium is missing; install Debian's package: sudo apt-get install chromium" >&2
    exit 1
  fi
fi
