/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bytes → YAML → struct policy.
 *
 * Two steps. First libyaml's *event* API builds a small tree of our own (struct ynode): we see
 * every node as it is made, so the limits hold while parsing, not after — input bytes
 * (POLICY_MAX_BYTES), nesting depth, anchors, and the node count *after* alias expansion
 * (an alias bomb is refused when its weight passes POLICY_MAX_NODES, having cost only the
 * nodes written in the file; aliases share the anchored subtree, they are never copied).
 * libyaml's document API would build the whole document before we could count anything.
 * Then a schema walk turns the tree into struct policy: unknown keys, wrong types and
 * duplicate keys are errors (OpenShell's structs deny unknown fields), each naming
 * file:line:col of the offending node. Cross-field rules live in policy-validate.c. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "default-policy.h"
#include "error.h"
#include "macro.h"
#include "policy.h"
#include "util.h"

enum ynode_type {
        YNODE_SCALAR,
        YNODE_SEQ,
        YNODE_MAP,
};

struct ynode {
        enum ynode_type type;
        struct policy_pos pos;
        bool plain;              /* scalar written without quotes (may be an int/bool/null) */
        char *value;             /* scalar, NUL-terminated (embedded NULs are refused) */
        size_t len;
        struct ynode **items;    /* seq: items; map: key, value, key, value, ... */
        size_t n_items, n_alloc;
        uint64_t weight;         /* nodes in this subtree, aliases expanded */
        struct ynode *all_next;  /* every node is on the document's list, for freeing */
};

struct anchor {
        char *name;
        struct ynode *node;
};

struct ydoc {
        struct ynode *all;       /* owns every node */
        size_t n_nodes;
        struct ynode *root;
        struct anchor anchors[POLICY_MAX_ANCHORS];
        size_t n_anchors;
};

struct ctx {
        const char *filename;
        struct caisson_error *err;
        struct policy *p;
        size_t n_endpoints;
};

static void ydoc_done(struct ydoc *d) {
        while (d->all) {
                struct ynode *n = d->all;

                d->all = n->all_next;
                free(n->value);
                free(n->items);
                free(n);
        }
        for (size_t i = 0; i < d->n_anchors; i++)
                free(d->anchors[i].name);
        d->n_anchors = 0;
}

/* A user string as it may appear in a one-line message: at most 60 bytes, control characters
 * shown as '?', so a policy cannot forge terminal escapes or a second line. */
static const char *shorten(const char *s, char buf[static 72]) {
        size_t i = 0;

        for (; s[i] && i < 60; i++)
                buf[i] = ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
        if (s[i]) {
                memcpy(buf + i, "...", 3);
                i += 3;
        }
        buf[i] = 0;
        return buf;
}

static int fail_pos(struct ctx *c, struct policy_pos pos, enum caisson_reason reason,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_pos(struct ctx *c, struct policy_pos pos, enum caisson_reason reason,
                    const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = policy_fail_at(c->err, reason, c->filename, pos, fmt, ap);
        va_end(ap);
        return r;
}

#define fail_at(c, node, ...) fail_pos((c), (node)->pos, CAISSON_REASON_POLICY_INVALID, __VA_ARGS__)

static int oom(struct ctx *c) {
        return cs_fail(c->err, CAISSON_LAYER_POLICY, CAISSON_REASON_NO_MEMORY, ENOMEM,
                       "%s: out of memory", c->filename);
}

static struct policy_pos mark_pos(yaml_mark_t m) {
        return (struct policy_pos) { .line = (unsigned) m.line + 1,
                                     .column = (unsigned) m.column + 1 };
}

/* libyaml reports reader errors (invalid UTF-8, control characters) by byte offset only. */
static struct policy_pos offset_pos(const char *buf, size_t len, size_t offset) {
        struct policy_pos pos = { 1, 1 };

        for (size_t i = 0; i < offset && i < len; i++) {
                if (buf[i] == '\n') {
                        pos.line++;
                        pos.column = 1;
                } else if (((unsigned char) buf[i] & 0xc0) != 0x80)
                        pos.column++; /* count characters, not UTF-8 continuation bytes */
        }
        return pos;
}

static int parser_fail(struct ctx *c, const yaml_parser_t *parser, const char *buf, size_t len) {
        struct policy_pos pos;

        if (parser->error == YAML_MEMORY_ERROR)
                return oom(c);
        if (parser->error == YAML_READER_ERROR) {
                pos = offset_pos(buf, len, parser->problem_offset);
                return fail_pos(c, pos, CAISSON_REASON_POLICY_SYNTAX,
                                "not valid UTF-8 YAML text: %s",
                                parser->problem ? parser->problem : "reader error");
        }
        pos = mark_pos(parser->problem_mark);
        if (parser->context)
                return fail_pos(c, pos, CAISSON_REASON_POLICY_SYNTAX, "YAML syntax: %s: %s",
                                parser->context, parser->problem ? parser->problem : "error");
        return fail_pos(c, pos, CAISSON_REASON_POLICY_SYNTAX, "YAML syntax: %s",
                        parser->problem ? parser->problem : "error");
}

static int ynode_new(struct ctx *c, struct ydoc *d, enum ynode_type type, yaml_mark_t start,
                     struct ynode **ret) {
        struct ynode *n;

        if (d->n_nodes >= POLICY_MAX_NODES)
                return fail_pos(c, mark_pos(start), CAISSON_REASON_POLICY_TOO_LARGE,
                                "more than %d YAML nodes", POLICY_MAX_NODES);
        n = calloc(1, sizeof *n);
        if (!n)
                return oom(c);
        n->type = type;
        n->pos = mark_pos(start);
        n->weight = 1;
        n->all_next = d->all;
        d->all = n;
        d->n_nodes++;
        *ret = n;
        return 0;
}

static int ynode_append(struct ctx *c, struct ynode *parent, struct ynode *child) {
        /* Weight counts the subtree with every alias expanded: the walk below visits that
         * many nodes, so bounding it bounds the time an alias bomb can cost us. */
        if (parent->weight + child->weight > POLICY_MAX_NODES)
                return fail_pos(c, child->pos, CAISSON_REASON_POLICY_TOO_LARGE,
                                "more than %d YAML nodes once aliases are expanded",
                                POLICY_MAX_NODES);
        if (parent->n_items == parent->n_alloc) {
                size_t n = parent->n_alloc ? parent->n_alloc * 2 : 8;
                struct ynode **items = reallocarray(parent->items, n, sizeof *items);

                if (!items)
                        return oom(c);
                parent->items = items;
                parent->n_alloc = n;
        }
        parent->items[parent->n_items++] = child;
        parent->weight += child->weight;
        return 0;
}

static int key_cmp(const void *a, const void *b) {
        const struct ynode *x = *(const struct ynode *const *) a, *y = *(const struct ynode *const *) b;
        int r = strcmp(x->value, y->value);

        if (r != 0)
                return r;
        if (x->pos.line != y->pos.line)
                return x->pos.line < y->pos.line ? -1 : 1;
        return x->pos.column < y->pos.column ? -1 : x->pos.column > y->pos.column;
}

/* Keys must be scalars and unique. Sorted, so a 50000-key map costs n log n, not n². */
static int map_check_keys(struct ctx *c, const struct ynode *map) {
        _cleanup_free_ const struct ynode **keys = NULL;
        size_t n = map->n_items / 2;
        char b[72];

        for (size_t i = 0; i < n; i++)
                if (map->items[2 * i]->type != YNODE_SCALAR)
                        return fail_at(c, map->items[2 * i], "mapping keys must be plain strings");
        if (n < 2)
                return 0;
        keys = malloc(n * sizeof *keys);
        if (!keys)
                return oom(c);
        for (size_t i = 0; i < n; i++)
                keys[i] = map->items[2 * i];
        qsort(keys, n, sizeof *keys, key_cmp);
        for (size_t i = 1; i < n; i++)
                if (streq(keys[i - 1]->value, keys[i]->value)) {
                        /* The same alias used twice as a key is one node: report the map. */
                        const struct ynode *k = keys[i] == keys[i - 1] ? map : keys[i];

                        return fail_at(c, k, "duplicate key '%s'", shorten(keys[i]->value, b));
                }
        return 0;
}

static int yaml_build(struct ctx *c, const char *buf, size_t len, struct ydoc *d) {
        struct ynode *stack[POLICY_MAX_DEPTH];
        char *stack_anchor[POLICY_MAX_DEPTH];
        size_t depth = 0;
        unsigned n_docs = 0;
        yaml_parser_t parser;
        bool done = false;
        int r = 0;

        if (!yaml_parser_initialize(&parser))
                return oom(c);
        /* Only UTF-8: a UTF-16 BOM is then an error, not a different reading of the bytes. */
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
        yaml_parser_set_input_string(&parser, (const unsigned char *) buf, len);

        while (!done && r >= 0) {
                struct ynode *n = NULL;
                const char *anchor = NULL, *a;
                char *owned_anchor = NULL;
                yaml_event_t ev;
                char b[72];

                if (!yaml_parser_parse(&parser, &ev)) {
                        r = parser_fail(c, &parser, buf, len);
                        break;
                }

                switch (ev.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        if (++n_docs > 1)
                                r = fail_pos(c, mark_pos(ev.start_mark),
                                             CAISSON_REASON_POLICY_SYNTAX,
                                             "a policy is one YAML document, found a second");
                        break;
                case YAML_ALIAS_EVENT: {
                        const char *name = (const char *) ev.data.alias.anchor;
                        size_t i = d->n_anchors;

                        /* Search from the end: a redefined anchor means its latest node. An
                         * anchor is registered only once its node is complete, so an alias
                         * can never point into itself (no cycles). */
                        while (i > 0 && !streq(d->anchors[i - 1].name, name))
                                i--;
                        if (i == 0) {
                                r = fail_pos(c, mark_pos(ev.start_mark),
                                             CAISSON_REASON_POLICY_SYNTAX,
                                             "unknown or incomplete anchor '%s'",
                                             shorten(name, b));
                                break;
                        }
                        if (depth == 0) {
                                r = fail_pos(c, mark_pos(ev.start_mark),
                                             CAISSON_REASON_POLICY_INVALID,
                                             "a policy must be a mapping");
                                break;
                        }
                        r = ynode_append(c, stack[depth - 1], d->anchors[i - 1].node);
                        break;
                }
                case YAML_SCALAR_EVENT:
                        anchor = (const char *) ev.data.scalar.anchor;
                        if (ev.data.scalar.tag) {
                                r = fail_pos(c, mark_pos(ev.start_mark),
                                             CAISSON_REASON_POLICY_INVALID,
                                             "YAML tags are not supported");
                                break;
                        }
                        r = ynode_new(c, d, YNODE_SCALAR, ev.start_mark, &n);
                        if (r < 0)
                                break;
                        n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                        n->len = ev.data.scalar.length;
                        if (memchr(ev.data.scalar.value, 0, n->len)) {
                                /* "\0" in a double-quoted string: C would cut the value short
                                 * ("/home/u\0/.." reads as "/home/u"), so refuse it. */
                                r = fail_at(c, n, "a NUL character is not allowed in a value");
                                break;
                        }
                        n->value = strndup((const char *) ev.data.scalar.value, n->len);
                        if (!n->value) {
                                r = oom(c);
                                break;
                        }
                        if (depth == 0)
                                d->root = n;
                        else
                                r = ynode_append(c, stack[depth - 1], n);
                        break;
                case YAML_SEQUENCE_START_EVENT:
                case YAML_MAPPING_START_EVENT: {
                        bool seq = ev.type == YAML_SEQUENCE_START_EVENT;

                        if ((seq ? ev.data.sequence_start.tag : ev.data.mapping_start.tag)) {
                                r = fail_pos(c, mark_pos(ev.start_mark),
                                             CAISSON_REASON_POLICY_INVALID,
                                             "YAML tags are not supported");
                                break;
                        }
                        if (depth >= POLICY_MAX_DEPTH) {
                                r = fail_pos(c, mark_pos(ev.start_mark),
                                             CAISSON_REASON_POLICY_TOO_LARGE,
                                             "nested more than %d levels deep", POLICY_MAX_DEPTH);
                                break;
                        }
                        r = ynode_new(c, d, seq ? YNODE_SEQ : YNODE_MAP, ev.start_mark, &n);
                        if (r < 0)
                                break;
                        stack_anchor[depth] = NULL;
                        a = (const char *) (seq ? ev.data.sequence_start.anchor :
                                                  ev.data.mapping_start.anchor);
                        if (a && !(stack_anchor[depth] = strdup(a))) {
                                r = oom(c);
                                break;
                        }
                        stack[depth++] = n;
                        n = NULL; /* its anchor is registered when it is complete */
                        break;
                }
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        n = stack[--depth];
                        anchor = owned_anchor = stack_anchor[depth];
                        if (n->type == YNODE_MAP) {
                                r = map_check_keys(c, n);
                                if (r < 0)
                                        break;
                        }
                        /* Appended to the parent only now, complete, with its final weight. */
                        if (depth == 0)
                                d->root = n;
                        else
                                r = ynode_append(c, stack[depth - 1], n);
                        break;
                default:
                        break;
                }

                if (r >= 0 && anchor) {
                        if (d->n_anchors >= POLICY_MAX_ANCHORS)
                                r = fail_pos(c, n->pos, CAISSON_REASON_POLICY_TOO_LARGE,
                                             "more than %d anchors", POLICY_MAX_ANCHORS);
                        else {
                                d->anchors[d->n_anchors].name = strdup(anchor);
                                if (!d->anchors[d->n_anchors].name)
                                        r = oom(c);
                                else
                                        d->anchors[d->n_anchors++].node = n;
                        }
                }
                free(owned_anchor);
                yaml_event_delete(&ev);
        }

        while (depth > 0)
                free(stack_anchor[--depth]);
        yaml_parser_delete(&parser);
        return r;
}

/* --- Schema helpers --- */

/* Field names for messages, cut short if they must be (gcc's -Wformat-truncation is right that
 * they may be, and that is fine here). */
static void where_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void where_fmt(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

static bool is_null(const struct ynode *n) {
        return n->type == YNODE_SCALAR && n->plain &&
               (n->len == 0 || streq(n->value, "~") || streq(n->value, "null") ||
                streq(n->value, "Null") || streq(n->value, "NULL"));
}

/* "" or a bare key: OpenShell's serde defaults read an empty string as "not set". */
static bool is_empty_scalar(const struct ynode *n) {
        return n->type == YNODE_SCALAR && n->len == 0;
}

static const char *type_name(const struct ynode *n) {
        if (n->type == YNODE_MAP)
                return "a mapping";
        if (n->type == YNODE_SEQ)
                return "a list";
        return is_null(n) ? "nothing (null)" : "a scalar";
}

static const struct ynode *map_get(const struct ynode *map, const char *key) {
        if (!map || map->type != YNODE_MAP)
                return NULL;
        for (size_t i = 0; i + 1 < map->n_items; i += 2)
                if (streq(map->items[i]->value, key))
                        return map->items[i + 1];
        return NULL;
}

/* Refuses any key not in allowed (NULL-terminated). */
static int map_only(struct ctx *c, const struct ynode *map, const char *where,
                    const char *const *allowed) {
        char b[72];

        for (size_t i = 0; i + 1 < map->n_items; i += 2) {
                const char *k = map->items[i]->value;
                bool ok = false;

                for (const char *const *a = allowed; *a; a++)
                        if (streq(*a, k)) {
                                ok = true;
                                break;
                        }
                if (!ok)
                        return fail_at(c, map->items[i], "%s%sunknown key '%s'", where,
                                       *where ? ": " : "", shorten(k, b));
        }
        return 0;
}

/* A mapping (null reads as an empty one). *ret = NULL for null. */
static int need_map(struct ctx *c, const struct ynode *n, const char *where,
                    const struct ynode **ret) {
        if (is_null(n)) {
                *ret = NULL;
                return 0;
        }
        if (n->type != YNODE_MAP)
                return fail_at(c, n, "%s: expected a mapping, got %s", where, type_name(n));
        *ret = n;
        return 0;
}

static int need_seq(struct ctx *c, const struct ynode *n, const char *where, size_t max,
                    const struct ynode **ret) {
        if (is_null(n)) {
                *ret = NULL;
                return 0;
        }
        if (n->type != YNODE_SEQ)
                return fail_at(c, n, "%s: expected a list, got %s", where, type_name(n));
        if (n->n_items > max)
                return fail_pos(c, n->pos, CAISSON_REASON_POLICY_TOO_LARGE,
                                "%s: more than %zu entries", where, max);
        *ret = n;
        return 0;
}

static size_t seq_len(const struct ynode *seq) {
        return seq ? seq->n_items : 0;
}

static size_t map_len(const struct ynode *map) {
        return map ? map->n_items / 2 : 0;
}

/* A string: any scalar but null. Returns a pointer into the tree. */
static int need_str(struct ctx *c, const struct ynode *n, const char *where, const char **ret) {
        if (n->type != YNODE_SCALAR || is_null(n))
                return fail_at(c, n, "%s: expected a string, got %s", where, type_name(n));
        *ret = n->value;
        return 0;
}

static int dup_str(struct ctx *c, const struct ynode *n, const char *where, char **ret) {
        const char *s = NULL;
        char *d;
        int r;

        r = need_str(c, n, where, &s);
        if (r < 0)
                return r;
        d = strdup(s);
        if (!d)
                return oom(c);
        free(*ret);
        *ret = d;
        return 0;
}

/* A string that must be one of a fixed set (NULL-terminated). */
static int need_enum(struct ctx *c, const struct ynode *n, const char *where,
                     const char *const *values, char **ret) {
        char b[72], list[128] = "";
        const char *s = NULL;
        int r;

        r = need_str(c, n, where, &s);
        if (r < 0)
                return r;
        for (const char *const *v = values; *v; v++)
                if (streq(*v, s))
                        return ret ? dup_str(c, n, where, ret) : 0;
        for (const char *const *v = values; *v; v++) {
                size_t l = strlen(list);

                (void) snprintf(list + l, sizeof list - l, "%s%s", v == values ? "" : " | ", *v);
        }
        return fail_at(c, n, "%s: '%s' is not one of %s", where, shorten(s, b), list);
}

static int need_bool(struct ctx *c, const struct ynode *n, const char *where, bool *ret) {
        static const char *const t[] = { "true", "True", "TRUE" }, *const f[] = { "false", "False", "FALSE" };
        char b[72];

        if (n->type == YNODE_SCALAR && n->plain) {
                for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                        if (streq(n->value, t[i])) {
                                *ret = true;
                                return 0;
                        }
                        if (streq(n->value, f[i])) {
                                *ret = false;
                                return 0;
                        }
                }
        }
        if (n->type != YNODE_SCALAR)
                return fail_at(c, n, "%s: expected true or false, got %s", where, type_name(n));
        return fail_at(c, n, "%s: expected true or false, got '%s'", where, shorten(n->value, b));
}

/* Decimal digits with an optional sign, nothing else (no 0x, no 1_000, no spaces). */
static int parse_int(const char *s, long long min, long long max, long long *ret) {
        unsigned long long v = 0;
        const char *p = s;
        bool neg = false;
        long long x;

        if (*p == '-' || *p == '+')
                neg = *p++ == '-';
        if (!*p)
                return -EINVAL;
        for (; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (v > (unsigned long long) LLONG_MAX / 10)
                        return -ERANGE;
                v = v * 10 + (unsigned) (*p - '0');
        }
        if (v > (unsigned long long) LLONG_MAX)
                return -ERANGE;
        x = neg ? -(long long) v : (long long) v;
        if (x < min || x > max)
                return -ERANGE;
        *ret = x;
        return 0;
}

static int need_int(struct ctx *c, const struct ynode *n, const char *where, long long min,
                    long long max, long long *ret) {
        char b[72];
        int r;

        if (n->type != YNODE_SCALAR || is_null(n))
                return fail_at(c, n, "%s: expected an integer, got %s", where, type_name(n));
        if (!n->plain)
                return fail_at(c, n, "%s: expected an integer, got the quoted string '%s'", where,
                               shorten(n->value, b));
        r = parse_int(n->value, min, max, ret);
        if (r == -ERANGE)
                return fail_at(c, n, "%s: %s is out of range %lld..%lld", where,
                               shorten(n->value, b), min, max);
        if (r < 0)
                return fail_at(c, n, "%s: expected an integer, got '%s'", where,
                               shorten(n->value, b));
        return 0;
}

static int strv_push(struct ctx *c, char ***v, size_t *n, const char *s) {
        char **a = reallocarray(*v, *n + 1, sizeof **v);

        if (!a)
                return oom(c);
        *v = a;
        a[*n] = strdup(s);
        if (!a[*n])
                return oom(c);
        (*n)++;
        return 0;
}

/* A list of strings; check (may be NULL) returns a problem phrase or NULL. */
static int load_strv(struct ctx *c, const struct ynode *n, const char *where, size_t max,
                     const char *(*check)(const char *), char ***v, size_t *nv) {
        const struct ynode *seq;
        char w[200], b[72];
        int r;

        r = need_seq(c, n, where, max, &seq);
        if (r < 0)
                return r;
        for (size_t i = 0; i < seq_len(seq); i++) {
                const char *s = NULL, *why;

                where_fmt(w, sizeof w, "%s[%zu]", where, i);
                r = need_str(c, seq->items[i], w, &s);
                if (r < 0)
                        return r;
                why = check ? check(s) : NULL;
                if (why)
                        return fail_at(c, seq->items[i], "%s: '%s' %s", w, shorten(s, b), why);
                r = strv_push(c, v, nv, s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* --- Sections --- */

static int load_paths(struct ctx *c, const struct ynode *n, const char *where, bool read_write,
                      struct policy_path **v, size_t *nv) {
        const struct ynode *seq;
        char w[200], b[72];
        int r;

        r = need_seq(c, n, where, POLICY_MAX_PATHS, &seq);
        if (r < 0)
                return r;
        for (size_t i = 0; i < seq_len(seq); i++) {
                struct policy_path *a;
                const char *s = NULL, *why;

                where_fmt(w, sizeof w, "%s[%zu]", where, i);
                r = need_str(c, seq->items[i], w, &s);
                if (r < 0)
                        return r;
                why = policy_path_problem(s, read_write);
                if (why)
                        return fail_at(c, seq->items[i], "%s: '%s' %s", where, shorten(s, b), why);
                a = reallocarray(*v, *nv + 1, sizeof **v);
                if (!a)
                        return oom(c);
                *v = a;
                a[*nv] = (struct policy_path) { .path = strdup(s), .pos = seq->items[i]->pos };
                if (!a[*nv].path)
                        return oom(c);
                (*nv)++;
        }
        return 0;
}

static int load_filesystem(struct ctx *c, const struct ynode *n) {
        static const char *const keys[] = { "include_workdir", "read_only", "read_write", NULL };
        struct policy *p = c->p;
        const struct ynode *m, *v;
        int r;

        r = need_map(c, n, "filesystem_policy", &m);
        if (r < 0)
                return r;
        p->has_filesystem_policy = true;
        if (!m)
                return 0;
        r = map_only(c, m, "filesystem_policy", keys);
        if (r < 0)
                return r;
        if ((v = map_get(m, "include_workdir")) && (r = need_bool(c, v, "filesystem_policy.include_workdir", &p->include_workdir)) < 0)
                return r;
        if ((v = map_get(m, "read_only")) &&
            (r = load_paths(c, v, "read_only", false, &p->read_only, &p->n_read_only)) < 0)
                return r;
        if ((v = map_get(m, "read_write")) &&
            (r = load_paths(c, v, "read_write", true, &p->read_write, &p->n_read_write)) < 0)
                return r;
        if (p->n_read_only + p->n_read_write > POLICY_MAX_PATHS)
                return fail_at(c, n, "filesystem_policy: %zu paths, more than %d in read_only and read_write together",
                               p->n_read_only + p->n_read_write, POLICY_MAX_PATHS);
        return 0;
}

static int load_landlock(struct ctx *c, const struct ynode *n) {
        static const char *const keys[] = { "compatibility", NULL };
        static const char *const values[] = { "best_effort", "hard_requirement", NULL };
        _cleanup_free_ char *v = NULL;
        const struct ynode *m, *x;
        int r;

        r = need_map(c, n, "landlock", &m);
        if (r < 0 || !m)
                return r;
        r = map_only(c, m, "landlock", keys);
        if (r < 0)
                return r;
        x = map_get(m, "compatibility");
        if (!x || is_empty_scalar(x))
                return 0; /* OpenShell: empty = best_effort */
        /* OpenShell reads any other value as best effort; a typo of hard_requirement would
         * then silently weaken the sandbox, so caisson refuses it. */
        r = need_enum(c, x, "landlock.compatibility", values, &v);
        if (r < 0)
                return r;
        c->p->landlock_compat = streq(v, "hard_requirement") ? CAISSON_LANDLOCK_HARD_REQUIREMENT :
                                                               CAISSON_LANDLOCK_BEST_EFFORT;
        return 0;
}

static int load_identity(struct ctx *c, const struct ynode *n, const char *where, char **ret,
                         struct policy_pos *ret_pos) {
        const char *s = NULL, *why;
        char b[72];
        int r;

        r = need_str(c, n, where, &s);
        if (r < 0)
                return r;
        if (!*s)
                return 0; /* OpenShell: empty = absent, the runtime chooses */
        why = policy_identity_problem(s);
        if (why)
                return fail_at(c, n, "%s: '%s' %s", where, shorten(s, b), why);
        *ret_pos = n->pos;
        return dup_str(c, n, where, ret);
}

static int load_process(struct ctx *c, const struct ynode *n) {
        static const char *const keys[] = { "run_as_user", "run_as_group", NULL };
        const struct ynode *m, *v;
        int r;

        r = need_map(c, n, "process", &m);
        if (r < 0 || !m)
                return r;
        r = map_only(c, m, "process", keys);
        if (r < 0)
                return r;
        if ((v = map_get(m, "run_as_user")) &&
            (r = load_identity(c, v, "process.run_as_user", &c->p->run_as_user, &c->p->run_as_user_pos)) < 0)
                return r;
        if ((v = map_get(m, "run_as_group")) &&
            (r = load_identity(c, v, "process.run_as_group", &c->p->run_as_group, &c->p->run_as_group_pos)) < 0)
                return r;
        return 0;
}

/* query / tool matchers: a glob string, or { any: [globs] }. */
static int load_matcher(struct ctx *c, const struct ynode *n, const char *where) {
        static const char *const keys[] = { "any", NULL };
        const struct ynode *any, *seq;
        char w[240];
        int r;

        if (n->type == YNODE_SCALAR) {
                const char *s = NULL;

                return need_str(c, n, where, &s);
        }
        if (n->type != YNODE_MAP)
                return fail_at(c, n, "%s: expected a glob or { any: [...] }, got %s", where, type_name(n));
        r = map_only(c, n, where, keys);
        if (r < 0)
                return r;
        any = map_get(n, "any");
        if (!any)
                return fail_at(c, n, "%s: expected a glob or { any: [...] }", where);
        where_fmt(w, sizeof w, "%s.any", where);
        r = need_seq(c, any, w, POLICY_MAX_LIST, &seq);
        if (r < 0)
                return r;
        for (size_t i = 0; i < seq_len(seq); i++) {
                const char *s = NULL;

                r = need_str(c, seq->items[i], w, &s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* MCP params: a matcher, or a mapping of name → params (nested). Depth is bounded by
 * POLICY_MAX_DEPTH, which the tree already enforces. */
static int load_params(struct ctx *c, const struct ynode *n, const char *where) {
        char w[240];
        int r;

        if (n->type == YNODE_SCALAR || map_get(n, "any"))
                return load_matcher(c, n, where);
        if (n->type != YNODE_MAP)
                return fail_at(c, n, "%s: expected a mapping, got %s", where, type_name(n));
        for (size_t i = 0; i + 1 < n->n_items; i += 2) {
                char b[72];

                where_fmt(w, sizeof w, "%s.%s", where, shorten(n->items[i]->value, b));
                r = load_params(c, n->items[i + 1], w);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const char *const graphql_ops[] = { "query", "mutation", "subscription", NULL };

/* One allow clause (rules[].allow) or deny rule: the same fields. Returns 1 if it has an
 * effective matcher (OpenShell's "rules would deny all" test), else 0. */
static int load_rule_body(struct ctx *c, const struct ynode *n, const char *where,
                          const char *protocol) {
        static const char *const keys[] = { "method", "path", "command", "query", "operation_type",
                                            "operation_name", "fields", "tool", "params", NULL };
        const struct ynode *m, *v, *seq;
        bool effective = false;
        char w[240];
        int r;

        r = need_map(c, n, where, &m);
        if (r < 0)
                return r;
        if (!m)
                return 0;
        r = map_only(c, m, where, keys);
        if (r < 0)
                return r;
        for (size_t i = 0; i < 5; i++) {
                static const char *const str_keys[] = { "method", "path", "command", "operation_name", "operation_type" };
                const char *s = NULL;

                v = map_get(m, str_keys[i]);
                if (!v)
                        continue;
                where_fmt(w, sizeof w, "%s.%s", where, str_keys[i]);
                if (i == 4 && protocol && streq(protocol, "graphql"))
                        r = need_enum(c, v, w, graphql_ops, NULL);
                else
                        r = need_str(c, v, w, &s);
                if (r < 0)
                        return r;
                if (!is_empty_scalar(v))
                        effective = true;
        }
        if (protocol && streq(protocol, "graphql") && !map_get(m, "operation_type"))
                return fail_at(c, m, "%s: operation_type must be query, mutation or subscription", where);
        if ((v = map_get(m, "fields"))) {
                where_fmt(w, sizeof w, "%s.fields", where);
                r = need_seq(c, v, w, POLICY_MAX_LIST, &seq);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < seq_len(seq); i++) {
                        const char *s = NULL;

                        r = need_str(c, seq->items[i], w, &s);
                        if (r < 0)
                                return r;
                }
                if (seq_len(seq) > 0)
                        effective = true;
        }
        if ((v = map_get(m, "query"))) {
                const struct ynode *q;

                where_fmt(w, sizeof w, "%s.query", where);
                r = need_map(c, v, w, &q);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < map_len(q); i++) {
                        char b[72];

                        where_fmt(w, sizeof w, "%s.query.%s", where, shorten(q->items[2 * i]->value, b));
                        r = load_matcher(c, q->items[2 * i + 1], w);
                        if (r < 0)
                                return r;
                }
        }
        if ((v = map_get(m, "tool"))) {
                where_fmt(w, sizeof w, "%s.tool", where);
                r = load_matcher(c, v, w);
                if (r < 0)
                        return r;
        }
        if ((v = map_get(m, "params"))) {
                const struct ynode *q;

                where_fmt(w, sizeof w, "%s.params", where);
                r = need_map(c, v, w, &q);
                if (r < 0)
                        return r;
                r = load_params(c, v, w);
                if (r < 0)
                        return r;
                if (map_len(q) > 0)
                        effective = true;
        }
        return effective;
}

static int load_u32(struct ctx *c, const struct ynode *n, const char *where, uint32_t *ret) {
        long long v;
        int r;

        r = need_int(c, n, where, 0, UINT32_MAX, &v);
        if (r < 0)
                return r;
        *ret = (uint32_t) v;
        return 0;
}

static int load_l7(struct ctx *c, const struct ynode *m, const char *where, const char *protocol,
                   struct policy_l7 *l7) {
        static const char *const tls_values[] = { "terminate", "passthrough", "skip", NULL };
        static const char *const enforcement_values[] = { "enforce", "audit", NULL };
        static const char *const access_values[] = { "read-only", "read-write", "full", NULL };
        static const char *const signing_values[] = { "sigv4", "sigv4:body", "sigv4:no_body", NULL };
        static const char *const pq_values[] = { "deny", "allow_registered", NULL };
        const struct ynode *v, *seq, *sub;
        char w[240];
        int r;

#define FIELD(key) (where_fmt(w, sizeof w, "%s.%s", where, key), map_get(m, key))
        if ((v = FIELD("path")) && (r = dup_str(c, v, w, &l7->path)) < 0)
                return r;
        if (l7->path && !(l7->path[0] == '/' || streq(l7->path, "**")))
                return fail_at(c, v, "%s: path must start with '/' or be '**'", where);
        if ((v = FIELD("tls")) && (r = need_enum(c, v, w, tls_values, &l7->tls)) < 0)
                return r;
        /* OpenShell audits on any other value; caisson refuses, a typo must not weaken. */
        if ((v = FIELD("enforcement")) && (r = need_enum(c, v, w, enforcement_values, &l7->enforcement)) < 0)
                return r;
        if ((v = FIELD("access")) && (r = need_enum(c, v, w, access_values, &l7->access)) < 0)
                return r;
        if ((v = FIELD("rules"))) {
                bool any_effective = false;

                r = need_seq(c, v, w, POLICY_MAX_LIST, &seq);
                if (r < 0)
                        return r;
                if (seq_len(seq) == 0)
                        return fail_at(c, v, "%s: an empty list is not allowed; use access: full or remove rules", w);
                for (size_t i = 0; i < seq_len(seq); i++) {
                        static const char *const keys[] = { "allow", NULL };
                        char w2[240];

                        where_fmt(w2, sizeof w2, "%s[%zu]", w, i);
                        r = need_map(c, seq->items[i], w2, &sub);
                        if (r < 0)
                                return r;
                        r = sub ? map_only(c, sub, w2, keys) : 0;
                        if (r < 0)
                                return r;
                        if (!sub || !map_get(sub, "allow"))
                                return fail_at(c, seq->items[i], "%s: needs 'allow'", w2);
                        where_fmt(w2, sizeof w2, "%s.rules[%zu].allow", where, i);
                        r = load_rule_body(c, map_get(sub, "allow"), w2, protocol);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                any_effective = true;
                }
                l7->n_rules = seq_len(seq);
                l7->rules_deny_all = !any_effective;
        }
        if ((v = FIELD("deny_rules"))) {
                r = need_seq(c, v, w, POLICY_MAX_LIST, &seq);
                if (r < 0)
                        return r;
                if (seq_len(seq) == 0)
                        return fail_at(c, v, "%s: an empty list is not allowed; remove it", w);
                for (size_t i = 0; i < seq_len(seq); i++) {
                        char w2[240];

                        where_fmt(w2, sizeof w2, "%s[%zu]", w, i);
                        r = load_rule_body(c, seq->items[i], w2, protocol);
                        if (r < 0)
                                return r;
                }
                l7->n_deny_rules = seq_len(seq);
        }
        if ((v = FIELD("allow_encoded_slash")) && (r = need_bool(c, v, w, &l7->allow_encoded_slash)) < 0)
                return r;
        if ((v = FIELD("websocket_credential_rewrite")) &&
            (r = need_bool(c, v, w, &l7->websocket_credential_rewrite)) < 0)
                return r;
        if ((v = FIELD("request_body_credential_rewrite")) &&
            (r = need_bool(c, v, w, &l7->request_body_credential_rewrite)) < 0)
                return r;
        if ((v = FIELD("allow_uninspected_credentials")) &&
            (r = need_bool(c, v, w, &l7->allow_uninspected_credentials)) < 0)
                return r;
        if ((v = FIELD("credential_signing")) && !is_empty_scalar(v) &&
            (r = need_enum(c, v, w, signing_values, &l7->credential_signing)) < 0)
                return r;
        if ((v = FIELD("signing_service")) && !is_empty_scalar(v) && (r = dup_str(c, v, w, &l7->signing_service)) < 0)
                return r;
        if ((v = FIELD("signing_region")) && !is_empty_scalar(v) && (r = dup_str(c, v, w, &l7->signing_region)) < 0)
                return r;
        if ((v = FIELD("credential_binding"))) {
                static const char *const keys[] = { "provider", NULL };
                const struct ynode *pv;

                r = need_map(c, v, w, &sub);
                if (r < 0)
                        return r;
                if (!sub || !(pv = map_get(sub, "provider")))
                        return fail_at(c, v, "%s: needs 'provider'", w);
                r = map_only(c, sub, w, keys);
                if (r < 0)
                        return r;
                where_fmt(w, sizeof w, "%s.credential_binding.provider", where);
                r = dup_str(c, pv, w, &l7->credential_binding);
                if (r < 0)
                        return r;
        }
        if ((v = FIELD("persisted_queries")) && !is_empty_scalar(v) &&
            (r = need_enum(c, v, w, pq_values, &l7->persisted_queries)) < 0)
                return r;
        if ((v = FIELD("graphql_persisted_queries"))) {
                static const char *const keys[] = { "operation_type", "operation_name", "fields", NULL };

                r = need_map(c, v, w, &sub);
                if (r < 0)
                        return r;
                if (map_len(sub) > POLICY_MAX_LIST)
                        return fail_at(c, v, "%s: more than %d entries", w, POLICY_MAX_LIST);
                for (size_t i = 0; i < map_len(sub); i++) {
                        const struct ynode *q, *x;
                        char w2[240], b[72];

                        where_fmt(w2, sizeof w2, "%s.graphql_persisted_queries.%s", where,
                                        shorten(sub->items[2 * i]->value, b));
                        r = need_map(c, sub->items[2 * i + 1], w2, &q);
                        if (r < 0)
                                return r;
                        if (!q || !(x = map_get(q, "operation_type")))
                                return fail_at(c, sub->items[2 * i + 1], "%s: needs operation_type", w2);
                        r = map_only(c, q, w2, keys);
                        if (r < 0)
                                return r;
                        r = need_enum(c, x, w2, graphql_ops, NULL);
                        if (r < 0)
                                return r;
                        if ((x = map_get(q, "operation_name")) && (r = need_str(c, x, w2, &(const char *) { NULL })) < 0)
                                return r;
                        if ((x = map_get(q, "fields"))) {
                                r = need_seq(c, x, w2, POLICY_MAX_LIST, &seq);
                                if (r < 0)
                                        return r;
                                for (size_t j = 0; j < seq_len(seq); j++)
                                        if ((r = need_str(c, seq->items[j], w2, &(const char *) { NULL })) < 0)
                                                return r;
                        }
                }
                l7->n_graphql_persisted_queries = map_len(sub);
        }
        if ((v = FIELD("graphql_max_body_bytes")) && (r = load_u32(c, v, w, &l7->graphql_max_body_bytes)) < 0)
                return r;
        if ((v = FIELD("json_rpc"))) {
                static const char *const keys[] = { "max_body_bytes", NULL };
                const struct ynode *x;

                r = need_map(c, v, w, &sub);
                if (r < 0)
                        return r;
                l7->has_json_rpc = true;
                if (sub && (r = map_only(c, sub, w, keys)) < 0)
                        return r;
                if ((x = map_get(sub, "max_body_bytes")) &&
                    (r = load_u32(c, x, "json_rpc.max_body_bytes", &l7->json_rpc_max_body_bytes)) < 0)
                        return r;
        }
        if ((v = FIELD("mcp"))) {
                static const char *const keys[] = { "max_body_bytes", "strict_tool_names",
                                                    "allow_all_known_mcp_methods", NULL };
                const struct ynode *x;
                bool strict;

                r = need_map(c, v, w, &sub);
                if (r < 0)
                        return r;
                l7->has_mcp = true;
                if (sub && (r = map_only(c, sub, w, keys)) < 0)
                        return r;
                if ((x = map_get(sub, "max_body_bytes")) &&
                    (r = load_u32(c, x, "mcp.max_body_bytes", &l7->json_rpc_max_body_bytes)) < 0)
                        return r;
                if ((x = map_get(sub, "strict_tool_names")) &&
                    (r = need_bool(c, x, "mcp.strict_tool_names", &strict)) < 0)
                        return r;
                if ((x = map_get(sub, "allow_all_known_mcp_methods")) &&
                    (r = need_bool(c, x, "mcp.allow_all_known_mcp_methods", &l7->mcp_allow_all_known_methods)) < 0)
                        return r;
        }
#undef FIELD
        return 0;
}

static int load_endpoint(struct ctx *c, const struct ynode *n, const char *where,
                         struct policy_endpoint *e) {
        static const char *const keys[] = {
                "host", "path", "port", "ports", "protocol", "tls", "enforcement", "access",
                "rules", "allowed_ips", "deny_rules", "allow_encoded_slash",
                "websocket_credential_rewrite", "request_body_credential_rewrite",
                "allow_uninspected_credentials", "persisted_queries", "graphql_persisted_queries",
                "graphql_max_body_bytes", "credential_signing", "signing_service",
                "signing_region", "credential_binding", "json_rpc", "mcp", NULL
        };
        static const char *const protocols[] = { "tcp", "rest", "websocket", "graphql", "sql",
                                                 "json-rpc", "mcp", NULL };
        const struct ynode *m, *v, *seq;
        char w[240];
        int r;

        e->pos = n->pos;
        r = need_map(c, n, where, &m);
        if (r < 0)
                return r;
        if (!m)
                return fail_at(c, n, "%s: an endpoint needs host or allowed_ips, and port", where);
        r = map_only(c, m, where, keys);
        if (r < 0)
                return r;

        if ((v = map_get(m, "protocol"))) {
                const char *s = NULL;

                where_fmt(w, sizeof w, "%s.protocol", where);
                r = need_str(c, v, w, &s);
                if (r < 0)
                        return r;
                if (*s) {
                        /* OpenShell matches protocol names case-insensitively. */
                        char lower[16];
                        size_t i = 0;

                        for (; s[i] && i < sizeof lower - 1; i++)
                                lower[i] = (char) ((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
                        lower[i] = 0;
                        for (const char *const *pr = protocols; *pr; pr++)
                                if (!s[i] && streq(*pr, lower)) {
                                        e->protocol = strdup(lower);
                                        if (!e->protocol)
                                                return oom(c);
                                }
                        if (!e->protocol) {
                                char b[72];

                                return fail_at(c, v, "%s: unknown protocol '%s' (expected tcp, rest, websocket, graphql, sql, json-rpc or mcp)",
                                               w, shorten(s, b));
                        }
                }
        }

        if ((v = map_get(m, "host"))) {
                const char *s = NULL, *why;
                char b[72];

                where_fmt(w, sizeof w, "%s.host", where);
                r = need_str(c, v, w, &s);
                if (r < 0)
                        return r;
                if (*s) { /* OpenShell: an empty host is no host */
                        why = policy_host_problem(s, e->protocol && streq(e->protocol, "tcp"));
                        if (why)
                                return fail_at(c, v, "%s: '%s' %s", w, shorten(s, b), why);
                        r = dup_str(c, v, w, &e->host);
                        if (r < 0)
                                return r;
                }
        }
        if ((v = map_get(m, "ports"))) {
                where_fmt(w, sizeof w, "%s.ports", where);
                r = need_seq(c, v, w, 65535, &seq);
                if (r < 0)
                        return r;
                if (seq_len(seq) > 0) {
                        e->ports = calloc(seq_len(seq), sizeof *e->ports);
                        if (!e->ports)
                                return oom(c);
                        for (size_t i = 0; i < seq_len(seq); i++) {
                                long long port;

                                r = need_int(c, seq->items[i], w, 1, 65535, &port);
                                if (r < 0)
                                        return r;
                                e->ports[e->n_ports++] = (uint16_t) port;
                        }
                }
        }
        if ((v = map_get(m, "port"))) {
                long long port;

                where_fmt(w, sizeof w, "%s.port", where);
                r = need_int(c, v, w, 1, 65535, &port);
                if (r < 0)
                        return r;
                if (e->n_ports > 0)
                        e->port_and_ports = true; /* ports wins, as in OpenShell; we say so */
                else {
                        e->ports = calloc(1, sizeof *e->ports);
                        if (!e->ports)
                                return oom(c);
                        e->ports[e->n_ports++] = (uint16_t) port;
                }
        }
        if ((v = map_get(m, "allowed_ips"))) {
                where_fmt(w, sizeof w, "%s.allowed_ips", where);
                r = load_strv(c, v, w, POLICY_MAX_LIST, policy_allowed_ip_problem,
                              &e->allowed_ips, &e->n_allowed_ips);
                if (r < 0)
                        return r;
        }
        return load_l7(c, m, where, e->protocol, &e->l7);
}

static int load_network_entry(struct ctx *c, const struct ynode *knode, const struct ynode *n,
                              struct policy_network_entry *e) {
        const char *key = knode->value;
        static const char *const keys[] = { "name", "endpoints", "binaries", NULL };
        const struct ynode *m, *v, *seq;
        char where[160], w[240], b[72];
        int r;

        e->key = strdup(key);
        if (!e->key)
                return oom(c);
        e->pos = knode->pos; /* messages about the entry point at its key */
        where_fmt(where, sizeof where, "network_policies.%s", shorten(key, b));
        r = need_map(c, n, where, &m);
        if (r < 0)
                return r;
        r = m ? map_only(c, m, where, keys) : 0;
        if (r < 0)
                return r;
        if ((v = map_get(m, "name")) && !is_empty_scalar(v)) {
                where_fmt(w, sizeof w, "%s.name", where);
                r = dup_str(c, v, w, &e->name);
                if (r < 0)
                        return r;
        }
        if (!e->name) {
                e->name = strdup(key);
                if (!e->name)
                        return oom(c);
        }
        if ((v = map_get(m, "endpoints"))) {
                where_fmt(w, sizeof w, "%s.endpoints", where);
                r = need_seq(c, v, w, POLICY_MAX_LIST, &seq);
                if (r < 0)
                        return r;
                if (seq_len(seq) > 0) {
                        e->endpoints = calloc(seq_len(seq), sizeof *e->endpoints);
                        if (!e->endpoints)
                                return oom(c);
                }
                for (size_t i = 0; i < seq_len(seq); i++) {
                        where_fmt(w, sizeof w, "%s.endpoints[%zu]", where, i);
                        /* Middleware selection and the relay's matching cost endpoints ×
                         * patterns: bound the whole policy, not each list. */
                        if (++c->n_endpoints > POLICY_MAX_ENDPOINTS)
                                return fail_pos(c, seq->items[i]->pos, CAISSON_REASON_POLICY_TOO_LARGE,
                                                "network_policies: more than %d endpoints in all",
                                                POLICY_MAX_ENDPOINTS);
                        e->n_endpoints++;
                        r = load_endpoint(c, seq->items[i], w, &e->endpoints[i]);
                        if (r < 0)
                                return r;
                }
        }
        if ((v = map_get(m, "binaries"))) {
                where_fmt(w, sizeof w, "%s.binaries", where);
                r = need_seq(c, v, w, POLICY_MAX_LIST, &seq);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < seq_len(seq); i++) {
                        static const char *const bkeys[] = { "path", "harness", NULL };
                        const struct ynode *bm, *x;
                        const char *s = NULL;
                        bool harness;

                        where_fmt(w, sizeof w, "%s.binaries[%zu]", where, i);
                        r = need_map(c, seq->items[i], w, &bm);
                        if (r < 0)
                                return r;
                        if (!bm || !(x = map_get(bm, "path")))
                                return fail_at(c, seq->items[i], "%s: needs 'path'", w);
                        r = map_only(c, bm, w, bkeys);
                        if (r < 0)
                                return r;
                        /* harness: deprecated in OpenShell, accepted and ignored. */
                        if (map_get(bm, "harness") &&
                            (r = need_bool(c, map_get(bm, "harness"), w, &harness)) < 0)
                                return r;
                        r = need_str(c, x, w, &s);
                        if (r < 0)
                                return r;
                        r = strv_push(c, &e->binaries, &e->n_binaries, s);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int load_network(struct ctx *c, const struct ynode *n) {
        struct policy *p = c->p;
        const struct ynode *m;
        int r;

        r = need_map(c, n, "network_policies", &m);
        if (r < 0)
                return r;
        p->has_network_policies = true;
        if (map_len(m) > POLICY_MAX_LIST)
                return fail_pos(c, n->pos, CAISSON_REASON_POLICY_TOO_LARGE,
                                "network_policies: more than %d entries", POLICY_MAX_LIST);
        if (map_len(m) == 0)
                return 0;
        p->network = calloc(map_len(m), sizeof *p->network);
        if (!p->network)
                return oom(c);
        for (size_t i = 0; i < map_len(m); i++) {
                p->n_network++;
                r = load_network_entry(c, m->items[2 * i], m->items[2 * i + 1], &p->network[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_middleware(struct ctx *c, const struct ynode *knode, const struct ynode *n,
                           struct policy_middleware *mw) {
        const char *key = knode->value;
        static const char *const keys[] = { "name", "middleware", "order", "config", "on_error",
                                            "endpoints", NULL };
        static const char *const on_error[] = { "fail_closed", "fail_open", NULL };
        const struct ynode *m, *v, *sel;
        char where[160], w[240], b[72];
        long long order;
        int r;

        mw->key = strdup(key);
        if (!mw->key)
                return oom(c);
        mw->pos = knode->pos;
        where_fmt(where, sizeof where, "network_middlewares.%s", shorten(key, b));
        if (!*key)
                return fail_at(c, n, "%s: the name must not be empty", where);
        r = need_map(c, n, where, &m);
        if (r < 0)
                return r;
        if (!m)
                return fail_at(c, n, "%s: needs middleware and endpoints", where);
        r = map_only(c, m, where, keys);
        if (r < 0)
                return r;
        if ((v = map_get(m, "name")) && !is_empty_scalar(v) &&
            (r = dup_str(c, v, "name", &mw->name)) < 0)
                return r;
        if (!mw->name && !(mw->name = strdup(key)))
                return oom(c);
        v = map_get(m, "middleware");
        if (!v || is_empty_scalar(v))
                return fail_at(c, v ?: m, "%s: needs 'middleware' (the implementation name)", where);
        where_fmt(w, sizeof w, "%s.middleware", where);
        if ((r = dup_str(c, v, w, &mw->middleware)) < 0)
                return r;
        if ((v = map_get(m, "order"))) {
                where_fmt(w, sizeof w, "%s.order", where);
                r = need_int(c, v, w, INT32_MIN, INT32_MAX, &order);
                if (r < 0)
                        return r;
                mw->order = (int32_t) order;
        }
        if ((v = map_get(m, "config"))) {
                const struct ynode *cfg;

                /* Owned by the implementation: any mapping, not looked into. */
                where_fmt(w, sizeof w, "%s.config", where);
                r = need_map(c, v, w, &cfg);
                if (r < 0)
                        return r;
        }
        if ((v = map_get(m, "on_error")) && !is_empty_scalar(v)) {
                where_fmt(w, sizeof w, "%s.on_error", where);
                r = need_enum(c, v, w, on_error, &mw->on_error);
                if (r < 0)
                        return r;
        }
        v = map_get(m, "endpoints");
        if (!v)
                return fail_at(c, m, "%s: needs 'endpoints' with a non-empty include list", where);
        where_fmt(w, sizeof w, "%s.endpoints", where);
        r = need_map(c, v, w, &sel);
        if (r < 0)
                return r;
        if (sel) {
                static const char *const skeys[] = { "include", "exclude", NULL };

                r = map_only(c, sel, w, skeys);
                if (r < 0)
                        return r;
                if (map_get(sel, "include")) {
                        where_fmt(w, sizeof w, "%s.endpoints.include", where);
                        r = load_strv(c, map_get(sel, "include"), w, POLICY_MAX_MIDDLEWARE_PATTERNS,
                                      policy_host_pattern_problem, &mw->include, &mw->n_include);
                        if (r < 0)
                                return r;
                }
                if (map_get(sel, "exclude")) {
                        where_fmt(w, sizeof w, "%s.endpoints.exclude", where);
                        r = load_strv(c, map_get(sel, "exclude"), w, POLICY_MAX_MIDDLEWARE_PATTERNS,
                                      policy_host_pattern_problem, &mw->exclude, &mw->n_exclude);
                        if (r < 0)
                                return r;
                }
        }
        if (mw->n_include == 0)
                return fail_at(c, v, "%s: endpoints.include must list at least one host pattern", where);
        if (mw->n_include + mw->n_exclude > POLICY_MAX_MIDDLEWARE_PATTERNS)
                return fail_at(c, v, "%s: %zu selector patterns, more than %d", where,
                               mw->n_include + mw->n_exclude, POLICY_MAX_MIDDLEWARE_PATTERNS);
        return 0;
}

static int load_middlewares(struct ctx *c, const struct ynode *n) {
        struct policy *p = c->p;
        const struct ynode *m;
        int r;

        r = need_map(c, n, "network_middlewares", &m);
        if (r < 0)
                return r;
        p->has_network_middlewares = true;
        if (map_len(m) > POLICY_MAX_MIDDLEWARES)
                return fail_at(c, n, "network_middlewares: %zu entries, more than %d", map_len(m),
                               POLICY_MAX_MIDDLEWARES);
        if (map_len(m) == 0)
                return 0;
        p->middlewares = calloc(map_len(m), sizeof *p->middlewares);
        p->middleware_names = calloc(map_len(m), sizeof *p->middleware_names);
        if (!p->middlewares || !p->middleware_names)
                return oom(c);
        for (size_t i = 0; i < map_len(m); i++) {
                p->n_middlewares++;
                r = load_middleware(c, m->items[2 * i], m->items[2 * i + 1], &p->middlewares[i]);
                if (r < 0)
                        return r;
                p->middleware_names[i] = strdup(p->middlewares[i].key);
                if (!p->middleware_names[i])
                        return oom(c);
                for (size_t j = 0; j < i; j++)
                        if (p->middlewares[j].order == p->middlewares[i].order) {
                                char b1[72], b2[72];

                                return fail_at(c, m->items[2 * i + 1],
                                               "network_middlewares: '%s' and '%s' use the same order %d; orders must be unique",
                                               shorten(p->middlewares[j].key, b1),
                                               shorten(p->middlewares[i].key, b2),
                                               (int) p->middlewares[i].order);
                        }
        }
        return 0;
}

/* cpu: cores as a number (0.5, 2) or Kubernetes-style millicores ("500m"). */
static int parse_cpu(const char *s, uint32_t *ret) {
        unsigned long long whole = 0, frac = 0, scale = 1000;
        const char *p = s;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                whole = whole * 10 + (unsigned) (*p - '0');
                if (whole > 1000000)
                        return -ERANGE;
        }
        if (*p == 'm' && !p[1]) {
                if (whole == 0 || whole > UINT32_MAX)
                        return whole ? -ERANGE : -EINVAL;
                *ret = (uint32_t) whole;
                return 0;
        }
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++) {
                        if (scale == 1)
                                return -EINVAL; /* finer than a millicore */
                        scale /= 10;
                        frac += (unsigned) (*p - '0') * scale;
                }
        }
        if (*p)
                return -EINVAL;
        if (whole * 1000 + frac == 0)
                return -EINVAL;
        if (whole * 1000 + frac > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) (whole * 1000 + frac);
        return 0;
}

static int load_resources(struct ctx *c, const struct ynode *n) {
        static const char *const keys[] = { "memory", "pids", "cpu", "on_unsupported", NULL };
        static const char *const onu[] = { "refuse", "warn", NULL };
        struct caisson_resources *res = &c->p->resources;
        _cleanup_free_ char *mode = NULL;
        const struct ynode *m, *v;
        char b[72];
        int r;

        r = need_map(c, n, "resources", &m);
        if (r < 0)
                return r;
        c->p->has_resources = true;
        c->p->resources_pos = n->pos;
        if (!m)
                return 0;
        r = map_only(c, m, "resources", keys);
        if (r < 0)
                return r;
        if ((v = map_get(m, "memory"))) {
                unsigned long long bytes;
                const char *s = NULL;

                r = need_str(c, v, "resources.memory", &s);
                if (r < 0)
                        return r;
                if (parse_size(s, &bytes) < 0 || bytes == 0)
                        return fail_at(c, v, "resources.memory: '%s' is not a size like 512M, 2G or a number of bytes",
                                       shorten(s, b));
                if (bytes < 1024 * 1024)
                        return fail_at(c, v, "resources.memory: '%s' is less than 1M; the agent could not start",
                                       shorten(s, b));
                res->memory_bytes = bytes;
        }
        if ((v = map_get(m, "pids"))) {
                long long pids;

                r = need_int(c, v, "resources.pids", 1, 4194304, &pids);
                if (r < 0)
                        return r;
                res->pids = (uint64_t) pids;
        }
        if ((v = map_get(m, "cpu"))) {
                const char *s = NULL;

                r = need_str(c, v, "resources.cpu", &s);
                if (r < 0)
                        return r;
                if (parse_cpu(s, &res->cpu_millis) < 0)
                        return fail_at(c, v, "resources.cpu: '%s' is not a number of cores like 0.5 or 2, or millicores like 500m",
                                       shorten(s, b));
        }
        if ((v = map_get(m, "on_unsupported"))) {
                r = need_enum(c, v, "resources.on_unsupported", onu, &mode);
                if (r < 0)
                        return r;
                res->on_unsupported = streq(mode, "warn") ? CAISSON_UNSUPPORTED_WARN :
                                                            CAISSON_UNSUPPORTED_REFUSE;
        }
        return 0;
}

static const char *syscall_problem(const char *s) {
        return policy_syscall_name_valid(s) ? NULL : "is not a syscall name ([a-z0-9_], at most 63)";
}

static int load_seccomp(struct ctx *c, const struct ynode *n) {
        static const char *const keys[] = { "deny", "allow", "on_violation", NULL };
        static const char *const onv[] = { "errno", "kill", NULL };
        struct policy *p = c->p;
        _cleanup_free_ char *mode = NULL;
        const struct ynode *m, *v, *allow;
        int r;

        r = need_map(c, n, "seccomp", &m);
        if (r < 0)
                return r;
        p->seccomp_pos = n->pos;
        if (!m)
                return 0;
        r = map_only(c, m, "seccomp", keys);
        if (r < 0)
                return r;
        if ((v = map_get(m, "deny")) &&
            (r = load_strv(c, v, "seccomp.deny", 1024, syscall_problem, &p->seccomp_deny, &p->n_seccomp_deny)) < 0)
                return r;
        if ((allow = map_get(m, "allow")) &&
            (r = load_strv(c, allow, "seccomp.allow", 1024, syscall_problem, &p->seccomp_allow, &p->n_seccomp_allow)) < 0)
                return r;
        /* A name in both lists has no clear meaning: say so rather than pick one. */
        for (size_t i = 0; i < p->n_seccomp_allow; i++)
                for (size_t j = 0; j < p->n_seccomp_deny; j++)
                        if (streq(p->seccomp_allow[i], p->seccomp_deny[j]))
                                return fail_at(c, allow->items[i], "seccomp.allow: '%s' is also in seccomp.deny",
                                               p->seccomp_allow[i]);
        if ((v = map_get(m, "on_violation"))) {
                r = need_enum(c, v, "seccomp.on_violation", onv, &mode);
                if (r < 0)
                        return r;
                p->seccomp_on_violation = streq(mode, "kill") ? CAISSON_VIOLATION_KILL :
                                                                CAISSON_VIOLATION_ERRNO;
        }
        return 0;
}

static int load_persistence(struct ctx *c, const struct ynode *n) {
        static const char *const keys[] = { "protect", "extra", NULL };
        struct policy *p = c->p;
        const struct ynode *m, *v;
        int r;

        r = need_map(c, n, "persistence", &m);
        if (r < 0 || !m)
                return r;
        r = map_only(c, m, "persistence", keys);
        if (r < 0)
                return r;
        if ((v = map_get(m, "protect")) && (r = need_bool(c, v, "persistence.protect", &p->persistence_protect)) < 0)
                return r;
        if ((v = map_get(m, "extra")) &&
            (r = load_paths(c, v, "persistence.extra", false, &p->persistence_extra, &p->n_persistence_extra)) < 0)
                return r;
        return 0;
}

/* Checked against read_write by policy_validate(), once the whole policy is loaded. */
static int load_state_dirs(struct ctx *c, const struct ynode *n) {
        return load_paths(c, n, "state_directories", true, &c->p->state_dirs, &c->p->n_state_dirs);
}

static int load_env(struct ctx *c, const struct ynode *n) {
        struct policy *p = c->p;
        const struct ynode *m;
        char b[72];
        int r;

        r = need_map(c, n, "env", &m);
        if (r < 0)
                return r;
        p->env_pos = n->pos;
        if (map_len(m) > POLICY_MAX_LIST)
                return fail_at(c, n, "env: more than %d variables", POLICY_MAX_LIST);
        if (map_len(m) == 0)
                return 0;
        p->env = calloc(map_len(m), sizeof *p->env);
        if (!p->env)
                return oom(c);
        for (size_t i = 0; i < map_len(m); i++) {
                const struct ynode *k = m->items[2 * i], *v = m->items[2 * i + 1];
                char w[160];

                if (!policy_env_name_valid(k->value))
                        return fail_at(c, k, "env: '%s' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
                                       shorten(k->value, b));
                where_fmt(w, sizeof w, "env.%s", k->value);
                r = need_str(c, v, w, &(const char *) { NULL });
                if (r < 0)
                        return r;
                if (asprintf(&p->env[i], "%s=%s", k->value, v->value) < 0) {
                        p->env[i] = NULL;
                        return oom(c);
                }
                p->n_env++;
        }
        return 0;
}

static int load_hostname(struct ctx *c, const struct ynode *n) {
        const char *s = NULL, *why;
        char b[72];
        int r;

        r = need_str(c, n, "hostname", &s);
        if (r < 0)
                return r;
        why = policy_hostname_problem(s);
        if (why)
                return fail_at(c, n, "hostname: '%s' %s", shorten(s, b), why);
        c->p->hostname_pos = n->pos;
        return dup_str(c, n, "hostname", &c->p->hostname);
}

static int load_root(struct ctx *c, const struct ynode *root) {
        static const char *const keys[] = { "version", "filesystem_policy", "landlock", "process",
                                            "network_policies", "network_middlewares",
                                            "resources", "seccomp", "persistence", "env",
                                            "hostname", "state_directories", NULL };
        static const struct {
                const char *key;
                int (*load)(struct ctx *c, const struct ynode *n);
        } sections[] = {
                { "filesystem_policy", load_filesystem },     { "landlock", load_landlock },
                { "process", load_process },                  { "network_policies", load_network },
                { "network_middlewares", load_middlewares },  { "resources", load_resources },
                { "seccomp", load_seccomp },                  { "persistence", load_persistence },
                { "env", load_env },                          { "hostname", load_hostname },
                { "state_directories", load_state_dirs },
        };
        const struct ynode *v;
        long long version;
        char b[72];
        int r;

        if (!root || is_null(root))
                return fail_pos(c, root ? root->pos : (struct policy_pos) { 1, 1 },
                                CAISSON_REASON_POLICY_INVALID, "empty policy");
        if (root->type != YNODE_MAP)
                return fail_at(c, root, "a policy must be a mapping (version: 1, ...), got %s",
                               type_name(root));
        r = map_only(c, root, "", keys);
        if (r < 0)
                return r;
        v = map_get(root, "version");
        if (!v)
                return fail_at(c, root, "'version' is required (version: 1)");
        if (v->type == YNODE_SCALAR && v->plain && parse_int(v->value, 0, INT32_MAX, &version) == 0 &&
            version != 1)
                return fail_pos(c, v->pos, CAISSON_REASON_POLICY_UNSUPPORTED,
                                "version: %s is not supported; caisson reads version 1",
                                shorten(v->value, b));
        r = need_int(c, v, "version", 1, 1, &version);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                if ((v = map_get(root, sections[i].key)) && (r = sections[i].load(c, v)) < 0)
                        return r;
        return 0;
}

static void policy_paths_free(struct policy_path *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i].path);
        free(v);
}

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static void policy_l7_done(struct policy_l7 *l7) {
        free(l7->path);
        free(l7->tls);
        free(l7->enforcement);
        free(l7->access);
        free(l7->credential_signing);
        free(l7->signing_service);
        free(l7->signing_region);
        free(l7->credential_binding);
        free(l7->persisted_queries);
}

struct policy *policy_free(struct policy *p) {
        if (!p)
                return NULL;
        free(p->filename);
        policy_paths_free(p->read_only, p->n_read_only);
        policy_paths_free(p->read_write, p->n_read_write);
        free(p->run_as_user);
        free(p->run_as_group);
        for (size_t i = 0; i < p->n_network; i++) {
                struct policy_network_entry *e = &p->network[i];

                free(e->key);
                free(e->name);
                for (size_t j = 0; j < e->n_endpoints; j++) {
                        struct policy_endpoint *ep = &e->endpoints[j];

                        free(ep->host);
                        free(ep->ports);
                        strv_free(ep->allowed_ips, ep->n_allowed_ips);
                        free(ep->protocol);
                        free(ep->l7_fields);
                        free(ep->refused_by);
                        policy_l7_done(&ep->l7);
                }
                free(e->endpoints);
                strv_free(e->binaries, e->n_binaries);
        }
        free(p->network);
        for (size_t i = 0; i < p->n_middlewares; i++) {
                struct policy_middleware *mw = &p->middlewares[i];

                if (p->middleware_names)
                        free(p->middleware_names[i]);
                if (!p->middlewares)
                        continue;
                free(mw->key);
                free(mw->name);
                free(mw->middleware);
                free(mw->on_error);
                strv_free(mw->include, mw->n_include);
                strv_free(mw->exclude, mw->n_exclude);
        }
        free(p->middlewares);
        free(p->middleware_names);
        strv_free(p->seccomp_deny, p->n_seccomp_deny);
        strv_free(p->seccomp_allow, p->n_seccomp_allow);
        policy_paths_free(p->persistence_extra, p->n_persistence_extra);
        policy_paths_free(p->state_dirs, p->n_state_dirs);
        strv_free(p->env, p->n_env);
        free(p->hostname);
        free(p);
        return NULL;
}

int policy_load(const char *buf, size_t len, const char *filename, struct policy **ret,
                struct caisson_error *err) {
        _cleanup_(policy_freep) struct policy *p = NULL;
        struct ydoc doc = {};
        struct ctx c = { .filename = filename ?: "<policy>", .err = err };
        int r;

        if (len > POLICY_MAX_BYTES)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_POLICY_TOO_LARGE, EFBIG,
                               "%s: policy is %zu bytes, more than the limit of %d", c.filename,
                               len, POLICY_MAX_BYTES);
        if (!buf && len > 0)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_INTERNAL, EINVAL,
                               "%s: no buffer", c.filename);

        p = calloc(1, sizeof *p);
        if (!p)
                return oom(&c);
        p->filename = strdup(c.filename);
        if (!p->filename)
                return oom(&c);
        p->landlock_compat = CAISSON_LANDLOCK_BEST_EFFORT;
        p->persistence_protect = true;
        p->seccomp_on_violation = CAISSON_VIOLATION_ERRNO;
        p->resources.on_unsupported = CAISSON_UNSUPPORTED_REFUSE;
        c.p = p;

        r = yaml_build(&c, buf ?: "", len, &doc);
        if (r >= 0)
                r = load_root(&c, doc.root);
        ydoc_done(&doc);
        if (r < 0)
                return r;

        r = policy_validate(p, err);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

int policy_load_default(struct policy **ret, struct caisson_error *err) {
        return policy_load(default_policy_yaml, strlen(default_policy_yaml),
                           "<built-in default policy>", ret, err);
}
