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

#define CHUNK (64 * 1024)

static int open_alg(void) {
        struct sockaddr_alg sa = { .salg_family = AF_ALG, .salg_type = "hash",
                                   .salg_name = "sha256" };
        int fd = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
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
                return -ENOSYS;
        }
        e->crypto = h;
        return 0;
}

int sha256_engine_open(struct sha256_engine *e) {
        *e = (struct sha256_engine) { .alg_fd = -1 };
        e->alg_fd = open_alg();
        if (e->alg_fd >= 0)
                return 0;
        e->alg_fd = -1;
        return open_crypto(e);
}

void sha256_engine_close(struct sha256_engine *e) {
        if (e->alg_fd >= 0)
                close(e->alg_fd);
        if (e->crypto)
                dlclose(e->crypto);
        *e = (struct sha256_engine) { .alg_fd = -1 };
}

const char *sha256_engine_name(const struct sha256_engine *e) {
        return e->alg_fd >= 0 ? "af_alg" : e->crypto ? "libcrypto" : NULL;
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

static int hash_crypto(const struct sha256_engine *e, int fd, uint64_t size, uint8_t md[32]) {
        uint8_t buf[CHUNK];
        void *ctx = e->md_ctx_new();
        uint64_t off = 0;
        unsigned len = 0;
        int r = 0;

        if (!ctx)
                return -ENOMEM;
        if (e->init(ctx, e->sha256(), NULL) != 1) {
                r = -EIO;
                goto out;
        }
        while (off < size) {
                size_t want = size - off < sizeof buf ? (size_t) (size - off) : sizeof buf;
                ssize_t n = pread(fd, buf, want, (off_t) off);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto out;
                }
                if (n == 0 || e->update(ctx, buf, (size_t) n) != 1) {
                        r = -EIO;
                        goto out;
                }
                off += (uint64_t) n;
        }
        if (e->final(ctx, md, &len) != 1 || len != 32)
                r = -EIO;
out:
        e->md_ctx_free(ctx);
        return r;
}

int sha256_fd(const struct sha256_engine *e, int fd, uint64_t size, uint8_t md[32]) {
        if (e->alg_fd >= 0)
                return hash_alg(e, fd, size, md);
        if (e->crypto)
                return hash_crypto(e, fd, size, md);
        return -ENOSYS;
}
