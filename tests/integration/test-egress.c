/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Egress end to end (issue 4, DESIGN §4) against a private test internet (netlab.h): every
 * test builds its own lab, runs caisson with its supervisor in the lab's "host" netns, and
 * reads what the lab's servers received. Nothing here touches the machine's own network.
 *
 * Suite netlab: the lab is real. Every probe reaches its test host from the lab host netns
 * without caisson: the positive control of every fence test below.
 * Suite egress: caisson's boundary. Each refusal must come fast (a probe fails within
 * FAST seconds: "never a hang" is a correctness bound, not a benchmark), and each is paired
 * with its control: the same probe from the lab host netns without caisson, and for TCP
 * the same probe under a policy that allows it. Until caisson has egress (its run refuses
 * --allow as "not available yet"), the tests that need it skip with that message. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "netlab.h"

#define A(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define FAST 2.0

TestSuite(netlab, .init = h_require_root, .fini = netlab_cleanup, .timeout = 120);
TestSuite(egress, .init = h_require_root, .fini = netlab_cleanup, .timeout = 240);

/* ------------------------------------------------------------------------------------ */

struct probe {
        const char *label;
        /* "KIND ARGS..." for netlab-servers.py probe; "curl ARGS..." for curl (its verdict in
         * the same "ok SECS FIRST-LINE" / "fail SECS curl-exit-N" form); "sh:CMD" verbatim. */
        const char *args;
        char *line; /* the verdict, filled in */
};

/* A workdir (owned by the sandbox user) with the lab's script in it as netlab.py. */
static char *lab_workdir(struct netlab *lab) {
        char *wd = h_workdir(NULL), *dst = h_path(wd, "netlab.py");
        char *s = h_read_file(lab->script);

        cr_assert(s, "read %s", lab->script);
        h_write_file(dst, s, 0644);
        free(s);
        free(dst);
        return wd;
}

static char *random_label(void) {
        unsigned char b[8];
        char *s;

        cr_assert_eq(getrandom(b, sizeof b, 0), (ssize_t) sizeof b);
        cr_assert(asprintf(&s, "x%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
                           b[5], b[6], b[7]) > 0);
        return s;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
        va_list ap;
        char *s;

        va_start(ap, f);
        cr_assert(vasprintf(&s, f, ap) >= 0);
        va_end(ap);
        return s;
}

/* A policy with these network_policies entries (YAML, indented by 2) and the default
 * filesystem. */
static char *policy(const char *wd, const char *entries) {
        char *yaml = fmt("version: 1\nnetwork_policies:\n%s", entries);
        char *p = h_policy(wd, "policy.yaml", yaml);

        free(yaml);
        return p;
}

/* One entry: NAME allows HOST:PORT to BINARY. */
static char *entry(const char *name, const char *host, int port, const char *binary) {
        return fmt("  %s:\n    endpoints:\n      - host: \"%s\"\n        port: %d\n"
                   "    binaries:\n      - path: \"%s\"\n",
                   name, host, port, binary);
}

static bool event_has(const char *events, const char *event, const char *reason, const char *also);

/* The egress decisions (egress.*, dns.* events) of the last sandbox run, for messages. */
static char *last_events;

static void keep_decisions(const char *path) {
        char *all = h_read_file(path), *out = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&out, &size);

        for (const char *s = all; s && *s;) {
                const char *nl = strchr(s, '\n');
                size_t len = nl ? (size_t) (nl - s) + 1 : strlen(s);

                static const char eg[] = "\"event\":\"egress.", dn[] = "\"event\":\"dns.";

                if (memmem(s, len, eg, sizeof eg - 1) || memmem(s, len, dn, sizeof dn - 1))
                        fwrite(s, 1, len, m);
                s += len;
        }
        fclose(m);
        free(all);
        free(last_events);
        last_events = out;
}

/* The probes, in order, in one sandbox (caisson run ARGS -- /bin/sh -c SCRIPT) with its
 * supervisor in the lab host netns. Fills each probe's line; returns caisson's result.
 * Unless ARGS name an events file, the run gets one, kept in last_events. */
static void sandbox_probes(struct netlab *lab, const char *wd, const char *const *args,
                           struct probe *p, size_t n, struct h_result *r) {
        static int runs;
        char *script = NULL, *events = NULL;
        size_t size = 0, k = 0;
        FILE *m = open_memstream(&script, &size);
        struct h_opts o = { .timeout_s = 180 };
        const char *all[64];

        for (; args && args[k] && k < 60; k++) {
                all[k] = args[k];
                if (strcmp(args[k], "--events") == 0)
                        events = strdup(args[k + 1]);
        }
        if (!events) {
                events = fmt("%s/events-%d.jsonl", lab->dir, runs++);
                all[k++] = "--events";
                all[k++] = events;
        }
        all[k] = NULL;

        fprintf(m, "P='/usr/bin/python3 %s/netlab.py probe'\n"
                   "c() { out=$(curl -sS -m 5 -w ' %%{time_total}' \"$@\" 2>/dev/null); rc=$?\n"
                   "  t=${out##* }; body=${out%% *}\n"
                   "  if [ $rc = 0 ]; then echo \"ok $t $(printf '%%s' \"$body\" | head -n1)\"\n"
                   "  else echo \"fail $t curl-exit-$rc\"; fi; }\n",
                wd);
        for (size_t i = 0; i < n; i++) {
                const char *a = p[i].args;

                if (strncmp(a, "sh:", 3) == 0)
                        fprintf(m, "printf '%%s %%s\\n' %s \"$(%s)\"\n", p[i].label, a + 3);
                else if (strncmp(a, "curl ", 5) == 0)
                        fprintf(m, "printf '%%s %%s\\n' %s \"$(c %s)\"\n", p[i].label, a + 5);
                else
                        fprintf(m, "printf '%%s %%s\\n' %s \"$($P %s)\"\n", p[i].label, a);
        }
        fclose(m);
        netlab_caisson(lab, wd, all, A("/bin/sh", "-c", script), &o, r);
        keep_decisions(events);
        free(events);
        for (size_t i = 0; i < n; i++) {
                char *want = fmt("%s ", p[i].label);
                const char *s = r->out;

                p[i].line = NULL;
                while (s && *s) {
                        if (strncmp(s, want, strlen(want)) == 0) {
                                p[i].line = h_first_line(s + strlen(want));
                                break;
                        }
                        s = strchr(s, '\n');
                        s = s ? s + 1 : NULL;
                }
                if (!p[i].line)
                        p[i].line = fmt("missing (caisson exit %d: %s)", r->code, r->err);
                if (getenv("NETLAB_VERBOSE"))
                        cr_log_info("sandbox %s (%s): %s", p[i].label, p[i].args, p[i].line);
                free(want);
        }
        free(script);
}

