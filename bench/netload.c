/* The TCP client of bench/egress.sh (against bench/netserver.c). One line of key=value
 * results on stdout; "error" lines on stderr.
 *
 *   netload [-p] bulk ADDR PORT BYTES
 *       one connection; asks for BYTES of the pattern and compares every byte received
 *       (ok=1 only if all arrived intact); MB/s = 10^6 bytes/s from before connect() to the
 *       last byte.
 *   netload [-p] latency ADDR PORT N
 *       N connections one after the other (plus 50 not counted first); for each, the time
 *       from socket()+connect() to the first byte of the server's banner. Median, p90, p99.
 *   netload concurrent ADDR PORT N ROUNDS HOLDFILE
 *       N connections open at once; ROUNDS rounds of a 1000-byte message per connection
 *       (all sent, then all read back and compared); after half the rounds it creates
 *       HOLDFILE and waits (≤ 60 s) until someone removes it, with all N still open.
 *   netload rate ADDR PORT SECONDS INFLIGHT
 *       new connections for SECONDS with INFLIGHT of them pending at once; each must read
 *       the banner byte and then EOF. Rate per second (overall and slowest second), errors.
 *
 * -p: through an HTTP CONNECT proxy, as srt's sandbox offers it: $HTTPS_PROXY (or
 * https_proxy, ALL_PROXY, all_proxy) = http://[user:pass@]host:port.
 * Benchmark tool, not part of caisson. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netbench.h"

static bool use_proxy;
static struct sockaddr_in proxy_sa;
static char proxy_auth[1024];

static void die(const char *what) {
        fprintf(stderr, "netload: %s: %s\n", what, strerror(errno));
        exit(1);
}

static struct sockaddr_in target(const char *addr, const char *port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(port)) };

        if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
                fprintf(stderr, "netload: %s: not an IPv4 address\n", addr);
                exit(2);
        }
        return sa;
}

static void b64(const char *in, char *out) {
        static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t n = strlen(in), i, o = 0;

        for (i = 0; i + 2 < n; i += 3) {
                uint32_t v = (uint32_t) (unsigned char) in[i] << 16 | (uint32_t) (unsigned char) in[i + 1] << 8 |
                             (unsigned char) in[i + 2];
                out[o++] = t[v >> 18];
                out[o++] = t[v >> 12 & 63];
                out[o++] = t[v >> 6 & 63];
                out[o++] = t[v & 63];
        }
        if (n - i == 1) {
                uint32_t v = (uint32_t) (unsigned char) in[i] << 16;
                out[o++] = t[v >> 18];
                out[o++] = t[v >> 12 & 63];
                out[o++] = '=';
                out[o++] = '=';
        } else if (n - i == 2) {
                uint32_t v = (uint32_t) (unsigned char) in[i] << 16 | (uint32_t) (unsigned char) in[i + 1] << 8;
                out[o++] = t[v >> 18];
                out[o++] = t[v >> 12 & 63];
                out[o++] = t[v >> 6 & 63];
                out[o++] = '=';
        }
        out[o] = 0;
}

static void proxy_setup(void) {
        const char *names[] = { "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy" };
        const char *u = NULL;
        char buf[1024], *host, *at, *colon;
        struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;

        for (size_t i = 0; i < 4 && !u; i++)
                u = getenv(names[i]);
        if (!u || strncmp(u, "http://", 7) != 0 || strlen(u) >= sizeof buf) {
                fprintf(stderr, "netload: -p: no http:// proxy in HTTPS_PROXY/ALL_PROXY\n");
                exit(2);
        }
        strcpy(buf, u + 7);
        buf[strcspn(buf, "/")] = 0;
        host = buf;
        if ((at = strrchr(buf, '@'))) {
                char enc[700];
                *at = 0;
                if (strlen(buf) > 500)
                        exit(2);
                b64(buf, enc);
                snprintf(proxy_auth, sizeof proxy_auth, "Proxy-Authorization: Basic %s\r\n", enc);
                host = at + 1;
        }
        colon = strrchr(host, ':');
        if (!colon)
                exit(2);
        *colon = 0;
        if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
                fprintf(stderr, "netload: -p: cannot resolve proxy host %s\n", host);
                exit(2);
        }
        memcpy(&proxy_sa, ai->ai_addr, sizeof proxy_sa);
        freeaddrinfo(ai);
}

/* A blocking connection to sa (through the proxy with -p); -1 on failure. */
static int dial(const struct sockaddr_in *sa) {
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        char req[2048], resp[1024], addr[INET_ADDRSTRLEN];
        size_t got = 0;

        if (fd < 0)
                return -1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (const struct sockaddr *) (use_proxy ? &proxy_sa : sa), sizeof *sa) < 0)
                goto fail;
        if (!use_proxy)
                return fd;
        inet_ntop(AF_INET, &sa->sin_addr, addr, sizeof addr);
        snprintf(req, sizeof req, "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", addr,
                 ntohs(sa->sin_port), addr, ntohs(sa->sin_port), proxy_auth);
        if (write(fd, req, strlen(req)) != (ssize_t) strlen(req))
                goto fail;
        /* Byte by byte up to the blank line: nothing of the tunnel may be read here. */
        while (got + 1 < sizeof resp) {
                if (read(fd, resp + got, 1) != 1)
                        goto fail;
                got++;
                if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
                        break;
        }
        resp[got] = 0;
        if (strncmp(resp, "HTTP/1.1 200", 12) != 0 && strncmp(resp, "HTTP/1.0 200", 12) != 0) {
                fprintf(stderr, "netload: proxy: %.*s\n", (int) strcspn(resp, "\r\n"), resp);
                close(fd);
                errno = ECONNREFUSED;
                return -1;
        }
        return fd;
