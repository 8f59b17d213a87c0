/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The TCP relay (DESIGN §4). The fence redirects every TCP connection from the sandbox to a
 * non-loopback address here; per connection:
 *
 *   accept → original destination (SO_ORIGINAL_DST) → who (identity.c) → policy decision →
 *   [by name: the first bytes must name the allowed host (sniff.c)] → connect upstream from
 *   the supervisor's netns → splice both ways, half-close honoured → close.
 *
 * A refusal is a reset at once (SO_LINGER 0), never a hang, so a client fails fast and says
 * so. Connections already relayed are never cut when the DNS answer that allowed them
 * expires: expiry only closes the address for new connections. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "egress/egress-internal.h"
#include "macro.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80       /* linux/netfilter_ipv4.h, which clashes with netinet/in.h */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80   /* linux/netfilter_ipv6/ip6_tables.h */
#endif

/* A pipe starts at the kernel's default; a half that has moved 256 KiB (a bulk transfer)
 * grows it once, so each splice() moves up to 1 MiB instead of 64 KiB: ~10% more throughput
 * on a 1 GiB transfer here. By bytes moved, not by the pipe filling: a pipe fills by its
 * 16 slots, which small segments take long before 64 KiB. A full pipe pins its pages
 * outside any socket's accounting, so at most 64 pipes are grown at a time (64 MiB), and a
 * grown pipe is shrunk back before it is kept for another connection. */
#define RELAY_PIPE_CAP 65536
#define RELAY_PIPE_GROWN (1 << 20)
#define RELAY_GROW_AFTER (256 << 10)
#define RELAY_GROWN_MAX 64

