/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DNS gateway (src/egress/gateway.c) in-process: a struct egress whose listeners are on
 * 127.0.0.1 ports of the test's own, an upstream resolver played by the test on another
 * port, and the egress thread's batches run here, one at a time (egress_batch), so a test
 * decides what happens in what order — and may write a batch by hand. Loopback only; no
 * root, no namespace. The sandbox side of the real gateway is the integration suite's. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "egress/egress-internal.h"
#include "macro.h"
#include "policy/policy.h"

/* Every name under gw.test is allowed; nothing else. */
static const char policy_yaml[] =
        "version: 1\nnetwork_policies:\n  web:\n    endpoints:\n"
        "      - host: \"*.gw.test\"\n        port: 80\n    binaries:\n      - path: \"/**\"\n";

static struct {
        struct egress *e;
        struct policy *policy;
        int up_udp, up_tcp;             /* the upstream resolver: 127.0.0.1:up_port */
        uint16_t up_port, udp_port, tcp_port;
        char events[8192];              /* "reason: detail\n" per event */
} g;

static void on_event(const struct egress_event *ev, void *userdata) {
        size_t n = strlen(g.events);

        (void) userdata;
        (void) snprintf(g.events + n, sizeof g.events - n, "%s: %s\n",
                        caisson_reason_to_string(ev->reason), ev->detail ? ev->detail : "");
}

static int bound(int type, uint16_t port, uint16_t *ret_port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        cr_assert_geq(fd, 0);
        if (bind(fd, (struct sockaddr *) &a, sizeof a) < 0) {
                close(fd);
                return -1;
        }
        if (type == SOCK_STREAM)
                cr_assert_eq(listen(fd, 256), 0);
        cr_assert_eq(getsockname(fd, (struct sockaddr *) &a, &len), 0);
        *ret_port = ntohs(a.sin_port);
        return fd;
}

static void setup(void) {
        struct caisson_error err = {};
        struct sockaddr_in up = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct egress_config cfg = { .dns_grace_usec = 1000000, .event = on_event,
                                     .sandbox_netns_fd = -1, .cgroup_fd = -1 };

        cr_assert_eq(policy_load(policy_yaml, strlen(policy_yaml), "t.yaml", &g.policy, &err), 0,
                     "%s", err.msg);
        /* The upstream answers UDP and TCP on one port, as a resolver does. */
        for (int i = 0; i < 50; i++) {
                uint16_t port;

                g.up_udp = bound(SOCK_DGRAM, 0, &g.up_port);
                g.up_tcp = bound(SOCK_STREAM, g.up_port, &port);
                if (g.up_tcp >= 0)
                        break;
                close(g.up_udp);
        }
        cr_assert_geq(g.up_tcp, 0, "no port free for UDP and TCP both");
        up.sin_port = htons(g.up_port);
        memcpy(&cfg.upstream, &up, sizeof up);
        cfg.upstream_len = sizeof up;
        cfg.policy = g.policy;

        g.e = egress_new(&cfg);
        cr_assert_not_null(g.e);
        g.e->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        cr_assert_geq(g.e->epoll_fd, 0);
        g.e->dns_udp[0] = (struct watch) { .kind = WATCH_DNS_UDP,
                                           .fd = bound(SOCK_DGRAM, 0, &g.udp_port) };
        g.e->dns_tcp[0] = (struct watch) { .kind = WATCH_DNS_TCP_LISTEN,
                                           .fd = bound(SOCK_STREAM, 0, &g.tcp_port) };
        cr_assert_eq(egress_watch_add(g.e, &g.e->dns_udp[0], EPOLLIN), 0);
        cr_assert_eq(egress_watch_add(g.e, &g.e->dns_tcp[0], EPOLLIN), 0);
}

static void teardown(void) {
        egress_free(g.e);
        close(g.up_udp);
        close(g.up_tcp);
        policy_free(g.policy);
}

TestSuite(gateway, .init = setup, .fini = teardown, .timeout = 30);

/* ---------------------------------------------------------------- driving the thread */

