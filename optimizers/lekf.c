/* lekf: layer-wise extended Kalman filter, the ablation of rlekf without gathering (SPEC §3).
 *
 * The shared Kalman core (kalman.c) with one block per tensor (each W and each b), tensors of
 * N_b or more entries cut into consecutive chunks of N_b. Many tiny blocks (biases) each add
 * their own λ to the noise term L·λ, which is what distinguishes it from rlekf.
 */
#include "kalman.h"

static const kalman_variant lekf_variant = {KALMAN_SPLIT_TENSOR};

const optim_type optim_lekf = {
    .name = "lekf",
    .summary = "Kalman filter with one block per tensor, large tensors split (ablation of rlekf)",
    .kind = OPTIM_KALMAN,
    .params = kalman_param_table,
    .n_params = KALMAN_N_PARAMS,
    .data = &lekf_variant,
    .state_bytes = kalman_state_bytes,
    .init = kalman_init,
    .step = kalman_step,
    .report = kalman_report,
    .free = kalman_free,
    .describe = kalman_describe,
    .memory_hint = KALMAN_MEMORY_HINT,
    KALMAN_CHECKPOINT_HOOKS,
};