/* As sandbox_probes, and caisson must have run the script to its end (exit 0). */
static void in_sandbox(struct netlab *lab, const char *wd, const char *const *args,
                       struct probe *p, size_t n) {
        struct h_result r;

        sandbox_probes(lab, wd, args, p, n, &r);
        cr_assert_eq(r.code, 0, "caisson run: exit %d\nstdout: %s\nstderr: %s", r.code, r.out,
                     r.err);
        h_result_done(&r);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void expect_ok(const struct probe *p) {
        cr_expect(netlab_ok(p->line), "%s (%s) should get through: %s\ndecisions:\n%s", p->label,
                  p->args, p->line, last_events ?: "");
}

/* Refused, and fast: a refusal that takes longer than FAST is a hang. */
static void expect_refused(const struct probe *p) {
        cr_expect(!netlab_ok(p->line), "%s (%s) should be refused: %s\ndecisions:\n%s", p->label,
                  p->args, p->line, last_events ?: "");
        cr_expect_lt(netlab_secs(p->line), FAST, "%s (%s) took too long to fail: %s", p->label,
                     p->args, p->line);
}

static void expect_detail(const struct probe *p, const char *needle) {
        cr_expect(strstr(p->line, needle), "%s (%s): want '%s' in: %s", p->label, p->args,
                  needle, p->line);
}

/* The control: the same probe from the lab host netns, no caisson, gets through. */
static void control_ok(struct netlab *lab, const char *args) {
        char *line = netlab_probe_host(lab, args);

        cr_expect(netlab_ok(line), "control (lab host, no caisson) %s: %s", args, line);
        free(line);
}

/* caisson with egress, else skip: today's caisson refuses the egress options with exit
 * 125 and "network egress is not available yet". */
static void require_egress(struct netlab *lab, const char *wd) {
        struct h_result r;

        netlab_caisson(lab, wd, A("--allow", NETLAB_WEB ":80", "--dns-upstream", NETLAB_DNS),
                       A("/bin/true"), NULL, &r);
        if (r.code == 125 &&
            (strstr(r.err, "not available yet") || strstr(r.err, "not supported"))) {
                char *line = h_first_line(r.err);

                /* criterion runs no .fini after a skip: clean up here. */
                netlab_cleanup();
                cr_skip_test("caisson has no egress yet: %s", line);
        }
        cr_assert_eq(r.code, 0, "caisson run --allow %s:80 -- true: exit %d: %s", NETLAB_WEB,
                     r.code, r.err);
        h_result_done(&r);
}

/* After caisson exited: nothing of it is left in the lab host netns. */
static void expect_lab_host_empty(struct netlab *lab) {
        cr_expect_eq(netlab_procs_in(lab, NETLAB_HOST), 0, "processes left in the lab host netns");
}

static int count_in(const char *s, const char *needle) {
        int n = 0;

        for (const char *p = s; (p = strcasestr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

#define POL(wd, ...) ((const char *const[]) { "--policy", policy(wd, __VA_ARGS__), \
                                              "--dns-upstream", NETLAB_DNS, NULL })

/* ------------------------------------------------------------------------------------ */
/* The lab itself: works today, without caisson. */

Test(netlab, reaches_every_host) {
        struct netlab *lab = netlab_start();
        char *line;

        control_ok(lab, "http " NETLAB_WEB " 80");
        control_ok(lab, "http " NETLAB_WEB " 8080");
        control_ok(lab, "http " NETLAB_BLOCKED " 80");
        control_ok(lab, "http " NETLAB_WEB6 " 80");
        control_ok(lab, "udp " NETLAB_WEB " 5000");
        control_ok(lab, "tls " NETLAB_TLS " 443 sni.lab.test");
        control_ok(lab, "halfclose " NETLAB_WEB " 7000 allowed.lab.test");
        {
                long before = netlab_counter(lab, "Icmp", "InEchos");

                control_ok(lab, "icmp " NETLAB_WEB);
                cr_expect_gt(netlab_counter(lab, "Icmp", "InEchos"), before,
                             "the echo request reached the internet netns");
        }
        cr_expect(netlab_log_has(lab, "http", NETLAB_WEB " 80 203.0.113.2 / host=" NETLAB_WEB),
                  "%s", netlab_log(lab, "http"));
        cr_expect(netlab_log_has(lab, "http", NETLAB_WEB " 8080 "));
        cr_expect(netlab_log_has(lab, "http", NETLAB_BLOCKED " 80 "));
        cr_expect(netlab_log_has(lab, "http", NETLAB_WEB6 " 80 2001:db8:ff::2 "));
        cr_expect(netlab_log_has(lab, "udp", "203.0.113.2 "));
        cr_expect(netlab_log_has(lab, "tls", "sni=sni.lab.test"), "%s", netlab_log(lab, "tls"));

        /* DNS over UDP and TCP, with EDNS0 as dig sends it, CNAME chains, wildcards; every
         * query name lands in the log. */
        line = netlab_probe_host(lab, "dns allowed.lab.test server=" NETLAB_DNS);
        cr_expect(netlab_ok(line) && strstr(line, "rcode=NOERROR 198.51.100.10"), "%s", line);
        line = netlab_probe_host(lab, "dns cdn.lab.test server=" NETLAB_DNS " tcp edns");
        cr_expect(strstr(line, "rcode=NOERROR 198.51.100.10"), "%s", line);
        line = netlab_probe_host(lab, "dns v6.lab.test server=" NETLAB_DNS " type=AAAA");
        cr_expect(strstr(line, "rcode=NOERROR 2001:db8:1::10"), "%s", line);
        line = netlab_probe_host(lab, "dns alias.lab.test server=" NETLAB_DNS);
        cr_expect(strstr(line, "rcode=NOERROR CNAME,198.51.100.10"), "%s", line);
        line = netlab_probe_host(lab, "dns a1.wild.lab.test server=" NETLAB_DNS);
        cr_expect(strstr(line, "rcode=NOERROR 198.51.100.10"), "%s", line);
        line = netlab_probe_host(lab, "dns nothing.lab.test server=" NETLAB_DNS);
        cr_expect(strstr(line, "rcode=NXDOMAIN"), "%s", line);
        line = netlab_probe_host(lab, "dns example.org server=" NETLAB_DNS);
        cr_expect(strstr(line, "rcode=REFUSED"), "%s", line);
        cr_expect(netlab_log_has(lab, "dns", "udp 203.0.113.2 "), "%s", netlab_log(lab, "dns"));
        cr_expect(netlab_log_has(lab, "dns", "name=allowed.lab.test"));
        cr_expect(netlab_log_has(lab, "dns", "tcp 203.0.113.2 "));
        cr_expect(netlab_log_has(lab, "dns", "name=example.org"));
        netlab_stop(lab);
}

/* The data-path probes the egress tests use, against the lab alone: 64 MiB intact, 200
 * concurrent connections, half-close. */
Test(netlab, data_paths) {
        struct netlab *lab = netlab_start();
        char *dir = h_workdir(NULL), *out = h_path(dir, "big");
        char *sha = netlab_probe_host(lab, "http " NETLAB_WEB " 80 x /sha256/67108864");
        const char *curl[] = { "/usr/bin/curl", "-sS", "-o", out,
                               "http://" NETLAB_WEB "/bytes/67108864", NULL };
        const char *sum[] = { "/usr/bin/sha256sum", out, NULL };
        struct h_result r;
        struct stat st;

        cr_assert(netlab_ok(sha), "%s", sha);
        netlab_run(lab, NETLAB_HOST, curl, NULL, &r);
        cr_assert_eq(r.code, 0, "curl: %s", r.err);
        cr_assert_eq(stat(out, &st), 0);
        cr_expect_eq(st.st_size, 64 << 20);
        h_run(sum, NULL, &r);
        cr_expect(strncmp(r.out, strrchr(sha, ' ') + 1, 64) == 0, "sha256 %s vs %s", r.out, sha);
        control_ok(lab, "concurrent " NETLAB_WEB " 80 200 allowed.lab.test");
        cr_expect_geq(count_in(netlab_log(lab, "http"), "host=allowed.lab.test"), 200);
        control_ok(lab, "halfclose " NETLAB_WEB " 7000 allowed.lab.test");
        control_ok(lab, "hold " NETLAB_WEB " 80 allowed.lab.test 1");
        netlab_stop(lab);
}

/* Stopping leaves nothing: no process in either netns (so both are gone with their veth),
 * no name under /run/netns, no nsfs mount, no lab directory, no link in our own netns. */
Test(netlab, leaves_nothing) {
        struct netlab *lab = netlab_start();
        unsigned long host = netlab_ns_inode(lab, NETLAB_HOST);
        unsigned long inet = netlab_ns_inode(lab, NETLAB_INET);
        char dir[sizeof lab->dir], *mounts;

        (void) snprintf(dir, sizeof dir, "%s", lab->dir);
        cr_assert_eq(netlab_procs_in_inode(inet), 1, "positive control: the servers are inside");
        cr_expect(h_exists("/sys/class/net/nl-host") == false, "the veth is not in our netns");
        netlab_stop(lab);
        cr_expect_eq(netlab_procs_in_inode(host), 0);
        cr_expect_eq(netlab_procs_in_inode(inet), 0);
        cr_expect(!h_exists(dir), "%s left", dir);
        cr_expect(!h_exists("/run/netns/nl-host"));
        mounts = h_read_file("/proc/self/mountinfo");
        cr_expect(!strstr(mounts, "caisson-test-"), "a lab mount is left");
        cr_expect(!h_exists("/sys/class/net/nl-host") && !h_exists("/sys/class/net/nl-inet"));
}

/* ------------------------------------------------------------------------------------ */
/* Works today: a sandbox without network_policies has loopback only (DESIGN §4). */

Test(egress, no_policy_no_egress) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = {
                { "web", "http " NETLAB_WEB " 80" },
                { "udp", "udp " NETLAB_WEB " 5000" },
                { "dns", "dns allowed.lab.test server=" NETLAB_DNS },
                { "dnstcp", "dns allowed.lab.test server=" NETLAB_DNS " tcp" },
                { "curl", "curl http://" NETLAB_WEB "/" },
        };
        struct probe q[N(p)];

        memcpy(q, p, sizeof p);
        in_sandbox(lab, wd, NULL, p, N(p));
        in_sandbox(lab, wd, A("--policy", policy(wd, "  {}\n")), q, N(q));
        for (size_t i = 0; i < N(p); i++) {
                expect_refused(&p[i]);
                expect_refused(&q[i]);
        }
        cr_expect_str_eq(netlab_log(lab, "http"), "");
        cr_expect_str_eq(netlab_log(lab, "udp"), "");
        cr_expect_str_eq(netlab_log(lab, "dns"), "");
        expect_lab_host_empty(lab);
        control_ok(lab, "http " NETLAB_WEB " 80");
        control_ok(lab, "dns allowed.lab.test server=" NETLAB_DNS);
        netlab_stop(lab);
}

/* ------------------------------------------------------------------------------------ */
/* Needs egress. */

Test(egress, allowed_by_name_and_by_ip) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe byname[] = {
                { "curl", "curl http://allowed.lab.test/" },
                { "probe", "http allowed.lab.test 80" },
        };
        struct probe byip[] = { { "curl", "curl http://" NETLAB_WEB "/" } };
        struct probe ips[] = { { "curl", "curl http://" NETLAB_WEB "/" } };
        struct probe cli[] = { { "curl", "curl http://allowed.lab.test/" } };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), byname,
                   N(byname));
        expect_ok(&byname[0]);
        expect_detail(&byname[0], "lab 198.51.100.10:80 host=allowed.lab.test");
        expect_ok(&byname[1]);
        /* An IP literal as the endpoint's host. */
        in_sandbox(lab, wd, POL(wd, entry("web", NETLAB_WEB, 80, "/**")), byip, N(byip));
        expect_ok(&byip[0]);
        /* A hostless endpoint with allowed_ips. */
        in_sandbox(lab, wd,
                   POL(wd, "  ips:\n    endpoints:\n      - allowed_ips: [\"198.51.100.10/32\"]\n"
                           "        port: 80\n    binaries:\n      - path: \"/**\"\n"),
                   ips, N(ips));
        expect_ok(&ips[0]);
        /* --allow HOST:PORT, for any binary. */
        in_sandbox(lab, wd, A("--allow", "allowed.lab.test:80", "--dns-upstream", NETLAB_DNS), cli,
                   N(cli));
        expect_ok(&cli[0]);
        cr_expect(netlab_log_has(lab, "dns", "name=allowed.lab.test"));
        cr_expect_geq(count_in(netlab_log(lab, "http"), "198.51.100.10 80 203.0.113.2 "), 5,
                      "every request came through the supervisor (from the lab host's address): %s",
                      netlab_log(lab, "http"));
        expect_lab_host_empty(lab);
        netlab_stop(lab);
}

/* Names the gateway follows: a CNAME chain and a wildcard entry. The lab's addresses are
 * documentation addresses, which OpenShell's SSRF rules (is_internal_ip: RFC 5737 counts)
 * treat as private: an exact name reaches them, a wildcard only with allowed_ips. */
Test(egress, cname_and_wildcard) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe alias[] = { { "curl", "curl http://alias.lab.test/" } };
        struct probe wild[] = {
                { "curl", "curl http://a1.wild.lab.test/" },
                { "deep", "dns a.b.wild.lab.test" }, /* '*' is one label */
        };
        struct probe priv[] = { { "curl", "curl http://a2.wild.lab.test/" } };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("alias", "alias.lab.test", 80, "/**")), alias, N(alias));
        expect_ok(&alias[0]);
        expect_detail(&alias[0], "host=alias.lab.test");
        in_sandbox(lab, wd,
                   POL(wd, "  wild:\n    endpoints:\n      - host: \"*.wild.lab.test\"\n"
                           "        port: 80\n        allowed_ips: [\"198.51.100.10/32\"]\n"
                           "    binaries:\n      - path: \"/**\"\n"),
                   wild, N(wild));
        expect_ok(&wild[0]);
        expect_detail(&wild[1], "rcode=REFUSED");
        cr_expect(!netlab_log_has(lab, "dns", "name=a.b.wild.lab.test"));
        /* Without allowed_ips the wildcard resolves, but the private address stays closed. */
        in_sandbox(lab, wd, POL(wd, entry("wild", "*.wild.lab.test", 80, "/**")), priv, N(priv));
        expect_refused(&priv[0]);
        cr_expect(strstr(last_events, "\"reason\":\"egress_private\""), "%s", last_events);
        cr_expect(!netlab_log_has(lab, "http", "host=a2.wild.lab.test"));
        netlab_stop(lab);
}

Test(egress, blocked_ip_refused) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = {
                { "ip", "http " NETLAB_BLOCKED " 80" },
                { "curl", "curl http://" NETLAB_BLOCKED "/" },
                { "name", "http blocked.lab.test 80" }, /* refused at the gateway already */
                { "allowed", "http allowed.lab.test 80" },
        };
        struct probe open[] = { { "ip", "http " NETLAB_BLOCKED " 80" } };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p));
        expect_refused(&p[0]);
        expect_refused(&p[1]);
        expect_refused(&p[2]);
        expect_ok(&p[3]);
        cr_expect(!netlab_log_has(lab, "http", NETLAB_BLOCKED " "), "%s", netlab_log(lab, "http"));
        /* Controls: the host is there, and a policy that lists it reaches it. */
        control_ok(lab, "http " NETLAB_BLOCKED " 80");
        in_sandbox(lab, wd, POL(wd, entry("blocked", NETLAB_BLOCKED, 80, "/**")), open, N(open));
        expect_ok(&open[0]);
        expect_lab_host_empty(lab);
        netlab_stop(lab);
}

