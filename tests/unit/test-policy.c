/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy parser: every validation rule, good and bad, each error naming file:line:col;
 * the shipped policies; OpenShell-style policies; limits (size, depth, alias bombs). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "caisson/reasons.h"
#include "macro.h"
#include "policy/policy.h"
#include "util.h"

static struct policy *load_ok(const char *y) {
        struct caisson_error err = {};
        struct policy *p = NULL;
        int r = policy_load(y, strlen(y), "t.yaml", &p, &err);

        cr_assert_eq(r, 0, "policy_load failed (%d): %s\n--- input:\n%s", r, err.msg, y);
        cr_assert_not_null(p);
        return p;
}

/* Expects a failure whose message starts with `where` ("t.yaml:3:" or "t.yaml:3:7:") and
 * contains `what`; one line, policy layer, nothing returned. */
static int expect_bad_len(const char *y, size_t len, const char *where, const char *what,
                          struct caisson_error *ret_err) {
        struct caisson_error err = {};
        struct policy *p = NULL;
        int r = policy_load(y, len, "t.yaml", &p, &err);

        cr_assert_lt(r, 0, "loaded, but should fail with '%s'\n--- input:\n%s", what, y);
        cr_assert_null(p);
        cr_assert_eq(err.layer, CAISSON_LAYER_POLICY);
        cr_assert(strncmp(err.msg, where, strlen(where)) == 0, "want '%s...', got: %s", where,
                  err.msg);
        cr_assert(strstr(err.msg, what), "want '%s' in: %s", what, err.msg);
        cr_assert_null(strchr(err.msg, '\n'), "two lines: %s", err.msg);
        if (ret_err)
                *ret_err = err;
        return r;
}

static int expect_bad(const char *y, const char *where, const char *what) {
        return expect_bad_len(y, strlen(y), where, what, NULL);
}

#define V "version: 1\n"
/* An entry with a binary; endpoint items start on line 6, their mapping at column 9. */
#define EP V "network_policies:\n  e:\n    binaries: [{path: /usr/bin/curl}]\n    endpoints:\n"

/* ---------------------------------------------------------------- document shape */

TestSuite(policy_load);

Test(policy_load, minimal) {
        _cleanup_(policy_freep) struct policy *p = load_ok(V);

        cr_assert_str_eq(p->filename, "t.yaml");
        cr_assert_not(p->has_filesystem_policy);
        cr_assert_eq(p->landlock_compat, CAISSON_LANDLOCK_BEST_EFFORT);
        cr_assert(p->persistence_protect);
        cr_assert_eq(p->seccomp_on_violation, CAISSON_VIOLATION_ERRNO);
        cr_assert_not(p->has_network_policies);
        cr_assert_not(p->has_resources);
        cr_assert_null(p->run_as_user);
        cr_assert_null(p->hostname);
}

Test(policy_load, empty) {
        expect_bad("", "t.yaml:1:1:", "empty policy");
        expect_bad("# just a comment\n\n", "t.yaml:1:1:", "empty policy");
        expect_bad("---\n", "t.yaml:", "empty policy");
        expect_bad("~\n", "t.yaml:1:1:", "empty policy");
}

Test(policy_load, root_not_mapping) {
        expect_bad("- version\n", "t.yaml:1:1:", "must be a mapping");
        expect_bad("hello\n", "t.yaml:1:1:", "must be a mapping");
}

Test(policy_load, version) {
        struct caisson_error err = {};

        expect_bad("filesystem_policy: {}\n", "t.yaml:1:1:", "'version' is required");
        expect_bad_len("version: 2\n", 11, "t.yaml:1:10:", "not supported", &err);
        cr_assert_eq(err.code, CAISSON_REASON_POLICY_UNSUPPORTED);
        expect_bad("version: \"1\"\n", "t.yaml:1:10:", "expected an integer");
        expect_bad("version: one\n", "t.yaml:1:10:", "expected an integer");
        expect_bad("version: 1.0\n", "t.yaml:1:10:", "expected an integer");
        expect_bad("version: [1]\n", "t.yaml:1:10:", "expected an integer");
        expect_bad("version:\n", "t.yaml:1:", "expected an integer");
}

Test(policy_load, unknown_keys) {
        expect_bad(V "filesytem_policy: {}\n", "t.yaml:2:1:", "unknown key 'filesytem_policy'");
        expect_bad(V "filesystem_policy:\n  read_olny: [/usr]\n", "t.yaml:3:3:",
                   "filesystem_policy: unknown key 'read_olny'");
        expect_bad(V "landlock: {compat: best_effort}\n", "t.yaml:2:12:", "unknown key 'compat'");
        expect_bad(V "process: {user: x}\n", "t.yaml:2:11:", "unknown key 'user'");
        expect_bad(EP "      - hots: a.com\n        port: 443\n", "t.yaml:6:9:", "unknown key 'hots'");
        expect_bad(V "network_policies:\n  e:\n    binary: [{path: /x}]\n", "t.yaml:4:5:",
                   "unknown key 'binary'");
        expect_bad(V "network_policies:\n  e:\n    binaries: [{path: /x, sha: y}]\n", "t.yaml:4:",
                   "unknown key 'sha'");
        /* OpenShell rejects middleware attachments on entries; so do we. */
        expect_bad(V "network_policies:\n  e:\n    middlewares: []\n", "t.yaml:4:5:",
                   "unknown key 'middlewares'");
        expect_bad(V "resources: {mem: 1G}\n", "t.yaml:2:13:", "unknown key 'mem'");
        expect_bad(V "seccomp: {denied: [bpf]}\n", "t.yaml:2:11:", "unknown key 'denied'");
        expect_bad(V "persistence: {protected: true}\n", "t.yaml:2:15:", "unknown key 'protected'");
        /* A merge key is just an unknown key to us. */
        expect_bad(V "landlock:\n  <<: {compatibility: best_effort}\n", "t.yaml:3:3:", "unknown key '<<'");
}

Test(policy_load, duplicate_keys) {
        expect_bad(V "version: 1\n", "t.yaml:2:1:", "duplicate key 'version'");
        expect_bad(V "landlock:\n  compatibility: best_effort\n  compatibility: hard_requirement\n",
                   "t.yaml:4:3:", "duplicate key 'compatibility'");
        expect_bad(V "network_policies:\n  a: {}\n  b: {}\n  a: {}\n", "t.yaml:5:3:", "duplicate key 'a'");
        expect_bad(V "env: {A: x, B: y, A: z}\n", "t.yaml:2:19:", "duplicate key 'A'");
}

Test(policy_load, wrong_types) {
        expect_bad(V "filesystem_policy: [/usr]\n", "t.yaml:2:20:", "expected a mapping, got a list");
        expect_bad(V "filesystem_policy:\n  read_only: /usr\n", "t.yaml:3:14:", "expected a list, got a scalar");
        expect_bad(V "filesystem_policy:\n  read_only: [[/usr]]\n", "t.yaml:3:15:", "expected a string, got a list");
        expect_bad(V "filesystem_policy:\n  read_only: [~]\n", "t.yaml:3:15:", "expected a string");
        expect_bad(V "filesystem_policy:\n  include_workdir: yes\n", "t.yaml:3:20:", "expected true or false, got 'yes'");
        expect_bad(V "filesystem_policy:\n  include_workdir: \"true\"\n", "t.yaml:3:20:", "expected true or false");
        expect_bad(V "filesystem_policy:\n  include_workdir: 1\n", "t.yaml:3:20:", "expected true or false");
        expect_bad(V "network_policies: [a]\n", "t.yaml:2:19:", "expected a mapping");
        expect_bad(V "env: [A=b]\n", "t.yaml:2:6:", "expected a mapping");
        expect_bad(V "? [a]\n: b\n", "t.yaml:2:3:", "keys must be plain strings");
}

Test(policy_load, null_sections_are_empty) {
        _cleanup_(policy_freep) struct policy *p =
                load_ok(V "filesystem_policy:\nnetwork_policies:\nlandlock:\nprocess:\n");

        /* Present but empty: grants exactly nothing (never the default). */
        cr_assert(p->has_filesystem_policy);
        cr_assert_eq(p->n_read_only + p->n_read_write, 0);
        cr_assert(p->has_network_policies);
        cr_assert_eq(p->n_network, 0);
}

Test(policy_load, syntax_errors) {
        struct caisson_error err = {};

        expect_bad_len(V "filesystem_policy:\n  read_only: [/usr\n", strlen(V "filesystem_policy:\n  read_only: [/usr\n"),
                       "t.yaml:4:1:", "YAML syntax", &err);
        cr_assert_eq(err.code, CAISSON_REASON_POLICY_SYNTAX);
        expect_bad(V "landlock:\n  compatibility: best_effort\n bad: 1\n", "t.yaml:4:", "YAML syntax");
        expect_bad(V "a: 'unterminated\n", "t.yaml:", "YAML syntax");
        expect_bad(V "\tlandlock: {}\n", "t.yaml:2:", "YAML syntax");
}

Test(policy_load, not_utf8) {
        static const char y[] = "version: 1\nhostname: \"ab\xff\xfe\"\n";
        struct caisson_error err = {};

        expect_bad_len(y, sizeof y - 1, "t.yaml:2:14:", "not valid UTF-8", &err);
        cr_assert_eq(err.code, CAISSON_REASON_POLICY_SYNTAX);
        /* An overlong encoding and a lone continuation byte, too. */
        expect_bad_len("version: 1\n\xc0\xaf: 1\n", 15, "t.yaml:2:1:", "UTF-8", NULL);
        expect_bad_len("\x80version: 1\n", 12, "t.yaml:1:1:", "UTF-8", NULL);
        /* UTF-16 is not read as another encoding: it is an error. */
        expect_bad_len("\xff\xfev\0e\0r\0", 8, "t.yaml:1:1:", "UTF-8", NULL);
}

