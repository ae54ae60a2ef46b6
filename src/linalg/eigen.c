/* eigen: cyclic Jacobi eigen-solver for small symmetric matrices (see eigen.h). */
#include "eigen.h"

#include <math.h>

int eigen_sym_jacobi(size_t n, double *A, double *V, double *ev) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            V[i * n + j] = i == j ? 1.0 : 0.0;
    int sweep = 0;
    for (; sweep < EIGEN_MAX_SWEEPS; sweep++) {
        double off = 0.0, diag = 0.0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                if (i != j)
                    off += A[i * n + j] * A[i * n + j];
                else
                    diag += A[i * n + j] * A[i * n + j];
            }
        if (off <= EIGEN_OFF_RTOL * diag || off == 0.0) break;
        for (size_t p = 0; p < n; p++)
            for (size_t q = p + 1; q < n; q++) {
                double apq = A[p * n + q];
                if (apq == 0.0) continue;
                /* theta = cot(2 phi); t = tan(phi), the smaller root of t^2 + 2 theta t - 1 = 0 */
                double theta = (A[q * n + q] - A[p * n + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double cs = 1.0 / sqrt(t * t + 1.0), sn = t * cs;
                for (size_t k = 0; k < n; k++) { /* A <- A J */
                    double akp = A[k * n + p], akq = A[k * n + q];
                    A[k * n + p] = cs * akp - sn * akq;
                    A[k * n + q] = sn * akp + cs * akq;
                }
                for (size_t k = 0; k < n; k++) { /* A <- J^T A */
                    double apk = A[p * n + k], aqk = A[q * n + k];
                    A[p * n + k] = cs * apk - sn * aqk;
                    A[q * n + k] = sn * apk + cs * aqk;
                }
                for (size_t k = 0; k < n; k++) { /* V <- V J */
                    double vkp = V[k * n + p], vkq = V[k * n + q];
                    V[k * n + p] = cs * vkp - sn * vkq;
                    V[k * n + q] = sn * vkp + cs * vkq;
                }
            }
    }
    for (size_t i = 0; i < n; i++)
        ev[i] = A[i * n + i];
    return sweep;
}