Test(egress, blocked_port_refused) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = {
                { "name", "http allowed.lab.test 8080" },
                { "ip", "http " NETLAB_WEB " 8080" },
                { "curl", "curl http://allowed.lab.test:8080/" },
        };
        struct probe open[] = { { "name", "http allowed.lab.test 8080" } };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p));
        for (size_t i = 0; i < N(p); i++)
                expect_refused(&p[i]);
        cr_expect(!netlab_log_has(lab, "http", " 8080 "), "%s", netlab_log(lab, "http"));
        control_ok(lab, "http " NETLAB_WEB " 8080");
        in_sandbox(lab, wd,
                   POL(wd, "  web:\n    endpoints:\n      - host: allowed.lab.test\n"
                           "        ports: [80, 8080]\n    binaries:\n      - path: \"/**\"\n"),
                   open, N(open));
        expect_ok(&open[0]);
        netlab_stop(lab);
}

/* UDP is never relayed: even a policy that lists the address and port does not open it.
 * The fence rejects it (ICMP unreachable), so the client fails at once. */
Test(egress, udp_refused) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = { { "udp", "udp " NETLAB_WEB " 5000" } };
        long before;
        char *entries = fmt("%s%s", entry("web", "allowed.lab.test", 80, "/**"),
                            entry("echo", NETLAB_WEB, 5000, "/**"));

        require_egress(lab, wd);
        before = netlab_counter(lab, "Udp", "InDatagrams") + netlab_counter(lab, "Udp", "NoPorts");
        in_sandbox(lab, wd, POL(wd, entries), p, N(p));
        expect_refused(&p[0]);
        cr_expect_str_eq(netlab_log(lab, "udp"), "");
        cr_expect_eq(netlab_counter(lab, "Udp", "InDatagrams") +
                             netlab_counter(lab, "Udp", "NoPorts"),
                     before, "a UDP datagram reached the internet netns");
        control_ok(lab, "udp " NETLAB_WEB " 5000");
        netlab_stop(lab);
}

/* ICMP: two layers stop it. The agent has no CAP_NET_RAW (no raw socket) and the sandbox
 * netns's net.ipv4.ping_group_range (default "1 0") gives it no ping socket, so the probe
 * fails at socket(2) before the fence is involved; the fence's ICMP reject is the second
 * layer. The test holds for both: the probe fails fast and no echo request arrives. */
Test(egress, icmp_refused) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = { { "icmp", "icmp " NETLAB_WEB } };
        long before;

        require_egress(lab, wd);
        before = netlab_counter(lab, "Icmp", "InEchos");
        in_sandbox(lab, wd, POL(wd, entry("web", NETLAB_WEB, 80, "/**")), p, N(p));
        expect_refused(&p[0]);
        cr_expect_eq(netlab_counter(lab, "Icmp", "InEchos"), before,
                     "an echo request reached the internet netns");
        control_ok(lab, "icmp " NETLAB_WEB);
        cr_expect_gt(netlab_counter(lab, "Icmp", "InEchos"), before);
        netlab_stop(lab);
}

/* IPv6 is rejected unless the policy lists IPv6 endpoints. */
Test(egress, ipv6_refused_unless_listed) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = {
                { "ip", "http " NETLAB_WEB6 " 80" },
                { "curl", "curl -g http://[" NETLAB_WEB6 "]/" },
                { "name", "http v6.lab.test 80" },
        };
        struct probe open[] = { { "ip", "http " NETLAB_WEB6 " 80" } };
        long before;

        require_egress(lab, wd);
        before = netlab_counter(lab, "Tcp", "InSegs");
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p));
        for (size_t i = 0; i < N(p); i++)
                expect_refused(&p[i]);
        /* Refused by the fence, not by a missing route: the sandbox netns has none to
         * 2001:db8:1::10 but the fence's default, and no route would fail it as fast
         * (ENETUNREACH) with no event. The fence resets it and reports it. */
        expect_detail(&p[0], "ECONNREFUSED");
        cr_expect(event_has(last_events, "egress.denied", "egress_protocol",
                            "\"destination\":\"" NETLAB_WEB6 "\""),
                  "no event for the IPv6 connect: %s", last_events ?: "");
        cr_expect(event_has(last_events, "egress.denied", "egress_protocol",
                            "IPv6 is rejected: the policy lists no IPv6 endpoint"),
                  "%s", last_events ?: "");
        cr_expect_eq(netlab_counter(lab, "Tcp", "InSegs"), before,
                     "a TCP segment reached the internet netns");
        cr_expect(!netlab_log_has(lab, "http", NETLAB_WEB6), "%s", netlab_log(lab, "http"));
        control_ok(lab, "http " NETLAB_WEB6 " 80");
        in_sandbox(lab, wd, A("--allow", "[" NETLAB_WEB6 "]:80", "--dns-upstream", NETLAB_DNS),
                   open, N(open));
        expect_ok(&open[0]);
        netlab_stop(lab);
}

/* Refused names and data smuggled in labels never reach the DNS server; the allowed name
 * does. */
Test(egress, refused_names_never_reach_server) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab), *l[9], *dns;
        struct probe p[12];
        size_t n = 0;

        for (size_t i = 0; i < N(l); i++)
                l[i] = random_label();
        p[n++] = (struct probe) { "allowed", "dns allowed.lab.test" };
        p[n++] = (struct probe) { "refused", "dns blocked.lab.test" };
        p[n++] = (struct probe) { "sub", fmt("dns %s.blocked.lab.test", l[0]) };
        p[n++] = (struct probe) { "exfil", fmt("dns %s.exfil.lab.test", l[1]) };
        /* Exact names are exact: a label under an allowed name is another name. */
        p[n++] = (struct probe) { "under", fmt("dns %s.allowed.lab.test", l[2]) };
        p[n++] = (struct probe) { "txt", fmt("dns %s.exfil.lab.test type=TXT", l[3]) };
        p[n++] = (struct probe) { "tcp", fmt("dns %s.exfil.lab.test tcp", l[4]) };
        p[n++] = (struct probe) { "edns", fmt("dns %s.exfil.lab.test edns", l[5]) };
        p[n++] = (struct probe) { "libc", fmt("resolve %s.exfil.lab.test", l[6]) };
        p[n++] = (struct probe) { "curl", fmt("curl http://%s.exfil.lab.test/", l[7]) };
        p[n++] = (struct probe) { "upper", fmt("dns %s.EXFIL.LAB.TEST", l[8]) };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, n);
        expect_ok(&p[0]);
        expect_detail(&p[0], "rcode=NOERROR 198.51.100.10");
        /* Answered by the gateway (REFUSED, or NXDOMAIN), at once. */
        for (size_t i = 1; i < 8; i++) {
                cr_expect(netlab_ok(p[i].line) && !strstr(p[i].line, "rcode=NOERROR"),
                          "%s: the gateway should answer a refusal: %s", p[i].label, p[i].line);
                cr_expect_lt(netlab_secs(p[i].line), FAST, "%s: %s", p[i].label, p[i].line);
        }
        expect_refused(&p[8]);
        expect_refused(&p[9]);
        cr_expect(netlab_ok(p[10].line) && !strstr(p[10].line, "rcode=NOERROR"), "%s", p[10].line);
        usleep(200 * 1000);
        dns = netlab_log(lab, "dns");
        cr_expect(strcasestr(dns, "name=allowed.lab.test"), "the allowed name was forwarded: %s",
                  dns);
        cr_expect(!strcasestr(dns, "blocked.lab.test"), "a refused name reached the server: %s",
                  dns);
        cr_expect(!strcasestr(dns, "exfil"), "an exfiltration label reached the server: %s", dns);
        for (size_t i = 0; i < N(l); i++)
                cr_expect(!strcasestr(dns, l[i]), "label %s reached the server: %s", l[i], dns);
        /* Control: without the gateway the same kind of name does arrive (NXDOMAIN). */
        {
                char *c = random_label();
                char *args = fmt("dns %s.exfil.lab.test server=" NETLAB_DNS, c);

                control_ok(lab, args);
                cr_expect(netlab_log_has(lab, "dns", c), "the log would have shown it");
        }
        netlab_stop(lab);
}

/* DNS sent straight to the lab's server (or to any address) is redirected to the
 * gateway: answered by it, and refused names still never arrive. */
Test(egress, direct_dns_answered_by_gateway) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab), *l1 = random_label(), *l2 = random_label(), *dns;
        struct probe p[] = {
                { "udp", "dns allowed.lab.test server=" NETLAB_DNS },
                { "tcp", "dns allowed.lab.test server=" NETLAB_DNS " tcp edns" },
                /* No server at all at this address: only the gateway can answer. */
                { "nowhere", "dns allowed.lab.test server=192.0.2.53" },
                { "refused", fmt("dns %s.exfil.lab.test server=" NETLAB_DNS, l1) },
                { "refusedtcp", fmt("dns %s.blocked.lab.test server=" NETLAB_DNS " tcp", l2) },
        };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p));
        for (size_t i = 0; i < 3; i++) {
                expect_ok(&p[i]);
                expect_detail(&p[i], "rcode=NOERROR 198.51.100.10");
        }
        for (size_t i = 3; i < N(p); i++) {
                cr_expect(netlab_ok(p[i].line) && !strstr(p[i].line, "rcode=NOERROR"),
                          "%s: the gateway should answer a refusal: %s", p[i].label, p[i].line);
                cr_expect_lt(netlab_secs(p[i].line), FAST, "%s", p[i].line);
        }
        usleep(200 * 1000);
        dns = netlab_log(lab, "dns");
        cr_expect(!strcasestr(dns, l1) && !strcasestr(dns, l2), "refused names arrived: %s", dns);
        /* What arrived came from the supervisor's side (the lab host's address). */
        cr_expect(strstr(dns, "udp 203.0.113.2 ") || strstr(dns, "tcp 203.0.113.2 "), "%s", dns);
        netlab_stop(lab);
}

/* The lab host's loopback and its own address are never reachable, whatever the policy
 * says: not by IP, not through a name that resolves to them, not through allowed_ips.
 * For 127.0.0.1 the netns is a layer of its own: the sandbox's loopback is its own (not
 * redirected to the relay, nothing listens there), and the relay refuses loopback
 * destinations besides. The host's own address has only the relay's rule. */