fail:
        close(fd);
        return -1;
}

static int bulk(const struct sockaddr_in *sa, uint64_t bytes) {
        static unsigned char pat[NB_PAT_LEN], buf[256 * 1024];
        unsigned char hdr[8];
        uint64_t got = 0, off = 0, t0, t1, bad = 0;
        int fd;

        nb_pattern(pat);
        for (int i = 0; i < 8; i++)
                hdr[i] = (unsigned char) (bytes >> (56 - 8 * i));
        t0 = nb_now_ns();
        fd = dial(sa);
        if (fd < 0)
                die("connect");
        if (write(fd, hdr, 8) != 8)
                die("write");
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                size_t done = 0;
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        die("read");
                if (n == 0)
                        break;
                while (done < (size_t) n) {
                        size_t chunk = NB_PAT_LEN - off;
                        if (chunk > (size_t) n - done)
                                chunk = (size_t) n - done;
                        if (memcmp(buf + done, pat + off, chunk) != 0)
                                bad++;
                        off = (off + chunk) % NB_PAT_LEN;
                        done += chunk;
                }
                got += (uint64_t) n;
        }
        t1 = nb_now_ns();
        close(fd);
        printf("bulk bytes=%llu seconds=%.4f mbps=%.1f ok=%d\n", (unsigned long long) got,
               (double) (t1 - t0) / 1e9, (double) got / ((double) (t1 - t0) / 1e9) / 1e6,
               got == bytes && bad == 0);
        if (got != bytes || bad)
                fprintf(stderr, "netload: bulk: %llu of %llu bytes, %llu chunks differ from the pattern\n",
                        (unsigned long long) got, (unsigned long long) bytes, (unsigned long long) bad);
        return got == bytes && bad == 0 ? 0 : 1;
}

static int latency(const struct sockaddr_in *sa, int n) {
        uint64_t *v = calloc((size_t) n, sizeof *v);
        int errors = 0, k = 0;
        char c, rest[64];

        for (int i = -50; i < n; i++) {
                uint64_t t0 = nb_now_ns(), t1;
                int fd = dial(sa);
                ssize_t r;

                if (fd < 0) {
                        errors++;
                        continue;
                }
                r = read(fd, &c, 1);
                t1 = nb_now_ns();
                if (r != 1 || c != 'B') {
                        errors++;
                        close(fd);
                        continue;
                }
                while (read(fd, rest, sizeof rest) > 0)
                        ;
                close(fd);
                if (i >= 0)
                        v[k++] = t1 - t0;
        }
        if (k == 0) {
                printf("latency n=0 errors=%d\n", errors);
                return 1;
        }
        qsort(v, (size_t) k, sizeof *v, nb_cmp_u64);
        printf("latency n=%d median_us=%.1f p90_us=%.1f p99_us=%.1f min_us=%.1f errors=%d\n", k,
               v[k / 2] / 1e3, v[k * 9 / 10] / 1e3, v[k * 99 / 100] / 1e3, v[0] / 1e3, errors);
        return errors ? 1 : 0;
}

