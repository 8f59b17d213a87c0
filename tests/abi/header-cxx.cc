// The public headers are usable from C++ (extern "C" guards, no C-only constructs).
#include "caisson/backend.h"
#include "caisson/reasons.h"
#include "caisson/types.h"

static_assert(sizeof(caisson_error) == 12 + 256, "caisson_error layout is ABI");

int main() {
        caisson_backend_v1 t{};
        t.abi_version = CAISSON_BACKEND_ABI_VERSION;
        return t.abi_version == 1u ? 0 : 1;
}
