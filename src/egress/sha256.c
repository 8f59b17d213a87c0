/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/egress/sha256.c — see sha256.h. */
#include <dlfcn.h>
#include <errno.h>
#include <linux/if_alg.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "egress/sha256.h"
#include "macro.h"
#include "util.h"

#define CHUNK (64 * 1024)

static int open_alg(void) {
        struct sockaddr_alg sa = { .salg_family = AF_ALG, .salg_type = "hash",
                                   .salg_name = "sha256" };

        return socket_bound(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, (struct sockaddr *) &sa,
                            sizeof sa);
}

/* Nettle's sha256_ctx (8 state words, a 64-bit count, an index, a 64-byte block: 112 bytes
 * in every Nettle 3 release) lives in this opaque buffer, several times its size, so no
 * header from nettle-dev is needed and a grown struct still fits. */
union nettle_ctx {
        uint64_t align;
        uint8_t bytes[512];
};

static int open_nettle(struct sha256_engine *e) {
        void *h = dlopen("libnettle.so.8", RTLD_NOW | RTLD_LOCAL);

        if (!h)
                return -ENOSYS;
        *(void **) &e->n_init = dlsym(h, "nettle_sha256_init");
        *(void **) &e->n_update = dlsym(h, "nettle_sha256_update");
        *(void **) &e->n_digest = dlsym(h, "nettle_sha256_digest");
        if (!e->n_init || !e->n_update || !e->n_digest) {
                dlclose(h);
                *e = (struct sha256_engine) { .alg_fd = -1 };
                return -ENOSYS;
        }
        e->nettle = h;
        return 0;
}

/* OpenSSL 3's EVP interface, the stable one (SHA256_* are deprecated). */
static int open_crypto(struct sha256_engine *e) {
        void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);

        if (!h)
                return -ENOSYS;
        *(void **) &e->md_ctx_new = dlsym(h, "EVP_MD_CTX_new");
        *(void **) &e->md_ctx_free = dlsym(h, "EVP_MD_CTX_free");
        *(void **) &e->sha256 = dlsym(h, "EVP_sha256");
        *(void **) &e->init = dlsym(h, "EVP_DigestInit_ex");
        *(void **) &e->update = dlsym(h, "EVP_DigestUpdate");
        *(void **) &e->final = dlsym(h, "EVP_DigestFinal_ex");
        if (!e->md_ctx_new || !e->md_ctx_free || !e->sha256 || !e->init || !e->update ||
            !e->final) {
                dlclose(h);
                *e = (struct sha256_engine) { .alg_fd = -1 };
                return -ENOSYS;
        }
        e->crypto = h;
        return 0;
}

int sha256_engine_open_named(struct sha256_engine *e, const char *name) {
        int r = -ENOSYS;

        *e = (struct sha256_engine) { .alg_fd = -1 };
        if (streq(name, "af_alg")) {
                r = open_alg();
                if (r >= 0) {
                        e->alg_fd = r;
                        r = 0;
                }
        } else if (streq(name, "nettle"))
                r = open_nettle(e);
        else if (streq(name, "libcrypto"))
                r = open_crypto(e);
        return r < 0 ? -ENOSYS : 0;
}

int sha256_engine_open(struct sha256_engine *e) {
        static const char *const order[] = { "af_alg", "nettle", "libcrypto" };

        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                if (sha256_engine_open_named(e, order[i]) == 0)
                        return 0;
        return -ENOSYS;
}

void sha256_engine_close(struct sha256_engine *e) {
        if (e->alg_fd >= 0)
                close(e->alg_fd);
        if (e->nettle)
                dlclose(e->nettle);
        if (e->crypto)
                dlclose(e->crypto);
        *e = (struct sha256_engine) { .alg_fd = -1 };
}

const char *sha256_engine_name(const struct sha256_engine *e) {
        return e->alg_fd >= 0 ? "af_alg" : e->nettle ? "nettle" : e->crypto ? "libcrypto" : NULL;
}

static int hash_alg(const struct sha256_engine *e, int fd, uint64_t size, uint8_t md[32]) {
        _cleanup_close_ int op = accept4(e->alg_fd, NULL, NULL, SOCK_CLOEXEC);
        off_t off = 0;

        if (op < 0)
                return -errno;
        while ((uint64_t) off < size) {
                ssize_t n = sendfile(op, fd, &off, (size_t) (size - (uint64_t) off));

                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO; /* shorter than fstat said: not what we hashed */
        }
        if (read(op, md, 32) != 32)
                return -EIO;
        return 0;
}

/* Feeds size bytes of fd, from offset 0, to feed() in chunks: -EIO when the file ends
 * before size (shorter than fstat said: not what the caller means to hash). */
static int feed_file(int fd, uint64_t size, int (*feed)(const struct sha256_engine *e, void *ctx,
                                                        const uint8_t *p, size_t n),
                     const struct sha256_engine *e, void *ctx) {
        uint8_t buf[CHUNK];
        uint64_t off = 0;

        while (off < size) {
                size_t want = size - off < sizeof buf ? (size_t) (size - off) : sizeof buf;
                ssize_t n = pread(fd, buf, want, (off_t) off);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0 || feed(e, ctx, buf, (size_t) n) < 0)
                        return -EIO;
                off += (uint64_t) n;
        }
        return 0;
}

static int feed_nettle(const struct sha256_engine *e, void *ctx, const uint8_t *p, size_t n) {
        e->n_update(ctx, n, p);
        return 0;
}

static int hash_nettle(const struct sha256_engine *e, int fd, uint64_t size, uint8_t md[32]) {
        union nettle_ctx ctx;
        int r;

        e->n_init(&ctx);
        r = feed_file(fd, size, feed_nettle, e, &ctx);
        if (r == 0)
                e->n_digest(&ctx, 32, md);
        return r;
}

static int feed_crypto(const struct sha256_engine *e, void *ctx, const uint8_t *p, size_t n) {
        return e->update(ctx, p, n) == 1 ? 0 : -EIO;
}

static int hash_crypto(const struct sha256_engine *e, int fd, uint64_t size, uint8_t md[32]) {
        void *ctx = e->md_ctx_new();
        unsigned len = 0;
        int r;

        if (!ctx)
                return -ENOMEM;
        r = e->init(ctx, e->sha256(), NULL) == 1 ? feed_file(fd, size, feed_crypto, e, ctx) : -EIO;
        if (r == 0 && (e->final(ctx, md, &len) != 1 || len != 32))
                r = -EIO;
        e->md_ctx_free(ctx);
        return r;
}

int sha256_fd(const struct sha256_engine *e, int fd, uint64_t size, uint8_t md[32]) {
        if (e->alg_fd >= 0)
                return hash_alg(e, fd, size, md);
        if (e->nettle)
                return hash_nettle(e, fd, size, md);
        if (e->crypto)
                return hash_crypto(e, fd, size, md);
        return -ENOSYS;
}
