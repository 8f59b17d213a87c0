/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DNS gateway (DESIGN §4): listens on 127.0.0.1:53 (UDP and TCP) inside the sandbox's
 * netns, where the fence redirects every packet to port 53. It answers only names the policy
 * allows, by asking the upstream resolver from the supervisor's netns.
 *
 * A name that is not allowed is answered REFUSED here and never reaches the upstream: a
 * query name is a channel out (data encoded in labels of a domain whose name server the
 * attacker runs), so only names the policy already trusts are ever forwarded.
 *
 * The upstream is asked a query of the gateway's own, built from the question (never the
 * agent's bytes), from a socket of its own per query: UDP for UDP clients, one TCP
 * connection per query for TCP clients. Copies of a question already in flight wait for
 * its answer instead of asking again. A truncated (TC) UDP answer is passed back as it is,
 * and one larger than the client takes is cut to TC here; the client retries over TCP,
 * which the fence redirects here as well, and that retry goes upstream over TCP. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "egress/egress-internal.h"
#include "macro.h"

#define DNS_TCP_MAX_IN_FLIGHT 16
#define DNS_TCP_MAX_OUT (256 * 1024)

static void dns_event(struct egress *e, enum caisson_reason reason, const char *name,
                      const char *detail) {
        char printable[DNS_PRINTABLE_MAX];
        struct egress_event ev = {
                .kind = EGRESS_EV_DNS_DENIED,
                .reason = reason,
                .protocol = "dns",
                .port = 53,
                .assurance = "unknown",
                .detail = detail,
        };

        if (name) {
                dns_name_printable(name, printable, sizeof printable);
                ev.hostname = printable;
        }
        egress_emit(e, &ev);
}

/* --- DNS over TCP, client side --- */

/* A slot closed during an epoll batch is taken again only after it (gateway_reap()): a
 * later event of the same batch may be for the socket it held, and must find the slot
 * unused, not a new client's or query's. */
static void slot_dead(struct egress *e, bool *dead) {
        *dead = true;
        e->gateway_dead = true;
}

static void tcp_client_close(struct egress *e, struct dns_tcp_client *c) {
        if (!c->used)
                return;
        egress_watch_del(e, &c->w);
        c->w.fd = safe_close(c->w.fd);
        free(c->out);
        c->out = NULL;
        c->out_len = c->out_off = c->in_len = 0;
        c->in_flight = 0;
        c->used = false;
        c->gen++;
        slot_dead(e, &c->dead);
}

/* c asked or was answered: its idle wait starts again, and it is the last to be evicted. */
static void tcp_client_busy(struct egress *e, struct dns_tcp_client *c) {
        c->idle_deadline = egress_now() + EGRESS_DNS_TCP_IDLE_USEC;
        c->busy_seq = ++e->dns_tcp_seq;
}

/* The client idle longest among those with no query in flight, or NULL. */
static struct dns_tcp_client *tcp_client_victim(struct egress *e) {
        struct dns_tcp_client *v = NULL;

        for (size_t i = 0; i < EGRESS_MAX_DNS_TCP; i++) {
                struct dns_tcp_client *c = e->dns_clients[i];

                if (c && c->used && c->in_flight == 0 && (!v || c->busy_seq < v->busy_seq))
                        v = c;
        }
        return v;
}

static void tcp_client_interest(struct egress *e, struct dns_tcp_client *c) {
        bool want = c->out_len > c->out_off;
        struct epoll_event ev = { .data.ptr = &c->w };

        if (want == c->want_out)
                return;
        c->want_out = want;
        ev.events = (c->eof ? 0 : EPOLLIN) | (want ? EPOLLOUT : 0);
        (void) epoll_ctl(e->epoll_fd, EPOLL_CTL_MOD, c->w.fd, &ev);
}

