/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caisson run: create, start, supervise, tear down (DESIGN §6).
 *
 *   policy → intent → ensure_boundary → bind → boundary_ready → start_agent → wait →
 *   teardown
 *
 * Exit codes: the agent's; 128+N when it died of signal N; 124 when --timeout ran out;
 * 125 when caisson itself failed and the agent never started; 126/127 not executable /
 * not found. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "egress/egress.h"
#include "error.h"
#include "log.h"
#include "macro.h"
#include "persist-names.h"
#include "policy/policy-compile.h"
#include "policy/policy-egress.h"
#include "policy/policy.h"
#include "supervisor.h"
#include "util.h"

#define MAX_CLI 256

struct run_args {
        const char *policy;
        const char *name;
        const char *workdir;
        const char *events;
        char *ro[MAX_CLI];
        size_t n_ro;
        char *rw[MAX_CLI];
        size_t n_rw;
        const char *env[MAX_CLI];
        size_t n_env;
        const char *env_file;
        const char *allow[MAX_CLI];
        size_t n_allow;
        bool widen_l7;
        const char *dns_upstream;
        unsigned long long dns_grace_ns;
        int tty; /* -1 auto, 0 -T, 1 -t */
        unsigned long long timeout_ns;
        char **argv;
};

static void run_args_done(struct run_args *a) {
        for (size_t i = 0; i < a->n_ro; i++)
                free(a->ro[i]);
        for (size_t i = 0; i < a->n_rw; i++)
                free(a->rw[i]);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void usage_error(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "caisson: run: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see 'caisson run --help')\n");
}

static void run_help(void) {
        printf("Usage: caisson run [OPTIONS] -- COMMAND [ARG...]\n\n"
               "Runs COMMAND in a new sandbox and exits with its status.\n\n"
               "  --policy FILE      policy (OpenShell version 1 YAML); default: the built-in one\n"
               "  --ro PATH          add PATH read-only (repeatable)\n"
               "  --rw PATH          add PATH read-write (repeatable)\n"
               "  --workdir DIR      the agent's working directory (default: the current one)\n"
               "  --env K[=V]        pass K (the caller's value unless =V is given) (repeatable)\n"
               "  --env-file FILE    pass the K=V lines of FILE\n"
               "  -t, --tty          give the agent a pty (default when stdin is a terminal)\n"
               "  -T, --no-tty       plain pipes, even on a terminal\n"
               "  --timeout DUR      kill the sandbox after DUR (90s, 5m, 1h); exit 124\n"
               "  --allow HOST:PORT  also allow this endpoint, for any binary (repeatable)\n"
               "  --widen-l7         run entries whose L7 rules caisson cannot enforce, at L4\n"
               "  --dns-upstream A   resolver the DNS gateway asks (ADDR[:PORT]); default: the\n"
               "                     host's first nameserver\n"
               "  --dns-grace DUR    keep resolved addresses open DUR past their TTL (5m)\n"
               "  --name NAME        a second handle for the sandbox\n"
               "  --events FILE      append one JSON event record per line to FILE\n"
               "  --backend NAME     isolation backend (only 'native' for now)\n"
               "  --log-level LEVEL  error, warning, info, debug\n\n"
               "Exit status: COMMAND's; 128+N if it died of signal N; 124 timeout;\n"
               "125 caisson failed (COMMAND never started); 126 not executable; 127 not found.\n");
}

