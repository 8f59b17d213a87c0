#!/bin/sh
# Configures (once) and builds caisson in ./build. Idempotent.
set -eu
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build