Test(policy_load, control_characters_and_nul) {
        static const char raw_nul[] = "version: 1\nhostname: a\0b\n";

        expect_bad_len(raw_nul, sizeof raw_nul - 1, "t.yaml:2:", "not valid UTF-8", NULL);
        /* "\0" escaped in a double-quoted string would cut a C string short. */
        expect_bad(V "filesystem_policy:\n  read_only: [\"/usr\\0/evil\"]\n", "t.yaml:3:15:", "NUL");
        /* An escape character in a key is shown as '?', never sent to the terminal. */
        {
                struct caisson_error err = {};

                expect_bad_len(V "\"\\e[31mred\": 1\n", strlen(V "\"\\e[31mred\": 1\n"), "t.yaml:2:1:",
                               "unknown key '?[31mred'", &err);
        }
}

Test(policy_load, tags_rejected) {
        expect_bad(V "hostname: !!str abc\n", "t.yaml:2:11:", "tags are not supported");
        expect_bad(V "landlock: !custom {}\n", "t.yaml:2:11:", "tags are not supported");
}

Test(policy_load, one_document) {
        expect_bad(V "---\nversion: 1\n", "t.yaml:2:1:", "one YAML document");
        _cleanup_(policy_freep) struct policy *p = load_ok("---\n" V "...\n");
}

Test(policy_load, too_large) {
        _cleanup_free_ char *y = malloc(POLICY_MAX_BYTES + 2);
        struct caisson_error err = {};
        struct policy *p = NULL;

        cr_assert_not_null(y);
        memset(y, '#', POLICY_MAX_BYTES + 1);
        y[POLICY_MAX_BYTES + 1] = 0;
        cr_assert_eq(policy_load(y, POLICY_MAX_BYTES + 1, "t.yaml", &p, &err), -EFBIG);
        cr_assert_null(p);
        cr_assert_eq(err.code, CAISSON_REASON_POLICY_TOO_LARGE);
        cr_assert(strstr(err.msg, "t.yaml: policy is 1048577 bytes"), "got: %s", err.msg);
        /* Exactly the limit is read (here: all comment, so "empty policy"). */
        cr_assert_eq(policy_load(y, POLICY_MAX_BYTES, "t.yaml", &p, &err), -EINVAL);
        cr_assert(strstr(err.msg, "empty policy"), "got: %s", err.msg);
}

Test(policy_load, alias_bomb, .timeout = 10) {
        /* Billion laughs: 9 levels of 10 aliases each. Must fail fast and small. */
        char y[4096];
        size_t n = 0;
        struct caisson_error err = {};
        struct policy *p = NULL;
        clock_t t0 = clock();

        n += (size_t) snprintf(y + n, sizeof y - n, "version: 1\nenv:\n  A: &a0 x\n");
        for (int i = 1; i < 10; i++) {
                n += (size_t) snprintf(y + n, sizeof y - n, "x%d: &a%d [", i, i);
                for (int j = 0; j < 10; j++)
                        n += (size_t) snprintf(y + n, sizeof y - n, "%s*a%d", j ? "," : "", i - 1);
                n += (size_t) snprintf(y + n, sizeof y - n, "]\n");
        }
        cr_assert_lt(policy_load(y, n, "t.yaml", &p, &err), 0);
        cr_assert_eq(err.code, CAISSON_REASON_POLICY_TOO_LARGE, "got: %s", err.msg);
        cr_assert(strstr(err.msg, "once aliases are expanded"), "got: %s", err.msg);
        cr_assert(strncmp(err.msg, "t.yaml:", 7) == 0, "got: %s", err.msg);
        cr_assert_lt((double) (clock() - t0) / CLOCKS_PER_SEC, 1.0);
}

Test(policy_load, many_nodes, .timeout = 10) {
        /* A flat list of 200k items stays within the byte limit but not the node limit. */
        size_t cap = 700000, n = 0;
        _cleanup_free_ char *y = malloc(cap);
        struct caisson_error err = {};
        struct policy *p = NULL;

        n += (size_t) snprintf(y, cap, "version: 1\nseccomp:\n  deny: [");
        for (int i = 0; i < 200000; i++)
                y[n++] = 'a', y[n++] = ',';
        n += (size_t) snprintf(y + n, cap - n, "a]\n");
        cr_assert_lt(policy_load(y, n, "t.yaml", &p, &err), 0);
        cr_assert_eq(err.code, CAISSON_REASON_POLICY_TOO_LARGE, "got: %s", err.msg);
}

Test(policy_load, deep_nesting, .timeout = 10) {
        char y[1024];
        size_t n = 0;

        n += (size_t) snprintf(y, sizeof y, "version: 1\nnetwork_middlewares:\n  m:\n    config: ");
        for (int i = 0; i < 100; i++)
                y[n++] = '[';
        for (int i = 0; i < 100; i++)
                y[n++] = ']';
        y[n++] = '\n';
        y[n] = 0;
        expect_bad(y, "t.yaml:4:", "nested more than 64 levels");

        /* 1 MiB of '[' is refused as soon as level 65 is reached. */
        {
                _cleanup_free_ char *big = malloc(POLICY_MAX_BYTES);
                struct caisson_error err = {};
                struct policy *p = NULL;

                memset(big, '[', POLICY_MAX_BYTES);
                cr_assert_lt(policy_load(big, POLICY_MAX_BYTES, "t.yaml", &p, &err), 0);
                cr_assert(strstr(err.msg, "t.yaml:1:65:"), "got: %s", err.msg);
        }
}

Test(policy_load, anchors_and_aliases) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "network_policies:\n"
                  "  a:\n"
                  "    endpoints: [{host: a.example.com, port: 443}]\n"
                  "    binaries: &tools [{path: /usr/bin/git}, {path: /usr/bin/curl}]\n"
                  "  b:\n"
                  "    endpoints: [{host: b.example.com, port: 443}]\n"
                  "    binaries: *tools\n");

        cr_assert_eq(p->n_network, 2);
        cr_assert_eq(p->network[1].n_binaries, 2);
        cr_assert_str_eq(p->network[1].binaries[1], "/usr/bin/curl");

        expect_bad(V "env: {A: *nope}\n", "t.yaml:2:10:", "unknown or incomplete anchor 'nope'");
        /* An alias inside its own anchor's node is not complete yet: no cycles. */
        expect_bad(V "x: &s [*s]\n", "t.yaml:2:8:", "unknown or incomplete anchor");
}

Test(policy_load, too_many_anchors) {
        char y[16384];
        size_t n = (size_t) snprintf(y, sizeof y, "version: 1\nenv:\n");

        for (int i = 0; i < 300; i++)
                n += (size_t) snprintf(y + n, sizeof y - n, "  V%d: &a%d x\n", i, i);
        expect_bad(y, "t.yaml:", "more than 256 anchors");
}

/* ---------------------------------------------------------------- filesystem_policy */

Test(policy_fs, lists) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "filesystem_policy:\n  include_workdir: true\n  read_only: [/usr, /etc]\n"
                  "  read_write:\n    - /tmp\n    - ${HOME}/.cache\n");

        cr_assert(p->has_filesystem_policy);
        cr_assert(p->include_workdir);
        cr_assert_eq(p->n_read_only, 2);
        cr_assert_str_eq(p->read_only[1].path, "/etc");
        cr_assert_eq(p->read_only[1].pos.line, 4);
        cr_assert_eq(p->read_only[1].pos.column, 21);
        cr_assert_eq(p->n_read_write, 2);
        cr_assert_str_eq(p->read_write[1].path, "${HOME}/.cache");
        cr_assert_eq(p->read_write[1].pos.line, 7);
}

Test(policy_fs, empty_section_grants_nothing) {
        _cleanup_(policy_freep) struct policy *p = load_ok(V "filesystem_policy: {}\n");

        cr_assert(p->has_filesystem_policy);
        cr_assert_not(p->include_workdir);
        cr_assert_eq(p->n_read_only + p->n_read_write, 0);
}

Test(policy_fs, relative_rejected) {
        expect_bad(V "filesystem_policy:\n  read_only: [usr]\n", "t.yaml:3:15:", "read_only: 'usr' is not absolute");
        expect_bad(V "filesystem_policy:\n  read_write: [./tmp]\n", "t.yaml:3:16:", "is not absolute");
        expect_bad(V "filesystem_policy:\n  read_only: ['']\n", "t.yaml:3:15:", "is empty");
}

Test(policy_fs, dotdot_rejected) {
        expect_bad(V "filesystem_policy:\n  read_only: [/usr/../etc]\n", "t.yaml:3:15:", "'..'");
        expect_bad(V "filesystem_policy:\n  read_write: [/tmp/..]\n", "t.yaml:3:16:", "'..'");
        expect_bad(V "filesystem_policy:\n  read_write: ['${HOME}/../x']\n", "t.yaml:3:16:", "'..'");
        _cleanup_(policy_freep) struct policy *p =
                load_ok(V "filesystem_policy:\n  read_only: [/usr/..x, /a..b, /...]\n");
}

Test(policy_fs, root_never_rw) {
        expect_bad(V "filesystem_policy:\n  read_write: [/]\n", "t.yaml:3:16:", "read_write: '/' may not be read-write");
        expect_bad(V "filesystem_policy:\n  read_write: [/tmp, //]\n", "t.yaml:3:22:", "may not be read-write");
        expect_bad(V "filesystem_policy:\n  read_write: [/./]\n", "t.yaml:3:16:", "may not be read-write");
        _cleanup_(policy_freep) struct policy *p = load_ok(V "filesystem_policy:\n  read_only: [/]\n");
}

Test(policy_fs, path_length) {
        size_t n = 4097;
        _cleanup_free_ char *y = malloc(n + 100);
        _cleanup_free_ char *ok = malloc(n + 100);
        size_t k;

        k = (size_t) sprintf(y, V "filesystem_policy:\n  read_only: [/");
        memset(y + k, 'a', n - 1);
        strcpy(y + k + n - 1, "]\n");
        expect_bad(y, "t.yaml:3:15:", "longer than 4096");

        k = (size_t) sprintf(ok, V "filesystem_policy:\n  read_only: [/");
        memset(ok + k, 'a', n - 2);
        strcpy(ok + k + n - 2, "]\n");
        _cleanup_(policy_freep) struct policy *p = load_ok(ok);
        cr_assert_eq(strlen(p->read_only[0].path), 4096);
}

