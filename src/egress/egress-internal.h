/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/egress — internal to the egress runtime: the state the egress thread owns. Nothing
 * here is touched by any other thread once egress_start() returned, but the connect()
 * records (struct connect_records), which have their own lock. */
#pragma once

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "egress/dns.h"
#include "egress/egress.h"
#include "egress/http.h"
#include "egress/nft.h"
#include "egress/sha256.h"
#include "egress/sniff.h"
#include "policy/policy-egress.h"

#define EGRESS_LOG_GROUP 7             /* NFLOG group of the fence's reject rules (per netns) */
#define EGRESS_MAX_CONNS 4096          /* relayed connections at once; more are refused */
#define EGRESS_MAX_PENDING 512         /* DNS queries waiting for the upstream */
#define EGRESS_MAX_DNS_TCP 64          /* DNS-over-TCP clients at once */
#define EGRESS_MAX_RESOLVED 4096       /* (address, name) pairs the relay may match */
#define RELAY_ACCEPT_BATCH 64          /* connections identified in one walk of /proc */
#define EGRESS_DNS_TIMEOUT_USEC (2 * 1000000ULL)
#define EGRESS_DNS_TCP_IDLE_USEC (30 * 1000000ULL) /* a DNS-over-TCP client with nothing to do */
#define EGRESS_DNS_TCP_FRAME_USEC (5 * 1000000ULL) /* from a message's first byte to its last */
#define EGRESS_SNIFF_TIMEOUT_USEC (5 * 1000000ULL)
#define EGRESS_CONNECT_TIMEOUT_USEC (10 * 1000000ULL)
#define EGRESS_TICK_MSEC 250
#define EGRESS_NFLOG_DRAIN_USEC (1000000ULL) /* at teardown, reading the rest of the log */

/* What an epoll event points at. Every registered object starts with (or holds) one. */
enum watch_kind {
        WATCH_STOP,
        WATCH_TIMER,
        WATCH_NFLOG,
        WATCH_DNS_UDP,          /* gateway listener, UDP */
        WATCH_DNS_TCP_LISTEN,
        WATCH_DNS_TCP_CLIENT,
        WATCH_DNS_UPSTREAM_UDP,
        WATCH_DNS_UPSTREAM_TCP,
        WATCH_RELAY_LISTEN,
        WATCH_CONN_CLIENT,
        WATCH_CONN_UPSTREAM,
        WATCH_HASHED,           /* hasher.c: a hash is done */
        WATCH_ADDRS,            /* the supervisor's netns gained or lost an address */
};

struct watch {
        enum watch_kind kind;
        void *obj;
        int fd;
};

struct dns_tcp_client {
        struct watch w;
        bool used;
        bool dead;                      /* closed in this epoll batch: not to be taken yet */
        uint32_t gen;                   /* bumped on close: a pending answer for an old client
                                         * is dropped */
        uint8_t in[2 + DNS_MAX_MESSAGE];
        size_t in_len;
        uint8_t *out;                   /* framed answers not yet written */
        size_t out_len, out_off;
        unsigned in_flight;
        bool eof, want_out;
        uint64_t idle_deadline;         /* closed then, unless a query is in flight */
        uint64_t frame_deadline;        /* 0, or when the message begun in in[] must be whole */
        uint64_t busy_seq;              /* when it last asked or was answered (a counter):
                                         * the smallest is evicted first */
};

struct dns_pending {
        bool used;
        bool dead;                      /* freed in this epoll batch: not to be taken yet */
        uint16_t up_id;                 /* the id of our query upstream */
        uint64_t deadline;
        struct dns_query q;
        uint8_t qraw[DNS_HEADER_SIZE + DNS_MAX_NAME + 2 + 4 + 8]; /* header + question, for
                                         * SERVFAIL when the upstream fails */
        size_t qraw_len;
        /* Where the answer goes: a UDP client (listener fd + address) or a TCP client. */
        int udp_fd;
        struct sockaddr_storage client;
        socklen_t client_len;
        struct dns_tcp_client *tcp;
        uint32_t tcp_gen;
        /* The clients waiting on this query's answer, each in a slot of its own, linked from
         * the one that asked upstream (a copy of a question in flight is not asked again). */
        struct dns_pending *next_waiter;
        /* The query's own socket to the upstream, in our own netns: UDP for UDP clients, TCP
         * for TCP clients (whose answers may exceed any UDP size). */
        struct watch up;
        uint8_t *up_buf;                /* TCP: the framed query, then the framed answer */
        size_t up_len, up_off;
        bool up_connected, up_reading;
};

struct resolved {
        int family;                     /* 0 = free */
        uint8_t addr[16];
        uint64_t expiry;                /* CLOCK_MONOTONIC usec: TTL + dns_grace */
        char name[DNS_MAX_NAME + 1];
};

