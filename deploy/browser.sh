#!/usr/bin/env bash
# The browser the web workspace's tests drive: Debian's Chromium (Playwright's own download cannot reach
# its CDN from here). Installed from Debian's registry when missing; prints its path.
set -euo pipefail
for candidate in "${MC_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: Chromium; install it with 'sudo apt-get install chromium' or set MC_CHROMIUM" >&2
  exit 1
fi
echo "installing Debian's chromium (once)…" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
echo /usr/bin/chromium
