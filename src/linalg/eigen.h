/* eigen: eigen-decomposition of small dense symmetric matrices by cyclic Jacobi rotations.
 *
 *   A = V diag(ev) V^T,  V orthogonal (columns are the eigenvectors), ev unsorted.
 *
 * Each sweep visits every pair p < q and applies the rotation J(p, q, theta) that zeroes A[p][q]:
 * A <- J^T A J, V <- V J. Sweeps stop when the off-diagonal mass is negligible against the
 * diagonal (EIGEN_OFF_RTOL) or after EIGEN_MAX_SWEEPS (Jacobi converges quadratically; a few
 * sweeps suffice for the n <= 16 matrices the model needs). Meant for n up to a few tens: cost
 * is O(n^3) per sweep, no BLAS.
 */
#ifndef RLEKF_EIGEN_H
#define RLEKF_EIGEN_H

#include <stddef.h>

/* Upper bound on sweeps; never reached for well-scaled symmetric input. */
#define EIGEN_MAX_SWEEPS 100
/* Converged when sum of squared off-diagonal entries <= this times the diagonal's. */
#define EIGEN_OFF_RTOL 1e-30

/* A (n,n) row-major symmetric, destroyed (left near-diagonal). V (n,n) row-major: column k is
 * the eigenvector of ev[k]. Returns the number of sweeps done. */
int eigen_sym_jacobi(size_t n, double *A, double *V, double *ev);

#endif