static void rst_close(int fd) {
        struct linger l = { .l_onoff = 1, .l_linger = 0 };

        if (fd < 0)
                return;
        /* SO_LINGER 0: close() sends a reset, the client fails at once. */
        (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        (void) close(fd);
}

static void conn_event(struct egress *e, const struct conn *c, enum egress_event_kind kind,
                       enum caisson_reason reason, const char *detail) {
        struct egress_event ev = {
                .kind = kind,
                .reason = reason,
                .family = c->family,
                .port = c->dport,
                .protocol = "tcp",
                .hostname = c->host[0] ? c->host : NULL,
                .pid = c->pid,
                .binary = c->binary[0] ? c->binary : NULL,
                .assurance = c->sha256[0] ? "proc-exe+sha256" : c->binary[0] ? "proc-exe" : "unknown",
                /* with hash_job, hasher_emit() adds the hash once it is known */
                .sha256 = c->sha256[0] ? c->sha256 : NULL,
                .entry = c->d.entry ? c->d.entry->key : NULL,
                .widened = c->d.widened,
                .detail = detail,
        };

        memcpy(ev.addr, c->dst, sizeof ev.addr);
        hasher_emit(e, &ev, c->hash_job);
}

/* Empty pipes are kept for the next connections: two pipe2() and four close() less each. */
static void pipe_put(struct egress *e, struct half *h) {
        int *p = h->pipe, queued = -1;

        if (h->cap > RELAY_PIPE_CAP) {
                e->n_grown--;
                h->cap = RELAY_PIPE_CAP;
                /* Shrinking fails while bytes are in it: then it is not kept. */
                if (p[1] < 0 || fcntl(p[1], F_SETPIPE_SZ, RELAY_PIPE_CAP) != RELAY_PIPE_CAP) {
                        p[0] = safe_close(p[0]);
                        p[1] = safe_close(p[1]);
                        return;
                }
        }
        /* Empty for sure when its half ended in order (every byte spliced on); else ask. */
        if (p[0] >= 0 && e->n_pipes < ELEMENTSOF(e->pipes) &&
            ((h->shut && h->in_pipe == 0) ||
             (ioctl(p[0], FIONREAD, &queued) == 0 && queued == 0))) {
                memcpy(e->pipes[e->n_pipes++], p, sizeof e->pipes[0]);
                p[0] = p[1] = -1;
                return;
        }
        p[0] = safe_close(p[0]);
        p[1] = safe_close(p[1]);
}

static int pipe_get(struct egress *e, struct half *h) {
        h->cap = RELAY_PIPE_CAP;
        if (e->n_pipes > 0) {
                memcpy(h->pipe, e->pipes[--e->n_pipes], sizeof h->pipe);
                return 0;
        }
        return pipe2(h->pipe, O_CLOEXEC | O_NONBLOCK);
}

/* Once per half; a refusal (fs.pipe-max-size, the user's pipe pages) keeps it as it is.
 * With RELAY_GROWN_MAX grown already, not now (maybe later in the transfer). */
static void pipe_grow(struct egress *e, struct half *h) {
        int r;

        if (e->n_grown >= RELAY_GROWN_MAX)
                return;
        h->grow_tried = true;
        r = fcntl(h->pipe[1], F_SETPIPE_SZ, RELAY_PIPE_GROWN);
        if (r > 0 && (size_t) r > h->cap) {
                h->cap = (size_t) r;
                e->n_grown++;
        }
}

void relay_free_pipes(struct egress *e) {
        while (e->n_pipes > 0) {
                e->n_pipes--;
                safe_close(e->pipes[e->n_pipes][0]);
                safe_close(e->pipes[e->n_pipes][1]);
        }
}

static void conn_close(struct egress *e, struct conn *c, bool rst) {
        if (c->dead)
                return;
        egress_watch_del(e, &c->wc);
        egress_watch_del(e, &c->wu);
        if (rst) {
                rst_close(c->wc.fd);
                rst_close(c->wu.fd);
        } else {
                safe_close(c->wc.fd);
                safe_close(c->wu.fd);
        }
        c->wc.fd = c->wu.fd = -1;
        pipe_put(e, &c->c2u);
        pipe_put(e, &c->u2c);
        if (c->prev)
                c->prev->next = c->next;
        else
                e->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->dead = true;
        c->next_dead = e->dead;
        e->dead = c;
        e->n_conns--;
}

static void conn_deny(struct egress *e, struct conn *c, enum caisson_reason reason,
                      const char *detail) {
        conn_event(e, c, EGRESS_EV_DENIED, reason, detail);
        conn_close(e, c, true);
}

void relay_reap(struct egress *e) {
        while (e->dead) {
                struct conn *c = e->dead;

                e->dead = c->next_dead;
                free(c->peek);
                free(c->alts);
                if (c->http)
                        http_framer_done(&c->http->f);
                free(c->http);
                free(c);
        }
}

void relay_free_all(struct egress *e) {
        while (e->conns)
                conn_close(e, e->conns, true);
        relay_reap(e);
        relay_free_pipes(e);
}

/* Whether name is c's own or one of its other names. */
static bool name_allowed(const struct conn *c, const char *name) {
        if (sniff_name_equal(name, c->d.by_name))
                return true;
        for (size_t i = 0; i < c->n_alts; i++)
                if (sniff_name_equal(name, c->alts[i].name))
                        return true;
        return false;
}

/* The client names another of c's allowed names: c is decided for that one now (its entry
 * and detail in the events), and the former stays allowed besides. */
static void take_alt_name(struct conn *c, const char *name) {
        for (size_t i = 0; i < c->n_alts; i++) {
                struct alt_name *a = &c->alts[i], was;

                if (!sniff_name_equal(name, a->name))
                        continue;
                (void) snprintf(was.name, sizeof was.name, "%s", c->host);
                was.d = c->d;
                was.d.by_name = a->name;
                (void) snprintf(c->host, sizeof c->host, "%s", a->name);
                c->d = a->d;
                c->d.by_name = c->host;
                *a = was;
                return;
        }
}

/* --- relaying --- */

/* Moves what is available from src to dst through h's pipe. -1 on a broken connection. */
static int half_pump(struct egress *e, struct half *h, int src, int dst) {
        for (;;) {
                bool progress = false;
                ssize_t n;

                if (!h->eof && h->moved >= RELAY_GROW_AFTER && !h->grow_tried)
                        pipe_grow(e, h);
                if (!h->eof && h->in_pipe < h->cap) {
                        n = splice(src, NULL, h->pipe[1], NULL, h->cap - h->in_pipe,
                                   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
                        if (n > 0) {
                                h->in_pipe += (size_t) n;
                                h->moved += (size_t) n;
                                progress = true;
                        } else if (n == 0) {
                                h->eof = true;
                                progress = true;
                        } else if (errno != EAGAIN && errno != EINTR)
                                return -1;
                }
                if (h->in_pipe > 0) {
                        n = splice(h->pipe[0], NULL, dst, NULL, h->in_pipe,
                                   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
                        if (n > 0) {
                                h->in_pipe -= (size_t) n;
                                progress = true;
                        } else if (n < 0 && errno != EAGAIN && errno != EINTR)
                                return -1;
                }
                /* Half-close: the other side learns of this side's EOF, and may go on
                 * sending the other way. */
                if (h->eof && h->in_pipe == 0 && !h->shut) {
                        (void) shutdown(dst, SHUT_WR);
                        h->shut = true;
                }
                if (!progress)
                        return 0;
        }
}

/* The client's bytes of a plain-HTTP connection: written upstream only once the framer has
 * checked them, each request head's Host against the allowed name. -1: the connection is
 * gone (refused or broken). */
static int http_pump(struct egress *e, struct conn *c) {
        struct http_conn *h = c->http;

        for (;;) {
                char name[SNIFF_MAX_NAME + 1], detail[SNIFF_MAX_NAME * 2 + 160];
                enum http_frame_result r;
                const char *why;
                size_t used;
                ssize_t n;

                while (h->ok > 0) {
                        n = write(c->wu.fd, h->buf, h->ok);
                        if (n < 0) {
                                if (errno == EAGAIN || errno == EINTR)
                                        return 0;
                                conn_close(e, c, true);
                                return -1;
                        }
                        memmove(h->buf, h->buf + n, h->len - (size_t) n);
                        h->len -= (size_t) n;
                        h->ok -= (size_t) n;
                }
                if (h->len > h->ok) {
                        r = http_frame(&h->f, h->buf + h->ok, h->len - h->ok, &used, name, &why);
                        if (r == HTTP_FRAME_BAD) {
                                (void) snprintf(detail, sizeof detail, "%s request %u on this "
                                                "connection: %s",
                                                h->f.state >= HTTP_H2_PREFACE ? "HTTP/2" : "HTTP",
                                                h->f.requests, why);
                                conn_deny(e, c, CAISSON_REASON_EGRESS_SNI_MISMATCH, detail);
                                return -1;
                        }
                        if (r == HTTP_FRAME_REQUEST && !name_allowed(c, name)) {
                                /* A kept-alive connection to a CDN address: the second request
                                 * may name another of its sites. */
                                (void) snprintf(detail, sizeof detail, "%s request %u on this "
                                                "connection names '%s', allowed for '%s'",
                                                h->f.state >= HTTP_H2_PREFACE ? "HTTP/2" : "HTTP",
                                                h->f.requests, name, c->d.by_name);
                                conn_deny(e, c, CAISSON_REASON_EGRESS_SNI_MISMATCH, detail);
                                return -1;
                        }
                        if (r == HTTP_FRAME_REQUEST || used > 0) {
                                h->ok += used;
                                continue;
                        }
                }
                /* Held while an Upgrade waits for the server's answer. */
                if (h->f.state == HTTP_UPGRADE_WAIT)
                        return 0;
                if (h->eof) {
                        /* Bytes of an unfinished request head never go on. */
                        if (!c->c2u.shut) {
                                (void) shutdown(c->wu.fd, SHUT_WR);
                                c->c2u.shut = c->c2u.eof = true;
                        }
                        return 0;
                }
                /* Full only with a head the framer has refused already; never read 0 bytes
                 * and take that for the end. */
                if (h->len == sizeof h->buf)
                        return 0;
                n = read(c->wc.fd, h->buf + h->len, sizeof h->buf - h->len);
                if (n == 0)
                        h->eof = true;
                else if (n > 0)
                        h->len += (size_t) n;
                else if (errno == EAGAIN || errno == EINTR)
                        return 0;
                else {
                        conn_close(e, c, true);
                        return -1;
                }
        }
}

/* After an Upgrade request: the server's status line, read without taking it. */
static void http_upgrade_answer(struct conn *c) {
        unsigned char b[1024];
        ssize_t n = recv(c->wu.fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT);

        if (n < 0)
                return;
        /* No status line in 1 KiB, or the server closed: not upgraded, framing goes on. */
        if (!http_frame_response(&c->http->f, b, (size_t) n) && (n == 0 || (size_t) n == sizeof b))
                c->http->f.state = HTTP_HEAD;
}

static void pump(struct egress *e, struct conn *c) {
        /* The bytes read for the name check go first, in order; none before it is done. */
        while (!c->late_sniff && c->peek_off < c->peek_len) {
                ssize_t n = write(c->wu.fd, c->peek + c->peek_off, c->peek_len - c->peek_off);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        conn_close(e, c, true);
                        return;
                }
                c->peek_off += (size_t) n;
        }
        if (c->http && !c->late_sniff) {
                /* An answer to an Upgrade releases the client's bytes: framed again here, no
                 * new event would come for them. */
                for (int round = 0; round < 2; round++) {
                        if (c->http->f.state == HTTP_UPGRADE_WAIT)
                                http_upgrade_answer(c);
                        if (http_pump(e, c) < 0)
                                return;
                        if (c->http->f.state != HTTP_UPGRADE_WAIT)
                                break;
                }
                /* The status line stays for the framer until it has decided. */
                if (c->http->f.state == HTTP_UPGRADE_WAIT)
                        return;
        } else if (!c->late_sniff && c->peek_off == c->peek_len &&
                   half_pump(e, &c->c2u, c->wc.fd, c->wu.fd) < 0) {
                conn_close(e, c, true);
                return;
        }
        if (half_pump(e, &c->u2c, c->wu.fd, c->wc.fd) < 0) {
                conn_close(e, c, true);
                return;
        }
        if (c->c2u.shut && c->u2c.shut)
                conn_close(e, c, false);
}

static void start_relay(struct egress *e, struct conn *c) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                  .data.ptr = &c->wc };

        if (pipe_get(e, &c->c2u) < 0 || pipe_get(e, &c->u2c) < 0) {
                conn_deny(e, c, CAISSON_REASON_INTERNAL, "no pipe for the relay");
                return;
        }
        /* The client fd is registered already when its first bytes were read. */
        if (epoll_ctl(e->epoll_fd, c->d.by_name ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->wc.fd, &ev) < 0) {
                conn_deny(e, c, CAISSON_REASON_INTERNAL, "epoll");
                return;
        }
        c->state = CONN_RELAY;
        if (c->mark) {
                char detail[sizeof c->d.detail + 160];

                /* Why it was allowed (entry, endpoint, the binary or ancestor that matched),
                 * then how the name check ended. */
                (void) snprintf(detail, sizeof detail, "%s; %s", c->d.detail, c->mark);
                conn_event(e, c, EGRESS_EV_ALLOWED, CAISSON_REASON_EGRESS_ALLOWED, detail);
        } else
                conn_event(e, c, EGRESS_EV_ALLOWED, CAISSON_REASON_EGRESS_ALLOWED, c->d.detail);
        pump(e, c);
}

