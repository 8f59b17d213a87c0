#!/bin/sh
# What the ceiling (seccomp denylist + Landlock, inside caisson's namespaces) costs a
# running agent:
#   1. bench/sysbench.c, ns per call of getppid, open+close, ioctl(FIONREAD), N = 1e6
#      each, median of 5 runs, in four places: bare; caisson run (default policy);
#      bwrap without seccomp; bwrap with caisson's own default denylist as BPF
#      (bench/denylist-bpf.c compiles it with caisson's table and compiler, and
#      `bwrap --add-seccomp-fd` loads it: the same filter without Landlock).
#   2. a real workload: a generated C project of 50 files built with `make -j2`, bare,
#      inside caisson and inside bwrap, 7 interleaved rounds, each run after `make clean`.
# Usage: sudo sh bench/syscall-overhead.sh
. "$(dirname "$0")/lib.sh"
bench_require_root
bench_require_tools
bench_caisson
bench_run_uid
bench_tmpdir

work=$bench_tmp/work
mkdir "$work"
bwrap_args=$(bench_bwrap_args "$work")
n=1000000
reps=5

cc -O2 -o "$work/sysbench" "$bench_repo/bench/sysbench.c"
bpf_note=""
if cc -O2 -D_GNU_SOURCE -I"$bench_repo/include" -I"$bench_repo/src" -I"$bench_repo/src/shared" \
        -o "$bench_tmp/denylist-bpf" "$bench_repo/bench/denylist-bpf.c" \
        "$caisson_dir/libcaisson-native.a" "$caisson_dir/libcaisson-policy.a" \
        "$caisson_dir/libcaisson-shared.a" -lseccomp 2>"$bench_tmp/bpf.log" &&
   "$bench_tmp/denylist-bpf" "$bench_tmp/main.bpf" "$bench_tmp/ceiling.bpf" 2>"$bench_tmp/bpf.log"; then
        bpf_note=$(cat "$bench_tmp/bpf.log")
else
        bpf_note="could not build the BPF: $(tail -3 "$bench_tmp/bpf.log")"
fi
chown -R "$run_uid" "$work"

# run_sysbench PLACE CMD...: $reps runs, one JSON line each, tagged with PLACE. The BPF
# files are opened for each run (bwrap reads its seccomp fds to the end).
run_sysbench() {
        place=$1
        shift
        i=0
        while [ $i -lt $reps ]; do
                printf '%s ' "$place"
                (cd "$work" && "$@" ./sysbench $n /etc/passwd 5<"$bench_tmp/main.bpf" \
                        6<"$bench_tmp/ceiling.bpf") </dev/null ||
                        { bench_log "$place: sysbench failed"; echo '{"failed": 1}'; }
                i=$((i + 1))
        done
}

bench_log "syscalls: sysbench, N=$n, $reps runs in each place"
# shellcheck disable=SC2086
{
run_sysbench bare env
run_sysbench caisson "$caisson" run -T --
run_sysbench bwrap $bwrap_args
if [ -s "$bench_tmp/main.bpf" ]; then
        run_sysbench bwrap+denylist $bwrap_args --add-seccomp-fd 5 --add-seccomp-fd 6
fi
} >"$bench_tmp/sysbench.out"

# The C project: 50 files of 8 small functions each, and a Makefile.
proj=$work/proj
mkdir "$proj"
i=0
while [ $i -lt 50 ]; do
        awk -v f=$i 'BEGIN {
                printf "#include <stdint.h>\n#include <string.h>\n";
                for (j = 0; j < 8; j++) {
                        printf "uint64_t f%d_%d(const uint64_t *v, int n) {\n", f, j;
                        printf "        uint64_t acc = %d; char buf[64];\n", j;
                        printf "        for (int i = 0; i < n; i++) { acc = acc * 6364136223846793005ULL + v[i] + %d;\n", j;
                        printf "                if (acc %% %d == 0) { memset(buf, (int) acc, sizeof buf); acc ^= buf[i %% 64]; } }\n", j + 3;
                        printf "        for (int k = 0; k < %d; k++) acc = (acc << 7) | (acc >> 57);\n", (j % 5) + 1;
                        printf "        return acc;\n}\n";
                }
        }' >"$proj/f$i.c"
        i=$((i + 1))
done
cat >"$proj/Makefile" <<'MK'
SRCS := $(wildcard f*.c)
OBJS := $(SRCS:.c=.o)
libproj.a: $(OBJS)
	ar rcs $@ $^
%.o: %.c
	cc -O2 -g -Wall -c -o $@ $<
clean:
	rm -f $(OBJS) libproj.a
.PHONY: clean
MK
chown -R "$run_uid" "$proj"

# Rounds interleave the three places (in a rotating order) so that drift in the machine's
# load over the minutes this takes is spread evenly, rather than landing on one of them.
bench_log "workload: make -j2 of 50 files, 7 rounds of bare / caisson / bwrap"
# bwrap runs as the same user as caisson's agent (unprivileged, its usual mode): as root
# it maps only uid 0 into its user namespace and could not write the project's files.
"$PY" - "$proj" "$bench_tmp/make.json" "$caisson" setpriv --reuid="$run_uid" --regid="$run_gid" \
        --clear-groups $(bench_bwrap_args "$proj") <<'PYEOF' >&2
