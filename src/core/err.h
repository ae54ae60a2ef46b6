/* err: the project's one error convention.
 *
 * Every fallible function returns an rk_status. On failure it records a one-line message with
 * err_set() that names the file, key, line or frame and the offending value; the caller either
 * adds context with err_prefix() or passes the status up. Only main() prints and exits:
 * exit status 0 on success, 2 for usage/input errors (RK_EINPUT), 1 for runtime failures.
 */
#ifndef RLEKF_ERR_H
#define RLEKF_ERR_H

#include <stdio.h>
#include <stdlib.h>

typedef enum {
    RK_OK = 0,
    RK_EINPUT,    /* bad input: file, manifest, dataset, usage (exit status 2) */
    RK_ERUNTIME,  /* I/O failure, library failure (exit status 1) */
    RK_ENOMEM,    /* allocation failed or memory limit exceeded (exit status 1) */
    RK_EDIVERGED, /* training produced NaN/Inf: a result, not a crash */
} rk_status;

/* Record a message (printf format) for status st and return st. */
rk_status err_set(rk_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepend context ("file.h5: ") to the current message; returns st. */
rk_status err_prefix(rk_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *err_msg(void);
void err_clear(void);
const char *err_status_str(rk_status st);
/* Process exit status for a status: 0, 1 or 2. */
int err_exit_code(rk_status st);

/* Always-on invariant check: only a bug can make it fail. */
#define RK_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "rlekf: internal error: %s:%d: assertion '%s' failed\n", __FILE__,     \
                    __LINE__, #cond);                                                              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Allocation helpers: on failure they set RK_ENOMEM with the request size and return NULL. */
void *rk_malloc(size_t bytes);
void *rk_calloc(size_t n, size_t size);
/* rk_calloc for a large array that is swept over and over (the Kalman covariance): from 2 MiB up,
 * 2 MiB aligned, transparent huge pages requested (madvise; ignored where the kernel has none) and
 * every page written once here. Pages of a plain calloc fault twice on first use, because the
 * first sweep reads a row before it writes it: the read maps the shared zero page, the write
 * copies it and shoots down the other core's TLB entry by an interrupt. In a 40-image Cu RLEKF run
 * that was 238k faults and most of the run's system time. Release with free(). */
void *rk_calloc_touched(size_t n, size_t size);

#endif
