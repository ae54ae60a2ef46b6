/* fuzz_harness: the readers of untrusted input, each behind one entry point that takes raw bytes.
 *
 * A target turns its input into the files its reader expects (in a private temporary directory),
 * calls the reader through its public function, checks the contract and removes the files:
 *   - the status is RK_OK or RK_EINPUT (a malformed input is an input error, never an out-of-
 *     memory or runtime failure), and an error always comes with a message;
 *   - no HDF5 identifier is left open (h5io_open_ids() is the same before and after).
 * A crash, a hang, a sanitizer report or a leak is found by the tool running the target
 * (libFuzzer under ASan+UBSan, or the Criterion replay of tests/data/fuzz/ under the ASan build).
 * A broken contract aborts, so the fuzzer records the input.
 *
 * Input of a multi-file target (directory formats): the bytes up to the first separator are the
 * target's first file (none if they are empty); a separator line "#FZ:<name>\n" starts the content of the file <name> of
 * the target's table (a later part for the same file replaces an earlier one; a name not in the
 * table drops its part). Files absent from the input do not exist. File names come only from the
 * table, so no input can name a path outside the temporary directory. Names starting with '@' are
 * options, not files: "@type_map" holds a --type-map list for the importers.
 */
#ifndef RLEKF_FUZZ_HARNESS_H
#define RLEKF_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define FUZZ_SEPARATOR "#FZ:"
#define FUZZ_SEPARATOR_LEN 4

typedef struct fuzz_target fuzz_target;

/* The target named `name` ("movement", "deepmd", "deepmd_raw", "pwdata", "extxyz", "mlearn",
 * "npy", "config", "manifest", "h5dataset", "h5model"), or NULL. */
const fuzz_target *fuzz_target_find(const char *name);
/* Number of targets and the i-th one's name (for listings and the replay test). */
size_t fuzz_target_count(void);
const char *fuzz_target_name(size_t i);
/* The target's table: file number k (k < fuzz_target_nfiles). */
size_t fuzz_target_nfiles(const fuzz_target *t);
const char *fuzz_target_file(const fuzz_target *t, size_t k);

/* Run one input. Returns the reader's status (RK_OK or RK_EINPUT) with its message in err_msg().
 * A broken contract (another status, an error without a message, an HDF5 identifier left open)
 * is reported on stderr and aborts. */
rk_status fuzz_target_run(const fuzz_target *t, const uint8_t *data, size_t size);

/* Remove the process's temporary directory (also done at exit). */
void fuzz_cleanup(void);

#endif