static void tcp_client_flush(struct egress *e, struct dns_tcp_client *c) {
        while (c->out_len > c->out_off) {
                ssize_t n = write(c->w.fd, c->out + c->out_off, c->out_len - c->out_off);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        tcp_client_close(e, c);
                        return;
                }
                c->out_off += (size_t) n;
        }
        if (c->out_len == c->out_off)
                c->out_len = c->out_off = 0;
        if (c->eof && c->in_flight == 0 && c->out_len == 0) {
                tcp_client_close(e, c);
                return;
        }
        tcp_client_interest(e, c);
}

static void tcp_client_send(struct egress *e, struct dns_tcp_client *c, const uint8_t *msg,
                            size_t len) {
        size_t need = c->out_len - c->out_off + 2 + len;
        uint8_t *nb;

        if (need > DNS_TCP_MAX_OUT) {
                tcp_client_close(e, c);         /* a client that does not read its answers */
                return;
        }
        if (c->out_off) {
                memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
                c->out_len -= c->out_off;
                c->out_off = 0;
        }
        nb = realloc(c->out, need);
        if (!nb) {
                tcp_client_close(e, c);
                return;
        }
        c->out = nb;
        c->out[c->out_len] = (uint8_t) (len >> 8);
        c->out[c->out_len + 1] = (uint8_t) len;
        memcpy(c->out + c->out_len + 2, msg, len);
        c->out_len += 2 + len;
        tcp_client_busy(e, c);
        tcp_client_flush(e, c);
}

/* --- pending queries --- */

static void pending_free(struct egress *e, struct dns_pending *p) {
        if (p->up.fd >= 0) {
                egress_watch_del(e, &p->up);
                p->up.fd = safe_close(p->up.fd);
        }
        free(p->up_buf);
        p->up_buf = NULL;
        p->used = false;
        slot_dead(e, &p->dead);
}

/* Sends msg (whose id is already the client's) to whoever asked. */
static void deliver(struct egress *e, struct dns_pending *p, const uint8_t *msg, size_t len) {
        if (p->tcp) {
                struct dns_tcp_client *c = p->tcp;

                if (c->used && c->gen == p->tcp_gen) {
                        if (c->in_flight)
                                c->in_flight--;
                        tcp_client_send(e, c, msg, len);
                }
                return;
        }
        (void) sendto(p->udp_fd, msg, len, MSG_DONTWAIT, (struct sockaddr *) &p->client,
                      p->client_len);
}

/* Answers p's client from the gateway: rcode, and TC when truncated. */
static void answer_header(struct egress *e, struct dns_pending *p, unsigned rcode,
                          bool truncated) {
        uint8_t out[sizeof p->qraw + 64];
        ssize_t n = dns_build_reply(&p->q, p->qraw, p->qraw_len, rcode, out, sizeof out);

        if (n > 0 && truncated)
                out[2] |= DNS_FLAG_TC >> 8;
        if (n > 0)
                deliver(e, p, out, (size_t) n);
        else if (p->tcp && p->tcp->used && p->tcp->gen == p->tcp_gen && p->tcp->in_flight)
                p->tcp->in_flight--;
}

static void answer_rcode(struct egress *e, struct dns_pending *p, unsigned rcode) {
        answer_header(e, p, rcode, false);
}

/* Ends the query p asked upstream, and frees every client's slot waiting on it. */
static void query_free(struct egress *e, struct dns_pending *p) {
        while (p) {
                struct dns_pending *next = p->next_waiter;

                pending_free(e, p);
                p = next;
        }
}

/* The query p asked upstream failed: rcode to every client waiting on it. */
static void query_fail(struct egress *e, struct dns_pending *p, unsigned rcode) {
        for (struct dns_pending *w = p; w; w = w->next_waiter)
                answer_rcode(e, w, rcode);
        query_free(e, p);
}

static struct dns_pending *pending_new(struct egress *e) {
        struct dns_pending *slot = NULL;

