/* kalman: the Kalman-filter core shared by gekf, rlekf and lekf (SPEC §3, see kalman.h).
 *
 * Storage. Block i (weights w[off_i, off_i + n_i)) keeps only the upper triangle of its
 * covariance, packed row-major (row r holds entries (r, r..n_i-1)), as P_i = σ_i·Q_i. The 1/λ of
 * every update is folded into the scalar σ_i, so it costs no pass over memory:
 *     k_i = σ_i Q_i h_i
 *     Q_i ← Q_i − (A/σ_i) k_i k_iᵀ ,   σ_i ← σ_i / λ
 * Since σ only grows (λ ≤ 1), σ is folded back into Q (one extra pass) only if it would
 * approach overflow.
 *
 * Fusion. The rank-1 update of step t is kept pending (vector u = k of step t, coefficient
 * β_i = A/σ_i) and applied in the same sweep that computes the mat-vec of step t+1: each entry of
 * Q is read once and written once per update (2 × packed bytes) instead of read by the mat-vec
 * and read+written by the rank-1 update (3 ×). (Blocks with short rows do the two in turn on
 * cache-sized chunks: the same memory traffic.) This is exact, not an approximation: step t+1
 * uses Q − β u uᵀ, computed entry by entry before use. Everything that looks at P (the dense
 * accessor, renormalisation) applies the pending update too.
 *
 * Precision. With covariance "float32" the entries of Q are stored as floats; every entry is
 * widened to double when read, the update v = Q − β u uᵀ is computed in double and rounded once
 * when stored, and the mat-vec uses the stored (rounded) entry, so k = σ Q h holds for the Q in
 * memory. Vectors, σ, β and all sums are double. Rounding is round-to-nearest in both the vector
 * and the scalar code, so float32 results too do not depend on the instruction set.
 *
 * Guard. The sweep also writes the updated diagonal Q_rr of every row into k (which it does not
 * otherwise touch); the final reduction moves it to u (whose last use was the sweep). Once A is
 * known, the diagonal after this update, σ'·(Q_rr − (β' k_r) k_r) rounded as it will be stored,
 * is checked in O(N): an entry that is not positive and finite means P has lost positivity (or
 * overflowed), and the step returns RK_EDIVERGED before touching w.
 *
 * Threads. Each large block's triangle rows are cut statically into KALMAN_PARTS contiguous
 * ranges holding equal numbers of entries (a small block is one piece). Every piece accumulates
 * its part of y = Q h into its own vector. One OpenMP region per update hands the pieces of all
 * blocks to the threads as they become free (largest first), then sums each block's partial
 * vectors in the fixed piece order. The partition does not depend on the thread count, so
 * results are bitwise reproducible whatever the number of threads.
 */
#include "kalman.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "blas.h"
#include "par.h"

/* Bounds of p0: any positive value is valid mathematically; outside [1e-12, 1e12] the products
 * σ·Q·h and A·e·k leave the comfortable range of doubles for Jacobians of order 1. */
#define KALMAN_P0_MIN 1e-12
#define KALMAN_P0_MAX 1e12
/* λ < 0.5 doubles P at every update (the filter forgets everything within a few steps); the
 * method's useful range is 0.9 to 1. */
#define KALMAN_LAMBDA_MIN 0.5
/* block_size above any realistic N (a larger N_b than N simply gives one block). */
#define KALMAN_BLOCK_SIZE_MAX 1e9
/* σ grows by 1/λ per update. Fold it into Q before it could overflow: Q entries then stay far
 * from the denormal range (Q ~ P/σ) and σ·(Q h) cannot overflow for any finite P h. With the
 * defaults σ stays below 1e7, so this never triggers in practice. */
#define KALMAN_SIGMA_MAX 1e150
/* The same for float32 storage, whose normal range is only 1e-38 to 3e38: folding σ in at 1e18
 * keeps Q ~ P/σ normal for any P above 1e-20 and never triggers with the defaults either. */
#define KALMAN_SIGMA_MAX_F32 1e18
/* A large triangle is cut into this many pieces of equal entry counts. 16 pieces balance 2 to 16
 * threads, also when a core is busy with another process; the price is zeroing and summing 16
 * partial vectors of n doubles against n²/2 entries swept. */
#define KALMAN_PARTS ((size_t)16)
/* Triangles with fewer entries (2 MiB) stay one piece: cutting them would cost more in partial
 * vectors than it gains; they still run in parallel with the other blocks' pieces. */
#define KALMAN_PIECE_MIN_ENTRIES ((size_t)262144)
/* Blocks with short rows (n ≤ KALMAN_CHUNK_ENTRIES / KALMAN_CHUNK_MIN_ROWS = 2048) are swept in
 * chunks of about 256 KiB (a quarter of a 1 MiB L2): the rank-1 pass over a chunk, then the
 * mat-vec pass over the same chunk from cache. Each chunk then is one contiguous stream, which
 * measured 10-20 % faster than the 4-row fused sweep there (whose 4 streams restart every 4
 * short rows); with longer rows a chunk holds too few rows and the fused sweep wins. */
#define KALMAN_CHUNK_ENTRIES ((size_t)32768)
#define KALMAN_CHUNK_MIN_ROWS ((size_t)16)
/* An update sweeping fewer entries in total (256 KiB) runs on one thread: the OpenMP fork/join
 * (a few µs) would cost more than the sweep. The result is the same either way. */
#define KALMAN_PAR_MIN_ENTRIES ((size_t)32768)

static const char *const kalman_noise_choices[] = {"per_block", "single", NULL};
static const char *const kalman_cov_choices[] = {"float64", "float32", NULL};

const optim_param_desc kalman_param_table[KALMAN_N_PARAMS] = {
    {"p0", OPTIM_P_REAL, 1.0, KALMAN_P0_MIN, KALMAN_P0_MAX, NULL,
     "initial covariance of every block: P_i(0) = p0*I"},
    {"lambda", OPTIM_P_REAL, 0.98, KALMAN_LAMBDA_MIN, 1.0, NULL,
     "initial forgetting factor lambda0 (P is inflated by 1/lambda per update)"},
    {"nu", OPTIM_P_REAL, 0.9987, 0.0, 1.0, NULL,
     "after every update lambda <- nu*lambda + 1 - nu (lambda -> 1)"},
    {"measurement_noise", OPTIM_P_CHOICE, KALMAN_NOISE_PER_BLOCK, 0.0, 1.0, kalman_noise_choices,
     "noise term of A = 1/(noise + sum h'Ph): per_block = L*lambda (reference), single = lambda"},
    {"covariance", OPTIM_P_CHOICE, KALMAN_COV_FLOAT64, 0.0, 1.0, kalman_cov_choices,
     "storage of the P blocks: float64, or float32 (half the memory; w, h, k, A, sums: double)"},
    {"block_size", OPTIM_P_INT, 5120.0, 1.0, KALMAN_BLOCK_SIZE_MAX, NULL,
     "N_b: tensors are gathered into blocks of at most N_b weights, larger ones cut into N_b"},
};

/* A packed triangle at the state's storage precision (kstate.f32 says which member). */
typedef union {
    double *d;
    float *f;
} ktri;

typedef struct {
    size_t n, off;  /* the block covers w[off, off + n) */
    double sigma;   /* P = σ·Q */
    double beta;    /* pending update Q ← Q − β u uᵀ (when the state has one pending) */
    ktri Q;         /* this rank's rows [rlo, rhi) of the packed upper triangle (serial: all,
                     * n(n+1)/2 entries); NULL-like when the rank owns none */
    size_t pieces;  /* 1 or KALMAN_PARTS */
    size_t *bounds; /* (pieces + 1) row boundaries of the balanced partition */
    double *part;   /* (phi - plo, n) partial mat-vec results of the owned pieces */
    size_t plo, phi; /* pieces [plo, phi) are this rank's (plo == phi: none) */
    size_t rlo, rhi; /* their rows: bounds[plo], bounds[phi] */
    size_t q0;       /* packed index of the first stored entry: row_start(n, rlo) */
    int owner;       /* the rank holding the whole block, or -1 when it is split over ranks */
    size_t *src;     /* (pieces) ranks > 1: where each piece's contribution sits in the
                      * all-gathered buffer (a whole block: src[0], its k_i) */
} kblock;