import json, subprocess, sys, time
proj, out, caisson, bwrap = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
places = {
    "bare": ["make", "-s", "-j2"],
    "caisson": [caisson, "run", "-T", "--", "make", "-s", "-j2"],
    "bwrap": bwrap + ["make", "-s", "-j2"],
}
names = list(places)
times = {n: [] for n in names}
failures = {n: [] for n in names}
for rnd in range(8):  # round 0 is the warmup, not counted
    order = names[rnd % 3:] + names[:rnd % 3]
    for n in order:
        subprocess.run(["make", "-s", "clean"], cwd=proj, check=True)
        t0 = time.monotonic()
        p = subprocess.run(places[n], cwd=proj, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        dt = time.monotonic() - t0
        if p.returncode != 0:
            failures[n].append("exit %d: %s" % (p.returncode, p.stderr.strip()[-500:]))
            print("bench: workload %s failed: exit %d: %s" % (n, p.returncode, p.stderr.strip()[-500:]))
        elif rnd > 0:
            times[n].append(dt)
        print("bench: round %d %s %.3f s" % (rnd, n, dt))
json.dump({"times": times, "failures": failures}, open(out, "w"))
PYEOF

echo "## Syscall overhead"
echo
echo "\`bench/sysbench.c\`: N = $n calls of each, ns per call, median of $reps runs."
echo "\`bwrap+denylist\` loads caisson's default denylist as BPF with \`--add-seccomp-fd\`"
echo "($bpf_note; the denied rules answer ENOSYS there, as no listener is attached, which does"
echo "not matter for these allowed calls). caisson adds Landlock on top of the same filter."
echo
"$PY" - "$bench_tmp/sysbench.out" "$bench_tmp/make.json" <<'PYEOF'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    place, _, js = line.partition(" ")
    rows.setdefault(place, []).append(json.loads(js))
ops = ["getppid", "open_close", "ioctl_fionread"]
ok = {p: [r for r in rs if all(o in r for o in ops)] for p, rs in rows.items()}
med = {p: {o: statistics.median([r[o] for r in rs]) for o in ops} for p, rs in ok.items() if rs}
failed = {p: len(rows[p]) - len(ok[p]) for p in rows if len(rows[p]) > len(ok[p])}
bare = med.get("bare")
print("| place | " + " | ".join("%s ns" % o for o in ops) + " |")
print("|---|" + "---:|" * len(ops))
for p, m in med.items():
    cells = []
    for o in ops:
        c = "%.1f" % m[o]
        if bare and p != "bare":
            c += " (%+.0f %%)" % ((m[o] / bare[o] - 1) * 100)
        cells.append(c)
    print("| %s | %s |" % (p, " | ".join(cells)))
for p, k in failed.items():
    print()
    print("- **%s: %d of %d runs failed** (their stderr is in the bench log); the median is "
          "over the rest" % (p, k, len(rows[p])))
if "caisson" in med and "bwrap+denylist" in med:
    print()
    print("caisson / bwrap+denylist per call: " + ", ".join(
        "%s %.2f" % (o, med["caisson"][o] / med["bwrap+denylist"][o]) for o in ops))
print()
print("### Real workload: `make -j2` of a generated 50-file C project")
print()
mk = json.load(open(sys.argv[2]))
print("7 rounds after a warmup round; each round runs the three places in a rotating order, "
      "each after `make -s clean`.")
print()
print("| place | median s | mean ± σ s | min s | runs | overhead vs bare (median) | (min) |")
print("|---|---:|---:|---:|---:|---:|---:|")
b = statistics.median(mk["times"]["bare"])
bmin = min(mk["times"]["bare"])
for name, ts in mk["times"].items():
    if not ts:
        print("| %s | failed | | | 0 | | |" % name)
        continue
    m = statistics.median(ts)
    ov = "" if name == "bare" else "%+.1f %%" % ((m / b - 1) * 100)
    if name == "caisson":
        ov = "**%s** (target ≤ 3 %%)" % ov
    sd = statistics.stdev(ts) if len(ts) > 1 else 0.0
    ovmin = "" if name == "bare" else "%+.1f %%" % ((min(ts) / bmin - 1) * 100)
    print("| %s | %.3f | %.3f ± %.3f | %.3f | %d | %s | %s |" % (
        name, m, statistics.mean(ts), sd, min(ts), len(ts), ov, ovmin))
for name, fs in mk["failures"].items():
    for f in fs:
        print()
        print("- **%s run failed** (%s)" % (name, f.replace("\n", " ")))
print()
PYEOF
echo "Commands (\`\$W\` the temporary workdir, \`\$P\` = \$W/proj):"
echo
echo '```'
echo "bare:            cd \$W && ./sysbench $n /etc/passwd"
echo "caisson:         cd \$W && caisson run -T -- ./sysbench $n /etc/passwd"
echo "bwrap:           $(echo "$bwrap_args" | sed "s|$work|\$W|g") ./sysbench $n /etc/passwd"
echo "bwrap+denylist:  the same + --add-seccomp-fd 5 --add-seccomp-fd 6 5<main.bpf 6<ceiling.bpf"
echo "workload:        cd \$P && make -s clean && make -s -j2"
echo "                 cd \$P && make -s clean && caisson run -T -- make -s -j2"
echo "                 cd \$P && make -s clean && setpriv --reuid=UID --regid=GID --clear-groups \\"
echo "                   <the bwrap view with \$P as workdir> make -s -j2"
echo '```'
echo
