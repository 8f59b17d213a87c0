/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The egress runtime (DESIGN §4): setup in the sandbox's netns, then one thread with one epoll
 * that runs the DNS gateway (gateway.c), the TCP relay (relay.c) and the NFLOG reader.
 *
 * Namespaces: listeners, the sock_diag socket, the NFLOG socket, the route and the nft fence
 * are made while the calling thread sits in the sandbox's netns — a socket stays in the netns
 * it was created in. Every socket that reaches out (the upstream resolver, relayed
 * connections) is created in the supervisor's own netns: before the setns window, or in the
 * egress thread, which never enters another netns. The sandbox netns itself has no route out
 * of the machine, so the relay is the only way out and it decides per connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "egress/egress-internal.h"
#include "egress/nft.h"
#include "error.h"
#include "macro.h"
#include "util.h"

static pthread_t preload_thread;
static bool preload_running;

static void *preload(void *userdata) {
        (void) userdata;
        /* libnftables only: it is needed before the agent starts. The hash engine is not,
         * and the egress thread loads it while the agent starts; here it made the join
         * before clone3 wait for it. */
        (void) nft_lib_preload();
        return NULL;
}

void egress_preload_start(void) {
        if (!preload_running)
                preload_running = pthread_create(&preload_thread, NULL, preload, NULL) == 0;
}

void egress_preload_wait(void) {
        if (preload_running)
                (void) pthread_join(preload_thread, NULL);
        preload_running = false;
}