static void fill(unsigned char *m, int conn, int round) {
        for (int i = 0; i < 1000; i++)
                m[i] = (unsigned char) (conn * 31 + round * 7 + i);
}

static int exchange(int *fds, int n, int round, int *errors) {
        unsigned char m[1000], r[1000];

        for (int i = 0; i < n; i++) {
                if (fds[i] < 0)
                        continue;
                fill(m, i, round);
                if (write(fds[i], m, sizeof m) != (ssize_t) sizeof m) {
                        (*errors)++;
                        close(fds[i]);
                        fds[i] = -1;
                }
        }
        for (int i = 0; i < n; i++) {
                size_t got = 0;
                if (fds[i] < 0)
                        continue;
                while (got < sizeof r) {
                        ssize_t k = read(fds[i], r + got, sizeof r - got);
                        if (k <= 0)
                                break;
                        got += (size_t) k;
                }
                fill(m, i, round);
                if (got != sizeof r || memcmp(m, r, sizeof r) != 0) {
                        (*errors)++;
                        close(fds[i]);
                        fds[i] = -1;
                }
        }
        return 0;
}

static int concurrent(const struct sockaddr_in *sa, int n, int rounds, const char *holdfile) {
        int *fds = calloc((size_t) n, sizeof *fds), errors = 0, open_at_hold = 0, fd;
        struct timeval tv = { .tv_sec = 10 };
        uint64_t t0 = nb_now_ns(), t_conn, t_hold0 = 0, t_hold1 = 0;
        struct stat st;

        for (int i = 0; i < n; i++) {
                fds[i] = dial(sa);
                if (fds[i] < 0) {
                        errors++;
                        continue;
                }
                setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                setsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
        t_conn = nb_now_ns();
        for (int r = 0; r < rounds; r++) {
                if (r == rounds / 2 && holdfile) {
                        for (int i = 0; i < n; i++)
                                open_at_hold += fds[i] >= 0;
                        t_hold0 = nb_now_ns();
                        fd = open(holdfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                        if (fd >= 0) {
                                dprintf(fd, "%d\n", open_at_hold);
                                close(fd);
                        }
                        for (int w = 0; w < 600 && stat(holdfile, &st) == 0; w++)
                                usleep(100000);
                        t_hold1 = nb_now_ns();
                }
                exchange(fds, n, r, &errors);
        }
        for (int i = 0; i < n; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        printf("concurrent n=%d rounds=%d open_at_hold=%d errors=%d connect_s=%.3f exchange_s=%.3f\n", n,
               rounds, open_at_hold, errors, (double) (t_conn - t0) / 1e9,
               (double) (nb_now_ns() - t_conn - (t_hold1 - t_hold0)) / 1e9);
        return errors ? 1 : 0;
}

struct pend {
        int fd;
        int state;        /* 0 connecting/waiting for 'B', 1 got 'B', waiting for EOF */
        uint64_t t;
};

static int rate(const struct sockaddr_in *sa, double secs, int inflight) {
        struct pend *p = calloc((size_t) inflight, sizeof *p);
        struct epoll_event ev[256];
        int ep = epoll_create1(EPOLL_CLOEXEC), active = 0, nsec = (int) secs + 1;
        uint64_t t0 = nb_now_ns(), end = t0 + (uint64_t) (secs * 1e9), now, last_sweep = t0;
        uint64_t done = 0, errors = 0, e_connect = 0, e_reset = 0, e_short = 0, e_timeout = 0;
        uint64_t *per = calloc((size_t) nsec, sizeof *per);
        char buf[64];

        /* start(i): a new non-blocking connection in slot i */
        for (int i = 0; i < inflight; i++)
                p[i].fd = -1;
        for (;;) {
                now = nb_now_ns();
                for (int i = 0; i < inflight && now < end; i++) {
                        if (p[i].fd >= 0)
                                continue;
                        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                        if (fd < 0)
                                die("socket");
                        if (connect(fd, (const struct sockaddr *) sa, sizeof *sa) < 0 && errno != EINPROGRESS) {
                                errors++;
                                e_connect++;
                                close(fd);
                                continue;
                        }
                        p[i] = (struct pend) { .fd = fd, .t = now };
                        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &(struct epoll_event) { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t) i });
                        active++;
                }
                if (active == 0)
                        break;
                int n = epoll_wait(ep, ev, 256, 100);
                now = nb_now_ns();
                for (int k = 0; k < n; k++) {
                        struct pend *c = &p[ev[k].data.u32];
                        bool fin = false, bad = false;
                        for (;;) {
                                ssize_t r = read(c->fd, buf, sizeof buf);
                                if (r > 0) {
                                        if (c->state != 0 || r != 1 || buf[0] != 'B') {
                                                bad = true;
                                                e_short++;
                                                break;
                                        }
                                        c->state = 1;
                                        continue;
                                }
                                if (r == 0) {
                                        fin = true;
                                        if (c->state != 1) {
                                                bad = true;
                                                e_short++;
                                        }
                                        break;
                                }
                                if (errno == EAGAIN)
                                        break;
                                bad = true;
                                if (errno == ECONNREFUSED)
                                        e_connect++;
                                else
                                        e_reset++;
                                break;
                        }
                        if (!fin && !bad)
                                continue;
                        if (bad)
                                errors++;
                        else {
                                done++;
                                int s = (int) ((now - t0) / 1000000000ull);
                                if (s < nsec)
                                        per[s]++;
                        }
                        close(c->fd);
                        c->fd = -1;
                        c->state = 0;
                        active--;
                }
                if (now - last_sweep > 100000000ull) {
                        last_sweep = now;
                        for (int i = 0; i < inflight; i++) {
                                if (p[i].fd >= 0 && now - p[i].t > 5000000000ull) {
                                        close(p[i].fd);
                                        p[i].fd = -1;
                                        p[i].state = 0;
                                        active--;
                                        errors++;
                                        e_timeout++;
                                }
                        }
                }
        }
        double el = (double) (nb_now_ns() - t0) / 1e9;
        uint64_t minsec = UINT64_MAX;
        for (int s = 0; s < (int) secs; s++)
                if (per[s] < minsec)
                        minsec = per[s];
        printf("rate conns=%llu seconds=%.3f per_s=%.0f min_1s=%llu errors=%llu refused=%llu reset=%llu "
               "short=%llu timeout=%llu inflight=%d\n",
               (unsigned long long) done, el, (double) done / el, (unsigned long long) minsec,
               (unsigned long long) errors, (unsigned long long) e_connect, (unsigned long long) e_reset,
               (unsigned long long) e_short, (unsigned long long) e_timeout, inflight);
        return errors ? 1 : 0;
}

int main(int argc, char **argv) {
        struct sockaddr_in sa;

        if (argc > 1 && strcmp(argv[1], "-p") == 0) {
                use_proxy = true;
                argv++;
                argc--;
        }
        if (argc < 5)
                goto usage;
        nb_raise_nofile();
        signal(SIGPIPE, SIG_IGN);
        if (use_proxy)
                proxy_setup();
        sa = target(argv[2], argv[3]);
        if (strcmp(argv[1], "bulk") == 0 && argc == 5)
                return bulk(&sa, strtoull(argv[4], NULL, 10));
        if (strcmp(argv[1], "latency") == 0 && argc == 5)
                return latency(&sa, atoi(argv[4]));
        if (strcmp(argv[1], "concurrent") == 0 && argc == 7 && !use_proxy)
                return concurrent(&sa, atoi(argv[4]), atoi(argv[5]), argv[6]);
        if (strcmp(argv[1], "rate") == 0 && argc == 6 && !use_proxy)
                return rate(&sa, atof(argv[4]), atoi(argv[5]));
usage:
        fprintf(stderr, "usage: netload [-p] bulk|latency ADDR PORT BYTES|N\n"
                        "       netload concurrent ADDR PORT N ROUNDS HOLDFILE\n"
                        "       netload rate ADDR PORT SECONDS INFLIGHT\n");
        return 2;
}
