/* num: the one checked parser of numbers given as text (command-line flags, config values).
 *
 * Each function reads the WHOLE string as one number of its kind and checks it against inclusive
 * bounds. Empty text, leading or trailing junk (spaces included), overflow, a sign on an unsigned
 * kind, and NaN or infinity are RK_EINPUT with the one-line message
 *   "<what>: expected <kind> in [lo, hi], got '<text>'"
 * where `what` names the flag or key ("--epochs", "train.json: training.seed").
 */
#ifndef RLEKF_NUM_H
#define RLEKF_NUM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A decimal integer (optional sign) in [lo, hi]. */
rk_status num_parse_long(const char *what, const char *text, long lo, long hi, long *out);
/* A decimal integer without sign in [lo, hi]. */
rk_status num_parse_u64(const char *what, const char *text, uint64_t lo, uint64_t hi,
                        uint64_t *out);
rk_status num_parse_size(const char *what, const char *text, size_t lo, size_t hi, size_t *out);
/* A finite real number (strtod syntax, no hexadecimal, no nan/inf) in [lo, hi]. */
rk_status num_parse_real(const char *what, const char *text, double lo, double hi, double *out);

#endif
