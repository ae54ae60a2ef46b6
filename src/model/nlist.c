/* nlist: neighbour lists with periodic images for any triclinic cell (SPEC §2 "Neighbours").
 *
 * Pairs of centre i: every (j, S), S an integer lattice shift, (j, S) != (i, 0), with
 *     d = r_j + S_a a + S_b b + S_c c - r_i,    0 < |d| < rcut   (strict on both sides).
 *
 * Method. Fractional coordinates f = r B^-1 (B has rows a, b, c). Column k of B^-1 is the
 * reciprocal vector g_k = (cross of the other two rows) / det B, and |g_k| = 1 / width_k, where
 * width_k = |det B| / |cross of the other two rows| is the distance between the cell faces
 * perpendicular to g_k. Each atom is wrapped, f' = f - w with w = floor(f) integer, and put in
 * a bin of an nb_0 x nb_1 x nb_2 grid over the fractional unit cube, nb_k <= width_k / rcut, so
 * every bin is at least rcut thick between opposite faces. A displacement shorter than rcut
 * changes f_k by less than rcut / width_k, i.e. by at most m_k = ceil(rcut nb_k / width_k) bins
 * (m_k = 1 for big cells, m_k = ceil(rcut / width_k) for cells thinner than rcut). The bin grid
 * is continued periodically: bin index b + o (o in [-m, m]^3) is bin (b + o) mod nb of the image
 * T = floor((b + o) / nb) of the wrapped atoms, and each (atom, image) is met exactly once, so
 * even cells much thinner than rcut need no special case. The cost is linear in the atoms.
 *
 * Candidates are screened in wrapped coordinates; the reported d is recomputed from the ORIGINAL
 * coordinates with S = T + w_i - w_j, so the pair set and the d values do not depend on whether
 * the input was wrapped. Order inside a centre is the scan order (bin offset, then atom index
 * inside the bin), deterministic for identical input.
 */
#include "nlist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* |det B| below this (Å^3) is a singular cell: no real structure has a volume that small. */
#define NLIST_DET_MIN 1e-10
/* Bins are made thicker than rcut by this relative slack, and candidates are screened with
 * rcut (1 + slack) in wrapped coordinates. Wrapping changes coordinates by rounding only
 * (~1e-16 relative), so 1e-6 leaves a wide margin while costing nothing measurable. */
#define NLIST_SLACK 1e-6
/* At most this many bins per atom (plus one): keeps memory linear in atoms for cells that are
 * mostly vacuum, where bins of side rcut would vastly outnumber the atoms. */
#define NLIST_BINS_PER_ATOM 4.0
/* Largest number of bin offsets scanned per centre. A cell needs (2 ceil(rcut/width)+1)^3 when
 * thinner than rcut; above this the cell is a flattened, nonsensical input (a width under
 * ~rcut/60), not a structure, and scanning would take hours. */
#define NLIST_MAX_OFFSETS 2097152.0
/* Fractional coordinates beyond this many cells from the origin are rejected: the integer
 * shifts must stay exact and the wrapped coordinates accurate. */
#define NLIST_FRAC_MAX 1e9
/* First allocation of the pair arrays: a typical condensed-phase count per atom at rcut 6 Å. */
#define NLIST_PAIRS_PER_ATOM_GUESS 64

/* Views into nl->work for one build; every element is 8 bytes, so no alignment padding. */
typedef struct {
    double *rw;     /* (natoms, 3) wrapped Cartesian positions r - w B */
    int64_t *w;     /* (natoms, 3) integer wrap shift: r = rw + w B */
    size_t *abin;   /* (natoms) flat bin index of each atom */
    double *spos;   /* (natoms, 3) wrapped positions in bin order */
    size_t *sidx;   /* (natoms) atom index in bin order */
    size_t *bstart; /* (nbins + 1) bin b holds sidx[bstart[b] .. bstart[b+1]) */
} nlist_views;

static size_t work_bytes(size_t natoms, size_t nbins) {
    return natoms * (3 * sizeof(double) + 3 * sizeof(int64_t) + sizeof(size_t) +
                     3 * sizeof(double) + sizeof(size_t)) +
           (nbins + 1) * sizeof(size_t);
}