uint64_t egress_now(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

int egress_watch_add(struct egress *e, struct watch *w, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = w };

        return epoll_ctl(e->epoll_fd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

void egress_watch_del(struct egress *e, struct watch *w) {
        if (w->fd >= 0)
                (void) epoll_ctl(e->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
}

void egress_emit(struct egress *e, const struct egress_event *ev) {
        if (e->cfg.event)
                e->cfg.event(ev, e->cfg.userdata);
}

uint16_t egress_random16(struct egress *e) {
        uint16_t v;

        if (e->rnd_left < 2) {
                /* getrandom() on a seeded pool does not block and does not fail short for
                 * 256 bytes; a fresh id per query is what stops off-path answer spoofing. */
                if (getrandom(e->rnd, sizeof e->rnd, 0) != (ssize_t) sizeof e->rnd) {
                        struct timespec ts;

                        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
                        for (size_t i = 0; i < sizeof e->rnd; i++)
                                e->rnd[i] ^= (uint8_t) (ts.tv_nsec >> (i % 24));
                }
                e->rnd_left = sizeof e->rnd;
        }
        memcpy(&v, e->rnd + sizeof e->rnd - e->rnd_left, 2);
        e->rnd_left -= 2;
        return v;
}

/* --- the resolved table: (address, name) pairs the gateway answered, with expiry --- */

void egress_resolved_add(struct egress *e, int family, const uint8_t *addr, uint32_t ttl,
                         const char *name) {
        size_t alen = family == AF_INET ? 4 : 16, victim = 0;
        uint64_t now = egress_now(), exp = now + (uint64_t) ttl * 1000000ULL + e->cfg.dns_grace_usec;
        struct resolved *r = e->resolved;

        /* Slots fill from the start and are never emptied, only reused: nothing beyond
         * n_resolved is in use, and the relay's lookups stop there. */
        for (size_t i = 0; i < e->n_resolved; i++) {
                if (r[i].family == family && memcmp(r[i].addr, addr, alen) == 0 &&
                    streq(r[i].name, name)) {
                        if (exp > r[i].expiry)
                                r[i].expiry = exp;
                        return;
                }
                /* A free slot, else the one that expires (or expired) first. */
                if (r[i].expiry < r[victim].expiry)
                        victim = i;
        }
        if (e->n_resolved < EGRESS_MAX_RESOLVED)
                victim = e->n_resolved++;
        r[victim] = (struct resolved) { .family = family, .expiry = exp };
        memcpy(r[victim].addr, addr, alen);
        (void) snprintf(r[victim].name, sizeof r[victim].name, "%s", name);
}

size_t egress_resolved_names(struct egress *e, int family, const uint8_t *addr,
                             const char **names, size_t max, bool expired) {
        size_t alen = family == AF_INET ? 4 : 16, n = 0;
        uint64_t now = egress_now();

        for (size_t i = 0; i < e->n_resolved && n < max; i++) {
                struct resolved *r = &e->resolved[i];

                if (r->family == family && (r->expiry > now) != expired &&
                    memcmp(r->addr, addr, alen) == 0)
                        names[n++] = r->name;
        }
        return n;
}

/* --- NFLOG: what the fence rejected --- */

static void nflog_packet(const struct nft_log_packet *p, void *userdata) {
        struct egress *e = userdata;
        const char *proto = p->proto == IPPROTO_UDP ? "udp" :
                            p->proto == IPPROTO_TCP ? "tcp" :
                            p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6 ? "icmp" : "ip";
        struct egress_event ev = {
                .kind = EGRESS_EV_DENIED,
                .reason = CAISSON_REASON_EGRESS_PROTOCOL,
                .family = p->family,
                .port = p->dport,
                .protocol = proto,
                .assurance = "unknown",
                .detail = streq(p->kind, "ipv6") || (p->family == AF_INET6 && !e->ipv6) ?
                                  "IPv6 is rejected: the policy lists no IPv6 endpoint" :
                                  "rejected by the fence: only TCP and DNS leave the sandbox",
        };
        int kind = nft_log_kind_from_string(p->kind);

        /* Counted by the rule that logged it, to be matched against that rule's counter. */
        if (kind >= 0)
                e->nflog_seen[kind]++;
        memcpy(ev.addr, p->daddr, sizeof ev.addr);
        egress_emit(e, &ev);
}

/* The kernel dropped log records of rejected packets (ENOBUFS: the socket's buffer was
 * full). The packets were rejected all the same; their events are what is missing, and
 * "every decision is an event" must not fail silently. The first overrun is said at once;
 * how many packets went unreported is known only when the sandbox has stopped sending
 * (nflog_finish). */
static void nflog_read(struct egress *e) {
        unsigned before = e->nflog_overruns;

        (void) nft_log_read(e->nflog_fd, nflog_packet, e, &e->nflog_overruns);
        if (e->nflog_overruns > before && !e->nflog_loss_told) {
                struct egress_event ev = {
                        .kind = EGRESS_EV_DENIED,
                        .reason = CAISSON_REASON_EGRESS_LOG_LOST,
                        .assurance = "unknown",
                        .lost = -1,
                        .overruns = e->nflog_overruns,
                        .detail = "the kernel dropped log records of packets the fence "
                                  "rejected: some have no egress.denied event; how many is "
                                  "reported when the sandbox ends",
                };

                e->nflog_loss_told = true;
                egress_emit(e, &ev);
        }
}

/* At teardown: the rest of the log, read to its end (bounded: a sandbox still dying may
 * still be sending), then each reject rule's counter against the records read for it. A
 * packet counted but never reported is one whose record the kernel dropped. */
static void nflog_finish(struct egress *e) {
        uint64_t counts[_NFT_LOG_KIND_MAX], deadline = egress_now() + EGRESS_NFLOG_DRAIN_USEC;
        int64_t lost = 0;
        int r;

        do
                r = nft_log_read(e->nflog_fd, nflog_packet, e, &e->nflog_overruns);
        while (r == 1 && egress_now() < deadline);
        if (nft_fence_reject_counts(e->nft_ctx, counts) == 0) {
                for (int k = 0; k < _NFT_LOG_KIND_MAX; k++)
                        if (counts[k] > e->nflog_seen[k])
                                lost += (int64_t) (counts[k] - e->nflog_seen[k]);
        } else
                lost = -1;      /* unknown: say what is known, the overruns */
        if (lost > 0 || (lost < 0 && e->nflog_overruns > 0)) {
                char detail[200];
                struct egress_event ev = {
                        .kind = EGRESS_EV_DENIED,
                        .reason = CAISSON_REASON_EGRESS_LOG_LOST,
                        .assurance = "unknown",
                        .lost = lost,
                        .overruns = e->nflog_overruns,
                        .detail = detail,
                };

                if (lost > 0)
                        (void) snprintf(detail, sizeof detail,
                                        "%lld packets rejected by the fence have no egress.denied "
                                        "event: the kernel dropped their log records",
                                        (long long) lost);
                else
                        (void) snprintf(detail, sizeof detail,
                                        "the kernel dropped log records of rejected packets; "
                                        "their number is unknown (the fence's counters could "
                                        "not be read)");
                egress_emit(e, &ev);
        }
}

/* The supervisor's own addresses (its netns, where the relay connects from): a sandbox may
 * never reach the host's own services through the relay, whatever the policy says. All of
 * them, read again whenever one is added or removed (w_addrs): a VPN, a bridge or a DHCP
 * lease that comes after the sandbox's start counts too. If they cannot be read again, the
 * last reading stays. */
static void collect_host_addrs(struct egress *e) {
        struct ifaddrs *ifa = NULL;
        struct host_addr *a;
        size_t n = 0;

        if (getifaddrs(&ifa) < 0)
                return;
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next)
                n += i->ifa_addr && (i->ifa_addr->sa_family == AF_INET ||
                                     i->ifa_addr->sa_family == AF_INET6);
        a = calloc(n ?: 1, sizeof *a);
        if (!a) {
                freeifaddrs(ifa);
                return;
        }
        n = 0;
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                if (!i->ifa_addr)
                        continue;
                if (i->ifa_addr->sa_family == AF_INET) {
                        a[n].family = AF_INET;
                        memcpy(a[n++].addr, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, 4);
                } else if (i->ifa_addr->sa_family == AF_INET6) {
                        a[n].family = AF_INET6;
                        memcpy(a[n++].addr, &((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr, 16);
                }
        }
        freeifaddrs(ifa);
        free(e->host_addrs);
        e->host_addrs = a;
        e->n_host_addrs = n;
}

/* Told of every address added to or removed from the supervisor's netns. */
static int open_addr_watch(void) {
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
                                  .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };

        return socket_bound(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE,
                            (struct sockaddr *) &sa, sizeof sa);
}

static void addrs_changed(struct egress *e) {
        char buf[8192];

        /* The messages only say that something changed (an overflow, ENOBUFS, too): read
         * them all, then the addresses once. */
        while (recv(e->w_addrs.fd, buf, sizeof buf, MSG_DONTWAIT) > 0 || errno == ENOBUFS) {
        }
        collect_host_addrs(e);
}

/* --- the thread --- */

bool egress_batch(struct egress *e, const struct epoll_event *evs, int n) {
        for (int i = 0; i < n; i++) {
                struct watch *w = evs[i].data.ptr;
                uint32_t what = evs[i].events;

                switch (w->kind) {
                case WATCH_STOP:
                        /* What the fence rejected up to now is an event too. */
                        nflog_finish(e);
                        hasher_stop(e);
                        return false;
                case WATCH_TIMER: {
                        uint64_t ticks, now = egress_now();

                        if (read(w->fd, &ticks, sizeof ticks) < 0)
                                ticks = 0;      /* spurious: ticks anyway */
                        gateway_tick(e, now);
                        relay_tick(e, now);
                        break;
                }
                case WATCH_NFLOG:
                        nflog_read(e);
                        break;
                case WATCH_DNS_UDP:
                        gateway_udp_readable(e, w);
                        break;
                case WATCH_DNS_TCP_LISTEN:
                        gateway_tcp_accept(e, w);
                        break;
                case WATCH_DNS_TCP_CLIENT:
                        gateway_tcp_client(e, w->obj, what);
                        break;
                case WATCH_DNS_UPSTREAM_UDP:
                        gateway_upstream_udp(e, w->obj);
                        break;
                case WATCH_DNS_UPSTREAM_TCP:
                        gateway_upstream_tcp(e, w->obj, what);
                        break;
                case WATCH_RELAY_LISTEN:
                        relay_accept(e, w);
                        break;
                case WATCH_CONN_CLIENT:
                case WATCH_CONN_UPSTREAM:
                        relay_event(e, w->obj, w->kind == WATCH_CONN_UPSTREAM, what);
                        break;
                case WATCH_HASHED:
                        hasher_done(e);
                        break;
                case WATCH_ADDRS:
                        addrs_changed(e);
                        break;
                }
        }
        /* Objects closed during this batch are freed (or taken again) only now: a later
         * event of the same batch may still point at them. */
        relay_reap(e);
        gateway_reap(e);
        return true;
}

static void *egress_thread(void *userdata) {
        struct egress *e = userdata;
        struct epoll_event evs[64];

        for (;;) {
                int n = epoll_wait(e->epoll_fd, evs, ELEMENTSOF(evs), -1);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (!egress_batch(e, evs, n))
                        break;
        }
        return NULL;
}

/* --- setup --- */

static bool policy_has_ipv6(const struct policy *p) {
        for (size_t i = 0; i < p->n_network; i++)
                for (size_t j = 0; j < p->network[i].n_endpoints; j++) {
                        const struct policy_endpoint *ep = &p->network[i].endpoints[j];

                        if (ep->host && strchr(ep->host, ':'))
                                return true;
                        for (size_t k = 0; k < ep->n_allowed_ips; k++)
                                if (strchr(ep->allowed_ips[k], ':'))
                                        return true;
                }
        return false;
}

static int listen_on(int family, int type, uint16_t port, struct watch *w, enum watch_kind kind,
                     uint16_t *ret_port) {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } a = { 0 };
        socklen_t len;
        int one = 1;
        _cleanup_close_ int fd = -1;

        fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (family == AF_INET) {
                a.in = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons(port),
                                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                len = sizeof a.in;
        } else {
                a.in6 = (struct sockaddr_in6) { .sin6_family = AF_INET6, .sin6_port = htons(port),
                                                .sin6_addr = IN6ADDR_LOOPBACK_INIT };
                len = sizeof a.in6;
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, &a.sa, len) < 0)
                return -errno;
        if (type == SOCK_STREAM && listen(fd, 4096) < 0)
                return -errno;
        if (ret_port) {
                len = sizeof a;
                if (getsockname(fd, &a.sa, &len) < 0)
                        return -errno;
                *ret_port = ntohs(family == AF_INET ? a.in.sin_port : a.in6.sin6_port);
        }
        *w = (struct watch) { .kind = kind, .fd = TAKE_FD(fd) };
        return 0;
}