static void start_connect(struct egress *e, struct conn *c) {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } a = { 0 };
        socklen_t len;

        if (c->family == AF_INET) {
                a.in.sin_family = AF_INET;
                a.in.sin_port = htons(c->dport);
                memcpy(&a.in.sin_addr, c->dst, 4);
                len = sizeof a.in;
        } else {
                a.in6.sin6_family = AF_INET6;
                a.in6.sin6_port = htons(c->dport);
                memcpy(&a.in6.sin6_addr, c->dst, 16);
                len = sizeof a.in6;
        }
        /* The egress thread never entered the sandbox's netns: this socket is in the
         * supervisor's, the one with the way out. */
        c->wu.fd = socket(c->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->wu.fd < 0 || (connect(c->wu.fd, &a.sa, len) < 0 && errno != EINPROGRESS)) {
                conn_deny(e, c, CAISSON_REASON_EGRESS_UPSTREAM_FAILED, strerror(errno));
                return;
        }
        c->state = CONN_CONNECTING;
        c->deadline = egress_now() + EGRESS_CONNECT_TIMEOUT_USEC;
        if (egress_watch_add(e, &c->wu, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0)
                conn_deny(e, c, CAISSON_REASON_INTERNAL, "epoll");
}

static void connected(struct egress *e, struct conn *c, uint32_t events) {
        int so = 0;
        socklen_t l = sizeof so;

        /* Writable without an error or hangup: connected (what SO_ERROR would say, one
         * syscall less per connection); else SO_ERROR says why. */
        if (events & (EPOLLERR | EPOLLHUP)) {
                if (getsockopt(c->wu.fd, SOL_SOCKET, SO_ERROR, &so, &l) < 0)
                        so = errno;
                if (so == 0)
                        so = ECONNRESET;
        }
        if (so == EINPROGRESS || so == EALREADY)
                return;
        if (so != 0) {
                conn_deny(e, c, CAISSON_REASON_EGRESS_UPSTREAM_FAILED, strerror(so));
                return;
        }
        start_relay(e, c);
}

