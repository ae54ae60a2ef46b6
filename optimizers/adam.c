/* adam: Adam with DeePMD-kit's schedule (SPEC §3, see adam.h).
 *
 * One step with gradient g at step count t (t' = t + 1), as torch.optim.Adam:
 *     m ← β1·m + (1 − β1)·g ;  v ← β2·v + (1 − β2)·g²
 *     m̂ = m/(1 − β1^t') ;  v̂ = v/(1 − β2^t')
 *     w ← w − lr(t)·m̂/(√v̂ + ε)
 * report() gives lr and the prefactors for the NEXT step, which the trainer uses to weight the
 * loss whose gradient it sends.
 */
#include "adam.h"

#include <math.h>
#include <string.h>

/* Learning rates above 1 move every weight by about 1 per step (Adam's step is ~lr per weight);
 * below 1e-20 nothing moves at all. */
#define ADAM_LR_MIN 1e-20
#define ADAM_LR_MAX 1.0
/* Step counts up to 1e12: far beyond any run, still exact in a double. */
#define ADAM_STEPS_MAX 1e12
/* Loss prefactors are weights of squared errors; 1e6 is far above DeePMD-kit's 1000. */
#define ADAM_PREF_MAX 1e6
/* β = 1 makes the bias correction 1/(1 − β^t) infinite. */
#define ADAM_BETA_MAX 0.999999999
/* ε = 0 divides 0 by 0 for a weight whose gradient has always been 0. */
#define ADAM_EPS_MIN 1e-16

static const optim_param_desc adam_params[ADAM_N_PARAMS] = {
    {"start_lr", OPTIM_P_REAL, 1e-3, ADAM_LR_MIN, ADAM_LR_MAX, NULL, "learning rate lr0 at step 0"},
    {"stop_lr", OPTIM_P_REAL, 3.51e-8, ADAM_LR_MIN, ADAM_LR_MAX, NULL,
     "learning rate reached at stop_steps (sets the decay factor)"},
    {"decay_steps", OPTIM_P_INT, 5000, 1, ADAM_STEPS_MAX, NULL,
     "the learning rate drops by the decay factor every decay_steps steps"},
    {"stop_steps", OPTIM_P_INT, 1e6, 1, ADAM_STEPS_MAX, NULL,
     "step count at which lr reaches stop_lr; unset: the run's total steps (DeePMD-kit's "
     "numb_steps), so every run anneals to stop_lr; the authors' code fixed 1e6"},
    {"start_pref_e", OPTIM_P_REAL, 0.02, 0, ADAM_PREF_MAX, NULL, "energy loss prefactor at lr0"},
    {"limit_pref_e", OPTIM_P_REAL, 1, 0, ADAM_PREF_MAX, NULL, "energy loss prefactor as lr -> 0"},
    {"start_pref_f", OPTIM_P_REAL, 1000, 0, ADAM_PREF_MAX, NULL, "force loss prefactor at lr0"},
    {"limit_pref_f", OPTIM_P_REAL, 1, 0, ADAM_PREF_MAX, NULL, "force loss prefactor as lr -> 0"},
    {"beta1", OPTIM_P_REAL, 0.9, 0, ADAM_BETA_MAX, NULL, "decay rate of the first moment"},
    {"beta2", OPTIM_P_REAL, 0.999, 0, ADAM_BETA_MAX, NULL, "decay rate of the second moment"},
    {"eps", OPTIM_P_REAL, 1e-8, ADAM_EPS_MIN, 1, NULL, "added to sqrt(v) in the denominator"},
};

typedef struct {
    optim_params p;
    size_t N, t, bytes;
    double *m, *v; /* (N) first and second moments */
} adam_state;

void adam_schedule(const optim_params *p, size_t t, double *lr, double *pref_e, double *pref_f) {
    const double lr0 = p->v[ADAM_P_START_LR];
    const double decay = p->v[ADAM_P_DECAY_STEPS], stop = p->v[ADAM_P_STOP_STEPS];
    /* γ = (stop_lr/lr0)^(decay_steps/stop_steps) ;  lr(t) = lr0·γ^⌊t/decay_steps⌋ */
    const double gamma = pow(p->v[ADAM_P_STOP_LR] / lr0, decay / stop);
    const double r = pow(gamma, (double)(t / (size_t)decay));
    *lr = lr0 * r;
    /* p(t) = limit + (start − limit)·lr(t)/lr0 */
    *pref_e =
        p->v[ADAM_P_LIMIT_PREF_E] + (p->v[ADAM_P_START_PREF_E] - p->v[ADAM_P_LIMIT_PREF_E]) * r;
    *pref_f =
        p->v[ADAM_P_LIMIT_PREF_F] + (p->v[ADAM_P_START_PREF_F] - p->v[ADAM_P_LIMIT_PREF_F]) * r;
}

static size_t adam_state_bytes(const optim_type *t, const optim_params *p, const layout_t *L) {
    return sizeof(adam_state) + 2 * L->n_params * sizeof(double);
}

static void adam_free(void *state) {
    adam_state *S = state;
    if (!S) return;
    free(S->m);
    free(S->v);
    free(S);
}