/* The agent opens as many connections as it likes, and each relayed one costs the
 * supervisor EGRESS_FDS_PER_CONN fds. With the common soft limit of 1024, about 50 held
 * connections used to exhaust the supervisor's fds: accept4() then failed with EMFILE on a
 * level-triggered listener (the egress thread spun), new connections hung in the backlog
 * instead of being refused, and every other part of the supervisor (events, cgroup
 * teardown, DNS upstream sockets) could no longer open a file. So: the soft limit is raised
 * to the hard one, and the relay admits only as many connections as the fds left after
 * EGRESS_FD_RESERVE allow; more are refused at once, like any refusal. */
static void egress_fd_budget(struct egress *e) {
        struct rlimit rl;
        rlim_t avail;

        e->max_conns = EGRESS_MAX_CONNS;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_cur < rl.rlim_max) {
                struct rlimit up = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };

                if (setrlimit(RLIMIT_NOFILE, &up) == 0)
                        rl.rlim_cur = rl.rlim_max;
        }
        if (rl.rlim_cur == RLIM_INFINITY)
                return;
        avail = rl.rlim_cur > EGRESS_FD_RESERVE ? rl.rlim_cur - EGRESS_FD_RESERVE : 0;
        if (avail / EGRESS_FDS_PER_CONN < e->max_conns)
                e->max_conns = avail / EGRESS_FDS_PER_CONN;
        if (e->max_conns < 16)
                e->max_conns = 16;      /* a tiny limit: refuse early, still relay a few */
}