Test(egress, host_loopback_and_own_address_unreachable) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        int lo = netlab_listen(lab, "127.0.0.1", 8081);
        int own = netlab_listen(lab, NETLAB_HOST_ADDR, 8081);
        struct probe p[] = {
                { "lo", "http 127.0.0.1 8081" },
                { "own", "http " NETLAB_HOST_ADDR " 8081" },
                { "ownname", "http hostaddr.lab.test 8081" },
                { "loname", "http loopback.lab.test 8081" },
        };
        char *entries = fmt("%s%s  ips:\n    endpoints:\n"
                            "      - allowed_ips: [\"203.0.113.0/24\"]\n        port: 8081\n"
                            "    binaries:\n      - path: \"/**\"\n",
                            entry("own", "hostaddr.lab.test", 8081, "/**"),
                            entry("lo", "loopback.lab.test", 8081, "/**"));

        require_egress(lab, wd);
        /* Control: both listeners take connections from inside the lab host netns. */
        control_ok(lab, "connect 127.0.0.1 8081");
        control_ok(lab, "connect " NETLAB_HOST_ADDR " 8081");
        cr_assert_eq(netlab_accepted(lo), 1);
        cr_assert_eq(netlab_accepted(own), 1);
        in_sandbox(lab, wd, POL(wd, entries), p, N(p));
        for (size_t i = 0; i < N(p); i++)
                expect_refused(&p[i]);
        cr_expect_eq(netlab_accepted(lo), 0, "the host's loopback was reached");
        cr_expect_eq(netlab_accepted(own), 0, "the host's own address was reached");
        cr_expect(event_has(last_events, "egress.denied", "egress_host_address", NETLAB_HOST_ADDR),
                  "%s", last_events);
        close(lo);
        close(own);
        netlab_stop(lab);
}

/* An address the host gains while the sandbox runs (a VPN, a bridge, a new lease) is the
 * host's own too: the relay reads the host's addresses again at every change. Here the lab
 * host's lo gets 203.0.113.77 only after the sandbox has started, with a listener on it
 * (bound beforehand with IP_FREEBIND); the policy's allowed_ips covers it. Control: from
 * inside the lab host netns the listener takes the same connection. */
Test(egress, host_address_added_later_unreachable) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        char *ready = h_path(wd, "ready"), *go = h_path(wd, "go");
        char *add = fmt("i=0; while [ ! -e %s ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); "
                        "done; ip addr add 203.0.113.77/32 dev lo && touch %s", ready, go);
        const char *adder[] = { "/bin/sh", "-c", add, NULL };
        char *script = fmt("sh:touch %s; i=0; while [ ! -e %s ] && [ $i -lt 200 ]; do sleep 0.05; "
                           "i=$((i+1)); done; $P http 203.0.113.77 8082", ready, go);
        struct probe p[] = { { "later", script } };
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(8082) };
        struct h_proc proc;
        struct h_result r;
        int one = 1, fd;

        require_egress(lab, wd);
        netlab_enter(lab, NETLAB_HOST);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        netlab_leave(lab);
        cr_assert(fd >= 0);
        cr_assert_eq(inet_pton(AF_INET, "203.0.113.77", &sin.sin_addr), 1);
        cr_assert_eq(setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one), 0);
        cr_assert_eq(bind(fd, (struct sockaddr *) &sin, sizeof sin), 0, "bind: %s", strerror(errno));
        cr_assert_eq(listen(fd, 16), 0);
        netlab_spawn(lab, NETLAB_HOST, adder, NULL, &proc);
        in_sandbox(lab, wd, POL(wd, "  ips:\n    endpoints:\n      - allowed_ips: [\"203.0.113.0/24\"]\n"
                                    "        port: 8082\n    binaries:\n      - path: \"/**\"\n"),
                   p, N(p));
        h_wait(&proc, 10, &r);
        cr_assert_eq(r.code, 0, "the address was not added: %s", r.err);
        h_result_done(&r);
        expect_refused(&p[0]);
        cr_expect_eq(netlab_accepted(fd), 0, "the host's new address was reached");
        cr_expect(event_has(last_events, "egress.denied", "egress_host_address", "203.0.113.77"),
                  "%s", last_events ?: "");
        control_ok(lab, "connect 203.0.113.77 8082");
        cr_expect_eq(netlab_accepted(fd), 1);
        close(fd);
        free(script);
        free(add);
        netlab_stop(lab);
}

/* Names, not just addresses: the TLS SNI and the HTTP Host must be the name the
 * connection was allowed for (cdn.lab.test shares allowed.lab.test's address). */
Test(egress, sni_and_host_mismatch_refused) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        char *entries = fmt("%s%s", entry("tls", "sni.lab.test", 443, "/**"),
                            entry("web", "allowed.lab.test", 80, "/**"));
        struct probe p[] = {
                { "sni", "tls sni.lab.test 443 sni.lab.test" },
                { "evil", "tls sni.lab.test 443 evil.example" },
                { "host", "http allowed.lab.test 80" },
                { "cdn", "http allowed.lab.test 80 cdn.lab.test" },
                { "cdncurl", "curl --resolve cdn.lab.test:80:" NETLAB_WEB " http://cdn.lab.test/" },
                /* the outer SNI is the allowed name, the server may route by a hidden one */
                { "ech", "tls sni.lab.test 443 sni.lab.test ech" },
        };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entries), p, N(p));
        expect_ok(&p[0]);
        expect_refused(&p[1]);
        expect_ok(&p[2]);
        expect_refused(&p[3]);
        expect_refused(&p[4]);
        expect_refused(&p[5]);
        cr_expect(event_has(last_events, "egress.denied", "sni_mismatch", "Encrypted Client Hello"),
                  "%s", last_events ?: "");
        cr_expect_eq(count_in(netlab_log(lab, "tls"), "sni=sni.lab.test"), 1, "%s",
                     netlab_log(lab, "tls"));
        control_ok(lab, "tls " NETLAB_TLS " 443 sni.lab.test ech");
        cr_expect(!netlab_log_has(lab, "tls", "evil.example"), "%s", netlab_log(lab, "tls"));
        cr_expect(!netlab_log_has(lab, "http", "host=cdn.lab.test"), "%s", netlab_log(lab, "http"));
        /* Controls: without caisson both reach the server. */
        control_ok(lab, "tls " NETLAB_TLS " 443 evil.example");
        control_ok(lab, "http " NETLAB_WEB " 80 cdn.lab.test");
        cr_expect(netlab_log_has(lab, "tls", "sni=evil.example"));
        netlab_stop(lab);
}

/* A program whose main thread has exited (pthread_exit in main) still holds its sockets
 * in its other threads: the relay finds them there, and the program by another thread's
 * view of its executable. Before, /proc/PID listed no fds, no holder was found, and the
 * allowed client was refused. */
Test(egress, client_with_exited_main_thread) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = { { "leaderless", "leaderless " NETLAB_WEB " 80" } };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", NETLAB_WEB, 80, "/usr/bin/python3*")), p, N(p));
        expect_ok(&p[0]);
        cr_expect(event_has(last_events, "egress.allowed", "egress_allowed", "python3"), "%s",
                  last_events ?: "");
        netlab_stop(lab);
}

/* Two connections from one local port to two destinations, as the kernel's connect() may
 * give them: after the redirect both would have the same reply tuple, so conntrack gives the
 * second another source port, and the relay sees that one. Its socket is found all the same
 * (conntrack has the port the client's socket has), and both are let through. Control: the
 * same probe without caisson. */
Test(egress, shared_local_port_still_identified) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = { { "same", "sameport " NETLAB_WEB " " NETLAB_BLOCKED " 80" } };

        require_egress(lab, wd);
        in_sandbox(lab, wd, A("--allow", NETLAB_WEB ":80", "--allow", NETLAB_BLOCKED ":80"), p,
                   N(p));
        expect_ok(&p[0]);
        cr_expect(!event_has(last_events, "egress.denied", "egress_identity_unknown", ""), "%s",
                  last_events ?: "");
        control_ok(lab, "sameport " NETLAB_WEB " " NETLAB_BLOCKED " 80");
        netlab_stop(lab);
}

/* Two allowed names on one (CDN) address: the client may name either, if it is allowed
 * for that name. allowed.lab.test is resolved first, so it comes first for the address;
 * curl then asks for cdn.lab.test, allowed to curl alone: let through, and the event
 * names the entry of cdn.lab.test. python, allowed only allowed.lab.test, is refused
 * cdn.lab.test, in a first request and in a kept-alive second one. */
Test(egress, two_allowed_names_share_an_address) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = {
                { "first", "http allowed.lab.test 80" },
                { "curlcdn", "curl http://cdn.lab.test/" },
                { "pycdn", "http cdn.lab.test 80" },
                { "pyboth", "keepalive allowed.lab.test 80 allowed.lab.test cdn.lab.test" },
        };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, fmt("%s%s", entry("web", "allowed.lab.test", 80, "/**"),
                                        entry("cdn", "cdn.lab.test", 80, "/usr/bin/curl"))),
                   p, N(p));
        expect_ok(&p[0]);
        expect_ok(&p[1]);
        expect_refused(&p[2]);
        expect_refused(&p[3]);
        cr_expect(event_has(last_events, "egress.allowed", "egress_allowed",
                            "\"hostname\":\"cdn.lab.test\",\"pid\""), "%s", last_events ?: "");
        cr_expect(event_has(last_events, "egress.allowed", "egress_allowed", "\"entry\":\"cdn\""),
                  "%s", last_events ?: "");
        cr_expect_eq(count_in(netlab_log(lab, "http"), "host=cdn.lab.test"), 1, "%s",
                     netlab_log(lab, "http"));
        netlab_stop(lab);
}

/* Plain HTTP keeps a connection for more requests: the second one on a connection allowed
 * for allowed.lab.test must not reach another site served at the same address. Controls:
 * two requests for the allowed name get through on one connection, and without caisson the
 * server answers the second name too. */
Test(egress, keep_alive_second_request_name_checked) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = {
                { "same", "keepalive allowed.lab.test 80 allowed.lab.test allowed.lab.test" },
                { "other", "keepalive allowed.lab.test 80 allowed.lab.test cdn.lab.test" },
        };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p));
        expect_ok(&p[0]);
        expect_refused(&p[1]);
        cr_expect(!netlab_log_has(lab, "http", "host=cdn.lab.test"), "%s", netlab_log(lab, "http"));
        cr_expect(event_has(last_events, "egress.denied", "sni_mismatch",
                            "request 2 on this connection names 'cdn.lab.test'"),
                  "%s", last_events ?: "");
        control_ok(lab, "keepalive " NETLAB_WEB " 80 allowed.lab.test cdn.lab.test");
        cr_expect(netlab_log_has(lab, "http", "host=cdn.lab.test"));
        netlab_stop(lab);
}

/* An Upgrade (WebSocket) request holds the client's bytes until the server answers: after
 * 101 the stream is the new protocol's and passes as it is (an HTTP-looking line in it is
 * data, echoed back); when the server does not switch, the connection stays HTTP and the
 * next request is name-checked. Control: without caisson the second request reaches the
 * server. */
