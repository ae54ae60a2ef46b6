/* mlp: dense layer stacks with forward, backward and forward-over-reverse passes (see mlp.h). */
#include "mlp.h"

#include <string.h>

#include "act.h"
#include "blas.h"
#include "err.h"

size_t mlp_max_width(const mlp_shape *s) {
    size_t m = 0;
    for (size_t l = 0; l <= s->n_layers; l++)
        if (s->width[l] > m) m = s->width[l];
    return m;
}

/* h (rows,nout) += S x with x (rows,nin): identity (nout = nin) or x concatenated with itself
 * (nout = 2 nin). */
static void skip_forward(mlp_skip sk, size_t rows, size_t nin, size_t nout, const double *x,
                         double *h) {
    if (sk == MLP_SKIP_IDENTITY) {
        RK_ASSERT(nout == nin);
        for (size_t k = 0; k < rows * nout; k++)
            h[k] += x[k];
    } else if (sk == MLP_SKIP_DOUBLE) {
        RK_ASSERT(nout == 2 * nin);
        for (size_t r = 0; r < rows; r++) {
            const double *xr = x + r * nin;
            double *hr = h + r * nout;
            for (size_t c = 0; c < nin; c++) {
                hr[c] += xr[c];
                hr[nin + c] += xr[c];
            }
        }
    }
}

/* g_x (rows,nin) += S^T g (rows,nout): g itself (identity) or g[:, :nin] + g[:, nin:] (double). */
static void skip_adjoint(mlp_skip sk, size_t rows, size_t nin, size_t nout, const double *g,
                         double *gx) {
    if (sk == MLP_SKIP_IDENTITY) {
        RK_ASSERT(nout == nin);
        for (size_t k = 0; k < rows * nin; k++)
            gx[k] += g[k];
    } else if (sk == MLP_SKIP_DOUBLE) {
        RK_ASSERT(nout == 2 * nin);
        for (size_t r = 0; r < rows; r++) {
            const double *gr = g + r * nout;
            double *gxr = gx + r * nin;
            for (size_t c = 0; c < nin; c++)
                gxr[c] += gr[c] + gr[nin + c];
        }
    }
}

/* The residual timestep idt_l of a dt layer: n_out entries right after b_l. */
static const double *idt_of(const mlp_shape *s, const double *w, size_t l) {
    return w + s->w_off[l] + s->width[l] * s->width[l + 1] + s->width[l + 1];
}

/* acc[c] += sum_r g[r][c] */
static void colsum_add(size_t rows, size_t n, const double *g, double *acc) {
    for (size_t r = 0; r < rows; r++) {
        const double *gr = g + r * n;
        for (size_t c = 0; c < n; c++)
            acc[c] += gr[c];
    }
}

/* The weight sums (dW, db, d idt and their tangents) add over all rows, layer by layer, and each
 * layer's sums touch only that layer's parameters. So the layers are independent tasks: each is
 * computed by one thread with exactly the serial calls (bitwise the serial result, whatever the
 * thread count), and the threads share the layers, largest first. Below MLP_GW_PAR_MIN
 * multiply-adds in all, the layers run on the calling thread (a fork would cost more). */
#define MLP_GW_PAR_MIN 250000

/* The layers by the size of their weight products, largest first (ties: the later layer first,
 * the serial order). Returns the total multiply-adds over rows. */
static size_t gw_layer_order(const mlp_shape *s, size_t rows, size_t *order) {
    size_t total = 0;
    for (size_t k = 0; k < s->n_layers; k++) {
        size_t l = s->n_layers - 1 - k, c = s->width[l] * s->width[l + 1], p = k;
        total += c * rows;
        while (p > 0 && s->width[order[p - 1]] * s->width[order[p - 1] + 1] < c) {
            order[p] = order[p - 1];
            p--;
        }
        order[p] = l;
    }
    return total;
}

/* Rows of one chunk: a fixed partition of the batch (about MLP_CHUNK_ELEMS activations of the
 * widest layer per chunk) that depends only on the shape, never on the thread count, so every
 * row sees the same operations whatever the number of threads. */
#define MLP_CHUNK_ELEMS 4096
#define MLP_CHUNK_MIN_ROWS 8

static size_t chunk_rows(const mlp_shape *s) {
    size_t r = MLP_CHUNK_ELEMS / mlp_max_width(s);
    return r < MLP_CHUNK_MIN_ROWS ? MLP_CHUNK_MIN_ROWS : r;
}

