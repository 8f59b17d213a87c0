/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/egress/sha256.h — SHA-256 of a client's executable, for egress events. The kernel's
 * AF_ALG hash when the kernel has it; else GNU Nettle, else OpenSSL's libcrypto, each
 * dlopen()ed (as libnftables is) so a sandbox without egress never maps them. Nettle comes
 * before libcrypto for its cost: about 0.17 ms to load against 0.9-3 ms, paid on every
 * start with network_policies, on a core the sandbox's own start needs. Never hand-rolled. */
#ifndef CAISSON_EGRESS_SHA256_H
#define CAISSON_EGRESS_SHA256_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct sha256_engine {
        int alg_fd;              /* bound AF_ALG "hash"/"sha256" socket, or -1 */
        void *nettle;            /* dlopen()ed libnettle, or NULL */
        void (*n_init)(void *ctx);
        void (*n_update)(void *ctx, size_t len, const uint8_t *data);
        void (*n_digest)(void *ctx, size_t len, uint8_t *digest);
        void *crypto;            /* dlopen()ed libcrypto, or NULL */
        void *(*md_ctx_new)(void);
        void (*md_ctx_free)(void *ctx);
        const void *(*sha256)(void);
        int (*init)(void *ctx, const void *md, void *engine);
        int (*update)(void *ctx, const void *data, size_t len);
        int (*final)(void *ctx, unsigned char *md, unsigned *len);
};

/* Finds an engine: AF_ALG, else Nettle, else libcrypto. Returns 0, or -ENOSYS with none
 * (the caller then reports identities without a hash, and says so). */
int sha256_engine_open(struct sha256_engine *e);
/* That one engine only ("af_alg", "nettle" or "libcrypto"): -ENOSYS where it is missing. */
int sha256_engine_open_named(struct sha256_engine *e, const char *name);
void sha256_engine_close(struct sha256_engine *e);
/* "af_alg", "nettle", "libcrypto", or NULL */
const char *sha256_engine_name(const struct sha256_engine *e);

/* Hashes size bytes of fd from offset 0. Returns 0 or -errno. */
int sha256_fd(const struct sha256_engine *e, int fd, uint64_t size, uint8_t md[32]);

#endif