enum conn_state {
        CONN_SNIFF,                     /* reading the client's first bytes */
        CONN_CONNECTING,
        CONN_RELAY,
};

struct half {
        int pipe[2];
        size_t in_pipe;
        size_t cap;                     /* the pipe's capacity: RELAY_PIPE_CAP, or grown */
        size_t moved;                   /* bytes spliced into it so far */
        bool eof, shut;                 /* read EOF / shutdown(SHUT_WR) sent to the sink */
        bool grow_tried;                /* relay.c: pipe_grow() */
};

/* A plain-HTTP connection allowed for one name: the client's bytes go through here instead
 * of the splice, so every request on it has its Host checked (http.h). */
struct http_conn {
        struct http_framer f;
        size_t len;                     /* client bytes in buf */
        size_t ok;                      /* of them, checked and not yet written upstream */
        bool eof;
        unsigned char buf[2 * HTTP_MAX_HEAD];
};

struct alt_name {
        char name[DNS_MAX_NAME + 1];
        struct egress_decision d;       /* the first holder's, for this name */
};

struct conn {
        struct watch wc, wu;            /* client and upstream fds */
        enum conn_state state;
        bool dead;
        uint64_t deadline;
        int family;
        uint8_t dst[16];
        uint16_t dport;
        struct egress_decision d;
        pid_t pid;
        char binary[4096];
        char sha256[65];
        uint32_t hash_job;              /* sha256 still being computed: events wait (hasher.c) */
        char host[DNS_MAX_NAME + 1];
        const char *mark;               /* how the name check ended, for the event detail */
        uint8_t *peek;                  /* the client's first bytes, forwarded first */
        struct http_conn *http;         /* plain HTTP by name: every request checked */
        size_t peek_len, peek_off;
        bool late_sniff;                /* relaying server→client while the client's first
                                         * bytes are still to be name-checked */
        uint64_t late_deadline;
        struct half c2u, u2c;
        /* Other names that resolved to dst and are allowed for every holder and connector
         * (a CDN address serving two allowed names): the client may name any of them. */
        struct alt_name *alts;
        size_t n_alts;
        struct conn *prev, *next;       /* the live list */
        struct conn *next_dead;
};

/* connectors.c: who called connect() on a socket, recorded while the call was held. */
#define CONNECT_RECORDS_MAX 4096        /* sockets between connect() and the relay's accept */
#define CONNECT_RECORD_TTL_USEC (60 * 1000000ULL)
#define CONNECT_RECORDS_MAX_BYTES (8u << 20) /* callers' paths, all records together */
struct connector {                      /* one allocation: this, then the paths */
        pid_t pid;                      /* the caller's process (its thread's id where the
                                         * kernel does not tell the process's) */
        size_t size;                    /* of the allocation */
        size_t n_chain;
        const char *chain[16];          /* executable, then ancestors, as struct identity */
};
struct connect_record {
        uint32_t ino;                   /* the socket; 0 = free slot */
        uint8_t n;                      /* callers in who[] */
        bool unknown;                   /* a caller whose executable could not be read */
        bool overflow;                  /* more callers than who[] holds */
        uint64_t when;                  /* CLOCK_MONOTONIC usec of the last connect() */
        struct connector *who[4];
};
#define PROC_REFS 16
struct proc_ref {
        pid_t pid;                      /* 0: a free slot */
        int dir;                        /* /proc/PID, O_PATH */
        int pidfd;                      /* or -1 */
        int stat_fd;                    /* /proc/PID/stat once read, or -1 */
};
struct proc_refs {
        struct proc_ref r[PROC_REFS];
        size_t next;                    /* the slot taken when none is free */
        int pidfd_info;                 /* PIDFD_GET_INFO: 1 works, -1 not here, 0 not tried */
};

struct connect_records {
        pthread_mutex_t lock;           /* the supervisor's main thread adds, the relay takes */
        struct proc_refs refs;          /* connectors_note()'s, outside the lock: one thread */
        struct connect_record *slots;   /* 2 * CONNECT_RECORDS_MAX, allocated at first use */
        size_t n;
        size_t bytes;                   /* held by the callers in slots */
};
void connectors_init(struct connect_records *t);
void connectors_free(struct connect_records *t);
/* Adds pid (its executable and ancestors below init_pid, read now) as a caller of connect()
 * on socket ino. 0 or -ENOMEM/-EINVAL; a caller that cannot be read is recorded unknown. */
int connectors_note(struct connect_records *t, pid_t pid, uint32_t ino, pid_t init_pid,
                    uint64_t now);