Test(policy_fs, path_count) {
        size_t cap = 16384, n;
        _cleanup_free_ char *y = malloc(cap);
        struct policy *p;

        n = (size_t) snprintf(y, cap, V "filesystem_policy:\n  read_only:\n");
        for (int i = 0; i < 200; i++)
                n += (size_t) snprintf(y + n, cap - n, "    - /ro/%d\n", i);
        n += (size_t) snprintf(y + n, cap - n, "  read_write:\n");
        for (int i = 0; i < 56; i++)
                n += (size_t) snprintf(y + n, cap - n, "    - /rw/%d\n", i);
        p = load_ok(y); /* exactly 256 */
        policy_free(p);
        (void) snprintf(y + n, cap - n, "    - /rw/one-too-many\n");
        expect_bad(y, "t.yaml:3:3:", "more than 256");
        {
                size_t m = (size_t) snprintf(y, cap, V "filesystem_policy:\n  read_only:\n");

                for (int i = 0; i < 257; i++)
                        m += (size_t) snprintf(y + m, cap - m, "    - /ro/%d\n", i);
                expect_bad(y, "t.yaml:4:", "more than 256");
        }
}

Test(policy_fs, unknown_variable) {
        expect_bad(V "filesystem_policy:\n  read_only: ['${USER}/x']\n", "t.yaml:3:15:", "other than ${HOME} and ${WORKDIR}");
        expect_bad(V "persistence:\n  extra: ['/x/${PWD}']\n", "t.yaml:3:11:", "other than ${HOME}");
}

/* ---------------------------------------------------------------- landlock */

Test(policy_landlock, values) {
        struct policy *p = load_ok(V "landlock: {compatibility: hard_requirement}\n");

        cr_assert_eq(p->landlock_compat, CAISSON_LANDLOCK_HARD_REQUIREMENT);
        policy_free(p);
        p = load_ok(V "landlock: {compatibility: best_effort}\n");
        cr_assert_eq(p->landlock_compat, CAISSON_LANDLOCK_BEST_EFFORT);
        policy_free(p);
        p = load_ok(V "landlock: {compatibility: ''}\n");
        cr_assert_eq(p->landlock_compat, CAISSON_LANDLOCK_BEST_EFFORT);
        policy_free(p);
        p = load_ok(V "landlock: {}\n");
        cr_assert_eq(p->landlock_compat, CAISSON_LANDLOCK_BEST_EFFORT);
        policy_free(p);
}

Test(policy_landlock, unknown_value_rejected) {
        /* OpenShell would read a typo as best effort: silently weaker. */
        expect_bad(V "landlock:\n  compatibility: hard_requirment\n", "t.yaml:3:18:",
                   "'hard_requirment' is not one of best_effort | hard_requirement");
        expect_bad(V "landlock:\n  compatibility: [best_effort]\n", "t.yaml:3:18:", "expected a string");
}

/* ---------------------------------------------------------------- process */

Test(policy_process, names_and_numbers) {
        struct policy *p = load_ok(V "process: {run_as_user: sandbox, run_as_group: sandbox}\n");

        cr_assert_str_eq(p->run_as_user, "sandbox");
        cr_assert_str_eq(p->run_as_group, "sandbox");
        cr_assert_eq(p->run_as_user_pos.line, 2);
        cr_assert_eq(p->run_as_user_pos.column, 24);
        policy_free(p);
        p = load_ok(V "process:\n  run_as_user: 1500\n  run_as_group: \"1500\"\n");
        cr_assert_str_eq(p->run_as_user, "1500");
        cr_assert_str_eq(p->run_as_group, "1500");
        cr_assert_eq(p->run_as_group_pos.line, 4);
        policy_free(p);
        p = load_ok(V "process: {run_as_user: 4294967294, run_as_group: 1}\n");
        policy_free(p);
        p = load_ok(V "process: {run_as_user: \"\"}\n"); /* empty = absent, as OpenShell */
        cr_assert_null(p->run_as_user);
        policy_free(p);
        p = load_ok(V "process: {run_as_user: svc-agent.1, run_as_group: _build}\n");
        policy_free(p);
}

Test(policy_process, rejected) {
        expect_bad(V "process:\n  run_as_user: 0\n", "t.yaml:3:16:", "'0' is root");
        expect_bad(V "process:\n  run_as_group: \"0\"\n", "t.yaml:3:17:", "is root");
        expect_bad(V "process:\n  run_as_user: 0000\n", "t.yaml:3:16:", "is root");
        expect_bad(V "process:\n  run_as_user: root\n", "t.yaml:3:16:", "is root");
        expect_bad(V "process:\n  run_as_user: 4294967295\n", "t.yaml:3:16:", "invalid id 4294967295");
        expect_bad(V "process:\n  run_as_user: 4294967296\n", "t.yaml:3:16:", "out of range");
        expect_bad(V "process:\n  run_as_user: 99999999999999999999\n", "t.yaml:3:16:", "out of range");
        expect_bad(V "process:\n  run_as_user: -1\n", "t.yaml:3:16:", "not a user or group name");
        expect_bad(V "process:\n  run_as_user: \"a b\"\n", "t.yaml:3:16:", "not a user or group name");
        expect_bad(V "process:\n  run_as_user: [1]\n", "t.yaml:3:16:", "expected a string");
}

/* ---------------------------------------------------------------- network_policies */

static const struct policy_endpoint *ep0(const struct policy *p) {
        cr_assert_geq(p->n_network, 1);
        cr_assert_geq(p->network[0].n_endpoints, 1);
        return &p->network[0].endpoints[0];
}

Test(policy_net, basic_entry) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "network_policies:\n"
                  "  claude_code:\n"
                  "    endpoints:\n"
                  "      - { host: api.anthropic.com, port: 443 }\n"
                  "      - host: statsig.anthropic.com\n"
                  "        ports: [443, 8443]\n"
                  "    binaries:\n"
                  "      - { path: /usr/local/bin/claude }\n"
                  "      - { path: /usr/bin/node, harness: true }\n");
        const struct policy_network_entry *e = &p->network[0];

        cr_assert(p->has_network_policies);
        cr_assert_str_eq(e->key, "claude_code");
        cr_assert_str_eq(e->name, "claude_code");
        cr_assert_eq(e->pos.line, 3);
        cr_assert_eq(e->n_endpoints, 2);
        cr_assert_str_eq(e->endpoints[0].host, "api.anthropic.com");
        cr_assert_eq(e->endpoints[0].n_ports, 1);
        cr_assert_eq(e->endpoints[0].ports[0], 443);
        cr_assert_eq(e->endpoints[0].pos.line, 5);
        cr_assert_eq(e->endpoints[1].n_ports, 2);
        cr_assert_eq(e->endpoints[1].ports[1], 8443);
        cr_assert_eq(e->n_binaries, 2);
        cr_assert_str_eq(e->binaries[1], "/usr/bin/node");
        cr_assert_not(e->allows_nothing);
        cr_assert_not(e->endpoints[0].l7_enforced);
        cr_assert_not(e->endpoints[0].l7_audit);
}

Test(policy_net, name_and_empty_map) {
        struct policy *p = load_ok(V "network_policies:\n  k:\n    name: display-name\n");

        cr_assert_str_eq(p->network[0].name, "display-name");
        policy_free(p);
        p = load_ok(V "network_policies: {}\n");
        cr_assert(p->has_network_policies);
        cr_assert_eq(p->n_network, 0);
        policy_free(p);
}

Test(policy_net, binaries) {
        expect_bad(V "network_policies:\n  e:\n    binaries: [{harness: true}]\n", "t.yaml:4:16:", "needs 'path'");
        expect_bad(V "network_policies:\n  e:\n    binaries: [/usr/bin/curl]\n", "t.yaml:4:16:", "expected a mapping");
        expect_bad(V "network_policies:\n  e:\n    binaries: [{path: /x, harness: maybe}]\n", "t.yaml:4:",
                   "expected true or false");
}

Test(policy_net, allows_nothing) {
        struct policy *p = load_ok(V "network_policies:\n  e:\n    endpoints: [{host: a.com, port: 443}]\n");

        cr_assert(p->network[0].allows_nothing);
        policy_free(p);
        p = load_ok(V "network_policies:\n  e:\n    endpoints: [{host: a.com, port: 443}]\n"
                      "    binaries: [{path: curl}, {path: '**/curl'}]\n");
        cr_assert(p->network[0].allows_nothing, "no binary path starts with '/'");
        policy_free(p);
}

Test(policy_net, endpoint_needs_host_and_port) {
        expect_bad(EP "      - port: 443\n", "t.yaml:6:9:", "needs a host, or allowed_ips");
        expect_bad(EP "      - host: ''\n        port: 443\n", "t.yaml:6:9:", "needs a host");
        expect_bad(EP "      - host: a.com\n", "t.yaml:6:9:", "needs port or ports");
        expect_bad(EP "      - host: a.com\n        ports: []\n", "t.yaml:6:9:", "needs port or ports");
        expect_bad(EP "      - {}\n", "t.yaml:6:9:", "needs a host");
        expect_bad(EP "      - ~\n", "t.yaml:6:9:", "needs host or allowed_ips");
}

Test(policy_net, ports) {
        expect_bad(EP "      - {host: a.com, port: 0}\n", "t.yaml:6:29:", "out of range 1..65535");
        expect_bad(EP "      - {host: a.com, port: 65536}\n", "t.yaml:6:29:", "out of range 1..65535");
        expect_bad(EP "      - {host: a.com, port: -1}\n", "t.yaml:6:29:", "out of range");
        expect_bad(EP "      - {host: a.com, port: \"443\"}\n", "t.yaml:6:29:", "quoted");
        expect_bad(EP "      - {host: a.com, port: https}\n", "t.yaml:6:29:", "expected an integer");
        expect_bad(EP "      - {host: a.com, ports: [443, 0]}\n", "t.yaml:6:36:", "out of range");
        expect_bad(EP "      - {host: a.com, ports: 443}\n", "t.yaml:6:30:", "expected a list");
        _cleanup_(policy_freep) struct policy *p = load_ok(EP "      - {host: a.com, port: 1}\n"
                                                              "      - {host: a.com, port: 65535}\n");
}