Test(egress, upgrade_answer_decides_framing) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = {
                { "switched", "upgrade allowed.lab.test 80 /upgrade cdn.lab.test" },
                { "refused", "upgrade allowed.lab.test 80 / cdn.lab.test" },
        };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p));
        expect_ok(&p[0]);
        expect_detail(&p[0], "upgraded-echo-ok");
        expect_refused(&p[1]);
        cr_expect(!netlab_log_has(lab, "http", "host=cdn.lab.test"), "%s", netlab_log(lab, "http"));
        control_ok(lab, "upgrade " NETLAB_WEB " 80 / cdn.lab.test");
        cr_expect(netlab_log_has(lab, "http", "host=cdn.lab.test"));
        netlab_stop(lab);
}

/* HTTP/2 with prior knowledge (h2c, gRPC without TLS): the :authority of each request on
 * the connection must be the allowed name (one HPACK state for the whole connection), and
 * no header block reaches the server before it is checked. curl, whose nghttp2
 * Huffman-codes the name, gets through, and so does a client that waits for the server's
 * SETTINGS before its first request, as gRPC's do. Before, the relay refused all of h2c.
 * Controls: without caisson the server answers every name. */
Test(egress, h2c_every_authority_checked) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = {
                { "same", "h2 allowed.lab.test 8081 allowed.lab.test allowed.lab.test" },
                { "first", "h2 allowed.lab.test 8081 cdn.lab.test" },
                { "second", "h2 allowed.lab.test 8081 allowed.lab.test cdn.lab.test" },
                { "curl", "curl --http2-prior-knowledge http://allowed.lab.test:8081/" },
                { "curlcdn", "curl --http2-prior-knowledge --resolve cdn.lab.test:8081:" NETLAB_WEB
                             " http://cdn.lab.test:8081/" },
                { "grpc", "h2 allowed.lab.test 8081 wait allowed.lab.test allowed.lab.test" },
                { "grpccdn", "h2 allowed.lab.test 8081 wait cdn.lab.test" },
        };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("h2", "allowed.lab.test", 8081, "/**")), p, N(p));
        expect_ok(&p[0]);
        expect_detail(&p[0], "2-answered");
        expect_refused(&p[1]);
        expect_refused(&p[2]);
        expect_ok(&p[3]);
        expect_detail(&p[3], "h2-ok");
        expect_refused(&p[4]);
        expect_ok(&p[5]);
        expect_detail(&p[5], "2-answered");
        expect_refused(&p[6]);
        cr_expect(!netlab_log_has(lab, "h2", "cdn.lab.test"), "%s", netlab_log(lab, "h2"));
        cr_expect(event_has(last_events, "egress.denied", "sni_mismatch",
                            "HTTP/2 request 1 on this connection names 'cdn.lab.test'"),
                  "%s", last_events ?: "");
        cr_expect(event_has(last_events, "egress.denied", "sni_mismatch",
                            "HTTP/2 request 2 on this connection names 'cdn.lab.test'"),
                  "%s", last_events ?: "");
        control_ok(lab, "h2 " NETLAB_WEB " 8081 allowed.lab.test cdn.lab.test");
        cr_expect(netlab_log_has(lab, "h2", "cdn.lab.test"), "%s", netlab_log(lab, "h2"));
        netlab_stop(lab);
}

/* A client that stays silent past the relay's 5 s wait for its first bytes (as for a
 * server-speaks-first protocol) is connected, but its first bytes are still name-checked:
 * waiting must not turn "decided by name" into "decided on the address". */
Test(egress, silent_client_still_name_checked) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = {
                { "late", "late allowed.lab.test 80 allowed.lab.test 6" },
                { "latecdn", "late allowed.lab.test 80 cdn.lab.test 6" },
        };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p));
        expect_ok(&p[0]);
        cr_expect(!netlab_ok(p[1].line), "latecdn should be refused: %s\n%s", p[1].line,
                  last_events ?: "");
        cr_expect(!netlab_log_has(lab, "http", "host=cdn.lab.test"), "%s", netlab_log(lab, "http"));
        cr_expect(event_has(last_events, "egress.denied", "sni_mismatch", "cdn.lab.test"),
                  "%s", last_events ?: "");
        /* Control: without caisson the late request for cdn.lab.test is served. */
        control_ok(lab, "late " NETLAB_WEB " 80 cdn.lab.test 6");
        netlab_stop(lab);
}

/* Relayed connections cost the supervisor fds: with a 1024-fd limit (the usual soft one),
 * an agent holding many connections must be refused at once beyond what the limit leaves
 * room for, not exhaust the supervisor's fds (connections then hung in the backlog and
 * nothing else in the supervisor could open a file), and the relay works again after. */
Test(egress, connections_bounded_by_fd_limit) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct rlimit rl = { 1024, 1024 };
        /* "after": once the burst's relayed connections are closed (the relay learns of
         * each close through a chain of EOFs; slower under ASan), new ones go through
         * again. Tried for up to 5 s; never freed, all tries fail. */
        struct probe p[] = {
                { "many", "concurrent " NETLAB_WEB " 80 300 x" },
                { "after", "sh:for i in 1 2 3 4 5 6 7 8 9 10; do r=$($P http " NETLAB_WEB " 80); "
                           "case \"$r\" in ok*) break;; esac; sleep 0.5; done; echo \"$r\"" },
        };

        require_egress(lab, wd);
        /* caisson inherits it: soft and hard, so raising the soft one does not help. */
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        in_sandbox(lab, wd, A("--allow", NETLAB_WEB ":80", "--dns-upstream", NETLAB_DNS), p, N(p));
        cr_expect(!netlab_ok(p[0].line), "300 held connections under 1024 fds: %s", p[0].line);
        cr_expect_lt(netlab_secs(p[0].line), 10.0, "refused, not hung: %s", p[0].line);
        cr_expect(event_has(last_events, "egress.denied", "internal", "too many relayed connections"),
                  "%.2000s", last_events ?: "");
        expect_ok(&p[1]);
        netlab_stop(lab);
}

/* binaries: curl is allowed, python (urllib) to the same endpoint is not. Nothing else
 * (seccomp, Landlock) stops python here: the control runs it under a policy naming it. */
Test(egress, binaries_allow_curl_refuse_python) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = {
                { "curl", "curl http://allowed.lab.test/" },
                { "python", "urllib http://allowed.lab.test/" },
        };
        struct probe py[] = { { "python", "urllib http://allowed.lab.test/" } };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/usr/bin/curl")), p,
                   N(p));
        expect_ok(&p[0]);
        expect_refused(&p[1]);
        cr_expect(netlab_log_has(lab, "http", "ua=curl/"));
        cr_expect(!netlab_log_has(lab, "http", "ua=Python-urllib"), "%s", netlab_log(lab, "http"));
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/usr/bin/python3*")), py,
                   N(py));
        expect_ok(&py[0]);
        cr_expect(netlab_log_has(lab, "http", "ua=Python-urllib"));
        netlab_stop(lab);
}

/* Holds the supervisor (SIGSTOP: its relay cannot accept) while the sandbox's clients
 * connect, so that their connections wait in the relay's backlog and are accepted, and
 * identified, in one batch. The script says "ready" and "launched" through files in the
 * workdir; the supervisor is the caisson process in the lab host netns. */
struct hold {
        const char *wd;
        unsigned long netns;
        bool held;
        const char *events;     /* the run's events file: held until teardown (hold_relay) */
        bool joined;            /* ... which was held until the supervisor stopped it */
};

static bool wait_file(const char *dir, const char *name, int tenths) {
        char *p = fmt("%s/%s", dir, name);
        bool ok = false;

        for (int i = 0; i < tenths && !ok; i++) {
                ok = access(p, F_OK) == 0;
                if (!ok)
                        usleep(100000);
        }
        free(p);
        return ok;
}

static pid_t supervisor_in(unsigned long netns) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        pid_t found = 0;

        while (d && !found && (de = readdir(d))) {
                char path[64], cmd[256] = "";
                struct stat st;
                long pid = strtol(de->d_name, NULL, 10);
                FILE *f;

                if (pid <= 0)
                        continue;
                (void) snprintf(path, sizeof path, "/proc/%ld/ns/net", pid);
                if (stat(path, &st) < 0 || st.st_ino != netns)
                        continue;
                (void) snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
                f = fopen(path, "re");
                if (!f)
                        continue;
                size_t n = fread(cmd, 1, sizeof cmd - 1, f);
                fclose(f);
                /* argv[0] is the caisson binary, argv[1] "run". */
                if (n > 0 && strstr(cmd, "caisson") && strcmp(cmd + strlen(cmd) + 1, "run") == 0)
                        found = (pid_t) pid;
        }
        if (d)
                closedir(d);
        return found;
}

/* The supervisor (or its relay) is held: say so to the script, and wait for its word. */
static void held_until_launched(struct hold *h) {
        char *p = fmt("%s/stopped", h->wd);

        h->held = true;
        close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        free(p);
        (void) wait_file(h->wd, "launched", 100);
}

static void *hold_supervisor(void *userdata) {
        struct hold *h = userdata;
        pid_t sup;

        if (!wait_file(h->wd, "ready", 300) || (sup = supervisor_in(h->netns)) <= 0)
                return NULL;
        if (kill(sup, SIGSTOP) == 0) {
                held_until_launched(h);
                (void) kill(sup, SIGCONT);
        }
        return NULL;
}

/* Connections accepted together are identified in one walk of the sandbox's processes:
 * each still gets its own client's verdict. curl (allowed) and python (refused) connect to
 * the same endpoint while the relay is held, so the relay takes them in one batch; only
 * curl's requests reach the server. */
Test(egress, concurrent_clients_each_decided) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct hold h = { .wd = wd, .netns = netlab_ns_inode(lab, NETLAB_HOST) };
        char *script = fmt("sh: touch %s/ready; i=0; while [ ! -e %s/stopped ] && [ $i -lt 300 ]; "
                           "do sleep 0.1; i=$((i+1)); done; (for i in 1 2 3 4 5; do c "
                           "http://allowed.lab.test/ >/tmp/c.$i & done; $P concurrent "
                           "allowed.lab.test 80 20 allowed.lab.test >/tmp/py & for i in 6 7 8 9 "
                           "10; do c http://allowed.lab.test/ >/tmp/c.$i & done; sleep 1.5; "
                           "touch %s/launched; wait); echo curl-ok=$(cat /tmp/c.* | grep -c '^ok') "
                           "py=$(cut -d' ' -f1 /tmp/py)", wd, wd, wd);
        struct probe p[] = { { "mixed", script } };
        pthread_t t;

        require_egress(lab, wd);
        cr_assert_eq(pthread_create(&t, NULL, hold_supervisor, &h), 0);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/usr/bin/curl")), p,
                   N(p));
        pthread_join(t, NULL);
        cr_expect(h.held, "the supervisor was never held: the batch was not tested");
        cr_expect(strstr(p[0].line, "curl-ok=10 py=fail"), "want every curl through and python "
                  "refused: %s\ndecisions:\n%s", p[0].line, last_events ?: "");
        cr_expect_eq(count_in(netlab_log(lab, "http"), "host=allowed.lab.test"), 10, "%s",
                     netlab_log(lab, "http"));
        cr_expect_geq(count_in(last_events ?: "", "\"event\":\"egress.allowed\""), 10);
        cr_expect(event_has(last_events, "egress.denied", "egress_binary_mismatch", "python3"),
                  "%s", last_events ?: "");
        free(script);
        netlab_stop(lab);
}

