#!/bin/sh
# Start-to-exit latency of a sandboxed /bin/true, side by side (bench/interleave.c: the
# commands run in turn, one run each per round, so all of them see the same moments of a
# shared machine's load; medians):
#   bare      /bin/true, no sandbox
#   floor     bench/floor.c: clone() into the six namespaces caisson uses, exec, wait
#   bwrap     bwrap --unshare-all --die-with-parent --new-session, with a read-only view
#             equivalent to caisson's default policy (bench_bwrap_args in lib.sh)
#   firejail  firejail --noprofile --net=none --private-dev, / read-only but the workdir (its
#             own kind of view: the whole host tree read-only, not a list of directories)
#   nsjail    when installed (Debian 12 has no package)
#   crun is not measured: it refuses this machine's hybrid cgroups (the cgroup2 mount has
#   the hugetlb controller), with or without --cgroup-manager=disabled
#   caisson   caisson run -T -- /bin/true, default policy, from a temporary workdir
# Prints a markdown section; see bench/run-all.sh. Usage: sudo sh bench/start-latency.sh
. "$(dirname "$0")/lib.sh"
bench_require_root
bench_require_tools
bench_caisson
bench_run_uid
bench_tmpdir

runs=${BENCH_RUNS:-100}
work=$bench_tmp/work
mkdir "$work"
chown "$run_uid" "$work"
cc -O2 -o "$bench_tmp/floor" "$bench_repo/bench/floor.c"
cc -O2 -o "$bench_tmp/interleave" "$bench_repo/bench/interleave.c" -lm
bwrap_cmd="$(bench_bwrap_args "$work") /bin/true"

# bwrap's arguments are split on purpose (they hold no quoted spaces), with globbing off.
set -f
# shellcheck disable=SC2086
set -- bare /bin/true :: floor "$bench_tmp/floor" :: bwrap $bwrap_cmd
set +f
set -- "$@" :: firejail firejail --quiet --noprofile --net=none --private-dev --read-only=/ \
        --read-write="$work" /bin/true
nsjail_note="nsjail: not installed (Debian 12 has no nsjail package), not measured."
if command -v nsjail >/dev/null; then
        set -- "$@" :: nsjail nsjail -Mo --quiet -R /usr -R /etc -R /lib -R /lib64 -R /bin -B "$work" --cwd "$work" -- /bin/true
        nsjail_note="nsjail: $(command -v nsjail)."
fi
set -- "$@" :: caisson "$caisson" run -T -- /bin/true

bench_log "start latency: $runs rounds, each command once per round in turn, 5 warmup rounds"
(cd "$work" && "$bench_tmp/interleave" "$runs" 5 "$bench_tmp/start.json" "$@") >&2

echo "## Start-to-exit latency (\`/bin/true\`)"
echo
echo "\`bench/interleave.c\`: $runs rounds after 5 warmup rounds; each round runs every command once,"
echo "in turn (the order rotates and reverses from round to round, so each command follows each"
echo "other equally often), so all see the same moments of the machine's load;"
echo "posix_spawn and waitpid, wall time, output to /dev/null; run from a temporary workdir."
echo "Commands (\`\$W\` = the temporary workdir):"
echo
echo '```'
echo "bare:    /bin/true"
echo "floor:   bench/floor.c (clone(CLONE_NEWNS|NEWPID|NEWNET|NEWIPC|NEWUTS|NEWCGROUP), execve /bin/true, waitpid)"
echo "bwrap:   $(echo "$bwrap_cmd" | sed "s|$work|\$W|g")"
echo "firejail: firejail --quiet --noprofile --net=none --private-dev --read-only=/ --read-write=\$W /bin/true"
command -v nsjail >/dev/null && echo "nsjail:  nsjail -Mo --quiet -R /usr -R /etc -R /lib -R /lib64 -R /bin -B \$W --cwd \$W -- /bin/true"
echo "caisson: caisson run -T -- /bin/true    (cwd \$W, built-in default policy)"
echo '```'
echo
"$PY" - "$bench_tmp/start.json" <<'PYEOF'
import json, statistics, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
ms = lambda s: s * 1000.0
print("| command | median ms | mean ± σ ms | min ms | max ms | runs |")
print("|---|---:|---:|---:|---:|---:|")
for name, r in res.items():
    print("| %s | **%.2f** | %.2f ± %.2f | %.2f | %.2f | %d |" % (
        name, ms(r["median"]), ms(r["mean"]), ms(r["stddev"] or 0), ms(r["min"]), ms(r["max"]),
        len(r["times"])))
c = res["caisson"]["median"]
print()
print("Ratios of medians:")
print()
print("- **caisson / bwrap = %.2f** (target ≤ 1.0, stretch 0.8)" % (c / res["bwrap"]["median"]))
print("- median of the per-round ratios caisson / bwrap = %.2f (the two runs of a round are "
      "at most a few commands apart)" % statistics.median(
          a / b for a, b in zip(res["caisson"]["times"], res["bwrap"]["times"])))
if "nsjail" in res:
    print("- caisson / nsjail = %.2f" % (c / res["nsjail"]["median"]))
if "firejail" in res:
    print("- caisson / firejail = %.2f" % (c / res["firejail"]["median"]))
print("- caisson / floor = %.2f (caisson − floor = %.2f ms: the mounts, cgroup, Landlock, seccomp, "
      "privilege drop and supervisor setup on top of the bare namespaces)" % (
          c / res["floor"]["median"], ms(c - res["floor"]["median"])))
print("- bwrap / floor = %.2f" % (res["bwrap"]["median"] / res["floor"]["median"]))
print("- caisson / bare = %.2f" % (c / res["bare"]["median"]))
PYEOF
echo "- $nsjail_note"
echo "- crun: not measured. crun 1.8.1 refuses this machine's hybrid cgroups (\"cgroups in hybrid"
echo "  mode not supported, drop all controllers from cgroupv2\": the cgroup2 mount offers hugetlb),"
echo "  also with --cgroup-manager=disabled."
echo