/* Moves ino's record into *ret (release with connect_record_done); false if none. */
bool connectors_take(struct connect_records *t, uint32_t ino, struct connect_record *ret);
void connectors_expire(struct connect_records *t, uint64_t now);
/* The caller recorded for ino was gone when it was to go on: the record is spoiled (its
 * reading may be of what the caller became), so the socket is refused. */
void connectors_abandon(struct connect_records *t, uint32_t ino, uint64_t now);
void connect_record_done(struct connect_record *r);

struct exe_hash {
        dev_t dev;
        ino_t ino;
        int64_t mtime_sec, mtime_nsec;
        char hex[65];
};

#define IDENTITY_PID_CACHE 64
struct pid_fds {
        pid_t pid;                      /* 0: free */
        int fd_dir, stat_fd;            /* /proc/PID/fd and /proc/PID/stat, or -1 */
};

struct egress {
        struct egress_config cfg;
        int epoll_fd, stop_fd, timer_fd, nflog_fd, diag_fd;
        int ct_fd;                /* ctnetlink in the sandbox netns (identity.c) */
        struct hasher *hasher;    /* hashes client executables (hasher.c), from the first */
        void *nft_ctx;            /* the fence's libnftables context, released at teardown */
        uint64_t nflog_seen[_NFT_LOG_KIND_MAX]; /* rejected packets reported, by kind */
        unsigned nflog_overruns;  /* ENOBUFS on the NFLOG socket: the kernel dropped some */
        bool nflog_loss_told;     /* the first overrun has had its event */
        struct watch w_stop, w_timer, w_nflog;
        struct watch dns_udp[2], dns_tcp[2], relay[2]; /* [0] 127.0.0.1, [1] [::1] */
        uint16_t dns_port, relay_port;
        bool ipv6;
        ino_t netns_ino;
        pthread_t thread;
        bool started;

        struct host_addr { int family; uint8_t addr[16]; } *host_addrs; /* read again at
                                         * every address change (w_addrs) */
        size_t n_host_addrs;
        struct watch w_addrs;           /* rtnetlink: the host's addresses changed */

        struct dns_pending pending[EGRESS_MAX_PENDING];
        size_t n_pending;               /* slots ever used: [0, n_pending) */
        bool gateway_dead;              /* a pending or DNS-over-TCP slot is dead (reaped
                                         * after the batch) */
        struct dns_tcp_client *dns_clients[EGRESS_MAX_DNS_TCP];
        uint64_t dns_tcp_seq;           /* the last busy_seq given */
        struct resolved *resolved;      /* EGRESS_MAX_RESOLVED */
        size_t n_resolved;              /* slots ever used: [0, n_resolved) */

        size_t n_conns, max_conns;      /* max_conns: EGRESS_MAX_CONNS or what the fd limit
                                         * leaves room for (egress_fd_budget) */
        struct conn *conns;             /* live connections */
        struct conn *dead;              /* freed after the epoll batch */
        pid_t *id_pids;                 /* identity: the sandbox's pids at the last lookup */
        int procs_fd;                   /* the sandbox cgroup's cgroup.procs, kept open */
        struct pid_fds pid_fds[IDENTITY_PID_CACHE]; /* identity.c: open /proc files */
        size_t next_pid_fds;
        bool pid_cache_on;
        struct identity_query *id_queries; /* RELAY_ACCEPT_BATCH, for relay_accept() */
        int pipes[128][2];              /* empty relay pipes, reused (64 connections' worth) */
        size_t n_grown;                 /* relay pipes grown past the default (relay.c) */
        struct identity *id;            /* scratch for relay_accept() */
        pid_t id_batch_pid;       /* *id holds this pid's identity, for the current batch */
        uint32_t diag_seq;
        size_t n_pipes;
        size_t n_id_pids;
        struct exe_hash hashes[64];
        size_t next_hash;
        uint8_t rnd[256];
        size_t rnd_left;
        struct connect_records connectors; /* the one thing two threads share: locked */
        uint64_t connectors_next_expire;
};

/* Each relayed connection holds this many fds: client, upstream, two pipes. */
#define EGRESS_FDS_PER_CONN 6
/* fds kept for everything else: DNS-over-TCP clients, one upstream socket per pending
 * query, the supervisor's own files, the relay's spare pipes, identity's /proc files and
 * the handles on connect() callers (struct proc_refs). */
#define EGRESS_FD_RESERVE (EGRESS_MAX_DNS_TCP + EGRESS_MAX_PENDING + 256 + 2 * 128 + 2 * 64 + 3 * PROC_REFS)

/* A struct egress with nothing open yet (every fd -1), for egress_setup() and the unit
 * tests, which add listeners of their own; egress_free() releases it. NULL on ENOMEM. */
struct egress *egress_new(const struct egress_config *cfg);
/* Handles one epoll batch of the egress thread, then frees what it closed. false on the
 * stop event. */
