#!/usr/bin/env bash
# Make sure a Chinese (CJK) font is installed, so report PDFs and charts render 中文 instead of boxes.
# Installs WenQuanYi Micro Hei from Debian's packages when fontconfig knows no Chinese font;
# without root or apt it says so and leaves reports to fall back to English.
set -uo pipefail
log() { echo "ensure-cjk-font: $*" >&2; }

if [ -n "$(fc-list :lang=zh family 2>/dev/null)" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "no Chinese font installed and no root/apt to install one; reports will be in English"
  exit 0
fi
log "installing fonts-wqy-microhei from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq fonts-wqy-microhei >&2 || { apt-get update -qq >&2 && apt-get install -y -qq fonts-wqy-microhei >&2; } \
  || log "could not install fonts-wqy-microhei; reports will be in English"
