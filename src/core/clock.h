/* clock: monotonic seconds for progress, budgets and the training clock. */
#ifndef RLEKF_CLOCK_H
#define RLEKF_CLOCK_H

/* Seconds on the monotonic clock (an arbitrary origin: use differences). */
double clock_now_s(void);

#endif