mlp_buf mlp_buf_rows(const mlp_buf *b, const mlp_shape *s, size_t row0) {
    mlp_buf o;
    memset(&o, 0, sizeof o);
    for (size_t l = 0; l < s->n_layers; l++) {
        size_t off = row0 * s->width[l + 1];
        o.t[l] = b->t[l] + off;
        o.h[l] = b->h[l] + off;
        o.gz[l] = b->gz[l] + off;
        o.zd[l] = b->zd[l] + off;
        o.hd[l] = b->hd[l] + off;
        o.gzd[l] = b->gzd[l] + off;
        o.gh[l] = b->gh[l] ? b->gh[l] + off : NULL;
        o.ghd[l] = b->ghd[l] ? b->ghd[l] + off : NULL;
    }
    return o;
}

static void forward_rows(const mlp_shape *s, const double *w, size_t rows, const double *X,
                         mlp_buf *b) {
    for (size_t l = 0; l < s->n_layers; l++) {
        size_t nin = s->width[l], nout = s->width[l + 1];
        const double *in = l ? b->h[l - 1] : X;
        const double *W = w + s->w_off[l], *bias = W + nin * nout;
        double *t = b->t[l];
        /* z (rows,nout) = in (rows,nin) W (nin,nout) */
        blas_gemm(0, 0, rows, nout, nin, 1.0, in, nin, W, nout, 0.0, t, nout);
        if (s->linear[l])
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < nout; c++)
                    t[r * nout + c] += bias[c];
        else
            act_tanh_bias(rows, nout, t, bias);
        /* h = t + S in, or idt ⊙ t + S in */
        if (s->dt[l]) {
            RK_ASSERT(b->h[l] != t && !s->linear[l]);
            const double *idt = idt_of(s, w, l);
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < nout; c++)
                    b->h[l][r * nout + c] = idt[c] * t[r * nout + c];
        } else if (b->h[l] != t) {
            memcpy(b->h[l], t, rows * nout * sizeof *t);
        }
        if (s->skip[l] != MLP_SKIP_NONE) {
            RK_ASSERT(b->h[l] != t);
            skip_forward(s->skip[l], rows, nin, nout, in, b->h[l]);
        }
    }
}

void mlp_forward(const mlp_shape *s, const double *w, size_t rows, const double *X, mlp_buf *b) {
    size_t cr = chunk_rows(s), nch = (rows + cr - 1) / cr;
#pragma omp parallel for schedule(static) if (nch > 1)
    for (size_t ch = 0; ch < nch; ch++) {
        size_t r0 = ch * cr, nr = rows - r0 < cr ? rows - r0 : cr;
        mlp_buf bc = mlp_buf_rows(b, s, r0);
        forward_rows(s, w, nr, X + r0 * s->width[0], &bc);
    }
}

/* The row-wise part of the backward pass: g_z of every layer (kept in b->gz) and g_in. */
static void backward_rows(const mlp_shape *s, const double *w, size_t rows, const double *gout,
                          mlp_buf *b, double *gin, double *scratch) {
    size_t mw = mlp_max_width(s);
    double *pp[2] = {scratch, scratch + rows * mw};
    const double *gh = gout;
    for (size_t l = s->n_layers; l-- > 0;) {
        size_t nin = s->width[l], nout = s->width[l + 1];
        const double *W = w + s->w_off[l];
        const double *t = b->t[l];
        double *gz = b->gz[l];
        /* g_z = g_h (1 - t^2), or (idt ⊙ g_h)(1 - t^2); g_h kept for d idt */
        if (s->dt[l]) {
            const double *idt = idt_of(s, w, l);
            memcpy(b->gh[l], gh, rows * nout * sizeof *gh);
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < nout; c++) {
                    size_t k = r * nout + c;
                    gz[k] = gh[k] * idt[c] * (1.0 - t[k] * t[k]);
                }
        } else if (s->linear[l]) {
            memcpy(gz, gh, rows * nout * sizeof *gz);
        } else {
            for (size_t k = 0; k < rows * nout; k++)
                gz[k] = gh[k] * (1.0 - t[k] * t[k]);
        }
        if (l == 0 && !gin) break;
        double *dst = l ? pp[l & 1] : gin;
        /* g_in (rows,nin) = g_z (rows,nout) W^T (nout,nin) + S^T g_h */
        blas_gemm(0, 1, rows, nin, nout, 1.0, gz, nout, W, nout, 0.0, dst, nin);
        skip_adjoint(s->skip[l], rows, nin, nout, gh, dst);
        gh = dst;
    }
}

