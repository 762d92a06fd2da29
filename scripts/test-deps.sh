#!/usr/bin/env bash
# Installs the system packages `make test` needs (Debian names), only those that are missing, then
# checks that the tests find them. Where apt-get is absent, names each missing package and fails at
# once. Every failure is one line per package on stderr.
set -euo pipefail

# Where test/status-page.test.ts looks: CHROMIUM_PATH when set, else chromium or chromium-browser
# on PATH, else /usr/bin/chromium.
chromium_found() {
  if [ -n "${CHROMIUM_PATH:-}" ]; then [ -e "$CHROMIUM_PATH" ]; else
    command -v chromium || command -v chromium-browser || [ -e /usr/bin/chromium ]
  fi
}

need() { # <debian package> <check command> <why>
  if ! eval "$2" >/dev/null 2>&1; then missing+=("$1|$3"); fi
}
find_missing() {
  missing=()
  need chromium     chromium_found                                                     'headless browser for test/status-page.test.ts'
  need prometheus   'command -v promtool'                                              'promtool checks /metrics in test/metrics.test.ts'
  need redis-server 'command -v redis-server'                                          'Redis for test/redis/ (shared limits and cool-downs)'
  need postgresql   'ls /usr/lib/postgresql/*/bin/initdb || command -v initdb'          'PostgreSQL for test/postgres/ (usage rows)'
  need python3      'command -v python3'                                               'drives the SIGTERM-at-start-up rounds and the never-accepting backend in test/hardening/'
}
fail_each() { # <what to say after each package>
  for m in "${missing[@]}"; do echo "missing: ${m%%|*} (${m#*|}): $1" >&2; done
  exit 1
}

find_missing
[ ${#missing[@]} -eq 0 ] && exit 0

command -v apt-get >/dev/null 2>&1 || fail_each "no apt-get here, install it with your package manager"
if [ "$(id -u)" -eq 0 ]; then as_root=(); else
  command -v sudo >/dev/null 2>&1 || fail_each "installing it needs root, and there is no sudo"
  as_root=(sudo)
fi

names=()
for m in "${missing[@]}"; do echo "installing ${m%%|*}: ${m#*|}"; names+=("${m%%|*}"); done
"${as_root[@]}" apt-get update -qq
# Through env: sudo drops the caller's environment, DEBIAN_FRONTEND with it.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${names[@]}" >/dev/null

find_missing
[ ${#missing[@]} -eq 0 ] && exit 0
fail_each "apt-get installed it, and the tests still cannot find it"