        /* Slots are taken from the start: none beyond n_pending was ever used, and the
         * loops over the table stop there (its untouched pages cost nothing). */
        for (size_t i = 0; i < e->n_pending; i++)
                if (!e->pending[i].used && !e->pending[i].dead) {
                        slot = &e->pending[i];
                        break;
                }
        if (!slot && e->n_pending < EGRESS_MAX_PENDING)
                slot = &e->pending[e->n_pending++];
        if (!slot)
                return NULL;
        /* A fresh id for each query: with its own socket on a port the kernel picked, two
         * unknowns (32 bits) for an off-path forger to guess. */
        *slot = (struct dns_pending) { .used = true, .up_id = egress_random16(e), .up.fd = -1,
                                       .udp_fd = -1 };
        return slot;
}

/* A query already asked upstream for p's question — the same name (case aside), type and
 * class, over the same transport and with the same EDNS, so the same answer fits both — or
 * NULL. p then waits for that answer instead of asking again: copies of one question in
 * flight were each another chance for a forger to match an id, and each another query. */
static struct dns_pending *query_in_flight(struct egress *e, const struct dns_pending *p) {
        for (size_t i = 0; i < e->n_pending; i++) {
                struct dns_pending *l = &e->pending[i];

                if (l != p && l->used && l->up.fd >= 0 && !l->tcp == !p->tcp &&
                    l->q.qtype == p->q.qtype && l->q.qclass == p->q.qclass &&
                    l->q.has_edns == p->q.has_edns && l->q.edns_do == p->q.edns_do &&
                    streq(l->q.name, p->q.name))
                        return l;
        }
        return NULL;
}

/* The query's own UDP socket, connected to the upstream: the kernel picks a port (at random)
 * and then takes datagrams from the upstream's address and port only. Before, every query
 * left from one socket for the sandbox's whole life: its port known once seen, only the
 * 16-bit id kept a forged answer out, and the agent could keep hundreds of queries in
 * flight to better a forger's odds. A forged address is remembered for the relay. */
