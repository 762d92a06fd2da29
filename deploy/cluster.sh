#!/usr/bin/env bash
# make cluster: Redis, three proxy instances sharing it, and HAProxy round-robin in front, all on
# this machine, until Ctrl-C. Debian's redis-server and haproxy are installed when missing.
#
#   deploy/cluster.sh [proxy command...]     default: dist/cm-open-webui-proxy (make build)
#
# Environment: CLUSTER_CONFIG (default config.json, else config.example.json), CLUSTER_PORT
# (HAProxy's port: 3333 when free, else any free one), CLUSTER_HOST (HAProxy binds it; 127.0.0.1),
# CLUSTER_INSTANCES (3), CLUSTER_KEEP=1 keeps the temp folder (logs) afterwards, BUN.
set -euo pipefail
cd "$(dirname "$0")/.."

BUN=${BUN:-bun}
if [ $# -gt 0 ]; then PROXY=("$@"); else PROXY=(./dist/cm-open-webui-proxy); fi
INSTANCES=${CLUSTER_INSTANCES:-3}
HOST=${CLUSTER_HOST:-127.0.0.1}
CONFIG=${CLUSTER_CONFIG:-}
if [ -z "$CONFIG" ]; then if [ -f config.json ]; then CONFIG=config.json; else CONFIG=config.example.json; fi; fi
[ -f "$CONFIG" ] || { echo "cluster: $CONFIG not found (set CLUSTER_CONFIG)" >&2; exit 1; }

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
need() { # need <command> <Debian package>
  command -v "$1" >/dev/null 2>&1 && return
  echo "cluster: $1 not found: installing Debian's $2 package"
  if [ -z "$apt_updated" ]; then sudo_if_needed apt-get update -qq && apt_updated=1; fi
  sudo_if_needed apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}
need redis-server redis-server
need redis-cli redis-tools
need haproxy haproxy
# Debian puts haproxy in /usr/sbin, which a non-root PATH may lack.
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

free_port() {
  "$BUN" -e 'const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }); console.log(l.port); l.stop(true);'
}
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Each service runs in its own session (setsid): a terminal's Ctrl-C reaches only this script, which
# then stops each of them once (a second SIGTERM/SIGINT would make a proxy drop its streams).
DIR=$(mktemp -d "${TMPDIR:-/tmp}/cm-owp-cluster-XXXXXX")
PIDS=()
stopping=
cleanup() {
  [ -n "$stopping" ] && return
  stopping=1
  trap - INT TERM
  echo
  echo "cluster: stopping (the instances finish their streams first)"
  # HAProxy first, so no new request arrives; then the instances drain (SIGTERM); Redis last.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null || true; wait "${PIDS[i]}" 2>/dev/null || true; done
  if [ "${CLUSTER_KEEP:-}" = 1 ]; then echo "cluster: logs kept in $DIR"; else rm -rf "$DIR"; fi
  echo "cluster: stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Redis: a free port, its data in the temp folder, nothing persisted.
REDIS_PORT=$(free_port)
setsid redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DIR" --save "" --appendonly no --daemonize no >"$DIR/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || { echo "cluster: redis-server did not start:" >&2; cat "$DIR/redis.log" >&2; exit 1; }

# The instances' config: the chosen file with state.redis pointing at this Redis. The copy lives in
# the temp folder, so relative paths in it (usage.path) land there too.
"$BUN" -e '
  const [source, target, redis] = process.argv.slice(1);
  const config = JSON.parse(await Bun.file(source).text());
  config.state = { ...(config.state ?? {}), redis };
  await Bun.write(target, JSON.stringify(config, null, 2) + "\n");
' "$CONFIG" "$DIR/config.json" "redis://127.0.0.1:$REDIS_PORT"

PORTS=()
for ((n = 1; n <= INSTANCES; n++)); do
  port=$(free_port)
  PORTS+=("$port")
  setsid "${PROXY[@]}" --config "$DIR/config.json" --port "$port" --host 127.0.0.1 >"$DIR/proxy-$n.log" 2>&1 &
  PIDS+=($!)
done
for ((n = 1; n <= INSTANCES; n++)); do
  port=${PORTS[n - 1]}
  ready=
  for _ in $(seq 100); do
    if "${PROXY[@]}" --probe "http://127.0.0.1:$port/ready" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "${PIDS[n]}" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$ready" ] || { echo "cluster: instance $n (port $port) did not become ready:" >&2; tail -n 20 "$DIR/proxy-$n.log" >&2; exit 1; }
done

FRONT=${CLUSTER_PORT:-}
if [ -z "$FRONT" ]; then if port_in_use 3333; then FRONT=$(free_port); else FRONT=3333; fi; fi
{
  cat <<EOF
global
  # Connections as many as the open-file limit allows (two descriptors each).
  maxconn $(( $(ulimit -n) / 2 - 100 ))

defaults
  mode http
  timeout connect 5s
  # Streams may run for minutes with long silences (the proxy's idleMs is 5 minutes by default).
  timeout client 1h
  timeout server 1h
  timeout http-keep-alive 10s

frontend proxies
  bind $HOST:$FRONT
  default_backend instances

backend instances
  balance roundrobin
  option httpchk
  http-check send meth GET uri /ready ver HTTP/1.1 hdr Host localhost
  http-check expect status 200
  # Which instance answered, so round-robin can be seen: curl -si .../health | grep -i x-cluster
  http-response set-header X-Cluster-Instance %[srv_name]
EOF
  for ((n = 1; n <= INSTANCES; n++)); do echo "  server instance-$n 127.0.0.1:${PORTS[n - 1]} check inter 2s fall 2 rise 1"; done
} >"$DIR/haproxy.cfg"
"$HAPROXY" -c -q -f "$DIR/haproxy.cfg" || { echo "cluster: invalid haproxy.cfg" >&2; exit 1; }
setsid "$HAPROXY" -db -f "$DIR/haproxy.cfg" >"$DIR/haproxy.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do port_in_use "$FRONT" && break; kill -0 "${PIDS[-1]}" 2>/dev/null || break; sleep 0.1; done
port_in_use "$FRONT" || { echo "cluster: haproxy did not start:" >&2; cat "$DIR/haproxy.log" >&2; exit 1; }

URL_HOST=$HOST
[ "$URL_HOST" = 0.0.0.0 ] && URL_HOST=127.0.0.1
echo "cluster: $INSTANCES instances of ${PROXY[*]} on ports ${PORTS[*]}, sharing redis://127.0.0.1:$REDIS_PORT"
echo "cluster: config $CONFIG (copied to $DIR/config.json with state.redis set); logs in $DIR"
echo "cluster: HAProxy round-robin, health check GET /ready: http://$URL_HOST:$FRONT"
echo "cluster:   Open WebUI: OPENAI_API_BASE_URL=http://$URL_HOST:$FRONT/v1"
echo "cluster:   curl -si http://$URL_HOST:$FRONT/health | grep -i x-cluster-instance"
echo "cluster: Ctrl-C stops them all"

# Runs until Ctrl-C, or until one of them exits on its own (then everything stops).
set +e
wait -n "${PIDS[@]}"
code=$?
if [ -z "$stopping" ]; then echo "cluster: a process exited on its own (code $code); see the logs in $DIR" >&2; CLUSTER_KEEP=1; fi
exit 1