static int abs_path_arg(const char *opt, const char *arg, char **ret) {
        char buf[PATH_MAX];

        if (!realpath(arg, buf)) {
                if (errno != ENOENT || arg[0] != '/' || !path_is_normalized_absolute(arg)) {
                        fprintf(stderr, "caisson: run: %s '%s': %s\n", opt, arg, strerror(errno));
                        return -EINVAL;
                }
                (void) snprintf(buf, sizeof buf, "%s", arg); /* missing: warned later */
        }
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

static int parse_args(int argc, char **argv, struct run_args *a) {
        enum { OPT_POLICY = 256, OPT_RO, OPT_RW, OPT_WORKDIR, OPT_ENV, OPT_ENV_FILE, OPT_TIMEOUT,
               OPT_NAME, OPT_EVENTS, OPT_BACKEND, OPT_LOG_LEVEL, OPT_ALLOW, OPT_WIDEN_L7,
               OPT_DNS_UPSTREAM, OPT_DNS_GRACE, OPT_UNSUPPORTED };
        static const struct option opts[] = {
                { "policy", required_argument, NULL, OPT_POLICY },
                { "ro", required_argument, NULL, OPT_RO },
                { "rw", required_argument, NULL, OPT_RW },
                { "workdir", required_argument, NULL, OPT_WORKDIR },
                { "env", required_argument, NULL, OPT_ENV },
                { "env-file", required_argument, NULL, OPT_ENV_FILE },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "name", required_argument, NULL, OPT_NAME },
                { "events", required_argument, NULL, OPT_EVENTS },
                { "backend", required_argument, NULL, OPT_BACKEND },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                { "tty", no_argument, NULL, 't' },
                { "no-tty", no_argument, NULL, 'T' },
                { "help", no_argument, NULL, 'h' },
                { "allow", required_argument, NULL, OPT_ALLOW },
                { "widen-l7", no_argument, NULL, OPT_WIDEN_L7 },
                { "dns-upstream", required_argument, NULL, OPT_DNS_UPSTREAM },
                { "dns-grace", required_argument, NULL, OPT_DNS_GRACE },
                /* Not built yet: refused, never ignored. */
                { "control-plane", required_argument, NULL, OPT_UNSUPPORTED },
                { "detach", no_argument, NULL, OPT_UNSUPPORTED },
                {}
        };
        int c, longindex = -1;

        a->tty = -1;
        a->dns_grace_ns = 5ULL * 60 * 1000000000ULL;
        optind = 1;
        while ((c = getopt_long(argc, argv, "+tTh", opts, &longindex)) >= 0) {
                switch (c) {
                case OPT_POLICY: a->policy = optarg; break;
                case OPT_RO:
                case OPT_RW:
                        if ((c == OPT_RO ? a->n_ro : a->n_rw) >= MAX_CLI) {
                                usage_error("too many %s options", c == OPT_RO ? "--ro" : "--rw");
                                return -EINVAL;
                        }
                        if (abs_path_arg(c == OPT_RO ? "--ro" : "--rw", optarg,
                                         c == OPT_RO ? &a->ro[a->n_ro] : &a->rw[a->n_rw]) < 0)
                                return -EINVAL;
                        if (c == OPT_RO)
                                a->n_ro++;
                        else
                                a->n_rw++;
                        break;
                case OPT_WORKDIR: a->workdir = optarg; break;
                case OPT_ENV:
                        if (a->n_env >= MAX_CLI) {
                                usage_error("too many %s options", "--env");
                                return -EINVAL;
                        }
                        a->env[a->n_env++] = optarg;
                        break;
                case OPT_ENV_FILE: a->env_file = optarg; break;
                case OPT_TIMEOUT:
                        if (parse_duration(optarg, &a->timeout_ns) < 0 || a->timeout_ns == 0) {
                                usage_error("--timeout '%s': not a duration (90s, 5m, 1h)", optarg);
                                return -EINVAL;
                        }
                        break;
                case OPT_NAME: a->name = optarg; break;
                case OPT_ALLOW:
                        if (a->n_allow >= MAX_CLI) {
                                usage_error("too many %s options", "--allow");
                                return -EINVAL;
                        }
                        a->allow[a->n_allow++] = optarg;
                        break;
                case OPT_WIDEN_L7: a->widen_l7 = true; break;
                case OPT_DNS_UPSTREAM: {
                        struct sockaddr_storage ss;
                        socklen_t sl;

                        if (egress_parse_upstream(optarg, &ss, &sl) < 0) {
                                usage_error("--dns-upstream '%s': not ADDR, ADDR:PORT or [ADDR6]:PORT",
                                            optarg);
                                return -EINVAL;
                        }
                        a->dns_upstream = optarg;
                        break;
                }
                case OPT_DNS_GRACE:
                        if (parse_duration(optarg, &a->dns_grace_ns) < 0) {
                                usage_error("--dns-grace '%s': not a duration (0s, 90s, 5m)", optarg);
                                return -EINVAL;
                        }
                        break;
                case OPT_EVENTS: a->events = optarg; break;
                case OPT_BACKEND:
                        if (!streq(optarg, "native")) {
                                usage_error("--backend '%s': only 'native' is available", optarg);
                                return -EINVAL;
                        }
                        break;
                case OPT_LOG_LEVEL:
                        if (log_set_level_from_string(optarg) < 0) {
                                usage_error("--log-level '%s': error, warning, info or debug", optarg);
                                return -EINVAL;
                        }
                        break;
                case 't': a->tty = 1; break;
                case 'T': a->tty = 0; break;
                case 'h': run_help(); return 1;
                case OPT_UNSUPPORTED:
                        usage_error("--%s: not available in this version", opts[longindex].name);
                        return -EINVAL;
                default:
                        return -EINVAL;
                }
        }
        if (optind >= argc) {
                usage_error("%s", "no command given");
                return -EINVAL;
        }
        a->argv = argv + optind;
        return 0;
}

/* The agent's environment: a clean one, never the caller's (DESIGN §6). */
struct envv {
        char **v;
        size_t n;
};

static int env_set(struct envv *e, const char *key, size_t klen, const char *value) {
        char *s;

        if (asprintf(&s, "%.*s=%s", (int) klen, key, value) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < e->n; i++)
                if (strncmp(e->v[i], key, klen) == 0 && e->v[i][klen] == '=') {
                        free(e->v[i]);
                        e->v[i] = s;
                        return 0;
                }
        {
                char **nv = realloc(e->v, (e->n + 2) * sizeof *nv);

                if (!nv) {
                        free(s);
                        return -ENOMEM;
                }
                e->v = nv;
                e->v[e->n++] = s;
                e->v[e->n] = NULL;
        }
        return 0;
}

static void env_done(struct envv *e) {
        for (size_t i = 0; i < e->n; i++)
                free(e->v[i]);
        free(e->v);
}

/* The policy's rule for variable names, for a name that is not NUL-terminated. */
static bool env_name_valid(const char *k, size_t n) {
        char name[256];

        if (n == 0 || n >= sizeof name)
                return false;
        memcpy(name, k, n);
        name[n] = 0;
        return policy_env_name_valid(name);
}

