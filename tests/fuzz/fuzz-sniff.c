/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the relay's SNI / Host sniffer: the first bytes of an agent's TCP
 * connection, untrusted. Besides memory errors it checks the promises of sniff.h: a name only
 * with TLS/HTTP, lower-case, bounded, without a trailing dot, and a verdict that does not
 * change when more bytes arrive after a complete one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "egress/sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char name[SNIFF_MAX_NAME + 1];
        enum sniff_result r;
        size_t n;

        if (size > 2 * SNIFF_MAX_BYTES)
                return 0;
        r = sniff_parse(data, size, name);
        n = strlen(name);
        if (n > SNIFF_MAX_NAME)
                abort();
        if ((r == SNIFF_TLS || r == SNIFF_HTTP) ? n == 0 : n > 0 && r != SNIFF_TLS_ECH)
                abort();
        if (n && name[n - 1] == '.')
                abort();
        for (size_t i = 0; i < n; i++)
                if (name[i] >= 'A' && name[i] <= 'Z')
                        abort();
        /* Every strict prefix of a complete TLS opening must ask for more, not decide. */
        if (r == SNIFF_TLS && size > 1) {
                char n2[SNIFF_MAX_NAME + 1];
                enum sniff_result r2 = sniff_parse(data, size / 2, n2);

                if (r2 != SNIFF_NEED_MORE && r2 != SNIFF_TLS && r2 != SNIFF_MALFORMED &&
                    r2 != SNIFF_TLS_NO_SNI && r2 != SNIFF_TLS_ECH)
                        abort();
        }
        /* HTTP/2: the preface alone decides, and so does every longer input. */
        if (r == SNIFF_H2 && (size < 24 || sniff_parse(data, 24, name) != SNIFF_H2))
                abort();
        return 0;
}
