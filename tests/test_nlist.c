/* Tests of the neighbour list (src/model/nlist.c) against an independent brute-force search over
 * all periodic images, plus known coordination numbers, and the `rlekf neighbor-stat` command.
 *
 * Pairs are compared as sets keyed by (i, j, integer lattice shift S): the shift of a reported
 * pair is recovered from d by solving d - (r_j - r_i) = S B in fractional coordinates, which also
 * checks that d is a true lattice displacement.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "h5io.h"
#include "model.h"
#include "nlist.h"
#include "rng.h"
#include "testutil.h"

/* d from nlist and from the brute force use the same formula r_j + S B - r_i; only the order of
 * rounding may differ, ~1e-15 relative on coordinates of a few tens of Å. */
#define D_TOL 1e-12
/* Recovered fractional shifts must be within this of an integer: anything larger means d is not
 * r_j - r_i plus a lattice vector (rounding alone gives ~1e-14). */
#define SHIFT_TOL 1e-8

typedef struct {
    size_t i, j;
    long s[3];
    double d[3];
} pair_rec;

typedef struct {
    pair_rec *p;
    size_t n, cap;
} pair_set;

static void ps_push(pair_set *ps, pair_rec r) {
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 1024;
        ps->p = realloc(ps->p, ps->cap * sizeof *ps->p);
        cr_assert_not_null(ps->p);
    }
    ps->p[ps->n++] = r;
}

static int pair_cmp(const void *a, const void *b) {
    const pair_rec *x = a, *y = b;
    if (x->i != y->i) return x->i < y->i ? -1 : 1;
    if (x->j != y->j) return x->j < y->j ? -1 : 1;
    for (int k = 0; k < 3; k++)
        if (x->s[k] != y->s[k]) return x->s[k] < y->s[k] ? -1 : 1;
    return 0;
}

static void cross3(const double *u, const double *v, double *o) {
    o[0] = u[1] * v[2] - u[2] * v[1];
    o[1] = u[2] * v[0] - u[0] * v[2];
    o[2] = u[0] * v[1] - u[1] * v[0];
}

static double dot3(const double *u, const double *v) {
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
}

/* Perpendicular widths of the cell (distance between opposite faces). */
static void cell_widths(const double *box, double *w) {
    double g[3][3];
    cross3(box + 3, box + 6, g[0]);
    cross3(box + 6, box, g[1]);
    cross3(box, box + 3, g[2]);
    double vol = fabs(dot3(box, g[0]));
    for (int k = 0; k < 3; k++)
        w[k] = vol / sqrt(dot3(g[k], g[k]));
}

/* Brute force for the listed centres: all j, all shifts with |S_k| <= ceil(rcut/width_k) + 1 +
 * extra (extra covers atoms placed up to that many cells apart by unwrapping). */
static pair_set brute(size_t natoms, const double *x, const double *box, double rcut,
                      const size_t *centres, size_t ncentres, long extra) {
    pair_set ps = {0};
    double w[3];
    cell_widths(box, w);
    long n[3];
    for (int k = 0; k < 3; k++)
        n[k] = (long)ceil(rcut / w[k]) + 1 + extra;
    for (size_t c = 0; c < ncentres; c++) {
        size_t i = centres[c];
        for (size_t j = 0; j < natoms; j++)
            for (long a = -n[0]; a <= n[0]; a++)
                for (long b = -n[1]; b <= n[1]; b++)
                    for (long cc = -n[2]; cc <= n[2]; cc++) {
                        if (j == i && a == 0 && b == 0 && cc == 0) continue;
                        pair_rec r = {i, j, {a, b, cc}, {0, 0, 0}};
                        for (int k = 0; k < 3; k++)
                            r.d[k] = x[3 * j + k] +
                                     ((double)a * box[k] + (double)b * box[3 + k] +
                                      (double)cc * box[6 + k]) -
                                     x[3 * i + k];
                        double rr = sqrt(dot3(r.d, r.d));
                        if (rr > 0.0 && rr < rcut) ps_push(&ps, r);
                    }
    }
    qsort(ps.p, ps.n, sizeof *ps.p, pair_cmp);
    return ps;
}

