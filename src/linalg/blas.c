/* blas: CBLAS calls, row-major (see blas.h). */
#include "blas.h"

#include <cblas.h>

static CBLAS_TRANSPOSE tr(int t) {
    return t ? CblasTrans : CblasNoTrans;
}

void blas_gemm(int transA, int transB, size_t m, size_t n, size_t k, double alpha, const double *A,
               size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc) {
    if (m == 0 || n == 0) return;
    /* C = alpha op(A) op(B) + beta C */
    cblas_dgemm(CblasRowMajor, tr(transA), tr(transB), (int)m, (int)n, (int)k, alpha, A, (int)lda,
                B, (int)ldb, beta, C, (int)ldc);
}

void blas_gemv(int transA, size_t m, size_t n, double alpha, const double *A, size_t lda,
               const double *x, double beta, double *y) {
    if (m == 0 || n == 0) return;
    /* y = alpha op(A) x + beta y */
    cblas_dgemv(CblasRowMajor, tr(transA), (int)m, (int)n, alpha, A, (int)lda, x, 1, beta, y, 1);
}

double blas_dot(size_t n, const double *x, const double *y) {
    return cblas_ddot((int)n, x, 1, y, 1);
}

void blas_axpy(size_t n, double alpha, const double *x, double *y) {
    cblas_daxpy((int)n, alpha, x, 1, y, 1);
}

void blas_scal(size_t n, double alpha, double *x) {
    cblas_dscal((int)n, alpha, x, 1);
}

double blas_nrm2(size_t n, const double *x) {
    return cblas_dnrm2((int)n, x, 1);
}

void blas_spmv(size_t n, double alpha, const double *Pp, const double *x, double beta, double *y) {
    /* y = alpha P x + beta y, P symmetric, packed upper */
    cblas_dspmv(CblasRowMajor, CblasUpper, (int)n, alpha, Pp, x, 1, beta, y, 1);
}

void blas_spr(size_t n, double alpha, const double *x, double *Pp) {
    /* P += alpha x x^T, packed upper */
    cblas_dspr(CblasRowMajor, CblasUpper, (int)n, alpha, x, 1, Pp);
}

void blas_set_threads(int n) {
    openblas_set_num_threads(n);
}

int blas_get_threads(void) {
    return openblas_get_num_threads();
}

const char *blas_config(void) {
    return openblas_get_config();
}
