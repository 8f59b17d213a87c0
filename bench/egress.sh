#!/bin/sh
# Egress with network_policies, side by side in one run (issue 4, "Benchmarks"):
#   1. throughput of a 1 GiB download, every byte compared with the expected pattern:
#      plain (host netns -> veth -> server netns, no filtering), through caisson's relay
#      (the client inside `caisson run` with a policy allowing the server), through srt
#      (@anthropic-ai/sandbox-runtime; the client speaks HTTP CONNECT to srt's proxy);
#      interleaved rounds, medians
#   2. connect-to-first-byte latency, 2000 connections each, plain vs relay (and srt)
#   3. relay scale: 1000 connections open at once exchanging data; new connections/s for
#      5 s; the supervisor's VmRSS/VmHWM with the 1000 relayed connections open
#   4. DNS gateway queries/s (an allowed name, fresh names under an allowed wildcard, and
#      refused names), against a small authoritative server in the server netns
#   5. start-to-exit latency of `caisson run` with a network policy vs bwrap --unshare-all
#   6. what one connect() costs inside the sandbox with a network policy (held while the
#      supervisor records its caller) and without (a plain syscall): bench/connloop.c
#   7. connect to first byte again with 0, 10 and 50 idle processes of 34 open fds each in
#      the sandbox: the relay reads every fd of every sandbox process to find who holds a
#      client socket, so this is what that walk costs as a sandbox grows
#   Sections 1-3 also measure bench/minrelay.c, the least any relay behind an nft redirect
#   does (accept, SO_ORIGINAL_DST, connect, splice; no identity, policy or name check), with
#   its client in a third netns "M" whose one nft rule redirects TCP to it: the floor.
#
# Topology, built here and removed on every exit path (trap): two network namespaces of
# the bench's own, "H" (stands for the host: caisson, srt and the plain client run in it, so
# the machine's own netns, routes, firewall and sysctls are never touched) and "S" (the
# server, bench/netserver.c), joined by a veth pair, 198.51.100.1/24 (H) and
# 198.51.100.2/24 (S), documentation addresses. Benchmarks, not tests: nothing fails on a
# timing. The load tools (bench/netload.c, netserver.c, dnsload.c) are built with cc -O2.
#
# Environment (besides lib.sh's CAISSON_BUILD_DIR and BENCH_RUNS):
#   BENCH_EGRESS_ROUNDS  throughput rounds (default 5)   BENCH_EGRESS_BYTES (default 1 GiB)
#   BENCH_EGRESS_CONNS   latency connections (2000)      BENCH_EGRESS_SRT=0 skips srt
#   BENCH_SRT_VERSION    srt version installed (0.0.83)  BENCH_SRT_DIR (/opt/caisson-bench/srt)
#   BENCH_MAX_LOAD       wait (up to BENCH_LOAD_WAIT s, default 1800) until the 1-minute
#                        load average is below it before measuring
# Usage: sudo sh bench/egress.sh
. "$(dirname "$0")/lib.sh"
bench_require_root
bench_require_tools
bench_caisson
bench_run_uid
bench_tmpdir

rounds=${BENCH_EGRESS_ROUNDS:-5}
bytes=${BENCH_EGRESS_BYTES:-1073741824}
nconns=${BENCH_EGRESS_CONNS:-2000}
runs=${BENCH_RUNS:-100}
srt_version=${BENCH_SRT_VERSION:-0.0.83}
srt_dir=${BENCH_SRT_DIR:-/opt/caisson-bench/srt}
srv=198.51.100.2
hns=caisson-bench-h-$$
sns=caisson-bench-s-$$
mns=caisson-bench-m-$$
server_pid=""
bg_pid=""
bg_sup=""