void mlp_backward(const mlp_shape *s, const double *w, size_t rows, const double *X,
                  const double *gout, mlp_buf *b, double *gw, double *gin, double *scratch) {
    size_t cr = chunk_rows(s), nch = (rows + cr - 1) / cr, mw = mlp_max_width(s);
    size_t nL = s->width[s->n_layers];
#pragma omp parallel for schedule(static) if (nch > 1)
    for (size_t ch = 0; ch < nch; ch++) {
        size_t r0 = ch * cr, nr = rows - r0 < cr ? rows - r0 : cr;
        mlp_buf bc = mlp_buf_rows(b, s, r0);
        backward_rows(s, w, nr, gout + r0 * nL, &bc, gin ? gin + r0 * s->width[0] : NULL,
                      scratch + 2 * r0 * mw);
    }
    if (!gw) return;
    /* the weight gradients sum over all rows: one product per layer, the layers as tasks */
    size_t order[MLP_MAX_LAYERS];
    const int par = gw_layer_order(s, rows, order) >= MLP_GW_PAR_MIN;
#pragma omp parallel for schedule(dynamic, 1) if (par)
    for (size_t k = 0; k < s->n_layers; k++) {
        const size_t l = order[k], nin = s->width[l], nout = s->width[l + 1];
        const double *in = l ? b->h[l - 1] : X;
        /* dW (nin,nout) += in^T (nin,rows) g_z (rows,nout) */
        blas_gemm(1, 0, nin, nout, rows, 1.0, in, nin, b->gz[l], nout, 1.0, gw + s->w_off[l], nout);
        colsum_add(rows, nout, b->gz[l], gw + s->w_off[l] + nin * nout);
        if (s->dt[l]) {
            /* d idt (nout) += colsum (g_h ⊙ t) */
            double *gi = gw + s->w_off[l] + nin * nout + nout;
            const double *gh = b->gh[l], *t = b->t[l];
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < nout; c++)
                    gi[c] += gh[r * nout + c] * t[r * nout + c];
        }
    }
}

static void tangent_forward_rows(const mlp_shape *s, const double *w, size_t rows, const double *Xd,
                                 mlp_buf *b) {
    for (size_t l = 0; l < s->n_layers; l++) {
        size_t nin = s->width[l], nout = s->width[l + 1];
        const double *ind = l ? b->hd[l - 1] : Xd;
        const double *W = w + s->w_off[l];
        const double *t = b->t[l];
        double *zd = b->zd[l], *hd = b->hd[l];
        /* z' (rows,nout) = h'_{l-1} (rows,nin) W (nin,nout) */
        blas_gemm(0, 0, rows, nout, nin, 1.0, ind, nin, W, nout, 0.0, zd, nout);
        /* h' = (1 - t^2) z' + S h'_{l-1}, or idt ⊙ (1 - t^2) z' + S h'_{l-1} */
        if (s->dt[l]) {
            const double *idt = idt_of(s, w, l);
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < nout; c++) {
                    size_t k = r * nout + c;
                    hd[k] = idt[c] * ((1.0 - t[k] * t[k]) * zd[k]);
                }
        } else {
            for (size_t k = 0; k < rows * nout; k++)
                hd[k] = s->linear[l] ? zd[k] : (1.0 - t[k] * t[k]) * zd[k];
        }
        skip_forward(s->skip[l], rows, nin, nout, ind, hd);
    }
}

void mlp_tangent_forward(const mlp_shape *s, const double *w, size_t rows, const double *Xd,
                         mlp_buf *b) {
    size_t cr = chunk_rows(s), nch = (rows + cr - 1) / cr;
#pragma omp parallel for schedule(static) if (nch > 1)
    for (size_t ch = 0; ch < nch; ch++) {
        size_t r0 = ch * cr, nr = rows - r0 < cr ? rows - r0 : cr;
        mlp_buf bc = mlp_buf_rows(b, s, r0);
        tangent_forward_rows(s, w, nr, Xd + r0 * s->width[0], &bc);
    }
}

/* The row-wise part of the tangent backward pass: g_z' of every layer (kept in b->gzd) and
 * g'_in. */