static int upstream_udp_open(struct egress *e, struct dns_pending *p, const uint8_t *msg,
                             size_t len) {
        /* Created here, in the egress thread: the supervisor's netns, never the sandbox's. */
        p->up.fd = socket(e->cfg.upstream.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (p->up.fd < 0)
                return -errno;
        if (connect(p->up.fd, (const struct sockaddr *) &e->cfg.upstream, e->cfg.upstream_len) < 0)
                return -errno;
        p->up.kind = WATCH_DNS_UPSTREAM_UDP;
        p->up.obj = p;
        if (send(p->up.fd, msg, len, MSG_DONTWAIT) < 0)
                return -errno;
        return egress_watch_add(e, &p->up, EPOLLIN);
}

static int upstream_tcp_open(struct egress *e, struct dns_pending *p, const uint8_t *msg,
                             size_t len) {
        int r;

        p->up_buf = malloc(2 + len);
        if (!p->up_buf)
                return -ENOMEM;
        p->up_buf[0] = (uint8_t) (len >> 8);
        p->up_buf[1] = (uint8_t) len;
        memcpy(p->up_buf + 2, msg, len);
        p->up_len = 2 + len;
        p->up_off = 0;
        /* Created here, in the egress thread: the supervisor's netns, never the sandbox's. */
        p->up.fd = socket(e->cfg.upstream.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (p->up.fd < 0)
                return -errno;
        if (connect(p->up.fd, (const struct sockaddr *) &e->cfg.upstream, e->cfg.upstream_len) < 0 &&
            errno != EINPROGRESS)
                return -errno;
        p->up.kind = WATCH_DNS_UPSTREAM_TCP;
        p->up.obj = p;
        r = egress_watch_add(e, &p->up, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
        return r;
}

/* Answers a query from the gateway itself, with only rcode (never forwarded): the reply is
 * built in place over msg and goes back the way the query came. */
static void reply_here(struct egress *e, const struct dns_query *q, uint8_t *msg, size_t len,
                       unsigned rcode, int udp_fd, const struct sockaddr_storage *from,
                       socklen_t from_len, struct dns_tcp_client *tcp) {
        ssize_t n = dns_build_reply(q, msg, len, rcode, msg, len);

        if (n <= 0)
                return;
        if (tcp)
                tcp_client_send(e, tcp, msg, (size_t) n);
        else
                (void) sendto(udp_fd, msg, (size_t) n, MSG_DONTWAIT,
                              (const struct sockaddr *) from, from_len);
}

/* One query from the sandbox. msg may be modified in place. */
static void handle_query(struct egress *e, uint8_t *msg, size_t len, int udp_fd,
                         const struct sockaddr_storage *from, socklen_t from_len,
                         struct dns_tcp_client *tcp) {
        const struct policy_network_entry *entry = NULL;
        uint8_t up[DNS_MAX_QUERY_OUT];
        struct dns_pending *p, *leader;
        struct dns_query q;
        const char *why = NULL;
        ssize_t n;
        int r;

        if (dns_parse_query(msg, len, &q, &why) < 0) {
                /* Not forwarded, not answered: a malformed query carries nothing we could
                 * answer safely. */
                dns_event(e, CAISSON_REASON_DNS_MALFORMED, NULL, why);
                if (tcp)
                        tcp->eof = true;        /* the stream is out of step: end it */
                return;
        }
        if (!policy_dns_allowed(e->cfg.policy, q.name, e->cfg.widen_l7, &entry)) {
                reply_here(e, &q, msg, len, DNS_RCODE_REFUSED, udp_fd, from, from_len, tcp);
                dns_event(e, CAISSON_REASON_DNS_DENIED, q.name,
                          "no network_policies entry allows this name: answered REFUSED, "
                          "not forwarded");
                return;
        }
        p = e->cfg.upstream_len > 0 && (!tcp || tcp->in_flight < DNS_TCP_MAX_IN_FLIGHT) ?
                    pending_new(e) : NULL;
        if (!p || q.question_end > sizeof p->qraw) {
                if (p)
                        p->used = false;
                dns_event(e, CAISSON_REASON_DNS_UPSTREAM_FAILED, q.name,
                          e->cfg.upstream_len == 0 ? "no upstream resolver: SERVFAIL" :
                                                     "too many queries in flight: SERVFAIL");
                reply_here(e, &q, msg, len, DNS_RCODE_SERVFAIL, udp_fd, from, from_len, tcp);
                return;
        }
        p->q = q;
        memcpy(p->qraw, msg, q.question_end);
        p->qraw_len = q.question_end;
        p->deadline = egress_now() + EGRESS_DNS_TIMEOUT_USEC;
        if (tcp) {
                p->tcp = tcp;
                p->tcp_gen = tcp->gen;
                tcp->in_flight++;
        } else {
                p->udp_fd = udp_fd;
                memcpy(&p->client, from, from_len);
                p->client_len = from_len;
        }
        /* The same question is asked upstream already: p waits for that answer. */
        leader = query_in_flight(e, p);
        if (leader) {
                p->next_waiter = leader->next_waiter;
                leader->next_waiter = p;
                return;
        }
        /* The upstream is asked a query of our own, built from the question: a fresh id (it
         * never sees the agent's, and an off-path answer must guess it), recursion desired
         * and our OPT. Forwarded byte for byte, the agent's message carried its header bits
         * (RD clear: what the resolver has cached for others) and EDNS options of any
         * content to the resolver. */
        n = dns_build_query(&q, p->up_id, up, sizeof up);
        if (n < 0) {
                query_fail(e, p, DNS_RCODE_SERVFAIL);
                return;
        }
        r = tcp ? upstream_tcp_open(e, p, up, (size_t) n) : upstream_udp_open(e, p, up, (size_t) n);
        if (r < 0) {
                /* An unreachable upstream is not a boundary failure: the name is answered
                 * SERVFAIL, with an event, and nothing else happens. */
                dns_event(e, CAISSON_REASON_DNS_UPSTREAM_FAILED, q.name,
                          "no reachable upstream resolver: SERVFAIL");
                query_fail(e, p, DNS_RCODE_SERVFAIL);
        }
}

void gateway_udp_readable(struct egress *e, struct watch *w) {
        uint8_t buf[4096];

        for (int i = 0; i < 64; i++) {
                struct sockaddr_storage from;
                socklen_t fl = sizeof from;
                ssize_t n = recvfrom(w->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC,
                                     (struct sockaddr *) &from, &fl);

                if (n < 0)
                        return;
                if ((size_t) n > sizeof buf) {
                        dns_event(e, CAISSON_REASON_DNS_MALFORMED, NULL, "oversized UDP query");
                        continue;
                }
                handle_query(e, buf, (size_t) n, w->fd, &from, fl, NULL);
        }
}

void gateway_tcp_accept(struct egress *e, struct watch *w) {
        for (;;) {
                struct dns_tcp_client *c = NULL;
                bool dead = false;
                int fd;

                for (size_t i = 0; i < EGRESS_MAX_DNS_TCP && !c; i++) {
                        if (!e->dns_clients[i]) {
                                e->dns_clients[i] = calloc(1, sizeof *e->dns_clients[i]);
                                if (e->dns_clients[i])
                                        e->dns_clients[i]->w.fd = -1;
                        }
                        if (e->dns_clients[i] && !e->dns_clients[i]->used) {
                                if (!e->dns_clients[i]->dead)
                                        c = e->dns_clients[i];
                                dead |= e->dns_clients[i]->dead;
                        }
                }
                /* A slot freed in this batch is free after it: the connection waits in the
                 * backlog, and the listener (level-triggered) is reported again. */
                if (!c && dead)
                        return;
                /* Full, and a connection waits: the client idle longest (with no query in
                 * flight) makes room, so that 64 connections that say nothing cannot keep
                 * DNS over TCP from every other process in the sandbox. */
                if (!c && poll(&(struct pollfd) { .fd = w->fd, .events = POLLIN }, 1, 0) > 0 &&
                    (c = tcp_client_victim(e))) {
                        tcp_client_close(e, c);
                        return;
                }
                fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                        return;
                if (!c) {
                        safe_close(fd);         /* bounded: more clients are refused */
                        continue;
                }
                c->used = true;
                c->eof = c->want_out = false;
                c->in_len = c->in_flight = 0;
                c->frame_deadline = 0;
                c->w = (struct watch) { .kind = WATCH_DNS_TCP_CLIENT, .obj = c, .fd = fd };
                tcp_client_busy(e, c);
                if (egress_watch_add(e, &c->w, EPOLLIN) < 0)
                        tcp_client_close(e, c);
        }
}

void gateway_tcp_client(struct egress *e, struct dns_tcp_client *c, uint32_t events) {
        uint64_t now = egress_now();
        bool framed = false;

        if (!c->used)
                return;
        /* A reset, or both directions shut: nothing can be read or written any more. The
         * kernel reports EPOLLHUP and EPOLLERR whatever the interest, level-triggered, so a
         * client kept open for the answers to its queries in flight (interest 0) woke the
         * thread again and again, at full CPU, until they came. Closed now: an answer that
         * comes later finds another generation and is dropped (deliver()). */
        if (events & (EPOLLHUP | EPOLLERR)) {
                tcp_client_close(e, c);
                return;
        }
        if (events & EPOLLOUT)
                tcp_client_flush(e, c);
        if (!c->used || c->eof || !(events & EPOLLIN))
                return;
        for (;;) {
                ssize_t n = read(c->w.fd, c->in + c->in_len, sizeof c->in - c->in_len);

                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
                if (n < 0) {
                        tcp_client_close(e, c);
                        return;
                }
                if (n == 0) {
                        /* Only the client's sending side is shut: its answers still go. */
                        c->eof = true;
                        break;
                }
                c->in_len += (size_t) n;
                while (c->used && !c->eof && c->in_len >= 2) {
                        size_t l = (size_t) c->in[0] << 8 | c->in[1];

                        if (l == 0) {
                                c->eof = true;
                                break;
                        }
                        if (c->in_len < 2 + l)
                                break;
                        handle_query(e, c->in + 2, l, -1, NULL, 0, c);
                        if (!c->used)
                                return;
                        memmove(c->in, c->in + 2 + l, c->in_len - 2 - l);
                        c->in_len -= 2 + l;
                        framed = true;
                        tcp_client_busy(e, c);
                }
                if (!c->used || c->eof)
                        break;
        }
        if (!c->used)
                return;
        /* A message is to be whole within EGRESS_DNS_TCP_FRAME_USEC of its first byte, and
         * bytes that trickle in do not extend that: each byte read used to restart the idle
         * wait, so one byte every 29 s held a slot for ever. */
        if (c->in_len == 0)
                c->frame_deadline = 0;
        else if (c->frame_deadline == 0 || framed)
                c->frame_deadline = now + EGRESS_DNS_TCP_FRAME_USEC;
        if (c->eof) {
                struct epoll_event ev = { .events = c->want_out ? EPOLLOUT : 0,
                                          .data.ptr = &c->w };

                (void) epoll_ctl(e->epoll_fd, EPOLL_CTL_MOD, c->w.fd, &ev);
                if (c->in_flight == 0 && c->out_len == c->out_off)
                        tcp_client_close(e, c);
        }
}

/* --- answers --- */

/* One client's copy of the upstream's answer msg (modified in place, for it alone). */
static void answer_client(struct egress *e, struct dns_pending *w, uint8_t *msg, size_t len,
                          unsigned rcode) {
        if (dns_answer_to_client(msg, len, &w->q, w->qraw, w->qraw_len) < 0)
                answer_rcode(e, w, DNS_RCODE_SERVFAIL);
        /* The upstream was told our payload size, not the client's: an answer larger than
         * a UDP client said it takes (512 without EDNS) goes back as TC with the question
         * only, and the client asks again over TCP (RFC 6891 §7). */
        else if (!w->tcp && len > w->q.edns_udp_size)
                answer_header(e, w, rcode, true);
        else
                deliver(e, w, msg, len);
}

static void finish(struct egress *e, struct dns_pending *p, uint8_t *msg, size_t len) {
        struct dns_answer ans;
        const char *why = NULL;

        if (dns_parse_response(msg, len, &p->q, &ans, &why) < 0) {
                dns_event(e, CAISSON_REASON_DNS_UPSTREAM_FAILED, p->q.name, why);
                query_fail(e, p, DNS_RCODE_SERVFAIL);
                return;
        }
        /* Only now may the relay match these addresses to the allowed name. */
        for (size_t i = 0; i < ans.n_addrs; i++)
                egress_resolved_add(e, ans.addrs[i].family, ans.addrs[i].addr, ans.addrs[i].ttl,
                                    p->q.name);
        for (struct dns_pending *w = p; w; w = w->next_waiter)
                answer_client(e, w, msg, len, ans.rcode);
        query_free(e, p);
}

void gateway_upstream_udp(struct egress *e, struct dns_pending *p) {
        uint8_t buf[DNS_MAX_MESSAGE];

        for (int i = 0; i < 16 && p->used && p->up.fd >= 0; i++) {
                ssize_t n = recv(p->up.fd, buf, sizeof buf, MSG_DONTWAIT);
                struct dns_answer ans;

                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n < 0) {
                        /* The upstream's port is closed (an ICMP error), or worse. */
                        dns_event(e, CAISSON_REASON_DNS_UPSTREAM_FAILED, p->q.name,
                                  "the upstream resolver refused the query: SERVFAIL");
                        query_fail(e, p, DNS_RCODE_SERVFAIL);
                        return;
                }
                /* From the upstream (the socket is connected), to this query's port. Another
                 * id or another question is a stray or a forgery: dropped, and the real
                 * answer may still come (a spoofed reply cannot cancel the query). */
                if (n < DNS_HEADER_SIZE || dns_get_id(buf) != p->up_id ||
                    dns_parse_response(buf, (size_t) n, &p->q, &ans, NULL) < 0)
                        continue;
                finish(e, p, buf, (size_t) n);
        }
}

void gateway_upstream_tcp(struct egress *e, struct dns_pending *p, uint32_t events) {
        if (!p->used || p->up.fd < 0)
                return;
        if (events & EPOLLERR) {
                query_fail(e, p, DNS_RCODE_SERVFAIL);
                return;
        }
        while (!p->up_reading) {
                ssize_t n = write(p->up.fd, p->up_buf + p->up_off, p->up_len - p->up_off);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        query_fail(e, p, DNS_RCODE_SERVFAIL);
                        return;
                }
                p->up_off += (size_t) n;
                if (p->up_off == p->up_len) {
                        p->up_reading = true;
                        p->up_off = 0;
                        p->up_len = 2;  /* first the length */
                }
        }
        for (;;) {
                ssize_t n = read(p->up.fd, p->up_buf + p->up_off, p->up_len - p->up_off);

                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        query_fail(e, p, DNS_RCODE_SERVFAIL);
                        return;
                }
                p->up_off += (size_t) n;
                if (p->up_off < p->up_len)
                        continue;
                if (p->up_len == 2) {
                        size_t l = (size_t) p->up_buf[0] << 8 | p->up_buf[1];
                        uint8_t *nb;

                        if (l < DNS_HEADER_SIZE) {
                                query_fail(e, p, DNS_RCODE_SERVFAIL);
                                return;
                        }
                        nb = realloc(p->up_buf, 2 + l);
                        if (!nb) {
                                query_fail(e, p, DNS_RCODE_SERVFAIL);
                                return;
                        }
                        p->up_buf = nb;
                        p->up_len = 2 + l;
                        continue;
                }
                if (dns_get_id(p->up_buf + 2) != p->up_id) {
                        query_fail(e, p, DNS_RCODE_SERVFAIL);
                        return;
                }
                finish(e, p, p->up_buf + 2, p->up_len - 2);
                return;
        }
}