/* Runs the gateway's batches until none comes for ms. A gateway that never settles (an fd
 * it keeps being told about and does nothing with) fails here. Returns the events seen. */
static int pump(int ms) {
        struct epoll_event evs[64];
        int total = 0;

        for (;;) {
                int n = epoll_wait(g.e->epoll_fd, evs, ELEMENTSOF(evs), ms);

                cr_assert_geq(n, 0);
                if (n == 0)
                        return total;
                total += n;
                cr_assert_leq(total, 10000, "the gateway never settles: it spins");
                cr_assert(egress_batch(g.e, evs, n));
        }
}

/* Pumps until fd is readable (or has hung up); false after 2 s. */
static bool wait_readable(int fd) {
        for (int i = 0; i < 400; i++) {
                struct pollfd p = { .fd = fd, .events = POLLIN };

                (void) pump(0);
                if (poll(&p, 1, 5) > 0)
                        return true;
        }
        return false;
}

/* Whether nothing arrives on fd while the gateway runs for a while. */
static bool stays_silent(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        (void) pump(50);
        return poll(&p, 1, 0) == 0;
}

/* ---------------------------------------------------------------- messages */

static void put16(uint8_t *p, unsigned v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}

static unsigned get16(const uint8_t *p) {
        return (unsigned) p[0] << 8 | p[1];
}

/* A query for name (labels as given, case and all); with edns_size an OPT record with
 * that size, flags word ttl and opts as its data. */
static size_t query(uint8_t *m, unsigned id, unsigned flags, const char *name, unsigned type,
                    unsigned edns_size, uint32_t ttl, const uint8_t *opts, size_t opts_len) {
        size_t n = DNS_HEADER_SIZE;

        memset(m, 0, DNS_HEADER_SIZE);
        put16(m, id);
        put16(m + 2, flags);
        put16(m + 4, 1);
        put16(m + 10, edns_size ? 1 : 0);
        for (const char *p = name; *p;) {
                size_t l = strcspn(p, ".");

                m[n++] = (uint8_t) l;
                memcpy(m + n, p, l);
                n += l;
                p += l + (p[l] == '.');
        }
        m[n++] = 0;
        put16(m + n, type);
        put16(m + n + 2, DNS_CLASS_IN);
        n += 4;
        if (edns_size) {
                m[n++] = 0;
                put16(m + n, DNS_TYPE_OPT);
                put16(m + n + 2, edns_size);
                put16(m + n + 4, ttl >> 16);
                put16(m + n + 6, ttl & 0xffff);
                put16(m + n + 8, (unsigned) opts_len);
                n += 10;
                if (opts_len > 0)
                        memcpy(m + n, opts, opts_len);
                n += opts_len;
        }
        return n;
}

static size_t simple_query(uint8_t *m, unsigned id, const char *name) {
        return query(m, id, DNS_FLAG_RD, name, DNS_TYPE_A, 0, 0, NULL, 0);
}

/* Where the question of m ends. */
static size_t question_end(const uint8_t *m) {
        size_t p = DNS_HEADER_SIZE;

        while (m[p])
                p += 1 + m[p];
        return p + 1 + 4;
}

/* The upstream's answer to q: its id and question, one A record (pad bytes of TXT-like
 * filler in a second record when pad > 0, to make it long). */
static size_t answer(const uint8_t *q, uint8_t *out, uint8_t last_octet, size_t pad) {
        size_t qe = question_end(q), n;
        static const uint8_t a[] = { 0xc0, 0x0c, 0, DNS_TYPE_A, 0, DNS_CLASS_IN, 0, 0, 1, 44,
                                     0, 4, 192, 0, 2, 0 };

        memcpy(out, q, qe);
        put16(out + 2, DNS_FLAG_QR | DNS_FLAG_RA | (get16(q + 2) & DNS_FLAG_RD));
        put16(out + 6, pad ? 2 : 1);
        put16(out + 8, 0);
        put16(out + 10, 0);
        n = qe;
        memcpy(out + n, a, sizeof a);
        out[n + sizeof a - 1] = last_octet;
        n += sizeof a;
        if (pad) {
                static const uint8_t txt[] = { 0xc0, 0x0c, 0, 16, 0, DNS_CLASS_IN, 0, 0, 1, 44 };

                memcpy(out + n, txt, sizeof txt);
                put16(out + n + sizeof txt, (unsigned) pad);
                n += sizeof txt + 2;
                out[n] = (uint8_t) (pad - 1);
                memset(out + n + 1, 'p', pad - 1);
                n += pad;
        }
        return n;
}