/* The pairs of nl for the listed centres, with the lattice shift recovered from d. */
static pair_set from_nlist(const nlist_t *nl, const double *x, const double *box,
                           const size_t *centres, size_t ncentres) {
    pair_set ps = {0};
    double g[3][3];
    cross3(box + 3, box + 6, g[0]);
    cross3(box + 6, box, g[1]);
    cross3(box, box + 3, g[2]);
    double det = dot3(box, g[0]);
    for (size_t c = 0; c < ncentres; c++) {
        size_t i = centres[c];
        for (size_t p = nl->start[i]; p < nl->start[i + 1]; p++) {
            pair_rec r = {i, (size_t)nl->j[p], {0, 0, 0}, {0, 0, 0}};
            double lat[3];
            for (int k = 0; k < 3; k++) {
                r.d[k] = nl->d[3 * p + k];
                lat[k] = r.d[k] - (x[3 * r.j + k] - x[3 * i + k]);
            }
            for (int k = 0; k < 3; k++) {
                double f = dot3(lat, g[k]) / det;
                r.s[k] = lround(f);
                cr_assert(fabs(f - (double)r.s[k]) < SHIFT_TOL,
                          "pair %zu-%zu: d is not a lattice displacement (frac shift %.12g)", i,
                          r.j, f);
            }
            ps_push(&ps, r);
        }
    }
    qsort(ps.p, ps.n, sizeof *ps.p, pair_cmp);
    return ps;
}

static void expect_same(const pair_set *got, const pair_set *want, const char *what) {
    cr_assert_eq(got->n, want->n, "%s: %zu pairs, brute force %zu", what, got->n, want->n);
    for (size_t k = 0; k < got->n; k++) {
        const pair_rec *a = got->p + k, *b = want->p + k;
        cr_assert(pair_cmp(a, b) == 0,
                  "%s: pair %zu is (%zu,%zu,[%ld %ld %ld]), brute force (%zu,%zu,[%ld %ld %ld])",
                  what, k, a->i, a->j, a->s[0], a->s[1], a->s[2], b->i, b->j, b->s[0], b->s[1],
                  b->s[2]);
        for (int c = 0; c < 3; c++)
            cr_assert(fabs(a->d[c] - b->d[c]) < D_TOL, "%s: pair %zu d[%d] %.17g vs %.17g", what, k,
                      c, a->d[c], b->d[c]);
    }
}