/* Identity borrowing: curl (allowed) holds the very socket python connects and writes,
 * inherited across fork+exec, and curl was the last legitimate client. Every holder must
 * be allowed: python is not, so the connection is refused. Nothing else (seccomp, Landlock)
 * stops it: the control allows python too and the same probe gets through. */
Test(egress, shared_socket_every_holder_must_match) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = { { "borrow", "borrow allowed.lab.test 80" } };
        struct probe ctl[] = { { "borrow", "borrow allowed.lab.test 80" } };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/usr/bin/curl")), p,
                   N(p));
        cr_expect(!netlab_ok(p[0].line), "python on curl's socket should be refused: %s\n%s",
                  p[0].line, last_events ?: "");
        cr_expect(!netlab_log_has(lab, "http", "ua=netlab-borrow"), "%s", netlab_log(lab, "http"));
        cr_expect(event_has(last_events, "egress.denied", "egress_binary_mismatch", "python3"),
                  "%s", last_events ?: "");
        in_sandbox(lab, wd, POL(wd, "  web:\n    endpoints:\n      - host: allowed.lab.test\n"
                                    "        port: 80\n    binaries:\n"
                                    "      - path: /usr/bin/curl\n"
                                    "      - path: \"/usr/bin/python3*\"\n"), ctl, N(ctl));
        expect_ok(&ctl[0]);
        cr_expect(netlab_log_has(lab, "http", "ua=netlab-borrow"), "%s", netlab_log(lab, "http"));
        netlab_stop(lab);
}

/* The supervisor's relay thread (named caisson-egress), or 0. */
static pid_t egress_thread_of(pid_t sup) {
        char *dir = fmt("/proc/%d/task", (int) sup);
        DIR *d = opendir(dir);
        struct dirent *de;
        pid_t found = 0;

        while (d && !found && (de = readdir(d))) {
                char *path = fmt("%s/%s/comm", dir, de->d_name), comm[32] = "";
                FILE *f = fopen(path, "re");

                if (f) {
                        if (fgets(comm, sizeof comm, f) && strcmp(comm, "caisson-egress\n") == 0)
                                found = (pid_t) strtol(de->d_name, NULL, 10);
                        fclose(f);
                }
                free(path);
        }
        if (d)
                closedir(d);
        free(dir);
        return found;
}

/* Whether the supervisor's main thread waits in futex(2) - in pthread_join(), once the
 * agent has exited: the egress thread has been told to stop. */
static bool main_thread_joining(pid_t sup) {
        char *path = fmt("/proc/%d/task/%d/syscall", (int) sup, (int) sup), *s = h_read_file(path);
        bool yes = s && strncmp(s, "202 ", 4) == 0;     /* __NR_futex, x86-64 */

        free(s);
        free(path);
        return yes;
}

/* Holds the relay alone: its thread stopped with ptrace, so it accepts nothing, while the
 * supervisor's main thread goes on answering the sandbox's held connect() calls. With
 * h->events, the egress thread goes on only once the agent has exited and the supervisor
 * has told it to stop: what it reads then, it reads at teardown. */
static void *hold_relay(void *userdata) {
        struct hold *h = userdata;
        pid_t sup, tid;
        int st;

        if (!wait_file(h->wd, "ready", 300) || (sup = supervisor_in(h->netns)) <= 0 ||
            (tid = egress_thread_of(sup)) <= 0)
                return NULL;
        if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0)
                return NULL;
        if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) == 0 &&
            waitpid(tid, &st, __WALL) == tid && WIFSTOPPED(st)) {
                held_until_launched(h);
                for (int i = 0; h->events && i < 100 && !h->joined; i++) {
                        char *ev = h_read_file(h->events);

                        h->joined = ev && strstr(ev, "\"event\":\"agent.exited\"") &&
                                    main_thread_joining(sup);
                        free(ev);
                        if (!h->joined)
                                usleep(100000);
                }
        }
        (void) ptrace(PTRACE_DETACH, tid, NULL, NULL);
        return NULL;
}

/* The connect-then-exec race, made certain: with the relay held, python connects, sends
 * its GET and execs curl (allowed), which inherits the socket; only then does the relay
 * accept, and by then curl is the socket's only holder. Who called connect() was recorded
 * while that call was held: python, refused. Control: the same run with python allowed
 * too gets its GET through, so it is the connect() record that stops it. */
Test(egress, connect_then_exec_refused) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        char *script = fmt("sh: touch %s/ready; i=0; while [ ! -e %s/stopped ] && [ $i -lt 300 ]; "
                           "do sleep 0.1; i=$((i+1)); done; ($P handoff " NETLAB_WEB " 80 >/dev/null 2>&1 &); "
                           "i=0; while ! grep -qsx curl /proc/[0-9]*/comm && [ $i -lt 100 ]; do sleep 0.1; "
                           "i=$((i+1)); done; sleep 0.3; touch %s/launched; sleep 2; echo ok 0 ran",
                           wd, wd, wd);
        struct probe p[] = { { "handoff", script } };
        struct probe ctl[] = { { "handoff", script } };
        const char *go_on = fmt("%s/launched", wd), *stopped = fmt("%s/stopped", wd),
                   *ready = fmt("%s/ready", wd);
        struct hold h = { .wd = wd, .netns = netlab_ns_inode(lab, NETLAB_HOST) };
        pthread_t t;

        require_egress(lab, wd);
        cr_assert_eq(pthread_create(&t, NULL, hold_relay, &h), 0);
        in_sandbox(lab, wd, POL(wd, entry("web", NETLAB_WEB, 80, "/usr/bin/curl")), p, N(p));
        pthread_join(t, NULL);
        cr_assert(h.held, "the relay was never held: nothing was tested");
        cr_expect(!netlab_log_has(lab, "http", "ua=netlab-handoff"),
                  "python's GET got out under curl's name:\n%s\ndecisions:\n%s",
                  netlab_log(lab, "http"), last_events ?: "");
        cr_expect(event_has(last_events, "egress.denied", "egress_binary_mismatch",
                            "called connect()"), "%s", last_events ?: "");
        cr_expect(event_has(last_events, "egress.denied", "egress_binary_mismatch", "python3"),
                  "%s", last_events ?: "");

        unlink(go_on);
        unlink(stopped);
        unlink(ready);
        h.held = false;
        cr_assert_eq(pthread_create(&t, NULL, hold_relay, &h), 0);
        in_sandbox(lab, wd, POL(wd, "  web:\n    endpoints:\n      - host: " NETLAB_WEB "\n"
                                    "        port: 80\n    binaries:\n"
                                    "      - path: /usr/bin/curl\n"
                                    "      - path: \"/usr/bin/python3*\"\n"), ctl, N(ctl));
        pthread_join(t, NULL);
        cr_assert(h.held, "the relay was never held in the control");
        cr_expect(netlab_log_has(lab, "http", "ua=netlab-handoff"), "control: %s\n%s",
                  netlab_log(lab, "http"), last_events ?: "");
        free(script);
        netlab_stop(lab);
}

/* The line of events holding both needles, or NULL. */
static const char *event_line(const char *events, const char *a, const char *b) {
        for (const char *s = events; s && *s;) {
                const char *nl = strchr(s, '\n');
                size_t len = nl ? (size_t) (nl - s) : strlen(s);

                if (memmem(s, len, a, strlen(a)) && memmem(s, len, b, strlen(b)))
                        return s;
                s = nl ? nl + 1 : NULL;
        }
        return NULL;
}

#define BIGS 6

/* The first connection of each binary has its executable hashed for its events: here six
 * distinct 300 MiB binaries, a second or more together. Meanwhile the relay's thread goes
 * on: curl, started once their six connections are open, resolves a name through the
 * gateway and gets its answer through the relay long before the last of those hashes is
 * done (the time of its event). Their events wait for the hashes and have them. (Hashed on
 * the relay's thread, curl got nothing before every hash was done.) */
Test(egress, hashing_a_binary_stalls_nothing) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab), *big[BIGS], *want[BIGS];
        char *script = fmt("sh:for b in 0 1 2 3 4 5; do %s/bigpy$b %s/netlab.py probe hold "
                           NETLAB_WEB " 80 " NETLAB_WEB " 1 >/dev/null 2>&1 & done; i=0; "
                           /* established to 198.51.100.10:80 as dialled (/proc/net/tcp) */
                           "while [ $(grep -c ' 0A6433C6:0050 01 ' /proc/net/tcp) -lt %d ] && "
                           "[ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
                           "r=$(c http://allowed.lab.test/); "
                           "echo \"$r done=$(date -u +%%Y-%%m-%%dT%%H:%%M:%%S.%%NZ)\"; wait",
                           wd, wd, BIGS);
        struct probe p[] = { { "curl", script } };
        const char *done, *last = NULL, *t;

        require_egress(lab, wd);
        for (int i = 0; i < BIGS; i++) {
                const char *cp[] = { "/bin/cp", "/usr/bin/python3", NULL, NULL };
                const char *sum[] = { "/usr/bin/sha256sum", NULL, NULL };
                struct h_result r;

                big[i] = fmt("%s/bigpy%d", wd, i);
                cp[2] = sum[1] = big[i];
                h_run(cp, NULL, &r);
                cr_assert_eq(r.code, 0, "cp: %s", r.err);
                h_result_done(&r);
                /* Sparse: no disk, and each a file of its own to hash. */
                cr_assert_eq(truncate(big[i], (300LL << 20) + i), 0, "truncate: %s", strerror(errno));
                h_run(sum, &(struct h_opts) { .timeout_s = 60 }, &r);
                cr_assert_eq(r.code, 0);
                want[i] = fmt("\"binary\":\"%s\",\"assurance\":\"proc-exe+sha256\",\"sha256\":\"%.64s\"",
                              big[i], r.out);
                h_result_done(&r);
        }

        in_sandbox(lab, wd, POL(wd, fmt("%s%s", entry("web", "allowed.lab.test", 80, "/usr/bin/curl"),
                                        entry("big", NETLAB_WEB, 80, fmt("%s/bigpy*", wd)))),
                   p, N(p));
        expect_ok(&p[0]);
        done = strstr(p[0].line, " done=");
        cr_assert(done, "%s", p[0].line);
        done += 6;
        for (int i = 0; i < BIGS; i++) {
                const char *ev = event_line(last_events, "\"event\":\"egress.allowed\"", want[i]);

                cr_expect(ev, "bigpy%d's event, with its hash (%s):\n%s", i, want[i], last_events);
                if (ev && (!last || ev > last))
                        last = ev;
                free(want[i]);
                free(big[i]);
        }
        cr_assert(last && (t = strstr(last, "\"time\":\"")), "%s", last_events);
        t += 8;
        cr_expect(strncmp(done, t, 30) < 0, "curl was done at %.30s, after the last hash (%.30s): "
                  "it waited for them\n%s", done, t, last_events);
        cr_expect(netlab_log_has(lab, "http", "host=allowed.lab.test"), "%s", netlab_log(lab, "http"));
        free(script);
        netlab_stop(lab);
}

