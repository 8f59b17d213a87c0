/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The executable hash of egress events: FIPS 180-4 test vectors through whichever engine
 * this machine has (AF_ALG, else Nettle, else libcrypto), and each engine on its own where
 * present. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "egress/sha256.h"

static int memfd_with(const void *data, size_t len) {
        int fd = memfd_create("t", MFD_CLOEXEC);

        cr_assert(fd >= 0);
        cr_assert_eq(write(fd, data, len), (ssize_t) len);
        return fd;
}

static void hex(const uint8_t md[32], char out[65]) {
        for (int i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void check(const struct sha256_engine *e, const void *data, size_t len,
                  const char *want) {
        uint8_t md[32];
        char got[65];
        int fd = memfd_with(data, len);

        cr_assert_eq(sha256_fd(e, fd, len, md), 0, "engine %s", sha256_engine_name(e));
        hex(md, got);
        cr_assert_str_eq(got, want, "engine %s", sha256_engine_name(e));
        close(fd);
}

static void vectors(const struct sha256_engine *e) {
        static const char two_blocks[] =
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        static uint8_t big[1000000];

        check(e, "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        check(e, "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        check(e, two_blocks, sizeof two_blocks - 1,
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        /* one million 'a': more than one read chunk and one sendfile call */
        memset(big, 'a', sizeof big);
        check(e, big, sizeof big,
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(sha256, vectors_on_this_machines_engine) {
        struct sha256_engine e;

        cr_assert_eq(sha256_engine_open(&e), 0, "no AF_ALG, Nettle or libcrypto here");
        cr_assert_not_null(sha256_engine_name(&e));
        vectors(&e);
        sha256_engine_close(&e);
        cr_assert_null(sha256_engine_name(&e));
}

/* Each engine on its own, where this machine has it. Debian 12 always has Nettle (apt
 * needs it through GnuTLS; scripts/install-deps.sh names libnettle8 and libssl3 anyway); AF_ALG
 * depends on the kernel's configuration. */
Test(sha256, each_engine_present_passes_the_vectors) {
        static const char *const names[] = { "af_alg", "nettle", "libcrypto" };
        int n = 0;

        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                struct sha256_engine e;

                if (sha256_engine_open_named(&e, names[i]) < 0)
                        continue;
                cr_assert_str_eq(sha256_engine_name(&e), names[i]);
                vectors(&e);
                sha256_engine_close(&e);
                n++;
        }
        cr_assert_geq(n, 2, "Nettle and libcrypto are on every Debian 12 that runs caisson");
        {
                struct sha256_engine e;

                cr_assert_eq(sha256_engine_open_named(&e, "md5"), -ENOSYS);
                cr_assert_null(sha256_engine_name(&e));
        }
}

/* The cheap engine first: libcrypto only where the kernel and Nettle are both missing. */
Test(sha256, default_prefers_the_kernel_then_nettle) {
        struct sha256_engine e, alg;

        cr_assert_eq(sha256_engine_open(&e), 0);
        if (sha256_engine_open_named(&alg, "af_alg") == 0) {
                cr_assert_str_eq(sha256_engine_name(&e), "af_alg");
                sha256_engine_close(&alg);
        } else
                cr_assert_str_eq(sha256_engine_name(&e), "nettle");
        sha256_engine_close(&e);
}

Test(sha256, short_file_is_an_error_not_a_hash) {
        static const char *const names[] = { "af_alg", "nettle", "libcrypto" };

        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                struct sha256_engine e;
                uint8_t md[32];
                int fd;

                if (sha256_engine_open_named(&e, names[i]) < 0)
                        continue;
                fd = memfd_with("abc", 3);
                /* fstat said 10 bytes, the file has 3: never report the hash of something
                 * else */
                cr_assert_lt(sha256_fd(&e, fd, 10, md), 0, "engine %s", names[i]);
                close(fd);
                sha256_engine_close(&e);
        }
}

Test(sha256, no_engine_refuses) {
        struct sha256_engine e = { .alg_fd = -1 };
        uint8_t md[32];

        cr_assert_eq(sha256_fd(&e, 0, 0, md), -ENOSYS);
}
