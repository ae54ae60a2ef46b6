/* blas: the one thin wrapper around CBLAS (the only file that includes <cblas.h>).
 * Row-major everywhere. Each function names the formula it computes.
 */
#ifndef RLEKF_BLAS_H
#define RLEKF_BLAS_H

#include <stddef.h>

/* C (m,n) = alpha * op(A) (m,k) * op(B) (k,n) + beta * C; lda/ldb/ldc are row strides. */
void blas_gemm(int transA, int transB, size_t m, size_t n, size_t k, double alpha, const double *A,
               size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc);
/* y (m or n) = alpha * op(A) x + beta * y, A (m,n) with row stride lda. */
void blas_gemv(int transA, size_t m, size_t n, double alpha, const double *A, size_t lda,
               const double *x, double beta, double *y);
double blas_dot(size_t n, const double *x, const double *y);
void blas_axpy(size_t n, double alpha, const double *x, double *y); /* y += alpha x */
void blas_scal(size_t n, double alpha, double *x);                  /* x *= alpha */
double blas_nrm2(size_t n, const double *x);
/* Packed upper triangle (row-major packed, i.e. CblasRowMajor + CblasUpper):
 * y = alpha * P x + beta * y  and  P += alpha * x x^T. */
void blas_spmv(size_t n, double alpha, const double *Pp, const double *x, double beta, double *y);
void blas_spr(size_t n, double alpha, const double *x, double *Pp);
void blas_set_threads(int n);
int blas_get_threads(void);
/* "OpenBLAS 0.3.21 ... " for provenance records. */
const char *blas_config(void);

#endif
