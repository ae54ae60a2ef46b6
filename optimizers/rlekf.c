/* rlekf: reorganised layer-wise extended Kalman filter (Hu et al., AAAI 2023; SPEC §3).
 *
 * The shared Kalman core (kalman.c) with the split/gather block layout: walking the tensors in
 * parameter-vector order with a running count s, a tensor with s + size > N_b closes the current
 * group and starts a new one; groups of N_b or more are cut into chunks of N_b. Covariance
 * between blocks is dropped, so memory is Σ n_i²/2 instead of N²/2. With N_b ≥ N it is gekf.
 */
#include "kalman.h"

static size_t rlekf_state_bytes(const optim_params *p, const layout_t *L) {
    return kalman_state_bytes(p, L, KALMAN_SPLIT_GATHER);
}

static rk_status rlekf_init(void **state, const optim_params *p, const layout_t *L) {
    return kalman_init(state, p, L, KALMAN_SPLIT_GATHER, "rlekf");
}

const optim_type optim_rlekf = {
    .name = "rlekf",
    .summary = "Kalman filter on blocks: small tensors gathered, large ones split at block_size",
    .kind = OPTIM_KALMAN,
    .params = kalman_param_table,
    .n_params = KALMAN_N_PARAMS,
    .state_bytes = rlekf_state_bytes,
    .init = rlekf_init,
    .step = kalman_step,
    .report = kalman_report,
    .free = kalman_free,
    .describe = kalman_describe,
};
