# Sourced by the bench scripts (POSIX sh). Benchmarks, not tests: they print numbers and
# never fail on a timing. Each script prints its section of RESULTS.md (markdown) on
# stdout and its progress on stderr; bench/run-all.sh puts the sections together.
#
# Environment:
#   CAISSON_BUILD_DIR  the caisson build directory to measure (default: build, made with
#                      scripts/build.sh when it has no caisson yet)
#   BENCH_RUNS         rounds of the start-latency comparisons (default 100)
set -eu

bench_repo=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3

bench_log() { echo "bench: $*" >&2; }

bench_require_root() {
        if [ "$(id -u)" != 0 ]; then
                echo "$0: run as root (caisson run needs it): sudo sh $0" >&2
                exit 1
        fi
}

# The only network access of the benchmarks: installing a missing tool, once.
bench_require_tools() {
        missing=""
        command -v bwrap >/dev/null || missing="$missing bubblewrap"
        command -v firejail >/dev/null || missing="$missing firejail"
        [ -x /usr/bin/time ] || missing="$missing time"
        command -v cc >/dev/null || missing="$missing build-essential"
        if [ -n "$missing" ]; then
                bench_log "installing$missing"
                # shellcheck disable=SC2086
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2
        fi
}

bench_caisson() {
        dir=${CAISSON_BUILD_DIR:-build}
        case $dir in /*) ;; *) dir=$bench_repo/$dir ;; esac
        if [ ! -x "$dir/caisson" ]; then
                if [ "$dir" = "$bench_repo/build" ]; then
                        sh "$bench_repo/scripts/build.sh" >&2
                else
                        echo "$0: no caisson in $dir (set CAISSON_BUILD_DIR)" >&2
                        exit 1
                fi
        fi
        caisson_dir=$dir
        caisson=$dir/caisson
}

# caisson's rule for the agent's user under the default policy: SUDO_UID unless 0, else
# 65534. A workdir must belong to it.
bench_run_uid() {
        run_uid=65534
        run_gid=65534
        if [ -n "${SUDO_UID:-}" ] && [ "$SUDO_UID" != 0 ]; then
                run_uid=$SUDO_UID
                run_gid=$(getent passwd "$run_uid" | cut -d: -f4)
                [ -n "$run_gid" ] || run_gid=$run_uid
        fi
}

# A temporary directory that is removed on every exit path; searchable by the run user.
bench_tmpdir() {
        bench_tmp=$(mktemp -d /tmp/caisson-bench.XXXXXX)
        chmod 0755 "$bench_tmp"
        trap 'rm -rf "$bench_tmp"' EXIT
        trap 'exit 130' INT TERM HUP
}

# bench_netpair H S TAG: network namespaces H and S joined by a veth pair (TAG names its two
# ends), 198.51.100.1/24 in H and 198.51.100.2/24 in S, documentation addresses; every link
# up. The caller removes the namespaces (their links go with them).
bench_netpair() {
        ip netns add "$1"
        ip netns add "$2"
        ip -n "$1" link add "${3}h" type veth peer name "${3}s" netns "$2"
        ip -n "$1" addr add 198.51.100.1/24 dev "${3}h"
        ip -n "$2" addr add 198.51.100.2/24 dev "${3}s"
        for ns in "$1" "$2"; do
                ip -n "$ns" link set lo up
        done
        ip -n "$1" link set "${3}h" up
        ip -n "$2" link set "${3}s" up
}

# bench_wait_ready FILE: until a background tool wrote "ready" to FILE (5 s, else its
# output and exit 1).
bench_wait_ready() {
        i=0
        until grep -q ready "$1" 2>/dev/null; do
                i=$((i + 1))
                [ $i -lt 50 ] || { cat "$1" >&2; exit 1; }
                sleep 0.1
        done
}

# bwrap with a read-only view equivalent to caisson's default policy: /usr, /etc, /opt,
# /var/lib, /var/log read-only, the merged-/usr symlinks (or binds where they are real
# directories), fresh /proc, a minimal /dev, private /tmp and /var/tmp, the workdir
# read-write. Prints the arguments (paths without spaces).
bench_bwrap_args() {
        work=$1
        printf '%s' "bwrap --unshare-all --die-with-parent --new-session --ro-bind /usr /usr"
        for d in /etc /opt /var/lib /var/log; do
                [ -e "$d" ] && printf ' %s' "--ro-bind $d $d"
        done
        for d in bin sbin lib lib32 lib64 libx32; do
                if [ -L "/$d" ]; then
                        printf ' %s' "--symlink $(readlink "/$d") /$d"
                elif [ -d "/$d" ]; then
                        printf ' %s' "--ro-bind /$d /$d"
                fi
        done
        printf ' %s' "--proc /proc --dev /dev --tmpfs /tmp --tmpfs /var/tmp --bind $work $work --chdir $work"
}