Test(policy_net, port_and_ports) {
        _cleanup_(policy_freep) struct policy *p =
                load_ok(EP "      - {host: a.com, port: 80, ports: [443, 8443]}\n");
        const struct policy_endpoint *e = ep0(p);

        cr_assert(e->port_and_ports);
        cr_assert_eq(e->n_ports, 2, "ports wins");
        cr_assert_eq(e->ports[0], 443);
}

Test(policy_net, host_wildcards_good) {
        static const char *const good[] = {
                "*.example.com", "**.example.com", "*-aiplatform.googleapis.com",
                "api.*.example.com", "API.Example.COM", "a-b_c.example.com", "example.com.",
                "10.1.2.3", "2001:db8::1",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                char y[512];
                struct policy *p;

                (void) snprintf(y, sizeof y, EP "      - {host: '%s', port: 443}\n", good[i]);
                p = load_ok(y);
                cr_assert_str_eq(ep0(p)->host, good[i]);
                policy_free(p);
        }
}

Test(policy_net, host_wildcards_bad) {
        static const struct {
                const char *host, *why;
        } bad[] = {
                { "*", "bare wildcard" },
                { "**", "bare wildcard" },
                { "*.com", "top-level-domain wildcard" },
                { "**.com", "top-level-domain wildcard" },
                { "example.*", "top-level-domain wildcard" },
                { "a**.example.com", "'**' must be the whole first label" },
                { "api.foo*.example.com", "partial wildcard after the first label" },
                { "api.**.example.com", "partial wildcard after the first label" },
                { "exa mple.com", "characters not allowed" },
                { "a..b.com", "empty or over-long" },
                { "{a,b}.example.com", "characters not allowed" },
                { "127.0.0.1", "loopback, link-local or unspecified" },
                { "169.254.169.254", "loopback, link-local" },
                { "::1", "loopback" },
                { "::ffff:127.0.0.1", "loopback" },
                { "0.0.0.0", "unspecified" },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char y[512];

                (void) snprintf(y, sizeof y, EP "      - {host: '%s', port: 443}\n", bad[i].host);
                expect_bad(y, "t.yaml:6:16:", bad[i].why);
        }
        {
                char y[512], label[70];

                memset(label, 'a', 64);
                label[64] = 0;
                (void) snprintf(y, sizeof y, EP "      - {host: %s.com, port: 443}\n", label);
                expect_bad(y, "t.yaml:6:", "over-long");
        }
}

Test(policy_net, allowed_ips_good) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                EP "      - host: db.internal.example.com\n        port: 5432\n"
                   "        allowed_ips: [10.0.0.0/8, 192.168.1.5, \"172.16.0.0/12\", fd00::/8, 2001:db8::1/128, 10.1.2.3/8]\n");

        cr_assert_eq(ep0(p)->n_allowed_ips, 6);
        cr_assert_str_eq(ep0(p)->allowed_ips[3], "fd00::/8");
}

Test(policy_net, allowed_ips_bad) {
        static const struct {
                const char *ip, *why;
        } bad[] = {
                { "127.0.0.1", "overlaps loopback" },
                { "127.0.0.0/8", "overlaps loopback" },
                { "127.255.0.0/16", "overlaps loopback" },
                { "0.0.0.0/0", "overlaps" },
                { "64.0.0.0/2", "overlaps" }, /* 0.0.0.0/2 would; 64/2 holds 127/8 */
                { "169.254.169.254", "link-local" },
                { "0.0.0.0", "unspecified" },
                { "::1", "overlaps" },
                { "::", "overlaps" },
                { "::/0", "overlaps" },
                { "fe80::1", "overlaps" },
                { "febf::/16", "overlaps" },
                { "::ffff:127.0.0.1", "overlaps" },
                { "::ffff:0:0/96", "overlaps" },
                { "::ffff:169.254.1.1", "overlaps" },
                { "::127.0.0.1", "overlaps" },
                { "10.0.0.0/33", "not an IP address or CIDR" },
                { "10.0.0.0/", "not an IP address or CIDR" },
                { "10.0.0.0/8/8", "not an IP address or CIDR" },
                { "10.0.0.0/-1", "not an IP address or CIDR" },
                { "10.0.0", "not an IP address or CIDR" },
                { "example.com", "not an IP address or CIDR" },
                { "2001:db8::/129", "not an IP address or CIDR" },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char y[512];

                (void) snprintf(y, sizeof y, EP "      - host: a.example.com\n        port: 443\n"
                                                "        allowed_ips: ['%s']\n", bad[i].ip);
                expect_bad(y, "t.yaml:8:23:", bad[i].why);
        }
}

Test(policy_net, hostless_allowed_ips) {
        _cleanup_(policy_freep) struct policy *p =
                load_ok(EP "      - {port: 8080, allowed_ips: [10.0.5.0/24]}\n");

        cr_assert_null(ep0(p)->host);
        cr_assert_eq(ep0(p)->n_allowed_ips, 1);
}

Test(policy_net, protocol_tcp) {
        struct policy *p = load_ok(EP "      - {host: redis.example.com, port: 6379, protocol: tcp}\n");

        cr_assert_str_eq(ep0(p)->protocol, "tcp");
        policy_free(p);
        p = load_ok(EP "      - {host: '*.redis.example.com', port: 6379, protocol: TCP, allowed_ips: [10.0.0.0/8]}\n");
        cr_assert_str_eq(ep0(p)->protocol, "tcp", "protocol names are case-insensitive");
        policy_free(p);

        expect_bad(EP "      - {port: 6379, protocol: tcp, allowed_ips: [10.0.0.0/8]}\n", "t.yaml:6:9:",
                   "protocol tcp needs a host");
        expect_bad(EP "      - {host: 10.0.0.5, port: 6379, protocol: tcp}\n", "t.yaml:6:16:",
                   "protocol tcp needs a DNS name");
        expect_bad(EP "      - {host: redis.example.com., port: 6379, protocol: tcp}\n", "t.yaml:6:16:",
                   "omit the DNS root dot");
        expect_bad(EP "      - {host: a.example.com, port: 443, protocol: tcp, access: full}\n", "t.yaml:6:9:",
                   "protocol tcp does not support L7 fields: access");
        expect_bad(EP "      - {host: a.example.com, port: 443, protocol: tcp, enforcement: audit, path: /x}\n",
                   "t.yaml:6:9:", "L7 fields: path, enforcement");
        expect_bad(EP "      - {host: a.example.com, port: 443, protocol: tcp, mcp: {}}\n", "t.yaml:6:9:",
                   "L7 fields: mcp");
        expect_bad(EP "      - {host: a.example.com, port: 443, protocol: tcp, websocket_credential_rewrite: true}\n",
                   "t.yaml:6:9:", "websocket_credential_rewrite");
}

Test(policy_net, protocol_values) {
        expect_bad(EP "      - {host: a.com, port: 21, protocol: ftp}\n", "t.yaml:6:43:", "unknown protocol 'ftp'");
        expect_bad(EP "      - {host: a.com, port: 21, protocol: [rest]}\n", "t.yaml:6:43:", "expected a string");
}

#define L7(fields) EP "      - {host: api.example.com, port: 443, " fields "}\n"

Test(policy_l7, field_values) {
        expect_bad(L7("protocol: rest, enforcement: block, access: full"), "t.yaml:6:", "'block' is not one of enforce | audit");
        expect_bad(L7("protocol: rest, access: readonly"), "t.yaml:6:", "'readonly' is not one of read-only | read-write | full");
        expect_bad(L7("protocol: rest, access: full, tls: mitm"), "t.yaml:6:", "'mitm' is not one of terminate | passthrough | skip");
        expect_bad(L7("protocol: rest, access: full, path: api"), "t.yaml:6:", "path must start with '/'");
        expect_bad(L7("protocol: rest, access: full, credential_signing: sigv5, signing_service: s3"), "t.yaml:6:",
                   "'sigv5' is not one of sigv4");
        expect_bad(L7("protocol: graphql, access: full, persisted_queries: allow"), "t.yaml:6:",
                   "is not one of deny | allow_registered");
        expect_bad(L7("protocol: rest, access: full, allow_encoded_slash: 1"), "t.yaml:6:", "expected true or false");
        expect_bad(L7("protocol: rest, access: full, credential_binding: {}"), "t.yaml:6:", "needs 'provider'");
        expect_bad(L7("protocol: rest, access: full, credential_binding: {provider: p, x: 1}"), "t.yaml:6:",
                   "unknown key 'x'");
        expect_bad(L7("protocol: mcp, rules: [{allow: {method: initialize}}], mcp: {max_body_bytes: -1}"),
                   "t.yaml:6:", "out of range");
        expect_bad(L7("protocol: mcp, rules: [{allow: {method: initialize}}], mcp: {strict: true}"),
                   "t.yaml:6:", "unknown key 'strict'");
        expect_bad(L7("protocol: json-rpc, rules: [{allow: {method: x}}], json_rpc: {max_body: 1}"),
                   "t.yaml:6:", "unknown key 'max_body'");
        expect_bad(L7("protocol: rest, rules: [{allow: {method: GET, path: /x, verb: GET}}]"), "t.yaml:6:",
                   "unknown key 'verb'");
        expect_bad(L7("protocol: rest, rules: [{deny: {method: GET}}]"), "t.yaml:6:", "unknown key 'deny'");
        expect_bad(L7("protocol: rest, rules: [{}]"), "t.yaml:6:", "needs 'allow'");
        expect_bad(L7("protocol: rest, rules: [{allow: {method: GET, path: /x, query: {a: [1]}}}]"), "t.yaml:6:",
                   "expected a glob or { any: [...] }");
        expect_bad(L7("protocol: rest, rules: [{allow: {method: GET, path: /x, query: {a: {all: [x]}}}}]"),
                   "t.yaml:6:", "unknown key 'all'");
}

