/* Unit tests of the Jacobi eigen-solver (src/linalg/eigen.c): the decomposition A = V diag(ev) V^T
 * with V orthogonal on random symmetric matrices, eigenvalues known in closed form, diagonal and
 * rank-deficient input (the energy-bias fit of H2O is rank one). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eigen.h"
#include "rng.h"

/* Largest size tested: the model's type limit (MODEL_MAX_TYPES). */
#define EIG_MAX_N 16
/* Jacobi rotations are backward stable: residuals and orthogonality to a few hundred ulps of
 * |A| for n <= 16. */
#define EIG_TOL 1e-12

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* max |A V - V diag(ev)| / |A|_max and max |V^T V - I|. */
static void check_decomposition(size_t n, const double *A0, const double *V, const double *ev) {
    double amax = 0;
    for (size_t k = 0; k < n * n; k++)
        amax = fmax(amax, fabs(A0[k]));
    if (amax == 0) amax = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++) {
            double av = 0, vtv = 0;
            for (size_t j = 0; j < n; j++) {
                av += A0[i * n + j] * V[j * n + k];
                vtv += V[j * n + i] * V[j * n + k];
            }
            cr_assert_leq(fabs(av - V[i * n + k] * ev[k]), EIG_TOL * amax,
                          "n %zu: (A V - V ev)[%zu][%zu] = %g", n, i, k, av - V[i * n + k] * ev[k]);
            cr_assert_leq(fabs(vtv - (i == k ? 1.0 : 0.0)), EIG_TOL,
                          "n %zu: (V^T V)[%zu][%zu] = %.17g", n, i, k, vtv);
        }
}

Test(eigen, random_symmetric_matrices) {
    rng_t r;
    rng_seed(&r, 5);
    double A[EIG_MAX_N * EIG_MAX_N], A0[EIG_MAX_N * EIG_MAX_N], V[EIG_MAX_N * EIG_MAX_N],
        ev[EIG_MAX_N];
    for (size_t n = 1; n <= EIG_MAX_N; n++) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j <= i; j++)
                A0[i * n + j] = A0[j * n + i] = rng_normal(&r);
        memcpy(A, A0, n * n * sizeof *A);
        int sweeps = eigen_sym_jacobi(n, A, V, ev);
        cr_assert_lt(sweeps, EIGEN_MAX_SWEEPS, "n %zu: no convergence", n);
        check_decomposition(n, A0, V, ev);
        /* trace is preserved */
        double tr = 0, sum = 0;
        for (size_t i = 0; i < n; i++) {
            tr += A0[i * n + i];
            sum += ev[i];
        }
        cr_assert_leq(fabs(tr - sum), EIG_TOL * (double)n, "n %zu: trace %g vs sum ev %g", n, tr,
                      sum);
    }
}

/* Tridiagonal (2, -1): eigenvalues 2 - 2 cos(k pi / (n + 1)), k = 1..n. */
Test(eigen, tridiagonal_closed_form) {
    const size_t n = 9;
    double A[81] = {0}, A0[81], V[81], ev[9];
    for (size_t i = 0; i < n; i++) {
        A[i * n + i] = 2.0;
        if (i + 1 < n) A[i * n + i + 1] = A[(i + 1) * n + i] = -1.0;
    }
    memcpy(A0, A, sizeof A);
    eigen_sym_jacobi(n, A, V, ev);
    check_decomposition(n, A0, V, ev);
    qsort(ev, n, sizeof *ev, cmp_double);
    for (size_t k = 1; k <= n; k++) {
        double want = 2.0 - 2.0 * cos((double)k * M_PI / (double)(n + 1));
        cr_assert_leq(fabs(ev[k - 1] - want), EIG_TOL, "ev %zu: %.17g vs %.17g", k, ev[k - 1],
                      want);
    }
}

/* Already diagonal: no rotation at all, V = I, ev = the diagonal exactly. */
Test(eigen, diagonal_input_is_returned_exactly) {
    double A[9] = {3, 0, 0, 0, -1, 0, 0, 0, 0.5}, V[9], ev[3];
    cr_assert_eq(eigen_sym_jacobi(3, A, V, ev), 0);
    cr_assert(ev[0] == 3 && ev[1] == -1 && ev[2] == 0.5);
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            cr_assert_eq(V[i * 3 + j], i == j ? 1.0 : 0.0);
}

/* Rank one, u u^T with u = (64, 128) as in H2O's bias fit: eigenvalues |u|^2 and 0, the first
 * eigenvector along u. */
Test(eigen, rank_one) {
    double u[2] = {64, 128}, A[4], A0[4], V[4], ev[2];
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 2; j++)
            A[i * 2 + j] = u[i] * u[j];
    memcpy(A0, A, sizeof A);
    eigen_sym_jacobi(2, A, V, ev);
    check_decomposition(2, A0, V, ev);
    size_t big = ev[0] > ev[1] ? 0 : 1;
    double nu2 = u[0] * u[0] + u[1] * u[1];
    cr_assert_leq(fabs(ev[big] - nu2), EIG_TOL * nu2);
    cr_assert_leq(fabs(ev[1 - big]), EIG_TOL * nu2);
    /* |cos(v, u)| = 1 */
    double c = (V[0 * 2 + big] * u[0] + V[1 * 2 + big] * u[1]) / sqrt(nu2);
    cr_assert_leq(fabs(fabs(c) - 1.0), EIG_TOL);
}