/* One unit of work of the threaded sweep: rows bounds[piece] .. bounds[piece+1] of a block. */
typedef struct {
    size_t block, piece;
} kitem;

typedef struct {
    const char *name;
    size_t N, nblocks, nitems;
    kblock *blk;  /* (nblocks) every block (σ_i, β_i are kept on every rank) */
    kitem *items; /* (nitems) the pieces this rank owns, largest first */
    void *Qmem;   /* this rank's rows of all packed triangles, one block after the other */
    size_t *bmem; /* (nblocks, KALMAN_PARTS + 1) partition boundaries */
    double *pmem; /* Σ owned pieces·n_i partial vectors */
    double *k;    /* (N) gain of the current update, k_i = P_i h_i */
    double *u;    /* (N) gain of the previous update: the pending rank-1 vector; after the
                   * sweep, the diagonal of every owned row of Q_i (for the guard) */
    double lambda, nu;
    int single;  /* measurement noise λ instead of L·λ */
    int pending; /* a rank-1 update (β_i, u) waits to be applied to every Q_i */
    kalman_kernel kernel;
    int f32; /* the triangles are float (covariance "float32"), else double */
    size_t updates, bytes, packed_entries;
    /* several ranks (R > 1): this rank's contribution to the one all-gather per update, the
     * gathered contributions of all ranks, byte counts and offsets per rank, offset tables */
    int R, me;
    size_t packed_before; /* entries of the global packed array before this rank's first */
    double *sendbuf, *recvbuf;
    size_t *counts, *displs; /* (R) bytes */
    size_t *srcmem;          /* (global items) */
} kstate;

/* Sizes summary of one split, filled by split_walk. */
typedef struct {
    size_t count, max, packed; /* blocks, largest block, Σ n_i(n_i+1)/2 */
    size_t items, partial;     /* Σ pieces_i, Σ pieces_i·n_i */
} kstats;

static size_t tri(size_t n) {
    return n * (n + 1) / 2;
}

static size_t pieces_of(size_t n) {
    return tri(n) >= KALMAN_PIECE_MIN_ENTRIES ? KALMAN_PARTS : 1;
}

static void emit_chunks(size_t group, size_t nb, size_t *sizes, kstats *st) {
    /* a group of nb or more entries is cut into consecutive chunks of nb, the last holds the
     * rest; a smaller group is one block */
    while (group > 0) {
        size_t n = group > nb ? nb : group;
        if (sizes) sizes[st->count] = n;
        st->count++;
        st->packed += tri(n);
        st->items += pieces_of(n);
        st->partial += pieces_of(n) * n;
        if (n > st->max) st->max = n;
        group -= n;
    }
}

static void split_walk(const layout_t *L, kalman_split mode, size_t nb, size_t *sizes, kstats *st) {
    memset(st, 0, sizeof *st);
    if (mode == KALMAN_SPLIT_GLOBAL) {
        emit_chunks(L->n_params, L->n_params, sizes, st);
        return;
    }
    RK_ASSERT(nb >= 1);
    if (mode == KALMAN_SPLIT_TENSOR) {
        for (size_t t = 0; t < L->n_tensors; t++)
            emit_chunks(L->t[t].size, nb, sizes, st);
        return;
    }
    /* gather: running count s; a tensor that would overflow N_b closes the current group */
    size_t s = 0;
    for (size_t t = 0; t < L->n_tensors; t++) {
        size_t sz = L->t[t].size;
        if (s + sz > nb) {
            if (s > 0) emit_chunks(s, nb, sizes, st);
            s = sz;
        } else {
            s += sz;
        }
    }
    if (s > 0) emit_chunks(s, nb, sizes, st);
}

size_t kalman_blocks(const layout_t *L, kalman_split mode, size_t nb, size_t *sizes) {
    kstats st;
    split_walk(L, mode, nb, sizes, &st);
    return st.count;
}

static size_t block_size_of(const optim_params *p, kalman_split mode) {
    return mode == KALMAN_SPLIT_GLOBAL ? 0 : (size_t)p->v[KALMAN_P_BLOCK_SIZE];
}

static int f32_of(const optim_params *p) {
    return (int)p->v[KALMAN_P_COVARIANCE] == KALMAN_COV_FLOAT32;
}

/* Bytes of one stored covariance entry. */
static size_t entry_bytes(int f32) {
    return f32 ? sizeof(float) : sizeof(double);
}

/* The split mode a Kalman type carries in its data. */
static kalman_split mode_of(const optim_type *t) {
    RK_ASSERT(t->data);
    return ((const kalman_variant *)t->data)->split;
}

void kalman_free(void *state) {
    kstate *S = state;
    if (!S) return;
    free(S->Qmem);
    free(S->bmem);
    free(S->pmem);
    free(S->items);
    free(S->blk);
    free(S->k);
    free(S->u);
    free(S->sendbuf);
    free(S->recvbuf);
    free(S->counts);
    free(S->displs);
    free(S->srcmem);
    free(S);
}

/* Row boundaries splitting the n(n+1)/2 entries of an n-row triangle into `pieces` contiguous row
 * ranges of (nearly) equal entry counts: bounds[p] = first row r with C(r) ≥ p·total/pieces,
 * where C(r) = Σ_{r' < r} (n − r') counts the entries before row r. */
static void partition_rows(size_t n, size_t pieces, size_t *bounds) {
    size_t total = tri(n), r = 0, before = 0;
    bounds[0] = 0;
    for (size_t p = 1; p < pieces; p++) {
        size_t target = p * total / pieces;
        while (r < n && before < target)
            before += n - r++;
        bounds[p] = r;
    }
    bounds[pieces] = n;
}

/* Entries swept by one work item. */
static size_t item_entries(const kstate *S, const kitem *it) {
    const kblock *b = &S->blk[it->block];
    size_t r0 = b->bounds[it->piece], r1 = b->bounds[it->piece + 1];
    return tri(b->n - r0) - tri(b->n - r1);
}

/* The work list sorted by decreasing size (insertion sort: a few hundred items at most, once),
 * so that dynamic scheduling ends with small items. Ties keep block order. */
static void sort_items(kstate *S) {
    for (size_t i = 1; i < S->nitems; i++) {
        kitem x = S->items[i];
        size_t ex = item_entries(S, &x), j = i;
        while (j > 0 && item_entries(S, &S->items[j - 1]) < ex) {
            S->items[j] = S->items[j - 1];
            j--;
        }
        S->items[j] = x;
    }
}

static size_t row_start(size_t n, size_t r);

/* ---- distribution over ranks ----
 * Every block keeps the piece partition of the serial sweep (pieces_of, partition_rows). A piece,
 * a range of whole rows of one packed triangle, is the unit of distribution: every rank computes
 * exactly the partial vectors the serial sweep computes, for its pieces, and the sums over pieces
 * run in the serial order on every rank, so the result does not depend on the number of ranks.
 * Assignment: the items (block, piece) in parameter order, with e_j entries each, T in all; an
 * item goes to the rank r whose share [r·T/R, (r+1)·T/R) holds its midpoint, where for a block of
 * one piece, or of at most T/(R·KALMAN_WHOLE_SHARE) entries, the midpoint is the whole block's
 * (the block stays on one rank: whole blocks where they balance, row slices where a block is
 * too big). Midpoints increase, so each rank owns one contiguous run of items: its rows of a
 * block are one contiguous stretch of the packed triangle (stored as such: "the slice's part of
 * the triangle", rows rlo..rhi-1, columns c >= r), and the ranks' stretches, concatenated in
 * rank order, are the single-process packed array (checkpoints gather them into it). At most
 * KALMAN_PARTS ranks share one block. */