Test(policy_l7, combinations) {
        expect_bad(L7("protocol: rest, access: full, rules: [{allow: {method: GET, path: /x}}]"), "t.yaml:6:9:",
                   "rules and access are mutually exclusive");
        expect_bad(L7("protocol: rest"), "t.yaml:6:9:", "protocol rest requires rules or access");
        expect_bad(L7("protocol: rest, rules: []"), "t.yaml:6:", "an empty list is not allowed");
        expect_bad(L7("protocol: rest, access: full, deny_rules: []"), "t.yaml:6:", "an empty list is not allowed");
        expect_bad(L7("protocol: rest, rules: [{allow: {}}]"), "t.yaml:6:9:", "rules would deny all traffic");
        expect_bad(L7("protocol: json-rpc, access: full"), "t.yaml:6:9:", "does not support access presets");
        expect_bad(L7("protocol: mcp, access: read-only"), "t.yaml:6:9:", "does not support access presets");
        expect_bad(L7("protocol: json-rpc"), "t.yaml:6:9:", "json-rpc requires rules");
        expect_bad(L7("protocol: mcp"), "t.yaml:6:9:", "mcp requires rules unless");
        expect_bad(L7("access: full, deny_rules: [{method: POST, path: /x}]"), "t.yaml:6:9:",
                   "deny_rules require an L7 protocol");
        /* OpenShell's "deny_rules require rules or access" is shadowed by the rule above. */
        expect_bad(L7("protocol: websocket, deny_rules: [{method: GET, path: /x}]"), "t.yaml:6:9:",
                   "requires rules or access");
        expect_bad(L7("protocol: rest, access: full, credential_signing: sigv4"), "t.yaml:6:9:",
                   "credential_signing needs signing_service");
        expect_bad(L7("protocol: rest, access: full, credential_signing: sigv4, signing_service: s3, request_body_credential_rewrite: true"),
                   "t.yaml:6:9:", "mutually exclusive");
        expect_bad(L7("protocol: sql, access: full, enforcement: enforce"), "t.yaml:6:9:", "SQL enforcement");
        expect_bad(L7("protocol: rest, access: full, mcp: {}"), "t.yaml:6:9:", "only valid with protocol: mcp");
        expect_bad(L7("protocol: graphql, rules: [{allow: {operation_type: delete}}]"), "t.yaml:6:",
                   "is not one of query | mutation | subscription");
        expect_bad(L7("protocol: graphql, rules: [{allow: {operation_name: X}}]"), "t.yaml:6:",
                   "operation_type must be");
        expect_bad(L7("protocol: graphql, access: full, graphql_persisted_queries: {h1: {operation_name: x}}"),
                   "t.yaml:6:", "needs operation_type");

        /* The good combinations. */
        {
                static const char *const good[] = {
                        L7("protocol: mcp, mcp: {allow_all_known_mcp_methods: true}"),
                        L7("protocol: mcp, mcp: {allow_all_known_mcp_methods: true}, deny_rules: [{method: tools/call, tool: rm}]"),
                        L7("protocol: mcp, rules: [{allow: {method: tools/call, tool: {any: [a, b]}}}], mcp: {strict_tool_names: false, max_body_bytes: 131072}"),
                        L7("protocol: json-rpc, rules: [{allow: {method: '*'}}], deny_rules: [{method: reports.delete}], json_rpc: {max_body_bytes: 1024}"),
                        L7("protocol: graphql, access: read-write, persisted_queries: allow_registered, graphql_persisted_queries: {abc: {operation_type: query, fields: [viewer]}}, graphql_max_body_bytes: 65536"),
                        L7("protocol: rest, rules: [{allow: {method: GET, path: '/**/info/refs*', query: {service: 'git-*', tag: {any: ['v1.*']}}}}]"),
                        L7("protocol: websocket, access: read-write, deny_rules: [{method: WEBSOCKET_TEXT, path: '/admin/**'}]"),
                        L7("protocol: rest, access: full, tls: skip, allow_encoded_slash: true, path: /v1/**"),
                        L7("protocol: sql, access: full, enforcement: audit"),
                        L7("protocol: rest, access: full, credential_signing: 'sigv4:body', signing_service: bedrock, signing_region: us-east-1"),
                        L7("protocol: mcp, rules: [{allow: {method: tools/call, params: {name: {any: [x]}, nested: {deep: y}}}}]"),
                };

                for (size_t i = 0; i < ELEMENTSOF(good); i++)
                        policy_free(load_ok(good[i]));
        }
}

Test(policy_l7, verdicts) {
        struct policy *p;

        /* enforce + read-only: a restriction L4 cannot honour → refused. */
        p = load_ok(L7("protocol: rest, enforcement: enforce, access: read-only"));
        cr_assert(ep0(p)->l7_enforced);
        cr_assert_not(ep0(p)->l7_audit);
        cr_assert_str_eq(ep0(p)->l7_fields, "enforcement: enforce, access: read-only");
        policy_free(p);

        /* enforcement absent = audit → degraded. */
        p = load_ok(L7("protocol: rest, access: read-only"));
        cr_assert_not(ep0(p)->l7_enforced);
        cr_assert(ep0(p)->l7_audit);
        cr_assert(strstr(ep0(p)->l7_fields, "protocol: rest"), "%s", ep0(p)->l7_fields);
        policy_free(p);

        /* access: full restricts nothing → degraded even when enforced. */
        p = load_ok(L7("protocol: rest, enforcement: enforce, access: full"));
        cr_assert_not(ep0(p)->l7_enforced);
        cr_assert(ep0(p)->l7_audit);
        policy_free(p);

        /* enforce + rules → refused; any deny_rules → refused, even in audit. */
        p = load_ok(L7("protocol: rest, enforcement: enforce, rules: [{allow: {method: GET, path: /x}}]"));
        cr_assert(ep0(p)->l7_enforced);
        cr_assert(strstr(ep0(p)->l7_fields, "rules"));
        policy_free(p);
        p = load_ok(L7("protocol: rest, access: full, deny_rules: [{method: POST, path: /x}]"));
        cr_assert(ep0(p)->l7_enforced);
        cr_assert_str_eq(ep0(p)->l7_fields, "deny_rules");
        policy_free(p);

        /* Credential rewriting and signing → refused; binding loosens → degraded. */
        p = load_ok(L7("protocol: rest, access: full, request_body_credential_rewrite: true"));
        cr_assert(ep0(p)->l7_enforced);
        policy_free(p);
        p = load_ok(L7("protocol: rest, access: full, credential_signing: sigv4, signing_service: s3"));
        cr_assert(ep0(p)->l7_enforced);
        cr_assert(strstr(ep0(p)->l7_fields, "credential_signing: sigv4"));
        policy_free(p);
        p = load_ok(L7("protocol: rest, access: full, credential_binding: {provider: work-gcp}"));
        cr_assert_not(ep0(p)->l7_enforced);
        cr_assert(ep0(p)->l7_audit);
        cr_assert_str_eq(ep0(p)->l7.credential_binding, "work-gcp");
        policy_free(p);
        p = load_ok(L7("allow_uninspected_credentials: true"));
        cr_assert(ep0(p)->l7_audit);
        policy_free(p);

        /* Plain L4, and tls alone, get no L7 verdict. */
        p = load_ok(L7("tls: skip"));
        cr_assert_not(ep0(p)->l7_enforced);
        cr_assert_not(ep0(p)->l7_audit);
        cr_assert_null(ep0(p)->l7_fields);
        policy_free(p);
}

Test(policy_l7, allows_nothing_has_no_verdict) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "network_policies:\n  e:\n    endpoints:\n"
                  "      - {host: a.com, port: 443, protocol: rest, enforcement: enforce, access: read-only}\n");

        cr_assert(p->network[0].allows_nothing);
        cr_assert_not(ep0(p)->l7_enforced, "an entry that allows nothing never makes run refuse");
        cr_assert_not(ep0(p)->l7_audit);
}

/* ---------------------------------------------------------------- network_middlewares */

#define MW V "network_middlewares:\n  guard:\n"

Test(policy_mw, good_and_selection) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                MW "    name: Redact tokens\n    middleware: openshell/regex\n    order: 10\n"
                   "    config: {mode: redact, terms: [a, b], nested: {x: [1, {y: 2}]}}\n"
                   "    on_error: fail_open\n"
                   "    endpoints:\n      include: ['*.example.com']\n      exclude: [trusted.example.com]\n"
                   "network_policies:\n"
                   "  api:\n    endpoints:\n      - {host: api.example.com, port: 443}\n"
                   "      - {host: trusted.example.com, port: 443}\n      - {host: other.org, port: 443}\n"
                   "      - {port: 443, allowed_ips: [10.0.0.0/8]}\n"
                   "    binaries: [{path: /usr/bin/curl}]\n");
        const struct policy_network_entry *e = &p->network[0];

        cr_assert(p->has_network_middlewares);
        cr_assert_eq(p->n_middlewares, 1);
        cr_assert_str_eq(p->middleware_names[0], "guard");
        cr_assert_str_eq(p->middlewares[0].name, "Redact tokens");
        cr_assert_str_eq(p->middlewares[0].middleware, "openshell/regex");
        cr_assert_eq(p->middlewares[0].order, 10);
        cr_assert_str_eq(p->middlewares[0].on_error, "fail_open");
        cr_assert_eq(p->middlewares[0].n_include, 1);
        cr_assert_eq(p->middlewares[0].n_exclude, 1);
        /* Selected whatever on_error says: caisson runs no middleware. */
        cr_assert(e->endpoints[0].l7_enforced);
        cr_assert_str_eq(e->endpoints[0].refused_by, "network_middlewares.guard");
        cr_assert_not(e->endpoints[1].l7_enforced, "excluded");
        cr_assert_not(e->endpoints[2].l7_enforced, "not included");
        cr_assert(e->endpoints[3].l7_enforced, "hostless: any name may reach it");
}