/* A TCP Fast Open client makes no connect(): its sendto(MSG_FASTOPEN) is what gets
 * recorded, so it is allowed like any other client of an allowed binary (a socket with no
 * record is refused). Unix sockets and a connect() on a pipe are not affected. */
Test(egress, fast_open_and_unix_connects) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = {
                { "tfo", "tfo " NETLAB_WEB " 80" },
                { "unix", "unix" },
        };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", NETLAB_WEB, 80, "/usr/bin/python3*")), p, N(p));
        expect_ok(&p[0]);
        expect_ok(&p[1]);
        cr_expect(netlab_log_has(lab, "http", "ua=netlab-tfo"), "%s\n%s", netlab_log(lab, "http"),
                  last_events ?: "");
        netlab_stop(lab);
}

/* short-ttl.lab.test has TTL 1 s; with --dns-grace 1s its address closes again for new
 * connections ~2 s after the answer, while a connection opened before stays up. */
Test(egress, ttl_expiry_closes_ip) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        char *held = h_path(wd, "held");
        char *hold = fmt("sh:$P hold " NETLAB_WEB " 80 short-ttl.lab.test 4 > %s & sleep 3.5; "
                         "echo ok 0 slept", held);
        char *waitheld = fmt("sh:i=0; while [ ! -s %s ] && [ $i -lt 50 ]; do sleep 0.1; "
                             "i=$((i+1)); done; cat %s", held, held);
        struct probe p[] = {
                { "first", "http short-ttl.lab.test 80" },
                { "sleep", hold },
                { "expired", "http " NETLAB_WEB " 80 short-ttl.lab.test" },
                { "held", waitheld },
                { "again", "http short-ttl.lab.test 80" },
        };
        const char *args[] = { "--policy",
                               policy(wd, entry("ttl", "short-ttl.lab.test", 80, "/**")),
                               "--dns-upstream", NETLAB_DNS, "--dns-grace", "1s", NULL };

        require_egress(lab, wd);
        in_sandbox(lab, wd, args, p, N(p));
        expect_ok(&p[0]);
        expect_refused(&p[2]);
        /* The gateway still remembers the expired answer, so the refusal says why. */
        cr_expect(event_has(last_events, "egress.denied", "egress_name_expired", NULL),
                  "%s", last_events);
        expect_ok(&p[3]);
        /* Control: resolving again opens it again. */
        expect_ok(&p[4]);
        netlab_stop(lab);
}

Test(egress, large_transfer_intact) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab), *out = h_path(wd, "big");
        char *get = fmt("curl -m 120 -o %s http://allowed.lab.test/bytes/67108864", out);
        struct probe p[] = { { "big", get } };
        const char *sum[] = { "/usr/bin/sha256sum", out, NULL };
        char *want;
        struct h_result r;
        struct stat st;

        require_egress(lab, wd);
        want = netlab_probe_host(lab, "http " NETLAB_WEB " 80 x /sha256/67108864");
        cr_assert(netlab_ok(want), "%s", want);
        /* curl's -m 5 is overridden by this -m 120 (the last one wins). */
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p));
        expect_ok(&p[0]);
        cr_assert_eq(stat(out, &st), 0, "no output file");
        cr_expect_eq(st.st_size, 64 << 20);
        h_run(sum, NULL, &r);
        cr_expect(strncmp(r.out, strrchr(want, ' ') + 1, 64) == 0, "sha256 %s, want %s", r.out,
                  want);
        netlab_stop(lab);
}

Test(egress, many_concurrent_connections) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = { { "many", "concurrent allowed.lab.test 80 200 allowed.lab.test" } };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p));
        expect_ok(&p[0]);
        cr_expect_geq(count_in(netlab_log(lab, "http"), "host=allowed.lab.test"), 200);
        expect_lab_host_empty(lab);
        netlab_stop(lab);
}

/* The client shuts down its write side; the server still answers on the other. */
Test(egress, half_close) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = { { "half", "halfclose allowed.lab.test 7000 allowed.lab.test" } };

        require_egress(lab, wd);
        in_sandbox(lab, wd,
                   POL(wd, "  web:\n    endpoints:\n      - host: allowed.lab.test\n"
                           "        ports: [80, 7000]\n    binaries:\n      - path: \"/**\"\n"),
                   p, N(p));
        expect_ok(&p[0]);
        cr_expect(netlab_log_has(lab, "tcp", "halfclose 203.0.113.2 "), "%s",
                  netlab_log(lab, "tcp"));
        netlab_stop(lab);
}

static bool event_has(const char *events, const char *event, const char *reason, const char *also) {
        char *want_ev = fmt("\"event\":\"%s\"", event), *want_re = fmt("\"reason\":\"%s\"", reason);
        bool found = false;

        for (const char *s = events; s && *s && !found;) {
                const char *nl = strchr(s, '\n');
                char *line = strndup(s, nl ? (size_t) (nl - s) : strlen(s));

                found = strstr(line, want_ev) && strstr(line, want_re) &&
                        (!also || strstr(line, also));
                free(line);
                s = nl ? nl + 1 : NULL;
        }
        free(want_ev);
        free(want_re);
        return found;
}

/* Every decision is an event with a stable reason code. */
Test(egress, events_name_each_decision) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab), *evpath = h_path(lab->dir, "events.jsonl"), *ev;
        struct probe p[] = {
                { "udp", "udp " NETLAB_WEB " 5000" },
                { "allowed", "curl http://allowed.lab.test/" },
                { "nomatch", "http " NETLAB_BLOCKED " 80" },
                { "binary", "urllib http://allowed.lab.test/" },
                { "dns", "dns blocked.lab.test" },
        };
        const char *args[] = { "--policy",
                               policy(wd, entry("web", "allowed.lab.test", 80, "/usr/bin/curl")),
                               "--dns-upstream", NETLAB_DNS, "--events", evpath, NULL };

        require_egress(lab, wd);
        in_sandbox(lab, wd, args, p, N(p));
        expect_refused(&p[0]);
        expect_ok(&p[1]);
        expect_refused(&p[2]);
        expect_refused(&p[3]);
        ev = h_read_file(evpath);
        cr_assert(ev, "no events file");
        cr_expect(event_has(ev, "egress.allowed", "egress_allowed", "allowed.lab.test"), "%s", ev);
        /* The allowed event says why (entry, endpoint, binary) and how the name check went. */
        cr_expect(event_has(ev, "egress.allowed", "egress_allowed",
                            "\"detail\":\"entry 'web' endpoint allowed.lab.test:80 allows "
                            "/usr/bin/curl; HTTP Host matches the allowed name\""), "%s", ev);
        cr_expect(event_has(ev, "egress.denied", "egress_no_match", NETLAB_BLOCKED), "%s", ev);
        cr_expect(event_has(ev, "egress.denied", "egress_binary_mismatch", "python3"), "%s", ev);
        cr_expect(event_has(ev, "dns.denied", "dns_denied", "blocked.lab.test"), "%s", ev);
        /* The fence's UDP reject, read back from its log group. */
        cr_expect(event_has(ev, "egress.denied", "egress_protocol", "udp") ||
                          event_has(ev, "egress.denied", "egress_no_match", "udp"),
                  "%s", ev);
        netlab_stop(lab);
}

/* A decision in the agent's last moment is still an event: the supervisor reads the
 * fence's log group to the end before it exits (the kernel batches NFLOG messages, up to
 * the group's flush timeout, so an exit right after the reject must not lose it). */
Test(egress, last_rejection_still_an_event) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct probe p[] = { { "udp", "udp " NETLAB_WEB " 5000" } };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p));
        expect_refused(&p[0]);
        cr_expect(event_has(last_events, "egress.denied", "egress_protocol", "udp"),
                  "the UDP reject just before exit is missing: %s", last_events);
        netlab_stop(lab);
}

/* utime + stime of pid, all its threads, in clock ticks; -1 if unreadable. */
static long cpu_ticks(pid_t pid) {
        char *path = fmt("/proc/%d/stat", (int) pid), *s = h_read_file(path), *p;
        unsigned long ut, st;
        long r = -1;

        /* After "(comm)": the state, fields 4 to 13, then utime and stime. */
        p = s ? strrchr(s, ')') : NULL;
        if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                        &st) == 2)
                r = (long) (ut + st);
        free(s);
        free(path);
        return r;
}

struct cpu_watch {
        const char *wd;
        unsigned long netns;
        long ticks;     /* the supervisor's, over one second after the mark; -1 if unknown */
};

static void *watch_cpu(void *userdata) {
        struct cpu_watch *w = userdata;
        pid_t sup;
        long a, b;

        w->ticks = -1;
        if (!wait_file(w->wd, "reset", 300) || (sup = supervisor_in(w->netns)) <= 0)
                return NULL;
        a = cpu_ticks(sup);
        sleep(1);
        b = cpu_ticks(sup);
        if (a >= 0 && b >= 0)
                w->ticks = b - a;
        return NULL;
}

/* A DNS-over-TCP client that resets its connection while its query is unanswered (the
 * lab's server never answers silent.lab.test) costs the supervisor no CPU. Its socket
 * reports EPOLLHUP whatever the interest, and the gateway kept it open for the answer:
 * woken for it again and again, at full CPU, until the query timed out (2 s). The probe
 * resets eight such connections 0.4 s apart; the supervisor's CPU time (all its threads)
 * over one second of that must stay far below the second a spinning thread takes. CPU
 * time, not latency. */
Test(egress, dns_tcp_reset_costs_no_cpu) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct cpu_watch w = { .wd = wd, .netns = netlab_ns_inode(lab, NETLAB_HOST) };
        struct probe p[] = { { "reset", fmt("dnsreset silent.lab.test 8 0.4 %s/reset", wd) } };
        long hz = sysconf(_SC_CLK_TCK);
        pthread_t t;

        require_egress(lab, wd);
        cr_assert_eq(pthread_create(&t, NULL, watch_cpu, &w), 0);
        in_sandbox(lab, wd, POL(wd, entry("web", "silent.lab.test", 80, "/**")), p, N(p));
        pthread_join(t, NULL);
        expect_ok(&p[0]);
        cr_expect(netlab_log_has(lab, "dns", "tcp 203.0.113.2 "),
                  "the queries were in flight upstream: %s", netlab_log(lab, "dns"));
        cr_assert_geq(w.ticks, 0, "the supervisor's CPU time was not measured");
        cr_expect_lt(w.ticks, hz * 3 / 10,
                     "the supervisor used %ld of %ld ticks in one second of resets", w.ticks, hz);
        netlab_stop(lab);
}