#define KALMAN_WHOLE_SHARE ((size_t)8)

typedef struct {
    size_t nblocks, nitems;
    size_t *n, *pieces, *first; /* (nblocks): size, pieces, index of the first item */
    size_t *bounds;             /* (nblocks, KALMAN_PARTS + 1) */
    int *owner;                 /* (nitems) rank of every item */
} kgeom;

static void geom_free(kgeom *g) {
    free(g->n);
    free(g->pieces);
    free(g->first);
    free(g->bounds);
    free(g->owner);
    memset(g, 0, sizeof *g);
}

/* Rank whose share holds position x2/2 of T entries (x2: twice the position, to keep halves). */
static int rank_at(size_t x2, size_t T, int R) {
    size_t r = T ? x2 * (size_t)R / (2 * T) : 0;
    return r >= (size_t)R ? R - 1 : (int)r;
}

static rk_status geom_build(const layout_t *L, kalman_split mode, size_t nb, int R, kgeom *g) {
    memset(g, 0, sizeof *g);
    kstats st;
    split_walk(L, mode, nb, NULL, &st);
    g->nblocks = st.count;
    g->nitems = st.items;
    g->n = rk_calloc(st.count, sizeof *g->n);
    g->pieces = rk_calloc(st.count, sizeof *g->pieces);
    g->first = rk_calloc(st.count, sizeof *g->first);
    g->bounds = rk_calloc(st.count * (KALMAN_PARTS + 1), sizeof *g->bounds);
    g->owner = rk_calloc(st.items, sizeof *g->owner);
    if (!g->n || !g->pieces || !g->first || !g->bounds || !g->owner) {
        geom_free(g);
        return RK_ENOMEM;
    }
    split_walk(L, mode, nb, g->n, &st);
    size_t item = 0;
    for (size_t i = 0; i < g->nblocks; i++) {
        g->pieces[i] = pieces_of(g->n[i]);
        g->first[i] = item;
        partition_rows(g->n[i], g->pieces[i], g->bounds + i * (KALMAN_PARTS + 1));
        item += g->pieces[i];
    }
    const size_t T = st.packed, whole_max = T / ((size_t)R * KALMAN_WHOLE_SHARE);
    size_t before = 0; /* entries of the blocks before block i */
    for (size_t i = 0; i < g->nblocks; i++) {
        const size_t n = g->n[i], E = tri(n), *bd = g->bounds + i * (KALMAN_PARTS + 1);
        if (g->pieces[i] == 1 || E <= whole_max) {
            int r = rank_at(2 * before + E, T, R);
            for (size_t p = 0; p < g->pieces[i]; p++)
                g->owner[g->first[i] + p] = r;
        } else {
            for (size_t p = 0; p < g->pieces[i]; p++) {
                size_t e0 = tri(n) - tri(n - bd[p]), e1 = tri(n) - tri(n - bd[p + 1]);
                g->owner[g->first[i] + p] = rank_at(2 * before + e0 + e1, T, R);
            }
        }
        before += E;
    }
    return RK_OK;
}

/* Block i of g is split over several ranks. */
static int geom_split(const kgeom *g, size_t i) {
    return g->owner[g->first[i]] != g->owner[g->first[i] + g->pieces[i] - 1];
}

/* Doubles item (block i, piece p) contributes to the all-gather: k_i for a whole block (once, at
 * its first piece), the piece's partial vector from its first row on for a split one. */
static size_t geom_contrib(const kgeom *g, size_t i, size_t p) {
    if (!geom_split(g, i)) return p == 0 ? g->n[i] : 0;
    return g->n[i] - g->bounds[i * (KALMAN_PARTS + 1) + p];
}

/* What one rank holds: owned items, stored entries, partial-vector doubles, doubles it sends
 * and the whole gathered buffer per update, entries of the global packed array before its own. */
typedef struct {
    size_t items, packed, partial, send, recv, packed_before, slices;
} kshare;

static void share_of(const kgeom *g, int rank, kshare *sh) {
    memset(sh, 0, sizeof *sh);
    size_t packed = 0;
    int seen = 0;
    for (size_t i = 0; i < g->nblocks; i++) {
        const size_t n = g->n[i], *bd = g->bounds + i * (KALMAN_PARTS + 1);
        int mine = 0;
        for (size_t p = 0; p < g->pieces[i]; p++) {
            const size_t e = tri(n - bd[p]) - tri(n - bd[p + 1]);
            sh->recv += geom_contrib(g, i, p);
            if (g->owner[g->first[i] + p] == rank) {
                if (!seen) sh->packed_before = packed;
                seen = mine = 1;
                sh->items++;
                sh->packed += e;
                sh->partial += n;
                sh->send += geom_contrib(g, i, p);
            }
            packed += e;
        }
        sh->slices += (size_t)mine;
    }
    if (!seen) sh->packed_before = packed;
}

/* Exactly what kalman_init allocates on a rank with share sh (of R ranks, nitems items). */
static size_t bytes_of(size_t nblocks, size_t N, int f32, int R, size_t nitems, const kshare *sh) {
    size_t doubles = 2 * N + sh->partial;
    size_t b = sizeof(kstate) + nblocks * sizeof(kblock) +
               nblocks * (KALMAN_PARTS + 1) * sizeof(size_t) + sh->items * sizeof(kitem) +
               sh->packed * entry_bytes(f32) + doubles * sizeof(double);
    if (R > 1)
        b += (sh->send + sh->recv) * sizeof(double) + nitems * sizeof(size_t) +
             2 * (size_t)R * sizeof(size_t);
    return b;
}

size_t kalman_state_bytes(const optim_type *t, const optim_params *p, const layout_t *L) {
    kalman_plan_rank pl;
    if (kalman_plan(t, p, L, par_size(), par_rank(), &pl, NULL, 0)) return SIZE_MAX;
    return pl.state_bytes;
}

rk_status kalman_plan(const optim_type *t, const optim_params *p, const layout_t *L, int R,
                      int rank, kalman_plan_rank *out, kalman_slice *slices, size_t cap) {
    RK_ASSERT(R >= 1 && rank >= 0 && rank < R);
    const kalman_split mode = mode_of(t);
    kgeom g;
    if (geom_build(L, mode, block_size_of(p, mode), R, &g))
        return err_prefix(RK_ENOMEM, "%s: ", t->name);
    kshare sh;
    share_of(&g, rank, &sh);
    memset(out, 0, sizeof *out);
    out->blocks = g.nblocks;
    out->slices = sh.slices;
    out->entries = sh.packed;
    out->state_bytes = bytes_of(g.nblocks, L->n_params, f32_of(p), R, g.nitems, &sh);
    out->send_bytes = R > 1 ? sh.send * sizeof(double) : 0;
    out->recv_bytes = R > 1 ? (sh.recv - sh.send) * sizeof(double) : 0;
    size_t k = 0;
    for (size_t i = 0; i < g.nblocks; i++) {
        const size_t *bd = g.bounds + i * (KALMAN_PARTS + 1);
        size_t plo = g.pieces[i], phi = 0;
        for (size_t q = 0; q < g.pieces[i]; q++)
            if (g.owner[g.first[i] + q] == rank) {
                if (q < plo) plo = q;
                phi = q + 1;
            }
        if (plo >= phi) continue;
        if (slices && k < cap)
            slices[k] = (kalman_slice){i, g.n[i], bd[plo], bd[phi], geom_split(&g, i)};
        k++;
    }
    geom_free(&g);
    return RK_OK;
}