static int env_build(const struct run_args *a, const struct policy *p, const struct run_user *u,
                     struct envv *e) {
        extern char **environ;
        const char *path = getenv("PATH");

        if (env_set(e, "PATH", 4, path ?: "/usr/local/bin:/usr/bin:/bin") < 0 ||
            env_set(e, "HOME", 4, u->home) < 0 || env_set(e, "USER", 4, u->name) < 0 ||
            env_set(e, "LOGNAME", 7, u->name) < 0)
                return -ENOMEM;
        for (char **v = environ; *v; v++) {
                const char *eq = strchr(*v, '=');

                if (!eq)
                        continue;
                if (strncmp(*v, "TERM=", 5) == 0 || strncmp(*v, "LANG=", 5) == 0 ||
                    strncmp(*v, "LC_", 3) == 0 || strncmp(*v, "TZ=", 3) == 0 ||
                    strncmp(*v, "COLORTERM=", 10) == 0)
                        if (env_set(e, *v, (size_t) (eq - *v), eq + 1) < 0)
                                return -ENOMEM;
        }
        for (size_t i = 0; i < p->n_env; i++) {
                const char *eq = strchr(p->env[i], '=');

                if (eq && env_set(e, p->env[i], (size_t) (eq - p->env[i]), eq + 1) < 0)
                        return -ENOMEM;
        }
        if (a->env_file) {
                _cleanup_free_ char *buf = NULL;
                unsigned line = 0;
                int r = read_full_file(a->env_file, 1 << 20, &buf, NULL);

                if (r < 0) {
                        log_error("--env-file '%s': %s", a->env_file, strerror(-r));
                        return -EINVAL;
                }
                for (char *s = buf, *nl; s && *s; s = nl) {
                        char *eq;

                        line++;
                        nl = strchr(s, '\n');
                        if (nl)
                                *nl++ = 0;
                        while (*s == ' ' || *s == '\t')
                                s++;
                        if (!*s || *s == '#')
                                continue;
                        if (strncmp(s, "export ", 7) == 0)
                                s += 7;
                        eq = strchr(s, '=');
                        if (!eq || !env_name_valid(s, (size_t) (eq - s))) {
                                log_error("--env-file '%s':%u: not KEY=VALUE", a->env_file, line);
                                return -EINVAL;
                        }
                        {
                                char *v = eq + 1;
                                size_t vl = strlen(v);

                                if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
                                        v[vl - 1] = 0;
                                        v++;
                                }
                                if (env_set(e, s, (size_t) (eq - s), v) < 0)
                                        return -ENOMEM;
                        }
                }
        }
        for (size_t i = 0; i < a->n_env; i++) {
                const char *k = a->env[i], *eq = strchr(k, '=');
                size_t kl = eq ? (size_t) (eq - k) : strlen(k);

                if (!env_name_valid(k, kl)) {
                        log_error("--env '%s': not a variable name", k);
                        return -EINVAL;
                }
                if (eq) {
                        if (env_set(e, k, kl, eq + 1) < 0)
                                return -ENOMEM;
                } else {
                        /* By name only: the value never shows on a command line. */
                        const char *v = getenv(k);

                        if (!v)
                                log_warning("--env %s: not set in the caller's environment", k);
                        else if (env_set(e, k, kl, v) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

/* A relay between two fds the supervisor holds (caller's terminal ↔ pty or pipes). */
struct relay {
        int src, dst;
        bool input;     /* src is the caller's stdin */
        bool close_dst; /* dst is ours: close it at src EOF (the agent's stdin pipe) */
        int own_dst;    /* dst opened again by us (to_terminal()), closed at the end, or -1 */
        bool done;
        size_t len, off;
        char buf[16384];
};

static void relay_pump(struct relay *r, short revents_src, short revents_dst) {
        if (r->done)
                return;
        if (r->len == 0 && (revents_src & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t n = read(r->src, r->buf, sizeof r->buf);

                if (n > 0) {
                        r->len = (size_t) n;
                        r->off = 0;
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                        r->done = true; /* EOF, or EIO from a pty whose last holder closed */
                        if (r->close_dst)
                                r->dst = safe_close(r->dst);
                        return;
                }
        }
        if (r->len > 0 && (revents_dst & POLLOUT || revents_src)) {
                ssize_t n = write(r->dst, r->buf + r->off, r->len);

                if (n > 0) {
                        r->off += (size_t) n;
                        r->len -= (size_t) n;
                } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                        r->done = true;
                        r->len = 0;
                }
        }
}

/* A relay to the caller's terminal (fd 1 or 2) writes through a file description of its
 * own, non-blocking (fd_reopen_nonblocking()): a terminal that takes no more output (^S, a
 * stalled link) then holds the agent's writes, never the supervisor's loop, which also
 * answers the sandbox's held syscalls (each connect() with a network policy), signals and
 * --timeout. A regular file (stdout redirected, stdin still a terminal) is written as it
 * is: such writes never wait. */
static struct relay to_terminal(int src, int fd) {
        int own = fd_reopen_nonblocking(fd);

        if (own < 0 && isatty(fd))
                log_warning("terminal: fd %d cannot be opened again: a stopped terminal will "
                            "stall the supervisor", fd);
        return (struct relay) { .src = src, .dst = own >= 0 ? own : fd, .own_dst = own };
}

struct exit_wait {
        int sfd;        /* the signalfd, or -1 */
        bool quit;      /* a quitting signal was read: every wait gives up */
};

/* At exit, the sandbox gone: waits until fd takes output, or until a quitting signal
 * (^C, SIGTERM, SIGHUP, SIGQUIT) is read from the signalfd, as a program blocked writing
 * to a stopped terminal would die of it. false then, and for every wait after. */
static bool exit_wait_writable(int fd, void *userdata) {
        struct exit_wait *w = userdata;

        if (fd < 0)
                return true;    /* the write says what is wrong */
        while (!w->quit) {
                struct pollfd p[2] = { { .fd = fd, .events = POLLOUT },
                                       { .fd = w->sfd, .events = POLLIN } };
                struct signalfd_siginfo si;

                if (poll(p, w->sfd >= 0 ? 2 : 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return true;    /* the write says what is wrong */
                }
                while (w->sfd >= 0 && (p[1].revents & POLLIN) &&
                       read(w->sfd, &si, sizeof si) == sizeof si)
                        w->quit |= si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM ||
                                   si.ssi_signo == SIGHUP || si.ssi_signo == SIGQUIT;
                if (!w->quit && p[0].revents)
                        return true;
        }
        return false;
}

/* After the tree is gone: whatever is still buffered in our pipes or the pty, written out
 * in full, as a plain write to the terminal would be; a relay through our own non-blocking
 * description waits in exit_wait_writable(), which a quitting signal ends. The caller's
 * input (src 0) is not drained: the sandbox is gone, and its typeahead is the shell's. */
static void relay_drain(struct relay *r, struct exit_wait *w) {
        int fl;

        if (r->done || r->close_dst || r->input)
                return;
        fl = fcntl(r->src, F_GETFL);
        (void) fcntl(r->src, F_SETFL, fl | O_NONBLOCK);
        for (int i = 0; i < 4096 && !r->done; i++) {
                relay_pump(r, POLLIN, POLLOUT);
                if (r->len > 0 && r->own_dst >= 0 && !exit_wait_writable(r->dst, w))
                        break;
                if (r->len == 0 && !r->done) {
                        struct pollfd p = { .fd = r->src, .events = POLLIN };

                        if (poll(&p, 1, 0) <= 0)
                                break;
                }
        }
        (void) fcntl(r->src, F_SETFL, fl);
}

static void report_created(const char *path, void *userdata) {
        struct events *ev = userdata;
        json_object *d = json_object_new_object();

        log_warning("persistence: the agent created '%s', which the host may run later: "
                    "review it before you use this directory", path);
        json_object_object_add(d, "path", json_object_new_string(path));
        events_emit(ev, EVENT_PERSISTENCE_CREATED, CAISSON_REASON_PERSISTENCE_CREATED, d);
}

static void report_state_dir(const char *path, void *userdata) {
        const struct run_user *u = userdata;

        fprintf(stderr, "caisson: made the state directory '%s' (owner %s, mode 0700)\n", path,
                u->name);
}

/* state_directories: made before anything is built, so the binds find them. */
static int make_state_dirs(const struct policy *p, const struct run_user *u) {
        _cleanup_free_ char **paths = NULL;
        struct caisson_error err = { 0 };

        if (p->n_state_dirs == 0)
                return 0;
        paths = calloc(p->n_state_dirs, sizeof *paths);
        if (!paths) {
                log_error("out of memory");
                return -ENOMEM;
        }
        for (size_t i = 0; i < p->n_state_dirs; i++)
                paths[i] = p->state_dirs[i].path;
        egress_preload_wait(); /* it forks: no thread may hold the loader's locks */
        if (user_make_dirs(u, paths, p->n_state_dirs, report_state_dir, (void *) u, &err) < 0) {
                struct stat st;
                bool in_home = false;

                print_error(&err);
                for (size_t i = 0; i < p->n_state_dirs; i++)
                        in_home |= policy_path_within(paths[i], u->home);
                if (in_home && (streq(u->home, "/") || stat(u->home, &st) < 0))
                        fprintf(stderr, "caisson: the run user %s has no home here: run caisson "
                                        "through sudo as yourself, or set process.run_as_user\n",
                                u->name);
                return -1;
        }
        return 0;
}

static int warn_missing_paths(const struct caisson_intent *in, bool from_default) {
        for (size_t i = 0; i < in->n_paths; i++) {
                struct stat st;

                if (rootfs_is_virtual(in->paths[i].path) || lstat(in->paths[i].path, &st) == 0)
                        continue;
                if (from_default && !(in->paths[i].flags & (CAISSON_PATH_CLI | CAISSON_PATH_WORKDIR)))
                        log_debug("policy: '%s' does not exist here; skipped", in->paths[i].path);
                else
                        log_warning("policy: '%s' does not exist on this host; it grants nothing "
                                    "(create it first if the agent needs it)",
                                    in->paths[i].path);
        }
        return 0;
}

void print_error(const struct caisson_error *err) {
        char buf[512];

        fprintf(stderr, "caisson: %s\n", cs_error_format(err, buf, sizeof buf));
}

int policy_load_file(const char *path, struct policy **ret, struct caisson_error *err) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        if (!path)
                return policy_load_default(ret, err);
        r = read_full_file(path, POLICY_MAX_BYTES, &buf, &size);
        if (r == -EFBIG)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_POLICY_TOO_LARGE, 0,
                               "%s: larger than %d bytes", path, POLICY_MAX_BYTES);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_POLICY_IO, -r,
                               "read '%s'", path);
        return policy_load(buf, size, path, ret, err);
}

static void print_notice(const char *line, void *userdata) {
        (void) userdata;
        log_warning("%s", line);
}

/* An endpoint whose L7 rules restrict traffic cannot be enforced by an L4 relay: running it
 * at host:port would silently allow more than the policy says, so run refuses unless the
 * user widened it on purpose (--widen-l7), and then says so per endpoint. */
static int check_l7(const struct policy *p, bool widen) {
        int r = 0;

        for (size_t i = 0; i < p->n_network; i++) {
                const struct policy_network_entry *n = &p->network[i];

                if (n->allows_nothing)
                        continue;
                for (size_t j = 0; j < n->n_endpoints; j++) {
                        const struct policy_endpoint *ep = &n->endpoints[j];
                        const char *fields = ep->refused_by ?: ep->l7_fields ?: "protocol";

                        if (!ep->l7_enforced && !ep->refused_by)
                                continue;
                        if (widen) {
                                log_warning("policy: %s:%u:%u: entry '%s' endpoint '%s': %s not "
                                            "enforced; --widen-l7 runs it at host:port + binary "
                                            "(its events are marked widened)",
                                            p->filename ?: "policy", ep->pos.line, ep->pos.column,
                                            n->key, ep->host ?: "(allowed_ips)", fields);
                                continue;
                        }
                        fprintf(stderr, "caisson: policy: %s:%u:%u: entry '%s' endpoint '%s' "
                                        "restricts traffic at L7 (%s), which caisson cannot "
                                        "enforce; refusing to run. Pass --widen-l7 to run it at "
                                        "host:port + binary only\n",
                                p->filename ?: "policy", ep->pos.line, ep->pos.column, n->key,
                                ep->host ?: "(allowed_ips)", fields);
                        r = -EINVAL;
                }
        }
        return r;
}

/* From the egress thread: one record per decision (events_emit is thread-safe). */
static void egress_event_cb(const struct egress_event *e, void *userdata) {
        struct events *ev = userdata;
        json_object *d;
        char addr[INET6_ADDRSTRLEN] = "";
        enum event_type t = e->kind == EGRESS_EV_ALLOWED ? EVENT_EGRESS_ALLOWED :
                            e->kind == EGRESS_EV_DENIED ? EVENT_EGRESS_DENIED : EVENT_DNS_DENIED;

        /* Lost records of rejected packets are said on stderr too, with or without a sink:
         * the events are incomplete, and whoever reads them should know. */
        if (e->reason == CAISSON_REASON_EGRESS_LOG_LOST) {
                if (e->lost > 0)
                        log_warning("egress: %lld packets the fence rejected have no egress.denied "
                                    "event: the kernel dropped their log records (they were "
                                    "rejected all the same)", (long long) e->lost);
                else if (e->lost < 0)
                        log_warning("egress: the kernel dropped log records of packets the fence "
                                    "rejected: some have no egress.denied event");
        }
        /* One record per connection: with no --events sink, building it was a few
         * microseconds of the relay's thread per connection for nothing. */
        if (!events_wanted(ev))
                return;
        d = json_object_new_object();
        if (!d)
                return;
        if (e->family == AF_INET || e->family == AF_INET6) {
                (void) inet_ntop(e->family, e->addr, addr, sizeof addr);
                json_object_object_add(d, "destination", json_object_new_string(addr));
        }
        if (e->port)
                json_object_object_add(d, "port", json_object_new_int(e->port));
        if (e->protocol)
                json_object_object_add(d, "protocol", json_object_new_string(e->protocol));
        if (e->hostname)
                json_object_object_add(d, "hostname", json_object_new_string(e->hostname));
        if (e->pid)
                json_object_object_add(d, "pid", json_object_new_int(e->pid));
        if (e->binary)
                json_object_object_add(d, "binary", json_object_new_string(e->binary));
        if (e->kind != EGRESS_EV_DNS_DENIED)
                json_object_object_add(d, "assurance",
                                       json_object_new_string(e->assurance ?: "unknown"));
        if (e->sha256)
                json_object_object_add(d, "sha256", json_object_new_string(e->sha256));
        if (e->entry)
                json_object_object_add(d, "entry", json_object_new_string(e->entry));
        if (e->widened)
                json_object_object_add(d, "widened", json_object_new_boolean(1));
        if (e->reason == CAISSON_REASON_EGRESS_LOG_LOST) {
                if (e->lost >= 0)
                        json_object_object_add(d, "count", json_object_new_int64(e->lost));
                json_object_object_add(d, "overruns", json_object_new_int64(e->overruns));
        }
        if (e->detail)
                json_object_object_add(d, "detail", json_object_new_string(e->detail));
        events_emit(ev, t, e->reason, d);
}

/* The sandbox's /etc/resolv.conf: the native backend binds <state_dir>/resolv.conf over it
 * when the file exists. The fence redirects every port-53 packet to the gateway anyway;
 * this only spares clients a detour through the host's resolver address. */
static int write_resolv_conf(const char *state_dir) {
        static const char text[] = "# caisson: the sandbox's DNS gateway\n"
                                   "nameserver 127.0.0.1\noptions edns0\n";
        _cleanup_close_ int fd = -1;
        char path[PATH_MAX];

        if (snprintf(path, sizeof path, "%s/resolv.conf", state_dir) >= (int) sizeof path)
                return -ENAMETOOLONG;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, text, STRLEN(text)) != (ssize_t) STRLEN(text))
                return -EIO;
        return 0;
}