Test(policy_mw, rejected) {
        expect_bad(MW "    endpoints: {include: [a.com]}\n", "t.yaml:4:5:", "needs 'middleware'");
        expect_bad(MW "    middleware: ''\n    endpoints: {include: [a.com]}\n", "t.yaml:4:17:", "needs 'middleware'");
        expect_bad(MW "    middleware: m\n", "t.yaml:4:5:", "needs 'endpoints'");
        expect_bad(MW "    middleware: m\n    endpoints: {include: []}\n", "t.yaml:5:16:", "include must list at least one");
        expect_bad(MW "    middleware: m\n    endpoints: {exclude: [a.com]}\n", "t.yaml:5:16:", "include must list");
        expect_bad(MW "    middleware: m\n    endpoints: {include: [a.com], only: [b]}\n", "t.yaml:5:", "unknown key 'only'");
        expect_bad(MW "    middleware: m\n    endpoints: {include: ['{a,b}.com']}\n", "t.yaml:5:", "brace alternates");
        expect_bad(MW "    middleware: m\n    endpoints: {include: ['*']}\n", "t.yaml:5:", "bare wildcard");
        expect_bad(MW "    middleware: m\n    on_error: ignore\n    endpoints: {include: [a.com]}\n", "t.yaml:5:15:",
                   "'ignore' is not one of fail_closed | fail_open");
        expect_bad(MW "    middleware: m\n    order: 1.5\n    endpoints: {include: [a.com]}\n", "t.yaml:5:12:",
                   "expected an integer");
        expect_bad(MW "    middleware: m\n    config: [x]\n    endpoints: {include: [a.com]}\n", "t.yaml:5:13:",
                   "expected a mapping");
        expect_bad(MW "    middleware: m\n    hooks: []\n    endpoints: {include: [a.com]}\n", "t.yaml:5:5:",
                   "unknown key 'hooks'");
        expect_bad(V "network_middlewares:\n  a: {middleware: m, order: 1, endpoints: {include: [a.com]}}\n"
                     "  b: {middleware: m, order: 1, endpoints: {include: [b.com]}}\n",
                   "t.yaml:4:", "orders must be unique");
        expect_bad(V "network_middlewares:\n  '': {middleware: m, endpoints: {include: [a.com]}}\n", "t.yaml:3:",
                   "must not be empty");
}

Test(policy_mw, limits) {
        char y[8192];
        size_t n = (size_t) snprintf(y, sizeof y, V "network_middlewares:\n");
        struct policy *p;

        for (int i = 0; i < 10; i++)
                n += (size_t) snprintf(y + n, sizeof y - n,
                                       "  m%d: {middleware: x, order: %d, endpoints: {include: [a%d.com]}}\n", i, i, i);
        p = load_ok(y);
        cr_assert_eq(p->n_middlewares, 10);
        policy_free(p);
        (void) snprintf(y + n, sizeof y - n, "  m10: {middleware: x, order: 10, endpoints: {include: [b.com]}}\n");
        expect_bad(y, "t.yaml:3:", "more than 10");

        n = (size_t) snprintf(y, sizeof y, MW "    middleware: m\n    endpoints:\n      include:\n");
        for (int i = 0; i < 20; i++)
                n += (size_t) snprintf(y + n, sizeof y - n, "        - h%d.example.com\n", i);
        n += (size_t) snprintf(y + n, sizeof y - n, "      exclude:\n");
        for (int i = 0; i < 12; i++)
                n += (size_t) snprintf(y + n, sizeof y - n, "        - x%d.example.com\n", i);
        p = load_ok(y); /* 32 patterns */
        policy_free(p);
        (void) snprintf(y + n, sizeof y - n, "        - one-more.example.com\n");
        expect_bad(y, "t.yaml:6:7:", "more than 32");
}

Test(policy_mw, pair_budget, .timeout = 10) {
        /* 10 × 32 patterns against 205 endpoints: 65600 pairs, just over the budget. */
        size_t cap = 65536, n;
        _cleanup_free_ char *y = malloc(cap);

        n = (size_t) snprintf(y, cap, V "network_middlewares:\n");
        for (int m = 0; m < 10; m++) {
                n += (size_t) snprintf(y + n, cap - n, "  m%d:\n    middleware: x\n    order: %d\n    endpoints:\n      include: [", m, m);
                for (int k = 0; k < 32; k++)
                        n += (size_t) snprintf(y + n, cap - n, "%sp%d.example.com", k ? "," : "", k);
                n += (size_t) snprintf(y + n, cap - n, "]\n");
        }
        n += (size_t) snprintf(y + n, cap - n, "network_policies:\n  e:\n    binaries: [{path: /x}]\n    endpoints:\n");
        for (int i = 0; i < 204; i++)
                n += (size_t) snprintf(y + n, cap - n, "      - {host: h%d.example.com, port: 1}\n", i);
        policy_free(load_ok(y));
        (void) snprintf(y + n, cap - n, "      - {host: last.example.com, port: 1}\n");
        expect_bad(y, "t.yaml:3:3:", "more than 65536 pairs");
}

Test(policy_net, endpoint_total, .timeout = 10) {
        size_t cap = 1 << 20, n;
        _cleanup_free_ char *y = malloc(cap);

        n = (size_t) snprintf(y, cap, V "network_policies:\n");
        for (int e = 0; e < 2; e++) {
                n += (size_t) snprintf(y + n, cap - n, "  e%d:\n    endpoints:\n", e);
                for (int i = 0; i < 2048; i++)
                        n += (size_t) snprintf(y + n, cap - n, "      - {host: h%d.example.com, port: 1}\n", i);
        }
        policy_free(load_ok(y)); /* 4096 in all */
        (void) snprintf(y + n, cap - n, "  e9:\n    endpoints: [{host: x.com, port: 1}]\n");
        expect_bad(y, "t.yaml:4104:17:", "more than 4096 endpoints in all");
}

/* ---------------------------------------------------------------- caisson extensions */

Test(policy_ext, resources) {
        struct policy *p = load_ok(V "resources:\n  memory: 512M\n  pids: 256\n  cpu: 0.5\n  on_unsupported: warn\n");

        cr_assert(p->has_resources);
        cr_assert_eq(p->resources.memory_bytes, 512ULL << 20);
        cr_assert_eq(p->resources.pids, 256);
        cr_assert_eq(p->resources.cpu_millis, 500);
        cr_assert_eq(p->resources.on_unsupported, CAISSON_UNSUPPORTED_WARN);
        policy_free(p);
        p = load_ok(V "resources: {memory: 2G, cpu: \"250m\"}\n");
        cr_assert_eq(p->resources.memory_bytes, 2ULL << 30);
        cr_assert_eq(p->resources.cpu_millis, 250);
        cr_assert_eq(p->resources.on_unsupported, CAISSON_UNSUPPORTED_REFUSE, "refuse by default");
        policy_free(p);
        p = load_ok(V "resources: {memory: 1073741824, cpu: 2}\n");
        cr_assert_eq(p->resources.memory_bytes, 1073741824ULL);
        cr_assert_eq(p->resources.cpu_millis, 2000);
        policy_free(p);
        p = load_ok(V "resources: {cpu: 1.25}\n");
        cr_assert_eq(p->resources.cpu_millis, 1250);
        cr_assert_eq(p->resources.memory_bytes, 0);
        policy_free(p);
}

Test(policy_ext, resources_rejected) {
        expect_bad(V "resources:\n  memory: lots\n", "t.yaml:3:11:", "not a size");
        expect_bad(V "resources:\n  memory: 0\n", "t.yaml:3:11:", "not a size");
        expect_bad(V "resources:\n  memory: 512\n", "t.yaml:3:11:", "less than 1M");
        expect_bad(V "resources:\n  memory: 99999999999999999999G\n", "t.yaml:3:11:", "not a size");
        expect_bad(V "resources:\n  pids: 0\n", "t.yaml:3:9:", "out of range");
        expect_bad(V "resources:\n  pids: many\n", "t.yaml:3:9:", "expected an integer");
        expect_bad(V "resources:\n  cpu: 0\n", "t.yaml:3:8:", "not a number of cores");
        expect_bad(V "resources:\n  cpu: 0m\n", "t.yaml:3:8:", "not a number of cores");
        expect_bad(V "resources:\n  cpu: -1\n", "t.yaml:3:8:", "not a number of cores");
        expect_bad(V "resources:\n  cpu: 1.0005\n", "t.yaml:3:8:", "not a number of cores");
        expect_bad(V "resources:\n  cpu: 2 cores\n", "t.yaml:3:8:", "not a number of cores");
        expect_bad(V "resources:\n  on_unsupported: ignore\n", "t.yaml:3:19:", "'ignore' is not one of refuse | warn");
}

Test(policy_ext, seccomp) {
        struct policy *p = load_ok(V "seccomp:\n  deny: [kcmp, io_uring_setup]\n  allow: [ptrace]\n  on_violation: kill\n");

        cr_assert_eq(p->n_seccomp_deny, 2);
        cr_assert_str_eq(p->seccomp_deny[1], "io_uring_setup");
        cr_assert_eq(p->n_seccomp_allow, 1);
        cr_assert_eq(p->seccomp_on_violation, CAISSON_VIOLATION_KILL);
        policy_free(p);
        p = load_ok(V "seccomp: {on_violation: errno}\n");
        cr_assert_eq(p->seccomp_on_violation, CAISSON_VIOLATION_ERRNO);
        policy_free(p);

        expect_bad(V "seccomp:\n  deny: [Ptrace]\n", "t.yaml:3:10:", "is not a syscall name");
        expect_bad(V "seccomp:\n  deny: [kcmp, 'a-b']\n", "t.yaml:3:16:", "is not a syscall name");
        expect_bad(V "seccomp:\n  allow: ['']\n", "t.yaml:3:11:", "is not a syscall name");
        expect_bad(V "seccomp:\n  allow: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n", "t.yaml:3:11:",
                   "is not a syscall name");
        expect_bad(V "seccomp:\n  on_violation: panic\n", "t.yaml:3:17:", "'panic' is not one of errno | kill");
        expect_bad(V "seccomp:\n  deny: [bpf]\n  allow: [ptrace, bpf]\n", "t.yaml:4:19:", "'bpf' is also in seccomp.deny");
}

Test(policy_ext, persistence) {
        struct policy *p = load_ok(V "persistence: {}\n");

        cr_assert(p->persistence_protect, "protect defaults to true");
        policy_free(p);
        p = load_ok(V "persistence:\n  protect: false\n  extra: ['${WORKDIR}/.tool/hooks', /srv/.profile]\n");
        cr_assert_not(p->persistence_protect);
        cr_assert_eq(p->n_persistence_extra, 2);
        cr_assert_str_eq(p->persistence_extra[0].path, "${WORKDIR}/.tool/hooks");
        cr_assert_eq(p->persistence_extra[1].pos.line, 4);
        policy_free(p);

        expect_bad(V "persistence:\n  extra: [.git/hooks]\n", "t.yaml:3:11:", "is not absolute");
        expect_bad(V "persistence:\n  extra: [/a/../b]\n", "t.yaml:3:11:", "'..'");
        expect_bad(V "persistence:\n  protect: no\n", "t.yaml:3:12:", "expected true or false");
}