static int size_cmp(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Build the list and compare all centres (or the first ncheck of a seeded sample) with brute. */
static void check_against_brute(size_t natoms, const double *x, const double *box, double rcut,
                                size_t ncheck, long extra, rng_t *r, const char *what) {
    nlist_t nl;
    nlist_init(&nl);
    cr_assert_eq(nlist_build(&nl, natoms, x, box, rcut), RK_OK, "%s: %s", what, err_msg());
    cr_assert_eq(nl.natoms, natoms);
    cr_assert_eq(nl.start[natoms], nl.npairs);
    size_t *centres = malloc(natoms * sizeof *centres);
    for (size_t i = 0; i < natoms; i++)
        centres[i] = i;
    if (ncheck < natoms) {
        rng_shuffle(r, centres, natoms);
        qsort(centres, ncheck, sizeof *centres, size_cmp);
    } else {
        ncheck = natoms;
    }
    pair_set got = from_nlist(&nl, x, box, centres, ncheck);
    pair_set want = brute(natoms, x, box, rcut, centres, ncheck, extra);
    expect_same(&got, &want, what);
    free(got.p);
    free(want.p);
    free(centres);
    nlist_free(&nl);
}

/* Random cell: rows L_k e_k plus a random tilt of up to `tilt` L_k in every component, so the
 * cell is triclinic and not aligned with the axes. */
static void random_cell(rng_t *r, const double *len, double tilt, double *box) {
    for (int a = 0; a < 3; a++)
        for (int k = 0; k < 3; k++)
            box[3 * a + k] = (a == k ? len[a] : 0.0) + tilt * len[a] * (2 * rng_uniform(r) - 1);
}

/* Random positions: fractional coordinates in [0, 1) mapped through the cell. */
static void random_atoms(rng_t *r, size_t n, const double *box, double *x) {
    for (size_t i = 0; i < n; i++) {
        double f[3] = {rng_uniform(r), rng_uniform(r), rng_uniform(r)};
        for (int k = 0; k < 3; k++)
            x[3 * i + k] = f[0] * box[k] + f[1] * box[3 + k] + f[2] * box[6 + k];
    }
}

/* Move every atom by a random integer lattice vector in [-UNWRAP_MAX, UNWRAP_MAX]^3. */
#define UNWRAP_MAX 3
static void unwrap_randomly(rng_t *r, size_t n, const double *box, double *x) {
    for (size_t i = 0; i < n; i++) {
        long s[3];
        for (int k = 0; k < 3; k++)
            s[k] = (long)rng_below(r, 2 * UNWRAP_MAX + 1) - UNWRAP_MAX;
        for (int k = 0; k < 3; k++)
            x[3 * i + k] +=
                (double)s[0] * box[k] + (double)s[1] * box[3 + k] + (double)s[2] * box[6 + k];
    }
}

Test(nlist, small_skewed_cells_thinner_than_rcut) {
    rng_t r;
    rng_stream(&r, "nlist-small", 1, RNG_TEST);
    const double len[3] = {3.0, 3.5, 4.0}, rcut = 6.0;
    for (int trial = 0; trial < 20; trial++) {
        double box[9], x[9], w[3];
        random_cell(&r, len, 0.3, box);
        cell_widths(box, w);
        cr_assert(w[0] < rcut && w[1] < rcut && w[2] < rcut, "cell should be thinner than rcut");
        random_atoms(&r, 3, box, x);
        check_against_brute(3, x, box, rcut, 3, 0, &r, "3 atoms, skewed small cell");
    }
}

Test(nlist, large_triclinic_cell) {
    rng_t r;
    rng_stream(&r, "nlist-large", 1, RNG_TEST);
    const double len[3] = {15.0, 16.0, 17.0}, rcut = 6.0;
    for (int trial = 0; trial < 3; trial++) {
        double box[9], w[3];
        random_cell(&r, len, 0.08, box);
        cell_widths(box, w);
        cr_assert(w[0] > 2 * rcut && w[1] > 2 * rcut && w[2] > 2 * rcut);
        double *x = malloc(200 * 3 * sizeof *x);
        random_atoms(&r, 200, box, x);
        check_against_brute(200, x, box, rcut, 200, 0, &r, "200 atoms, triclinic");
        free(x);
    }
}

/* fcc Cu, conventional cell a0 = 3.62 Å, repeated 3 x 3 x 2: the 10.86 x 10.86 x 7.24 Å cell of
 * the Cu data set. Atoms at exact lattice positions sit on the cell faces (fractional 0). */
#define CU_A0 3.62
#define CU_NATOMS 72
static void cu_cell(double *box, double *x) {
    memset(box, 0, 9 * sizeof *box);
    box[0] = 3 * CU_A0;
    box[4] = 3 * CU_A0;
    box[8] = 2 * CU_A0;
    static const double basis[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    size_t n = 0;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 2; c++)
                for (int s = 0; s < 4; s++) {
                    x[3 * n] = (a + basis[s][0]) * CU_A0;
                    x[3 * n + 1] = (b + basis[s][1]) * CU_A0;
                    x[3 * n + 2] = (c + basis[s][2]) * CU_A0;
                    n++;
                }
}

Test(nlist, cu_fcc_coordination_within_6A) {
    /* fcc shells below 6 Å at a0 = 3.62: 12 (2.56), 6 (3.62), 24 (4.43), 12 (5.12), 24 (5.72);
     * the next shell, 8 at 6.27 Å, is outside. */
    const size_t fcc_neighbours = 12 + 6 + 24 + 12 + 24;
    double box[9], x[3 * CU_NATOMS];
    cu_cell(box, x);
    nlist_t nl;
    nlist_init(&nl);
    cr_assert_eq(nlist_build(&nl, CU_NATOMS, x, box, 6.0), RK_OK, "%s", err_msg());
    for (size_t i = 0; i < CU_NATOMS; i++)
        cr_assert_eq(nl.start[i + 1] - nl.start[i], fcc_neighbours, "atom %zu: %zu neighbours", i,
                     nl.start[i + 1] - nl.start[i]);
    nlist_free(&nl);
}

Test(nlist, cu_cell_against_brute_force) {
    rng_t r;
    rng_stream(&r, "nlist-cu", 1, RNG_TEST);
    double box[9], x[3 * CU_NATOMS];
    cu_cell(box, x);
    check_against_brute(CU_NATOMS, x, box, 6.0, CU_NATOMS, 0, &r, "Cu fcc, exact lattice");
    /* Thermal-like displacements of up to 0.2 Å. */
    for (size_t k = 0; k < 3 * CU_NATOMS; k++)
        x[k] += 0.2 * (2 * rng_uniform(&r) - 1);
    check_against_brute(CU_NATOMS, x, box, 6.0, CU_NATOMS, 0, &r, "Cu fcc, displaced");
}

Test(nlist, simple_cubic_self_images) {
    /* One atom: neighbours are the lattice points n a with 0 < |n| a < rcut. a = 3, rcut = 6:
     * |n|^2 in {1,2,3} -> 6 + 12 + 8 = 26. a = 2.5: |n|^2 < 5.76 -> 26 + 6 + 24 = 56. */
    const struct {
        double a;
        size_t want;
    } cases[] = {{3.0, 26}, {2.5, 56}};
    nlist_t nl;
    nlist_init(&nl);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double box[9] = {cases[c].a, 0, 0, 0, cases[c].a, 0, 0, 0, cases[c].a};
        double x[3] = {0.3, -0.7, 12.1};
        cr_assert_eq(nlist_build(&nl, 1, x, box, 6.0), RK_OK, "%s", err_msg());
        cr_assert_eq(nl.npairs, cases[c].want, "a = %g: %zu pairs", cases[c].a, nl.npairs);
        for (size_t p = 0; p < nl.npairs; p++)
            cr_assert_eq(nl.j[p], 0);
    }
    nlist_free(&nl);
}

