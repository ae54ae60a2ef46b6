/* act: the activation of the nets, tanh, evaluated four values at a time.
 *
 * libm's tanh is accurate but scalar (about 19 ns a call here), and the embedding nets call it for
 * every pair and every unit: on Cu it was 45 % of the model's passes (issue #10). This tanh uses
 * only element-wise IEEE operations (+ − × ÷, comparisons, bit masks; no FMA, no libm), so its
 * result is the same bit for bit whichever instruction set runs it, for any thread count, and for
 * a value in any position of a row. Accuracy against the correctly rounded tanh: within 3 ulp
 * everywhere, 0.26 ulp on average (tests/test_act.c measures it against long double).
 * tanh(±0) = ±0, tanh(±inf) = ±1, NaN stays NaN. */
#ifndef RLEKF_ACT_H
#define RLEKF_ACT_H

#include <stddef.h>

/* tanh of one value (the same arithmetic as the row function). */
double act_tanh(double x);
/* t[r][c] <- tanh(t[r][c] + bias[c]) for the rows × n values of the contiguous array t (the sum
 * rounded to double first, as written). */
void act_tanh_bias(size_t rows, size_t n, double *t, const double *bias);

#endif
