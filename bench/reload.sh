#!/usr/bin/env bash
# Hot reload under load (issue 7). Run by hand, not in CI; it builds nothing:
# `make build` first, then
#
#   bench/reload.sh [BUILD_DIR]        (default: build; BUILD_DIR/portico and BUILD_DIR/pt-test-backend)
#
# Part 1: wrk at full speed (-t1 -c20 -d30s) through an API whose policy
# document is rewritten 100 times meanwhile (every 290 ms: version one, version
# two, a broken document, one, two, broken, ...). Expected: zero socket errors,
# zero non-2xx, both versions seen in responses (the policy sets X-Version on
# the response), no response without a version (a request that skipped the
# policies), the gateway alive with only the current generation live.
# Part 2: a fresh gateway, light wrk load (-c4) while POST /reload is called
# up to 1,000 times; VmRSS after 10, 100, 250, 500 and 1,000 reloads. Expected:
# RSS after 1,000 within 10% of RSS after 10.
#
# Environment (all optional):
#   RELOAD_DURATION    wrk duration in part 1             default 30s
#   RELOAD_CONNECTIONS wrk connections in part 1          default 20
#   RELOAD_EDITS       policy rewrites in part 1          default 100
#   RELOAD_INTERVAL    seconds between rewrites           default 0.29
#   RELOAD_WRITE       inplace | rename (how the file is rewritten)  default inplace
#   RELOAD_WORKERS     gateway workers                    default 2
#   RELOAD_MANY        reloads in part 2                  default 1000
#   RELOAD_KEEP_WORK   1 = keep the temporary directory
#
# Exit status 0 when every check passed, 1 otherwise.

set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD_DIR=${1:-$ROOT/build}
[[ -d "$BUILD_DIR" ]] && BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
PORTICO_BIN=$BUILD_DIR/portico
BACKEND_BIN=$BUILD_DIR/pt-test-backend

DURATION=${RELOAD_DURATION:-30s}
CONNECTIONS=${RELOAD_CONNECTIONS:-20}
EDITS=${RELOAD_EDITS:-100}
INTERVAL=${RELOAD_INTERVAL:-0.29}
WRITE_MODE=${RELOAD_WRITE:-inplace}
WORKERS=${RELOAD_WORKERS:-2}
MANY=${RELOAD_MANY:-1000}

log() { printf '[reload] %s\n' "$*" >&2; }
die() { printf '[reload] error: %s\n' "$*" >&2; exit 1; }

for tool in wrk curl python3; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (make deps-bench installs wrk)"
done
[[ -x "$PORTICO_BIN" ]] || die "$PORTICO_BIN not found: run 'make build' first"
[[ -x "$BACKEND_BIN" ]] || die "$BACKEND_BIN not found: run 'make build' first"