Test(nlist, very_thin_cell_many_images) {
    rng_t r;
    rng_stream(&r, "nlist-thin", 1, RNG_TEST);
    /* Widths of ~1.2 Å with rcut 6 need five or more images in each direction. */
    const double len[3] = {1.3, 1.5, 1.7};
    double box[9], x[6];
    random_cell(&r, len, 0.1, box);
    random_atoms(&r, 2, box, x);
    check_against_brute(2, x, box, 6.0, 2, 0, &r, "thin cell");
}

/* Wrapping must not change the physical pair set: compare an unwrapped copy with brute force on
 * the unwrapped coordinates, and its d with those of the wrapped input. */
static void check_unwrapped(size_t n, const double *box, const double *x, double rcut, rng_t *r,
                            const char *what) {
    double *y = malloc(3 * n * sizeof *y);
    memcpy(y, x, 3 * n * sizeof *y);
    unwrap_randomly(r, n, box, y);
    check_against_brute(n, y, box, rcut, n, 2 * UNWRAP_MAX, r, what);
    nlist_t a, b;
    nlist_init(&a);
    nlist_init(&b);
    cr_assert_eq(nlist_build(&a, n, x, box, rcut), RK_OK);
    cr_assert_eq(nlist_build(&b, n, y, box, rcut), RK_OK);
    cr_assert_eq(a.npairs, b.npairs, "%s: %zu pairs wrapped, %zu unwrapped", what, a.npairs,
                 b.npairs);
    /* Same multiset of (i, j, d rounded to D_TOL-safe precision): compare per centre sorted d. */
    for (size_t i = 0; i < n; i++) {
        size_t na = a.start[i + 1] - a.start[i];
        cr_assert_eq(na, b.start[i + 1] - b.start[i], "%s: centre %zu", what, i);
        for (size_t p = a.start[i]; p < a.start[i + 1]; p++) {
            int found = 0;
            for (size_t q = b.start[i]; q < b.start[i + 1] && !found; q++)
                found = a.j[p] == b.j[q] && fabs(a.d[3 * p] - b.d[3 * q]) < D_TOL &&
                        fabs(a.d[3 * p + 1] - b.d[3 * q + 1]) < D_TOL &&
                        fabs(a.d[3 * p + 2] - b.d[3 * q + 2]) < D_TOL;
            cr_assert(found, "%s: centre %zu pair %zu (j %d) missing after unwrapping", what, i, p,
                      (int)a.j[p]);
        }
    }
    nlist_free(&a);
    nlist_free(&b);
    free(y);
}

