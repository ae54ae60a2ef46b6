/* kalman: the one Kalman-filter core shared by gekf, rlekf and lekf (SPEC §3).
 *
 * The weights are cut into L contiguous blocks; block i keeps a dense symmetric covariance P_i.
 * One update consumes a scalar error e and a Jacobian h = (h_1 ... h_L):
 *     k_i = P_i h_i
 *     A   = 1 / (L·λ + Σ_i h_iᵀ k_i)      ("per_block"; "single" uses λ instead of L·λ)
 *     w_i ← w_i + A·e·k_i
 *     P_i ← (P_i − A·k_i k_iᵀ) / λ
 *     λ   ← ν·λ + 1 − ν
 * The three optimizers differ only in how blocks are formed (kalman_blocks). The P_i are stored in
 * double or, with covariance "float32", in single precision (half the memory and memory traffic);
 * w, h, k, A and every sum are double either way (SPEC §3 "Covariance precision"). After every
 * update the new diagonal of every P_i must be positive and finite, else the step returns
 * RK_EDIVERGED naming the optimizer, update, block and entry. This header also exports what tests
 * and the benchmark need: the block computation, a dense copy of P_i and the choice of compute
 * kernel.
 */
#ifndef RLEKF_KALMAN_H
#define RLEKF_KALMAN_H

#include <stddef.h>

#include "optim.h"

/* Positions of the shared hyper-parameters in every Kalman type's table (gekf uses the first
 * KALMAN_P_BLOCK_SIZE entries, rlekf and lekf all of them: block_size must stay last). */
enum {
    KALMAN_P_P0,
    KALMAN_P_LAMBDA,
    KALMAN_P_NU,
    KALMAN_P_NOISE,
    KALMAN_P_COVARIANCE,
    KALMAN_P_BLOCK_SIZE,
    KALMAN_N_PARAMS
};
/* Values of the measurement_noise choice. */
enum { KALMAN_NOISE_PER_BLOCK, KALMAN_NOISE_SINGLE };
/* Values of the covariance choice: the storage precision of the P_i. */
enum { KALMAN_COV_FLOAT64, KALMAN_COV_FLOAT32 };

extern const optim_param_desc kalman_param_table[KALMAN_N_PARAMS];

typedef enum {
    KALMAN_SPLIT_GLOBAL, /* gekf: one block of all N weights */
    KALMAN_SPLIT_GATHER, /* rlekf: gather small tensors up to N_b, cut large groups into N_b */
    KALMAN_SPLIT_TENSOR, /* lekf: one block per tensor, tensors of N_b or more cut into N_b */
} kalman_split;

/* Compute kernel for the two passes over each packed block (for the benchmark and tests; the
 * default is the fastest measured, KALMAN_KERNEL_FUSED). */
typedef enum {
    KALMAN_KERNEL_FUSED, /* own OpenMP loop: previous rank-1 update fused into this mat-vec */
    KALMAN_KERNEL_LOOPS, /* own OpenMP loops: rank-1 update pass, then mat-vec pass */
    KALMAN_KERNEL_BLAS,  /* OpenBLAS dspr, then dspmv (float64 only: a float32 state, for which
                          * BLAS would also sum in single precision, runs KALMAN_KERNEL_LOOPS) */
} kalman_kernel;

/* Block sizes of layout L under a split mode and threshold nb (ignored for GLOBAL), in
 * parameter-vector order. Writes them to sizes[] when sizes is not NULL; returns the count. */
size_t kalman_blocks(const layout_t *L, kalman_split mode, size_t nb, size_t *sizes);

/* What the `data` of a Kalman type points at: the variant's block layout rule. A Kalman type is
 * a table (gekf.c, rlekf.c, lekf.c) whose hooks are the functions below. */
typedef struct {
    kalman_split split;
} kalman_variant;

/* Advice for every Kalman type's memory-limit refusal (optim_type.memory_hint). */
#define KALMAN_MEMORY_HINT "rlekf with a smaller block_size needs less"

