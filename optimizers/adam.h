/* adam: Adam with DeePMD-kit's learning-rate and loss-prefactor schedule (SPEC §3).
 *
 *     lr(t) = lr0·γ^⌊t/decay_steps⌋,  γ = (stop_lr/lr0)^(decay_steps/stop_steps)
 *     p(t)  = limit + (start − limit)·lr(t)/lr0        (energy and force prefactors)
 * with t the number of steps taken so far. The step is Kingma–Ba with bias correction.
 */
#ifndef RLEKF_ADAM_H
#define RLEKF_ADAM_H

#include <stddef.h>

#include "optim.h"

/* Positions of the hyper-parameters in optim_adam's table. */
enum {
    ADAM_P_START_LR,
    ADAM_P_STOP_LR,
    ADAM_P_DECAY_STEPS,
    ADAM_P_STOP_STEPS,
    ADAM_P_START_PREF_E,
    ADAM_P_LIMIT_PREF_E,
    ADAM_P_START_PREF_F,
    ADAM_P_LIMIT_PREF_F,
    ADAM_P_BETA1,
    ADAM_P_BETA2,
    ADAM_P_EPS,
    ADAM_N_PARAMS
};

extern const optim_type optim_adam;

/* The schedule at step count t: learning rate and the energy/force loss prefactors. */
void adam_schedule(const optim_params *p, size_t t, double *lr, double *pref_e, double *pref_f);

#endif