rk_status kalman_init(const optim_type *t, void **state, const optim_params *p, const layout_t *L) {
    *state = NULL;
    const kalman_split mode = mode_of(t);
    const char *name = t->name;
    if (L->n_params == 0) return err_set(RK_EINPUT, "%s: the parameter layout is empty", name);
    const int R = par_size(), me = par_rank();
    kgeom g;
    if (geom_build(L, mode, block_size_of(p, mode), R, &g)) return err_prefix(RK_ENOMEM, "%s: ", name);
    kshare sh;
    share_of(&g, me, &sh);
    const size_t N = L->n_params;

    kstate *S = rk_calloc(1, sizeof *S);
    if (!S) {
        geom_free(&g);
        return err_prefix(RK_ENOMEM, "%s: ", name);
    }
    S->name = name;
    S->N = N;
    S->nblocks = g.nblocks;
    S->nitems = sh.items;
    S->lambda = p->v[KALMAN_P_LAMBDA];
    S->nu = p->v[KALMAN_P_NU];
    S->single = (int)p->v[KALMAN_P_NOISE] == KALMAN_NOISE_SINGLE;
    S->kernel = KALMAN_KERNEL_FUSED;
    S->f32 = f32_of(p);
    S->bytes = bytes_of(g.nblocks, N, S->f32, R, g.nitems, &sh);
    S->packed_entries = sh.packed;
    S->packed_before = sh.packed_before;
    S->R = R;
    S->me = me;
    S->blk = rk_calloc(g.nblocks, sizeof *S->blk);
    S->items = rk_calloc(sh.items, sizeof *S->items);
    S->bmem = rk_calloc(g.nblocks * (KALMAN_PARTS + 1), sizeof *S->bmem);
    S->pmem = rk_calloc(sh.partial, sizeof *S->pmem);
    S->Qmem = rk_calloc_touched(sh.packed, entry_bytes(S->f32));
    S->k = rk_calloc(N, sizeof *S->k);
    S->u = rk_calloc(N, sizeof *S->u);
    int ok = S->blk && S->items && S->bmem && S->pmem && S->Qmem && S->k && S->u;
    if (ok && R > 1) {
        S->sendbuf = rk_calloc(sh.send, sizeof *S->sendbuf);
        S->recvbuf = rk_calloc(sh.recv, sizeof *S->recvbuf);
        S->counts = rk_calloc((size_t)R, sizeof *S->counts);
        S->displs = rk_calloc((size_t)R, sizeof *S->displs);
        S->srcmem = rk_calloc(g.nitems, sizeof *S->srcmem);
        ok = S->sendbuf && S->recvbuf && S->counts && S->displs && S->srcmem;
    }
    if (!ok) {
        geom_free(&g);
        kalman_free(S);
        return err_prefix(RK_ENOMEM, "%s: ", name);
    }
    if (R > 1) {
        /* the gathered buffer: rank 0's contributions, then rank 1's, ...; each rank's in item
         * order (items are contiguous per rank and ranks increase along the items) */
        for (int r = 0; r < R; r++) {
            kshare o;
            share_of(&g, r, &o);
            S->counts[r] = o.send * sizeof(double);
            S->displs[r] = r ? S->displs[r - 1] + S->counts[r - 1] : 0;
        }
        size_t at = 0;
        for (size_t i = 0; i < g.nblocks; i++)
            for (size_t q = 0; q < g.pieces[i]; q++) {
                S->srcmem[g.first[i] + q] = at;
                at += geom_contrib(&g, i, q);
            }
        RK_ASSERT(at == sh.recv);
    }
    size_t off = 0, qoff = 0, poff = 0, item = 0;
    for (size_t i = 0; i < g.nblocks; i++) {
        kblock *b = &S->blk[i];
        b->n = g.n[i];
        b->off = off;
        b->pieces = g.pieces[i];
        b->bounds = S->bmem + i * (KALMAN_PARTS + 1);
        memcpy(b->bounds, g.bounds + i * (KALMAN_PARTS + 1), (b->pieces + 1) * sizeof *b->bounds);
        b->owner = geom_split(&g, i) ? -1 : g.owner[g.first[i]];
        b->src = R > 1 ? S->srcmem + g.first[i] : NULL;
        b->plo = b->pieces;
        b->phi = 0;
        for (size_t q = 0; q < b->pieces; q++)
            if (g.owner[g.first[i] + q] == me) {
                if (q < b->plo) b->plo = q;
                b->phi = q + 1;
            }
        if (b->plo >= b->phi) b->plo = b->phi = 0;
        b->rlo = b->bounds[b->plo];
        b->rhi = b->plo < b->phi ? b->bounds[b->phi] : b->rlo;
        b->q0 = row_start(b->n, b->rlo);
        if (S->f32)
            b->Q.f = (float *)S->Qmem + qoff;
        else
            b->Q.d = (double *)S->Qmem + qoff;
        b->part = S->pmem + poff;
        /* P_i(0) = p0·I = σ·Q with σ = p0, Q = I (row r starts at Σ_{r'<r} (n − r')) */
        b->sigma = p->v[KALMAN_P_P0];
        size_t start = 0;
        for (size_t r = b->rlo; r < b->rhi; r++) {
            if (S->f32)
                b->Q.f[start] = 1.0f;
            else
                b->Q.d[start] = 1.0;
            start += b->n - r;
        }
        for (size_t q = b->plo; q < b->phi; q++)
            S->items[item++] = (kitem){i, q};
        off += b->n;
        qoff += start;
        poff += (b->phi - b->plo) * b->n;
    }
    geom_free(&g);
    RK_ASSERT(off == N && item == sh.items && poff == sh.partial && qoff == sh.packed);
    sort_items(S);
    *state = S;
    return RK_OK;
}

/* Entries before row r of a packed n-row upper triangle: Σ_{r'<r} (n − r') = r(2n − r + 1)/2. */
static size_t row_start(size_t n, size_t r) {
    return r * (2 * n - r + 1) / 2;
}

/* ---- the sweep kernels ----
 * Four doubles are processed together as a GCC vector (one AVX register, or two SSE2 ones).
 * Only element-wise IEEE operations are used (no reassociation; C17 mode compiles with
 * -ffp-contract=off, so a*b+c is never fused behind our back), so the result does not depend on
 * which instruction set runs it: the sweeps are compiled twice (AVX+FMA and baseline) and picked
 * at load time. Float32 entries are widened to double on load and rounded to nearest on store, by
 * the same IEEE conversions in both clones.
 * The float32 vector body asks for fused multiply-adds explicitly (KV_FMA: C's fma, one rounding):
 * the FMA clone runs them as instructions, the baseline clone calls libm's fma, which rounds
 * the same way (slowly, on the rare machine without FMA). That body was bounded by its 8
 * multiply/add/convert operations per 4 entries on the two FP ports, not by memory; fused, they
 * are 5 (issue #10). The float64 sweep is memory-bound and keeps separate multiplies and adds, so
 * its results are those of every earlier version. */
typedef double kv4 __attribute__((vector_size(4 * sizeof(double))));
typedef float kf4 __attribute__((vector_size(4 * sizeof(float))));
#define KV_LANES 4
#define KV_LOAD(v, p) memcpy(&(v), (p), sizeof(kv4))
#define KV_STORE(p, v) memcpy((p), &(v), sizeof(kv4))
/* r = a*b + c lane by lane with one rounding (GCC makes it one vfmadd in the FMA clone) */
#define KV_FMA(r, a, b, c)                                                                     \
    do {                                                                                       \
        for (int kv_ = 0; kv_ < KV_LANES; kv_++)                                               \
            (r)[kv_] = __builtin_fma((a)[kv_], (b)[kv_], (c)[kv_]);                            \
    } while (0)
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define KALMAN_CLONES __attribute__((target_clones("fma", "default")))
#else
#define KALMAN_CLONES
#endif
#define KALMAN_INLINE static inline __attribute__((always_inline))
/* Rows swept together: each load of u[c], h[c] and y[c] then serves this many rows of Q, which
 * measured 1.5× faster than one row at a time (the sweep is otherwise limited by these loads,
 * not by memory). Four rows × four lanes of partial sums fit the 16 vector registers. */