struct supervise {
        struct lifecycle *lc;
        struct events *ev;
        struct egress *eg;              /* NULL without network_policies */
        pid_t agent;
        int exit_code;
        bool timed_out, killed_by_filter, lost;
};

static void handle_backend_events(struct supervise *s) {
        struct caisson_event e;
        struct caisson_error err = { 0 };

        while (s->lc->backend->next_event(s->lc->boundary, &e, &err) > 0) {
                json_object *d = json_object_new_object();

                switch (e.kind) {
                case CAISSON_EVENT_SYSCALL_DENIED:
                case CAISSON_EVENT_SYSCALL_KILLED:
                        json_object_object_add(d, "syscall", json_object_new_string(e.syscall));
                        json_object_object_add(d, "nr", json_object_new_int(e.syscall_nr));
                        json_object_object_add(d, "pid", json_object_new_int(e.pid));
                        json_object_object_add(d, "binary", json_object_new_string(e.binary));
                        if (e.kind == CAISSON_EVENT_SYSCALL_KILLED) {
                                json_object_object_add(d, "action", json_object_new_string("kill"));
                                if (!s->killed_by_filter)
                                        log_error("seccomp: '%s' by pid %d (%s) is denied and "
                                                  "seccomp.on_violation is kill: killing the sandbox",
                                                  e.syscall, e.pid, e.binary);
                                s->killed_by_filter = true;
                        } else
                                log_info("seccomp: denied '%s' to pid %d (%s)", e.syscall, e.pid,
                                         e.binary);
                        events_emit(s->ev, EVENT_SYSCALL_DENIED, e.reason, d);
                        break;
                case CAISSON_EVENT_PROCESS_EXITED:
                        if (e.pid == s->agent) {
                                if (WIFEXITED(e.status))
                                        s->exit_code = WEXITSTATUS(e.status);
                                else if (WIFSIGNALED(e.status))
                                        s->exit_code = 128 + WTERMSIG(e.status);
                                json_object_object_add(d, "pid", json_object_new_int(e.pid));
                                json_object_object_add(d, "exit_code", json_object_new_int(s->exit_code));
                                if (WIFSIGNALED(e.status))
                                        json_object_object_add(d, "signal",
                                                               json_object_new_int(WTERMSIG(e.status)));
                                events_emit(s->ev, EVENT_AGENT_EXITED, e.reason, d);
                                s->agent = 0;
                        } else
                                json_object_put(d);
                        break;
                case CAISSON_EVENT_CONNECT:
                        /* The caller is held until the next next_event(): recorded first,
                         * so the relay knows who connected before the SYN leaves. A record
                         * that fails leaves none, and the relay refuses the socket. */
                        json_object_put(d);
                        if (s->eg)
                                (void) egress_note_connect(s->eg, e.pid, e.sock_ino);
                        break;
                case CAISSON_EVENT_CONNECT_ABANDONED:
                        json_object_put(d);
                        if (s->eg)
                                egress_abandon_connect(s->eg, e.sock_ino);
                        break;
                case CAISSON_EVENT_BOUNDARY_LOST:
                        json_object_put(d);
                        s->lost = true;
                        break;
                default:
                        json_object_put(d);
                        break;
                }
        }
}