static rk_status adam_init(const optim_type *t, void **state, const optim_params *p,
                           const layout_t *L) {
    *state = NULL;
    if (L->n_params == 0) return err_set(RK_EINPUT, "adam: the parameter layout is empty");
    adam_state *S = rk_calloc(1, sizeof *S);
    if (!S) return RK_ENOMEM;
    S->p = *p;
    S->N = L->n_params;
    S->bytes = adam_state_bytes(t, p, L);
    S->m = rk_calloc(S->N, sizeof *S->m);
    S->v = rk_calloc(S->N, sizeof *S->v);
    if (!S->m || !S->v) {
        adam_free(S);
        return err_prefix(RK_ENOMEM, "adam: ");
    }
    *state = S;
    return RK_OK;
}

static rk_status adam_step(void *state, double *w, const optim_signal *sig) {
    adam_state *S = state;
    RK_ASSERT(S && w && sig && sig->g);
    const double *g = sig->g;
    for (size_t j = 0; j < S->N; j++)
        if (!isfinite(g[j]))
            return err_set(RK_EDIVERGED, "adam: step %zu: gradient component %zu is %g", S->t + 1,
                           j, g[j]);
    double lr, pe, pf;
    adam_schedule(&S->p, S->t, &lr, &pe, &pf);
    const double b1 = S->p.v[ADAM_P_BETA1], b2 = S->p.v[ADAM_P_BETA2], eps = S->p.v[ADAM_P_EPS];
    const double t1 = (double)(S->t + 1);
    /* bias corrections 1 − β1^t', 1 − β2^t' */
    const double c1 = 1.0 - pow(b1, t1), c2 = 1.0 - pow(b2, t1);
    for (size_t j = 0; j < S->N; j++) {
        /* m ← β1 m + (1 − β1) g ;  v ← β2 v + (1 − β2) g² */
        S->m[j] = b1 * S->m[j] + (1.0 - b1) * g[j];
        S->v[j] = b2 * S->v[j] + (1.0 - b2) * g[j] * g[j];
        /* w ← w − lr·m̂/(√v̂ + ε) */
        const double mh = S->m[j] / c1, vh = S->v[j] / c2;
        w[j] -= lr * mh / (sqrt(vh) + eps);
    }
    S->t++;
    return RK_OK;
}

static void adam_report(const void *state, optim_report_t *r) {
    const adam_state *S = state;
    r->lambda = NAN;
    adam_schedule(&S->p, S->t, &r->lr, &r->pref_e, &r->pref_f);
    r->n_blocks = 0;
    r->updates = S->t;
    r->state_bytes = S->bytes;
}

/* DeePMD-kit's clamp for short runs: a decay interval of at least the whole run would never
 * decay, so it becomes 100 steps, or stop_steps/100 + 1 on runs of 1,000 steps or fewer
 * (integer division, as DeePMD-kit computes it). */
#define ADAM_SHORT_DECAY 100
#define ADAM_SHORT_DECAY_RUN_DIV 10
#define ADAM_SHORT_DECAY_DIV 100

/* stop_steps unset = the run's total number of steps; then the decay_steps clamp (SPEC §3). */
static rk_status adam_resolve(const optim_type *t, optim_params *p, const optim_run_info *run) {
    if (!optim_param_is_set(p, ADAM_P_STOP_STEPS))
        p->v[ADAM_P_STOP_STEPS] = run->total_steps > 0 ? (double)run->total_steps : 1.0;
    const size_t stop = (size_t)p->v[ADAM_P_STOP_STEPS];
    if (p->v[ADAM_P_DECAY_STEPS] >= (double)stop)
        p->v[ADAM_P_DECAY_STEPS] = stop / ADAM_SHORT_DECAY_RUN_DIV > ADAM_SHORT_DECAY
                                       ? ADAM_SHORT_DECAY
                                       : (double)(stop / ADAM_SHORT_DECAY_DIV + 1);
    return RK_OK;
}

/* Checkpoint hooks: moments m, v; the step count t (the schedule is a function of t). */
static size_t adam_state_arrays(void *state, optim_array *a) {
    adam_state *S = state;
    a[0] = (optim_array){"m", OPTIM_ARRAY_F64, S->m, S->N, 0, 0};
    a[1] = (optim_array){"v", OPTIM_ARRAY_F64, S->v, S->N, 0, 0};
    return 2;
}

static size_t adam_get_scalars(const void *state, double *s) {
    const adam_state *S = state;
    if (s) s[0] = (double)S->t;
    return 1;
}

static rk_status adam_set_scalars(void *state, const double *s, size_t n) {
    adam_state *S = state;
    if (n != 1 || !(s[0] >= 0.0))
        return err_set(RK_EINPUT, "adam: checkpoint state: expected 1 scalar (the step count)");
    S->t = (size_t)s[0];
    return RK_OK;
}

const optim_type optim_adam = {
    .name = "adam",
    .summary = "Adam with DeePMD-kit's exponential learning-rate decay and loss prefactors",
    .kind = OPTIM_GRADIENT,
    .params = adam_params,
    .n_params = ADAM_N_PARAMS,
    .state_bytes = adam_state_bytes,
    .init = adam_init,
    .step = adam_step,
    .report = adam_report,
    .free = adam_free,
    .resolve = adam_resolve,
    .state_arrays = adam_state_arrays,
    .get_scalars = adam_get_scalars,
    .set_scalars = adam_set_scalars,
};