#define KALMAN_ROW_BLOCK 4
/* Float32 rows longer than the chunked kernels' go 8 at a time: with fused multiply-adds the body
 * keeps 8 partial sums in registers, and each load of u[c], h[c], y[c] (doubles, as many bytes as
 * the floats of 2 rows) serves twice as many entries. Measured (bench_kalman --float32-only, 2
 * threads, two rounds each): N_b 5120 float32/float64 0.50-0.53 against 0.60-0.64 with 4 rows;
 * for short rows (N_b 1024, 2048) 8 rows were slower, so they keep 4. */
#define KALMAN_ROW_BLOCK_F32 8
/* (The loops over the rows of a block carry "#pragma GCC unroll 8" so that the per-row pointers
 * and partial sums live in registers; keep it equal to the larger block.) */

/* Entry i of a packed triangle of doubles (f32 = 0) or floats (f32 = 1), as a double. f32 is a
 * constant at every call, so each kernel below is compiled once per precision. */
KALMAN_INLINE double q_load(const void *Q, size_t i, int f32) {
    return f32 ? (double)((const float *)Q)[i] : ((const double *)Q)[i];
}
/* Store v as entry i (rounded to float for f32); returns the stored value as a double. */
KALMAN_INLINE double q_store(void *Q, size_t i, double v, int f32) {
    if (!f32) {
        ((double *)Q)[i] = v;
        return v;
    }
    const float x = (float)v;
    ((float *)Q)[i] = x;
    return (double)x;
}
/* The same for the KV_LANES entries i .. i+3 (vectors passed by address: returning one by value
 * would be ABI-dependent in the baseline clone); the store leaves *v unrounded (see sweep_core).
 * Widening is written element by element: GCC 12 turns that into one vcvtps2pd in the AVX2
 * clone, but __builtin_convertvector into two halves and a shuffle (the float32 update then
 * measured 15-30 % slower). */
KALMAN_INLINE void q_load4(kv4 *v, const void *Q, size_t i, int f32) {
    if (f32) {
        kf4 x;
        memcpy(&x, (const float *)Q + i, sizeof x);
        *v = (kv4){x[0], x[1], x[2], x[3]};
    } else {
        memcpy(v, (const double *)Q + i, sizeof *v);
    }
}
KALMAN_INLINE void q_store4(void *Q, size_t i, const kv4 *v, int f32) {
    if (!f32) {
        memcpy((double *)Q + i, v, sizeof *v);
        return;
    }
    const kf4 x = __builtin_convertvector(*v, kf4);
    memcpy((float *)Q + i, &x, sizeof x);
}

/* Rows [r0, r1) of the packed symmetric Q (n × n). With apply, first the pending rank-1 update
 *     v = Q[r][c] − β u[r] u[c] ;  Q[r][c] ← v           (else v = Q[r][c], Q is only read)
 * (for f32 the stored entry is v rounded to float), then the mat-vec with the new entry,
 * accumulated into y:
 *     y[r] += Σ_{c ≥ r} v h[c]  (the row: upper part) ;  y[c] += v h[r] for c > r (its mirror)
 * and the diagonal entry v at c = r is written to dg[r].
 * Rows go in blocks of RB (KALMAN_ROW_BLOCK, or _F32) starting at r0; each row's dot product is
 * kept in KV_LANES partial sums indexed by the column. The grouping of every sum depends only on
 * (n, r0, r1), so the result is reproducible.
 * float32: the vector body (off-diagonal entries, columns past each row block's small triangle)
 * feeds the mat-vec the updated entry before it is rounded for storage; the scalar parts (the
 * triangles, with every diagonal entry, and the last columns) feed it the stored, rounded one.
 * The two differ by at most 2^-24 relative, the precision P is stored in. Widening the rounded
 * entries back to double cost a third of the body's conversions, and the conversions, not the
 * halved memory traffic, bounded the float32 sweep (issue #10). */
KALMAN_INLINE void sweep_core(size_t n, void *restrict Q, size_t q0, const double *restrict u,
                              double beta, const double *restrict h, double *restrict y,
                              double *restrict dg, size_t r0, size_t r1, int apply, int f32,
                              size_t RB) {
    enum { RBMAX = KALMAN_ROW_BLOCK_F32 };
    size_t q = row_start(n, r0) - q0; /* index of the first entry of row r */
    size_t r = r0;
    for (; r + RB <= r1; r += RB) {
        /* Q[r+i][c] is entry qi[i] + c: row starts shifted by their first column (unsigned
         * arithmetic wraps, so qi[i] + c is right even when a stored slice starts at row r) */
        size_t qi[RBMAX];
        double br[RBMAX], hr[RBMAX], acc[RBMAX];
        kv4 a[RBMAX], nbv[RBMAX], hrv[RBMAX]; /* (the last two: splats for the float32 body) */
        size_t next = q;
#pragma GCC unroll 8
        for (size_t i = 0; i < RB; i++) {
            qi[i] = next - (r + i);
            next += n - r - i;
            br[i] = apply ? beta * u[r + i] : 0.0;
            hr[i] = h[r + i];
            acc[i] = 0.0;
            a[i] = (kv4){0.0, 0.0, 0.0, 0.0};
            nbv[i] = (kv4){-br[i], -br[i], -br[i], -br[i]};
            hrv[i] = (kv4){hr[i], hr[i], hr[i], hr[i]};
        }
        /* the small triangle of columns r .. r+RB-1 */
#pragma GCC unroll 8
        for (size_t i = 0; i < RB; i++) {
            for (size_t c = r + i; c < r + RB; c++) {
                double v = q_load(Q, qi[i] + c, f32);
                if (apply) v = q_store(Q, qi[i] + c, v - br[i] * u[c], f32);
                acc[i] += v * h[c];
                if (c > r + i)
                    y[c] += v * hr[i];
                else
                    dg[c] = v;
            }
        }
        size_t c = r + RB;
        for (; c + KV_LANES <= n; c += KV_LANES) {
            kv4 uc, hc, yc;
            KV_LOAD(hc, h + c);
            KV_LOAD(yc, y + c);
            if (apply) KV_LOAD(uc, u + c);
#pragma GCC unroll 8
            for (size_t i = 0; i < RB; i++) {
                kv4 v;
                q_load4(&v, Q, qi[i] + c, f32);
                if (f32) { /* fused (see KV_FMA) */
                    if (apply) {
                        KV_FMA(v, nbv[i], uc, v);
                        q_store4(Q, qi[i] + c, &v, f32);
                    }
                    KV_FMA(a[i], v, hc, a[i]);
                    KV_FMA(yc, v, hrv[i], yc);
                } else {
                    if (apply) {
                        v = v - br[i] * uc;
                        q_store4(Q, qi[i] + c, &v, f32);
                    }
                    a[i] += v * hc;
                    yc += v * hr[i];
                }
            }
            KV_STORE(y + c, yc);
        }
        for (; c < n; c++) {
#pragma GCC unroll 8
            for (size_t i = 0; i < RB; i++) {
                double v = q_load(Q, qi[i] + c, f32);
                if (apply) v = q_store(Q, qi[i] + c, v - br[i] * u[c], f32);
                acc[i] += v * h[c];
                y[c] += v * hr[i];
            }
        }
#pragma GCC unroll 8
        for (size_t i = 0; i < RB; i++)
            y[r + i] += acc[i] + ((a[i][0] + a[i][1]) + (a[i][2] + a[i][3]));
        q = next;
    }
    /* the last rows of the range, fewer than a block: one at a time */
    for (; r < r1; q += n - r, r++) {
        const double b = apply ? beta * u[r] : 0.0, hr0 = h[r];
        double s = 0.0;
        for (size_t c = r; c < n; c++) {
            double v = q_load(Q, q + c - r, f32);
            if (apply) v = q_store(Q, q + c - r, v - b * u[c], f32);
            s += v * h[c];
            if (c > r)
                y[c] += v * hr0;
            else
                dg[r] = v;
        }
        y[r] += s;
    }
}