/* ---------------------------------------------------------------- clients and upstream */

static int client(int type, uint16_t port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

        cr_assert_geq(fd, 0);
        /* TCP: the listener's backlog completes the handshake; nothing to pump for. */
        cr_assert_eq(connect(fd, (struct sockaddr *) &a, sizeof a), 0, "%m");
        return fd;
}

static int udp_client(void) {
        return client(SOCK_DGRAM, g.udp_port);
}

static int tcp_client(void) {
        return client(SOCK_STREAM, g.tcp_port);
}

static void send_all(int fd, const void *p, size_t n) {
        cr_assert_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t) n, "%m");
}

static void tcp_send(int fd, const uint8_t *m, size_t n) {
        uint8_t len[2];

        put16(len, (unsigned) n);
        send_all(fd, len, 2);
        send_all(fd, m, n);
}

/* One datagram (UDP) or one framed message (TCP) from fd, the gateway running meanwhile. */
static size_t recv_msg(int fd, bool tcp, uint8_t *buf, size_t size) {
        ssize_t n;

        cr_assert(wait_readable(fd), "nothing came");
        if (!tcp) {
                n = recv(fd, buf, size, MSG_DONTWAIT);
                cr_assert_gt(n, 0, "%m");
                return (size_t) n;
        }
        for (size_t got = 0, want = 2; got < want;) {
                if (got > 0)
                        cr_assert(wait_readable(fd), "a message cut short");
                n = recv(fd, buf + got, want - got, MSG_DONTWAIT);
                cr_assert_gt(n, 0, "recv: %zd %m", n);
                got += (size_t) n;
                if (got == 2 && want == 2) {
                        want = 2 + get16(buf);
                        cr_assert_leq(want, size);
                }
        }
        n = (ssize_t) get16(buf);
        memmove(buf, buf + 2, (size_t) n);
        return (size_t) n;
}

/* What the upstream got over UDP, and from where. */
static size_t up_recv(uint8_t *buf, size_t size, struct sockaddr_in *from) {
        socklen_t fl = sizeof *from;
        ssize_t n;

        cr_assert(wait_readable(g.up_udp), "nothing reached the upstream");
        n = recvfrom(g.up_udp, buf, size, MSG_DONTWAIT, (struct sockaddr *) from, &fl);
        cr_assert_gt(n, 0);
        return (size_t) n;
}

static void up_send(const uint8_t *m, size_t n, const struct sockaddr_in *to) {
        cr_assert_eq(sendto(g.up_udp, m, n, 0, (const struct sockaddr *) to, sizeof *to),
                     (ssize_t) n);
}

/* A TCP connection from the gateway to the upstream. */
static int up_accept(void) {
        int fd;

        cr_assert(wait_readable(g.up_tcp), "no TCP connection to the upstream");
        fd = accept4(g.up_tcp, NULL, NULL, SOCK_CLOEXEC);
        cr_assert_geq(fd, 0);
        return fd;
}

/* The upstream takes the query in flight over TCP and answers it; client c then gets that
 * answer, with its id. */
static void upstream_answers_tcp(int c, uint16_t id) {
        uint8_t m[512], up[512], out[512];
        int u = up_accept();
        size_t n = recv_msg(u, true, up, sizeof up);

        n = answer(up, out, 2, 0);
        tcp_send(u, out, n);
        (void) recv_msg(c, true, m, sizeof m);
        cr_assert_eq(get16(m), id);
        cr_assert_eq(get16(m + 2) & DNS_FLAG_RCODE, DNS_RCODE_NOERROR);
        close(u);
}