Test(nlist, unwrapped_coordinates_give_same_pairs) {
    rng_t r;
    rng_stream(&r, "nlist-unwrap", 1, RNG_TEST);
    double box[9], x[3 * CU_NATOMS];
    const double small[3] = {3.0, 3.5, 4.0}, large[3] = {15.0, 16.0, 17.0};
    random_cell(&r, small, 0.3, box);
    random_atoms(&r, 3, box, x);
    check_unwrapped(3, box, x, 6.0, &r, "small cell unwrapped");
    random_cell(&r, large, 0.08, box);
    random_atoms(&r, 60, box, x);
    check_unwrapped(60, box, x, 6.0, &r, "large cell unwrapped");
    cu_cell(box, x);
    check_unwrapped(CU_NATOMS, box, x, 6.0, &r, "Cu lattice unwrapped");
}

Test(nlist, two_thousand_atoms_subset_against_brute_force) {
    rng_t r;
    rng_stream(&r, "nlist-2000", 1, RNG_TEST);
    /* Cu-like density, 0.085 atoms/Å^3: 2000 atoms in a cell of ~28.7 Å. */
    const double len[3] = {27.0, 28.5, 30.5};
    double box[9];
    random_cell(&r, len, 0.1, box);
    const size_t n = 2000;
    double *x = malloc(3 * n * sizeof *x);
    random_atoms(&r, n, box, x);
    check_against_brute(n, x, box, 6.0, 40, 0, &r, "2000 atoms, 40 centres");
    free(x);
}

Test(nlist, buffers_reused_and_output_deterministic) {
    rng_t r;
    rng_stream(&r, "nlist-reuse", 1, RNG_TEST);
    const double large[3] = {15.0, 16.0, 17.0}, small[3] = {3.0, 3.5, 4.0};
    double big_box[9], small_box[9], xb[600], xs[9];
    random_cell(&r, large, 0.08, big_box);
    random_atoms(&r, 200, big_box, xb);
    random_cell(&r, small, 0.3, small_box);
    random_atoms(&r, 3, small_box, xs);
    nlist_t fresh, reused;
    nlist_init(&fresh);
    nlist_init(&reused);
    cr_assert_eq(nlist_build(&fresh, 200, xb, big_box, 6.0), RK_OK);
    cr_assert_eq(nlist_build(&reused, 3, xs, small_box, 6.0), RK_OK);
    cr_assert_eq(nlist_build(&reused, 200, xb, big_box, 6.0), RK_OK);
    cr_assert_eq(nlist_build(&reused, 3, xs, small_box, 6.0), RK_OK);
    cr_assert_eq(nlist_build(&reused, 200, xb, big_box, 6.0), RK_OK);
    cr_assert_eq(fresh.npairs, reused.npairs);
    cr_assert(memcmp(fresh.start, reused.start, 201 * sizeof(size_t)) == 0);
    cr_assert(memcmp(fresh.j, reused.j, fresh.npairs * sizeof(int32_t)) == 0);
    cr_assert(memcmp(fresh.d, reused.d, fresh.npairs * 3 * sizeof(double)) == 0);
    nlist_free(&fresh);
    nlist_free(&reused);
}