/* --- the name check --- */

/* The name check passed (or found a protocol without names): go on. */
static void sniff_go(struct egress *e, struct conn *c) {
        if (c->state == CONN_RELAY) {
                c->late_sniff = false;
                pump(e, c);
        } else
                start_connect(e, c);
}

static void sniff_step(struct egress *e, struct conn *c, bool timed_out) {
        char name[SNIFF_MAX_NAME + 1], detail[SNIFF_MAX_NAME * 2 + 96];
        enum sniff_result r;
        bool eof = false;

        if (!c->peek) {
                c->peek = malloc(SNIFF_MAX_BYTES);
                if (!c->peek) {
                        conn_deny(e, c, CAISSON_REASON_NO_MEMORY, "no memory for the name check");
                        return;
                }
        }
        while (c->peek_len < SNIFF_MAX_BYTES) {
                ssize_t n = read(c->wc.fd, c->peek + c->peek_len, SNIFF_MAX_BYTES - c->peek_len);

                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
                if (n < 0) {
                        conn_close(e, c, true);
                        return;
                }
                if (n == 0) {
                        eof = true;
                        break;
                }
                c->peek_len += (size_t) n;
        }
        if (c->peek_len == 0) {
                if (eof && c->state == CONN_RELAY) {
                        sniff_go(e, c);                 /* nothing sent: pass the half-close */
                        return;
                }
                if (eof) {
                        conn_close(e, c, false);        /* connected and left: nothing to do */
                        return;
                }
                if (!timed_out || c->state == CONN_RELAY)
                        return;
                /* Server-speaks-first protocols (SMTP, FTP, databases): nothing to read, so
                 * connect and let the server speak. But the client's first bytes are still
                 * checked when they come: a client that waited out the 5 s and then sent a
                 * ClientHello or an HTTP request naming another site must not reach that
                 * site on the allowed name's (CDN) address. */
                c->mark = "the client sent nothing for 5 s: connected; its first bytes are still name-checked";
                c->late_sniff = true;
                start_connect(e, c);
                return;
        }
        if (c->state == CONN_RELAY && c->late_deadline == 0)
                c->late_deadline = egress_now() + EGRESS_SNIFF_TIMEOUT_USEC;
        r = sniff_parse(c->peek, c->peek_len, name);
        if (r == SNIFF_NEED_MORE && !eof && !timed_out)
                return;
        switch (r) {
        case SNIFF_TLS:
        case SNIFF_HTTP:
        case SNIFF_H2:
                /* HTTP/2: each request's :authority, its first one too, is the framer's to
                 * check; none of a header block goes on before. */
                if (r != SNIFF_H2 && !c->late_sniff)
                        take_alt_name(c, name);
                if (r == SNIFF_H2 || (c->late_sniff ? name_allowed(c, name) :
                                                      sniff_name_equal(name, c->d.by_name))) {
                        if (!c->late_sniff)
                                c->mark = r == SNIFF_TLS ? "TLS SNI matches the allowed name" :
                                          r == SNIFF_H2 ? "HTTP/2: every request's :authority is checked" :
                                                          "HTTP Host matches the allowed name";
                        /* HTTP keeps its connection for more requests: each is checked. The
                         * bytes read so far are the framer's first. */
                        if (r != SNIFF_TLS) {
                                c->http = calloc(1, sizeof *c->http);
                                if (!c->http) {
                                        conn_deny(e, c, CAISSON_REASON_NO_MEMORY,
                                                  "no memory for the HTTP framing");
                                        return;
                                }
                                if (r == SNIFF_H2)
                                        c->http->f.state = HTTP_H2_PREFACE;
                                memcpy(c->http->buf, c->peek, c->peek_len);
                                c->http->len = c->peek_len;
                                c->peek_len = c->peek_off = 0;
                        }
                        sniff_go(e, c);
                        return;
                }
                /* A CDN address serves many names: only the one the policy allowed. */
                (void) snprintf(detail, sizeof detail, "%s names '%s', allowed for '%s'",
                                r == SNIFF_TLS ? "TLS SNI" : "HTTP Host", name, c->d.by_name);
                conn_deny(e, c, CAISSON_REASON_EGRESS_SNI_MISMATCH, detail);
                return;
        case SNIFF_TLS_ECH:
                (void) snprintf(detail, sizeof detail, "TLS with Encrypted Client Hello (outer "
                                "SNI '%s'): the server may use a hidden name, not '%s'",
                                name, c->d.by_name);
                conn_deny(e, c, CAISSON_REASON_EGRESS_SNI_MISMATCH, detail);
                return;
        case SNIFF_UNKNOWN:
                if (!c->late_sniff)
                        c->mark = "neither TLS nor HTTP: decided on the address";
                sniff_go(e, c);
                return;
        default:
                (void) snprintf(detail, sizeof detail, "%s: no name to check against '%s'",
                                r == SNIFF_TLS_NO_SNI ? "TLS without SNI" :
                                r == SNIFF_HTTP_NO_HOST ? "HTTP without Host" :
                                r == SNIFF_NEED_MORE ? "incomplete opening" : "malformed opening",
                                c->d.by_name);
                conn_deny(e, c, CAISSON_REASON_EGRESS_SNI_MISMATCH, detail);
                return;
        }
}

