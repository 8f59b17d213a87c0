#!/bin/sh
# Installs dependencies, builds, and runs the whole test suite as CI does: unit, fuzz
# replay, abi, the root integration suites, then everything again under ASan+UBSan.
# Root suites must run (CAISSON_TEST_REQUIRE_ROOT turns their skip into a failure).
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
        echo "scripts/test.sh: run as root (the integration suites build real sandboxes)" >&2
        exit 1
fi
sh scripts/install-deps.sh
export CAISSON_TEST_REQUIRE_ROOT=1

[ -f build/build.ninja ] || meson setup build
ninja -C build
meson test -C build --print-errorlogs --num-processes 2

[ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined \
        -Db_lundef=false -Dbuildtype=debug
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build-asan --print-errorlogs --num-processes 2

# The fuzz targets under libFuzzer, briefly (clang).
if command -v clang >/dev/null; then
        [ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true \
                -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
        ninja -C build-fuzz tests/fuzz/fuzz-policy tests/fuzz/fuzz-sniff tests/fuzz/fuzz-http tests/fuzz/fuzz-dns \
                tests/fuzz/fuzz-nflog tests/fuzz/fuzz-nftraw
        for t in build-fuzz/tests/fuzz/fuzz-*; do
                [ -f "$t" ] && [ -x "$t" ] || continue # skip the .p object directories
                name=$(basename "$t" | sed 's/^fuzz-//')
                # New inputs go to a scratch directory (the first one), never into the
                # checked-in corpus.
                scratch="build-fuzz/corpus-$name"
                mkdir -p "$scratch"
                "$t" -max_total_time=20 -rss_limit_mb=1024 -timeout=5 \
                        "$scratch" "tests/fuzz/corpus/$name" >"build-fuzz/$name.log" 2>&1 ||
                        { tail -30 "build-fuzz/$name.log"; exit 1; }
                echo "fuzz-$name: $(grep -c . "build-fuzz/$name.log") log lines, no crash"
        done
fi
# One closing line over both passes, from meson's own records.
/usr/bin/python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
ok = bad = skip = 0
for path in sys.argv[1:]:
    for line in open(path):
        res = json.loads(line).get("result")
        if res == "OK":
            ok += 1
        elif res == "SKIP":
            skip += 1
        else:
            bad += 1
print(f"{ok} passed, {bad} failed, {skip} skipped")
sys.exit(1 if bad else 0)
PY
