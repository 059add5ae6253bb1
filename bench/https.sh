#!/usr/bin/env bash
# HTTPS benchmark: TLS from wrk to the proxy, plain HTTP from the proxy to the
# backend, Portico against nginx with the same ECDSA P-256 certificate, the
# same single cipher suite (ECDHE-ECDSA-AES128-GCM-SHA256, mbedTLS'
# TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256), TLS 1.2 and the same key exchange
# group (X25519). Three measurements per proxy:
#
#   keepalive    wrk -c50 over long-lived TLS connections: the cost of
#                record encryption and proxying;
#   resumed      wrk -c50 with "Connection: close": every request is a new TCP
#                connection and TLS handshake. wrk offers the previous session
#                again (SSL_clear keeps it), and with session tickets on (both
#                proxies' default) these are abbreviated handshakes: requests/s
#                = resumed handshakes/s;
#   full         the same against a second instance of each proxy with session
#                tickets off (and no session cache: Portico has none, nginx's
#                default is "none"): every handshake is a full one (ECDHE +
#                ECDSA signature): requests/s = full handshakes/s.
#
# Before measuring, each instance is checked with openssl s_client: TLS 1.2,
# the suite, the group, and whether -reconnect resumes (it must for the
# tickets-on instance, must not for the tickets-off one). The proxy's CPU use
# during each measurement is shown (CPU 1 is its own: near 100 % means the
# proxy was the bottleneck, lower means the client on CPU 0 was).
#
# Prints the three, the Portico/nginx ratios, and what each proxy negotiated.
#
#   bench/https.sh BUILD_DIR        (BUILD_DIR/portico is the gateway binary)
#
# Environment (all optional; the same names as bench/run where they mean the same):
#   BENCH_DURATION     wrk measuring time            default 10s
#   BENCH_CONNECTIONS  wrk connections               default 50
#   BENCH_THREADS      wrk threads                   default 1
#   BENCH_WARMUP       wrk warm-up time per run      default 2s
#   BENCH_ROUNDS       rounds (proxies interleaved), median reported   default 1
#   BENCH_NICE         nice level of everything started here   default -10 (0 = off)
#   BENCH_HTTPS_OUT    also write the summary to this file      default: none
#   BENCH_KEEP_WORK    keep the temporary directory
#
# Everything runs on 127.0.0.1 in a mktemp directory; every process started
# here is stopped on exit. Certificates are made for the run with openssl.

set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONF_DIR="$BENCH_DIR/conf"

BUILD_DIR=${1:-}
if [[ -z "$BUILD_DIR" ]]; then
    echo "usage: bench/https.sh BUILD_DIR   (BUILD_DIR/portico is the gateway binary)" >&2
    exit 2
fi
if [[ -d "$BUILD_DIR" ]]; then PORTICO_BIN="$(cd "$BUILD_DIR" && pwd)/portico"; else PORTICO_BIN="$BUILD_DIR/portico"; fi

DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-50}
THREADS=${BENCH_THREADS:-1}
WARMUP=${BENCH_WARMUP:-2s}
ROUNDS=${BENCH_ROUNDS:-1}
NICE=${BENCH_NICE:--10}
OUT_FILE=${BENCH_HTTPS_OUT:-}

# The one suite both proxies offer, in each one's spelling, and the group.
OPENSSL_CIPHER=ECDHE-ECDSA-AES128-GCM-SHA256
MBEDTLS_CIPHER=TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256
GROUP=X25519

log() { printf '[bench-https] %s\n' "$*" >&2; }
die() { printf '[bench-https] error: %s\n' "$*" >&2; exit 1; }

for tool in wrk nginx openssl taskset curl ss; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (make deps-bench installs wrk nginx-light curl iproute2 util-linux; openssl: apt-get install openssl)"
done
[[ -x "$PORTICO_BIN" ]] || die "$PORTICO_BIN not found or not executable (make build)"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"

NCPU=$(nproc)
if (( NCPU >= 2 )); then
    LOAD_CPU=0
    PROXY_CPU=1
else
    LOAD_CPU=0
    PROXY_CPU=0
    log "warning: only one CPU; wrk, backend and proxy share it, numbers mean little"
fi

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ "$NOFILE" == unlimited ]] && NOFILE=1048576