/* --- accept and decide --- */

static bool is_host_own(struct egress *e, int family, const uint8_t *addr) {
        for (size_t i = 0; i < e->n_host_addrs; i++)
                if (e->host_addrs[i].family == family &&
                    memcmp(e->host_addrs[i].addr, addr, family == AF_INET ? 4 : 16) == 0)
                        return true;
        return false;
}

/* Names of one address, live ones first looked up per decision: bit i of a mask is names[i]
 * allowed; NAME_ADDR, decided on the address (every name allowed). */
#define RELAY_NAMES 16
#define NAME_ADDR (1U << 31)
#define NAMES_ALL (~0U)

/* The decision for one holder of the client socket: *out (the first name that allows, else
 * the address alone), in host the name it was decided for, in *ok every name that allows
 * (NAMES_ALL when the address alone does) and, with all, each name's decision. */
static void decide(struct egress *e, const struct conn *c, const char *const *chain,
                   size_t n_chain, struct egress_decision *out, char host[DNS_MAX_NAME + 1],
                   uint32_t *ok, struct egress_decision *all) {
        const char *names[RELAY_NAMES];
        size_t n = egress_resolved_names(e, c->family, c->dst, names, ELEMENTSOF(names), false);
        bool found = false;
        struct egress_request req = {
                .family = c->family,
                .port = c->dport,
                .binaries = chain,
                .n_binaries = n_chain,
                .addr_is_host_own = is_host_own(e, c->family, c->dst),
                .widen_l7 = e->cfg.widen_l7,
        };
        struct egress_decision d;

        memcpy(req.addr, c->dst, sizeof req.addr);
        *ok = 0;
        /* Each name the gateway resolved to this address, then the address alone (an
         * allowed_ips range): the first that allows decides; else the first refusal. Every
         * name is tried, for the names the client may send besides (*ok). */
        for (size_t i = 0; i <= n; i++) {
                req.host = i < n ? names[i] : NULL;
                policy_egress_decide(e->cfg.policy, &req, &d);
                if (all && i < n)
                        all[i] = d;
                if (d.allow)
                        *ok |= d.by_name ? 1U << i : NAMES_ALL;
                if (found || !(i == 0 || d.allow))
                        continue;
                *out = d;
                if (d.allow) {
                        found = true;
                        if (req.host)
                                (void) snprintf(host, DNS_MAX_NAME + 1, "%s", req.host);
                        /* by_name pointed into the resolved table, whose slot a later DNS
                         * answer may reuse for another name during the name check: the
                         * check must use the name this decision was made for. */
                        if (out->by_name)
                                out->by_name = host;
                }
        }
        if (found)
                return;
        if (n > 0) {
                (void) snprintf(host, DNS_MAX_NAME + 1, "%s", names[0]);
                return;
        }
        /* Refused, and no live answer names this address: if an expired one would have
         * allowed it, say that (the client should resolve again), not "no match". */
        n = egress_resolved_names(e, c->family, c->dst, names, ELEMENTSOF(names), true);
        for (size_t i = 0; i < n; i++) {
                req.host = names[i];
                policy_egress_decide(e->cfg.policy, &req, &d);
                if (d.allow) {
                        out->reason = CAISSON_REASON_EGRESS_NAME_EXPIRED;
                        out->entry = d.entry;
                        out->endpoint = d.endpoint;
                        (void) snprintf(out->detail, sizeof out->detail,
                                        "the answer for %s has expired (TTL and --dns-grace)",
                                        names[i]);
                        (void) snprintf(host, DNS_MAX_NAME + 1, "%s", names[i]);
                        return;
                }
        }
}

