/* fuzz_main: the libFuzzer entry point of one target; CMake builds this file once per target with
 * FUZZ_TARGET_NAME set ("movement", "npy", ...; see fuzz_harness.h). With RLEKF_FUZZ_VERBOSE set
 * in the environment, every input's status and message are printed (to check seeds). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_harness.h"

#ifndef FUZZ_TARGET_NAME
#error "FUZZ_TARGET_NAME must name a target of fuzz_harness.c"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const fuzz_target *t;
    if (!t && !(t = fuzz_target_find(FUZZ_TARGET_NAME))) {
        fprintf(stderr, "fuzz: no target named %s\n", FUZZ_TARGET_NAME);
        abort();
    }
    rk_status st = fuzz_target_run(t, data, size);
    if (getenv("RLEKF_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz %s: %s%s%s\n", FUZZ_TARGET_NAME, err_status_str(st), st ? ": " : "",
                st ? err_msg() : "");
    return 0;
}
