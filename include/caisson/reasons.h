/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* include/caisson/reasons.h — the one table of stable reason codes.
 *
 * The same code names an error (struct caisson_error.code), an event's "reason" and a wire
 * error's "code". Numbers are ABI: append only, never renumber. */
#ifndef CAISSON_REASONS_H
#define CAISSON_REASONS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CAISSON_REASONS(X)                                                                         \
        X(NONE, 0, "none")                                                                         \
        X(INTERNAL, 1, "internal")                                                                 \
        X(NO_MEMORY, 2, "no_memory")                                                               \
        X(NOT_ROOT, 3, "not_root")                                                                 \
        X(USAGE, 4, "usage")                                                                       \
        X(POLICY_SYNTAX, 10, "policy_syntax")                                                      \
        X(POLICY_INVALID, 11, "policy_invalid")                                                    \
        X(POLICY_UNSUPPORTED, 12, "policy_unsupported")                                            \
        X(POLICY_TOO_LARGE, 13, "policy_too_large")                                                \
        X(POLICY_IO, 14, "policy_io")                                                              \
        X(USER_UNKNOWN, 20, "user_unknown")                                                        \
        X(USER_ROOT, 21, "user_root")                                                              \
        X(NAMESPACE_FAILED, 30, "namespace_failed")                                                \
        X(MOUNT_FAILED, 31, "mount_failed")                                                        \
        X(PATH_MISSING, 32, "path_missing")                                                        \
        X(CGROUP_FAILED, 40, "cgroup_failed")                                                      \
        X(RESOURCE_UNSUPPORTED, 41, "resource_unsupported")                                        \
        X(RESOURCE_LIMIT, 42, "resource_limit")                                                    \
        X(LANDLOCK_UNAVAILABLE, 50, "landlock_unavailable")                                        \
        X(LANDLOCK_RULE, 51, "landlock_rule")                                                      \
        X(LANDLOCK_DEGRADED, 52, "landlock_degraded")                                              \
        X(SECCOMP_FAILED, 60, "seccomp_failed")                                                    \
        X(SYSCALL_DENIED, 61, "syscall_denied")                                                    \
        X(SYSCALL_KILLED, 62, "syscall_killed")                                                    \
        X(SYSCALL_UNKNOWN, 63, "syscall_unknown")                                                  \
        X(CAPS_FAILED, 70, "caps_failed")                                                          \
        X(CREDS_FAILED, 71, "creds_failed")                                                        \
        X(NET_FAILED, 80, "net_failed")                                                            \
        X(NET_NOT_ISOLATED, 81, "net_not_isolated")                                                \
        X(EXEC_NOT_FOUND, 90, "exec_not_found")                                                    \
        X(EXEC_NOT_EXECUTABLE, 91, "exec_not_executable")                                          \
        X(EXEC_FAILED, 92, "exec_failed")                                                          \
        X(LIFECYCLE_ORDER, 100, "lifecycle_order")                                                 \
        X(BACKEND_ABI, 101, "backend_abi")                                                         \
        X(TIMEOUT, 110, "timeout")                                                                 \
        X(SIGNALED, 111, "signaled")                                                               \
        X(EXITED, 112, "exited")                                                                   \
        X(PERSISTENCE_CREATED, 120, "persistence_created")                                         \
        X(STATE_FAILED, 130, "state_failed")                                                       \
        X(TERMINAL_FAILED, 140, "terminal_failed")                                                 \
        X(EGRESS_ALLOWED, 150, "egress_allowed")                                                   \
        X(EGRESS_NO_MATCH, 151, "egress_no_match")                                                 \
        X(EGRESS_BINARY_MISMATCH, 152, "egress_binary_mismatch")                                   \
        X(EGRESS_LOOPBACK, 153, "egress_loopback")                                                 \
        X(EGRESS_LINK_LOCAL, 154, "egress_link_local")                                             \
        X(EGRESS_HOST_ADDRESS, 155, "egress_host_address")                                         \
        X(EGRESS_PRIVATE, 156, "egress_private")                                                   \
        X(EGRESS_SNI_MISMATCH, 157, "sni_mismatch")                                                \
        X(EGRESS_L7_REFUSED, 158, "egress_l7_refused")                                             \
        X(EGRESS_UPSTREAM_FAILED, 159, "egress_upstream_failed")                                   \
        X(EGRESS_IDENTITY_UNKNOWN, 160, "egress_identity_unknown")                                 \
        X(EGRESS_PROTOCOL, 161, "egress_protocol")                                                 \
        X(EGRESS_ALLOWS_NOTHING, 162, "egress_allows_nothing")                                     \
        X(EGRESS_NAME_EXPIRED, 163, "egress_name_expired")                                         \
        X(EGRESS_LOG_LOST, 164, "egress_log_lost")                                                 \
        X(DNS_DENIED, 170, "dns_denied")                                                           \
        X(DNS_MALFORMED, 171, "dns_malformed")                                                     \
        X(DNS_UPSTREAM_FAILED, 172, "dns_upstream_failed")                                         \
        X(NFT_FAILED, 180, "nft_failed")                                                           \
        X(NFT_VERIFY_FAILED, 181, "nft_verify_failed")

enum caisson_reason {
#define CAISSON_REASON_ENUM_(name, num, str) CAISSON_REASON_##name = num,
        CAISSON_REASONS(CAISSON_REASON_ENUM_)
#undef CAISSON_REASON_ENUM_
        _CAISSON_REASON_MAX
};

/* Returns the stable snake-case string of a reason code, or NULL if unknown. */
const char *caisson_reason_to_string(uint32_t code);

#ifdef __cplusplus
}
#endif
#endif