/* A new connection: its state and original destination. NULL when refused already. */
static struct conn *conn_open(struct egress *e, int fd, int family) {
        struct conn *c;
        union {
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } od;
        socklen_t ol = sizeof od;
        int r;

        c = calloc(1, sizeof *c);
        if (!c) {
                rst_close(fd);
                return NULL;
        }
        c->wc = (struct watch) { .kind = WATCH_CONN_CLIENT, .obj = c, .fd = fd };
        c->wu = (struct watch) { .kind = WATCH_CONN_UPSTREAM, .obj = c, .fd = -1 };
        c->c2u.pipe[0] = c->c2u.pipe[1] = c->u2c.pipe[0] = c->u2c.pipe[1] = -1;
        c->family = family;
        c->next = e->conns;
        if (e->conns)
                e->conns->prev = c;
        e->conns = c;
        e->n_conns++;

        r = family == AF_INET ? getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &od, &ol) :
                                getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &od, &ol);
        if (r < 0) {
                conn_deny(e, c, CAISSON_REASON_INTERNAL, "no original destination");
                return NULL;
        }
        if (family == AF_INET) {
                memcpy(c->dst, &od.in.sin_addr, 4);
                c->dport = ntohs(od.in.sin_port);
        } else {
                memcpy(c->dst, &od.in6.sin6_addr, 16);
                c->dport = ntohs(od.in6.sin6_port);
        }
        return c;
}

/* pid's identity in *id, read once per batch: every connection of a batch was accepted at
 * the same moment, so one reading of a pid's executable and ancestors serves each of them
 * as well as a reading per connection would (a readlink, a stat and a pread or two less for
 * each further connection of the same process). */
static int batch_identity(struct egress *e, pid_t pid, struct identity *id) {
        if (e->id_batch_pid == pid)
                return 0;
        e->id_batch_pid = 0;
        if (identity_of(e, pid, id) < 0)
                return -1;
        e->id_batch_pid = pid;
        return 0;
}

/* After c's holders were allowed (c->d): each caller of connect() on the client socket
 * (connectors.c, rec) must be allowed too, for the name c was allowed for (primary, a bit as
 * in decide()'s *ok); *names keeps the names allowed for every one. Else c->d becomes the
 * refusal, naming the caller; with no record, the holder stays named. */
static void connectors_check(struct egress *e, struct conn *c, const struct connect_record *rec,
                             bool have, uint32_t primary, uint32_t *names) {
        const char *why = !have ? "no connect() on this socket was seen from inside the sandbox" :
                          rec->overflow ? "connect() was called on this socket too many times" :
                          rec->unknown || rec->n == 0 ? "a process that called connect() on this "
                                                        "socket could not be identified" : NULL;

        if (why) {
                c->d.allow = false;
                c->d.reason = CAISSON_REASON_EGRESS_IDENTITY_UNKNOWN;
                (void) snprintf(c->d.detail, sizeof c->d.detail, "%s", why);
                return;
        }
        for (size_t k = 0; k < rec->n; k++) {
                const struct connector *w = rec->who[k];
                struct egress_decision d;
                char host[DNS_MAX_NAME + 1] = "";
                uint32_t ok;

                decide(e, c, w->chain, w->n_chain, &d, host, &ok, NULL);
                if (d.allow && (ok & primary)) {
                        *names &= ok;
                        continue;
                }
                if (d.allow) {
                        d.allow = false;
                        d.reason = CAISSON_REASON_EGRESS_BINARY_MISMATCH;
                        (void) snprintf(d.detail, sizeof d.detail, "it is allowed for another "
                                        "name than the socket's holders");
                }
                c->d = d;
                memcpy(c->host, host, sizeof c->host);
                c->d.by_name = NULL;
                c->d.matched_path = NULL;       /* pointed into the record */
                (void) snprintf(c->d.detail, sizeof c->d.detail, "pid %d called connect(): %.400s",
                                (int) w->pid, d.detail);
                c->pid = w->pid;
                (void) snprintf(c->binary, sizeof c->binary, "%s", w->chain[0]);
                c->sha256[0] = 0;
                c->hash_job = 0;
                return;
        }
}

