/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small private "internet" for one test, so the egress suites never touch the machine's
 * own network:
 *
 *   lab "host" netns                              lab "internet" netns
 *   (caisson's supervisor runs here)              (netlab-servers.py runs here)
 *   lo 127.0.0.1                                  lo
 *   nl-host 203.0.113.2/24 2001:db8:ff::2/64 ---- nl-inet 203.0.113.1/24 2001:db8:ff::1/64
 *   default via 203.0.113.1, ::/0 via ::1           + 198.51.100.10 .11 .12 .53, 2001:db8:1::10
 *
 * Both namespaces are made with unshare(2) by the test process itself and kept alive only
 * by file descriptors it holds (no bind mount, no /run/netns name, no holder process): when
 * the test process ends, however it ends, they and the veth pair are gone. The one process
 * the lab starts, the servers, dies with its parent too (PR_SET_PDEATHSIG) and is killed by
 * pid in netlab_stop(). Logs of what each server received are in DIR, a directory under
 * /run removed on stop. See netlab-servers.py for the services and the DNS zone. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "harness.h"

#define NETLAB_WEB "198.51.100.10"     /* HTTP :80 :8080, HTTP/2 :8081, half-close TCP :7000,
                                          * UDP echo :5000 */
#define NETLAB_BLOCKED "198.51.100.11" /* HTTP :80 */
#define NETLAB_TLS "198.51.100.12"     /* TLS-ish :443 */
#define NETLAB_DNS "198.51.100.53"     /* authoritative for lab.test, udp+tcp :53 */
#define NETLAB_WEB6 "2001:db8:1::10"   /* HTTP :80 */
#define NETLAB_HOST_ADDR "203.0.113.2" /* the lab host's own veth address */
#define NETLAB_GW_ADDR "203.0.113.1"

enum netlab_ns { NETLAB_HOST, NETLAB_INET };

struct netlab {
        int self_ns;   /* the netns the test process started in */
        int ns[2];     /* NETLAB_HOST, NETLAB_INET */
        pid_t servers; /* netlab-servers.py serve */
        char dir[128]; /* /run/caisson-test-<pid>-XXXXXX: logs, batch files */
        char script[4096];
};

/* Builds the lab (asserts on failure) and records it for netlab_cleanup(). */
struct netlab *netlab_start(void);
/* Kills the servers, closes the namespaces, removes DIR. Idempotent. */
void netlab_stop(struct netlab *lab);
/* Suite .fini: netlab_stop() on every lab still up, then h_cleanup(). */
void netlab_cleanup(void);

/* The calling thread into a lab netns and back (children forked meanwhile stay there). */
void netlab_enter(struct netlab *lab, enum netlab_ns where);
void netlab_leave(struct netlab *lab);

/* h_spawn / h_run / h_caisson_run with the child in a lab netns. */
void netlab_spawn(struct netlab *lab, enum netlab_ns where, const char *const *argv,
                  const struct h_opts *o, struct h_proc *ret);
void netlab_run(struct netlab *lab, enum netlab_ns where, const char *const *argv,
                const struct h_opts *o, struct h_result *ret);
void netlab_caisson(struct netlab *lab, const char *wd, const char *const *args,
                    const char *const *cmd, const struct h_opts *o, struct h_result *ret);

/* "netlab-servers.py probe ARGS" (ARGS split at spaces) as root in the lab host netns,
 * without caisson: the positive control. Returns the probe's line ("ok SECS DETAIL" /
 * "fail SECS ERROR"); caller frees. */
char *netlab_probe_host(struct netlab *lab, const char *args);

/* What a server received: DIR/<name>.log (name: http, tcp, udp, tls, dns); "" if empty. */
char *netlab_log(struct netlab *lab, const char *name);
/* Whether that log has a line containing needle, compared case-insensitively. */
bool netlab_log_has(struct netlab *lab, const char *name, const char *needle);

/* A counter of the internet netns from /proc/<servers>/net/snmp or snmp6, e.g.
 * ("Icmp", "InEchos"), ("Udp", "InDatagrams"), ("Tcp", "InSegs"), ("Icmp6", "InEchos"). */
long netlab_counter(struct netlab *lab, const char *proto, const char *field);

/* A listening TCP socket (non-blocking) made in the lab host netns on addr:port. */
int netlab_listen(struct netlab *lab, const char *addr, int port);
/* Connections waiting on that listener, accepted and closed; returns how many. */
int netlab_accepted(int listen_fd);

/* Processes (host-wide) whose netns is the lab's netns where. */
int netlab_procs_in(struct netlab *lab, enum netlab_ns where);
/* The inode of a lab netns (for leak checks after stop). */
unsigned long netlab_ns_inode(struct netlab *lab, enum netlab_ns where);
/* Processes (host-wide) in the netns with that inode. */
int netlab_procs_in_inode(unsigned long ino);

/* The probe's verdict: "ok"/"fail" and its seconds. */
bool netlab_ok(const char *line);
double netlab_secs(const char *line);
