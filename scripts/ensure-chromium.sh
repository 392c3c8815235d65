#!/usr/bin/env bash
# Make sure Debian's Chromium is installed at /usr/bin/chromium: the console's browser tests drive it
# with Playwright (never a downloaded browser). Installs the `chromium` package when missing;
# without root or apt it says so, and the browser tests skip.
set -uo pipefail
log() { echo "ensure-chromium: $*" >&2; }

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "no /usr/bin/chromium and no root/apt to install it; the console's browser tests will be skipped"
  exit 0
fi
log "installing chromium from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq chromium >&2 || { apt-get update -qq >&2 && apt-get install -y -qq chromium >&2; } \
  || log "could not install chromium; the console's browser tests will be skipped"
