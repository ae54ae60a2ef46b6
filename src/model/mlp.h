/* mlp: a stack of dense layers over a batch of rows, with the three passes the model needs:
 * forward, backward (reverse mode) and the forward-mode tangent of both (forward-over-reverse).
 *
 * Layer l: z_l = h_{l-1} W_l + b_l (W_l row-major [n_in][n_out]); t_l = tanh(z_l) (or t_l = z_l
 * for a linear layer); h_l = d_l ⊙ t_l + S h_{l-1}, where the skip S is one of
 *   none      S h = 0
 *   identity  S h = h         (n_out = n_in)
 *   double    S h = (h, h)    (n_out = 2 n_in: h concatenated with itself; DeePMD-kit's embedding)
 * and h_{-1} = X. S^T g (the adjoint of the skip) is g for identity and g[:, :n_in] + g[:, n_in:]
 * for double. d_l is 1 except on a layer with a residual timestep (dt[l], DeePMD-kit's resnet_dt):
 * then d_l = idt_l, a trainable vector of n_out entries stored right after b_l (W, b, idt), and
 * ⊙ scales column c by idt[c].
 * Backward, given g_h = dE/dh_L:   g_z = (d ⊙ g_h)(1 - t^2);  dW += h_{l-1}^T g_z;
 *                                  db += colsum g_z;  d idt += colsum (g_h ⊙ t);
 *                                  g_{h_{l-1}} = g_z W^T + S^T g_h.
 * Tangent (dot = d/d eps along an input direction, weights fixed):
 *   forward   z' = h'_{l-1} W;  t' = (1 - t^2) z';  h' = d ⊙ t' + S h'_{l-1}
 *   backward  g_z' = (d ⊙ g_h')(1 - t^2) - 2 g_z t z';  dW' += h'_{l-1}^T g_z + h_{l-1}^T g_z';
 *             db' += colsum g_z';  d idt' += colsum (g_h' ⊙ t + g_h ⊙ t');
 *             g'_{h_{l-1}} = g_z' W^T + S^T g_h'.
 * The idt terms need g_h (kept by the backward pass in gh[l]) and g_h' (kept in ghd[l]).
 * All buffers are caller-provided (rows x width per layer), nothing is allocated here.
 *
 * Threads: each pass splits the batch into fixed chunks of rows (sized from the shape alone) and
 * runs the row-wise work (the layer products z = h W, the activations, g_in = g_z W^T) of the
 * chunks in an OpenMP loop; the weight gradients, which sum over rows, are then one product per
 * layer over the whole batch, in the serial order. Every number is therefore bitwise the same
 * for any thread count. Call with the BLAS single-threaded (the chunks are the parallelism).
 */
#ifndef RLEKF_MLP_H
#define RLEKF_MLP_H

#include <stddef.h>

#define MLP_MAX_LAYERS 8

/* The skip connection S of a layer (see above). */
typedef enum {
    MLP_SKIP_NONE = 0,
    MLP_SKIP_IDENTITY, /* h = t + h_in,         n_out = n_in */
    MLP_SKIP_DOUBLE    /* h = t + (h_in, h_in), n_out = 2 n_in */
} mlp_skip;

typedef struct {
    size_t n_layers;
    size_t width[MLP_MAX_LAYERS + 1]; /* width[0] = input width, width[l+1] = output of layer l */
    mlp_skip skip[MLP_MAX_LAYERS];
    int linear[MLP_MAX_LAYERS];
    int dt[MLP_MAX_LAYERS];       /* 1: h = idt ⊙ t + S h_in (only on a layer with a skip) */
    size_t w_off[MLP_MAX_LAYERS]; /* offset of W_l in the flat parameter vector; b_l follows W_l,
                                     idt_l (if dt[l]) follows b_l */
} mlp_shape;

/* Per-layer activation buffers for `rows` rows; each pointer is (rows, width[l+1]) with a row
 * stride of width[l+1]. h[l] may equal t[l] for layers without a skip (aliasing is handled);
 * gh[l] and ghd[l] are needed only where dt[l]. */
typedef struct {
    double *t[MLP_MAX_LAYERS];   /* tanh outputs (or z for linear layers) */
    double *h[MLP_MAX_LAYERS];   /* layer outputs */
    double *gz[MLP_MAX_LAYERS];  /* backward: dE/dz_l */
    double *zd[MLP_MAX_LAYERS];  /* tangent: z'_l */
    double *hd[MLP_MAX_LAYERS];  /* tangent: h'_l */
    double *gzd[MLP_MAX_LAYERS]; /* tangent backward: g_z'_l */
    double *gh[MLP_MAX_LAYERS];  /* backward: dE/dh_l, for dt layers (NULL otherwise) */
    double *ghd[MLP_MAX_LAYERS]; /* tangent backward: g_h'_l, for dt layers (NULL otherwise) */
} mlp_buf;

/* The buffers of b for the rows from row0 on (every per-layer buffer advanced by row0 rows). */
mlp_buf mlp_buf_rows(const mlp_buf *b, const mlp_shape *s, size_t row0);

void mlp_forward(const mlp_shape *s, const double *w, size_t rows, const double *X, mlp_buf *b);
/* gout (rows, width_L) = dE/dh_L. gw (N) accumulated if non-NULL. gin (rows, width[0]) written if
 * non-NULL. scratch: 2 * rows * max width doubles. */
void mlp_backward(const mlp_shape *s, const double *w, size_t rows, const double *X,
                  const double *gout, mlp_buf *b, double *gw, double *gin, double *scratch);
void mlp_tangent_forward(const mlp_shape *s, const double *w, size_t rows, const double *Xd,
                         mlp_buf *b);
/* gdout = tangent of gout (NULL = zero). gwd (N) accumulated. gind (rows, width[0]) written if
 * non-NULL. scratch: 2 * rows * max width doubles. */
void mlp_tangent_backward(const mlp_shape *s, const double *w, size_t rows, const double *X,
                          const double *Xd, const double *gdout, mlp_buf *b, double *gwd,
                          double *gind, double *scratch);
size_t mlp_max_width(const mlp_shape *s);

#endif