/* ---------------------------------------------------------------- the tests */

/* The harness itself: an allowed name is asked upstream and its answer comes back with
 * the client's id, its address remembered; another name is refused here. Over TCP the
 * upstream is asked over TCP. */
Test(gateway, forwards_allowed_refuses_others) {
        uint8_t m[512], up[512], out[512];
        struct sockaddr_in from;
        int c = udp_client();
        const char *names[4];
        size_t n;

        n = simple_query(m, 0x1234, "one.gw.test");
        send_all(c, m, n);
        n = up_recv(up, sizeof up, &from);
        n = answer(up, out, 7, 0);
        up_send(out, n, &from);
        n = recv_msg(c, false, m, sizeof m);
        cr_assert_eq(get16(m), 0x1234);
        cr_assert_eq(get16(m + 2) & DNS_FLAG_RCODE, DNS_RCODE_NOERROR);
        cr_assert_eq(get16(m + 6), 1);
        cr_assert_eq(egress_resolved_names(g.e, AF_INET, (const uint8_t[]) { 192, 0, 2, 7 },
                                           names, 4, false), 1);
        cr_assert_str_eq(names[0], "one.gw.test");

        n = simple_query(m, 0x4321, "other.test");
        send_all(c, m, n);
        n = recv_msg(c, false, m, sizeof m);
        cr_assert_eq(get16(m), 0x4321);
        cr_assert_eq(get16(m + 2) & DNS_FLAG_RCODE, DNS_RCODE_REFUSED);
        cr_assert(stays_silent(g.up_udp), "a refused name reached the upstream");
        close(c);

        c = tcp_client();
        n = simple_query(m, 0x5555, "two.gw.test");
        tcp_send(c, m, n);
        {
                int u = up_accept();

                n = recv_msg(u, true, up, sizeof up);
                n = answer(up, out, 8, 0);
                tcp_send(u, out, n);
                close(u);
        }
        n = recv_msg(c, true, m, sizeof m);
        cr_assert_eq(get16(m), 0x5555);
        cr_assert_eq(get16(m + 2) & DNS_FLAG_RCODE, DNS_RCODE_NOERROR);
        cr_assert_eq(get16(m + 6), 1);
        close(c);
}

static bool tcp_client_open(void) {
        for (size_t i = 0; i < EGRESS_MAX_DNS_TCP; i++)
                if (g.e->dns_clients[i] && g.e->dns_clients[i]->used)
                        return true;
        return false;
}

/* A TCP client that resets its connection with a query in flight is closed at once. Its
 * socket reports EPOLLHUP (and EPOLLERR) whatever the interest, level-triggered: kept open
 * until its answer, the thread was woken for it again and again, at full CPU (pump() fails
 * on that). Its late answer goes nowhere. Control: a client that only shuts down its
 * sending side still gets the answer to the query it sent. */
Test(gateway, tcp_reset_with_query_in_flight_is_closed) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        uint8_t m[512], up[512], out[512];
        int c = tcp_client(), u;
        size_t n = simple_query(m, 0x0101, "slow.gw.test");

        tcp_send(c, m, n);
        u = up_accept();
        n = recv_msg(u, true, up, sizeof up);   /* forwarded; the upstream takes its time */
        cr_assert_eq(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
        close(c);                               /* a reset */
        (void) pump(50);
        cr_assert_not(tcp_client_open(), "the reset client is still open");
        n = answer(up, out, 1, 0);
        tcp_send(u, out, n);
        (void) pump(50);
        close(u);

        c = tcp_client();
        n = simple_query(m, 0x0202, "half.gw.test");
        tcp_send(c, m, n);
        cr_assert_eq(shutdown(c, SHUT_WR), 0);
        upstream_answers_tcp(c, 0x0202);
        close(c);
}

static struct dns_tcp_client *first_tcp_client(void) {
        for (size_t i = 0; i < EGRESS_MAX_DNS_TCP; i++)
                if (g.e->dns_clients[i] && g.e->dns_clients[i]->used)
                        return g.e->dns_clients[i];
        return NULL;
}

