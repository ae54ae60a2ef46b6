/* act: tanh eight vectors of four values at a time (see act.h).
 *
 * With a = |x| and y = −2a (at least −44: tanh rounds to 1 from a = 19.1 on):
 *   e^y = 2^k·(1 + p), k = round(y/ln2) <= 0, r = y − k·ln2 (ln2 in two parts; k·LN2_HI is exact),
 *   p = expm1(r) = r + r²·Q(r), Q of degree 10 fitted to (e^r − 1 − r)/r² on |r| <= ln2/2
 *   (Chebyshev fit at 50 digits, relative error 1.4e-18), evaluated by Estrin's scheme;
 *   tanh a = −m/(m + 2) with m = expm1(y) = (2^k − 1) + 2^k·p   for a <= 0.875,
 *   tanh a = 1 − 2e/(1 + e)   with e = e^y = 2^k + 2^k·p        above (m would round near −1).
 * One division per lane: the numerator and denominator are picked by a mask first. The sign of x
 * is put back last. A NaN fails every comparison, takes the arithmetic and stays NaN.
 * Measured against long double tanhl on 3.4 million points (tests/test_act.c): at most 2.5 ulp,
 * 0.26 ulp on average, as glibc's tanh (at most 2.1 ulp on the same points). */
#include "act.h"

#include <stdint.h>
#include <string.h>

typedef double av4 __attribute__((vector_size(4 * sizeof(double))));
typedef uint64_t au4 __attribute__((vector_size(4 * sizeof(uint64_t))));
#define ACT_LANES 4

/* ACT_BASELINE_ONLY: no AVX2 clone (tests/test_act.c links such a copy, renamed, to check that
 * both clones give the same bits). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(ACT_BASELINE_ONLY)
#define ACT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ACT_CLONES
#endif
#define ACT_INLINE static inline __attribute__((always_inline))

#define ACT_BIG 0.875
#define ACT_YMAX 44.0
#define ACT_INV_LN2 1.4426950408889634
#define ACT_LN2_HI 0.6931467056274414 /* ln 2 to 20 bits */
#define ACT_LN2_LO 4.7493250390316726e-07
/* 1.5·2^52: y/ln2 − SHIFT is rounded to an integer, with −k in its low bits */
#define ACT_SHIFT 6755399441055744.0
#define ACT_SIGN ((uint64_t)1 << 63)
#define ACT_EXP_BIAS ((uint64_t)1023)
#define ACT_MANT_BITS 52

/* Q (degree 0 first): (e^r − 1 − r)/r² ≈ Q(r) on |r| ≤ ln2/2 */
static const double act_q[] = {0.5,
                               0.1666666666666667,
                               0.04166666666666667,
                               0.008333333333326141,
                               0.0013888888888883752,
                               0.00019841269874800493,
                               2.4801587325533363e-05,
                               2.7557255425746435e-06,
                               2.7557273661348637e-07,
                               2.510520637395701e-08,
                               2.0914679376583935e-09};
_Static_assert(sizeof act_q / sizeof act_q[0] == 11, "Q has degree 10 (the Estrin tree below)");

/* (macros and a pointer argument: a vector returned by value would be ABI-dependent in the
 * baseline clone, as in optimizers/kalman.c) */
#define SPLAT(v) ((av4){(v), (v), (v), (v)})
#define USPLAT(v) ((au4){(v), (v), (v), (v)})
/* lanes of a where mask is all ones, else of b */
#define PICK(mask, a, b) ((av4)(((mask) & (au4)(a)) | (~(mask) & (au4)(b))))

/* ACT_NV vectors at once: the polynomials are chains of dependent multiply-adds, so independent
 * vectors side by side keep the units busy (one vector at a time measured 4 times slower; rows of
 * 25-100 values are one array, so only its last block has padded lanes). */
#define ACT_NV 8
#define ACT_EACH _Pragma("GCC unroll 8") for (size_t j = 0; j < ACT_NV; j++)

