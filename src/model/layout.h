/* layout: named segments of the flat parameter vector.
 *
 * The model owns the layout; optimizers see only the layout, the weight vector and the signals
 * (error + Jacobian, or gradient). Every W and every b is one tensor, listed in parameter-vector
 * order (SPEC §2): tensor k covers w[offset_k, offset_k + size_k), contiguous, no gaps.
 */
#ifndef RLEKF_LAYOUT_H
#define RLEKF_LAYOUT_H

#include <stddef.h>

#include "err.h"

#define LAYOUT_NAME_MAX 48

typedef struct {
    char name[LAYOUT_NAME_MAX]; /* e.g. "embed[0,1].layer2.W", "fit[0].out.b" */
    size_t offset;
    size_t size;
    size_t rows, cols; /* W: [n_in][n_out]; b: rows = 1 */
} layout_tensor;

typedef struct {
    size_t n_tensors;
    size_t n_params; /* N = sum of sizes */
    layout_tensor *t;
} layout_t;

rk_status layout_init(layout_t *L, size_t capacity);
/* Append a tensor of rows x cols entries at the end of the vector. */
rk_status layout_add(layout_t *L, const char *name, size_t rows, size_t cols);
void layout_free(layout_t *L);
/* Index of the tensor containing parameter p. */
size_t layout_find(const layout_t *L, size_t p);

#endif