/* Until each fd is readable (the gateway not running). */
static void ready(int a, int b) {
        struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };

        for (int i = 0; i < 200 && (poll(p, 2, 10) < 2); i++)
                ;
        cr_assert(p[0].revents & POLLIN);
        cr_assert(p[1].revents & POLLIN);
}

/* An event the kernel reported for a query's upstream socket, handled after that query
 * ended earlier in the same batch, must not reach the query that took its slot meanwhile.
 * Written as the batch the kernel can hand over: query A's answer (its slot freed), query B
 * from a client (a slot taken), then an error for A's socket. When B took A's slot, that
 * error answered B SERVFAIL before the upstream had it. */
Test(gateway, stale_event_never_reaches_a_reused_slot) {
        uint8_t m[512], up[512], out[512];
        int c = tcp_client(), u;
        struct dns_tcp_client *client;
        struct watch *stale = NULL;
        struct epoll_event batch[3];
        size_t n;

        n = simple_query(m, 0xaaaa, "a.gw.test");
        tcp_send(c, m, n);
        u = up_accept();
        n = recv_msg(u, true, up, sizeof up);
        for (size_t i = 0; i < g.e->n_pending; i++)
                if (g.e->pending[i].used)
                        stale = &g.e->pending[i].up;
        client = first_tcp_client();
        cr_assert(stale && client);

        /* Ready, not yet handled: A's answer, and B. */
        n = answer(up, out, 1, 0);
        tcp_send(u, out, n);
        close(u);
        n = simple_query(m, 0xbbbb, "b.gw.test");
        tcp_send(c, m, n);
        ready(stale->fd, client->w.fd);
        batch[0] = (struct epoll_event) { .events = EPOLLIN, .data.ptr = stale };
        batch[1] = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &client->w };
        batch[2] = (struct epoll_event) { .events = EPOLLERR, .data.ptr = stale };
        cr_assert(egress_batch(g.e, batch, 3));

        n = recv_msg(c, true, m, sizeof m);
        cr_assert_eq(get16(m), 0xaaaa);
        cr_assert_eq(get16(m + 2) & DNS_FLAG_RCODE, DNS_RCODE_NOERROR);
        cr_assert(stays_silent(c), "B was answered (rcode %u) before the upstream had it",
                  (recv(c, m, sizeof m, MSG_DONTWAIT) > 4 ? get16(m + 4) : 99) & 0xf);
        upstream_answers_tcp(c, 0xbbbb);
        close(c);
}

/* Whether the gateway closed c (EOF or reset): true, or false if c is still open. */
static bool closed_by_gateway(int c) {
        uint8_t b[512];
        ssize_t n;

        (void) pump(20);
        while ((n = recv(c, b, sizeof b, MSG_DONTWAIT)) > 0)
                ;
        return n == 0 || (n < 0 && errno != EAGAIN);
}

/* A frame must be whole within EGRESS_DNS_TCP_FRAME_USEC of its first byte: bytes that
 * trickle in do not extend it. Each byte read used to restart the 30 s idle wait, so one
 * byte every 29 s held one of the 64 slots for ever. Control: a client with nothing sent
 * (idle, not partial) is not closed at that time. */
Test(gateway, tcp_partial_frame_deadline_is_its_first_byte) {
        static const uint8_t frame[] = { 0x00, 0x20, 0x12 };  /* 32 bytes announced */
        int c = tcp_client(), idle = tcp_client();
        uint64_t t0;

        send_all(c, frame, 1);
        (void) pump(20);
        t0 = egress_now();                      /* after the first byte was read */
        usleep(300 * 1000);
        send_all(c, frame + 1, 2);
        (void) pump(20);
        gateway_tick(g.e, t0 + EGRESS_DNS_TCP_FRAME_USEC + 100 * 1000);
        cr_assert(closed_by_gateway(c), "a frame begun over %d ms ago is still being read",
                  (int) (EGRESS_DNS_TCP_FRAME_USEC / 1000));
        cr_assert_not(closed_by_gateway(idle), "an idle client was closed that early");
        close(c);
        close(idle);
}