/* The hooks of every Kalman type. kalman_state_bytes is exactly what kalman_init allocates:
 * Σ n_i(n_i+1)/2 · (8, or 4 for float32) for the packed triangles, plus 8 · (2N + Σ pieces_i·n_i)
 * for the vectors k, u and the partial mat-vec results, plus the bookkeeping. Messages carry t->name ("rlekf: update
 * 12: ..."). kalman_describe gives the blocks the type would build, e.g. "1 block of 26551" or
 * "7 blocks, largest 5120", for memory-limit messages. */
size_t kalman_state_bytes(const optim_type *t, const optim_params *p, const layout_t *L);
rk_status kalman_init(const optim_type *t, void **state, const optim_params *p, const layout_t *L);
rk_status kalman_step(void *state, double *w, const optim_signal *sig);
void kalman_report(const void *state, optim_report_t *r);
void kalman_free(void *state);
int kalman_describe(const optim_type *t, const optim_params *p, const layout_t *L, char *buf,
                    size_t cap);
/* Checkpoint hooks (optim.h): arrays Q (the packed triangles, at the storage precision) and u
 * (the pending rank-1 vector); scalars λ, updates, pending, the block count, σ_i, β_i. */
size_t kalman_state_arrays(void *state, optim_array *a);
size_t kalman_get_scalars(const void *state, double *s);
rk_status kalman_set_scalars(void *state, const double *s, size_t n);
#define KALMAN_CHECKPOINT_HOOKS                                                                    \
    .state_arrays = kalman_state_arrays, .get_scalars = kalman_get_scalars,                        \
    .set_scalars = kalman_set_scalars

/* Distribution over R ranks (kalman.c, "distribution over ranks"): a block stays whole on one
 * rank where that balances the stored entries, else its rows are cut between ranks at the piece
 * boundaries of the serial sweep. kalman_plan computes one rank's share without allocating the
 * covariance: what `rlekf plan` prints and what kalman_init on that rank allocates. */
typedef struct {
    size_t block, n;    /* block index and size */
    size_t row0, row1;  /* rows [row0, row1) of the block are this rank's */
    int split;          /* the block is shared with other ranks */
} kalman_slice;

typedef struct {
    size_t blocks;      /* blocks in the whole layout */
    size_t slices;      /* blocks (whole or a row range) held by this rank */
    size_t entries;     /* covariance entries stored on this rank */
    size_t state_bytes; /* exactly what kalman_init allocates on this rank */
    size_t send_bytes;  /* per update: this rank's contribution to the all-gather of k */
    size_t recv_bytes;  /* per update: what it receives from the other ranks */
} kalman_plan_rank;

/* Rank `rank` of R: fills *out and up to cap slices (in block order; out->slices counts all). */
rk_status kalman_plan(const optim_type *t, const optim_params *p, const layout_t *L, int R,
                      int rank, kalman_plan_rank *out, kalman_slice *slices, size_t cap);
/* Split mode of a Kalman type (one whose hooks are the above, read from its data); -1 for any
 * other type. */
int kalman_split_of(const optim_type *t);

/* Tests and benchmark; o must be an optimizer of a Kalman type (asserted). */
void kalman_set_kernel(optim_t *o, kalman_kernel k);
size_t kalman_block_count(const optim_t *o);
/* Bytes of the packed triangles alone (the memory every update streams through), at the storage
 * precision. */
size_t kalman_packed_bytes(const optim_t *o);
/* Size n_i of block i; when P is not NULL, writes the dense n_i × n_i covariance P_i (row-major,
 * both triangles) into it: the values the next update will use (for float32, each entry of
 * P_i/σ_i as stored in single precision, times σ_i). */
size_t kalman_block_dense(const optim_t *o, size_t i, double *P);
/* Test hook: multiply the stored entry (r, c) of block i by f (corrupts P on purpose, to exercise
 * the positive-diagonal guard; r, c in either order). */
void kalman_test_scale_entry(optim_t *o, size_t i, size_t r, size_t c, double f);

#endif