NICE_CMD=()
if [[ "$NICE" != 0 ]]; then
    if nice -n "$NICE" true 2>/dev/null && [[ $(nice -n "$NICE" nice) == "$NICE" ]]; then
        NICE_CMD=(nice -n "$NICE")
    else
        log "note: cannot run at nice $NICE; running at normal priority"
        NICE=0
    fi
fi

WORK=$(mktemp -d /tmp/portico-bench-https.XXXXXX) || die "mktemp failed"
STARTED_PIDS=()

stop_pid() {
    local pid=$1 i
    STOP_STATUS=0
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null
        STOP_STATUS=$?
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid ignored SIGTERM for 5 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    STOP_STATUS=$?
}

cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid"; done
    STARTED_PIDS=()
    if [[ -n "${BENCH_KEEP_WORK:-}" ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

forget_pid() {
    local pid=$1 kept=() p
    for p in "${STARTED_PIDS[@]}"; do [[ "$p" == "$pid" ]] || kept+=("$p"); done
    STARTED_PIDS=("${kept[@]}")
}

# start_bg LOGNAME CPU CMD... : start CMD pinned to CPU, sets STARTED_PID.
start_bg() {
    local name=$1 cpu=$2
    shift 2
    "${NICE_CMD[@]}" taskset -c "$cpu" "$@" >"$WORK/$name.log" 2>&1 &
    STARTED_PID=$!
    STARTED_PIDS+=("$STARTED_PID")
}

stop_started() { stop_pid "$1"; forget_pid "$1"; }

USED_PORTS=" "
free_port() {
    local port i
    for ((i = 0; i < 200; i++)); do
        port=$((20000 + RANDOM % 12000))
        [[ "$USED_PORTS" == *" $port "* ]] && continue
        if [[ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ]]; then
            USED_PORTS+="$port "
            echo "$port"
            return 0
        fi
    done
    die "no free TCP port found"
}

wait_listen() {
    local port=$1 pid=$2 i
    for ((i = 0; i < 100; i++)); do
        [[ -n "$(ss -Htln "( sport = :$port )" 2>/dev/null)" ]] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# render TEMPLATE OUT NAME=VALUE... : replace @NAME@ placeholders (as bench/run).
render() {
    local template=$1 out=$2 kv name value script=()
    shift 2
    for kv in "$@"; do
        name=${kv%%=*}
        value=${kv#*=}
        value=${value//\\/\\\\}
        value=${value//|/\\|}
        value=${value//&/\\&}
        script+=(-e "s|@${name}@|${value}|g")
    done
    sed "${script[@]}" "$template" >"$out"
    grep -q '@[A-Z_]*@' "$out" && die "unfilled placeholder in $out: $(grep -o '@[A-Z_]*@' "$out" | head -1)"
    return 0
}

if [[ $EUID -eq 0 ]]; then NGINX_USER_LINE="user root;"; else NGINX_USER_LINE=""; fi

# --- The certificate: a CA and an ECDSA P-256 leaf for localhost, both proxies use it.
CERT="$WORK/server.pem"
KEY="$WORK/server.key"
{
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/ca.key" &&
    openssl req -x509 -new -key "$WORK/ca.key" -subj "/CN=Portico Bench CA" -days 2 -sha256 \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" -out "$WORK/ca.pem" &&
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$KEY" &&
    openssl req -new -key "$KEY" -subj "/CN=localhost" -out "$WORK/server.csr" &&
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$WORK/server.ext" &&
    openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -set_serial 0x4242 \
        -days 2 -sha256 -extfile "$WORK/server.ext" -out "$CERT"
} >"$WORK/openssl.log" 2>&1 || { cat "$WORK/openssl.log" >&2; die "certificate generation failed"; }

# --- The backend: the same nginx as bench/run ("hello\n"), on the load CPU.
BACKEND_PORT=$(free_port)
mkdir -p "$WORK/backend-nginx.tmp"
render "$CONF_DIR/backend-nginx.conf" "$WORK/backend-nginx.conf" \
    USER_LINE="$NGINX_USER_LINE" NOFILE="$NOFILE" DIR="$WORK" PORT="$BACKEND_PORT"
start_bg backend-nginx "$LOAD_CPU" nginx -p "$WORK" -e "$WORK/backend-nginx.error.log" -c "$WORK/backend-nginx.conf"
wait_listen "$BACKEND_PORT" "$STARTED_PID" || die "backend nginx did not start: $(cat "$WORK/backend-nginx.error.log" 2>/dev/null)"
log "backend: nginx on 127.0.0.1:$BACKEND_PORT (CPU $LOAD_CPU)"

# --- The proxies. start_<name> PORT sets PROXY_PID, or PROXY_ERROR and returns 1.
# start_portico_https PORT TICKETS(true|false)
start_portico_https() {
    local port=$1 tickets=$2
    cat >"$WORK/portico-https.yaml" <<EOF
# Portico for the HTTPS benchmark: one worker, no access log, TLS listener
# with the run's certificate, one cipher suite, plain HTTP to the backend.
gateway:
  id: bench-https
  listen:
    - address: "127.0.0.1:$port"
      tls: { certificate: "$CERT", key: "$KEY" }
  workers: 1
  accessLog: off
  pool: { maxRequestsPerConnection: 1000000000 }
  tls:
    ciphers: [$MBEDTLS_CIPHER]
    sessionTickets: $tickets
apis:
  bench:
    path: ""
    serviceUrl: "http://127.0.0.1:$BACKEND_PORT"
EOF
    start_bg portico-https "$PROXY_CPU" "$PORTICO_BIN" run -c "$WORK/portico-https.yaml"
    PROXY_PID=$STARTED_PID
    if ! wait_listen "$port" "$PROXY_PID"; then
        PROXY_ERROR="portico did not listen on $port: $(tail -5 "$WORK/portico-https.log" 2>/dev/null | tr '\n' ' ')"
        stop_started "$PROXY_PID"
        return 1
    fi
}

# start_nginx_https PORT TICKETS(true|false)
start_nginx_https() {
    local port=$1 tickets=on
    [[ $2 == true ]] || tickets=off
    mkdir -p "$WORK/nginx-https.tmp"
    cat >"$WORK/nginx-https.conf" <<EOF
# nginx as the reference HTTPS reverse proxy: one worker, the same
# certificate, suite, protocol and group as Portico, keep-alive upstream.
$NGINX_USER_LINE
worker_processes 1;
worker_rlimit_nofile $NOFILE;
daemon off;
master_process on;
pid $WORK/nginx-https.pid;
error_log $WORK/nginx-https.error.log warn;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    client_body_temp_path $WORK/nginx-https.tmp/body;
    proxy_temp_path $WORK/nginx-https.tmp/proxy;
    fastcgi_temp_path $WORK/nginx-https.tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx-https.tmp/uwsgi;
    scgi_temp_path $WORK/nginx-https.tmp/scgi;
    upstream bench_backend {
        server 127.0.0.1:$BACKEND_PORT;
        keepalive 64;
        keepalive_requests 10000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:$port ssl backlog=4096;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2;
        ssl_ciphers $OPENSSL_CIPHER;
        ssl_ecdh_curve $GROUP:prime256v1;
        ssl_session_tickets $tickets;
        location / {
            proxy_pass http://bench_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
    start_bg nginx-https "$PROXY_CPU" nginx -p "$WORK" -e "$WORK/nginx-https.error.log" -c "$WORK/nginx-https.conf"
    PROXY_PID=$STARTED_PID
    if ! wait_listen "$port" "$PROXY_PID"; then
        PROXY_ERROR="nginx did not start: $(cat "$WORK/nginx-https.log" "$WORK/nginx-https.error.log" 2>/dev/null | tail -5 | tr '\n' ' ')"
        stop_started "$PROXY_PID"
        return 1
    fi
}

# verify NAME PORT TICKETS: a GET through the proxy answers 200 hello, the
# handshake is the one compared (TLS 1.2, the suite, the group, the
# certificate), and sessions resume exactly when tickets are on.
verify() {
    local name=$1 port=$2 tickets=$3 body proto cipher group reused
    body=$(curl -s --max-time 5 --cacert "$WORK/ca.pem" --resolve "localhost:$port:127.0.0.1" "https://localhost:$port/" 2>&1)
    if [[ "$body" != hello ]]; then
        VERIFY_ERROR="GET https://localhost:$port/ answered '$body', expected 'hello'"
        return 1
    fi
    timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost -CAfile "$WORK/ca.pem" \
        </dev/null >"$WORK/s_client-$name.txt" 2>&1
    proto=$(awk '$1 == "Protocol" {print $3; exit}' "$WORK/s_client-$name.txt")
    cipher=$(awk '$1 == "Cipher" && $2 == ":" {print $3; exit}' "$WORK/s_client-$name.txt")
    group=$(sed -n 's/^Server Temp Key: \([^,]*\).*/\1/p' "$WORK/s_client-$name.txt" | head -1)
    NEGOTIATED[$name]="$proto $cipher $group"
    if [[ "$proto" != TLSv1.2 || "$cipher" != "$OPENSSL_CIPHER" || "$group" != "$GROUP" ]]; then
        VERIFY_ERROR="negotiated '$proto $cipher $group', expected 'TLSv1.2 $OPENSSL_CIPHER $GROUP'"
        return 1
    fi
    timeout 20 openssl s_client -connect "127.0.0.1:$port" -servername localhost -reconnect \
        </dev/null >"$WORK/s_client-$name-reconnect.txt" 2>&1
    reused=$(grep -c '^Reused, ' "$WORK/s_client-$name-reconnect.txt")
    NEGOTIATED[$name]+=", -reconnect: $reused of 5 resumed"
    if [[ $tickets == true && $reused -eq 0 ]]; then
        VERIFY_ERROR="session tickets on, but no reconnect resumed the session"
        return 1
    fi
    if [[ $tickets == false && $reused -ne 0 ]]; then
        VERIFY_ERROR="session tickets off, but $reused reconnects resumed the session (the full-handshake load would not be full)"
        return 1
    fi
    return 0
}

# CPU seconds (user + system) used so far by a process and its children.
cpu_seconds() {
    local pid=$1 ticks=0 p
    for p in "$pid" $(pgrep -P "$pid" 2>/dev/null); do
        ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000;
        else if (u == "m") n *= 60000;
        printf "%.3f", n }'
}

# run_wrk NAME URL [WRK_ARGS...]: sets W_RPS, W_P99 (ms), W_P50 (ms), W_NOTE.
run_wrk() {
    local name=$1 url=$2 out="$WORK/wrk-$1.txt" non2xx sockerr
    shift 2
    "${NICE_CMD[@]}" taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$@" "$url" >"$WORK/wrk-$name-warmup.txt" 2>&1
    local cpu0 t0 cpu1 t1
    cpu0=$(cpu_seconds "$PROXY_PID"); t0=$(date +%s.%N)
    "${NICE_CMD[@]}" taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" >"$out" 2>&1
    cpu1=$(cpu_seconds "$PROXY_PID"); t1=$(date +%s.%N)
    W_CPU=$(awk -v a="$cpu0" -v b="$cpu1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", 100 * (b - a) / (e - s) }')
    # CPU time per request: what a request (and, with Connection: close, its
    # handshake) costs the proxy, whatever else the machine was doing
    local total
    total=$(awk '/ requests in / {print $1; exit}' "$out")
    W_US=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$total" 'BEGIN { if (n + 0 > 0) printf "%.0f", 1e6 * (b - a) / n }')
    W_RPS=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
    W_P99=$(awk '$1 == "99%" {print $2}' "$out")
    W_P50=$(awk '$1 == "50%" {print $2}' "$out")
    [[ -n "$W_P99" ]] && W_P99=$(to_ms "$W_P99")
    [[ -n "$W_P50" ]] && W_P50=$(to_ms "$W_P50")
    W_NOTE=""
    non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$out")
    sockerr=$(sed -n 's/^ *Socket errors: *//p' "$out")
    [[ -n "$non2xx" ]] && W_NOTE+="non-2xx=$non2xx "
    [[ -n "$sockerr" ]] && W_NOTE+="socket errors: $sockerr"
    if [[ -z "$W_RPS" || -z "$W_P99" ]]; then
        W_NOTE="wrk output not understood: $(head -c 300 "$out" | tr '\n' ' ')"
        return 1
    fi
}

median() {
    tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2];
              else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
minmax() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

PROXIES="portico nginx"
MODES="keepalive resumed full"
declare -A ALL_RPS ALL_P99 ALL_P50 ALL_CPU ALL_US NOTE FAILED NEGOTIATED STOP_PROBLEM
label() { case $1 in portico) echo "Portico" ;; nginx) echo "nginx" ;; *) echo "$1" ;; esac; }

header() {
    echo "Portico HTTPS benchmark  $(date -u '+%Y-%m-%d %H:%M:%S UTC')  $(uname -n)"
    echo "  portico:  $PORTICO_BIN"
    echo "  versions: $(nginx -v 2>&1 | sed 's/^nginx version: //') ($(nginx -V 2>&1 | sed -n 's/^built with \(OpenSSL [^ ]*\).*/\1/p')), $(wrk -v 2>&1 | head -1 | awk '{print $1 "/" $2}'), $(openssl version | awk '{print $1 " " $2}'), mbedTLS $(dpkg-query -W -f='${Version}' libmbedtls-dev 2>/dev/null || echo '?')"
    echo "  cpus:     $NCPU; wrk + backend (nginx, 1 worker) on CPU $LOAD_CPU, proxy under test alone on CPU $PROXY_CPU"
    echo "  tls:      TLS 1.2, $OPENSSL_CIPHER ($MBEDTLS_CIPHER), $GROUP, ECDSA P-256 certificate, the same files for both"
    echo "  load:     keepalive: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (after a $WARMUP warm-up)"
    echo "            resumed:   the same with -H 'Connection: close' (new connection per request, session ticket resumed)"
    echo "            full:      the same against an instance with session tickets off (full handshake per request)"
    echo "  backend:  plain HTTP, keep-alive from each proxy, GET of a 6-byte body"
    if (( ROUNDS > 1 )); then echo "  rounds:   $ROUNDS, proxies interleaved; medians shown, ranges in notes"; fi
    if [[ "$NICE" != 0 ]]; then echo "  priority: nice $NICE for everything started here"; fi
    echo "  loadavg before start: $(cut -d' ' -f1-3 /proc/loadavg)"
}
header >&2

# measure NAME TICKETS MODE...: one instance of the proxy, the given loads.
measure() {
    local name=$1 tickets=$2 port mode args key
    shift 2
    port=$(free_port)
    log "$name (session tickets $tickets): starting on 127.0.0.1:$port (CPU $PROXY_CPU)"
    PROXY_ERROR=""
    if ! "start_${name}_https" "$port" "$tickets"; then
        FAILED[$name]=$PROXY_ERROR
        log "$name: $PROXY_ERROR"
        return
    fi
    if ! verify "$name.$tickets" "$port" "$tickets"; then
        FAILED[$name]="tickets $tickets: $VERIFY_ERROR"
        log "$name: ${FAILED[$name]}"
        stop_started "$PROXY_PID"
        return
    fi
    log "$name: checked: GET answers hello; negotiated ${NEGOTIATED[$name.$tickets]}"
    url="https://127.0.0.1:$port/"
    for mode in "$@"; do
        args=()
        [[ $mode != keepalive ]] && args=(-H "Connection: close")
        key=$name.$mode
        log "$name $mode: warm-up $WARMUP, then measuring $DURATION"
        if run_wrk "$name-$mode.$round" "$url" "${args[@]}"; then
            ALL_RPS[$key]+=" $W_RPS"; ALL_P99[$key]+=" $W_P99"; ALL_P50[$key]+=" $W_P50"; ALL_CPU[$key]+=" $W_CPU"
            ALL_US[$key]+=" ${W_US:-}"
            NOTE[$key]=$W_NOTE
            log "$name $mode: $W_RPS req/s, p99 $W_P99 ms, proxy CPU $W_CPU % (${W_US:-?} us/request) $W_NOTE"
        else
            FAILED[$name]=$W_NOTE
            log "$name $mode: $W_NOTE"
        fi
        kill -0 "$PROXY_PID" 2>/dev/null || { FAILED[$name]="process exited during the $mode load"; break; }
    done
    stop_started "$PROXY_PID"
    case $STOP_STATUS in
        0 | 143) ;;
        *) STOP_PROBLEM[$name]+="exit status $STOP_STATUS when stopped (round $round, tickets $tickets) " ;;
    esac
}

for ((round = 1; round <= ROUNDS; round++)); do
    (( ROUNDS > 1 )) && log "round $round of $ROUNDS"
    for name in $PROXIES; do
        [[ -n "${FAILED[$name]:-}" ]] && continue
        measure "$name" true keepalive resumed
        [[ -n "${FAILED[$name]:-}" ]] && continue
        measure "$name" false full
    done
done

declare -A RPS P99 P50 CPU US
for name in $PROXIES; do
    for mode in $MODES; do
        [[ -n "${ALL_RPS[$name.$mode]:-}" ]] || continue
        RPS[$name.$mode]=$(median "${ALL_RPS[$name.$mode]}")
        RPS[$name.$mode]=${RPS[$name.$mode]%.*}
        P99[$name.$mode]=$(median "${ALL_P99[$name.$mode]}")
        P50[$name.$mode]=$(median "${ALL_P50[$name.$mode]}")
        CPU[$name.$mode]=$(median "${ALL_CPU[$name.$mode]}")
        CPU[$name.$mode]=${CPU[$name.$mode]%.*}
        US[$name.$mode]=$(median "${ALL_US[$name.$mode]:-}")
        US[$name.$mode]=${US[$name.$mode]%.*}
        if (( ROUNDS > 1 )); then
            NOTE[$name.$mode]="range req/s $(minmax "${ALL_RPS[$name.$mode]}"); ${NOTE[$name.$mode]:-}"
        fi
    done
done

summary() {
    header
    echo
    printf '  %-9s %-10s %10s %9s %9s %10s %9s  %s\n' proxy load "req/s" "p50 ms" "p99 ms" "proxy CPU" "CPU us/r" notes
    local name mode
    for mode in $MODES; do
        for name in $PROXIES; do
            if [[ -z "${RPS[$name.$mode]:-}" ]]; then
                printf '  %-9s %-10s %10s %9s %9s %10s %9s  FAILED: %s\n' "$(label "$name")" "$mode" - - - - - "${FAILED[$name]:-not measured}"
            else
                printf '  %-9s %-10s %10s %9s %9s %9s%% %9s  %s\n' "$(label "$name")" "$mode" "${RPS[$name.$mode]}" \
                    "${P50[$name.$mode]}" "${P99[$name.$mode]}" "${CPU[$name.$mode]}" "${US[$name.$mode]:--}" "${NOTE[$name.$mode]:-}"
            fi
        done
    done
    echo
    echo "Ratios (throughput: higher is better for Portico; p99: lower is better for Portico)"
    printf '  Portico/nginx keep-alive throughput %6s   p99 %6s\n' \
        "$(ratio "${RPS[portico.keepalive]:-}" "${RPS[nginx.keepalive]:-}")" "$(ratio "${P99[portico.keepalive]:-}" "${P99[nginx.keepalive]:-}")"
    printf '  Portico/nginx resumed handshakes/s  %6s   p99 %6s\n' \
        "$(ratio "${RPS[portico.resumed]:-}" "${RPS[nginx.resumed]:-}")" "$(ratio "${P99[portico.resumed]:-}" "${P99[nginx.resumed]:-}")"
    printf '  Portico/nginx full handshakes/s     %6s   p99 %6s\n' \
        "$(ratio "${RPS[portico.full]:-}" "${RPS[nginx.full]:-}")" "$(ratio "${P99[portico.full]:-}" "${P99[nginx.full]:-}")"
    printf '  Portico/nginx CPU per request: keep-alive %s, resumed %s, full %s (lower is better for Portico)\n' \
        "$(ratio "${US[portico.keepalive]:-}" "${US[nginx.keepalive]:-}")" "$(ratio "${US[portico.resumed]:-}" "${US[nginx.resumed]:-}")" \
        "$(ratio "${US[portico.full]:-}" "${US[nginx.full]:-}")"
    echo "  (rates count what the proxy finished; \"proxy CPU\" below ~100 % means the client or other work on the"
    echo "   machine held it back; \"CPU us/r\", the proxy's CPU time per request, does not depend on that)"
    echo
    echo "Negotiated (openssl s_client before the load)"
    for name in $PROXIES; do
        printf '  %-9s tickets on:  %s\n' "$(label "$name")" "${NEGOTIATED[$name.true]:-not checked}"
        printf '  %-9s tickets off: %s\n' "" "${NEGOTIATED[$name.false]:-not checked}"
    done
    local any=0
    for name in $PROXIES; do
        [[ -n "${STOP_PROBLEM[$name]:-}" ]] || continue
        (( any )) || { echo; echo "Problems"; any=1; }
        echo "  $(label "$name"): ${STOP_PROBLEM[$name]}"
    done
}

echo >&2
summary | tee "$WORK/summary.txt"
if [[ -n "$OUT_FILE" ]]; then
    cp "$WORK/summary.txt" "$OUT_FILE" 2>/dev/null && log "summary written to $OUT_FILE" || log "could not write $OUT_FILE"
fi

status=0
for name in $PROXIES; do
    [[ -n "${FAILED[$name]:-}${STOP_PROBLEM[$name]:-}" ]] && status=1
done
exit $status