bool egress_batch(struct egress *e, const struct epoll_event *evs, int n);

uint64_t egress_now(void);
int egress_watch_add(struct egress *e, struct watch *w, uint32_t events);
void egress_watch_del(struct egress *e, struct watch *w);
void egress_emit(struct egress *e, const struct egress_event *ev);
uint16_t egress_random16(struct egress *e);

/* resolved table (egress.c) */
void egress_resolved_add(struct egress *e, int family, const uint8_t *addr, uint32_t ttl,
                         const char *name);
/* Fills up to max names that resolved to addr and have not expired (or, with expired, whose
 * TTL and grace have run out but which are still remembered). */
size_t egress_resolved_names(struct egress *e, int family, const uint8_t *addr,
                             const char **names, size_t max, bool expired);

/* gateway.c */
void gateway_udp_readable(struct egress *e, struct watch *w);
void gateway_tcp_accept(struct egress *e, struct watch *w);
void gateway_tcp_client(struct egress *e, struct dns_tcp_client *c, uint32_t events);
void gateway_upstream_udp(struct egress *e, struct dns_pending *p);
void gateway_upstream_tcp(struct egress *e, struct dns_pending *p, uint32_t events);
void gateway_tick(struct egress *e, uint64_t now);
/* After each epoll batch: the slots closed during it may be taken again. */
void gateway_reap(struct egress *e);
void gateway_free(struct egress *e);

/* relay.c */
void relay_accept(struct egress *e, struct watch *w);
void relay_event(struct egress *e, struct conn *c, bool upstream, uint32_t events);
void relay_tick(struct egress *e, uint64_t now);
void relay_reap(struct egress *e);
void relay_free_all(struct egress *e);
void relay_free_pipes(struct egress *e);

/* hasher.c: the sha256 of client executables, on a thread of its own (from the first
 * miss). Only with cfg.hash_binaries (someone takes the events). */
#define HASHER_JOBS 16                  /* binaries being hashed at once; more get no hash */
/* pid's executable: its hash in hex (cached), or "" and *ret_job, the job computing it (0:
 * no hash: none wanted, unreadable, over 512 MiB, or every job busy). */
void hasher_lookup(struct egress *e, pid_t pid, char hex[65], uint32_t *ret_job);
/* Emits ev at once (job 0), or once job's hash is known, with it. */
void hasher_emit(struct egress *e, const struct egress_event *ev, uint32_t job);
void hasher_done(struct egress *e);     /* WATCH_HASHED */
/* Waits for the hash in progress; every event still waiting goes out. Idempotent. */
void hasher_stop(struct egress *e);
void hasher_free(struct egress *e);

/* identity.c */
struct identity {
        pid_t pid;
        const char *chain[16];          /* executable, then ancestors (point into paths) */
        size_t n_chain;
        char paths[16][4096];
        char sha256[65];                /* or "" with hash_job, or with no hash at all */
        uint32_t hash_job;              /* the hash is being computed (hasher.c), or 0 */
};
#define IDENTITY_MAX_HOLDERS 16
/* One relayed connection to identify: the client end's address (local = client, remote =
 * the original destination). */
struct identity_query {
        int family;
        struct sockaddr_storage client;
        uint8_t dst[16];
        uint16_t dport;
        ino_t ino;                      /* the client socket, from sock_diag */
        pid_t holders[IDENTITY_MAX_HOLDERS];
        size_t n_holders;
        int r;                          /* 0; -ESRCH none found; -E2BIG too many holders */
};
/* Every process of the sandbox that holds the client end of each connection in q[0..n),
 * found in one walk of the sandbox's processes. */
void identity_holders(struct egress *e, struct identity_query *q, size_t n);
/* Closes the /proc files identity keeps open. */
void identity_forget(struct egress *e);
/* One holder's executable, its hash and its ancestors (after identity_holders()). 0, or
 * -ESRCH when it exited meanwhile or its executable was deleted. */
int identity_of(struct egress *e, pid_t pid, struct identity *ret);
/* /proc/PID/exe (false if unreadable or deleted), and the parent's pid (0 if unknown),
 * through handles on the process kept open in c (one thread's): a process read again (the next connect() of a client, its
 * ancestors) costs one readlinkat() and one ioctl(), not two path walks and /proc/PID/stat.
 * pid may be a thread's; *ret_tgid (if given) is then its process's pid where the kernel
 * tells it (pidfs, 6.13), else 0. */
bool proc_refs_exe(struct proc_refs *c, pid_t pid, char out[4096]);
pid_t proc_refs_ppid(struct proc_refs *c, pid_t pid, pid_t *ret_tgid);
void proc_refs_free(struct proc_refs *c);