ACT_INLINE void tanh_vecs(av4 *v) {
    au4 sign[ACT_NV];
    av4 a[ACT_NV], y[ACT_NV], t[ACT_NV], kd[ACT_NV], r[ACT_NV], q[ACT_NV];
    ACT_EACH {
        sign[j] = (au4)v[j] & USPLAT(ACT_SIGN);
        /* y = -2|x|, at least -YMAX (a NaN fails y < -YMAX and is kept) */
        a[j] = (av4)((au4)v[j] & ~USPLAT(ACT_SIGN));
        y[j] = -(a[j] + a[j]);
        y[j] = PICK((au4)(y[j] < SPLAT(-ACT_YMAX)), SPLAT(-ACT_YMAX), y[j]);
        t[j] = y[j] * SPLAT(ACT_INV_LN2) - SPLAT(ACT_SHIFT);
        kd[j] = t[j] + SPLAT(ACT_SHIFT);
        r[j] = (y[j] - kd[j] * SPLAT(ACT_LN2_HI)) - kd[j] * SPLAT(ACT_LN2_LO);
    }
    /* Q(r) by Estrin's scheme (pairs, then pairs of pairs, ...): a chain of 4 multiply-adds
     * instead of Horner's 10 (the chains, not the arithmetic, bounded this loop) */
    ACT_EACH {
        const av4 r2 = r[j] * r[j], r4 = r2 * r2, r8 = r4 * r4, x = r[j];
        const av4 e01 = SPLAT(act_q[0]) + SPLAT(act_q[1]) * x;
        const av4 e23 = SPLAT(act_q[2]) + SPLAT(act_q[3]) * x;
        const av4 e45 = SPLAT(act_q[4]) + SPLAT(act_q[5]) * x;
        const av4 e67 = SPLAT(act_q[6]) + SPLAT(act_q[7]) * x;
        const av4 e89 = SPLAT(act_q[8]) + SPLAT(act_q[9]) * x;
        const av4 f0 = e01 + e23 * r2, f1 = e45 + e67 * r2, f2 = e89 + SPLAT(act_q[10]) * r2;
        q[j] = (f0 + f1 * r4) + f2 * r8;
    }
    ACT_EACH {
        /* e^y = 2^k (1 + p), p = expm1(r), k <= 0; expm1(y) = (2^k - 1) + 2^k p */
        const au4 mk = (au4)t[j] - (au4)SPLAT(-ACT_SHIFT);                  /* -k, 0 <= -k <= 64 */
        const av4 s2 = (av4)((USPLAT(ACT_EXP_BIAS) - mk) << ACT_MANT_BITS); /* 2^k */
        const av4 p = r[j] + (r[j] * r[j]) * q[j];
        const av4 m = (s2 - SPLAT(1.0)) + s2 * p, e = s2 + s2 * p;
        /* tanh|x| = -m / (m + 2), or for large |x| 1 - 2e / (1 + e), where it is accurate */
        const au4 big = (au4)(a[j] > SPLAT(ACT_BIG));
        const av4 num = PICK(big, e + e, -m), den = PICK(big, SPLAT(1.0) + e, m + SPLAT(2.0));
        const av4 f = num / den;
        const av4 mag = (av4)((au4)PICK(big, SPLAT(1.0) - f, f) & ~USPLAT(ACT_SIGN));
        v[j] = (av4)((au4)mag | sign[j]);
    }
}

/* t[c] <- tanh(t[c]) for c < m <= ACT_NV * ACT_LANES, through zero-padded lanes */
ACT_INLINE void tanh_block(size_t m, double *t) {
    av4 v[ACT_NV];
    if (m < ACT_NV * ACT_LANES) memset(v, 0, sizeof v);
    memcpy(v, t, m * sizeof(double));
    tanh_vecs(v);
    memcpy(t, v, m * sizeof(double));
}

/* The rows are one contiguous array: after the biases are added, tanh runs over all of it in
 * blocks of ACT_NV vectors, so only the array's last block has padded lanes (rows of 25, 50 or
 * 100 values done one by one would waste a quarter of the lanes). */
ACT_CLONES static void tanh_bias_rows(size_t rows, size_t n, double *t, const double *bias) {
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < n; c++)
            t[r * n + c] += bias[c];
    const size_t blk = ACT_NV * ACT_LANES, len = rows * n;
    for (size_t c = 0; c < len; c += blk)
        tanh_block(len - c < blk ? len - c : blk, t + c);
}

void act_tanh_bias(size_t rows, size_t n, double *t, const double *bias) {
    tanh_bias_rows(rows, n, t, bias);
}

ACT_CLONES static double tanh_one(double x) {
    av4 v[ACT_NV] = {SPLAT(0.0)};
    v[0][0] = x;
    tanh_vecs(v);
    return v[0][0];
}

double act_tanh(double x) {
    return tanh_one(x);
}
