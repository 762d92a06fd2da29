#!/usr/bin/env bash
# Installs the system packages `make test` needs (Debian names), only those that are missing.
# Where apt-get is absent, names each missing package and fails at once.
set -euo pipefail

missing=()
need() { # <debian package> <check command> <why>
  if ! eval "$2" >/dev/null 2>&1; then missing+=("$1|$3"); fi
}
need chromium     'command -v chromium'                                              'headless browser for test/status-page.test.ts'
need prometheus   'command -v promtool'                                              'promtool checks /metrics in test/metrics.test.ts'
need redis-server 'command -v redis-server'                                          'Redis for test/redis/ (shared limits and cool-downs)'
need postgresql   'ls /usr/lib/postgresql/*/bin/initdb || command -v initdb'          'PostgreSQL for test/postgres/ (usage rows)'

[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "make test needs these system packages, and this machine has no apt-get to install them:" >&2
  for m in "${missing[@]}"; do echo "  missing: ${m%%|*} (${m#*|}); install it with your package manager" >&2; done
  exit 1
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
names=()
for m in "${missing[@]}"; do echo "installing ${m%%|*}: ${m#*|}"; names+=("${m%%|*}"); done
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${names[@]}" >/dev/null
