/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ${HOME} and ${WORKDIR} in a policy's paths, then the final shape check.
 *
 * Pure: the values come from the caller (the run user's home on the host, the workdir). After
 * expansion every path is absolute and normalised lexically — "//" and "/./" collapse and a
 * trailing "/" goes, as OpenShell normalises before storing — and ".." is refused outright:
 * resolving it lexically would be wrong across symlinks, and OpenShell refuses it too.
 * Expansion is all or nothing: on error the policy is unchanged. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "macro.h"
#include "policy.h"
#include "util.h"

static int expand_fail(const struct policy *p, struct policy_pos pos, struct caisson_error *err,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int expand_fail(const struct policy *p, struct policy_pos pos, struct caisson_error *err,
                       const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = policy_fail_at(err, CAISSON_REASON_POLICY_INVALID, p->filename, pos, fmt, ap);
        va_end(ap);
        return r;
}

/* Substitutes the variables. Returns -EINVAL with *ret_bad pointing at an unknown "${...}" in
 * path, -ENOENT with *ret_bad saying which value is missing, -ENOMEM, or 0. */
static int substitute(const char *path, const char *home, const char *workdir, char **ret,
                      const char **ret_bad) {
        _cleanup_free_ char *out = NULL;
        size_t n = 0, cap = strlen(path) + 1;
        const char *p = path;

        out = malloc(cap);
        if (!out)
                return -ENOMEM;
        while (*p) {
                const char *value = NULL;
                size_t skip = 0, vlen;

                if (p[0] == '$' && p[1] == '{') {
                        if (strncmp(p, "${HOME}", 7) == 0) {
                                value = home;
                                skip = 7;
                                if (!home) {
                                        *ret_bad = "${HOME}, but no home directory is known";
                                        return -ENOENT;
                                }
                        } else if (strncmp(p, "${WORKDIR}", 10) == 0) {
                                value = workdir;
                                skip = 10;
                                if (!workdir) {
                                        *ret_bad = "${WORKDIR}, but no workdir is known";
                                        return -ENOENT;
                                }
                        } else {
                                *ret_bad = p;
                                return -EINVAL;
                        }
                }
                vlen = value ? strlen(value) : 1;
                if (n + vlen + 1 > cap) {
                        char *q;

                        cap = (n + vlen + 1) * 2;
                        q = realloc(out, cap);
                        if (!q)
                                return -ENOMEM;
                        out = q;
                }
                if (value) {
                        memcpy(out + n, value, vlen);
                        n += vlen;
                        p += skip;
                } else
                        out[n++] = *p++;
        }
        out[n] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

/* Lexical normalisation in place: "//" → "/", "/./" → "/", no trailing "/". Returns false if
 * a ".." component is met. */
static bool normalize(char *path) {
        char *w = path;
        const char *r = path;

        while (*r) {
                const char *e;
                size_t n;

                while (*r == '/')
                        r++;
                e = strchrnul(r, '/');
                n = (size_t) (e - r);
                if (n == 0)
                        break;
                if (n == 2 && r[0] == '.' && r[1] == '.')
                        return false;
                if (!(n == 1 && r[0] == '.')) {
                        *w++ = '/';
                        memmove(w, r, n);
                        w += n;
                }
                r = e;
        }
        if (w == path)
                *w++ = '/';
        *w = 0;
        return true;
}

static int expand_one(const struct policy *p, const struct policy_path *pp, const char *list,
                      bool read_write, const char *home, const char *workdir, char **ret,
                      struct caisson_error *err) {
        _cleanup_free_ char *x = NULL;
        const char *bad = NULL;
        char shown[72];
        int r;

        (void) snprintf(shown, sizeof shown, "%.60s%s", pp->path, strlen(pp->path) > 60 ? "..." : "");
        r = substitute(pp->path, home, workdir, &x, &bad);
        if (r == -ENOMEM)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_NO_MEMORY, ENOMEM,
                               "%s: out of memory", p->filename ?: "<policy>");
        if (r == -ENOENT)
                return expand_fail(p, pp->pos, err, "%s: '%s' uses %s", list, shown, bad);
        if (r < 0) {
                const char *end = strchr(bad, '}');
                int n = end ? (int) (end - bad + 1) : (int) strlen(bad);

                return expand_fail(p, pp->pos, err, "%s: '%s' uses %.*s; only ${HOME} and ${WORKDIR} are known",
                                   list, shown, n > 40 ? 40 : n, bad);
        }
        if (x[0] != '/')
                return expand_fail(p, pp->pos, err, "%s: '%s' is not absolute once expanded", list,
                                   shown);
        if (!normalize(x))
                return expand_fail(p, pp->pos, err, "%s: '%s' has a '..' component once expanded",
                                   list, shown);
        if (strlen(x) > POLICY_MAX_PATH_LEN)
                return expand_fail(p, pp->pos, err, "%s: '%s' is longer than %d characters once expanded",
                                   list, shown, POLICY_MAX_PATH_LEN);
        if (!path_is_normalized_absolute(x))
                return expand_fail(p, pp->pos, err, "%s: '%s' is not a normalised absolute path",
                                   list, shown);
        if (read_write && streq(x, "/"))
                return expand_fail(p, pp->pos, err, "%s: '%s' is '/' once expanded; '/' may not be read-write",
                                   list, shown);
        *ret = TAKE_PTR(x);
        return 0;
}

int policy_expand(struct policy *p, const char *home, const char *workdir,
                  struct caisson_error *err) {
        struct {
                struct policy_path *v;
                size_t n;
                const char *name;
                bool rw;
        } lists[] = {
                { p->read_only, p->n_read_only, "read_only", false },
                { p->read_write, p->n_read_write, "read_write", true },
                { p->persistence_extra, p->n_persistence_extra, "persistence.extra", false },
                { p->state_dirs, p->n_state_dirs, "state_directories", true },
        };
        size_t total = p->n_read_only + p->n_read_write + p->n_persistence_extra + p->n_state_dirs,
               k = 0;
        char **out;
        int r = 0;

        if (total == 0)
                return 0;
        out = calloc(total, sizeof *out);
        if (!out)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_NO_MEMORY, ENOMEM,
                               "%s: out of memory", p->filename ?: "<policy>");
        for (size_t l = 0; l < ELEMENTSOF(lists) && r >= 0; l++)
                for (size_t i = 0; i < lists[l].n && r >= 0; i++)
                        r = expand_one(p, &lists[l].v[i], lists[l].name, lists[l].rw, home, workdir,
                                       &out[k++], err);
        if (r >= 0) {
                /* All expanded: only now replace, so a failure leaves the policy as it was. */
                k = 0;
                for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                        for (size_t i = 0; i < lists[l].n; i++) {
                                free(lists[l].v[i].path);
                                lists[l].v[i].path = TAKE_PTR(out[k]); /* no k++ in a macro */
                                k++;
                        }
        }
        for (size_t i = 0; i < total; i++)
                free(out[i]);
        free(out);
        return r;
}
