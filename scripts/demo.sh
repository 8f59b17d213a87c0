#!/bin/sh
# The README's first command: installs what caisson needs, builds it, and runs one demo
# agent in a sandbox with the built-in default policy. The agent tries four things and
# the script checks each from outside the sandbox, so the result does not rest on the
# agent's word:
#   1. a write in its workdir            -> allowed (the file is there afterwards)
#   2. a read of a file outside the policy -> refused (that same file is readable by the
#      same user outside the sandbox: the positive control, so the refusal comes from the
#      sandbox and not from file permissions)
#   3. a syscall on the denylist (unshare) -> EPERM, and a syscall.denied event
#   4. its exit code                     -> caisson exits with it
# Exits 0 when all four behaved as expected, 1 otherwise. Idempotent: everything it makes
# is temporary and removed on every exit path.
#
# CAISSON_BIN=path/to/caisson skips the install and build steps (for trying a build of
# your own).
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
        echo "scripts/demo.sh: run as root: sudo sh scripts/demo.sh" >&2
        exit 1
fi

if [ -n "${CAISSON_BIN:-}" ]; then
        caisson=$CAISSON_BIN
else
        echo "== installing dependencies (scripts/install-deps.sh)"
        sh scripts/install-deps.sh
        echo "== building (scripts/build.sh)"
        sh scripts/build.sh >/tmp/caisson-demo-build.log 2>&1 ||
                { tail -40 /tmp/caisson-demo-build.log; exit 1; }
        rm -f /tmp/caisson-demo-build.log
        caisson=./build/caisson
fi
caisson=$(realpath "$caisson")

# The user the agent runs as, by caisson's own rule (the default policy names none):
# SUDO_UID unless it is 0, else 65534. The workdir must be writable by that user.
uid=65534
gid=65534
if [ -n "${SUDO_UID:-}" ] && [ "$SUDO_UID" != 0 ]; then
        uid=$SUDO_UID
        gid=$(getent passwd "$uid" | cut -d: -f4)
        [ -n "$gid" ] || gid=$uid
fi

workdir=""
outside=""
events=""
out=""
cleanup() {
        [ -z "$workdir" ] || rm -rf "$workdir"
        [ -z "$outside" ] || rm -rf "$outside"
        [ -z "$events" ] || rm -f "$events"
        [ -z "$out" ] || rm -f "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

workdir=$(mktemp -d /tmp/caisson-demo-work.XXXXXX)
chown "$uid:$gid" "$workdir"
chmod 0755 "$workdir"
events=$(mktemp /tmp/caisson-demo-events.XXXXXX)
out=$(mktemp /tmp/caisson-demo-out.XXXXXX)

# A file outside every path of the default policy, readable by everyone on the host.
parent=/home
[ -d "$parent" ] || parent=/srv
mkdir -p "$parent"
outside=$(mktemp -d "$parent/caisson-demo-secret.XXXXXX")
chmod 0755 "$outside"
token="demo-secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
echo "$token" >"$outside/secret.txt"
chmod 0644 "$outside/secret.txt"

# The demo agent: an ordinary shell script, run by caisson as uid $uid.
cat >"$workdir/agent.sh" <<'EOF'
#!/bin/sh
echo "agent: running as $(id -un 2>/dev/null || id -u) (uid $(id -u)) in $(pwd)"

if echo "written inside the sandbox" >created-by-agent.txt; then
        echo "agent: [write workdir] allowed"
else
        echo "agent: [write workdir] FAILED"
fi

if err=$(cat "$1" 2>&1); then
        echo "agent: [read $1] ALLOWED: $err"
else
        echo "agent: [read $1] refused: $err"
fi

if err=$(unshare --user true 2>&1); then
        echo "agent: [unshare --user] ALLOWED"
else
        echo "agent: [unshare --user] refused: $err"
fi

echo "agent: exiting with status 3"
exit 3
EOF
chown "$uid:$gid" "$workdir/agent.sh"
chmod 0755 "$workdir/agent.sh"

fail=0
pass() { echo "PASS  $*"; }
bad() { echo "FAIL  $*"; fail=1; }

echo "== caisson: $($caisson --version)"
echo "== positive control: the same user reads $outside/secret.txt outside the sandbox"
if setpriv --reuid="$uid" --regid="$gid" --clear-groups cat "$outside/secret.txt" >/dev/null; then
        echo "   readable outside the sandbox (so a refusal inside is the sandbox's doing)"
else
        bad "control: uid $uid cannot read $outside/secret.txt even outside the sandbox"
fi

echo "== sudo caisson run -T --events EVENTS -- ./agent.sh $outside/secret.txt"
echo "   (workdir $workdir, default policy)"
set +e
(cd "$workdir" && "$caisson" run -T --events "$events" -- ./agent.sh "$outside/secret.txt") \
        >"$out" 2>&1
rc=$?
set -e
sed 's/^/   | /' "$out"

echo "== results"
if [ "$(cat "$workdir/created-by-agent.txt" 2>/dev/null)" = "written inside the sandbox" ] &&
   [ "$(stat -c %u "$workdir/created-by-agent.txt")" = "$uid" ]; then
        pass "allowed write in the workdir: $workdir/created-by-agent.txt exists, owner uid $uid"
else
        bad "the agent's write in its workdir did not arrive"
fi

if grep -q "\[read $outside/secret.txt\] refused" "$out" && ! grep -q "$token" "$out"; then
        pass "refused read outside the policy: $outside/secret.txt is not in the sandbox's view"
else
        bad "the agent could read $outside/secret.txt"
fi

line=$(grep '"event":"syscall.denied"' "$events" | grep '"syscall":"unshare"' | head -1 || true)
if grep -q '\[unshare --user\] refused' "$out" && [ -n "$line" ]; then
        pass "refused syscall: unshare got EPERM, and its event:"
        echo "      $line"
else
        bad "unshare was not refused, or no syscall.denied event was written"
fi

if [ "$rc" = 3 ]; then
        pass "exit code: the agent exited 3 and caisson exited $rc"
else
        bad "exit code: expected 3 (the agent's), caisson exited $rc"
fi

if [ "$fail" = 0 ]; then
        echo "== demo passed (temporary files removed)"
else
        echo "== demo FAILED; the events written were:"
        sed 's/^/   | /' "$events"
fi
exit "$fail"