/* The rank-1 update alone (unfused kernel): Q[r][c] ← Q[r][c] − β u[r] u[c] for c ≥ r. */
KALMAN_INLINE void spr_core(size_t n, void *restrict Q, size_t q0, const double *restrict u,
                            double beta, size_t r0, size_t r1, int f32) {
    size_t q = row_start(n, r0) - q0;
    for (size_t r = r0; r < r1; q += n - r, r++) {
        const size_t len = n - r;
        const double *restrict uu = u + r;
        const double br = beta * uu[0];
        /* explicit vectors: GCC -O2 does not vectorise this loop (nor, for float storage, the
         * conversions); element-wise, so the result is that of the scalar loop */
        size_t j = 0;
        for (; j + KV_LANES <= len; j += KV_LANES) {
            kv4 v, uv;
            q_load4(&v, Q, q + j, f32);
            KV_LOAD(uv, uu + j);
            v = v - br * uv;
            q_store4(Q, q + j, &v, f32);
        }
        for (; j < len; j++)
            q_store(Q, q + j, q_load(Q, q + j, f32) - br * uu[j], f32);
    }
}

/* The kernels, each compiled for double (_d) and float (_f) storage: the fused sweep (pending
 * rank-1 update and mat-vec in one read and one write of Q), the mat-vec alone (first update, or
 * the unfused kernel: one read of Q) and the rank-1 update alone. */
KALMAN_CLONES static void fused_rows_d(size_t n, void *restrict Q, size_t q0,
                                       const double *restrict u, double beta,
                                       const double *restrict h, double *restrict y,
                                       double *restrict dg, size_t r0, size_t r1) {
    sweep_core(n, Q, q0, u, beta, h, y, dg, r0, r1, 1, 0, KALMAN_ROW_BLOCK);
}
/* (RB is a constant in every expansion of sweep_core, so its row loops are unrolled) */
#define KALMAN_F32_LONG(n) ((n) > KALMAN_CHUNK_ENTRIES / KALMAN_CHUNK_MIN_ROWS)
KALMAN_CLONES static void fused_rows_f(size_t n, void *restrict Q, size_t q0,
                                       const double *restrict u, double beta,
                                       const double *restrict h, double *restrict y,
                                       double *restrict dg, size_t r0, size_t r1) {
    if (KALMAN_F32_LONG(n))
        sweep_core(n, Q, q0, u, beta, h, y, dg, r0, r1, 1, 1, KALMAN_ROW_BLOCK_F32);
    else
        sweep_core(n, Q, q0, u, beta, h, y, dg, r0, r1, 1, 1, KALMAN_ROW_BLOCK);
}
KALMAN_CLONES static void spmv_rows_d(size_t n, void *restrict Q, size_t q0,
                                      const double *restrict h, double *restrict y,
                                      double *restrict dg, size_t r0, size_t r1) {
    sweep_core(n, Q, q0, NULL, 0.0, h, y, dg, r0, r1, 0, 0, KALMAN_ROW_BLOCK);
}
KALMAN_CLONES static void spmv_rows_f(size_t n, void *restrict Q, size_t q0,
                                      const double *restrict h, double *restrict y,
                                      double *restrict dg, size_t r0, size_t r1) {
    if (KALMAN_F32_LONG(n))
        sweep_core(n, Q, q0, NULL, 0.0, h, y, dg, r0, r1, 0, 1, KALMAN_ROW_BLOCK_F32);
    else
        sweep_core(n, Q, q0, NULL, 0.0, h, y, dg, r0, r1, 0, 1, KALMAN_ROW_BLOCK);
}
KALMAN_CLONES static void spr_rows_d(size_t n, void *restrict Q, size_t q0,
                                     const double *restrict u, double beta, size_t r0, size_t r1) {
    spr_core(n, Q, q0, u, beta, r0, r1, 0);
}
KALMAN_CLONES static void spr_rows_f(size_t n, void *restrict Q, size_t q0,
                                     const double *restrict u, double beta, size_t r0, size_t r1) {
    spr_core(n, Q, q0, u, beta, r0, r1, 1);
}

static void fused_rows(int f32, size_t n, void *Q, size_t q0, const double *u, double beta,
                       const double *h, double *y, double *dg, size_t r0, size_t r1) {
    (f32 ? fused_rows_f : fused_rows_d)(n, Q, q0, u, beta, h, y, dg, r0, r1);
}
static void spmv_rows(int f32, size_t n, void *Q, size_t q0, const double *h, double *y, double *dg,
                      size_t r0, size_t r1) {
    (f32 ? spmv_rows_f : spmv_rows_d)(n, Q, q0, h, y, dg, r0, r1);
}
static void spr_rows(int f32, size_t n, void *Q, size_t q0, const double *u, double beta, size_t r0,
                     size_t r1) {
    (f32 ? spr_rows_f : spr_rows_d)(n, Q, q0, u, beta, r0, r1);
}

/* The triangle of block b, whichever its precision. */
static void *tri_of(const kstate *S, const kblock *b) {
    return S->f32 ? (void *)b->Q.f : (void *)b->Q.d;
}

/* One work item: rows [r0, r1) of block b, accumulated into the piece's own partial vector
 * (it touches y[c] only for c ≥ r0), the new diagonal of these rows written to k. With a pending
 * update the fused kernel applies it in the same sweep; the unfused kernel applies it in a
 * separate pass over the same rows first. */
static void sweep_item(const kstate *S, const kblock *b, size_t piece, const double *h) {
    const size_t n = b->n, r0 = b->bounds[piece], r1 = b->bounds[piece + 1], q0 = b->q0;
    const int f32 = S->f32;
    void *Q = tri_of(S, b);
    const double *u = S->u + b->off;
    const double *hb = h + b->off;
    double *yp = b->part + (piece - b->plo) * n;
    double *dg = S->k + b->off;
    memset(yp + r0, 0, (n - r0) * sizeof *yp);
    if (!S->pending) {
        spmv_rows(f32, n, Q, q0, hb, yp, dg, r0, r1);
    } else if (S->kernel == KALMAN_KERNEL_FUSED &&
               n * KALMAN_CHUNK_MIN_ROWS > KALMAN_CHUNK_ENTRIES) {
        fused_rows(f32, n, Q, q0, u, b->beta, hb, yp, dg, r0, r1);
    } else if (S->kernel == KALMAN_KERNEL_FUSED) {
        /* short rows: rank-1 pass then mat-vec pass over chunks small enough that the second
         * pass finds the chunk in cache (memory traffic as the fused sweep: one read, one
         * write) */
        for (size_t c0 = r0; c0 < r1;) {
            size_t c1 = c0, entries = 0;
            while (c1 < r1 && entries < KALMAN_CHUNK_ENTRIES)
                entries += n - c1++;
            spr_rows(f32, n, Q, q0, u, b->beta, c0, c1);
            spmv_rows(f32, n, Q, q0, hb, yp, dg, c0, c1);
            c0 = c1;
        }
    } else {
        spr_rows(f32, n, Q, q0, u, b->beta, r0, r1);
        spmv_rows(f32, n, Q, q0, hb, yp, dg, r0, r1);
    }
}

/* Several ranks: the one all-gather of an update. Each rank contributes, in item order, k_i of
 * every block it holds whole, and the partial vector (from the piece's first row on) of every
 * piece it holds of a split block; then every rank completes k: a whole block's k_i is copied, a
 * split block's k_i = σ_i Σ_p part_p summed over its pieces in the fixed piece order, exactly
 * as the single-process sweep sums them. */