/* The names besides c's own that every holder and connector is allowed for (bits of names,
 * decisions in all, as decide() gave them for the first holder): the client may send any
 * of them. Without memory, only c's own name is allowed. */
static void keep_alt_names(struct conn *c, const struct egress_decision *all, uint32_t names) {
        size_t n = (size_t) __builtin_popcount(names);

        if (n == 0 || !(c->alts = calloc(n, sizeof *c->alts)))
                return;
        for (size_t k = 0; k < RELAY_NAMES; k++) {
                struct alt_name *a = &c->alts[c->n_alts];

                if (!(names & (1U << k)) || !all[k].by_name)
                        continue;
                (void) snprintf(a->name, sizeof a->name, "%s", all[k].by_name);
                a->d = all[k];
                a->d.by_name = a->name;         /* pointed into the resolved table */
                a->d.matched_path = NULL;       /* pointed into the identity */
                c->n_alts++;
        }
}

/* The decision for c, whose holders q found, and what follows from it. */
static void conn_decide(struct egress *e, struct conn *c, const struct identity_query *q,
                        struct identity *id) {
        const pid_t *holders = q->holders;
        size_t n_holders = q->r == 0 ? q->n_holders : 0;
        struct connect_record rec = { 0 };
        struct egress_decision all[RELAY_NAMES];
        uint32_t primary = 0, names = NAMES_ALL;
        bool have = false;

        /* Taken whatever the holders' verdict, so no record outlives its socket. A client
         * socket not found (closed before the scan) has no inode to look up: the holders
         * below, none, refuse it as unknown. */
        if (e->cfg.connectors && q->ino != 0)
                have = connectors_take(&e->connectors, (uint32_t) q->ino, &rec);

        /* Every process that holds the client socket must be allowed, with the same name
         * to check: any of them may write to it. None found (it exited before the scan),
         * too many, or one whose executable cannot be read: unknown, denied. */
        for (size_t i = 0; i == 0 || i < n_holders; i++) {
                struct egress_decision d;
                char host[DNS_MAX_NAME + 1] = "";
                uint32_t ok;

                if (n_holders == 0 || batch_identity(e, holders[i], id) < 0) {
                        e->id_batch_pid = 0;
                        id->pid = n_holders ? holders[i] : 0;
                        id->n_chain = 0;
                        id->sha256[0] = 0;
                        id->hash_job = 0;
                }
                decide(e, c, id->chain, id->n_chain, &d, host, &ok, i == 0 ? all : NULL);
                /* The name the first holder is allowed for is the one every other holder
                 * must be allowed for too; the others they all share are kept besides. */
                if (i == 0 && d.allow)
                        primary = d.by_name ? ok & -ok : NAME_ADDR;
                if (d.allow)
                        names &= ok;
                if (i > 0 && d.allow && !(ok & primary)) {
                        d.allow = false;
                        d.reason = CAISSON_REASON_EGRESS_BINARY_MISMATCH;
                        (void) snprintf(d.detail, sizeof d.detail,
                                        "another process holding this socket is allowed only "
                                        "for another name: every holder must be allowed alike");
                }
                if (i > 0 && d.allow)
                        continue;
                /* The first holder, or the first one refused, is the one the event names. */
                c->d = d;
                memcpy(c->host, host, sizeof c->host);
                if (c->d.by_name)
                        c->d.by_name = c->host;
                c->pid = id->pid;
                c->binary[0] = 0;
                if (id->n_chain > 0)
                        (void) snprintf(c->binary, sizeof c->binary, "%s", id->chain[0]);
                memcpy(c->sha256, id->sha256, sizeof c->sha256);
                c->hash_job = id->hash_job;
                if (i > 0 && n_holders > 1) {
                        char extra[sizeof c->d.detail];

                        (void) snprintf(extra, sizeof extra, "%.100s; it shares the socket with "
                                        "pid %d, which is allowed", c->d.detail, (int) holders[0]);
                        memcpy(c->d.detail, extra, sizeof extra);
                }
                if (!d.allow)
                        break;
        }
        c->d.matched_path = NULL;       /* pointed into id */
        /* Who called connect() on the socket, recorded while that call was held: the
         * holders are who has it now, which a process can change by exec'ing an allowed
         * binary or handing the socket over before this accept. */
        if (c->d.allow && e->cfg.connectors && q->r == 0)
                connectors_check(e, c, &rec, have, primary, &names);
        connect_record_done(&rec);
        if (c->d.allow && c->d.by_name)
                keep_alt_names(c, all, names & ~primary);

        if (!c->d.allow) {
                enum caisson_reason reason = c->d.reason;

                /* Without a known client no binaries glob can match: say which it was. */
                if (reason == CAISSON_REASON_EGRESS_BINARY_MISMATCH && !c->binary[0])
                        reason = CAISSON_REASON_EGRESS_IDENTITY_UNKNOWN;
                conn_deny(e, c, reason, c->d.detail);
                return;
        }
        if (!c->d.by_name) {
                start_connect(e, c);
                return;
        }
        c->state = CONN_SNIFF;
        c->deadline = egress_now() + EGRESS_SNIFF_TIMEOUT_USEC;
        if (egress_watch_add(e, &c->wc, EPOLLIN | EPOLLRDHUP | EPOLLET) < 0) {
                conn_deny(e, c, CAISSON_REASON_INTERNAL, "epoll");
                return;
        }
        sniff_step(e, c, false);
}

