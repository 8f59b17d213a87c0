#!/bin/sh
# Two (or more) caisson builds side by side on the relay's two latency-bound measures:
# connect to first byte (`netload latency`, median of 500 connections) and new
# connections/s (`netload rate`, 3 s, 64 in flight), each build once per round, rounds in
# turn. For telling whether a change to the egress path costs or saves anything, on a
# machine whose load drifts more than the change: egress.sh measures one build against the
# plain path and the minimal relay, this one builds against each other.
#
# Topology as in egress.sh, with names of its own: netns H (the builds' `caisson run`, the
# client inside) and S (bench/netserver.c), veth 198.51.100.1/24 - 198.51.100.2/24; both
# removed, and every process in them ended, on every exit path.
#
# Usage: sudo sh bench/ab-egress.sh NAME=PATH/TO/caisson NAME=PATH/TO/caisson ...
#   (paths without spaces)
#   BENCH_AB_ROUNDS (default 6)
# Prints one line per build and round, then per build the medians over the rounds.
. "$(dirname "$0")/lib.sh"
bench_require_root
bench_run_uid
bench_tmpdir

[ $# -ge 1 ] || { echo "usage: $0 NAME=CAISSON ..." >&2; exit 2; }
# The builds run from the bench's workdir: each PATH is made absolute here (a relative one
# would name nothing there, and every round of that build would read n/a).
abs=""
for v in "$@"; do
        b=${v#*=}
        [ "$b" != "$v" ] && [ -x "$b" ] || { echo "$0: '$v': want NAME=PATH to a caisson binary" >&2; exit 2; }
        abs="$abs ${v%%=*}=$(realpath "$b")"
done
# shellcheck disable=SC2086
set -- $abs
rounds=${BENCH_AB_ROUNDS:-6}
hns=caisson-ab-h-$$
sns=caisson-ab-s-$$
srv=198.51.100.2
work=$bench_tmp/work

cleanup() {
        for ns in "$hns" "$sns"; do
                pids=$(ip netns pids "$ns" 2>/dev/null || true)
                # shellcheck disable=SC2086
                [ -z "$pids" ] || kill $pids 2>/dev/null || true
        done
        sleep 0.3
        ip netns del "$hns" 2>/dev/null || true
        ip netns del "$sns" 2>/dev/null || true
        rm -rf "$bench_tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir "$work"
for t in netload netserver; do
        cc -O2 -o "$work/$t" "$bench_repo/bench/$t.c" -lpthread
done
chown "$run_uid" "$work"
bench_netpair "$hns" "$sns" "ca$$"
nsenter --net="/run/netns/$sns" "$work/netserver" "$srv" 5001 5002 5003 53 >"$bench_tmp/server.out" 2>&1 &
bench_wait_ready "$bench_tmp/server.out"
cat >"$work/p.yaml" <<P
version: 1
network_policies:
  bench:
    endpoints:
      - host: $srv
        ports: [5001, 5002, 5003]
    binaries:
      - path: $work/netload
P

out=$bench_tmp/ab
: >"$out"
# The order reverses every other round, so no build always runs right after another.
rev=""
for v in "$@"; do
        rev="$v $rev"
done
r=1
while [ $r -le "$rounds" ]; do
        if [ $((r % 2)) = 1 ]; then order="$*"; else order=$rev; fi
        for v in $order; do
                name=${v%%=*}
                b=${v#*=}
                l=$(cd "$work" && nsenter --net="/run/netns/$hns" "$b" run -T --policy "$work/p.yaml" -- \
                        ./netload latency "$srv" 5002 500 2>/dev/null | grep '^latency' || true)
                q=$(cd "$work" && nsenter --net="/run/netns/$hns" "$b" run -T --policy "$work/p.yaml" -- \
                        ./netload rate "$srv" 5002 3 64 2>/dev/null | grep '^rate' || true)
                echo "$name round=$r $l | $q" | tee -a "$out"
        done
        r=$((r + 1))
done
"$PY" - "$out" "$@" <<'PYEOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print()
print("| build | connect to first byte, median µs (median of rounds) | new connections/s (median of rounds) | errors |")
print("|---|---:|---:|---:|")
for v in sys.argv[2:]:
    name = v.split("=", 1)[0]
    lat, rate, err = [], [], 0
    for r in rows:
        if r[0] != name:
            continue
        kv = dict(t.split("=", 1) for t in r if "=" in t and not t.startswith("round="))
        if "median_us" in kv:
            lat.append(float(kv["median_us"]))
        if "per_s" in kv:
            rate.append(float(kv["per_s"]))
        err += sum(int(r2.split("=")[1]) for r2 in r if r2.startswith("errors="))
    m = lambda x, f: f % statistics.median(x) if x else "n/a"
    print("| %s | %s | %s | %d |" % (name, m(lat, "%.1f"), m(rate, "%.0f"), err))
PYEOF