WORK=$(mktemp -d /tmp/portico-reload.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    if [[ -n "${RELOAD_KEEP_WORK:-}" ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
# Once a process has been waited for, its pid may be reused: stop tracking it.
forget() {
    local p keep=()
    for p in "${PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_port() { # port seconds
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

TOKEN="bench-admin-$(date +%s%N | sha256sum | cut -c1-24)"
printf 'Authorization: Bearer %s\n' "$TOKEN" >"$WORK/auth-header"

admin() { # method path -> body; status code in $WORK/admin-code
    curl -s -o "$WORK/admin-body" -w '%{http_code}' -X "$1" -H "@$WORK/auth-header" \
        "http://127.0.0.1:$ADMIN_PORT$2" >"$WORK/admin-code"
    cat "$WORK/admin-body"
}

# --- the policy documents ---------------------------------------------------
policy() { # version
    cat <<EOF
<policies>
    <inbound><base /></inbound>
    <backend><base /></backend>
    <outbound>
        <base />
        <set-header name="X-Version" exists-action="override"><value>$1</value></set-header>
    </outbound>
    <on-error><base /></on-error>
</policies>
EOF
}
policy one >"$WORK/v-one.xml"
policy two >"$WORK/v-two.xml"
cat >"$WORK/v-broken.xml" <<'EOF'
<policies>
    <inbound><base /></inbound>
    <outbound>
        <set-header name="X-Version" exists-action="override"
            <value>broken</value>
        </set-header>
    </outbound>
</policies>
EOF

write_policy() { # source file
    if [[ "$WRITE_MODE" == rename ]]; then
        cp "$1" "$WORK/gw/policy.xml.new" && mv -f "$WORK/gw/policy.xml.new" "$WORK/gw/policy.xml"
    else
        cat "$1" >"$WORK/gw/policy.xml"
    fi
}

# --- the wrk script: status codes and X-Version per response ---------------
cat >"$WORK/count.lua" <<'EOF'
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function init(args) statuses = {}; versions = {} end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local v = headers["X-Version"] or headers["x-version"] or "none"
  versions[v] = (versions[v] or 0) + 1
end
function done(summary, latency, requests)
  local st, ve = {}, {}
  for _, t in ipairs(threads) do
    for k, n in pairs(t:get("statuses") or {}) do st[k] = (st[k] or 0) + n end
    for k, n in pairs(t:get("versions") or {}) do ve[k] = (ve[k] or 0) + n end
  end
  local e = summary.errors
  io.write(("RESULT requests %d\n"):format(summary.requests))
  io.write(("RESULT socket_errors %d connect=%d read=%d write=%d timeout=%d\n"):format(
    e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout))
  for k, n in pairs(st) do io.write(("RESULT status %s %d\n"):format(k, n)) end
  for k, n in pairs(ve) do io.write(("RESULT version %s %d\n"):format(k, n)) end
end
EOF

# --- processes ---------------------------------------------------------------
"$BACKEND_BIN" --port 0 --name bench >"$WORK/backend.out" 2>"$WORK/backend.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q '^listening' "$WORK/backend.out" && break; sleep 0.05; done
BACKEND_PORT=$(awk '/^listening/ { print $2 }' "$WORK/backend.out")
[[ -n "$BACKEND_PORT" ]] || die "pt-test-backend did not start: $(cat "$WORK/backend.err")"

GW_PID=
start_gateway() { # name
    mkdir -p "$WORK/gw"
    PORT=$(free_port)
    ADMIN_PORT=$(free_port)
    cp "$WORK/v-one.xml" "$WORK/gw/policy.xml"
    cat >"$WORK/gw/gateway.yaml" <<EOF
gateway:
  id: reload-bench
  listen: ["127.0.0.1:$PORT"]
  workers: $WORKERS
  accessLog: off
  admin: { listen: "127.0.0.1:$ADMIN_PORT", token: "{{admin-token}}" }
namedValues:
  admin-token: { value: "$TOKEN", secret: true }
apis:
  bench:
    path: bench
    serviceUrl: "http://127.0.0.1:$BACKEND_PORT/v1"
    subscriptionRequired: false
    policy: policy.xml
EOF
    "$PORTICO_BIN" run -c "$WORK/gw/gateway.yaml" >"$WORK/$1.out" 2>"$WORK/$1.err" &
    GW_PID=$!
    PIDS+=("$GW_PID")
    wait_port "$PORT" 10 || die "gateway did not start: $(tail -5 "$WORK/$1.err")"
    local v
    v=$(curl -s -o /dev/null -D - "http://127.0.0.1:$PORT/bench/x" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-version" { print $2 }')
    [[ "$v" == one ]] || die "the policy API does not answer with X-Version: one (got '$v')"
}

stop_gateway() { # name -> exit status in STOP_STATUS
    kill -TERM "$GW_PID" 2>/dev/null
    wait "$GW_PID"
    STOP_STATUS=$?
    forget "$GW_PID"
}

FAILS=0
check() { # ok? label detail
    if [[ "$1" == 1 ]]; then printf '  PASS  %s  (%s)\n' "$2" "$3"; else printf '  FAIL  %s  (%s)\n' "$2" "$3"; FAILS=$((FAILS + 1)); fi
}

# --- part 1: wrk while the policy is rewritten --------------------------------
log "part 1: wrk -t1 -c$CONNECTIONS -d$DURATION through the policy API, $EDITS rewrites every ${INTERVAL}s ($WRITE_MODE)"
start_gateway gw1
GEN0=$(admin GET /status | python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])')

wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s "$WORK/count.lua" "http://127.0.0.1:$PORT/bench/load" >"$WORK/wrk1.txt" 2>&1 &
WRK_PID=$!
PIDS+=("$WRK_PID")
sleep 0.3
t0=$(date +%s.%N)
for ((i = 0; i < EDITS; i++)); do
    case $((i % 3)) in
        0) write_policy "$WORK/v-two.xml" ;;
        1) write_policy "$WORK/v-broken.xml" ;;
        2) write_policy "$WORK/v-one.xml" ;;
    esac
    sleep "$INTERVAL"
done
t1=$(date +%s.%N)
wait "$WRK_PID"
forget "$WRK_PID"
ALIVE1=0; kill -0 "$GW_PID" 2>/dev/null && ALIVE1=1
STATUS1=$(admin GET /status)
stop_gateway gw1
STOP1=$STOP_STATUS

r() { awk -v k="$1" -v s="${2:-}" '$1 == "RESULT" && $2 == k && (s == "" || $3 == s) { print (s == "" ? $3 : $4) }' "$WORK/wrk1.txt"; }
REQS=$(r requests); REQS=${REQS:-0}
SOCK=$(r socket_errors); SOCK=${SOCK:-unknown}
SOCK_DETAIL=$(awk '$1 == "RESULT" && $2 == "socket_errors" { print $4, $5, $6, $7 }' "$WORK/wrk1.txt")
OK2XX=$(awk '$1 == "RESULT" && $2 == "status" && $3 >= 200 && $3 < 300 { n += $4 } END { print n + 0 }' "$WORK/wrk1.txt")
NON2XX=$(awk '$1 == "RESULT" && $2 == "status" && ($3 < 200 || $3 >= 300) { n += $4 } END { print n + 0 }' "$WORK/wrk1.txt")
STATUSES=$(awk '$1 == "RESULT" && $2 == "status" { printf "%s%s=%s", sep, $3, $4; sep = " " }' "$WORK/wrk1.txt")
V_ONE=$(r version one); V_ONE=${V_ONE:-0}
V_TWO=$(r version two); V_TWO=${V_TWO:-0}
V_NONE=$(r version none); V_NONE=${V_NONE:-0}
V_OTHER=$(awk '$1 == "RESULT" && $2 == "version" && $3 != "one" && $3 != "two" && $3 != "none" { n += $4 } END { print n + 0 }' "$WORK/wrk1.txt")
RPS=$(awk '/^Requests\/sec/ { print $2 }' "$WORK/wrk1.txt")
RELOADS_OK=$(grep -c 'reload (file) .* done' "$WORK/gw1.err")
RELOADS_FAILED=$(grep -c 'reload (file) .* failed' "$WORK/gw1.err")
read -r GEN1 LIVE1 <<<"$(printf '%s' "$STATUS1" | python3 -c 'import json,sys
s = json.load(sys.stdin); print(s["generation"], len(s.get("generations", [])))' 2>/dev/null || echo "? ?")"
EDIT_SECS=$(python3 -c "print('%.1f' % ($t1 - $t0))")

# --- part 2: RSS over 1,000 reloads ------------------------------------------------
log "part 2: RSS after 10 and after $MANY reloads (POST /reload under light load)"
start_gateway gw2
reload_many() { # n -> number answered 200 in RELOADED
    : >"$WORK/curl-urls"
    local i
    for ((i = 0; i < $1; i++)); do
        printf 'url = "http://127.0.0.1:%s/reload"\noutput = "/dev/null"\n' "$ADMIN_PORT" >>"$WORK/curl-urls"
    done
    RELOADED=$(curl -s -X POST -H "@$WORK/auth-header" -w '%{http_code}\n' --config "$WORK/curl-urls" | grep -c '^200$')
}
light_load() { # [warm-up seconds]: background load while reloading (every generation gets traffic on every worker)
    wrk -t1 -c4 -d300s "http://127.0.0.1:$PORT/bench/rss" >"$WORK/wrk-light.txt" 2>&1 &
    LIGHT_PID=$!
    PIDS+=("$LIGHT_PID")
    sleep "${1:-0.3}"
}
settle() { kill -INT "$LIGHT_PID" 2>/dev/null; wait "$LIGHT_PID" 2>/dev/null; forget "$LIGHT_PID"; sleep 1; }

# RSS is read with the load stopped and after a 1 s pause, at each of these
# reload counts; the check compares the first (10) with the last (RELOAD_MANY).
RSS_START=$(rss_kib "$GW_PID")
RSS_CURVE=""
RELOADS_DONE=0
ANSWERED=0
t2=$(date +%s.%N)
for target in 10 100 250 500 "$MANY"; do
    ((target > MANY || target <= RELOADS_DONE)) && continue
    if ((RELOADS_DONE == 0)); then light_load 2; else light_load; fi
    reload_many $((target - RELOADS_DONE))
    ANSWERED=$((ANSWERED + RELOADED))
    RELOADS_DONE=$target
    settle
    rss=$(rss_kib "$GW_PID")
    [[ $target == 10 ]] && RSS10=$rss
    RSS_CURVE+=$(printf '  RSS after %5d reloads %8s KiB\n' "$target" "$rss")$'\n'
done
t3=$(date +%s.%N)
RSS1000=$rss
STATUS2=$(admin GET /status)
read -r GEN2 LIVE2 <<<"$(printf '%s' "$STATUS2" | python3 -c 'import json,sys
s = json.load(sys.stdin); print(s["generation"], len(s.get("generations", [])))' 2>/dev/null || echo "? ?")"
stop_gateway gw2
STOP2=$STOP_STATUS
GROWTH=$(python3 -c "print('%.1f' % (100.0 * ($RSS1000 - $RSS10) / $RSS10))" 2>/dev/null || echo "?")
MANY_SECS=$(python3 -c "print('%.1f' % ($t3 - $t2))")

# --- report --------------------------------------------------------------------
cat <<EOF

== Portico hot reload under load ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))
binary: $PORTICO_BIN, $WORKERS worker(s)

