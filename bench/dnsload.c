/* DNS load generator of bench/egress.sh: A queries over UDP to ADDR:PORT for SECONDS with
 * WINDOW queries outstanding at once (a new one goes out as each answer comes back; one
 * unanswered after 1 s counts as lost and is replaced). Each answer must carry the id and
 * the question of a query in flight, else it is counted as bad.
 *
 *   dnsload ADDR PORT SECONDS WINDOW fixed NAME     every query asks NAME
 *   dnsload ADDR PORT SECONDS WINDOW random ZONE    every query asks a fresh rXXXXXXXX.ZONE
 *
 * Prints one line: answered/s, and the answers by rcode (noerror with an A record, noerror
 * without, refused, nxdomain, servfail, other), lost, bad.
 * Benchmark tool, not part of caisson. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netbench.h"

struct slot {
        bool busy;
        uint64_t t;
        unsigned char q[300];
        size_t qlen;
};

static struct slot slots[65536];

static size_t build(unsigned char *q, uint16_t id, const char *name) {
        size_t pos = 12;
        const char *s = name;

        memset(q, 0, 12);
        q[0] = (unsigned char) (id >> 8);
        q[1] = (unsigned char) id;
        q[2] = 0x01;        /* RD */
        q[5] = 1;           /* one question */
        while (*s) {
                size_t l = strcspn(s, ".");
                q[pos++] = (unsigned char) l;
                memcpy(q + pos, s, l);
                pos += l;
                s += l;
                if (*s == '.')
                        s++;
        }
        q[pos++] = 0;
        q[pos++] = 0;
        q[pos++] = 1;       /* A */
        q[pos++] = 0;
        q[pos++] = 1;       /* IN */
        return pos;
}

int main(int argc, char **argv) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        uint64_t sent = 0, answered = 0, noerr_a = 0, noerr_empty = 0, refused = 0, nxdomain = 0,
                 servfail = 0, other = 0, lost = 0, bad = 0, t0, end, now, last_sweep;
        uint32_t rnd = 0x12345678u ^ (uint32_t) getpid();
        uint16_t next_id = 1;
        int fd, window, outstanding = 0, sz = 4 << 20;
        bool random_names;
        char name[256];
        unsigned char buf[1500];

        if (argc != 7 || (strcmp(argv[5], "fixed") && strcmp(argv[5], "random"))) {
                fprintf(stderr, "usage: dnsload ADDR PORT SECONDS WINDOW fixed NAME | random ZONE\n");
                return 2;
        }
        sa.sin_port = htons((uint16_t) atoi(argv[2]));
        if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
                return 2;
        window = atoi(argv[4]);
        if (window < 1 || window > 4096)
                return 2;
        random_names = strcmp(argv[5], "random") == 0;
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                perror("dnsload: connect");
                return 1;
        }
        t0 = last_sweep = nb_now_ns();
        end = t0 + (uint64_t) (atof(argv[3]) * 1e9);
        for (;;) {
                now = nb_now_ns();
                while (now < end && outstanding < window) {
                        struct slot *s;
                        while (slots[next_id].busy || next_id == 0)
                                next_id++;
                        s = &slots[next_id];
                        if (random_names) {
                                rnd ^= rnd << 13;
                                rnd ^= rnd >> 17;
                                rnd ^= rnd << 5;
                                snprintf(name, sizeof name, "r%08x.%s", rnd, argv[6]);
                        } else {
                                snprintf(name, sizeof name, "%s", argv[6]);
                        }
                        s->qlen = build(s->q, next_id, name);
                        if (send(fd, s->q, s->qlen, 0) < 0) {
                                if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED)
                                        break;
                                perror("dnsload: send");
                                return 1;
                        }
                        s->busy = true;
                        s->t = now;
                        sent++;
                        outstanding++;
                        next_id++;
                }
                if (outstanding == 0)
                        break;
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                if (poll(&pfd, 1, 50) > 0) {
                        for (;;) {
                                ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                                if (n < 0)
                                        break;
                                uint16_t id = (uint16_t) (buf[0] << 8 | buf[1]);
                                struct slot *s = &slots[id];
                                if (n < 12 || !s->busy || (size_t) n < s->qlen ||
                                    memcmp(buf + 12, s->q + 12, s->qlen - 12) != 0 || !(buf[2] & 0x80)) {
                                        bad++;
                                        continue;
                                }
                                s->busy = false;
                                outstanding--;
                                answered++;
                                switch (buf[3] & 0x0f) {
                                case 0:
                                        if (buf[6] | buf[7])
                                                noerr_a++;
                                        else
                                                noerr_empty++;
                                        break;
                                case 2: servfail++; break;
                                case 3: nxdomain++; break;
                                case 5: refused++; break;
                                default: other++; break;
                                }
                        }
                }
                now = nb_now_ns();
                if (now - last_sweep > 100000000ull) {
                        last_sweep = now;
                        for (uint32_t i = 1; i < 65536; i++) {
                                if (slots[i].busy && now - slots[i].t > 1000000000ull) {
                                        slots[i].busy = false;
                                        outstanding--;
                                        lost++;
                                }
                        }
                }
        }
        double el = (double) (end - t0) / 1e9;
        printf("dns sent=%llu answered=%llu qps=%.0f noerror_a=%llu noerror_empty=%llu refused=%llu "
               "nxdomain=%llu servfail=%llu other=%llu lost=%llu bad=%llu window=%d seconds=%.1f\n",
               (unsigned long long) sent, (unsigned long long) answered, (double) answered / el,
               (unsigned long long) noerr_a, (unsigned long long) noerr_empty, (unsigned long long) refused,
               (unsigned long long) nxdomain, (unsigned long long) servfail, (unsigned long long) other,
               (unsigned long long) lost, (unsigned long long) bad, window, el);
        return 0;
}