static void exchange_k(kstate *S) {
    size_t at = 0;
    for (size_t i = 0; i < S->nblocks; i++) {
        const kblock *b = &S->blk[i];
        if (b->plo == b->phi) continue;
        if (b->owner >= 0) {
            memcpy(S->sendbuf + at, S->k + b->off, b->n * sizeof(double));
            at += b->n;
            continue;
        }
        for (size_t q = b->plo; q < b->phi; q++) {
            const size_t r0 = b->bounds[q];
            memcpy(S->sendbuf + at, b->part + (q - b->plo) * b->n + r0,
                   (b->n - r0) * sizeof(double));
            at += b->n - r0;
        }
    }
    RK_ASSERT(at * sizeof(double) == S->counts[S->me]);
    par_allgatherv(S->sendbuf, S->recvbuf, S->counts, S->displs);
    for (size_t i = 0; i < S->nblocks; i++) {
        const kblock *b = &S->blk[i];
        double *k = S->k + b->off;
        if (b->owner == S->me) continue;
        if (b->owner >= 0) {
            memcpy(k, S->recvbuf + b->src[0], b->n * sizeof(double));
            continue;
        }
        for (size_t c = 0; c < b->n; c++) {
            double s = 0.0;
            for (size_t p = 0; p < b->pieces && b->bounds[p] <= c; p++)
                s += S->recvbuf[b->src[p] + (c - b->bounds[p])];
            k[c] = b->sigma * s;
        }
    }
}

/* k_i = σ_i Q_i h_i for every block, Q_i first receiving the pending update; the diagonal of
 * every owned row of Q_i (as now stored) left in u. */
static void sweep_all(kstate *S, const double *h) {
    if (S->kernel == KALMAN_KERNEL_BLAS && !S->f32 && S->R == 1) {
        for (size_t i = 0; i < S->nblocks; i++) {
            kblock *b = &S->blk[i];
            double *u = S->u + b->off;
            /* Q ← Q − β u uᵀ */
            if (S->pending) blas_spr(b->n, -b->beta, u, b->Q.d);
            /* u, no longer needed, receives the diagonal */
            for (size_t r = 0; r < b->n; r++)
                u[r] = b->Q.d[row_start(b->n, r)];
            /* k = σ Q h */
            blas_spmv(b->n, b->sigma, b->Q.d, h + b->off, 0.0, S->k + b->off);
        }
        return;
    }
#pragma omp parallel if (S->packed_entries >= KALMAN_PAR_MIN_ENTRIES)
    {
        /* pieces of all blocks, largest first, to whichever thread is free */
#pragma omp for schedule(dynamic, 1)
        for (size_t it = 0; it < S->nitems; it++)
            sweep_item(S, &S->blk[S->items[it].block], S->items[it].piece, h);
        /* k[c] = σ · Σ_p part[p][c] over the pieces that reached c, in the fixed order p; the
         * diagonal the pieces left in k moves to u (the sweep was u's last use). A block split
         * over ranks only moves its rows' diagonal here (exchange_k sums its pieces). */
        for (size_t i = 0; i < S->nblocks; i++) {
            const kblock *b = &S->blk[i];
            double *k = S->k + b->off, *u = S->u + b->off;
            if (b->owner < 0) {
#pragma omp for schedule(static) nowait
                for (size_t c = b->rlo; c < b->rhi; c++)
                    u[c] = k[c];
                continue;
            }
            if (b->owner != S->me) continue;
#pragma omp for schedule(static) nowait
            for (size_t c = 0; c < b->n; c++) {
                double s = 0.0;
                for (size_t p = 0; p < b->pieces && b->bounds[p] <= c; p++)
                    s += b->part[p * b->n + c];
                u[c] = k[c];
                k[c] = b->sigma * s;
            }
        }
    }
    if (S->R > 1) exchange_k(S);
}

/* The guard's verdict: diagonal entry r of block i of P, prr, is not a positive finite number. */
static rk_status diagonal_diverged(const kstate *S, size_t i, size_t r, double prr) {
    const kblock *b = &S->blk[i];
    return err_set(RK_EDIVERGED,
                   "%s: update %zu: block %zu (weights %zu-%zu): covariance diagonal P[%zu][%zu] = "
                   "%g is not a positive finite number",
                   S->name, S->updates + 1, i, b->off, b->off + b->n - 1, r, r, prr);
}

/* Fold σ (and the pending update) into this rank's rows of block i: Q ← σ·(Q − β u uᵀ), σ ← 1.
 * P is unchanged, unless it exceeds the storage range (float32: 3.4e38), which the guard reports
 * as for an update: returns the first row whose diagonal is not positive and finite once folded
 * (its value in *prr), or n when there is none. */
static size_t renormalise(kstate *S, size_t i, double *prr) {
    kblock *b = &S->blk[i];
    const double *u = S->u + b->off;
    const double beta = S->pending ? b->beta : 0.0;
    void *Q = tri_of(S, b);
    size_t q = 0, bad = b->n;
    for (size_t r = b->rlo; r < b->rhi; r++) {
        for (size_t c = r; c < b->n; c++)
            q_store(Q, q + c - r, b->sigma * (q_load(Q, q + c - r, S->f32) - beta * u[r] * u[c]),
                    S->f32);
        const double d = q_load(Q, q, S->f32);
        if (bad == b->n && (!(d > 0.0) || !isfinite(d))) {
            bad = r;
            *prr = d;
        }
        q += b->n - r;
    }
    b->sigma = 1.0;
    b->beta = 0.0; /* folded in: the next sweep applies a zero update */
    return bad;
}

/* The guard over all ranks: every rank passes the first weight index (off_i + r) whose new
 * diagonal failed on it, or N, and that entry's value; all ranks return the same verdict, for
 * the first failing entry in parameter order (the single-process one). */
static rk_status guard_verdict(const kstate *S, size_t bad, double prr) {
    if (S->R > 1) {
        const double first = par_min((double)bad);
        double v = bad == (size_t)first && bad < S->N ? prr : 0.0;
        par_sum_ordered(&v, 1); /* only the owner of the entry contributes */
        bad = (size_t)first;
        prr = v;
    }
    if (bad >= S->N) return RK_OK;
    size_t i = 0;
    while (S->blk[i].off + S->blk[i].n <= bad)
        i++;
    return diagonal_diverged(S, i, bad - S->blk[i].off, prr);
}

rk_status kalman_step(void *state, double *w, const optim_signal *sig) {
    kstate *S = state;
    RK_ASSERT(S && w && sig && sig->h);
    const double *h = sig->h;
    const double e = sig->e;
    if (!isfinite(e))
        return err_set(RK_EDIVERGED, "%s: update %zu: error e = %g is not finite", S->name,
                       S->updates + 1, e);

    /* σ_i is the same on every rank, so every rank renormalises the same blocks */
    const double sigma_max = S->f32 ? KALMAN_SIGMA_MAX_F32 : KALMAN_SIGMA_MAX;
    size_t bad = S->N;
    double prr = 0.0;
    int folded = 0;
    for (size_t i = 0; i < S->nblocks; i++) {
        if (!(S->blk[i].sigma > sigma_max)) continue;
        folded = 1;
        double v = 0.0;
        const size_t r = renormalise(S, i, &v);
        if (r < S->blk[i].n && bad == S->N) {
            bad = S->blk[i].off + r;
            prr = v;
        }
    }
    if (folded) {
        rk_status st = guard_verdict(S, bad, prr);
        if (st) return st;
    }
    /* k_i = σ_i Q_i h_i (Q_i first receives the pending update) */
    sweep_all(S, h);
    S->pending = 0;
    /* Σ_i h_iᵀ k_i, in index order (every rank holds all of k: the same sum on every rank) */
    double hk = 0.0;
    for (size_t j = 0; j < S->N; j++)
        hk += h[j] * S->k[j];

    /* A = 1 / (L·λ + Σ h_iᵀ k_i), or λ instead of L·λ for measurement_noise "single" */
    const double noise = S->single ? S->lambda : (double)S->nblocks * S->lambda;
    const double denom = noise + hk;
    if (!isfinite(denom) || denom <= 0.0)
        return err_set(RK_EDIVERGED,
                       "%s: update %zu: innovation variance %g is not a positive finite number",
                       S->name, S->updates + 1, denom);
    const double A = 1.0 / denom;

    /* Guard: the diagonal after this update, P_rr = (σ_i/λ)·(Q_rr − (A/σ_i · k_r) k_r), computed
     * as the next sweep will store it (u holds the Q_rr this sweep left), must be positive and
     * finite; each rank checks its rows. */
    for (size_t i = 0; i < S->nblocks && bad == S->N; i++) {
        const kblock *b = &S->blk[i];
        const double beta = A / b->sigma, sigma = b->sigma / S->lambda;
        const double *d = S->u + b->off, *k = S->k + b->off;
        for (size_t r = b->rlo; r < b->rhi; r++) {
            double q = d[r] - beta * k[r] * k[r];
            if (S->f32) q = (double)(float)q;
            const double v = sigma * q;
            if (!(v > 0.0) || !isfinite(v)) {
                bad = b->off + r;
                prr = v;
                break;
            }
        }
    }
    rk_status st = guard_verdict(S, bad, prr);
    if (st) return st;

    /* w_i ← w_i + A·e·k_i (the blocks tile w; every rank updates all of w identically) */
    const double Ae = A * e;
    for (size_t j = 0; j < S->N; j++)
        w[j] += Ae * S->k[j];

    /* P_i ← (P_i − A k_i k_iᵀ)/λ  as  Q_i ← Q_i − (A/σ_i) k_i k_iᵀ (pending), σ_i ← σ_i/λ */
    for (size_t i = 0; i < S->nblocks; i++) {
        kblock *b = &S->blk[i];
        b->beta = A / b->sigma;
        b->sigma /= S->lambda;
    }
    double *t = S->u;
    S->u = S->k;
    S->k = t;
    S->pending = 1;

    /* λ ← ν·λ + 1 − ν */
    S->lambda = S->nu * S->lambda + 1.0 - S->nu;
    S->updates++;
    return RK_OK;
}