Part 1: wrk -t1 -c$CONNECTIONS -d$DURATION, $EDITS policy rewrites in ${EDIT_SECS}s (two, broken, one, ...; $WRITE_MODE)
  requests          $REQS ($RPS req/s)
  socket errors     $SOCK ($SOCK_DETAIL)
  status codes      $STATUSES
  non-2xx           $NON2XX
  X-Version one     $V_ONE
  X-Version two     $V_TWO
  no X-Version      $V_NONE
  other X-Version   $V_OTHER
  file reloads      $RELOADS_OK done, $RELOADS_FAILED failed (gateway stderr)
  generations       $GEN0 at start -> $GEN1 at the end; live at the end: $LIVE1
  gateway           alive after the load: $([[ $ALIVE1 == 1 ]] && echo yes || echo NO); exit status on SIGTERM: $STOP1

Part 2: POST /reload under light load (wrk -c4)
  RSS at start                ${RSS_START} KiB
${RSS_CURVE}  growth from 10 to $MANY reloads: ${GROWTH}%
  POST /reload answered 200   $ANSWERED of $MANY (${MANY_SECS}s including the pauses)
  generations            $GEN2 at the end; live at the end: $LIVE2
  gateway exit status on SIGTERM: $STOP2

Checks
EOF
check "$([[ "$SOCK" == 0 ]] && echo 1)" "zero socket errors" "$SOCK"
check "$([[ "$NON2XX" == 0 && "$OK2XX" -gt 0 ]] && echo 1)" "zero non-2xx" "$NON2XX non-2xx of $REQS"
check "$([[ "$V_ONE" -gt 0 && "$V_TWO" -gt 0 ]] && echo 1)" "both versions observed" "one=$V_ONE two=$V_TWO"
check "$([[ "$V_NONE" == 0 && "$V_OTHER" == 0 ]] && echo 1)" "every response went through the policy" "no version: $V_NONE, other: $V_OTHER"
check "$([[ "$RELOADS_OK" -gt 0 && "$RELOADS_FAILED" -gt 0 ]] && echo 1)" "file edits reloaded (good ones) and were refused (broken ones)" "$RELOADS_OK done, $RELOADS_FAILED failed"
check "$([[ "$ALIVE1" == 1 && "$STOP1" == 0 && "$STOP2" == 0 ]] && echo 1)" "gateway survived and exited 0" "part 1: $STOP1, part 2: $STOP2"
check "$([[ "$LIVE1" == 1 && "$LIVE2" == 1 ]] && echo 1)" "old generations freed" "live generations at the end: $LIVE1, $LIVE2"
check "$([[ "$ANSWERED" == "$MANY" ]] && echo 1)" "every POST /reload answered 200" "$ANSWERED of $MANY"
check "$(python3 -c "print(1 if abs($RSS1000 - $RSS10) <= 0.10 * $RSS10 else 0)" 2>/dev/null)" "RSS after $MANY reloads within 10% of RSS after 10" "${RSS10} -> ${RSS1000} KiB, ${GROWTH}%"
echo
if ((FAILS)); then
    echo "$FAILS check(s) failed; gateway stderr tails:"
    tail -5 "$WORK/gw1.err" | sed 's/^/  gw1: /'
    tail -5 "$WORK/gw2.err" | sed 's/^/  gw2: /'
    exit 1
fi
echo "all checks passed"
