#!/bin/sh
# Memory of the supervisor, side by side with bubblewrap:
#   - /usr/bin/time -f %M: the peak RSS the kernel reports when the command is reaped
#     (wait4). That is the largest of the processes of the tree it waited for, not their
#     sum — for caisson, the larger of the supervisor, the sandbox's init and the agent.
#   - VmHWM from /proc/PID/status of the supervisor alone (caisson run; the outer bwrap
#     process) and of the sandbox's pid 1 (caisson's init; bwrap's inner pid-1 bwrap),
#     read while the agent sleeps.
# Medians of 5 runs. Target: supervisor ≤ 4 MiB. Usage: sudo sh bench/rss.sh
. "$(dirname "$0")/lib.sh"
bench_require_root
bench_require_tools
bench_caisson
bench_run_uid
bench_tmpdir

work=$bench_tmp/work
mkdir "$work"
chown "$run_uid" "$work"
bwrap_args=$(bench_bwrap_args "$work")
reps=5

# kib FIELD PID: a field of /proc/PID/status in KiB, or empty.
kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status" 2>/dev/null || true; }
first_child() { cut -d' ' -f1 "/proc/$1/task/$1/children" 2>/dev/null || true; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# time_max NAME CMD...: median of /usr/bin/time %M over $reps runs, in KiB.
time_max() {
        name=$1
        shift
        i=0
        while [ $i -lt $reps ]; do
                (cd "$work" && /usr/bin/time -f %M -o "$bench_tmp/time.out" "$@" >/dev/null 2>&1) ||
                        bench_log "$name: exited non-zero"
                cat "$bench_tmp/time.out"
                i=$((i + 1))
        done | median
}

# hwm NAME CMD...: starts CMD (which sleeps 1 s in the sandbox), reads VmHWM of the
# process itself and of its first child (the sandbox's pid 1) after 0.5 s. Prints
# "supervisor_median init_median" in KiB.
hwm() {
        name=$1
        shift
        : >"$bench_tmp/sup"
        : >"$bench_tmp/init"
        i=0
        while [ $i -lt $reps ]; do
                (cd "$work" && exec "$@") >/dev/null 2>&1 &
                pid=$!
                sleep 0.5
                kib VmHWM "$pid" >>"$bench_tmp/sup"
                child=$(first_child "$pid")
                [ -z "$child" ] || kib VmHWM "$child" >>"$bench_tmp/init"
                wait "$pid" || bench_log "$name: exited non-zero"
                i=$((i + 1))
        done
        echo "$(median <"$bench_tmp/sup") $(median <"$bench_tmp/init")"
}

bench_log "rss: /usr/bin/time and VmHWM, $reps runs each"
# shellcheck disable=SC2086
{
c_true=$(time_max caisson "$caisson" run -T -- /bin/true)
c_sleep=$(time_max caisson "$caisson" run -T -- sleep 1)
b_true=$(time_max bwrap $bwrap_args /bin/true)
b_sleep=$(time_max bwrap $bwrap_args sleep 1)
c_hwm=$(hwm caisson "$caisson" run -T -- sleep 1)
b_hwm=$(hwm bwrap $bwrap_args sleep 1)
}

"$PY" - "$c_true" "$c_sleep" "$b_true" "$b_sleep" $c_hwm $b_hwm <<'PYEOF'
import sys
v = [float(x) if x else None for x in sys.argv[1:]]
while len(v) < 8:
    v.append(None)
c_true, c_sleep, b_true, b_sleep, c_sup, c_init, b_sup, b_init = v
mib = lambda k: "n/a" if k is None else "%.2f MiB" % (k / 1024.0)
print("## Memory (peak RSS)")
print()
print("Medians of 5 runs. `%M` is what `/usr/bin/time -f %M` reports: the largest process of "
      "the tree the kernel reaped, not a sum. VmHWM is read from `/proc/PID/status` while the "
      "agent sleeps.")
print()
print("| measure | caisson | bwrap |")
print("|---|---:|---:|")
print("| `/usr/bin/time -f %%M … /bin/true` | %s | %s |" % (mib(c_true), mib(b_true)))
print("| `/usr/bin/time -f %%M … sleep 1` | %s | %s |" % (mib(c_sleep), mib(b_sleep)))
print("| supervisor VmHWM (`caisson run` / outer `bwrap`) | **%s** | %s |" % (mib(c_sup), mib(b_sup)))
print("| sandbox pid 1 VmHWM (caisson init / inner `bwrap`) | %s | %s |" % (mib(c_init), mib(b_init)))
print()
if c_sup is not None:
    print("- **caisson supervisor VmHWM = %.2f MiB** (target ≤ 4 MiB); caisson / bwrap = %.2f"
          % (c_sup / 1024.0, c_sup / b_sup if b_sup else float("nan")))
print()
PYEOF
echo "Commands: \`cd \$W && /usr/bin/time -f %M caisson run -T -- /bin/true\` (and \`sleep 1\`);"
echo "the same bwrap command line as in the latency section with \`/bin/true\` / \`sleep 1\`;"
echo "VmHWM: \`caisson run -T -- sleep 1 &\`, then \`/proc/\$!/status\` and"
echo "\`/proc/\$!/task/\$!/children\` after 0.5 s."
echo