/* Connections are accepted in batches: the walk of the sandbox's processes that finds who
 * holds each client socket costs about as much for one socket as for all of a batch. */
void relay_accept(struct egress *e, struct watch *w) {
        int family = w == &e->relay[1] ? AF_INET6 : AF_INET;
        struct identity_query *q = e->id_queries;
        struct conn *batch[RELAY_ACCEPT_BATCH];

        for (int round = 0; round < 4; round++) {
                size_t n = 0;

                while (n < RELAY_ACCEPT_BATCH) {
                        socklen_t pl = sizeof q[n].client;
                        int fd = accept4(w->fd, (struct sockaddr *) &q[n].client, &pl,
                                         SOCK_CLOEXEC | SOCK_NONBLOCK);
                        struct conn *c;

                        if (fd < 0)
                                break;
                        if (e->n_conns >= e->max_conns) {
                                /* Bounded: refused at once, like any refusal, never queued. */
                                struct egress_event ev = {
                                        .kind = EGRESS_EV_DENIED, .reason = CAISSON_REASON_INTERNAL,
                                        .protocol = "tcp", .assurance = "unknown",
                                        .detail = "too many relayed connections",
                                };

                                rst_close(fd);
                                egress_emit(e, &ev);
                                continue;
                        }
                        c = conn_open(e, fd, family);
                        if (!c)
                                continue;
                        q[n].family = family;
                        memcpy(q[n].dst, c->dst, sizeof q[n].dst);
                        q[n].dport = c->dport;
                        batch[n++] = c;
                }
                if (n == 0)
                        return;
                identity_holders(e, q, n);
                e->id_batch_pid = 0;
                if (!e->id)
                        e->id = malloc(sizeof *e->id);
                for (size_t i = 0; i < n; i++) {
                        if (!e->id)
                                conn_deny(e, batch[i], CAISSON_REASON_NO_MEMORY,
                                          "no memory for the identity");
                        else
                                conn_decide(e, batch[i], &q[i], e->id);
                }
                if (n < RELAY_ACCEPT_BATCH)
                        return;
        }
}

void relay_event(struct egress *e, struct conn *c, bool upstream, uint32_t events) {
        if (c->dead)
                return;
        switch (c->state) {
        case CONN_SNIFF:
                if (!upstream)
                        sniff_step(e, c, false);
                break;
        case CONN_CONNECTING:
                if (upstream && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                        connected(e, c, events);
                break;
        case CONN_RELAY:
                if (c->late_sniff && !upstream)
                        sniff_step(e, c, false);
                if (!c->dead)
                        pump(e, c);
                break;
        }
}

void relay_tick(struct egress *e, uint64_t now) {
        struct conn *next;

        /* connect() records never taken (unix sockets, loopback peers) expire; a scan of
         * the table every few seconds is enough for a one-minute lifetime. */
        if (now >= e->connectors_next_expire) {
                connectors_expire(&e->connectors, now);
                e->connectors_next_expire = now + 5 * 1000000ULL;
        }

        for (struct conn *c = e->conns; c; c = next) {
                next = c->next;
                if (c->state == CONN_SNIFF && c->deadline <= now)
                        sniff_step(e, c, true);
                else if (c->state == CONN_RELAY && c->late_sniff && c->peek_len > 0 &&
                         c->late_deadline <= now)
                        sniff_step(e, c, true);
                else if (c->state == CONN_CONNECTING && c->deadline <= now)
                        conn_deny(e, c, CAISSON_REASON_EGRESS_UPSTREAM_FAILED,
                                  "upstream connect timed out");
        }
}
