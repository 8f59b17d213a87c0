/* The "internet" of bench/egress.sh: one process in the server netns, serving
 *   BULK   port: reads an 8-byte big-endian count, sends that many bytes of the pattern
 *                (netbench.h), closes (one thread per connection, blocking writes)
 *   BANNER port: writes one byte 'B' at accept and closes first (so TIME_WAIT stays here,
 *                not on the client's ephemeral ports)
 *   ECHO   port: echoes until EOF
 *   DNS    port (UDP): authoritative for bench.test: A 198.51.100.2 (TTL 300) for any name
 *                under it, NODATA for other types; REFUSED for anything else. Counts every
 *                query it receives, and those under denied.test apart (the gateway must
 *                never forward those: the bench checks the count stays 0).
 * SIGUSR1 prints the counters on stdout; SIGTERM/SIGINT prints them and exits.
 * Usage: netserver ADDR BULK BANNER ECHO DNS   (prints "ready" once every socket listens)
 * Benchmark tool, not part of caisson: bounded only by the bench's lifetime. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netbench.h"

static unsigned char pat[NB_PAT_LEN];
static volatile sig_atomic_t want_stats, want_exit;
static atomic_ulong n_bulk, n_banner, n_echo, n_dns, n_dns_denied, n_dns_other;

static void on_sig(int s) {
        if (s == SIGUSR1)
                want_stats = 1;
        else
                want_exit = 1;
}

static int listener(const char *addr, int port, int type) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        int one = 1, fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
                goto fail;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (type == SOCK_DGRAM) {
                int sz = 4 << 20;
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
                setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        }
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                goto fail;
        if (type == SOCK_STREAM && listen(fd, 4096) < 0)
                goto fail;
        return fd;
fail:
        fprintf(stderr, "netserver: %s:%d: %s\n", addr, port, strerror(errno));
        exit(1);
}

static int write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                        if (poll(&pfd, 1, 5000) <= 0)
                                return -1;
                        continue;
                }
                if (n <= 0)
                        return -1;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static void *bulk_thread(void *arg) {
        int fd = (int) (intptr_t) arg;
        unsigned char hdr[8];
        size_t got = 0;
        uint64_t left = 0, off = 0;

        while (got < sizeof hdr) {
                ssize_t n = read(fd, hdr + got, sizeof hdr - got);
                if (n <= 0)
                        goto out;
                got += (size_t) n;
        }
        for (int i = 0; i < 8; i++)
                left = left << 8 | hdr[i];
        while (left > 0) {
                size_t chunk = NB_PAT_LEN - off;
                if (chunk > left)
                        chunk = (size_t) left;
                if (chunk > 256 * 1024)
                        chunk = 256 * 1024;
                if (write_all(fd, pat + off, chunk) < 0)
                        goto out;
                off = (off + chunk) % NB_PAT_LEN;
                left -= chunk;
        }
        shutdown(fd, SHUT_WR);
        /* Wait for the client's close, so ours sends no reset over unread data. */
        while (read(fd, hdr, sizeof hdr) > 0)
                ;
out:
        close(fd);
        return NULL;
}

/* One DNS answer; returns its length or 0 to drop the query. */
static size_t dns_answer(const unsigned char *q, size_t qlen, unsigned char *r) {
        char name[256];
        size_t pos = 12, nlen = 0;
        uint16_t qtype;
        bool ok;

        if (qlen < 12 || (q[2] & 0x80) || q[4] != 0 || q[5] != 1)
                return 0;
        while (pos < qlen && q[pos] != 0) {
                size_t l = q[pos];
                if (l > 63 || pos + 1 + l >= qlen || nlen + l + 1 >= sizeof name)
                        return 0;
                if (nlen)
                        name[nlen++] = '.';
                memcpy(name + nlen, q + pos + 1, l);
                nlen += l;
                pos += 1 + l;
        }
        if (pos + 5 > qlen)
                return 0;
        name[nlen] = 0;
        pos++;
        qtype = (uint16_t) (q[pos] << 8 | q[pos + 1]);
        pos += 4;                            /* end of the question */
        atomic_fetch_add(&n_dns, 1);
        ok = nlen >= 10 && strcasecmp(name + nlen - 10, "bench.test") == 0 &&
             (nlen == 10 || name[nlen - 11] == '.');
        if (nlen >= 11 && strcasecmp(name + nlen - 11, "denied.test") == 0)
                atomic_fetch_add(&n_dns_denied, 1);
        else if (!ok)
                atomic_fetch_add(&n_dns_other, 1);
        memcpy(r, q, pos);
        r[2] = 0x84 | (q[2] & 0x01);         /* QR, AA, RD copied */
        r[3] = ok ? 0 : 5;                   /* NOERROR / REFUSED */
        r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
        if (ok && qtype == 1) {
                static const unsigned char rr[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c,
                                                    0, 4, 198, 51, 100, 2 };
                r[7] = 1;
                memcpy(r + pos, rr, sizeof rr);
                pos += sizeof rr;
        }
        return pos;
}

