#!/bin/sh
# Installs what caisson needs to build, test and benchmark on Debian 12. Idempotent.
set -eu
pkgs="build-essential meson ninja-build pkg-config clang libclang-rt-14-dev scdoc
      libseccomp-dev libyaml-dev libnl-3-dev libnl-route-3-dev libcap-dev libnftables-dev
      libjson-c-dev libcriterion-dev libnghttp2-dev libnghttp2-14 libssl3 libnettle8 iproute2 nftables git python3 util-linux procps curl"
missing=""
for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
                missing="$missing $p"
done
if [ -n "$missing" ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing
fi