static nlist_views work_views(void *work, size_t natoms) {
    nlist_views v;
    char *p = work;
    v.rw = (double *)p;
    p += natoms * 3 * sizeof(double);
    v.w = (int64_t *)p;
    p += natoms * 3 * sizeof(int64_t);
    v.abin = (size_t *)p;
    p += natoms * sizeof(size_t);
    v.spos = (double *)p;
    p += natoms * 3 * sizeof(double);
    v.sidx = (size_t *)p;
    p += natoms * sizeof(size_t);
    v.bstart = (size_t *)p;
    return v;
}

/* Grow *buf to hold n elements of size elem; *cap counts elements. */
static rk_status grow(void **buf, size_t *cap, size_t n, size_t elem, const char *what) {
    if (n <= *cap && *buf) return RK_OK;
    size_t want = *cap ? *cap : 1;
    while (want < n)
        want *= 2;
    void *p = realloc(*buf, want * elem);
    if (!p)
        return err_set(RK_ENOMEM, "neighbour list: cannot allocate %zu bytes for %s", want * elem,
                       what);
    *buf = p;
    *cap = want;
    return RK_OK;
}

void nlist_init(nlist_t *nl) {
    memset(nl, 0, sizeof *nl);
}

void nlist_free(nlist_t *nl) {
    free(nl->start);
    free(nl->j);
    free(nl->d);
    free(nl->work);
    nlist_init(nl);
}

static void cross(const double *u, const double *v, double *out) {
    out[0] = u[1] * v[2] - u[2] * v[1];
    out[1] = u[2] * v[0] - u[0] * v[2];
    out[2] = u[0] * v[1] - u[1] * v[0];
}

/* Integer floor division (n > 0). */
static int64_t floordiv(int64_t x, int64_t n) {
    int64_t q = x / n;
    return (x % n != 0 && x < 0) ? q - 1 : q;
}

/* Make sure the pair arrays hold at least n pairs (j and d grow together). */
static rk_status reserve_pairs(nlist_t *nl, size_t n) {
    if (n <= nl->cap_pairs && nl->j && nl->d) return RK_OK;
    size_t cap_j = nl->cap_pairs, cap_d = nl->cap_pairs;
    rk_status st = grow((void **)&nl->j, &cap_j, n, sizeof(int32_t), "neighbour indices");
    if (st != RK_OK) return st;
    st = grow((void **)&nl->d, &cap_d, n, 3 * sizeof(double), "neighbour vectors");
    if (st != RK_OK) return st;
    RK_ASSERT(cap_j == cap_d);
    nl->cap_pairs = cap_j;
    return RK_OK;
}

