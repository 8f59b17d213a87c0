/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the fence read-back's renderer and the reject counters' reader
 * (src/egress/nft-raw.c): netlink messages as a dump returns them. The kernel writes them,
 * but the parsers must hold on any bytes: no read past the buffer, a render that fits its
 * size, the same render twice, prefixes that are strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "egress/nft-raw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void counted(const char *prefix, uint64_t packets, void *userdata) {
        (void) packets;
        *(size_t *) userdata += strlen(prefix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char a[4096], b[4096];
        uint8_t *copy;
        int ra, rb;

        if (size < 2 || size > NFT_RAW_MAX_DUMP)
                return 0;
        /* The first two bytes are the relay port; the rest, 4-byte aligned as netlink is. */
        copy = malloc(size - 2);
        if (!copy)
                return 0;
        memcpy(copy, data + 2, size - 2);
        ra = nft_raw_render(copy, size - 2, (uint16_t) (data[0] << 8 | data[1]), a, sizeof a);
        rb = nft_raw_render(copy, size - 2, (uint16_t) (data[0] << 8 | data[1]), b, sizeof b);
        if (ra != rb || (ra >= 0 && ((size_t) ra >= sizeof a || strcmp(a, b) != 0 ||
                                     strlen(a) != (size_t) ra)))
                abort();
        {
                size_t n = 0;

                (void) nft_raw_rule_counters(copy, size - 2, "caisson", "filter_out", counted,
                                             &n);
        }
        free(copy);
        return 0;
}