struct egress *egress_new(const struct egress_config *cfg) {
        struct egress *e = calloc(1, sizeof *e);

        if (!e)
                return NULL;
        e->resolved = calloc(EGRESS_MAX_RESOLVED, sizeof *e->resolved);
        e->id_queries = calloc(RELAY_ACCEPT_BATCH, sizeof *e->id_queries);
        if (!e->resolved || !e->id_queries) {
                free(e->resolved);
                free(e->id_queries);
                free(e);
                return NULL;
        }
        e->cfg = *cfg;
        connectors_init(&e->connectors);
        e->epoll_fd = e->stop_fd = e->timer_fd = e->nflog_fd = e->diag_fd = e->procs_fd = -1;
        e->ct_fd = -1;
        for (size_t i = 0; i < ELEMENTSOF(e->pid_fds); i++)
                e->pid_fds[i] = (struct pid_fds) { .fd_dir = -1, .stat_fd = -1 };
        e->w_stop.fd = e->w_timer.fd = e->w_nflog.fd = e->w_addrs.fd = -1;
        for (int i = 0; i < 2; i++)
                e->dns_udp[i].fd = e->dns_tcp[i].fd = e->relay[i].fd = -1;
        /* pending[] (400 KiB) stays untouched: a slot's fds are set when it is taken
         * (pending_new), and nothing reads them before. Writing -1 into each slot here
         * cost a hundred page faults on the way to the agent's start. */
        return e;
}