Test(policy_ext, env) {
        _cleanup_(policy_freep) struct policy *p =
                load_ok(V "env:\n  FOO: bar\n  _X1: \"a b=c\"\n  N: 1\n  EMPTY: ''\n");

        cr_assert_eq(p->n_env, 4);
        cr_assert_str_eq(p->env[0], "FOO=bar");
        cr_assert_str_eq(p->env[1], "_X1=a b=c");
        cr_assert_str_eq(p->env[2], "N=1");
        cr_assert_str_eq(p->env[3], "EMPTY=");

        expect_bad(V "env:\n  1FOO: x\n", "t.yaml:3:3:", "'1FOO' is not a variable name");
        expect_bad(V "env:\n  A-B: x\n", "t.yaml:3:3:", "is not a variable name");
        expect_bad(V "env:\n  'A=B': x\n", "t.yaml:3:3:", "is not a variable name");
        expect_bad(V "env:\n  A: [x]\n", "t.yaml:3:6:", "env.A: expected a string");
        expect_bad(V "env:\n  A:\n", "t.yaml:3:", "env.A: expected a string");
}

Test(policy_ext, state_directories) {
        struct policy *p = load_ok(V "filesystem_policy:\n  read_write: ['${HOME}/.tool/', /srv]\n"
                                     "state_directories:\n  - ${HOME}/.tool\n  - /srv//a/./b\n");
        struct caisson_error err = {};

        cr_assert_eq(p->n_state_dirs, 2);
        cr_assert_str_eq(p->state_dirs[0].path, "${HOME}/.tool");
        cr_assert_eq(p->state_dirs[1].pos.line, 6);
        cr_assert_eq(policy_expand(p, "/home/u", "/w", &err), 0, "%s", err.msg);
        cr_assert_str_eq(p->state_dirs[0].path, "/home/u/.tool");
        cr_assert_str_eq(p->state_dirs[1].path, "/srv/a/b");
        policy_free(p);

        /* Only where the agent may write: a state directory elsewhere would be made on the
         * host for nothing. */
        expect_bad(V "filesystem_policy:\n  read_only: [/srv]\n  read_write: [/tmp]\n"
                     "state_directories: [/srv/a]\n",
                   "t.yaml:5:21:", "'/srv/a' is not in filesystem_policy.read_write");
        expect_bad(V "state_directories: [/tmp/a]\n", "t.yaml:2:21:", "not in filesystem_policy.read_write");
        expect_bad(V "filesystem_policy:\n  read_write: [/srv/ab]\nstate_directories: [/srv/a]\n",
                   "t.yaml:4:21:", "not in filesystem_policy.read_write");
        expect_bad(V "filesystem_policy:\n  read_write: ['${HOME}/x']\nstate_directories: [/home/u/x]\n",
                   "t.yaml:4:21:", "not in filesystem_policy.read_write");
        expect_bad(V "state_directories: [a/b]\n", "t.yaml:2:21:", "is not absolute");
        expect_bad(V "state_directories: ['/', /tmp]\n", "t.yaml:2:21:", "may not be read-write");
        expect_bad(V "state_directories: /tmp\n", "t.yaml:2:20:", "expected a list");
}

Test(policy_ext, path_within) {
        cr_assert(policy_path_within("/a/b", "/a"));
        cr_assert(policy_path_within("/a/b", "/a/b"));
        cr_assert(policy_path_within("//a/./b/", "/a/b"));
        cr_assert(policy_path_within("/a/b/c", "/a//b/."));
        cr_assert(policy_path_within("${HOME}/.x", "${HOME}"));
        cr_assert(policy_path_within("/a", "/"));
        cr_assert_not(policy_path_within("/ab", "/a"));
        cr_assert_not(policy_path_within("/a", "/a/b"));
        cr_assert_not(policy_path_within("/b/a", "/a"));
        cr_assert_not(policy_path_within("/home/u/x", "${HOME}"));
}

Test(policy_ext, hostname) {
        struct policy *p = load_ok(V "hostname: agent-1\n");

        cr_assert_str_eq(p->hostname, "agent-1");
        cr_assert_eq(p->hostname_pos.line, 2);
        policy_free(p);
        p = load_ok(V "hostname: build.ci.example\n");
        policy_free(p);

        expect_bad(V "hostname: -agent\n", "t.yaml:2:11:", "starting or ending with '-'");
        expect_bad(V "hostname: a_b\n", "t.yaml:2:11:", "RFC 1123");
        expect_bad(V "hostname: a..b\n", "t.yaml:2:11:", "empty or over-long label");
        expect_bad(V "hostname: 'a.'\n", "t.yaml:2:11:", "ends with '.'");
        expect_bad(V "hostname: ''\n", "t.yaml:2:11:", "1 to 64 characters");
        expect_bad(V "hostname: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", "t.yaml:2:11:",
                   "1 to 64 characters");
}

/* ---------------------------------------------------------------- notices */

struct lines {
        char text[4096];
        unsigned n;
};

static void collect(const char *line, void *userdata) {
        struct lines *l = userdata;
        size_t k = strlen(l->text);

        cr_assert_null(strchr(line, '\n'));
        (void) snprintf(l->text + k, sizeof l->text - k, "%s\n", line);
        l->n++;
}

Test(policy_notices, lines) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "network_policies:\n"
                  "  nobin:\n"
                  "    endpoints: [{host: a.com, port: 443, protocol: rest, enforcement: enforce, access: read-only}]\n"
                  "  rel:\n"
                  "    endpoints: [{host: a.com, port: 443}]\n"
                  "    binaries: [{path: curl}]\n"
                  "  web:\n"
                  "    endpoints:\n"
                  "      - {host: '*.example.com', port: 80, ports: [443]}\n"
                  "      - {host: api.github.com, port: 443, protocol: rest, enforcement: enforce, access: read-only}\n"
                  "      - {host: npm.org, port: 443, protocol: rest, access: full, credential_binding: {provider: p}}\n"
                  "      - {port: 5432, allowed_ips: [10.0.0.0/8]}\n"
                  "    binaries: [{path: /usr/bin/curl}]\n");
        struct lines l = {};

        policy_notices(p, collect, &l);
        cr_assert(strstr(l.text, "t.yaml:3:3: network_policies.nobin allows nothing: no binaries; add { path: \"/**\" } to allow any binary\n"),
                  "%s", l.text);
        cr_assert(strstr(l.text, "t.yaml:5:3: network_policies.rel allows nothing: no binary path starts with '/'"), "%s", l.text);
        cr_assert(strstr(l.text, "t.yaml:10:9: network_policies.web: endpoint '*.example.com:443' has both port and ports; ports is used\n"),
                  "%s", l.text);
        cr_assert(strstr(l.text, "t.yaml:10:9: network_policies.web: host '*.example.com' is a DNS channel to that domain's name servers"),
                  "%s", l.text);
        cr_assert(strstr(l.text, "t.yaml:11:9: network_policies.web: endpoint 'api.github.com:443' refused: L7 restriction (enforcement: enforce, access: read-only)"),
                  "%s", l.text);
        cr_assert(strstr(l.text, "--widen-l7"), "%s", l.text);
        cr_assert(strstr(l.text, "t.yaml:12:9: network_policies.web: endpoint 'npm.org:443' degraded:"), "%s", l.text);
        cr_assert(strstr(l.text, "caisson injects no credentials"), "%s", l.text);
        cr_assert(strstr(l.text, "t.yaml:13:9: network_policies.web: endpoint '10.0.0.0/8:5432' has no host"), "%s", l.text);
        /* The allows-nothing entry gets that line only (no refused line for its L7 fields). */
        cr_assert_eq(l.n, 7, "%s", l.text);
}

Test(policy_notices, quiet_policy) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "network_policies:\n  gh:\n    endpoints: [{host: github.com, port: 443}]\n"
                  "    binaries: [{path: /usr/bin/git}]\n");
        struct lines l = {};

        policy_notices(p, collect, &l);
        cr_assert_eq(l.n, 0, "%s", l.text);
}

/* ---------------------------------------------------------------- policy_expand */

Test(policy_expand, variables) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "filesystem_policy:\n  read_only: [/usr/, //etc, /./opt/./x, '${HOME}/.config']\n"
                  "  read_write: ['${WORKDIR}', '${WORKDIR}/out/', /tmp]\n"
                  "persistence:\n  extra: ['${HOME}/.npmrc']\n");
        struct caisson_error err = {};

        cr_assert_eq(policy_expand(p, "/home/u", "/src/proj", &err), 0, "%s", err.msg);
        cr_assert_str_eq(p->read_only[0].path, "/usr");
        cr_assert_str_eq(p->read_only[1].path, "/etc");
        cr_assert_str_eq(p->read_only[2].path, "/opt/x");
        cr_assert_str_eq(p->read_only[3].path, "/home/u/.config");
        cr_assert_str_eq(p->read_write[0].path, "/src/proj");
        cr_assert_str_eq(p->read_write[1].path, "/src/proj/out");
        cr_assert_str_eq(p->persistence_extra[0].path, "/home/u/.npmrc");
        /* Expanding again changes nothing. */
        cr_assert_eq(policy_expand(p, "/home/u", "/src/proj", &err), 0);
        cr_assert_str_eq(p->read_only[3].path, "/home/u/.config");
}

