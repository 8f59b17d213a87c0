/* Each public header compiles alone, as C11 with -pedantic-errors. */
#include "caisson/backend.h"
#include "caisson/reasons.h"
#include "caisson/types.h"

int main(void) {
        struct caisson_backend_v1 t = { CAISSON_BACKEND_ABI_VERSION, sizeof t };
        struct caisson_error e = { CAISSON_LAYER_POLICY, CAISSON_REASON_POLICY_INVALID, 0, "x" };

        return (int) (t.abi_version != 1u) + (int) (e.code != 11u);
}
