/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/egress/egress.h — a sandbox's egress: the DNS gateway and the TCP relay. Both listen
 * inside the sandbox's netns (127.0.0.1, where the nft redirect delivers) and reach out from
 * the netns the supervisor runs in. One thread with one epoll runs them. */
#ifndef CAISSON_EGRESS_H
#define CAISSON_EGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "caisson/reasons.h"
#include "caisson/types.h"
#include "policy/policy.h"

enum egress_event_kind {
        EGRESS_EV_ALLOWED,        /* egress.allowed */
        EGRESS_EV_DENIED,         /* egress.denied */
        EGRESS_EV_DNS_DENIED,     /* dns.denied */
};

struct egress_event {
        enum egress_event_kind kind;
        enum caisson_reason reason;
        int family;               /* destination, when known */
        uint8_t addr[16];
        uint16_t port;
        const char *protocol;     /* "tcp", "udp", "icmp", "dns" */
        const char *hostname;     /* resolved or queried name, or NULL */
        pid_t pid;                /* client pid (host pid namespace), 0 if unknown */
        const char *binary;       /* its executable, or NULL */
        const char *assurance;    /* how the binary is known: "proc-exe+sha256", "unknown" */
        const char *sha256;       /* hex, or NULL */
        const char *entry;        /* deciding network_policies key, or NULL */
        bool widened;             /* allowed only because of --widen-l7 */
        const char *detail;       /* one human phrase */
        /* CAISSON_REASON_EGRESS_LOG_LOST only: packets the fence rejected whose log records
         * the kernel dropped (so they have no event of their own), -1 while not known yet;
         * and how often the kernel reported dropping records. */
        int64_t lost;
        unsigned overruns;
};

struct egress_config {
        const struct policy *policy;   /* network_policies (+ --allow entries); outlives egress */
        bool widen_l7;
        uint64_t dns_grace_usec;       /* --dns-grace, default 5 min */
        struct sockaddr_storage upstream; /* --dns-upstream, else the host's resolv.conf */
        socklen_t upstream_len;
        int sandbox_netns_fd;          /* the sandbox's netns (listeners, nft, sock_diag) */
        int cgroup_fd;                 /* the sandbox's cgroup dir: client pids come from here */
        pid_t init_pid;                /* the sandbox's init (host pid), or 0: never an ancestor
                                        * the policy sees, never a client */
        /* The backend reports every connect() in the sandbox (CAISSON_EVENT_CONNECT) and the
         * caller hands each to egress_note_connect(): the relay then also requires whoever
         * called connect() on a socket to be allowed, and refuses a socket it was not told
         * of. Without it, only the socket's holders at accept time are known. */
        bool connectors;
        /* Someone takes the events: executables are hashed for them. Without, never. */
        bool hash_binaries;
        void (*event)(const struct egress_event *ev, void *userdata); /* from the egress thread */
        void *userdata;
};

struct egress;

/* In the sandbox netns: the route, the listeners (DNS UDP+TCP, relay), sock_diag and
 * NFLOG sockets, and the nft fence, loaded and verified. Returns with the calling thread
 * back in its own netns. Fails closed: on error nothing is left open and *err names the
 * layer (NET or NFT). */
int egress_setup(const struct egress_config *cfg, struct egress **ret, struct caisson_error *err);

/* Maps libnftables and its dependencies on a thread of its own, so the dynamic loader's
 * ~0.9 ms overlap the supervisor's policy and state work instead of adding to the start. egress_preload_wait() must run before the
 * process forks or clones (the child would inherit the loader's and malloc's locks in
 * whatever state the thread left them); it is idempotent. Failures are not reported here:
 * egress_setup() loads again and fails closed. */
void egress_preload_start(void);
void egress_preload_wait(void);

/* Starts the egress thread. */
int egress_start(struct egress *e, struct caisson_error *err);

/* From the thread that reads the backend's events, while the caller is held: pid called
 * connect() (or a TCP Fast Open send) on socket ino. Reads its executable and ancestors
 * and records them for the relay. 0, or negative errno (the socket is then refused). */
int egress_note_connect(struct egress *e, pid_t pid, uint32_t ino);

/* The caller of egress_note_connect() for ino was gone when it was to go on
 * (CAISSON_EVENT_CONNECT_ABANDONED): the socket is refused. */
void egress_abandon_connect(struct egress *e, uint32_t ino);

/* Stops the thread, closes every socket and connection, frees. NULL is fine. */
void egress_free(struct egress *e);

/* Reads the first nameserver of /etc/resolv.conf (or a --dns-upstream "ADDR[:PORT]"). */
int egress_parse_upstream(const char *s, struct sockaddr_storage *ss, socklen_t *len);
int egress_host_upstream(struct sockaddr_storage *ss, socklen_t *len);

#endif
