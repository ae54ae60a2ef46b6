/* sgd: plain stochastic gradient descent, the smallest optimizer (and a baseline for Adam).
 *
 *     w ← w − lr·g
 * with a constant learning rate and constant loss prefactors: the trainer weights the per-image
 * loss L = pE·((Ê − E)/n)² + pF·(1/(3n))·Σ|F̂ − F|² with the pref_e and pref_f that report()
 * gives (SPEC §3, the gradient protocol), and sends g = dL/dw.
 */
#include <math.h>

#include "optim.h"

/* Below 1e-20 nothing moves at all; above 1 a step of lr·g overshoots on the per-image losses,
 * whose curvature along the gradient is of order 1 and more (gradient descent diverges once
 * lr·curvature > 2). */
#define SGD_LR_MIN 1e-20
#define SGD_LR_MAX 1.0
/* Loss prefactors are weights of squared errors; 1e6 is far above DeePMD-kit's 1000. */
#define SGD_PREF_MAX 1e6

enum { SGD_P_LR, SGD_P_PREF_E, SGD_P_PREF_F, SGD_N_PARAMS };

static const optim_param_desc sgd_params[SGD_N_PARAMS] = {
    {"lr", OPTIM_P_REAL, 1e-3, SGD_LR_MIN, SGD_LR_MAX, NULL, "learning rate (constant)"},
    {"pref_e", OPTIM_P_REAL, 1, 0, SGD_PREF_MAX, NULL, "energy loss prefactor (constant)"},
    {"pref_f", OPTIM_P_REAL, 1, 0, SGD_PREF_MAX, NULL, "force loss prefactor (constant)"},
};

typedef struct {
    optim_params p;
    size_t N, t;
} sgd_state;

static size_t sgd_state_bytes(const optim_type *t, const optim_params *p, const layout_t *L) {
    return sizeof(sgd_state);
}

static rk_status sgd_init(const optim_type *t, void **state, const optim_params *p,
                          const layout_t *L) {
    *state = NULL;
    if (L->n_params == 0) return err_set(RK_EINPUT, "sgd: the parameter layout is empty");
    sgd_state *S = rk_calloc(1, sizeof *S);
    if (!S) return err_prefix(RK_ENOMEM, "sgd: ");
    S->p = *p;
    S->N = L->n_params;
    *state = S;
    return RK_OK;
}

static rk_status sgd_step(void *state, double *w, const optim_signal *sig) {
    sgd_state *S = state;
    RK_ASSERT(S && w && sig && sig->g);
    for (size_t j = 0; j < S->N; j++)
        if (!isfinite(sig->g[j]))
            return err_set(RK_EDIVERGED, "sgd: step %zu: gradient component %zu is %g", S->t + 1, j,
                           sig->g[j]);
    /* w ← w − lr·g */
    const double lr = S->p.v[SGD_P_LR];
    for (size_t j = 0; j < S->N; j++)
        w[j] -= lr * sig->g[j];
    S->t++;
    return RK_OK;
}

static void sgd_report(const void *state, optim_report_t *r) {
    const sgd_state *S = state;
    r->lr = S->p.v[SGD_P_LR];
    r->pref_e = S->p.v[SGD_P_PREF_E];
    r->pref_f = S->p.v[SGD_P_PREF_F];
    r->updates = S->t;
    r->state_bytes = sizeof *S;
}

static void sgd_free(void *state) {
    free(state);
}

/* Checkpoint hooks: no arrays; the step count t. */
static size_t sgd_state_arrays(void *state, optim_array *a) {
    (void)state;
    (void)a;
    return 0;
}

static size_t sgd_get_scalars(const void *state, double *s) {
    const sgd_state *S = state;
    if (s) s[0] = (double)S->t;
    return 1;
}

static rk_status sgd_set_scalars(void *state, const double *s, size_t n) {
    sgd_state *S = state;
    if (n != 1 || !(s[0] >= 0.0))
        return err_set(RK_EINPUT, "sgd: checkpoint state: expected 1 scalar (the step count)");
    S->t = (size_t)s[0];
    return RK_OK;
}

const optim_type optim_sgd = {
    .name = "sgd",
    .summary = "plain gradient descent w <- w - lr*g with constant lr and loss prefactors",
    .kind = OPTIM_GRADIENT,
    .params = sgd_params,
    .n_params = SGD_N_PARAMS,
    .state_bytes = sgd_state_bytes,
    .init = sgd_init,
    .step = sgd_step,
    .report = sgd_report,
    .free = sgd_free,
    .state_arrays = sgd_state_arrays,
    .get_scalars = sgd_get_scalars,
    .set_scalars = sgd_set_scalars,
};