void egress_free(struct egress *e) {
        if (!e)
                return;
        if (e->started) {
                uint64_t one = 1;

                if (write(e->stop_fd, &one, sizeof one) < 0)
                        abort();        /* an eventfd write cannot fail here */
                (void) pthread_join(e->thread, NULL);
        }
        /* Connections' events wait for hashes: the last go out before the relay goes. */
        hasher_stop(e);
        relay_free_all(e);
        gateway_free(e);
        for (int i = 0; i < 2; i++) {
                safe_close(e->dns_udp[i].fd);
                safe_close(e->dns_tcp[i].fd);
                safe_close(e->relay[i].fd);
        }
        safe_close(e->w_addrs.fd);
        free(e->host_addrs);
        safe_close(e->nflog_fd);
        safe_close(e->diag_fd);
        safe_close(e->ct_fd);
        safe_close(e->procs_fd);
        identity_forget(e);
        hasher_free(e);
        /* Closing a netfilter netlink socket waits for nf_tables' pending transaction
         * cleanup, an RCU grace period after our commit (~7 ms measured under load): closed
         * last, at teardown, by when that has usually passed; never on the way to the
         * agent's start. */
        nft_ctx_release(TAKE_PTR(e->nft_ctx));
        safe_close(e->timer_fd);
        safe_close(e->stop_fd);
        safe_close(e->epoll_fd);
        free(e->id_pids);
        free(e->id_queries);
        free(e->id);
        free(e->resolved);
        connectors_free(&e->connectors);
        free(e);
}

void egress_abandon_connect(struct egress *e, uint32_t ino) {
        connectors_abandon(&e->connectors, ino, egress_now());
}

int egress_note_connect(struct egress *e, pid_t pid, uint32_t ino) {
        return connectors_note(&e->connectors, pid, ino, e->cfg.init_pid, egress_now());
}

static void egress_freep(struct egress **e) {
        egress_free(*e);
}

