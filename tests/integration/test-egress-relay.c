/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The egress relay end to end, without the shared test internet: each test builds two
 * network namespaces of its own — "host", where caisson runs (its relay connects out from
 * there), and "server", with 198.51.100.1 (TEST-NET-2) serving a tiny HTTP server — joined
 * by a veth pair. Nothing touches the machine's own network: both namespaces belong to
 * processes this test forked, and vanish with them (the veth pair with its netns). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define BODY "hello-through-the-relay\n"

static pid_t host_pid, server_pid;

static void ns_done(void) {
        /* Only the processes this test started, by pid. */
        if (server_pid > 0) {
                (void) kill(server_pid, SIGKILL);
                (void) waitpid(server_pid, NULL, 0);
        }
        if (host_pid > 0) {
                (void) kill(host_pid, SIGKILL);
                (void) waitpid(host_pid, NULL, 0);
        }
        server_pid = host_pid = 0;
        h_cleanup();
}

static void serve(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        (void) inet_pton(AF_INET, "198.51.100.1", &a.sin_addr);
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof a) < 0 || listen(fd, 64) < 0)
                _exit(1);
        if (write(3, "L", 1) != 1)
                _exit(1);
        for (;;) {
                char req[4096], resp[256];
                size_t n = 0;
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

                if (c < 0)
                        continue;
                while (n < sizeof req - 1) {
                        ssize_t k = read(c, req + n, sizeof req - 1 - n);

                        if (k <= 0)
                                break;
                        n += (size_t) k;
                        req[n] = 0;
                        if (strstr(req, "\r\n\r\n"))
                                break;
                }
                (void) snprintf(resp, sizeof resp,
                                "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
                                strlen(BODY), BODY);
                if (write(c, resp, strlen(resp)) < 0) {
                        /* the client went away: next one */
                }
                close(c);
        }
}

/* Forks a process in a new netns; the server one serves HTTP once told to. */
static pid_t ns_fork(bool server, int *ret_go) {
        int ready[2], go[2];
        char b;
        pid_t pid;

        cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                /* Dies with the test process, even when it crashes. */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (unshare(CLONE_NEWNET) < 0 || write(ready[1], "R", 1) != 1)
                        _exit(1);
                if (read(go[0], &b, 1) != 1)
                        _exit(0);
                if (server) {
                        if (dup2(ready[1], 3) < 0)
                                _exit(1);
                        serve();
                }
                for (;;)
                        pause();
        }
        close(ready[1]);
        close(go[0]);
        cr_assert_eq(read(ready[0], &b, 1), 1, "child could not unshare its netns");
        *ret_go = go[1];
        /* For the server, "L" (listening) comes on the same pipe later: keep it as fd 100. */
        if (server)
                cr_assert_geq(dup2(ready[0], 100), 0);
        close(ready[0]);
        return pid;
}

static void in_ns(pid_t pid, const char *cmd) {
        char nsarg[64];
        struct h_result r;

        (void) snprintf(nsarg, sizeof nsarg, "--net=/proc/%d/ns/net", (int) pid);
        {
                const char *argv[] = { "/usr/bin/nsenter", nsarg, "/bin/sh", "-c", cmd, NULL };

                h_run(argv, NULL, &r);
        }
        cr_assert_eq(r.code, 0, "%s: %s", cmd, r.err);
        h_result_done(&r);
}

static void netlab_up(void) {
        int go_host, go_server;
        char cmd[256], b;

        h_require_root();
        host_pid = ns_fork(false, &go_host);
        server_pid = ns_fork(true, &go_server);
        (void) snprintf(cmd, sizeof cmd,
                        "ip link add egv0 type veth peer name egv1 netns %d && "
                        "ip addr add 198.51.100.2/24 dev egv0 && ip link set egv0 up && "
                        "ip link set lo up", (int) server_pid);
        in_ns(host_pid, cmd);
        in_ns(server_pid, "ip addr add 198.51.100.1/24 dev egv1 && ip link set egv1 up && "
                          "ip link set lo up");
        cr_assert_eq(write(go_server, "G", 1), 1);
        cr_assert_eq(read(100, &b, 1), 1, "the test server did not start");
        close(100);
        close(go_server);
        close(go_host);
}

TestSuite(egress_relay, .init = netlab_up, .fini = ns_done, .timeout = 60);

static const char *policy_yaml =
        "version: 1\n"
        "network_policies:\n"
        "  web:\n"
        "    endpoints:\n"
        "      - host: 198.51.100.1\n"
        "        port: 80\n"
        "    binaries:\n"
        "      - path: /usr/bin/curl\n";