Test(nlist, bad_input_is_rejected) {
    nlist_t nl;
    nlist_init(&nl);
    double x[6] = {0, 0, 0, 1, 1, 1};
    double flat[9] = {3, 0, 0, 0, 3, 0, 3, 3, 0}; /* c = a + b: det = 0 */
    cr_assert_eq(nlist_build(&nl, 2, x, flat, 6.0), RK_EINPUT);
    cr_assert(strstr(err_msg(), "singular cell (det = 0)"), "%s", err_msg());
    double cube[9] = {10, 0, 0, 0, 10, 0, 0, 0, 10};
    cr_assert_eq(nlist_build(&nl, 2, x, cube, 0.0), RK_EINPUT);
    cr_assert(strstr(err_msg(), "rcut"), "%s", err_msg());
    cr_assert_eq(nlist_build(&nl, 2, x, cube, -1.0), RK_EINPUT);
    cr_assert_eq(nlist_build(&nl, 2, x, cube, NAN), RK_EINPUT);
    x[4] = NAN;
    cr_assert_eq(nlist_build(&nl, 2, x, cube, 6.0), RK_EINPUT);
    cr_assert(strstr(err_msg(), "atom 1"), "%s", err_msg());
    x[4] = 1.0;
    double sliver[9] = {10, 0, 0, 0, 10, 0, 0, 0, 1e-5}; /* 1e-5 Å thick: not a structure */
    cr_assert_eq(nlist_build(&nl, 2, x, sliver, 6.0), RK_EINPUT);
    cr_assert(strstr(err_msg(), "too thin"), "%s", err_msg());
    /* A failed build leaves an empty list, and the object still works afterwards. */
    cr_assert_eq(nl.npairs, 0);
    cr_assert_eq(nlist_build(&nl, 2, x, cube, 6.0), RK_OK);
    cr_assert_eq(nl.npairs, 2);
    nlist_free(&nl);
}

Test(nlist, count_types) {
    /* Three atoms on a line in a 20 Å cube, rcut 3: 0 (type 0) - 2 Å - 1 (type 1) - 2 Å - 2
     * (type 0). Atom 0 and 2 are 4 Å apart (no pair). */
    double box[9] = {20, 0, 0, 0, 20, 0, 0, 0, 20};
    double x[9] = {1, 1, 1, 3, 1, 1, 5, 1, 1};
    int32_t type[3] = {0, 1, 0};
    nlist_t nl;
    nlist_init(&nl);
    cr_assert_eq(nlist_build(&nl, 3, x, box, 3.0), RK_OK);
    size_t counts[6];
    nlist_count_types(&nl, type, 2, counts);
    const size_t want[6] = {0, 1, 2, 0, 0, 1};
    for (size_t k = 0; k < 6; k++)
        cr_assert_eq(counts[k], want[k], "counts[%zu] = %zu", k, counts[k]);
    nlist_free(&nl);
}

/* ---- model_neighbor_scan and rlekf neighbor-stat ----------------------------------------- */

/* Three atoms, types Cu Cu O, in a 20 x 20 x 2.5 Å cell (every atom sees its own images at
 * +-2.5 Å along c with rcut 3), on a line along x at y = z = 1:
 *   frame 0: x = 1, 5, 9      -> only self images: per-type maxima [2, 2], shortest 2.5 Å
 *   frame 1: x = 1, 3, 25.5   -> atom 2 (O) is at 5.5 after wrapping; Cu0-Cu1 2 Å, Cu1-O 2.5 Å:
 *            Cu0: 2 self + Cu1 = 3 Cu; Cu1: 2 self + Cu0 = 3 Cu, 1 O; O: 1 Cu, 2 self O
 *            -> per-type maxima [3, 2], shortest 2 Å. */
