#!/usr/bin/env bash
# What the end-to-end tests need, made sure of: a current build of the server, the bank simulator and the
# web app (they run as users run them, from dist/), and Debian's Chromium (browsers are not downloaded),
# with CJK fonts so that the screenshots show the Chinese interface rather than empty boxes.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run build --silent >/dev/null

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "e2e: installing ${missing[*]} with apt" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "e2e: installing ${missing[*]} with apt (sudo)" >&2
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif ! command -v chromium >/dev/null 2>&1; then
    echo "e2e: Chromium is missing; install Debian's package: sudo apt-get install chromium fonts-noto-cjk" >&2
    exit 1
  fi
fi