void kalman_report(const void *state, optim_report_t *r) {
    const kstate *S = state;
    r->lambda = S->lambda;
    r->lr = NAN;
    r->pref_e = NAN;
    r->pref_f = NAN;
    r->n_blocks = S->nblocks;
    r->updates = S->updates;
    r->state_bytes = S->bytes;
}

int kalman_split_of(const optim_type *t) {
    return t->init == kalman_init ? (int)mode_of(t) : -1;
}

int kalman_describe(const optim_type *t, const optim_params *p, const layout_t *L, char *buf,
                    size_t cap) {
    if (kalman_split_of(t) < 0) return 0;
    const kalman_split mode = mode_of(t);
    kstats st;
    split_walk(L, mode, block_size_of(p, mode), NULL, &st);
    if (st.count == 1)
        snprintf(buf, cap, "1 block of %zu", st.max);
    else
        snprintf(buf, cap, "%zu blocks, largest %zu", st.count, st.max);
    return 1;
}

/* ------------------------------------------------------------------ checkpoints ---------- */

/* Scalars: λ, updates, pending, nblocks, then σ_i and β_i of every block. The pending rank-1
 * update (β_i, u) of the last step is part of the state: without it the next step would start
 * from a Q that lacks the last update. k is scratch (rewritten by every sweep). */
enum { KSC_LAMBDA, KSC_UPDATES, KSC_PENDING, KSC_NBLOCKS, KSC_HEAD };

size_t kalman_state_arrays(void *state, optim_array *a) {
    kstate *S = state;
    /* Q: this rank's stretch of the single-process packed array (all of it on one rank) */
    a[0] = (optim_array){"Q", S->f32 ? OPTIM_ARRAY_F32 : OPTIM_ARRAY_F64, S->Qmem,
                         S->packed_entries, S->R > 1, S->packed_before};
    a[1] = (optim_array){"u", OPTIM_ARRAY_F64, S->u, S->N, 0, 0};
    return 2;
}

size_t kalman_get_scalars(const void *state, double *s) {
    const kstate *S = state;
    const size_t n = KSC_HEAD + 2 * S->nblocks;
    if (!s) return n;
    s[KSC_LAMBDA] = S->lambda;
    s[KSC_UPDATES] = (double)S->updates;
    s[KSC_PENDING] = S->pending;
    s[KSC_NBLOCKS] = (double)S->nblocks;
    for (size_t i = 0; i < S->nblocks; i++) {
        s[KSC_HEAD + i] = S->blk[i].sigma;
        s[KSC_HEAD + S->nblocks + i] = S->blk[i].beta;
    }
    return n;
}

rk_status kalman_set_scalars(void *state, const double *s, size_t n) {
    kstate *S = state;
    if (n != KSC_HEAD + 2 * S->nblocks || s[KSC_NBLOCKS] != (double)S->nblocks)
        return err_set(RK_EINPUT, "%s: checkpoint state has %zu scalars, this configuration "
                                  "(%zu blocks) needs %zu", S->name, n, S->nblocks,
                       KSC_HEAD + 2 * S->nblocks);
    if (!(s[KSC_LAMBDA] > 0.0 && s[KSC_LAMBDA] <= 1.0) || s[KSC_UPDATES] < 0.0)
        return err_set(RK_EINPUT, "%s: checkpoint state: lambda %g or updates %g out of range",
                       S->name, s[KSC_LAMBDA], s[KSC_UPDATES]);
    S->lambda = s[KSC_LAMBDA];
    S->updates = (size_t)s[KSC_UPDATES];
    S->pending = s[KSC_PENDING] != 0.0;
    for (size_t i = 0; i < S->nblocks; i++) {
        S->blk[i].sigma = s[KSC_HEAD + i];
        S->blk[i].beta = s[KSC_HEAD + S->nblocks + i];
    }
    return RK_OK;
}

/* The state of an optimizer that must be of a Kalman type. */
static kstate *state_of(const optim_t *o) {
    RK_ASSERT(kalman_split_of(optim_type_of(o)) >= 0);
    return optim_state(o);
}

void kalman_set_kernel(optim_t *o, kalman_kernel k) {
    state_of(o)->kernel = k;
}

size_t kalman_block_count(const optim_t *o) {
    return state_of(o)->nblocks;
}

size_t kalman_packed_bytes(const optim_t *o) {
    const kstate *S = state_of(o);
    return S->packed_entries * entry_bytes(S->f32);
}

size_t kalman_block_dense(const optim_t *o, size_t i, double *P) {
    const kstate *S = state_of(o);
    RK_ASSERT(i < S->nblocks);
    const kblock *b = &S->blk[i];
    if (!P) return b->n;
    RK_ASSERT(b->rlo == 0 && b->rhi == b->n); /* the whole block is on this rank */
    /* P = σ·(Q − β u uᵀ), both triangles, Q − β u uᵀ rounded as the next sweep will store it */
    const double *u = S->u + b->off;
    const double beta = S->pending ? b->beta : 0.0;
    const void *Q = tri_of(S, b);
    size_t q = 0;
    for (size_t r = 0; r < b->n; r++) {
        for (size_t c = r; c < b->n; c++) {
            double e = q_load(Q, q + c - r, S->f32) - beta * u[r] * u[c];
            if (S->f32) e = (double)(float)e;
            const double v = b->sigma * e;
            P[r * b->n + c] = v;
            P[c * b->n + r] = v;
        }
        q += b->n - r;
    }
    return b->n;
}

void kalman_test_scale_entry(optim_t *o, size_t i, size_t r, size_t c, double f) {
    kstate *S = state_of(o);
    RK_ASSERT(i < S->nblocks);
    const kblock *b = &S->blk[i];
    RK_ASSERT(r < b->n && c < b->n);
    if (r > c) {
        size_t t = r;
        r = c;
        c = t;
    }
    RK_ASSERT(r >= b->rlo && r < b->rhi); /* a row of this rank */
    const size_t at = row_start(b->n, r) - b->q0 + c - r;
    q_store(tri_of(S, b), at, f * q_load(tri_of(S, b), at, S->f32), S->f32);
}