rk_status nlist_build(nlist_t *nl, size_t natoms, const double *coord, const double *box,
                      double rcut) {
    nl->natoms = 0;
    nl->npairs = 0;
    if (!(rcut > 0.0) || !isfinite(rcut))
        return err_set(RK_EINPUT, "neighbour list: rcut = %g (want a positive finite length)",
                       rcut);
    if (natoms > (size_t)INT32_MAX)
        return err_set(RK_EINPUT, "neighbour list: %zu atoms (at most %d supported)", natoms,
                       (int)INT32_MAX);
    const double *A = box, *B = box + 3, *C = box + 6;
    double g[3][3]; /* g[k] = det * reciprocal vector k */
    cross(B, C, g[0]);
    cross(C, A, g[1]);
    cross(A, B, g[2]);
    double det = A[0] * g[0][0] + A[1] * g[0][1] + A[2] * g[0][2];
    if (!(fabs(det) >= NLIST_DET_MIN) || !isfinite(det))
        return err_set(RK_EINPUT, "neighbour list: singular cell (det = %g)", det);

    /* width_k = |det| / |g_k|; bins per direction; bin offsets to scan per direction. */
    double width[3];
    size_t nb[3];
    int64_t m[3];
    double bins_limit = NLIST_BINS_PER_ATOM * (double)natoms + 1.0;
    for (int k = 0; k < 3; k++) {
        width[k] = fabs(det) / sqrt(g[k][0] * g[k][0] + g[k][1] * g[k][1] + g[k][2] * g[k][2]);
        double want = floor(width[k] / (rcut * (1.0 + NLIST_SLACK)));
        if (!(want >= 1.0)) want = 1.0;
        if (want > bins_limit) want = bins_limit;
        nb[k] = (size_t)want;
    }
    while ((double)nb[0] * (double)nb[1] * (double)nb[2] > bins_limit) {
        int kmax = 0;
        for (int k = 1; k < 3; k++)
            if (nb[k] > nb[kmax]) kmax = k;
        nb[kmax] = (nb[kmax] + 1) / 2;
    }
    double noffsets = 1.0;
    for (int k = 0; k < 3; k++) {
        double reach = ceil(rcut * (1.0 + NLIST_SLACK) * (double)nb[k] / width[k]);
        noffsets *= 2.0 * reach + 1.0;
        if (noffsets > NLIST_MAX_OFFSETS)
            return err_set(RK_EINPUT,
                           "neighbour list: cell too thin for rcut %g Å (widths %g, %g, %g Å)",
                           rcut, width[0], width[1], width[2]);
        m[k] = (int64_t)reach;
    }
    size_t nbins = nb[0] * nb[1] * nb[2];

    /* Buffers: grown on demand, kept across calls. */
    rk_status st =
        grow((void **)&nl->start, &nl->cap_atoms, natoms + 1, sizeof(size_t), "pair offsets");
    if (st != RK_OK) return st;
    size_t cap_bytes = nl->cap_work;
    st = grow(&nl->work, &cap_bytes, work_bytes(natoms, nbins), 1, "binning scratch");
    if (st != RK_OK) return st;
    nl->cap_work = cap_bytes;
    if (nl->cap_pairs == 0) {
        st = reserve_pairs(nl, (natoms ? natoms : 1) * NLIST_PAIRS_PER_ATOM_GUESS);
        if (st != RK_OK) return st;
    }
    nlist_views v = work_views(nl->work, natoms);

    /* Wrap and bin: f_k = r . g_k / det; w = floor(f); rw = r - w B. */
    memset(v.bstart, 0, (nbins + 1) * sizeof(size_t));
    for (size_t i = 0; i < natoms; i++) {
        const double *r = coord + 3 * i;
        size_t bk[3];
        for (int k = 0; k < 3; k++) {
            double f = (r[0] * g[k][0] + r[1] * g[k][1] + r[2] * g[k][2]) / det;
            if (!(fabs(f) < NLIST_FRAC_MAX))
                return err_set(RK_EINPUT,
                               "neighbour list: atom %zu: coordinate (%g, %g, %g) is not finite "
                               "or too far from the cell",
                               i, r[0], r[1], r[2]);
            double wf = floor(f);
            v.w[3 * i + k] = (int64_t)wf;
            /* f - wf is in [0, 1] (1 only by rounding): clamp to the last bin. */
            double b = floor((f - wf) * (double)nb[k]);
            bk[k] = b < 0.0 ? 0 : (b >= (double)nb[k] ? nb[k] - 1 : (size_t)b);
        }
        for (int x = 0; x < 3; x++)
            v.rw[3 * i + x] = r[x] - ((double)v.w[3 * i] * A[x] + (double)v.w[3 * i + 1] * B[x] +
                                      (double)v.w[3 * i + 2] * C[x]);
        v.abin[i] = (bk[0] * nb[1] + bk[1]) * nb[2] + bk[2];
        v.bstart[v.abin[i] + 1]++;
    }
    /* Counting sort by bin, stable in the atom index. */
    for (size_t b = 0; b < nbins; b++)
        v.bstart[b + 1] += v.bstart[b];
    for (size_t i = 0; i < natoms; i++) {
        size_t slot = v.bstart[v.abin[i]]++;
        v.sidx[slot] = i;
        memcpy(v.spos + 3 * slot, v.rw + 3 * i, 3 * sizeof(double));
    }
    /* bstart[b] now holds the end of bin b: shift back to starts. */
    for (size_t b = nbins; b > 0; b--)
        v.bstart[b] = v.bstart[b - 1];
    v.bstart[0] = 0;

    const double pre2 = (rcut * (1.0 + NLIST_SLACK)) * (rcut * (1.0 + NLIST_SLACK));
    size_t np = 0;
    for (size_t i = 0; i < natoms; i++) {
        nl->start[i] = np;
        const double *ri = coord + 3 * i, *rwi = v.rw + 3 * i;
        const int64_t *wi = v.w + 3 * i;
        int64_t bi[3];
        bi[2] = (int64_t)(v.abin[i] % nb[2]);
        bi[1] = (int64_t)((v.abin[i] / nb[2]) % nb[1]);
        bi[0] = (int64_t)(v.abin[i] / (nb[2] * nb[1]));
        for (int64_t oa = -m[0]; oa <= m[0]; oa++) {
            int64_t ta = floordiv(bi[0] + oa, (int64_t)nb[0]);
            size_t ba = (size_t)(bi[0] + oa - ta * (int64_t)nb[0]);
            for (int64_t ob = -m[1]; ob <= m[1]; ob++) {
                int64_t tb = floordiv(bi[1] + ob, (int64_t)nb[1]);
                size_t bb = (size_t)(bi[1] + ob - tb * (int64_t)nb[1]);
                for (int64_t oc = -m[2]; oc <= m[2]; oc++) {
                    int64_t tc = floordiv(bi[2] + oc, (int64_t)nb[2]);
                    size_t bc = (size_t)(bi[2] + oc - tc * (int64_t)nb[2]);
                    size_t bin = (ba * nb[1] + bb) * nb[2] + bc;
                    /* Image shift of this bin: T B, and the centre seen from it. */
                    double o[3];
                    for (int x = 0; x < 3; x++)
                        o[x] = (double)ta * A[x] + (double)tb * B[x] + (double)tc * C[x] - rwi[x];
                    for (size_t q = v.bstart[bin]; q < v.bstart[bin + 1]; q++) {
                        const double *p = v.spos + 3 * q;
                        double e0 = p[0] + o[0], e1 = p[1] + o[1], e2 = p[2] + o[2];
                        if (e0 * e0 + e1 * e1 + e2 * e2 >= pre2) continue;
                        /* Exact d from the original coordinates: S = T + w_i - w_j. */
                        size_t j = v.sidx[q];
                        const int64_t *wj = v.w + 3 * j;
                        double sa = (double)(ta + wi[0] - wj[0]);
                        double sb = (double)(tb + wi[1] - wj[1]);
                        double sc = (double)(tc + wi[2] - wj[2]);
                        const double *rj = coord + 3 * j;
                        double d[3];
                        for (int x = 0; x < 3; x++)
                            d[x] = rj[x] + (sa * A[x] + sb * B[x] + sc * C[x]) - ri[x];
                        double r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
                        if (!(r > 0.0 && r < rcut)) continue;
                        if (np == nl->cap_pairs) {
                            st = reserve_pairs(nl, np + 1);
                            if (st != RK_OK) return st;
                        }
                        nl->j[np] = (int32_t)j;
                        memcpy(nl->d + 3 * np, d, sizeof d);
                        np++;
                    }
                }
            }
        }
    }
    nl->start[natoms] = np;
    nl->natoms = natoms;
    nl->npairs = np;
    return RK_OK;
}

void nlist_count_types(const nlist_t *nl, const int32_t *type, size_t ntypes, size_t *counts) {
    memset(counts, 0, nl->natoms * ntypes * sizeof(size_t));
    for (size_t i = 0; i < nl->natoms; i++) {
        for (size_t p = nl->start[i]; p < nl->start[i + 1]; p++) {
            int32_t t = type[nl->j[p]];
            RK_ASSERT(t >= 0 && (size_t)t < ntypes);
            counts[i * ntypes + (size_t)t]++;
        }
    }
}