/* The part of setup that runs inside the sandbox's netns. */
static int setup_in_netns(struct egress *e, struct caisson_error *err) {
        struct nft_fence f;
        int r;

        /* init brings lo up too, but may not have yet: the native backend returns from
         * ensure_boundary while init still builds, and a route via a down lo (or with a
         * source address lo does not have yet) is refused. */
        r = loopback_up();
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, -r,
                               "bring lo up in the sandbox netns");
        r = nft_route_setup(e->ipv6, err);
        if (r < 0)
                return r;
        for (int i = 0; i < (e->ipv6 ? 2 : 1); i++) {
                int fam = i == 0 ? AF_INET : AF_INET6;
                const char *where = i == 0 ? "127.0.0.1" : "[::1]";

                /* Port 53 is free: the netns is the sandbox's own and nothing runs in it yet. */
                r = listen_on(fam, SOCK_DGRAM, 53, &e->dns_udp[i], WATCH_DNS_UDP, NULL);
                if (r < 0)
                        return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, -r,
                                       "DNS gateway on %s:53/udp", where);
                r = listen_on(fam, SOCK_STREAM, 53, &e->dns_tcp[i], WATCH_DNS_TCP_LISTEN, NULL);
                if (r < 0)
                        return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, -r,
                                       "DNS gateway on %s:53/tcp", where);
                /* The [::1] relay takes the same port as 127.0.0.1's, so one fence port
                 * serves both families. */
                r = listen_on(fam, SOCK_STREAM, i == 0 ? 0 : e->relay_port, &e->relay[i],
                              WATCH_RELAY_LISTEN, i == 0 ? &e->relay_port : NULL);
                if (r < 0)
                        return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, -r,
                                       "TCP relay on %s", where);
        }
        e->dns_port = 53;
        e->diag_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
        if (e->diag_fd < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, errno,
                               "sock_diag socket in the sandbox netns");
        r = nft_probe(err);
        if (r < 0)
                return r;
        /* After the probe: NETLINK_NETFILTER works here. Without it a connection whose
         * source port NAT changed cannot be identified, and is refused. */
        e->ct_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
        e->nflog_fd = nft_log_open(EGRESS_LOG_GROUP);
        if (e->nflog_fd < 0)
                return cs_fail(err, CAISSON_LAYER_NFT, CAISSON_REASON_NFT_FAILED, -e->nflog_fd,
                               "NFLOG group %d in the sandbox netns", EGRESS_LOG_GROUP);
        f = (struct nft_fence) { .dns_port = e->dns_port, .relay_port = e->relay_port,
                                 .ipv6 = e->ipv6, .log_group = EGRESS_LOG_GROUP };
        return nft_fence_install_keep(&f, &e->nft_ctx, err);
}

int egress_setup(const struct egress_config *cfg, struct egress **ret, struct caisson_error *err) {
        _cleanup_(egress_freep) struct egress *e = NULL;
        _cleanup_close_ int self = -1;
        struct stat st;
        int r;

        if (!cfg || !cfg->policy || cfg->sandbox_netns_fd < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_INTERNAL, EINVAL,
                               "egress: no policy or no sandbox netns");
        e = egress_new(cfg);
        if (!e)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NO_MEMORY, ENOMEM, "egress");
        e->ipv6 = policy_has_ipv6(cfg->policy);
        if (fstat(cfg->sandbox_netns_fd, &st) == 0)
                e->netns_ino = st.st_ino;

        /* In our own netns: the host's addresses (watched before they are read, so no change
         * falls between). The sockets to the upstream resolver are made by the egress
         * thread, one per query (gateway.c), in this netns too. */
        e->w_addrs.fd = open_addr_watch();
        if (e->w_addrs.fd < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, -e->w_addrs.fd,
                               "egress: watch the host's addresses");
        e->w_addrs.kind = WATCH_ADDRS;
        collect_host_addrs(e);
        egress_fd_budget(e);
        e->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        e->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        e->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (e->epoll_fd < 0 || e->stop_fd < 0 || e->timer_fd < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_INTERNAL, errno,
                               "egress: epoll, eventfd or timerfd");

        /* Into the sandbox's netns and — whatever happens there — back. */
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, errno,
                               "open own netns");
        if (setns(cfg->sandbox_netns_fd, CLONE_NEWNET) < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, errno,
                               "enter the sandbox netns");
        r = setup_in_netns(e, err);
        if (setns(self, CLONE_NEWNET) < 0) {
                /* Stuck in the sandbox's netns: the caller must not go on in this thread. */
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, errno,
                               "return to the supervisor's netns");
        }
        if (r < 0)
                return r;

        e->w_stop = (struct watch) { .kind = WATCH_STOP, .fd = e->stop_fd };
        e->w_timer = (struct watch) { .kind = WATCH_TIMER, .fd = e->timer_fd };
        e->w_nflog = (struct watch) { .kind = WATCH_NFLOG, .fd = e->nflog_fd };
        r = egress_watch_add(e, &e->w_stop, EPOLLIN);
        if (r >= 0)
                r = egress_watch_add(e, &e->w_timer, EPOLLIN);
        if (r >= 0)
                r = egress_watch_add(e, &e->w_nflog, EPOLLIN);
        if (r >= 0)
                r = egress_watch_add(e, &e->w_addrs, EPOLLIN);
        for (int i = 0; i < 2 && r >= 0; i++) {
                if (e->dns_udp[i].fd < 0)
                        continue;
                r = egress_watch_add(e, &e->dns_udp[i], EPOLLIN);
                if (r >= 0)
                        r = egress_watch_add(e, &e->dns_tcp[i], EPOLLIN);
                if (r >= 0)
                        r = egress_watch_add(e, &e->relay[i], EPOLLIN);
        }
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_INTERNAL, -r, "epoll_ctl");
        *ret = TAKE_PTR(e);
        return 0;
}