/* The upstream resolver is asked the gateway's own query, built from the question: RD and
 * no other header bit, the name in lower case, and the gateway's OPT (its size, the
 * client's DO, no options) only when the client sent one. The client's header bits (RD
 * clear: a look at what the resolver cached for others), its case and its EDNS options (a
 * cookie here: any bytes) used to reach it as sent. The client still gets its id and its
 * question back, byte for byte (the probe checks), and its RD bit. Control: without
 * caisson the server's log shows such a query as sent. */
Test(egress, dns_upstream_gets_the_gateways_own_query) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab), *dns;
        struct probe p[] = {
                { "odd", "dns AlLoWeD.lab.test flags=0x0030 edns=4000 do cookie" },
                { "oddtcp", "dns allowed.LAB.test tcp flags=0x0010 edns=4000 cookie" },
                { "plain", "dns allowed.lab.test" },
        };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p));
        for (size_t i = 0; i < N(p); i++) {
                expect_ok(&p[i]);
                expect_detail(&p[i], "rcode=NOERROR 198.51.100.10");
        }
        expect_detail(&p[0], " rd=0");
        expect_detail(&p[1], " rd=0");
        cr_expect(!strstr(p[2].line, "rd=0"), "%s", p[2].line);
        dns = netlab_log(lab, "dns");
        cr_expect_eq(count_in(dns, "udp 203.0.113.2 "), 2, "%s", dns);
        cr_expect_eq(count_in(dns, "tcp 203.0.113.2 "), 1, "%s", dns);
        cr_expect_eq(count_in(dns, " flags=0100 edns=1232,do=1,opts=0 type=A "
                                   "name=allowed.lab.test\n"), 1, "%s", dns);
        cr_expect_eq(count_in(dns, " flags=0100 edns=1232,do=0,opts=0 type=A "
                                   "name=allowed.lab.test\n"), 1, "%s", dns);
        cr_expect_eq(count_in(dns, " flags=0100 edns=- type=A name=allowed.lab.test\n"), 1, "%s",
                     dns);
        cr_expect(!strstr(dns, "AlLoWeD") && !strstr(dns, "LAB"), "the client's case: %s", dns);
        control_ok(lab, "dns AlLoWeD.lab.test server=" NETLAB_DNS " flags=0x0030 edns=4000 do cookie");
        cr_expect(strstr(netlab_log(lab, "dns"), " flags=0030 edns=4000,do=1,opts=12 type=A "
                                                 "name=AlLoWeD.lab.test\n"),
                  "%s", netlab_log(lab, "dns"));
        netlab_stop(lab);
}

/* The distinct values of "port=N" on the lab DNS log's lines from the lab host over UDP. */
static int distinct_udp_ports(const char *log, int *ret_lines) {
        int ports[64], n = 0, lines = 0;

        for (const char *s = log; s && (s = strstr(s, "udp 203.0.113.2 port=")); s++) {
                int port = atoi(s + strlen("udp 203.0.113.2 port="));
                bool seen = false;

                lines++;
                for (int i = 0; i < n; i++)
                        seen |= ports[i] == port;
                if (!seen && n < (int) N(ports))
                        ports[n++] = port;
        }
        *ret_lines = lines;
        return n;
}

/* Each query goes upstream from a socket of its own, on a port the kernel picks at random:
 * an off-path forger must guess the port as well as the 16-bit id. They all used to leave
 * from one port for the sandbox's whole life. Six queries one after the other: two
 * sockets in turn may draw the same port by chance, six in a row one port never. */
Test(egress, dns_each_query_from_a_port_of_its_own) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab), *dns;
        struct probe p[6];
        int lines, ports;

        for (size_t i = 0; i < N(p); i++)
                p[i] = (struct probe) { fmt("q%zu", i), "dns allowed.lab.test" };
        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p));
        for (size_t i = 0; i < N(p); i++)
                expect_detail(&p[i], "rcode=NOERROR 198.51.100.10");
        dns = netlab_log(lab, "dns");
        ports = distinct_udp_ports(dns, &lines);
        cr_expect_eq(lines, 6, "%s", dns);
        cr_expect_geq(ports, 5, "%d ports for %d queries:\n%s", ports, lines, dns);
        netlab_stop(lab);
}

/* Copies of one question in flight together are asked upstream once: eight at once for
 * slow.lab.test (the lab's server answers it after 0.5 s), in eight cases of the name, and
 * the server saw one query; each client got the answer with its own id and question (the
 * probe checks both). Each copy used to be a query of its own, and another chance for an
 * off-path forger to match an id. Control: the same burst asked directly reaches the
 * server eight times. */
Test(egress, dns_copies_in_flight_asked_once) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab), *dns;
        struct probe p[] = { { "burst", "dnsburst slow.lab.test 8" } };

        require_egress(lab, wd);
        in_sandbox(lab, wd, POL(wd, entry("web", "slow.lab.test", 80, "/**")), p, N(p));
        expect_ok(&p[0]);
        expect_detail(&p[0], "8-answered rcode=NOERROR:198.51.100.10");
        cr_expect(!strstr(p[0].line, ","), "one answer for all: %s", p[0].line);
        dns = netlab_log(lab, "dns");
        cr_expect_eq(count_in(dns, "name=slow.lab.test"), 1, "%s", dns);
        control_ok(lab, "dnsburst slow.lab.test 8 server=" NETLAB_DNS);
        cr_expect_eq(count_in(netlab_log(lab, "dns"), "name=slow.lab.test"), 9, "%s",
                     netlab_log(lab, "dns"));
        netlab_stop(lab);
}

/* Lines of events holding the event, the reason and also. */
static int count_events(const char *events, const char *event, const char *reason,
                        const char *also) {
        char *want_ev = fmt("\"event\":\"%s\"", event), *want_re = fmt("\"reason\":\"%s\"", reason);
        int n = 0;

        for (const char *s = events; s && *s;) {
                const char *nl = strchr(s, '\n');
                char *line = strndup(s, nl ? (size_t) (nl - s) : strlen(s));

                n += strstr(line, want_ev) && strstr(line, want_re) &&
                     (!also || strstr(line, also));
                free(line);
                s = nl ? nl + 1 : NULL;
        }
        free(want_ev);
        free(want_re);
        return n;
}

#define FLOOD 20000

/* The agent's rejected packets, sent at once by a script (python3), while the egress thread
 * is held: "sh:" probe text for sandbox_probes. */
static char *flood_script(const char *wd, int n) {
        return fmt("sh: touch %s/ready; i=0; while [ ! -e %s/stopped ] && [ $i -lt 300 ]; "
                   "do sleep 0.1; i=$((i+1)); done; /usr/bin/python3 -c '\n"
                   "import socket\n"
                   "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                   "for i in range(%d):\n"
                   "    try: s.sendto(b\"\", (\"" NETLAB_WEB "\", 5999))\n"
                   "    except OSError: pass\n'; touch %s/launched; echo ok 0 flooded",
                   wd, wd, n, wd);
}

/* The agent's last rejected packets, all still queued on the fence's log when the sandbox
 * ends (the egress thread held until the supervisor told it to stop), are each an event:
 * teardown reads the log to its end, not one batch of it. 5000 records fit the log
 * socket's buffer, so none is lost. */
Test(egress, last_rejections_all_read_at_exit) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab), *events = h_path(lab->dir, "events.jsonl");
        struct hold h = { .wd = wd, .netns = netlab_ns_inode(lab, NETLAB_HOST), .events = events };
        char *script = flood_script(wd, 5000);
        struct probe p[] = { { "flood", script } };
        const char *args[] = { "--policy",
                               policy(wd, entry("web", "allowed.lab.test", 80, "/**")),
                               "--dns-upstream", NETLAB_DNS, "--events", events, NULL };
        int each;
        pthread_t t;

        require_egress(lab, wd);
        cr_assert_eq(pthread_create(&t, NULL, hold_relay, &h), 0);
        in_sandbox(lab, wd, args, p, N(p));
        pthread_join(t, NULL);
        cr_assert(h.held && h.joined, "the egress thread was not held until teardown (held %d, "
                  "to the end %d): nothing was tested", h.held, h.joined);
        each = count_events(last_events, "egress.denied", "egress_protocol", "\"port\":5999");
        cr_expect_eq(each, 5000, "%d of 5000 rejected datagrams have their event", each);
        cr_expect(!event_has(last_events, "egress.denied", "egress_log_lost", NULL),
                  "records were lost: %s",
                  event_line(last_events ?: "", "egress_log_lost", "detail") ?: "");
        free(script);
        netlab_stop(lab);
}

/* The agent cannot make rejected packets vanish from the events: a burst of rejected UDP
 * datagrams while the egress thread is held (ptrace) overruns the fence's log socket,
 * whatever its size, and the kernel drops records. Each datagram is still accounted for:
 * its own egress.denied event, or the count of an egress_log_lost event (the reject rules'
 * counters against the records read), said on stderr too. */
Test(egress, lost_rejections_are_counted) {
        struct netlab *lab = netlab_start();
        char *wd = lab_workdir(lab);
        struct hold h = { .wd = wd, .netns = netlab_ns_inode(lab, NETLAB_HOST) };
        char *script = flood_script(wd, FLOOD);
        struct probe p[] = { { "flood", script } };
        struct h_result r;
        const char *line;
        long long lost = -1;
        int each;
        pthread_t t;

        require_egress(lab, wd);
        cr_assert_eq(pthread_create(&t, NULL, hold_relay, &h), 0);
        sandbox_probes(lab, wd, POL(wd, entry("web", "allowed.lab.test", 80, "/**")), p, N(p), &r);
        pthread_join(t, NULL);
        cr_assert(h.held, "the egress thread was never held: nothing was tested");
        cr_assert_eq(r.code, 0, "caisson run: exit %d\nstderr: %s", r.code, r.err);
        cr_expect(strstr(p[0].line, "ok"), "%s", p[0].line);
        each = count_events(last_events, "egress.denied", "egress_protocol", "\"port\":5999");
        line = event_line(last_events ?: "", "\"reason\":\"egress_log_lost\"", "\"count\":");
        if (line)
                lost = strtoll(strstr(line, "\"count\":") + strlen("\"count\":"), NULL, 10);
        cr_log_info("%d datagrams: %d events of their own, %lld counted as lost", FLOOD, each,
                    lost);
        cr_assert(line, "no egress_log_lost event with a count (%d of %d datagrams have an "
                  "event)", each, FLOOD);
        cr_expect_gt(lost, 0, "the log was not overrun: the loss was not tested");
        cr_expect_eq(each + lost, FLOOD, "%d events + %lld lost != %d datagrams", each, lost,
                     FLOOD);
        /* The first overrun is said when the egress thread meets it, before the count. */
        cr_expect(event_has(last_events, "egress.denied", "egress_log_lost",
                            "how many is reported when the sandbox ends"),
                  "no event at the first overrun");
        cr_expect(strstr(r.err, "have no egress.denied event"), "no warning on stderr: %s", r.err);
        h_result_done(&r);
        free(script);
        netlab_stop(lab);
}
