#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Do the coding agents start inside their ready policies? For Claude Code, Codex CLI and
# OpenCode: install the npm package if the command is missing, run `TOOL --version` and
# `TOOL --help` inside policies/TOOL.yaml as a non-root user, and ask `policy explain`
# whether the tool's real executable may reach its API host. Prints PASS or FAIL per tool
# and exits 1 if any failed.
#
# Not part of CI: it needs the npm registry and takes minutes. Run it as root from
# anywhere, after building caisson:
#
#   sudo scripts/check-agents.sh                        # uses build/caisson
#   sudo CAISSON=build-x/caisson scripts/check-agents.sh
#   sudo scripts/check-agents.sh --no-install claude-code codex
#
# The run user is AGENT_USER (default agenttest), created with a home directory if
# missing. caisson makes the state directories each policy lists (state_directories) in
# its home, and the script checks that they are there and the user's. The sandboxes have
# no network of their own here beyond their policies; only starting is checked.
set -u

cd "$(dirname "$0")/.." || exit 1
CAISSON=${CAISSON:-build/caisson}
AGENT_USER=${AGENT_USER:-agenttest}
install=1
tools=()
for a in "$@"; do
        case $a in
        --no-install) install=0 ;;
        claude-code | codex | opencode) tools+=("$a") ;;
        -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [--no-install] [claude-code|codex|opencode]..." >&2; exit 2 ;;
        esac
done
((${#tools[@]})) || tools=(claude-code codex opencode)

die() { echo "check-agents: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root (it installs packages and runs caisson for $AGENT_USER)"
[[ -x $CAISSON ]] || die "$CAISSON not found: build caisson first, or set CAISSON"
CAISSON=$(realpath "$CAISSON") root=$PWD
command -v npm >/dev/null || die "npm not found"

# tool -> command, npm package, API host the policy must allow it to reach
declare -A CMD=([claude-code]=claude [codex]=codex [opencode]=opencode)
declare -A PKG=([claude-code]=@anthropic-ai/claude-code [codex]=@openai/codex [opencode]=opencode-ai)
declare -A HOST=([claude-code]=api.anthropic.com [codex]=api.openai.com [opencode]=api.anthropic.com)
declare -A STATE=([claude-code]=".claude" [codex]=".codex"
                  [opencode]=".config/opencode .local/share/opencode .local/state/opencode .cache/opencode")

if ! id "$AGENT_USER" >/dev/null 2>&1; then
        useradd -m -s /bin/bash "$AGENT_USER" || die "cannot create user $AGENT_USER"
fi
uid=$(id -u "$AGENT_USER") gid=$(id -g "$AGENT_USER")
home=$(getent passwd "$AGENT_USER" | cut -d: -f6)
[[ $uid != 0 ]] || die "$AGENT_USER is root"

scratch=$(mktemp -d /tmp/check-agents.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$scratch"' EXIT
work=$scratch/work
mkdir -p "$work" && git -C "$work" init -q &&
        git -C "$work" -c user.name=check -c user.email=check@invalid commit -q --allow-empty -m init ||
        die "cannot make the scratch git repository"
chown -R "$uid:$gid" "$scratch"

# The executable that connects: the target of the command's links, or for Codex the
# native binary its node launcher starts.
real_binary() {
        local t=$1 path
        path=$(readlink -f "$(command -v "${CMD[$t]}")") || return 1
        if [[ $t == codex ]]; then
                path=$(find "$(npm root -g 2>/dev/null)/@openai/codex" -path '*/vendor/*/bin/codex' \
                        -type f 2>/dev/null | head -n1)
        fi
        [[ -n $path ]] && echo "$path"
}

# caisson run as the test user, in the scratch repository.
sandbox() {
        local t=$1 out=$2
        shift 2
        (cd "$work" && SUDO_UID=$uid SUDO_GID=$gid "$CAISSON" run -T --timeout 120s \
                --events "$scratch/$t.events" --policy "$root/policies/$t.yaml" -- "$@") \
                </dev/null >"$out" 2>&1
}

failed=0
for t in "${tools[@]}"; do
        echo "== $t"
        if ! command -v "${CMD[$t]}" >/dev/null; then
                if ((install)); then
                        echo "installing ${PKG[$t]}"
                        npm install -g "${PKG[$t]}" >"$scratch/$t.npm" 2>&1 ||
                                { cat "$scratch/$t.npm"; echo "FAIL $t: npm install"; failed=1; continue; }
                else
                        echo "FAIL $t: ${CMD[$t]} is not installed (--no-install)"; failed=1; continue
                fi
        fi
        bin=$(real_binary "$t") || bin=
        echo "command: $(command -v "${CMD[$t]}") -> $(readlink -f "$(command -v "${CMD[$t]}")")"
        echo "executable: ${bin:-?}"
        ok=1
        for args in --version --help; do
                if sandbox "$t" "$scratch/$t.out" "${CMD[$t]}" $args; then
                        echo "ok: ${CMD[$t]} $args: $(grep -v '^caisson: ' "$scratch/$t.out" | head -n1)"
                else
                        echo "failed: ${CMD[$t]} $args (exit $?):"; sed 's/^/    /' "$scratch/$t.out"; ok=0
                fi
        done
        if grep -q '"event":"syscall.denied"\|"event":"egress.denied"' "$scratch/$t.events" 2>/dev/null; then
                echo "denials:"; grep '"event":"syscall.denied"\|"event":"egress.denied"' "$scratch/$t.events" |
                        sed 's/^/    /'
        fi
        if [[ -n $bin ]] && "$CAISSON" policy explain "policies/$t.yaml" --connect "${HOST[$t]}:443" \
                --binary "$bin" >"$scratch/$t.explain" 2>&1; then
                echo "ok: policy explain allows $bin to ${HOST[$t]}:443"
        else
                echo "failed: policy explain for ${bin:-?} to ${HOST[$t]}:443:"
                sed 's/^/    /' "$scratch/$t.explain" 2>/dev/null; ok=0
        fi
        # Made by caisson (state_directories) if they were missing, as the user.
        for d in ${STATE[$t]}; do
                if [[ $(stat -c %u "$home/$d" 2>/dev/null) == "$uid" ]]; then
                        echo "ok: state directory ~/$d"
                else
                        echo "failed: state directory ~/$d is missing or not $AGENT_USER's"; ok=0
                fi
        done
        if ((ok)); then echo "PASS $t"; else echo "FAIL $t"; failed=1; fi
done
exit $failed
