#!/usr/bin/env bash
# Makes sure the browser tests' chromium is installed before `make test` runs pytest.
#
# The browser tests drive Debian's chromium (FASHIONREC_CHROMIUM, default /usr/bin/chromium) and
# never skip a missing one, so a fresh machine would otherwise end a 4-minute run with one error
# per browser test. When it is missing and this user may install packages (root, or sudo without
# a password) it is installed with apt; otherwise this stops with the exact command to run.
set -euo pipefail

chromium="${FASHIONREC_CHROMIUM:-/usr/bin/chromium}"
apt_command="apt-get update && apt-get install -y chromium"

installed() { [ -f "$chromium" ] && [ -x "$chromium" ]; }

if installed; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  if command -v sudo >/dev/null 2>&1; then
    suggestion="sudo sh -c '$apt_command'"
  else
    suggestion="su -c '$apt_command'"
  fi
  echo "The browser tests need Debian's chromium at $chromium, which is missing and $(id -un) cannot install it: run \`$suggestion\`, then make test again." >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "The browser tests need chromium at $chromium, which is missing, and there is no apt-get here: install chromium with this system's package manager and set FASHIONREC_CHROMIUM to its path." >&2
  exit 1
fi

echo "chromium is missing at $chromium: installing Debian's chromium for the browser tests ($apt_command) ..."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Another apt (unattended upgrades, another helper) may hold the dpkg lock: wait for it, not fail.
if ! { "${as_root[@]}" apt-get update -q \
  && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 chromium; } \
  >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "Installing chromium failed (apt's last lines above); fix that, or run \`$apt_command\` as root, then make test again." >&2
  exit 1
fi

if ! installed; then
  echo "Debian's chromium is installed, but $chromium is still not an executable: point FASHIONREC_CHROMIUM at chromium (/usr/bin/chromium) or unset it." >&2
  exit 1
fi
echo "installed $("$chromium" --version 2>/dev/null || echo chromium)"
