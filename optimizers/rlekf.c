/* rlekf: reorganised layer-wise extended Kalman filter (Hu et al., AAAI 2023; SPEC §3).
 *
 * The shared Kalman core (kalman.c) with the split/gather block layout: walking the tensors in
 * parameter-vector order with a running count s, a tensor with s + size > N_b closes the current
 * group and starts a new one; groups of N_b or more are cut into chunks of N_b. Covariance
 * between blocks is dropped, so memory is Σ n_i²/2 instead of N²/2. With N_b ≥ N it is gekf.
 */
#include "kalman.h"

static const kalman_variant rlekf_variant = {KALMAN_SPLIT_GATHER};

const optim_type optim_rlekf = {
    .name = "rlekf",
    .summary = "Kalman filter on blocks: small tensors gathered, large ones split at block_size",
    .kind = OPTIM_KALMAN,
    .params = kalman_param_table,
    .n_params = KALMAN_N_PARAMS,
    .data = &rlekf_variant,
    .state_bytes = kalman_state_bytes,
    .init = kalman_init,
    .step = kalman_step,
    .report = kalman_report,
    .free = kalman_free,
    .describe = kalman_describe,
    .memory_hint = KALMAN_MEMORY_HINT,
    KALMAN_CHECKPOINT_HOOKS,
};
