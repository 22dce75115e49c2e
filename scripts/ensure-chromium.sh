#!/bin/sh
# The web console's browser test (test/browser) drives a real headless Chromium. On a fresh
# Debian/Ubuntu machine `npm test` installs Debian's package once (as root, or with passwordless
# sudo); elsewhere it says what to do. CHROMIUM_PATH points at any other Chromium.
set -eu
if [ -n "${CHROMIUM_PATH:-}" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then as_root=""; elif sudo -n true 2>/dev/null; then as_root="sudo -n"; else as_root="none"; fi
  if [ "$as_root" != "none" ]; then
    echo "ltx-edge: installing Debian's chromium for the browser test (once)" >&2
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq update >/dev/null
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends chromium >/dev/null
    exit 0
  fi
fi
echo "ltx-edge: the browser test needs Chromium: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH" >&2
exit 1
