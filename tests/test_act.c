/* The nets' tanh (src/model/act.c): accuracy against long double tanhl, special values, and the
 * same bits for a value wherever it sits in a row array (every lane and padding position). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "rng.h"

/* act.c compiled again without the AVX2 clone (CMakeLists.txt: act_baseline) */
double act_tanh_baseline(double x);
void act_tanh_bias_baseline(size_t rows, size_t n, double *t, const double *bias);

/* Bounds of the accuracy test: measured worst case 2.46 ulp, mean 0.26 ulp on these points (glibc's
 * tanh, logged beside it: 2.12 and 0.26). */
#define ACT_MAX_ULP 3.0
#define ACT_MEAN_ULP 0.35

/* |got − ref| in units of the last place of the double nearest ref */
static double ulp_err(double got, long double ref) {
    double r = (double)ref;
    double u = nextafter(fabs(r), INFINITY) - fabs(r);
    return (double)(fabsl((long double)got - ref) / (long double)u);
}

Test(act, within_three_ulp_of_long_double_tanh) {
    double worst = 0, worst_x = 0, sum = 0, libm_worst = 0, libm_sum = 0;
    size_t n = 0;
#define ACT_POINT(x)                                                                               \
    do {                                                                                           \
        long double ref = tanhl((long double)(x));                                                 \
        double e = ulp_err(act_tanh(x), ref), el = ulp_err(tanh(x), ref);                          \
        sum += e, libm_sum += el, n++;                                                             \
        if (e > worst) worst = e, worst_x = (x);                                                   \
        if (el > libm_worst) libm_worst = el;                                                      \
    } while (0)
    /* a dense sweep over the range where tanh is not ±1 ... */
    for (double x = -20.0; x <= 20.0; x += 1.7e-5)
        ACT_POINT(x);
    /* ... and random magnitudes down to 2^-60 */
    rng_t r;
    rng_stream(&r, "act", 1, RNG_TEST);
    for (int i = 0; i < 1000000; i++) {
        double x = ldexp(rng_uniform(&r), -(int)rng_below(&r, 60));
        if (i & 1) x = -x;
        ACT_POINT(x);
    }
    cr_log_info("act_tanh: max %.3f ulp at %.17g, mean %.4f ulp over %zu points (libm tanh: max "
                "%.3f, mean %.4f)",
                worst, worst_x, sum / (double)n, n, libm_worst, libm_sum / (double)n);
    cr_assert_leq(worst, ACT_MAX_ULP, "%.3f ulp at x = %.17g", worst, worst_x);
    cr_assert_leq(sum / (double)n, ACT_MEAN_ULP, "mean %.4f ulp", sum / (double)n);
}

Test(act, special_values) {
    cr_assert(act_tanh(0.0) == 0.0 && !signbit(act_tanh(0.0)));
    cr_assert(act_tanh(-0.0) == 0.0 && signbit(act_tanh(-0.0)));
    cr_assert_eq(act_tanh(INFINITY), 1.0);
    cr_assert_eq(act_tanh(-INFINITY), -1.0);
    cr_assert_eq(act_tanh(1e300), 1.0);
    cr_assert_eq(act_tanh(-30.0), -1.0);
    cr_assert(isnan(act_tanh(NAN)));
    cr_assert(isnan(act_tanh(-NAN)));
    /* subnormal and tiny: tanh x = x */
    cr_assert_eq(act_tanh(1e-310), 1e-310);
    cr_assert_eq(act_tanh(-3e-200), -3e-200);
    /* odd, monotone on a fine grid across the switch between the two formulas (0.875) */
    double prev = act_tanh(0.8);
    for (double x = 0.8; x < 0.95; x += 1e-6) {
        double y = act_tanh(x);
        cr_assert_eq(act_tanh(-x), -y, "x = %.17g", x);
        cr_assert_geq(y, prev, "not monotone at x = %.17g", x);
        prev = y;
    }
}

/* The row function gives every value the bits of act_tanh(t + bias), whatever the shape (the
 * values are processed 32 at a time across rows, with zero-padded lanes in the last block). */
Test(act, rows_equal_the_scalar_function_at_every_position) {
    rng_t r;
    rng_stream(&r, "act-rows", 2, RNG_TEST);
    const size_t widths[] = {1, 3, 4, 5, 25, 31, 32, 33, 50, 100};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++)
        for (size_t rows = 1; rows <= 7; rows++) {
            size_t n = widths[wi], len = rows * n;
            double *t = malloc(len * sizeof *t), *want = malloc(len * sizeof *t);
            double *bias = malloc(n * sizeof *bias);
            for (size_t c = 0; c < n; c++)
                bias[c] = 0.5 * rng_normal(&r);
            for (size_t k = 0; k < len; k++) {
                t[k] = 3.0 * rng_normal(&r);
                want[k] = act_tanh(t[k] + bias[k % n]);
            }
            act_tanh_bias(rows, n, t, bias);
            for (size_t k = 0; k < len; k++)
                cr_assert(memcmp(&t[k], &want[k], sizeof(double)) == 0,
                          "rows %zu width %zu value %zu: %.17g vs %.17g", rows, n, k, t[k],
                          want[k]);
            free(t);
            free(want);
            free(bias);
        }
}

/* Element-wise IEEE operations only (no FMA): the AVX2 clone that this machine runs and the
 * baseline build give the same bits. (On a machine without AVX2 both are the baseline.) */
Test(act, avx2_and_baseline_builds_give_the_same_bits) {
#if defined(__x86_64__) && defined(__GNUC__)
    cr_log_info("this machine %s AVX2", __builtin_cpu_supports("avx2") ? "has" : "has no");
#endif
    rng_t r;
    rng_stream(&r, "act-isa", 3, RNG_TEST);
    enum { ROWS = 1000, N = 25 };
    static double a[ROWS * N], b[ROWS * N], bias[N];
    for (size_t c = 0; c < N; c++)
        bias[c] = rng_normal(&r);
    for (int round = 0; round < 40; round++) {
        double scale = ldexp(1.0, round / 2 - 12);
        for (size_t k = 0; k < ROWS * N; k++)
            a[k] = b[k] = scale * rng_normal(&r);
        act_tanh_bias(ROWS, N, a, bias);
        act_tanh_bias_baseline(ROWS, N, b, bias);
        cr_assert(memcmp(a, b, sizeof a) == 0, "scale %g: the two builds differ", scale);
    }
    const double special[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1e-310, 0.875, 19.1, -44.0};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        double x = act_tanh(special[i]), y = act_tanh_baseline(special[i]);
        cr_assert(memcmp(&x, &y, sizeof x) == 0, "tanh(%g): %a vs %a", special[i], x, y);
    }
}