static void write_chain_dataset(const char *path) {
    dataset_t ds = {0};
    ds.ntypes = 2;
    ds.type_map = calloc(2, sizeof *ds.type_map);
    strcpy(ds.type_map[0], "Cu");
    strcpy(ds.type_map[1], "O");
    ds.nsystems = 1;
    ds.sys = calloc(1, sizeof *ds.sys);
    cr_assert_eq(ds_system_alloc(&ds.sys[0], "chain", 3, 2), RK_OK);
    ds_system *s = &ds.sys[0];
    s->type[0] = 0;
    s->type[1] = 0;
    s->type[2] = 1;
    const double xs[2][3] = {{1, 5, 9}, {1, 3, 25.5}};
    for (size_t f = 0; f < 2; f++) {
        double *box = s->box + 9 * f;
        box[0] = 20;
        box[4] = 20;
        box[8] = 2.5;
        for (size_t i = 0; i < 3; i++) {
            double *r = s->coord + 9 * f + 3 * i;
            r[0] = xs[f][i];
            r[1] = 1;
            r[2] = 1;
        }
    }
    cr_assert_eq(h5io_dataset_write(path, &ds), RK_OK, "%s", err_msg());
    dataset_free(&ds);
}

/* Run `rlekf neighbor-stat <args>`, capturing stdout into out; returns the exit status. */
static int run_stat(const char *args, char *out, size_t cap) {
    char cmd[4096];
    const char *outfile = tu_tmp("neighbor-stat.out");
    snprintf(cmd, sizeof cmd, "%s neighbor-stat %s >%s 2>%s", RLEKF_EXE, args, outfile,
             tu_tmp("neighbor-stat.err"));
    int st = tu_sh(cmd);
    tu_read(outfile, out, cap);
    return st;
}

Test(neighbor_stat, counts_of_a_known_dataset) {
    const char *h5 = tu_tmp("chain.h5");
    write_chain_dataset(h5);
    char out[4096], args[1024];
    snprintf(args, sizeof args, "%s --rcut 3", h5);
    cr_assert_eq(run_stat(args, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "sel [3, 2]\n"), "%s", out);
    cr_assert(strstr(out, "min_distance_A 2.000000"), "%s", out);
    cr_assert(strstr(out, "max_total_neighbours 4"), "%s", out);
    cr_assert(strstr(out, "2 of 2 frames"), "%s", out);
    /* Every 2nd frame: frame 0 only. */
    snprintf(args, sizeof args, "%s --rcut=3 --frames 2", h5);
    cr_assert_eq(run_stat(args, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "sel [2, 2]\n"), "%s", out);
    cr_assert(strstr(out, "min_distance_A 2.500000"), "%s", out);
    cr_assert(strstr(out, "1 of 2 frames"), "%s", out);
    /* rcut below every distance: no pairs at all. */
    snprintf(args, sizeof args, "%s --rcut 1.5", h5);
    cr_assert_eq(run_stat(args, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "sel [0, 0]\n"), "%s", out);
    cr_assert(strstr(out, "min_distance_A none"), "%s", out);
}

/* The model layer's scan (which the command prints): maxima, their first sites in scan order
 * (frame, then centre), and the closest pair. */
