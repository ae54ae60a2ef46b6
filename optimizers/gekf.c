/* gekf: global extended Kalman filter — one covariance block holding all N weights (SPEC §3).
 *
 * The update is the shared Kalman core (kalman.c) with L = 1:
 *     k = P h,  A = 1/(λ + hᵀk),  w ← w + A·e·k,  P ← (P − A k kᵀ)/λ,  λ ← ν·λ + 1 − ν.
 * Memory grows as N²/2 doubles (2.6 GiB for the one-type default model): the reference that
 * rlekf approximates, refused by optim_create when over the memory limit.
 */
#include "kalman.h"

static const kalman_variant gekf_variant = {KALMAN_SPLIT_GLOBAL};

const optim_type optim_gekf = {
    .name = "gekf",
    .summary = "global extended Kalman filter: one dense covariance for all weights",
    .kind = OPTIM_KALMAN,
    .params = kalman_param_table,
    .n_params = KALMAN_P_BLOCK_SIZE, /* no block_size: there is one block */
    .data = &gekf_variant,
    .state_bytes = kalman_state_bytes,
    .init = kalman_init,
    .step = kalman_step,
    .report = kalman_report,
    .free = kalman_free,
    .describe = kalman_describe,
    .memory_hint = KALMAN_MEMORY_HINT,
    KALMAN_CHECKPOINT_HOOKS,
};
