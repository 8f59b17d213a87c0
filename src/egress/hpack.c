/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* HPACK through libnghttp2, loaded on first use. See hpack.h. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>

#include "egress/hpack.h"

struct hpack {
        nghttp2_hd_inflater *inf;
};

static struct {
        __typeof__(nghttp2_hd_inflate_new) *inflate_new;
        __typeof__(nghttp2_hd_inflate_del) *inflate_del;
        __typeof__(nghttp2_hd_inflate_hd2) *inflate_hd2;
        __typeof__(nghttp2_hd_inflate_end_headers) *end_headers;
        __typeof__(nghttp2_hd_inflate_change_table_size) *change_table_size;
} lib;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static bool lib_ok;

static void lib_load(void) {
        void *h = dlopen("libnghttp2.so.14", RTLD_NOW | RTLD_LOCAL);

        if (!h)
                return;
        *(void **) &lib.inflate_new = dlsym(h, "nghttp2_hd_inflate_new");
        *(void **) &lib.inflate_del = dlsym(h, "nghttp2_hd_inflate_del");
        *(void **) &lib.inflate_hd2 = dlsym(h, "nghttp2_hd_inflate_hd2");
        *(void **) &lib.end_headers = dlsym(h, "nghttp2_hd_inflate_end_headers");
        *(void **) &lib.change_table_size = dlsym(h, "nghttp2_hd_inflate_change_table_size");
        lib_ok = lib.inflate_new && lib.inflate_del && lib.inflate_hd2 && lib.end_headers &&
                 lib.change_table_size;
        if (!lib_ok)
                (void) dlclose(h);
}

int hpack_new(struct hpack **ret, const char **why) {
        struct hpack *h;

        (void) pthread_once(&lib_once, lib_load);
        if (!lib_ok) {
                *why = "HTTP/2 needs libnghttp2.so.14 to read its headers, and it cannot be loaded";
                return -ENOSYS;
        }
        h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        if (lib.inflate_new(&h->inf) != 0) {
                free(h);
                return -ENOMEM;
        }
        /* The client's encoder may use a table as large as the server allowed it in its
         * SETTINGS, which the relay does not read: any size up to this bound. */
        if (lib.change_table_size(h->inf, HPACK_MAX_TABLE) != 0) {
                hpack_free(h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

struct hpack *hpack_free(struct hpack *h) {
        if (h) {
                lib.inflate_del(h->inf);
                free(h);
        }
        return NULL;
}

static void keep(const nghttp2_nv *nv, unsigned char *buf, size_t *len, unsigned *n,
                 struct hpack_seen *seen) {
        (*n)++;
        if (nv->valuelen > HPACK_MAX_VALUE) {
                seen->too_long = true;
                return;
        }
        memcpy(buf, nv->value, nv->valuelen);
        *len = nv->valuelen;
}

static bool is(const nghttp2_nv *nv, const char *name) {
        return nv->namelen == strlen(name) && memcmp(nv->name, name, nv->namelen) == 0;
}

static bool value_is(const nghttp2_nv *nv, const char *v) {
        return nv->valuelen == strlen(v) && memcmp(nv->value, v, nv->valuelen) == 0;
}

static void field(const nghttp2_nv *nv, struct hpack_seen *seen) {
        /* Names are lower case in HTTP/2: a server that read ":Authority" or "HOST" anyway
         * must not see a name the relay skipped. */
        for (size_t i = 0; i < nv->namelen; i++)
                if (nv->name[i] >= 'A' && nv->name[i] <= 'Z')
                        seen->bad_name = true;
        if (nv->namelen == 0 || nv->name[0] != ':') {
                if (is(nv, "host"))
                        keep(nv, seen->host, &seen->host_len, &seen->n_host, seen);
                return;
        }
        seen->pseudo = true;
        if (is(nv, ":authority"))
                keep(nv, seen->authority, &seen->authority_len, &seen->n_authority, seen);
        else if (is(nv, ":method"))
                seen->connect |= value_is(nv, "CONNECT");
        else if (is(nv, ":path"))
                seen->path_bad |= !(nv->valuelen > 0 && (nv->value[0] == '/' || value_is(nv, "*")));
        else if (is(nv, ":protocol")) {
                seen->n_protocol++;
                seen->websocket = value_is(nv, "websocket");
        } else if (!is(nv, ":scheme"))
                seen->bad_name = true;
}

int hpack_feed(struct hpack *h, const unsigned char *in, size_t len, bool final,
               struct hpack_seen *seen) {
        for (;;) {
                nghttp2_nv nv;
                int flags = 0;
                ssize_t r = lib.inflate_hd2(h->inf, &nv, &flags, in, len, final);

                if (r < 0)
                        return -EBADMSG;
                in += r;
                len -= (size_t) r;
                if (flags & NGHTTP2_HD_INFLATE_EMIT)
                        field(&nv, seen);
                if (flags & NGHTTP2_HD_INFLATE_FINAL) {
                        lib.end_headers(h->inf);
                        return len == 0 ? 0 : -EBADMSG;
                }
                if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && len == 0)
                        return final ? -EBADMSG : 0;
        }
}
