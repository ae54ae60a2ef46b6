/* npy: reader for NumPy .npy files (format versions 1.0, 2.0 and 3.0).
 *
 * Supported: little-endian '<f4', '<f8', '<i4', '<i8' (and '|'/'=' byte-order marks where they are
 * unambiguous), C order only. Floating data are widened to double, integer data to int64.
 * Anything else (big-endian, fortran_order True, wrong magic, truncated data, trailing bytes) is
 * RK_EINPUT with a message naming the file and what is wrong.
 */
#ifndef RLEKF_NPY_H
#define RLEKF_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define NPY_MAX_DIMS 8

typedef struct {
    size_t ndim;
    size_t shape[NPY_MAX_DIMS];
    size_t count;      /* product of shape (1 for a 0-d array) */
    int is_integer;    /* 1: data in i64; 0: data in f64 */
    size_t item_bytes; /* size of one element in the file: 4 or 8 */
    double *f64;       /* (count) when !is_integer */
    int64_t *i64;      /* (count) when is_integer */
} npy_array;

/* Read the whole file into a. On failure a is left empty. */
rk_status npy_read(const char *path, npy_array *a);
void npy_free(npy_array *a);
/* "(80, 576)" into buf, for messages. */
const char *npy_shape_str(const npy_array *a, char *buf, size_t cap);

#endif
