#!/bin/sh
# src/policy is pure: bytes in, structs out. Its library must not call anything that
# touches the kernel's objects or the filesystem (STYLE.md: "Layering").
set -eu
lib="$1"
bad=$(nm -u "$lib" | awk '{print $2}' | grep -xE \
        'open|open64|openat|openat64|fopen|fopen64|stat|lstat|fstatat|socket|connect|bind|mount|umount2|unshare|setns|clone|clone3|fork|vfork|execve|execvp|syscall|ioctl|prctl|getpwnam|getpwuid|getenv|readlink|mkdir|unlink|rmdir' || true)
if [ -n "$bad" ]; then
        echo "src/policy calls impure functions:" $bad
        echo "0 passed, 1 failed"
        exit 1
fi
echo "1 passed, 0 failed"