# Every process the bench started runs in one of its two namespaces (the sandboxes' own
# processes die with their supervisor): ended by pid, then the namespaces and files go.
cleanup() {
        for ns in "$hns" "$sns" "$mns"; do
                pids=$(ip netns pids "$ns" 2>/dev/null || true)
                # shellcheck disable=SC2086
                [ -z "$pids" ] || kill $pids 2>/dev/null || true
        done
        sleep 0.3
        for ns in "$hns" "$sns" "$mns"; do
                pids=$(ip netns pids "$ns" 2>/dev/null || true)
                # shellcheck disable=SC2086
                [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
                ip netns del "$ns" 2>/dev/null || true
        done
        rm -rf "$bench_tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Namespaces a killed earlier run left behind (their pid is gone).
for ns in $(ip netns list 2>/dev/null | awk '/^caisson-bench-[hsm]-[0-9]+/ { print $1 }'); do
        kill -0 "${ns##*-}" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
done

if [ -n "${BENCH_MAX_LOAD:-}" ]; then
        waited=0
        while awk -v m="$BENCH_MAX_LOAD" '{ exit !($1 >= m) }' /proc/loadavg &&
              [ "$waited" -lt "${BENCH_LOAD_WAIT:-1800}" ]; do
                [ $((waited % 60)) = 0 ] && bench_log "egress: load $(cut -d' ' -f1 /proc/loadavg) >= $BENCH_MAX_LOAD, waiting"
                sleep 10
                waited=$((waited + 10))
        done
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

command -v socat >/dev/null || missing_srt="socat"
command -v rg >/dev/null || missing_srt="${missing_srt:-} ripgrep"
if [ "${BENCH_EGRESS_SRT:-1}" != 0 ] && [ -n "${missing_srt:-}" ]; then
        bench_log "installing $missing_srt (srt needs them)"
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing_srt >&2 || true
fi

# --- the two namespaces and the server -------------------------------------------------
bench_netpair "$hns" "$sns" "cb$$"
# nsenter, not `ip netns exec`: that one remounts /sys, and caisson needs the cgroup mount.
inh() { nsenter --net="/run/netns/$hns" "$@"; }

work=$bench_tmp/work
mkdir "$work"
for t in netload netserver dnsload minrelay connloop; do
        cc -O2 -o "$work/$t" "$bench_repo/bench/$t.c" -lpthread
done
cc -O2 -o "$work/interleave" "$bench_repo/bench/interleave.c" -lm
chown "$run_uid" "$work"
nsenter --net="/run/netns/$sns" "$work/netserver" "$srv" 5001 5002 5003 53 >"$bench_tmp/server.out" 2>&1 &
server_pid=$!
bench_wait_ready "$bench_tmp/server.out"
# The floor: netns M, loopback only, every TCP connection redirected to minrelay on
# 127.0.0.1:15001 there (the one nft rule, loaded with the nft tool: the bench's own, never
# caisson's); minrelay runs in H and connects upstream from there, as caisson's relay does.
ip netns add "$mns"
ip -n "$mns" link set lo up
ip -n "$mns" route add default dev lo src 127.0.0.1
printf 'table ip minrelay {\n\tchain out {\n\t\ttype nat hook output priority -100;\n\t\tip daddr != 127.0.0.0/8 meta l4proto tcp redirect to :15001\n\t}\n}\n' |
        nsenter --net="/run/netns/$mns" nft -f -
nsenter --net="/run/netns/$hns" "$work/minrelay" "/run/netns/$mns" 15001 >"$bench_tmp/minrelay.out" 2>&1 &
bench_wait_ready "$bench_tmp/minrelay.out"
inm() { nsenter --net="/run/netns/$mns" "$@"; }
server_stats() {
        kill -USR1 "$server_pid"
        sleep 0.3
        grep '^stats ' "$bench_tmp/server.out" | tail -n 1
}

pol=$bench_tmp/egress.yaml
cat >"$pol" <<EOF
version: 1
network_policies:
  bench:
    endpoints:
      - host: $srv
        ports: [5001, 5002, 5003]
      - host: api.bench.test
        port: 5002
      - host: "*.w.bench.test"
        port: 5002
    binaries:
      - path: $work/netload
      - path: $work/dnsload
EOF
csn() { (cd "$work" && exec nsenter --net="/run/netns/$hns" "$caisson" run -T --policy "$pol" --dns-upstream "$srv:53" -- "$@"); }

res=$bench_tmp/results
: >"$res"
# rec TAG CMD...: runs CMD; appends "TAG <its result line> rc=N" to $res, or
# "TAG fail rc=N err=<its last stderr lines>".
rec() {
        tag=$1
        shift
        rc=0
        "$@" >"$bench_tmp/out" 2>"$bench_tmp/err" || rc=$?
        grep -v "is a DNS channel" "$bench_tmp/err" | sed "s/^/  [$tag] /" >&2 || true
        line=$(grep -E '^(bulk|latency|concurrent|rate|dns|connloop) ' "$bench_tmp/out" | tail -n 1)
        if [ -n "$line" ]; then
                echo "$tag $line rc=$rc" >>"$res"
        else
                echo "$tag fail rc=$rc err=$(grep -v 'is a DNS channel' "$bench_tmp/err" | tail -n 2 | tr '\n\t' '  ')" >>"$res"
        fi
        bench_log "$(tail -n 1 "$res")"
}

# --- can caisson run a network policy here? --------------------------------------------
caisson_note=""
rc=0
csn /bin/true >/dev/null 2>"$bench_tmp/err" || rc=$?
if [ $rc != 0 ]; then
        caisson_note="caisson run with network_policies exited $rc: $(grep -v 'is a DNS channel' "$bench_tmp/err" | head -n 3 | tr '\n' ' ')"
        bench_log "$caisson_note"
fi

# --- srt -------------------------------------------------------------------------------
srt_note=""
srt=""
if [ "${BENCH_EGRESS_SRT:-1}" = 0 ]; then
        srt_note="skipped (BENCH_EGRESS_SRT=0)"
elif ! command -v npm >/dev/null; then
        srt_note="not measured: npm is not installed"
else
        if [ ! -x "$srt_dir/node_modules/.bin/srt" ] ||
           ! grep -q "\"version\": \"$srt_version\"" "$srt_dir/node_modules/@anthropic-ai/sandbox-runtime/package.json"; then
                bench_log "installing @anthropic-ai/sandbox-runtime@$srt_version into $srt_dir with npm"
                mkdir -p "$srt_dir"
                npm install --prefix "$srt_dir" --no-audit --no-fund --loglevel=error \
                        "@anthropic-ai/sandbox-runtime@$srt_version" >&2 2>"$bench_tmp/npm.err" ||
                        srt_note="not measured: npm install failed: $(tail -n 2 "$bench_tmp/npm.err" | tr '\n' ' ')"
        fi
        if [ -z "$srt_note" ]; then
                srt=$srt_dir/node_modules/.bin/srt
                # srt's own directory: its bwrap (root in a user namespace) creates masks such
                # as .gitconfig in the cwd, which it cannot do in $work (the run user's).
                mkdir "$bench_tmp/srtw"
                cp "$work/netload" "$bench_tmp/srtw/"
                cat >"$bench_tmp/srt.json" <<EOF
{"network": {"allowedDomains": ["$srv"], "deniedDomains": []},
 "filesystem": {"denyRead": [], "allowWrite": ["$bench_tmp/srtw"], "denyWrite": []}}
EOF
                rc=0
                (cd "$bench_tmp/srtw" && inh timeout 60 "$srt" --settings "$bench_tmp/srt.json" -- ./netload -p latency "$srv" 5002 1) \
                        >/dev/null 2>"$bench_tmp/err" || rc=$?
                if [ $rc != 0 ]; then
                        srt_note="not measured: srt exited $rc: $(head -n 3 "$bench_tmp/err" | tr '\n' ' ')"
                        srt=""
                fi
        fi
fi
[ -z "$srt_note" ] || bench_log "srt: $srt_note"
srtc() { (cd "$bench_tmp/srtw" && exec nsenter --net="/run/netns/$hns" timeout 600 "$srt" --settings "$bench_tmp/srt.json" -- "$@"); }

# --- 1. throughput ---------------------------------------------------------------------
echo "load throughput l1=$(cut -d' ' -f1 /proc/loadavg)" >>"$res"
bench_log "egress: throughput, $rounds rounds of plain / caisson / srt, $bytes bytes each"
r=0
while [ $r -lt "$rounds" ]; do
        rec tput.plain inh "$work/netload" bulk "$srv" 5001 "$bytes"
        rec tput.minrelay inm "$work/netload" bulk "$srv" 5001 "$bytes"
        [ -n "$caisson_note" ] || rec tput.caisson csn ./netload bulk "$srv" 5001 "$bytes"
        [ -z "$srt" ] || rec tput.srt srtc ./netload -p bulk "$srv" 5001 "$bytes"
        r=$((r + 1))
done

# --- 2. connection setup ---------------------------------------------------------------
echo "load setup l1=$(cut -d' ' -f1 /proc/loadavg)" >>"$res"
bench_log "egress: connect-to-first-byte latency, $nconns connections each"
r=0
while [ $r -lt 4 ]; do
        rec lat.plain inh "$work/netload" latency "$srv" 5002 $((nconns / 4))
        rec lat.minrelay inm "$work/netload" latency "$srv" 5002 $((nconns / 4))
        [ -n "$caisson_note" ] || rec lat.caisson csn ./netload latency "$srv" 5002 $((nconns / 4))
        [ -z "$srt" ] || rec lat.srt srtc ./netload -p latency "$srv" 5002 $((nconns / 4))
        r=$((r + 1))
done

# --- 3. scale --------------------------------------------------------------------------
echo "load scale l1=$(cut -d' ' -f1 /proc/loadavg)" >>"$res"
# sup_pid PID: the topmost process named caisson below PID (csn runs in subshells).
sup_pid() {
        level=$1
        for _ in 1 2 3 4 5; do
                p=$(pgrep -x caisson -P "$level" | head -n 1)
                [ -z "$p" ] || { echo "$p"; return; }
                level=$(pgrep -d , -P "$level" || true)
                [ -n "$level" ] || return 0
        done
}
# hold TAG N CMD...: runs CMD (netload concurrent, which creates $work/hold once its N
# connections are open) in the background; with the connections open reads the status
# of the process CMD started as (caisson run: the supervisor, whose thread relays), then
# lets it go on.
hold() {
        tag=$1
        shift
        rm -f "$work/hold"
        "$@" >"$bench_tmp/hold.out" 2>"$bench_tmp/hold.err" &
        bg_pid=$!
        i=0
        while [ ! -e "$work/hold" ] && [ $i -lt 600 ] && kill -0 "$bg_pid" 2>/dev/null; do
                sleep 0.1
                i=$((i + 1))
        done
        sleep 0.5
        bg_sup=$(sup_pid "$bg_pid")
        if [ -e "$work/hold" ] && [ -n "$bg_sup" ]; then
                st=/proc/$bg_sup/status
                echo "$tag.mem open=$(cat "$work/hold") rss_kib=$(awk '/^VmRSS/ { print $2 }' "$st")" \
                        "hwm_kib=$(awk '/^VmHWM/ { print $2 }' "$st") threads=$(awk '/^Threads/ { print $2 }' "$st")" \
                        "fds=$(ls "/proc/$bg_sup/fd" | wc -l)" >>"$res"
        fi
        rm -f "$work/hold"
        rc=0
        wait "$bg_pid" || rc=$?
        bg_pid=""
        bg_sup=""
        grep -v "is a DNS channel" "$bench_tmp/hold.err" | sed "s/^/  [$tag] /" >&2 || true
        line=$(grep -E '^concurrent ' "$bench_tmp/hold.out" | tail -n 1)
        if [ -n "$line" ]; then
                echo "$tag $line rc=$rc" >>"$res"
        else
                echo "$tag fail rc=$rc err=$(grep -v 'is a DNS channel' "$bench_tmp/hold.err" | tail -n 2 | tr '\n\t' '  ')" >>"$res"
        fi
        bench_log "$(tail -n 1 "$res")"
}
bench_log "egress: 1000 concurrent connections, new connections per second"
hold conc.plain inh "$work/netload" concurrent "$srv" 5003 1000 10 "$work/hold"
if [ -z "$caisson_note" ]; then
        hold idle.caisson csn ./netload concurrent "$srv" 5003 1 2 "$work/hold"
        hold conc.caisson csn ./netload concurrent "$srv" 5003 1000 10 "$work/hold"
fi
r=0
while [ $r -lt 3 ]; do
        rec rate.plain inh "$work/netload" rate "$srv" 5002 5 64
        rec rate.minrelay inm "$work/netload" rate "$srv" 5002 5 64
        [ -n "$caisson_note" ] || rec rate.caisson csn ./netload rate "$srv" 5002 5 64
        r=$((r + 1))
done

# --- 4. DNS ----------------------------------------------------------------------------
echo "load dns l1=$(cut -d' ' -f1 /proc/loadavg)" >>"$res"
bench_log "egress: DNS queries per second"
rec dns.plain inh "$work/dnsload" "$srv" 53 3 64 fixed api.bench.test
rec dns.plainw inh "$work/dnsload" "$srv" 53 3 64 random w.bench.test
before=$(server_stats)
if [ -z "$caisson_note" ]; then
        rec dns.allowed csn ./dnsload 127.0.0.1 53 3 64 fixed api.bench.test
        rec dns.wildcard csn ./dnsload 127.0.0.1 53 3 64 random w.bench.test
        rec dns.refused csn ./dnsload 127.0.0.1 53 3 64 random denied.test
fi
after=$(server_stats)
echo "dns.before $before" >>"$res"
echo "dns.after $after" >>"$res"

# --- 5. start-to-exit ------------------------------------------------------------------
echo "load start l1=$(cut -d' ' -f1 /proc/loadavg)" >>"$res"
bench_log "egress: start latency, $runs rounds in turn (bench/interleave.c)"
bwrap_cmd="$(bench_bwrap_args "$work") /bin/true"
# bwrap's arguments are split on purpose (they hold no quoted spaces), with globbing off.
set -f
# shellcheck disable=SC2086
set -- bwrap $bwrap_cmd :: caisson "$caisson" run -T -- /bin/true
set +f
[ -n "$caisson_note" ] ||
        set -- "$@" :: caisson-net "$caisson" run -T --policy "$pol" --dns-upstream "$srv:53" -- /bin/true
(cd "$work" && inh "$work/interleave" "$runs" 5 "$bench_tmp/start.json" "$@") >&2

# --- 6. one connect() ------------------------------------------------------------------
if [ -z "$caisson_note" ]; then
        bench_log "egress: one connect(), with and without a network policy, 5 rounds in turn"
        for i in 1 2 3 4 5; do
                rec connloop.plain sh -c "cd '$work' && exec nsenter --net=/run/netns/$hns '$caisson' run -T -- ./connloop 20000"
                rec connloop.net csn ./connloop 20000
        done
fi

# --- 7. the holder walk as the sandbox grows ---------------------------------------------
if [ -z "$caisson_note" ]; then
        bench_log "egress: connect to first byte with 0, 10, 50 idle processes of 34 fds, 3 rounds in turn"
        cat >"$work/walk.sh" <<'WALK'
#!/bin/bash
# walk.sh N: N idle processes with 34 fds each (stdio and 31 on /dev/null), then 500
# connections timed, then the idle ones end.
for ((i = 3; i <= 33; i++)); do eval "exec $i</dev/null"; done
for ((k = 0; k < $1; k++)); do sleep 120 & done
sleep 0.5
./netload latency 198.51.100.2 5002 500
rc=$?
jobs -p | xargs -r kill 2>/dev/null
exit $rc
WALK
        chmod 755 "$work/walk.sh"
        for i in 1 2 3; do
                for n in 0 10 50; do
                        rec "walk.$n" csn /bin/bash ./walk.sh "$n"
                done
        done
fi

load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the section -----------------------------------------------------------------------
srt_ver=""
[ -z "$srt" ] || srt_ver="srt $srt_version (npm), node $(node --version), $(socat -V 2>/dev/null | awk '/socat version/ { print "socat " $3; exit }')"
"$PY" - "$res" "$bench_tmp/start.json" "$rounds" "$bytes" "$nconns" "$runs" "$load_start" "$load_end" \
        "$caisson_note" "$srt_note" "$srt_ver" "$(awk '/^Max open files/ { print $4 }' /proc/self/limits)" <<'PYEOF'
import json, statistics, sys
resf, startf, rounds, nbytes, nconns, runs, load_start, load_end, c_note, s_note, s_ver, nofile = sys.argv[1:]
R = {}
for line in open(resf):
    tag, rest = line.rstrip("\n").split(" ", 1)
    kv = {}
    for tok in rest.split(" "):
        if "=" in tok:
            k, v = tok.split("=", 1)
            kv[k] = v
        elif "_name" not in kv:
            kv["_name"] = tok
    if rest.startswith("fail"):
        kv["fail"] = rest
    R.setdefault(tag, []).append(kv)

def f(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None

def ratio(a, b):
    return "n/a" if a is None or b in (None, 0) else "%.2f" % (a / b)

print("## Egress (`network_policies`): relay, DNS gateway, start")
print()
print("Topology (all made by the bench, removed at exit): netns H (stands for the host: caisson, "
      "srt and the plain client run there; the machine's own netns is untouched) — veth — netns S "
      "(`bench/netserver.c`: bulk, banner, echo and an authoritative DNS server for `bench.test`), "
      "198.51.100.1/24 ↔ 198.51.100.2/24. Clients: `bench/netload.c`, `bench/dnsload.c` (cc -O2). "
      "The caisson client runs in `caisson run --policy P --dns-upstream 198.51.100.2:53` (P allows "
      "198.51.100.2 ports 5001–5003, `api.bench.test` and `*.w.bench.test` port 5002, for the two "
      "client binaries); its connections go fence → relay (supervisor thread, splice) → upstream "
      "from H. srt: its sandbox (bwrap, no network) reaches its HTTP proxy through socat; netload "
      "`-p` speaks HTTP CONNECT to `$HTTPS_PROXY`, as curl would. Load average at start %s, at the "
      "end %s (2 CPUs; client, relay, server and kernel share them, so the bench itself keeps the "
      "load near 2 while it runs: the value at the start tells about other work). `ulimit -n` %s."
      % (load_start, load_end, nofile))
print()
if c_note:
    print("- **caisson: not measured**: %s" % c_note)
print("- srt: %s" % (s_ver if s_ver else s_note))
print("- 1-minute load average when each part started: %s" % ", ".join(
    "%s %s" % (x["_name"], x["l1"]) for x in R.get("load", [])))
print()

# 1. throughput
def tput(tag):
    xs = R.get(tag, [])
    good = [f(x["mbps"]) for x in xs if x.get("ok") == "1"]
    bad = len(xs) - len(good)
    return (statistics.median(good) if good else None), good, bad, xs

print("### Throughput: %.0f MiB download, every byte checked" % (int(nbytes) / 1048576))
print()
print("%s interleaved rounds (plain, caisson, srt in each); MB/s = 10^6 bytes/s from before "
      "connect() to the last byte, as the client measured it; a run whose bytes differ from the "
      "pattern or fall short counts as failed, not in the median." % rounds)
print()
print("| path | median MB/s | runs MB/s | failed runs |")
print("|---|---:|---|---:|")
med = {}
for name, tag in (("plain veth", "tput.plain"), ("minimal relay (floor)", "tput.minrelay"),
                  ("caisson relay", "tput.caisson"), ("srt proxy", "tput.srt")):
    m, good, bad, xs = tput(tag)
    med[tag] = m
    if not xs:
        continue
    print("| %s | **%s** | %s | %d%s |" % (name, "%.0f" % m if m else "n/a",
          ", ".join("%.0f" % g for g in good), bad,
          "".join(" (%s)" % x["fail"] if "fail" in x else
                  " (%s of %s bytes arrived, then the connection closed normally)" % (x["bytes"], nbytes)
                  for x in xs if x.get("ok") != "1")[:400]))
print()
print("- **relay / plain = %s** (target ≥ 0.6, stretch 0.8)" % ratio(med["tput.caisson"], med["tput.plain"]))
print("- relay / minimal relay = %s; minimal relay / plain = %s" % (
    ratio(med["tput.caisson"], med.get("tput.minrelay")), ratio(med.get("tput.minrelay"), med["tput.plain"])))
if med["tput.srt"]:
    print("- **relay / srt = %s** (target ≥ 4)" % ratio(med["tput.caisson"], med["tput.srt"]))
    print("- srt / plain = %s" % ratio(med["tput.srt"], med["tput.plain"]))
print()

# 2. latency
print("### Connection setup: connect to first byte")
print()
print("%s connections per path, in 4 interleaved rounds (plain, caisson, srt) of a quarter each, one "
      "after another (50 more first in each round, not counted); the server writes one byte at accept. "
      "The columns are the medians of the 4 rounds' median, p90, p99 and min. For caisson that includes the fence's redirect, the relay's accept, "
      "SO_ORIGINAL_DST, the client's identification (sock_diag, /proc, sha256 cached), the "
      "decision and the upstream connect; for srt the CONNECT exchange with its proxy." % nconns)
print()
print("| path | median µs | p90 µs | p99 µs | min µs | errors |")
print("|---|---:|---:|---:|---:|---:|")
lat = {}
for name, tag in (("plain veth", "lat.plain"), ("minimal relay (floor)", "lat.minrelay"),
                  ("caisson relay", "lat.caisson"), ("srt proxy", "lat.srt")):
    xs = R.get(tag, [])
    for x in xs:
        if "fail" in x:
            print("| %s | failed: %s | | | | |" % (name, x["fail"][:200]))
        elif "median_us" not in x:
            print("| %s | failed: no connection (%s errors, rc=%s) | | | | |" % (
                name, x.get("errors", "?"), x.get("rc", "?")))
    xs = [x for x in xs if "fail" not in x and "median_us" in x]
    if not xs:
        continue
    mm = lambda k: statistics.median(f(x[k]) for x in xs)
    lat[tag] = mm("median_us")
    print("| %s | **%.1f** (rounds: %s) | %.1f | %.1f | %.1f | %d |" % (name, mm("median_us"),
          ", ".join(x["median_us"] for x in xs), mm("p90_us"), mm("p99_us"), mm("min_us"),
          sum(int(x["errors"]) for x in xs)))
print()
if "lat.caisson" in lat and "lat.plain" in lat:
    print("- **relay overhead = %.0f µs median** (target ≤ 100 µs)" % (lat["lat.caisson"] - lat["lat.plain"]))
if "lat.minrelay" in lat and "lat.plain" in lat:
    print("- minimal relay overhead = %.0f µs median: what any relay behind the redirect costs here "
          "(two TCP connections and two more wakeups than the plain path)" % (lat["lat.minrelay"] - lat["lat.plain"]))
    if "lat.caisson" in lat:
        print("- caisson beyond the minimal relay = %.0f µs median (identification, decision, events)"
              % (lat["lat.caisson"] - lat["lat.minrelay"]))
if "lat.srt" in lat and "lat.plain" in lat:
    print("- srt overhead = %.0f µs median" % (lat["lat.srt"] - lat["lat.plain"]))
print()

# 3. scale
print("### Relay scale")
print()
print("| measure | plain veth | caisson relay |")
print("|---|---:|---:|")
def one(tag):
    xs = R.get(tag, [])
    return xs[-1] if xs else None
cp, cc = one("conc.plain"), one("conc.caisson")
def conc(x):
    if x is None:
        return "n/a"
    if "fail" in x:
        return "failed: " + x["fail"][:200]
    return "%s open, %s errors, connect %s s, exchange %s s" % (x["open_at_hold"], x["errors"], x["connect_s"], x["exchange_s"])
print("| 1000 concurrent connections, 10 rounds of 1000 B echoed on each | %s | %s |" % (conc(cp), conc(cc)))
def median_by(tag, key):
    xs = [x for x in R.get(tag, []) if key in x]
    if not xs:
        return one(tag)
    xs.sort(key=lambda x: float(x[key]))
    m = dict(xs[len(xs) // 2])
    m["all"] = ", ".join(x[key] for x in R[tag] if key in x)
    m["errors_all"] = sum(int(x["errors"]) for x in xs)
    return m
rp, rc_ = median_by("rate.plain", "per_s"), median_by("rate.caisson", "per_s")
rm_ = median_by("rate.minrelay", "per_s")
def rate(x):
    if x is None:
        return "n/a"
    if "fail" in x:
        return "failed: " + x["fail"][:200]
    return "**%s/s** (rounds: %s; slowest second of the median round %s), errors in all rounds: %s" % (
        x["per_s"], x.get("all", x["per_s"]), x["min_1s"], x.get("errors_all", x["errors"]))
print("| new connections/s, median of 3 interleaved rounds of 5 s, 64 in flight, banner byte + EOF each | %s | %s |" % (rate(rp), rate(rc_)))
print("| the same through the minimal relay (floor) | | %s |" % rate(rm_))
mi, mc = one("idle.caisson.mem"), one("conc.caisson.mem")
def mem(x):
    if x is None:
        return "n/a"
    return "VmRSS %.2f MiB, VmHWM %.2f MiB, %s threads, %s fds" % (
        int(x["rss_kib"]) / 1024, int(x["hwm_kib"]) / 1024, x["threads"], x["fds"])
print("| supervisor with 1 relayed connection open | | %s |" % mem(mi))
print("| supervisor with 1000 relayed connections open | | **%s** |" % mem(mc))
print()
if rc_ and "per_s" in rc_:
    print("- relay new connections/s: **%s** (target ≥ 10000, no errors); relay / plain = %s" % (
        rc_["per_s"], ratio(f(rc_["per_s"]), f(rp.get("per_s")) if rp else None)))
    if rm_ and "per_s" in rm_:
        print("- minimal relay: %s/s; caisson / minimal relay = %s" % (
            rm_["per_s"], ratio(f(rc_["per_s"]), f(rm_["per_s"]))))
if mi and mc:
    print("- supervisor memory per open relayed connection ≈ %.1f KiB (VmRSS difference / 999)" % (
        (int(mc["rss_kib"]) - int(mi["rss_kib"])) / 999.0))
print()

# 4. DNS
print("### DNS gateway")
print()
print("`dnsload`: A queries over UDP, 64 outstanding, 3 s each; answers must match a query in "
      "flight. Inside the sandbox it asks 127.0.0.1:53 (the gateway, as resolv.conf says); the "
      "gateway forwards allowed names to the test server (`--dns-upstream 198.51.100.2:53`).")
print()
print("| queries | where | answered/s | answers | lost |")
print("|---|---|---:|---|---:|")
for name, where, tag in (("`api.bench.test` (allowed, same name each time)", "plain: H → S directly", "dns.plain"),
                         ("`api.bench.test` (allowed, same name each time)", "caisson gateway", "dns.allowed"),
                         ("`rXXXXXXXX.w.bench.test`, fresh each time", "plain: H → S directly", "dns.plainw"),
                         ("`rXXXXXXXX.w.bench.test`, fresh each time (allowed wildcard)", "caisson gateway", "dns.wildcard"),
                         ("`rXXXXXXXX.denied.test`, fresh each time (refused)", "caisson gateway", "dns.refused")):
    x = one(tag)
    if x is None:
        continue
    if "fail" in x:
        print("| %s | %s | failed: %s | | |" % (name, where, x["fail"][:200]))
        continue
    ans = ", ".join("%s %s" % (k, x[k]) for k in ("noerror_a", "noerror_empty", "refused", "nxdomain", "servfail", "other", "bad") if x.get(k, "0") != "0")
    print("| %s | %s | **%s** | %s | %s |" % (name, where, x["qps"], ans, x["lost"]))
print()
b, a = one("dns.before"), one("dns.after")
if a and b and "dns_denied_seen" in a:
    seen = int(a["dns_denied_seen"]) - int(b["dns_denied_seen"])
    print("- refused names that reached the test server during the gateway runs: **%d** (must be 0); "
          "queries it answered during them: %d" % (seen, int(a["dns"]) - int(b["dns"])))
x = one("dns.allowed")
if x and "qps" in x:
    print("- **gateway, allowed name: %s queries/s** (target ≥ 20000)" % x["qps"])
print()

# 5. start
res = {r["command"]: r for r in json.load(open(startf))["results"]}
ms = lambda s: s * 1000.0
print("### Start-to-exit latency with a network policy")
print()
print("`bench/interleave.c`, %s rounds after 5 warmup rounds, each command once per round in "
      "turn (the order rotating and reversing), in netns H, from the workdir. `caisson-net` = `caisson run -T "
      "--policy P --dns-upstream 198.51.100.2:53 -- /bin/true` (netns, nft fence through "
      "libnftables, read back and checked, DNS gateway and relay sockets, egress thread)." % runs)
print()
print("| command | median ms | mean ± σ ms | min ms | max ms |")
print("|---|---:|---:|---:|---:|")
for name, r in res.items():
    print("| %s | **%.2f** | %.2f ± %.2f | %.2f | %.2f |" % (name, ms(r["median"]), ms(r["mean"]),
          ms(r["stddev"] or 0), ms(r["min"]), ms(r["max"])))
print()
if "caisson-net" in res:
    print("- **caisson-net / bwrap = %.2f** (target ≤ 1.5)" % (res["caisson-net"]["median"] / res["bwrap"]["median"]))
    print("- median of the per-round ratios caisson-net / bwrap = %.2f (the two runs of a round "
          "are at most a few commands apart)" % statistics.median(
              a / b for a, b in zip(res["caisson-net"]["times"], res["bwrap"]["times"])))
    print("- caisson-net − caisson (no network policy) = %.2f ms" % ms(res["caisson-net"]["median"] - res["caisson"]["median"]))
print()

# 6. one connect()
def per_call(tag):
    v = [f(x.get("per_call_us")) for x in R.get(tag, []) if "fail" not in x]
    v = [x for x in v if x is not None]
    return (statistics.median(v), v) if v else (None, [])
cp, cpv = per_call("connloop.plain")
cn, cnv = per_call("connloop.net")
if cpv or cnv:
    print("### One connect() inside the sandbox")
    print()
    print("`bench/connloop.c`: 20000 connect() calls on one UDP socket (no packet sent), 5 rounds "
          "in turn. With network_policies each connect() (and each TCP Fast Open send) is held "
          "by a seccomp user notification while the supervisor records its caller for the relay; "
          "without, it is a plain syscall.")
    print()
    print("| caisson run | µs per connect(), median | rounds |")
    print("|---|---:|---|")
    if cp is not None:
        print("| without a network policy | %.2f | %s |" % (cp, ", ".join("%.2f" % x for x in cpv)))
    if cn is not None:
        print("| with a network policy | **%.2f** | %s |" % (cn, ", ".join("%.2f" % x for x in cnv)))
    print()
    if cp is not None and cn is not None:
        print("- an observed connect() costs %.1f µs more (one round trip to the supervisor)" % (cn - cp))
    print()

# 7. the holder walk
walk = {}
for n in (0, 10, 50):
    v = [f(x.get("median_us")) for x in R.get("walk.%d" % n, []) if "fail" not in x]
    v = [x for x in v if x is not None]
    if v:
        walk[n] = (statistics.median(v), v)
if walk:
    print("### Connect to first byte as the sandbox grows")
    print()
    print("The relay finds who holds a client socket by reading every fd of every process in the "
          "sandbox (`/proc/PID/fd/N`, one readlinkat() each) at each accept. Here the client "
          "(34 fds) runs under bash (34 fds), beside N idle processes (`sleep`) with 34 fds each; "
          "`netload latency` with 500 connections, 3 rounds in turn.")
    print()
    print("| idle processes | fds in the sandbox (about) | connect to first byte, median µs | rounds |")
    print("|---:|---:|---:|---|")
    for n, (m, v) in sorted(walk.items()):
        print("| %d | %d | **%.1f** | %s |" % (n, 34 * (n + 2), m, ", ".join("%.1f" % x for x in v)))
    print()
    if 0 in walk and 50 in walk:
        print("- each fd in the sandbox adds %.2f µs to every new connection (from 0 to 50 idle "
              "processes)" % ((walk[50][0] - walk[0][0]) / (34 * 50)))
    print()
PYEOF

cat <<EOF
Commands (\`\$W\` = the temporary workdir, owned by the run user; \`H\` = \`nsenter --net=/run/netns/caisson-bench-h-PID\`;
\`C\` = \`H caisson run -T --policy P --dns-upstream 198.51.100.2:53 --\`; \`SRT\` = \`H srt --settings S --\`
with S = \`{"network": {"allowedDomains": ["198.51.100.2"]}, "filesystem": {"allowWrite": ["\$T/srtw"]}}\`,
\`\$T/srtw\` a root-owned directory beside \$W with a copy of netload):

\`\`\`
server:      nsenter --net=/run/netns/caisson-bench-s-PID \$W/netserver 198.51.100.2 5001 5002 5003 53
floor:       H \$W/minrelay /run/netns/caisson-bench-m-PID 15001; M = nsenter --net=/run/netns/caisson-bench-m-PID
             (M: lo, default dev lo src 127.0.0.1, nft 'ip daddr != 127.0.0.0/8 meta l4proto tcp redirect to :15001')
             M \$W/netload bulk|latency|rate ... as H below
throughput:  H \$W/netload bulk 198.51.100.2 5001 $bytes
             cd \$W && C ./netload bulk 198.51.100.2 5001 $bytes
             cd \$T/srtw && SRT ./netload -p bulk 198.51.100.2 5001 $bytes
latency:     H \$W/netload latency 198.51.100.2 5002 $((nconns / 4))       (4 rounds; C ./netload ..., SRT ./netload -p ...)
concurrent:  H \$W/netload concurrent 198.51.100.2 5003 1000 10 \$W/hold   (C ./netload ...; VmRSS/VmHWM of C's pid while \$W/hold exists)
rate:        H \$W/netload rate 198.51.100.2 5002 5 64                (3 rounds; C ./netload ...)
dns:         H \$W/dnsload 198.51.100.2 53 3 64 fixed api.bench.test
             H \$W/dnsload 198.51.100.2 53 3 64 random w.bench.test
             C ./dnsload 127.0.0.1 53 3 64 fixed api.bench.test
             C ./dnsload 127.0.0.1 53 3 64 random w.bench.test
             C ./dnsload 127.0.0.1 53 3 64 random denied.test
start:       H interleave $runs 5 OUT bwrap <bwrap as in the first section> /bin/true \\
               :: caisson caisson run -T -- /bin/true \\
               :: caisson-net caisson run -T --policy P --dns-upstream 198.51.100.2:53 -- /bin/true
connect():   H caisson run -T -- ./connloop 20000    and    C ./connloop 20000   (5 rounds in turn)
walk:        C /bin/bash ./walk.sh N    (N = 0, 10, 50; N sleepers with 34 fds, then netload latency 198.51.100.2 5002 500)
\`\`\`

EOF