/* caisson run in the "host" netns; stdout of cmd in ret; the events file's text in *events. */
static void run_in_host(const char *const *cmd, struct h_result *ret, char **events) {
        char *wd = h_workdir(NULL), nsarg[64];
        char *pol = h_policy(wd, "p.yaml", policy_yaml), *ev = h_path(wd, "events.jsonl");
        const char *argv[32];
        size_t n = 0;

        (void) snprintf(nsarg, sizeof nsarg, "--net=/proc/%d/ns/net", (int) host_pid);
        argv[n++] = "/usr/bin/nsenter";
        argv[n++] = nsarg;
        argv[n++] = h_caisson();
        argv[n++] = "run";
        argv[n++] = "-T";
        argv[n++] = "--policy";
        argv[n++] = pol;
        argv[n++] = "--events";
        argv[n++] = ev;
        argv[n++] = "--workdir";
        argv[n++] = wd;
        argv[n++] = "--";
        for (size_t i = 0; cmd[i] && n < 31; i++)
                argv[n++] = cmd[i];
        argv[n] = NULL;
        h_run(argv, &(struct h_opts) { .timeout_s = 30 }, ret);
        *events = h_read_file(ev);
        if (!*events)
                *events = strdup("");
}

Test(egress_relay, allowed_endpoint_reaches_server) {
        const char *cmd[] = { "/usr/bin/curl", "-sS", "-m", "5", "http://198.51.100.1/", NULL };
        struct h_result r;
        char *ev;

        run_in_host(cmd, &r, &ev);
        cr_assert_eq(r.code, 0, "curl through the relay: %d\nstderr: %s\nevents: %s", r.code,
                     r.err, ev);
        cr_assert_str_eq(r.out, BODY);
        cr_assert(strstr(ev, "\"event\":\"egress.allowed\""), "events: %s", ev);
        cr_assert(strstr(ev, "\"binary\":\"/usr/bin/curl\""), "events: %s", ev);
        cr_assert(strstr(ev, "\"entry\":\"web\""), "events: %s", ev);
        /* The binary is also known by content: the hash of the executable that connected. */
        {
                char want[128] = "\"sha256\":\"", line[128] = "";
                FILE *f = popen("sha256sum /usr/bin/curl", "re");

                cr_assert(f && fgets(line, sizeof line, f));
                pclose(f);
                line[64] = 0;
                strcat(want, line);
                cr_assert(strstr(ev, "\"assurance\":\"proc-exe+sha256\""), "events: %s", ev);
                cr_assert(strstr(ev, want), "want %s in events: %s", want, ev);
        }
        h_result_done(&r);
}

Test(egress_relay, denied_port_fails_at_once) {
        /* Positive control first: the same endpoint on the allowed port answers. */
        const char *cmd[] = { "/bin/sh", "-c",
                              "/usr/bin/curl -sS -m 5 -o /dev/null http://198.51.100.1/ && "
                              "s=$(date +%s%N); /usr/bin/curl -sS -m 10 http://198.51.100.1:81/; "
                              "c=$?; e=$(date +%s%N); echo \"code=$c ms=$(( (e - s) / 1000000 ))\"",
                              NULL };
        struct h_result r;
        char *ev, *line;
        int code = -1, ms = -1;

        run_in_host(cmd, &r, &ev);
        line = strstr(r.out, "code=");
        cr_assert(line, "stdout: %s\nstderr: %s", r.out, r.err);
        cr_assert_eq(sscanf(line, "code=%d ms=%d", &code, &ms), 2);
        /* The relay accepted the handshake and resets it at once: "couldn't connect" (7) or
         * "recv failure: reset" (56) — never the 10 s timeout (28). */
        cr_assert(code == 7 || code == 56, "curl exit %d", code);
        cr_assert_lt(ms, 1000, "refusal took %d ms", ms);
        cr_assert(strstr(ev, "\"event\":\"egress.denied\"") &&
                  strstr(ev, "\"reason\":\"egress_no_match\"") && strstr(ev, "\"port\":81"),
                  "events: %s", ev);
        h_result_done(&r);
}

Test(egress_relay, other_binary_is_refused) {
        /* python3 to the endpoint curl may use: refused, and the event names python. */
        const char *cmd[] = { "/usr/bin/python3", "-c",
                              "import socket\n"
                              "try:\n"
                              "    s = socket.create_connection(('198.51.100.1', 80), timeout=5)\n"
                              "    s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
                              "    print('got', len(s.recv(100)))\n"
                              "except OSError as e:\n"
                              "    print('refused', e.errno)\n",
                              NULL };
        struct h_result r;
        char *ev;

        run_in_host(cmd, &r, &ev);
        cr_assert(strstr(r.out, "refused") || strstr(r.out, "got 0"), "stdout: %s\nstderr: %s",
                  r.out, r.err);
        cr_assert(strstr(ev, "\"reason\":\"egress_binary_mismatch\""), "events: %s", ev);
        cr_assert(strstr(ev, "\"binary\":\"/usr/bin/python3"), "events: %s", ev);
        h_result_done(&r);
}

Test(egress_relay, refused_name_gets_refused_and_an_event) {
        const char *cmd[] = { "/usr/bin/getent", "hosts", "exfil.blocked.example", NULL };
        struct h_result r;
        char *ev;

        run_in_host(cmd, &r, &ev);
        cr_assert_neq(r.code, 0, "a refused name resolved: %s", r.out);
        cr_assert(strstr(ev, "\"event\":\"dns.denied\"") &&
                  strstr(ev, "\"hostname\":\"exfil.blocked.example\""), "events: %s", ev);
        h_result_done(&r);
}