/* With all 64 slots taken, a new client gets the slot of the one idle longest; a client
 * with a query in flight is never evicted. Before, the new client was closed at once, so
 * 64 connections that said nothing kept DNS over TCP from everyone else. */
Test(gateway, tcp_full_table_evicts_the_longest_idle) {
        uint8_t m[512], up[512], out[512];
        int c[EGRESS_MAX_DNS_TCP], late, u, busy;
        size_t n;

        /* c[0] waits for an answer; c[1]..c[63] connect idle; then c[1] has a query
         * answered, so c[2] is the one idle longest. */
        c[0] = tcp_client();
        n = simple_query(m, 0x0100, "busy.gw.test");
        tcp_send(c[0], m, n);
        busy = up_accept();
        n = recv_msg(busy, true, up, sizeof up);
        for (int i = 1; i < EGRESS_MAX_DNS_TCP; i++)
                c[i] = tcp_client();
        (void) pump(20);
        n = simple_query(m, 0x0101, "one.gw.test");
        tcp_send(c[1], m, n);
        u = up_accept();
        n = recv_msg(u, true, up, sizeof up);
        n = answer(up, out, 1, 0);
        tcp_send(u, out, n);
        close(u);
        n = recv_msg(c[1], true, m, sizeof m);
        cr_assert_eq(get16(m), 0x0101);

        late = tcp_client();
        n = simple_query(m, 0x0202, "late.gw.test");
        tcp_send(late, m, n);
        upstream_answers_tcp(late, 0x0202);

        cr_assert(closed_by_gateway(c[2]), "the longest idle client is still open");
        cr_assert_not(closed_by_gateway(c[0]), "the client with a query in flight was closed");
        cr_assert_not(closed_by_gateway(c[1]), "a client busy more recently was closed");
        for (int i = 3; i < EGRESS_MAX_DNS_TCP; i++)
                cr_assert_not(closed_by_gateway(c[i]), "client %d closed too", i);
        for (int i = 0; i < EGRESS_MAX_DNS_TCP; i++)
                close(c[i]);
        close(busy);
        close(late);
}

/* The upstream is asked the gateway's own query: a fresh id, RD alone, the name in lower
 * case, and our OPT (our size, DO if the client set it, no options). The client's header
 * bits (RD clear: a cache snoop; AD, CD), its case and its EDNS options (any bytes it
 * likes) used to reach the resolver as sent. The answer still comes back with the client's
 * id, RD and question, case and all. And since the upstream was told our size, an answer
 * larger than the client said it takes comes back to it as TC, for it to ask over TCP. */