int cmd_run(int argc, char **argv) {
        _cleanup_(policy_freep) struct policy *p = NULL, *def = NULL;
        _cleanup_(policy_compiled_freep) struct policy_compiled *pc = NULL;
        _cleanup_close_ int sfd = -1, tfd = -1;
        struct run_args a = { 0 };
        struct caisson_error err = { 0 };
        struct run_user u;
        struct lifecycle lc = { 0 };
        struct events ev = { .fd = -1, .stop_fd = -1, .done_fd = -1 };
        struct envv env = { 0 };
        struct terminal term = { .in_fd = 0, .out_fd = 1, .master = -1, .slave = -1 };
        struct relay relays[3];
        size_t n_relays = 0;
        int agent_fds[3] = { 0, 1, 2 }, owned[3] = { -1, -1, -1 };
        struct supervise sv = { .lc = &lc, .ev = &ev, .exit_code = EXIT_CAISSON };
        struct exit_wait xw = { .sfd = -1 };
        struct egress *eg = NULL;
        struct egress_config ecfg = { 0 };
        bool network = false;
        char id[13], state_dir[256], workdir[PATH_MAX];
        char **persist_candidates = NULL;
        size_t n_persist = 0;
        bool state_made = false, use_pty;
        sigset_t mask;
        pid_t agent = 0;
        int r, ret = EXIT_CAISSON;

        r = parse_args(argc, argv, &a);
        if (r != 0) {
                run_args_done(&a);
                return r > 0 ? 0 : EXIT_CAISSON;
        }
        /* Nothing is built before this check: without root there is nothing half-made. */
        if (geteuid() != 0) {
                fprintf(stderr, "caisson: run needs root (the native backend builds namespaces, "
                                "mounts and cgroups); try 'sudo caisson run ...'\n");
                goto out;
        }

        r = policy_load_file(a.policy, &p, &err);
        if (r >= 0 && !p->has_filesystem_policy)
                r = policy_load_default(&def, &err);
        if (r < 0) {
                print_error(&err);
                goto out;
        }
        for (size_t i = 0; i < a.n_allow; i++) {
                r = policy_add_allow(p, a.allow[i], &err);
                if (r < 0) {
                        print_error(&err);
                        goto out;
                }
                fprintf(stderr, "caisson: --allow %s admits any binary\n", a.allow[i]);
        }
        if (check_l7(p, a.widen_l7) < 0)
                goto out;
        if (p->has_network_middlewares && p->n_middlewares > 0) {
                fprintf(stderr, "caisson: policy: %s: network_middlewares cannot be enforced; "
                                "refusing to run\n", a.policy ?: "built-in");
                goto out;
        }
        policy_notices(p, print_notice, NULL);
        /* Egress's libraries load beside the work below; joined before anything forks. */
        if (p->n_network > 0)
                egress_preload_start();

        r = user_resolve(p->run_as_user, p->run_as_group, &u, &err);
        if (r < 0) {
                print_error(&err);
                goto out;
        }
        if (a.workdir) {
                if (!realpath(a.workdir, workdir)) {
                        log_error("--workdir '%s': %s", a.workdir, strerror(errno));
                        goto out;
                }
        } else if (!getcwd(workdir, sizeof workdir)) {
                log_error("cannot read the current directory: %s", strerror(errno));
                goto out;
        }
        r = policy_expand(p, u.home, workdir, &err);
        if (r >= 0 && def)
                r = policy_expand(def, u.home, workdir, &err);
        if (r < 0) {
                print_error(&err);
                goto out;
        }
        if (random_hex(id, 6) < 0) {
                log_error("no randomness for the sandbox id");
                goto out;
        }
        (void) snprintf(state_dir, sizeof state_dir, "%s/%s", CAISSON_RUN_DIR, id);

        {
                struct policy_compile_opts o = {
                        .sandbox_id = id, .state_dir = state_dir, .workdir = workdir,
                        .home = u.home, .uid = u.uid, .gid = u.gid, .fs_default = def,
                        .cli_ro = a.ro, .n_cli_ro = a.n_ro, .cli_rw = a.rw, .n_cli_rw = a.n_rw,
                };
                const struct policy *fs = p->has_filesystem_policy ? p : def;

                r = policy_compile(p, &o, &pc, &err);
                if (r < 0) {
                        if (streq(workdir, "/") && fs->include_workdir)
                                fprintf(stderr, "caisson: the workdir is '/', which may not be "
                                                "read-write: run from a project directory or "
                                                "pass --workdir\n");
                        else
                                print_error(&err);
                        goto out;
                }
                if (make_state_dirs(p, &u) < 0)
                        goto out;
                (void) warn_missing_paths(&pc->intent, !a.policy || !p->has_filesystem_policy);
        }
        if (env_build(&a, p, &u, &env) < 0)
                goto out;

        if (events_open(&ev, a.events, id) < 0) {
                log_error("--events '%s': %s", a.events, strerror(errno));
                goto out;
        }
        r = lifecycle_init(&lc, &caisson_backend_native, &err);
        if (r < 0) {
                print_error(&err);
                goto out;
        }

        /* Signals are read from a signalfd in the loop; block them before anything forks. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGQUIT);
        sigaddset(&mask, SIGUSR1);
        sigaddset(&mask, SIGUSR2);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGCHLD);
        (void) signal(SIGPIPE, SIG_IGN);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
            (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
                log_error("signalfd: %s", strerror(errno));
                goto out;
        }

        if (state_create(id, a.name, state_dir, sizeof state_dir, &err) < 0) {
                print_error(&err);
                goto out;
        }
        state_made = true;
        network = p->n_network > 0;
        if (network) {
                r = write_resolv_conf(state_dir);
                if (r < 0) {
                        log_error("resolv.conf for the sandbox: %s", strerror(-r));
                        goto out;
                }
                ecfg = (struct egress_config) {
                        .policy = p,
                        .widen_l7 = a.widen_l7,
                        .dns_grace_usec = a.dns_grace_ns / 1000,
                        .hash_binaries = events_wanted(&ev),
                        .event = egress_event_cb,
                        .userdata = &ev,
                };
                if (a.dns_upstream)
                        (void) egress_parse_upstream(a.dns_upstream, &ecfg.upstream,
                                                     &ecfg.upstream_len);
                else if (egress_host_upstream(&ecfg.upstream, &ecfg.upstream_len) < 0) {
                        log_warning("dns: no nameserver in the host's /etc/resolv.conf and no "
                                    "--dns-upstream: every name will fail (SERVFAIL)");
                        ecfg.upstream_len = 0;
                }
        }
        (void) persist_missing(pc->paths, pc->intent.n_paths,
                               (char *const *) pc->persistence, pc->intent.n_persistence_paths,
                               &persist_candidates, &n_persist);

        {
                json_object *d = json_object_new_object();

                json_object_object_add(d, "backend", json_object_new_string("native"));
                json_object_object_add(d, "name", json_object_new_string(a.name ?: ""));
                json_object_object_add(d, "uid", json_object_new_int((int) u.uid));
                events_emit(&ev, EVENT_SANDBOX_CREATED, CAISSON_REASON_NONE, d);
        }
        egress_preload_wait(); /* before clone3: no thread may hold the loader's locks */
        r = lifecycle_ensure(&lc, &pc->intent, &err);
        if (r < 0) {
                print_error(&err);
                goto out;
        }
        /* The sandbox's init is cloned: threads may start (events_start()). */
        events_start(&ev);
        if (lc.att.degraded & CAISSON_DEGRADED_LANDLOCK) {
                json_object *d = json_object_new_object();

                log_warning("landlock: unavailable on this kernel; running without it because "
                            "landlock.compatibility is best_effort");
                json_object_object_add(d, "layer", json_object_new_string("landlock"));
                events_emit(&ev, EVENT_LAYER_DEGRADED, CAISSON_REASON_LANDLOCK_UNAVAILABLE, d);
        }
        for (unsigned bit = CAISSON_DEGRADED_MEMORY; bit <= CAISSON_DEGRADED_CPU; bit <<= 1)
                if (lc.att.degraded & bit) {
                        const char *what = bit == CAISSON_DEGRADED_MEMORY ? "memory" :
                                           bit == CAISSON_DEGRADED_PIDS ? "pids" : "cpu";
                        json_object *d = json_object_new_object();

                        log_warning("resources.%s: no cgroup controller can enforce it here; "
                                    "running without it (resources.on_unsupported: warn)", what);
                        json_object_object_add(d, "layer", json_object_new_string(what));
                        events_emit(&ev, EVENT_LAYER_DEGRADED, CAISSON_REASON_RESOURCE_UNSUPPORTED, d);
                }
        /* The egress boundary, before boundary_ready and so before anything runs inside:
         * route, gateway, relay and the fence loaded and read back. Any failure is 125. */
        if (network) {
                ecfg.sandbox_netns_fd = lc.att.netns_fd;
                ecfg.cgroup_fd = lc.att.cgroup_fd;
                ecfg.init_pid = lc.att.init_pid > 0 ? lc.att.init_pid : 0;
                /* policy_compile() asked the backend to observe connect(): a backend that
                 * cannot would leave every socket without a record, refused. */
                {
                        struct caisson_backend_metadata meta = { .size = sizeof meta };

                        lc.backend->metadata(&meta);
                        ecfg.connectors = (meta.capabilities & CAISSON_BACKEND_CAP_CONNECT_EVENTS) != 0;
                }
                r = egress_setup(&ecfg, &eg, &err);
                sv.eg = eg;
                if (r >= 0)
                        r = egress_start(eg, &err);
                if (r < 0) {
                        print_error(&err);
                        goto out;
                }
        }
        r = lifecycle_ready(&lc, &err);
        if (r < 0) {
                print_error(&err);
                goto out;
        }
        events_emit(&ev, EVENT_BOUNDARY_READY, CAISSON_REASON_NONE, NULL);

        /* Stdio: a pty when the caller is on a terminal (or -t); else pipes in place of any
         * terminal fd, so the caller's terminal never enters the sandbox. */
        use_pty = a.tty == 1 || (a.tty == -1 && isatty(0));
        if (use_pty) {
                r = terminal_open_pty(&term, lc.att.pts_fd, &err);
                if (r < 0) {
                        print_error(&err);
                        goto out;
                }
                agent_fds[0] = agent_fds[1] = agent_fds[2] = term.slave;
                (void) fcntl(term.master, F_SETFL, fcntl(term.master, F_GETFL) | O_NONBLOCK);
                relays[n_relays++] = (struct relay) { .src = 0, .dst = term.master, .input = true,
                                                      .own_dst = -1 };
                relays[n_relays++] = to_terminal(term.master, 1);
        } else {
                for (int i = 0; i < 3; i++) {
                        int pp[2];

                        if (!isatty(i))
                                continue;
                        if (pipe2(pp, O_CLOEXEC) < 0) {
                                log_error("pipe: %s", strerror(errno));
                                goto out;
                        }
                        if (i == 0) {
                                agent_fds[0] = owned[0] = pp[0];
                                (void) fcntl(pp[1], F_SETFL, O_NONBLOCK);
                                relays[n_relays++] = (struct relay) { .src = 0, .dst = pp[1],
                                                                      .input = true,
                                                                      .close_dst = true,
                                                                      .own_dst = -1 };
                        } else {
                                agent_fds[i] = owned[i] = pp[1];
                                (void) fcntl(pp[0], F_SETFL, O_NONBLOCK);
                                relays[n_relays++] = to_terminal(pp[0], i);
                        }
                }
        }

        {
                struct caisson_spawn spec = {
                        .size = sizeof spec,
                        .argv = (const char *const *) a.argv,
                        .envp = (const char *const *) env.v,
                        .cwd = workdir,
                        .stdio = { agent_fds[0], agent_fds[1], agent_fds[2] },
                        .controlling_tty = use_pty,
                };

                r = lifecycle_start(&lc, &spec, &agent, &err);
                /* Our copies of the agent's ends go now, so EOF/EIO reach the relays. */
                term.slave = safe_close(term.slave);
                for (int i = 0; i < 3; i++)
                        owned[i] = safe_close(owned[i]);
                if (r < 0) {
                        print_error(&err);
                        ret = err.code == CAISSON_REASON_EXEC_NOT_FOUND ? 127 :
                              err.code == CAISSON_REASON_EXEC_NOT_EXECUTABLE ? 126 : EXIT_CAISSON;
                        goto out;
                }
        }
        sv.agent = agent;
        {
                json_object *d = json_object_new_object();

                json_object_object_add(d, "pid", json_object_new_int(agent));
                json_object_object_add(d, "argv0", json_object_new_string(a.argv[0]));
                events_emit(&ev, EVENT_AGENT_STARTED, CAISSON_REASON_NONE, d);
        }
        if (use_pty && terminal_make_raw(&term) < 0)
                log_warning("terminal: cannot set raw mode: %s", strerror(errno));

        if (a.timeout_ns) {
                struct itimerspec its = { .it_value = { (time_t) (a.timeout_ns / 1000000000ULL),
                                                        (long) (a.timeout_ns % 1000000000ULL) } };

                tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
                if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0) {
                        log_error("timerfd: %s", strerror(errno));
                        (void) lc.backend->kill(lc.boundary, 0, SIGKILL, NULL);
                        goto out;
                }
        }

        /* From here the loop answers the sandbox's held syscalls: its own messages must
         * not make it wait on a terminal that takes no output (as the relays' writes do
         * not: to_terminal()). */
        log_hold_begin();
        while (sv.agent && !sv.lost && !sv.timed_out) {
                struct pollfd pfd[3 + 2 * 3 + 1];
                size_t n = 0;

                log_flush();
                pfd[n++] = (struct pollfd) { .fd = sfd, .events = POLLIN };
                pfd[n++] = (struct pollfd) { .fd = lc.att.events_fd, .events = POLLIN };
                pfd[n++] = (struct pollfd) { .fd = tfd, .events = POLLIN };
                for (size_t i = 0; i < n_relays; i++) {
                        struct relay *rl = &relays[i];

                        pfd[n++] = (struct pollfd) { .fd = rl->done || rl->len ? -1 : rl->src,
                                                     .events = POLLIN };
                        pfd[n++] = (struct pollfd) { .fd = rl->done || !rl->len ? -1 : rl->dst,
                                                     .events = POLLOUT };
                }
                /* Held messages go out as soon as stderr takes output again. */
                pfd[n++] = (struct pollfd) { .fd = log_held_fd(), .events = POLLOUT };
                if (poll(pfd, n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error("poll: %s", strerror(errno));
                        break;
                }
                if (pfd[0].revents) {
                        struct signalfd_siginfo si;

                        while (read(sfd, &si, sizeof si) == sizeof si) {
                                if (si.ssi_signo == SIGCHLD)
                                        continue; /* init's exit shows up as boundary lost */
                                if (si.ssi_signo == SIGWINCH) {
                                        terminal_resize(&term);
                                        continue;
                                }
                                /* Forwarded to the agent; it decides how to end. */
                                (void) lc.backend->kill(lc.boundary, sv.agent, (int) si.ssi_signo, NULL);
                        }
                }
                if (pfd[1].revents)
                        handle_backend_events(&sv);
                if (pfd[2].revents) {
                        sv.timed_out = true;
                        log_error("--timeout ran out: killing the sandbox");
                }
                for (size_t i = 0; i < n_relays; i++)
                        relay_pump(&relays[i], pfd[3 + 2 * i].revents, pfd[4 + 2 * i].revents);
        }

        if (sv.timed_out)
                ret = 124;
        else if (sv.killed_by_filter)
                ret = 128 + SIGKILL;
        else if (sv.lost && sv.agent) {
                log_error("the sandbox's init died: the sandbox is gone");
                ret = EXIT_CAISSON;
        } else
                ret = sv.exit_code;

out:
        log_hold_grow();
        egress_preload_wait();
        /* The whole tree dies with the agent: daemonized grandchildren too. */
        if (lc.boundary) {
                (void) lc.backend->kill(lc.boundary, 0, SIGKILL, NULL);
                handle_backend_events(&sv);
        }
        /* The egress thread stops (and its connections close) before the boundary goes. */
        egress_free(eg);
        eg = NULL;
        /* The state goes while the kernel still tears the sandbox's namespaces down, not
         * after (a few hundred microseconds of every run). Should we die in between, gc
         * finds the cgroup without its state and reclaims it as an orphan. */
        if (state_made)
                state_remove(id);
        lifecycle_teardown(&lc);
        /* The caller's input modes first: in raw mode a ^C typed during the waits below would
         * be a byte, not the SIGINT that ends them. The output modes stay raw until the
         * relays are done. */
        terminal_restore_input();
        xw.sfd = sfd;
        for (size_t i = 0; i < n_relays; i++)
                relay_drain(&relays[i], &xw);
        for (size_t i = 0; i < n_relays; i++)
                if (relays[i].close_dst)
                        relays[i].dst = safe_close(relays[i].dst);
                else if (!relays[i].input)
                        relays[i].src = safe_close(relays[i].src);
        for (size_t i = 0; i < n_relays; i++)
                relays[i].own_dst = safe_close(relays[i].own_dst);
        term.master = -1;
        terminal_restore();
        if (persist_candidates) {
                for (size_t i = 0; i < n_persist; i++) {
                        struct stat st;

                        if (lstat(persist_candidates[i], &st) == 0)
                                report_created(persist_candidates[i], &ev);
                        free(persist_candidates[i]);
                }
                free(persist_candidates);
        }
        if (state_made)
                events_emit(&ev, EVENT_SANDBOX_DESTROYED, CAISSON_REASON_NONE, NULL);
        /* A reader of --events that stopped reading keeps caisson here, the sandbox gone,
         * until it reads or the user gives up (^C). */
        events_close(&ev, sfd, &xw.quit);
        /* Last: the messages of everything above (the persistence warnings, the events'
         * dropped count) are held too, so none of them waits on a stopped terminal past a
         * quitting signal; and they come after the caller's terminal modes are back. */
        log_hold_end(exit_wait_writable, &xw);
        env_done(&env);
        run_args_done(&a);
        return ret;
}