Test(neighbor_stat, model_scan_sites) {
    const char *h5 = tu_tmp("chain-scan.h5");
    write_chain_dataset(h5);
    dataset_t ds = {0};
    cr_assert_eq(h5io_dataset_read(h5, &ds), RK_OK, "%s", err_msg());
    model_frame_ref fr[2] = {{0, 0}, {0, 1}};
    size_t max[2];
    model_site at[2];
    model_nbr_stat ns = {.max_count = max, .max_at = at};
    cr_assert_eq(model_neighbor_scan(&ds, 3.0, fr, 2, &ns), RK_OK, "%s", err_msg());
    /* Cu: 3 first at frame 1 atom 0; O: 2 (the O's own images) first at frame 0 atom 2 */
    cr_assert_eq(max[0], 3);
    cr_assert(at[0].sys == 0 && at[0].frame == 1 && at[0].atom == 0, "Cu max at %zu %zu",
              at[0].frame, at[0].atom);
    cr_assert_eq(max[1], 2);
    cr_assert(at[1].frame == 0 && at[1].atom == 2, "O max at %zu %zu", at[1].frame, at[1].atom);
    /* Cu1 in frame 1: 3 Cu + 1 O */
    cr_assert_eq(ns.max_total, 4);
    cr_assert(ns.total_at.frame == 1 && ns.total_at.atom == 1);
    /* Cu0-Cu1, 2 Å, in frame 1 */
    cr_assert_float_eq(ns.min_dist, 2.0, D_TOL);
    cr_assert(ns.min_at.frame == 1 && ns.min_at.atom == 0 && ns.min_at.other == 1);
    /* frames in the order given: frame 1 first moves the O maximum's site there (atom 2) */
    model_frame_ref rev[2] = {{0, 1}, {0, 0}};
    cr_assert_eq(model_neighbor_scan(&ds, 3.0, rev, 2, &ns), RK_OK);
    cr_assert(at[1].frame == 1 && at[1].atom == 2, "O max at %zu %zu", at[1].frame, at[1].atom);
    /* the sel-only form agrees; no frames: zeros and no distance */
    size_t sel[2];
    double dmin;
    cr_assert_eq(model_neighbor_stat(&ds, 3.0, fr, 2, sel, &dmin), RK_OK);
    cr_assert(sel[0] == 3 && sel[1] == 2 && dmin == ns.min_dist);
    cr_assert_eq(model_neighbor_scan(&ds, 3.0, fr, 0, &ns), RK_OK);
    cr_assert(max[0] == 0 && max[1] == 0 && ns.max_total == 0 && isinf(ns.min_dist));
    dataset_free(&ds);
}

/* The command prints the sites of the scan. */
Test(neighbor_stat, command_prints_sites) {
    const char *h5 = tu_tmp("chain-sites.h5");
    write_chain_dataset(h5);
    char out[4096], args[1024];
    snprintf(args, sizeof args, "%s --rcut 3", h5);
    cr_assert_eq(run_stat(args, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "     0  Cu                    3  chain 1 0\n"), "%s", out);
    cr_assert(strstr(out, "     1  O                     2  chain 0 2\n"), "%s", out);
    cr_assert(strstr(out, "max_total_neighbours 4 (system chain frame 1 atom 1)\n"), "%s", out);
    cr_assert(strstr(out, "min_distance_A 2.000000 (system chain frame 1 atoms 0 1)\n"), "%s", out);
}

Test(neighbor_stat, usage_and_input_errors_exit_2) {
    char err[1024], args[1024];
    const char *h5 = tu_tmp("chain-err.h5");
    write_chain_dataset(h5);
    cr_assert_eq(tu_rlekf("neighbor-stat --help", err, sizeof err), 0);
    snprintf(args, sizeof args, "neighbor-stat %s", h5);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_assert(strstr(err, "--rcut"), "%s", err);
    snprintf(args, sizeof args, "neighbor-stat %s --rcut -1", h5);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_assert(strstr(err, "'-1'"), "%s", err);
    snprintf(args, sizeof args, "neighbor-stat %s --rcut 6 --frames 0", h5);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_assert(strstr(err, "--frames"), "%s", err);
    snprintf(args, sizeof args, "neighbor-stat %s --rcut 6 --bogus", h5);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_assert(strstr(err, "--bogus"), "%s", err);
    snprintf(args, sizeof args, "neighbor-stat %s --rcut 6", tu_tmp("no-such-file.h5"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_assert(strstr(err, "no-such-file.h5"), "%s", err);
}