Test(gateway, upstream_gets_the_gateways_own_query) {
        static const uint8_t cookie[] = { 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
        static const uint8_t opt[] = { 0, 0, DNS_TYPE_OPT, DNS_EDNS_UDP_SIZE >> 8,
                                       DNS_EDNS_UDP_SIZE & 0xff, 0, 0, 0x80, 0, 0, 0 };
        uint8_t m[2048], up[2048], out[2048];
        struct sockaddr_in from;
        int c = udp_client();
        size_t n, qn;

        qn = query(m, 0x7777, 0x0030 /* AD, CD; RD clear */, "MiXeD.Gw.TeSt", DNS_TYPE_A,
                   4000, DNS_EDNS_DO, cookie, sizeof cookie);
        send_all(c, m, qn);
        n = up_recv(up, sizeof up, &from);
        cr_assert_neq(get16(up), 0x7777, "the client's id went upstream");
        cr_assert_eq(get16(up + 2), DNS_FLAG_RD, "flags %#x went upstream", get16(up + 2));
        cr_assert_eq(get16(up + 4), 1);
        cr_assert_eq(get16(up + 6) | get16(up + 8), 0);
        cr_assert_eq(get16(up + 10), 1);
        cr_assert_eq(memcmp(up + 12, "\x05mixed\x02gw\x04test\x00\x00\x01\x00\x01", 19), 0,
                     "the client's case went upstream");
        cr_assert_eq(n, 12 + 19 + sizeof opt, "%zu bytes went upstream", n);
        cr_assert_arr_eq(up + 31, opt, sizeof opt, "the client's OPT went upstream");

        n = answer(up, out, 9, 0);
        up_send(out, n, &from);
        n = recv_msg(c, false, out, sizeof out);
        cr_assert_eq(get16(out), 0x7777);
        cr_assert_eq(get16(out + 2) & (DNS_FLAG_RD | DNS_FLAG_RCODE), 0, "RD as sent, NOERROR");
        cr_assert_arr_eq(out + 12, m + 12, 19, "the client's question, in its case");
        cr_assert_eq(get16(out + 6), 1);

        qn = query(m, 0x8888, DNS_FLAG_RD, "big.gw.test", DNS_TYPE_A, 600, 0, NULL, 0);
        send_all(c, m, qn);
        n = up_recv(up, sizeof up, &from);
        n = answer(up, out, 10, 900);
        cr_assert_gt(n, 900);
        up_send(out, n, &from);
        n = recv_msg(c, false, out, sizeof out);
        cr_assert_eq(get16(out), 0x8888);
        cr_assert(get16(out + 2) & DNS_FLAG_TC, "a %zu-byte answer to a client of 600", n);
        cr_assert_eq(get16(out + 2) & DNS_FLAG_RCODE, DNS_RCODE_NOERROR);
        cr_assert_eq(get16(out + 6), 0);
        cr_assert_eq(get16(out + 10), 1, "our OPT");
        cr_assert_eq(n, question_end(m) + 11);
        close(c);
}

/* Each UDP query goes upstream from a socket of its own, on a port the kernel picked, and
 * only an answer to it, from the upstream, to that port, is taken: an off-path forger must
 * guess the port as well as the id. All of them used to leave from one port for the
 * sandbox's whole life, the id alone in the way. Here four queries in flight at once: four
 * ports; an answer to one sent to another's port, and the right answer from another
 * address, are dropped (each query's own answer still comes). */
Test(gateway, each_upstream_query_from_a_port_of_its_own) {
        static const char *const names[] = { "p0.gw.test", "p1.gw.test", "p2.gw.test",
                                             "p3.gw.test" };
        uint8_t m[512], up[4][512], out[512];
        struct sockaddr_in from[4];
        int c = udp_client(), rogue;
        uint16_t rogue_port;
        size_t n;

        for (int i = 0; i < 4; i++) {
                n = simple_query(m, 0x100 + (unsigned) i, names[i]);
                send_all(c, m, n);
        }
        for (int i = 0; i < 4; i++) {
                (void) up_recv(up[i], sizeof up[i], &from[i]);
                for (int j = 0; j < i; j++)
                        cr_assert_neq(from[i].sin_port, from[j].sin_port,
                                      "queries %d and %d came from one port, %u", j, i,
                                      ntohs(from[i].sin_port));
        }

        /* Query 1's answer to query 0's port; query 0's answer from another port. */
        n = answer(up[1], out, 1, 0);
        up_send(out, n, &from[0]);
        rogue = bound(SOCK_DGRAM, 0, &rogue_port);
        n = answer(up[0], out, 99, 0);
        cr_assert_eq(sendto(rogue, out, n, 0, (struct sockaddr *) &from[0], sizeof from[0]),
                     (ssize_t) n);
        close(rogue);
        cr_assert(stays_silent(c), "a misdirected or forged answer was taken");

        for (int i = 0; i < 4; i++) {
                const char *got[2];

                n = answer(up[i], out, (uint8_t) (10 + i), 0);
                up_send(out, n, &from[i]);
                n = recv_msg(c, false, m, sizeof m);
                cr_assert_eq(get16(m + 2) & DNS_FLAG_RCODE, DNS_RCODE_NOERROR);
                cr_assert_eq(egress_resolved_names(g.e, AF_INET,
                                                   (const uint8_t[]) { 192, 0, 2, 10 + i },
                                                   got, 2, false), 1);
                cr_assert_str_eq(got[0], names[i]);
        }
        cr_assert_eq(egress_resolved_names(g.e, AF_INET, (const uint8_t[]) { 192, 0, 2, 99 },
                                           (const char *[2]) {}, 2, false), 0);
        close(c);
}

/* Identical questions in flight (the same name in any case, type, class, transport and
 * EDNS) are asked upstream once: the agent can no longer keep hundreds of copies of one
 * question in flight to better an off-path forger's odds (each copy was another chance to
 * match an id), nor make the gateway ask the same thing again and again. Each client gets
 * the answer with its own id and question, case and all. A question that differs in type
 * or EDNS is asked on its own; a group whose query fails fails together. */
Test(gateway, identical_questions_share_one_upstream_query) {
        static const char *const cases[] = { "same.gw.test", "Same.Gw.Test", "SAME.GW.TEST",
                                             "sAmE.gW.tEsT", "same.GW.test" };
        uint8_t m[5][512], q[512], up[3][512], out[512];
        struct sockaddr_in from[3];
        int c[5], other = udp_client();
        size_t n, len[5];
        int plain = -1;

        for (int i = 0; i < 5; i++) {
                c[i] = udp_client();
                len[i] = simple_query(m[i], 0x500 + (unsigned) i, cases[i]);
                send_all(c[i], m[i], len[i]);
        }
        n = query(q, 0x600, DNS_FLAG_RD, "same.gw.test", DNS_TYPE_AAAA, 0, 0, NULL, 0);
        send_all(other, q, n);
        n = query(q, 0x601, DNS_FLAG_RD, "same.gw.test", DNS_TYPE_A, 1232, 0, NULL, 0);
        send_all(other, q, n);
        for (int i = 0; i < 3; i++) {
                (void) up_recv(up[i], sizeof up[i], &from[i]);
                if (get16(up[i] + 10) == 0 && get16(up[i] + question_end(up[i]) - 4) == DNS_TYPE_A)
                        plain = i;
        }
        cr_assert(stays_silent(g.up_udp), "a copy of a question in flight was asked again");
        cr_assert_geq(plain, 0);

        n = answer(up[plain], out, 5, 0);
        up_send(out, n, &from[plain]);
        for (int i = 0; i < 5; i++) {
                n = recv_msg(c[i], false, out, sizeof out);
                cr_assert_eq(get16(out), 0x500 + (unsigned) i);
                cr_assert_eq(get16(out + 2) & DNS_FLAG_RCODE, DNS_RCODE_NOERROR);
                cr_assert_eq(get16(out + 6), 1);
                cr_assert_arr_eq(out + 12, m[i] + 12, question_end(m[i]) - 12,
                                 "client %d's question, in its case", i);
        }
        for (int i = 0; i < 3; i++)
                if (i != plain) {
                        n = answer(up[i], out, 6, 0);
                        up_send(out, n, &from[i]);
                        n = recv_msg(other, false, out, sizeof out);
                        cr_assert(get16(out) == 0x600 || get16(out) == 0x601);
                }

        /* Two copies of a question nobody answers: both SERVFAIL when it times out. */
        for (int i = 0; i < 2; i++) {
                n = simple_query(q, 0x700 + (unsigned) i, "gone.gw.test");
                send_all(c[i], q, n);
        }
        (void) up_recv(up[0], sizeof up[0], &from[0]);
        cr_assert(stays_silent(g.up_udp));
        gateway_tick(g.e, egress_now() + EGRESS_DNS_TIMEOUT_USEC + 1);
        for (int i = 0; i < 2; i++) {
                n = recv_msg(c[i], false, out, sizeof out);
                cr_assert_eq(get16(out), 0x700 + (unsigned) i);
                cr_assert_eq(get16(out + 2) & DNS_FLAG_RCODE, DNS_RCODE_SERVFAIL);
        }
        for (int i = 0; i < 5; i++)
                close(c[i]);
        close(other);
}