void gateway_tick(struct egress *e, uint64_t now) {
        for (size_t i = 0; i < e->n_pending; i++) {
                struct dns_pending *p = &e->pending[i];

                /* A client waiting on another's query ends with it. */
                if (p->used && p->up.fd >= 0 && p->deadline <= now)
                        query_fail(e, p, DNS_RCODE_SERVFAIL);
        }
        for (size_t i = 0; i < EGRESS_MAX_DNS_TCP; i++) {
                struct dns_tcp_client *c = e->dns_clients[i];

                if (c && c->used && ((c->in_flight == 0 && c->idle_deadline <= now) ||
                                     (c->frame_deadline != 0 && c->frame_deadline <= now)))
                        tcp_client_close(e, c);
        }
}

void gateway_reap(struct egress *e) {
        if (!e->gateway_dead)
                return;
        for (size_t i = 0; i < e->n_pending; i++)
                e->pending[i].dead = false;
        for (size_t i = 0; i < EGRESS_MAX_DNS_TCP; i++)
                if (e->dns_clients[i])
                        e->dns_clients[i]->dead = false;
        e->gateway_dead = false;
}

void gateway_free(struct egress *e) {
        for (size_t i = 0; i < e->n_pending; i++)
                if (e->pending[i].used)
                        pending_free(e, &e->pending[i]);
        for (size_t i = 0; i < EGRESS_MAX_DNS_TCP; i++) {
                if (e->dns_clients[i]) {
                        tcp_client_close(e, e->dns_clients[i]);
                        free(e->dns_clients[i]);
                        e->dns_clients[i] = NULL;
                }
        }
}