int egress_start(struct egress *e, struct caisson_error *err) {
        struct itimerspec its = {
                .it_interval = { 0, EGRESS_TICK_MSEC * 1000000L },
                .it_value = { 0, EGRESS_TICK_MSEC * 1000000L },
        };
        sigset_t all, old;
        int r;

        if (e->started)
                return 0;
        if (timerfd_settime(e->timer_fd, 0, &its, NULL) < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_INTERNAL, errno, "timerfd");
        /* The thread takes no signals: the supervisor reads them from its signalfd. */
        sigfillset(&all);
        (void) pthread_sigmask(SIG_BLOCK, &all, &old);
        r = pthread_create(&e->thread, NULL, egress_thread, e);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_INTERNAL, r,
                               "start the egress thread");
        /* Named, for top -H and for the tests that hold the relay alone (ptrace). */
        (void) pthread_setname_np(e->thread, "caisson-egress");
        e->started = true;
        return 0;
}

/* --- the upstream resolver --- */

int egress_parse_upstream(const char *s, struct sockaddr_storage *ss, socklen_t *len) {
        char host[INET6_ADDRSTRLEN + 1];
        const char *port = NULL;
        unsigned long p = 53;
        struct sockaddr_in in = { .sin_family = AF_INET };
        struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };

        if (!s || !*s)
                return -EINVAL;
        if (s[0] == '[') {
                const char *rb = strchr(s, ']');

                if (!rb || (size_t) (rb - s - 1) >= sizeof host)
                        return -EINVAL;
                memcpy(host, s + 1, (size_t) (rb - s - 1));
                host[rb - s - 1] = 0;
                if (rb[1] == ':')
                        port = rb + 2;
                else if (rb[1])
                        return -EINVAL;
        } else {
                const char *colon = strchr(s, ':');

                if (colon && strchr(colon + 1, ':'))
                        colon = NULL;   /* a bare IPv6 address */
                if (strlen(s) >= sizeof host)
                        return -EINVAL;
                (void) snprintf(host, sizeof host, "%.*s",
                                (int) (colon ? (size_t) (colon - s) : strlen(s)), s);
                if (colon)
                        port = colon + 1;
        }
        if (port) {
                char *end;

                errno = 0;
                p = strtoul(port, &end, 10);
                if (!*port || *end || errno || p == 0 || p > 65535)
                        return -EINVAL;
        }
        memset(ss, 0, sizeof *ss);
        if (inet_pton(AF_INET, host, &in.sin_addr) == 1) {
                in.sin_port = htons((uint16_t) p);
                memcpy(ss, &in, sizeof in);
                *len = sizeof in;
                return 0;
        }
        if (inet_pton(AF_INET6, host, &in6.sin6_addr) == 1) {
                in6.sin6_port = htons((uint16_t) p);
                memcpy(ss, &in6, sizeof in6);
                *len = sizeof in6;
                return 0;
        }
        return -EINVAL;
}

int egress_host_upstream(struct sockaddr_storage *ss, socklen_t *len) {
        char line[512];
        FILE *f = fopen("/etc/resolv.conf", "re");
        int r = -ENOENT;

        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f)) {
                char addr[256];

                /* A 127.x stub (systemd-resolved) is fine: it is reached from our netns. */
                if (sscanf(line, " nameserver %255s", addr) == 1 &&
                    egress_parse_upstream(addr, ss, len) == 0) {
                        r = 0;
                        break;
                }
        }
        fclose(f);
        return r;
}