static void dns_batch(int fd) {
        enum { B = 64 };
        static unsigned char in[B][512], out[B][600];
        static struct sockaddr_in from[B];
        struct mmsghdr m[B], o[B];
        struct iovec iv[B], ov[B];
        int n, k = 0;

        for (;;) {
                for (int i = 0; i < B; i++) {
                        iv[i] = (struct iovec) { in[i], sizeof in[i] };
                        m[i] = (struct mmsghdr) { .msg_hdr = { .msg_name = &from[i],
                                .msg_namelen = sizeof from[i], .msg_iov = &iv[i], .msg_iovlen = 1 } };
                }
                n = recvmmsg(fd, m, B, MSG_DONTWAIT, NULL);
                if (n <= 0)
                        return;
                k = 0;
                for (int i = 0; i < n; i++) {
                        size_t len = dns_answer(in[i], m[i].msg_len, out[k]);
                        if (!len)
                                continue;
                        ov[k] = (struct iovec) { out[k], len };
                        o[k] = (struct mmsghdr) { .msg_hdr = { .msg_name = &from[i],
                                .msg_namelen = m[i].msg_hdr.msg_namelen, .msg_iov = &ov[k], .msg_iovlen = 1 } };
                        k++;
                }
                if (k > 0)
                        (void) sendmmsg(fd, o, (unsigned) k, 0);
        }
}

static void print_stats(void) {
        printf("stats bulk=%lu banner=%lu echo=%lu dns=%lu dns_denied_seen=%lu dns_other=%lu\n",
               atomic_load(&n_bulk), atomic_load(&n_banner), atomic_load(&n_echo),
               atomic_load(&n_dns), atomic_load(&n_dns_denied), atomic_load(&n_dns_other));
        fflush(stdout);
}

int main(int argc, char **argv) {
        struct sigaction sa = { .sa_handler = on_sig };
        struct epoll_event ev[256];
        int lb, lban, lecho, ldns, ep;
        static char buf[65536];

        if (argc != 6) {
                fprintf(stderr, "usage: netserver ADDR BULK BANNER ECHO DNS\n");
                return 2;
        }
        nb_raise_nofile();
        nb_pattern(pat);
        signal(SIGPIPE, SIG_IGN);
        sigaction(SIGUSR1, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        lb = listener(argv[1], atoi(argv[2]), SOCK_STREAM);
        lban = listener(argv[1], atoi(argv[3]), SOCK_STREAM);
        lecho = listener(argv[1], atoi(argv[4]), SOCK_STREAM);
        ldns = listener(argv[1], atoi(argv[5]), SOCK_DGRAM);
        ep = epoll_create1(EPOLL_CLOEXEC);
        for (int fd = 0, *l = (int[]) { lb, lban, lecho, ldns }; fd < 4; fd++)
                epoll_ctl(ep, EPOLL_CTL_ADD, l[fd], &(struct epoll_event) { .events = EPOLLIN, .data.fd = l[fd] });
        printf("ready\n");
        fflush(stdout);

        while (!want_exit) {
                int n = epoll_wait(ep, ev, 256, -1);
                if (want_stats) {
                        want_stats = 0;
                        print_stats();
                }
                for (int i = 0; i < n; i++) {
                        int fd = ev[i].data.fd, c;

                        if (fd == ldns) {
                                dns_batch(fd);
                        } else if (fd == lb) {
                                while ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                                        pthread_t t;
                                        pthread_attr_t at;
                                        atomic_fetch_add(&n_bulk, 1);
                                        pthread_attr_init(&at);
                                        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
                                        if (pthread_create(&t, &at, bulk_thread, (void *) (intptr_t) c) != 0)
                                                close(c);
                                        pthread_attr_destroy(&at);
                                }
                        } else if (fd == lban) {
                                while ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                                        atomic_fetch_add(&n_banner, 1);
                                        (void) write(c, "B", 1);
                                        close(c);
                                }
                        } else if (fd == lecho) {
                                while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                                        int one = 1;
                                        atomic_fetch_add(&n_echo, 1);
                                        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                                        epoll_ctl(ep, EPOLL_CTL_ADD, c,
                                                  &(struct epoll_event) { .events = EPOLLIN, .data.fd = c });
                                }
                        } else {
                                ssize_t r = read(fd, buf, sizeof buf);
                                if (r > 0 && write_all(fd, buf, (size_t) r) == 0)
                                        continue;
                                if (r < 0 && errno == EAGAIN)
                                        continue;
                                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                                close(fd);
                        }
                }
        }
        print_stats();
        return 0;
}