static void tangent_backward_rows(const mlp_shape *s, const double *w, size_t rows,
                                  const double *gdout, mlp_buf *b, double *gind, double *scratch) {
    size_t mw = mlp_max_width(s);
    double *pp[2] = {scratch, scratch + rows * mw};
    const double *ghd = gdout; /* NULL means zero */
    for (size_t l = s->n_layers; l-- > 0;) {
        size_t nin = s->width[l], nout = s->width[l + 1];
        const double *W = w + s->w_off[l];
        const double *t = b->t[l], *gz = b->gz[l], *zd = b->zd[l];
        double *gzd = b->gzd[l];
        /* g_z' = g_h' (1 - t^2) - 2 g_z t z'   (linear layer: g_z' = g_h'; dt layer: idt ⊙ g_h'
         * in place of g_h', which is kept for d idt') */
        if (s->dt[l]) {
            const double *idt = idt_of(s, w, l);
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < nout; c++) {
                    size_t k = r * nout + c;
                    double ghdk = ghd ? ghd[k] : 0.0;
                    b->ghd[l][k] = ghdk;
                    gzd[k] = ghdk * idt[c] * (1.0 - t[k] * t[k]) - 2.0 * gz[k] * t[k] * zd[k];
                }
        } else {
            for (size_t k = 0; k < rows * nout; k++) {
                double ghdk = ghd ? ghd[k] : 0.0;
                gzd[k] =
                    s->linear[l] ? ghdk : ghdk * (1.0 - t[k] * t[k]) - 2.0 * gz[k] * t[k] * zd[k];
            }
        }
        if (l == 0 && !gind) break;
        double *dst = l ? pp[l & 1] : gind;
        /* g'_in (rows,nin) = g_z' W^T + S^T g_h' */
        blas_gemm(0, 1, rows, nin, nout, 1.0, gzd, nout, W, nout, 0.0, dst, nin);
        if (ghd) skip_adjoint(s->skip[l], rows, nin, nout, ghd, dst);
        ghd = dst;
    }
}

void mlp_tangent_backward(const mlp_shape *s, const double *w, size_t rows, const double *X,
                          const double *Xd, const double *gdout, mlp_buf *b, double *gwd,
                          double *gind, double *scratch) {
    size_t cr = chunk_rows(s), nch = (rows + cr - 1) / cr, mw = mlp_max_width(s);
    size_t nL = s->width[s->n_layers];
#pragma omp parallel for schedule(static) if (nch > 1)
    for (size_t ch = 0; ch < nch; ch++) {
        size_t r0 = ch * cr, nr = rows - r0 < cr ? rows - r0 : cr;
        mlp_buf bc = mlp_buf_rows(b, s, r0);
        tangent_backward_rows(s, w, nr, gdout ? gdout + r0 * nL : NULL, &bc,
                              gind ? gind + r0 * s->width[0] : NULL, scratch + 2 * r0 * mw);
    }
    /* the weight tangents sum over all rows: the layers as tasks (see MLP_GW_PAR_MIN) */
    size_t order[MLP_MAX_LAYERS];
    const int par = gw_layer_order(s, rows, order) >= MLP_GW_PAR_MIN;
#pragma omp parallel for schedule(dynamic, 1) if (par)
    for (size_t k = 0; k < s->n_layers; k++) {
        const size_t l = order[k], nin = s->width[l], nout = s->width[l + 1];
        const double *in = l ? b->h[l - 1] : X;
        const double *ind = l ? b->hd[l - 1] : Xd;
        double *gW = gwd + s->w_off[l];
        /* dW' += h'_{l-1}^T g_z + h_{l-1}^T g_z' */
        blas_gemm(1, 0, nin, nout, rows, 1.0, ind, nin, b->gz[l], nout, 1.0, gW, nout);
        blas_gemm(1, 0, nin, nout, rows, 1.0, in, nin, b->gzd[l], nout, 1.0, gW, nout);
        colsum_add(rows, nout, b->gzd[l], gW + nin * nout);
        if (s->dt[l]) {
            /* d idt' (nout) += colsum (g_h' ⊙ t + g_h ⊙ t'),  t' = (1 - t^2) z' */
            double *gi = gW + nin * nout + nout;
            const double *ghd = b->ghd[l], *gh = b->gh[l], *t = b->t[l], *zd = b->zd[l];
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < nout; c++) {
                    size_t e = r * nout + c;
                    gi[c] += ghd[e] * t[e] + gh[e] * ((1.0 - t[e] * t[e]) * zd[e]);
                }
        }
    }
}