Test(policy_expand, errors) {
        struct caisson_error err = {};
        struct policy *p;

        /* No home known. */
        p = load_ok(V "filesystem_policy:\n  read_only: [/usr, '${HOME}/.config']\n");
        cr_assert_eq(policy_expand(p, NULL, "/w", &err), -EINVAL);
        cr_assert(strncmp(err.msg, "t.yaml:3:21: read_only: '${HOME}/.config' uses ${HOME}, but", 59) == 0, "%s", err.msg);
        cr_assert_str_eq(p->read_only[0].path, "/usr", "all or nothing");
        /* A relative home is not absolute once expanded. */
        cr_assert_eq(policy_expand(p, "relative", "/w", &err), -EINVAL);
        cr_assert(strstr(err.msg, "t.yaml:3:21:") && strstr(err.msg, "not absolute once expanded"), "%s", err.msg);
        /* ".." smuggled in through the value. */
        cr_assert_eq(policy_expand(p, "/home/../etc", "/w", &err), -EINVAL);
        cr_assert(strstr(err.msg, "'..' component once expanded"), "%s", err.msg);
        cr_assert_str_eq(p->read_only[1].path, "${HOME}/.config");
        policy_free(p);

        /* "/" read-write by way of a variable. */
        p = load_ok(V "filesystem_policy:\n  read_write: [/tmp, '${WORKDIR}']\n");
        cr_assert_eq(policy_expand(p, "/h", "/", &err), -EINVAL);
        cr_assert(strstr(err.msg, "t.yaml:3:22:") && strstr(err.msg, "'/' may not be read-write"), "%s", err.msg);
        cr_assert_eq(policy_expand(p, "/h", "//./", &err), -EINVAL);
        cr_assert_eq(policy_expand(p, "/h", NULL, &err), -EINVAL);
        cr_assert(strstr(err.msg, "uses ${WORKDIR}, but no workdir is known"), "%s", err.msg);
        policy_free(p);

        /* Built without the loader's check: an unknown variable is still refused. */
        p = load_ok(V "filesystem_policy:\n  read_only: [/x]\n");
        free(p->read_only[0].path);
        p->read_only[0].path = strdup("${SHELL}/x");
        cr_assert_eq(policy_expand(p, "/h", "/w", &err), -EINVAL);
        cr_assert(strstr(err.msg, "uses ${SHELL}"), "%s", err.msg);
        policy_free(p);
}

/* ---------------------------------------------------------------- shipped and OpenShell policies */

Test(policy_files, default_policy) {
        _cleanup_(policy_freep) struct policy *p = NULL;
        struct caisson_error err = {};

        cr_assert_eq(policy_load_default(&p, &err), 0, "%s", err.msg);
        cr_assert(p->has_filesystem_policy);
        cr_assert(p->include_workdir);
        cr_assert_geq(p->n_read_only, 1);
        cr_assert_not(p->has_network_policies, "the default has no network");
        cr_assert_eq(policy_expand(p, "/home/u", "/w", &err), 0, "%s", err.msg);
}

Test(policy_files, shipped_policies_load) {
        const char *srcdir = getenv("CAISSON_SRCDIR");
        char dir[4096];
        struct dirent *de;
        unsigned n = 0;
        DIR *d;

        cr_assert_not_null(srcdir, "CAISSON_SRCDIR is not set (run through meson test)");
        (void) snprintf(dir, sizeof dir, "%s/policies", srcdir);
        d = opendir(dir);
        cr_assert_not_null(d, "%s", dir);
        while ((de = readdir(d))) {
                _cleanup_(policy_freep) struct policy *p = NULL;
                _cleanup_free_ char *buf = NULL;
                struct caisson_error err = {};
                size_t len = strlen(de->d_name), size;
                char path[8192];

                if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
                        continue;
                (void) snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
                cr_assert_eq(read_full_file(path, POLICY_MAX_BYTES, &buf, &size), 0, "%s", path);
                cr_assert_eq(policy_load(buf, size, de->d_name, &p, &err), 0, "%s", err.msg);
                cr_assert_eq(policy_expand(p, "/home/u", "/w", &err), 0, "%s", err.msg);
                n++;
        }
        closedir(d);
        cr_assert_geq(n, 1, "no policies/*.yaml found");
}

/* Written in the style of OpenShell's example policies (docs/reference/policy-schema.mdx):
 * must load unchanged. */
Test(policy_files, openshell_style) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                "# A coding agent with GitHub, an LLM API and a package registry.\n"
                "version: 1\n"
                "\n"
                "filesystem_policy:\n"
                "  include_workdir: true\n"
                "  read_only: [/usr, /lib, /proc, /dev/urandom, /app, /etc, /var/log]\n"
                "  read_write: [/sandbox, /tmp, /dev/null]\n"
                "\n"
                "landlock:\n"
                "  compatibility: best_effort\n"
                "\n"
                "process:\n"
                "  run_as_user: sandbox\n"
                "  run_as_group: sandbox\n"
                "\n"
                "network_policies:\n"
                "  llm:\n"
                "    name: llm-api\n"
                "    endpoints:\n"
                "      - { host: api.anthropic.com, port: 443 }\n"
                "      - { host: statsig.anthropic.com, port: 443 }\n"
                "    binaries:\n"
                "      - { path: /usr/local/bin/claude }\n"
                "      - { path: \"/home/*/.local/bin/claude\" }\n"
                "  github_git:\n"
                "    name: github-git\n"
                "    endpoints:\n"
                "      - host: github.com\n"
                "        port: 443\n"
                "        protocol: rest\n"
                "        enforcement: enforce\n"
                "        rules:\n"
                "          - allow:\n"
                "              method: GET\n"
                "              path: \"/**/info/refs*\"\n"
                "              query:\n"
                "                service: \"git-*\"\n"
                "          - allow:\n"
                "              method: POST\n"
                "              path: \"/**/git-upload-pack\"\n"
                "    binaries:\n"
                "      - { path: /usr/bin/git }\n"
                "  npm:\n"
                "    endpoints:\n"
                "      - host: registry.npmjs.org\n"
                "        port: 443\n"
                "        protocol: rest\n"
                "        access: read-only\n"
                "        allow_encoded_slash: true\n"
                "    binaries:\n"
                "      - path: /usr/bin/npm\n"
                "      - path: /usr/bin/node\n"
                "        harness: false\n"
                "  internal:\n"
                "    endpoints:\n"
                "      - host: \"*.corp.example.com\"\n"
                "        ports: [443, 8443]\n"
                "        allowed_ips: [\"10.0.0.0/8\", \"172.16.0.0/12\"]\n"
                "      - port: 5432\n"
                "        allowed_ips: [\"10.20.0.0/16\"]\n"
                "    binaries:\n"
                "      - { path: \"/sandbox/.venv/bin/**\" }\n"
                "  redis:\n"
                "    endpoints:\n"
                "      - { host: cache.example.com, port: 6379, protocol: tcp }\n"
                "    binaries:\n"
                "      - { path: /usr/bin/redis-cli }\n"
                "  mcp_search:\n"
                "    endpoints:\n"
                "      - host: mcp.example.com\n"
                "        port: 443\n"
                "        path: /mcp\n"
                "        protocol: mcp\n"
                "        enforcement: enforce\n"
                "        mcp: { max_body_bytes: 131072 }\n"
                "        rules:\n"
                "          - allow: { method: initialize }\n"
                "          - allow: { method: notifications/initialized }\n"
                "          - allow: { method: tools/call, tool: search_web }\n"
                "        deny_rules:\n"
                "          - { method: tools/call, tool: send_email }\n"
                "    binaries:\n"
                "      - { path: \"/**\" }\n"
                "  anthropic_advisor:\n"
                "    endpoints:\n"
                "      - { host: api.anthropic.com, port: 443 }\n"
                "\n"
                "network_middlewares:\n"
                "  redactor:\n"
                "    name: Redact API tokens\n"
                "    middleware: openshell/regex\n"
                "    order: 10\n"
                "    config: { mode: redact }\n"
                "    on_error: fail_closed\n"
                "    endpoints:\n"
                "      include: [\"*.corp.example.com\"]\n"
                "      exclude: [\"trusted.corp.example.com\"]\n");
        struct caisson_error err = {};

        cr_assert_eq(p->n_network, 7);
        cr_assert_str_eq(p->network[0].name, "llm-api");
        cr_assert(p->network[1].endpoints[0].l7_enforced, "github enforce+rules");
        cr_assert(p->network[2].endpoints[0].l7_audit, "npm audit");
        cr_assert(p->network[3].endpoints[0].l7_enforced, "middleware");
        cr_assert_eq(p->network[3].endpoints[0].n_ports, 2);
        cr_assert_null(p->network[3].endpoints[1].host);
        cr_assert_str_eq(p->network[4].endpoints[0].protocol, "tcp");
        cr_assert(p->network[5].endpoints[0].l7_enforced);
        cr_assert(p->network[6].allows_nothing);
        cr_assert_eq(policy_expand(p, "/home/u", "/w", &err), 0, "%s", err.msg);
}

/* ---------------------------------------------------------------- pure helpers */

Test(policy_helpers, host_match) {
        cr_assert(policy_host_match("api.example.com", "API.example.com"));
        cr_assert(policy_host_match("*.example.com", "a.example.com"));
        cr_assert_not(policy_host_match("*.example.com", "a.b.example.com"));
        cr_assert_not(policy_host_match("*.example.com", "example.com"));
        cr_assert(policy_host_match("**.example.com", "a.b.example.com"));
        cr_assert(policy_host_match("**.example.com", "a.example.com"));
        cr_assert_not(policy_host_match("**.example.com", "example.com"));
        cr_assert(policy_host_match("*-ai.googleapis.com", "us-ai.googleapis.com"));
        cr_assert_not(policy_host_match("*-ai.googleapis.com", "us-ml.googleapis.com"));
        cr_assert(policy_host_match("api.*.example.com", "api.eu.example.com"));
        cr_assert(policy_host_match("example.com.", "example.com"));
        cr_assert_not(policy_host_match("example.com", "example.org"));
}

Test(policy_helpers, cidr) {
        struct policy_cidr c;

        cr_assert_eq(policy_parse_cidr("10.1.2.3/8", &c), 0);
        cr_assert_eq(c.family, AF_INET);
        cr_assert_eq(c.prefix, 8);
        cr_assert_eq(c.addr[0], 10);
        cr_assert_eq(c.addr[1], 0, "host bits cleared");
        cr_assert_eq(policy_parse_cidr("2001:db8::/32", &c), 0);
        cr_assert_eq(c.family, AF_INET6);
        cr_assert_eq(policy_parse_cidr("10.0.0.0/0009", &c), -EINVAL);
        cr_assert_eq(policy_parse_cidr("", &c), -EINVAL);
        cr_assert_eq(policy_parse_cidr("/8", &c), -EINVAL);
}
