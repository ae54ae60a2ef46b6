/* rlekf md: LAMMPS-driven molecular dynamics of a model.
 *
 * - The forces and energy LAMMPS receives through fix external equal the model's on the same
 *   configuration, for the Cu frame and for sheared, rotated, left-handed and strongly tilted
 *   copies of it (the cell is rotated into LAMMPS's lower-triangular form and the tilts reduced;
 *   the forces are rotated back). LAMMPS's compute rdf equals md's own histogram there.
 * - NVE conserves total energy within a stated bound, and the total-energy fluctuation of
 *   velocity Verlet falls about 4x when dt is halved (second order): a property, not a number.
 * - A broken model (weights x100) is reported unstable with exit status 0, not a crash.
 * - Bad flags and an element without a mass are one-line input errors (exit 2).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csvio.h"
#include "dataset.h"
#include "h5io.h"
#include "jsonw.h"
#include "manifest.h"
#include "md.h"
#include "model.h"
#include "modelutil.h"
#include "testutil.h"

/* The same model on the same configuration: the energies differ only by the rounding of a sum
 * of 72 atomic energies of about 5e3 eV each (~1e-12 eV/atom); force components (~1 eV/A) by
 * the rounding of rotated coordinates (~1e-14). */
#define TOL_E_PER_ATOM 1e-10
#define TOL_F 1e-10
/* g(r) of the same configuration, two implementations: counts are integers, the normalisation
 * rounds at ~1e-15 relative. */
#define TOL_RDF 1e-9
/* NVE with velocity Verlet at 1 fs over 100 fs from 300 K: the total energy stays within this
 * band of its start (eV/atom). The kinetic energy is ~39 meV/atom and moves by ~6 meV/atom
 * here; velocity Verlet's error for this smooth potential is ~1e-7 eV/atom, a discontinuous or
 * non-conservative force (a sign or rotation error, a missing term) shows at 1e-5 and above. */
#define NVE_BAND_EV_PER_ATOM 1e-6
/* Halving dt divides the fluctuation of velocity Verlet's total energy by 4 (second order);
 * the band allows for the finite sampling of an oscillating error. */
#define RATIO_LO 3.0
#define RATIO_HI 5.3

/* One-system, one-frame copy of frame 0 of src with cell and positions mapped by x -> x S
 * (fractional coordinates kept). */
static void deformed(const dataset_t *src, const double *S, dataset_t *out) {
    const ds_system *a = &src->sys[0];
    memset(out, 0, sizeof *out);
    out->ntypes = src->ntypes;
    out->type_map = calloc(src->ntypes, sizeof *out->type_map);
    memcpy(out->type_map, src->type_map, src->ntypes * sizeof *out->type_map);
    out->nsystems = 1;
    out->sys = calloc(1, sizeof *out->sys);
    cr_assert_eq(ds_system_alloc(&out->sys[0], a->name, a->natoms, 1), RK_OK);
    ds_system *b = &out->sys[0];
    memcpy(b->type, a->type, a->natoms * sizeof *a->type);
    b->energy[0] = a->energy[0];
    for (size_t i = 0; i < a->natoms + 3; i++) {
        const double *x = i < a->natoms ? a->coord + 3 * i : a->box + 3 * (i - a->natoms);
        double *y = i < a->natoms ? b->coord + 3 * i : b->box + 3 * (i - a->natoms);
        for (int j = 0; j < 3; j++)
            y[j] = x[0] * S[j] + x[1] * S[3 + j] + x[2] * S[6 + j];
    }
}

/* The model's own energy and forces on frame 0 of system 0 (what rlekf eval computes). */
static double model_ef(const model_t *m, const dataset_t *ds, double *f) {
    model_ws *ws;
    cr_assert_eq(model_ws_create(m, ds->sys[0].natoms, &ws), RK_OK);
    cr_assert_eq(model_set_frame(m, ws, &ds->sys[0], 0), RK_OK, "%s", err_msg());
    double e = model_forward(m, ws);
    model_backward(m, ws, NULL, f);
    model_ws_free(ws);
    return e;
}

static void check_single_point(const double *S, const char *what) {
    dataset_t ds;
    deformed(mu_cu(), S, &ds);
    model_config c;
    mu_small_config(&c);
    c.n_sel = 0; /* sel from the deformed frame */
    model_t m;
    mu_model(&ds, &c, 7, 1, &m);
    size_t n = ds.sys[0].natoms;
    double *f_ref = calloc(3 * n, sizeof(double)), *f = calloc(3 * n, sizeof(double));
    double e_ref = model_ef(&m, &ds, f_ref), e, pe;
    size_t nbins = 60;
    md_pairs pairs;
    md_pairs_of(&ds.sys[0], ds.ntypes, &pairs);
    double *g = calloc(pairs.npairs * nbins, sizeof(double));
    double *g_ref = calloc(pairs.npairs * nbins, sizeof(double));
    cr_assert_eq(md_single_point(&m, &ds, 0, 0, &e, &pe, f, nbins, g), RK_OK, "%s: %s", what,
                 err_msg());
    cr_assert(fabs(e - e_ref) / (double)n < TOL_E_PER_ATOM, "%s: E %.17g vs model %.17g", what, e,
              e_ref);
    cr_assert(fabs(pe - e_ref) / (double)n < TOL_E_PER_ATOM, "%s: LAMMPS pe %.17g vs model %.17g",
              what, pe, e_ref);
    double worst = 0;
    for (size_t i = 0; i < 3 * n; i++)
        worst = fmax(worst, fabs(f[i] - f_ref[i]));
    cr_assert(worst < TOL_F, "%s: force differs by %g eV/A", what, worst);
    cr_assert_eq(md_rdf_add(&ds.sys[0], 0, ds.ntypes, &pairs, m.cfg.rcut, nbins, g_ref), RK_OK);
    double gmax = 0;
    for (size_t i = 0; i < pairs.npairs * nbins; i++) {
        cr_assert(fabs(g[i] - g_ref[i]) <= TOL_RDF * fmax(1.0, fabs(g_ref[i])),
                  "%s: bin %zu: LAMMPS g %.17g, md %.17g", what, i, g[i], g_ref[i]);
        gmax = fmax(gmax, g_ref[i]);
    }
    cr_assert(gmax > 1.0, "%s: the RDF has no peak (%g)", what, gmax);
    free(g);
    free(g_ref);
    free(f);
    free(f_ref);
    model_free(&m);
    dataset_free(&ds);
}

Test(md, callback_equals_model_orthogonal) {
    const double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    check_single_point(I, "identity");
}

Test(md, callback_equals_model_sheared_rotated) {
    /* a general shear times a rotation: a triclinic cell in no special orientation */
    const double c = cos(0.7), s = sin(0.7), c2 = cos(-0.4), s2 = sin(-0.4);
    const double shear[9] = {1.0, 0.12, -0.08, 0.1, 0.97, 0.15, -0.05, 0.11, 1.03};
    const double rz[9] = {c, s, 0, -s, c, 0, 0, 0, 1};
    const double rx[9] = {1, 0, 0, 0, c2, s2, 0, -s2, c2};
    double t[9], S[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            t[3 * i + j] = 0;
            for (int k = 0; k < 3; k++)
                t[3 * i + j] += shear[3 * i + k] * rz[3 * k + j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            S[3 * i + j] = 0;
            for (int k = 0; k < 3; k++)
                S[3 * i + j] += t[3 * i + k] * rx[3 * k + j];
        }
    check_single_point(S, "sheared and rotated");
}

Test(md, callback_equals_model_left_handed) {
    /* a mirror image (det < 0): LAMMPS's cell is right-handed, the map a reflection */
    const double S[9] = {0.98, 0.1, 0.05, 0.07, 1.02, -0.1, 0.0, 0.0, -1.0};
    check_single_point(S, "left-handed");
}

Test(md, callback_equals_model_large_tilt) {
    /* b += 1.3 a, c += 0.2 a - 0.8 b (the Cu cell is nearly cubic): tilts beyond LAMMPS's
     * limits, reduced to the same lattice */
    const double S[9] = {1, 0, 0, 1.3, 1, 0, 0.2, -0.8, 1};
    check_single_point(S, "large tilt");
}

/* The cell-convention map on its own: q is orthogonal and carries the frame's rows onto the
 * LAMMPS rows up to whole lattice vectors (the tilt reduction). */
Test(md, cell_map_orthogonal) {
    const double box[9] = {5.0, 0.3, -0.4, 2.9, 4.1, 0.6, -1.2, 3.3, 4.4};
    md_cell c;
    cr_assert_eq(md_cell_from_box(box, &c), RK_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double d = 0;
            for (int k = 0; k < 3; k++)
                d += c.q[3 * k + i] * c.q[3 * k + j];
            cr_assert(fabs(d - (i == j)) < 1e-12, "q^T q [%d][%d] = %g", i, j, d);
        }
    cr_assert(fabs(c.xy) <= 0.5 * c.lx + 1e-12 && fabs(c.xz) <= 0.5 * c.lx + 1e-12 &&
              fabs(c.yz) <= 0.5 * c.ly + 1e-12);
    /* same volume */
    double lam[9];
    md_cell_box(&c, lam);
    double det = box[0] * (box[4] * box[8] - box[5] * box[7]) -
                 box[1] * (box[3] * box[8] - box[5] * box[6]) +
                 box[2] * (box[3] * box[7] - box[4] * box[6]);
    cr_assert(fabs(fabs(det) - c.lx * c.ly * c.lz) < 1e-9);
}

static void run_nve(const model_t *m, const dataset_t *ds, double dt_fs, long steps, long every,
                    md_result *r) {
    md_params p;
    md_params_default(&p);
    p.dt_fs = dt_fs;
    p.steps = steps;
    p.thermo_every = every;
    p.temperature_K = 300;
    p.rdf_bins = 30;
    cr_assert_eq(md_run(m, ds, 0, 0, &p, MD_NVE, "cu", 1, NULL, r), RK_OK, "%s", err_msg());
    cr_assert(r->stable, "dt %g fs: unstable at %g ps: %s", dt_fs, r->stable_ps, r->reason);
}

/* A smooth potential for the integrator's order: SPEC §2's model sums real neighbours only, so
 * a neighbour crossing rcut removes its row R^ = (0 - avg)/std at once and the energy jumps
 * (by ~5 meV per crossing for this model, whatever dt is). With avg[t][0] = 0 the row of a
 * neighbour at rcut is 0 (s and s' vanish there) and the energy is smooth. */
static void smooth_model(const dataset_t *ds, model_t *m) {
    model_config c;
    mu_small_config(&c);
    mu_model(ds, &c, 3, 20, m);
    for (size_t t = 0; t < m->ntypes; t++)
        m->avg[t][0] = 0.0;
}

Test(md, nve_conserves_energy_second_order) {
    const double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    dataset_t one; /* frame 0 alone: the reference RDF of 100 frames is not needed here */
    deformed(mu_cu(), I, &one);
    const dataset_t *ds = &one;
    model_t m;
    smooth_model(ds, &m);
    md_result a, b;
    /* the same 100 fs, sampled at the same times (every 5 fs) */
    run_nve(&m, ds, 1.0, 100, 5, &a);
    run_nve(&m, ds, 0.5, 200, 10, &b);
    cr_assert_eq(a.nrows, 21);
    cr_assert_eq(b.nrows, 21);
    cr_assert(fabs(a.rows[0].temp - 300.0) < 1e-9, "initial temperature %.17g", a.rows[0].temp);
    double n = (double)a.natoms, worst = 0;
    for (size_t i = 0; i < a.nrows; i++) {
        worst = fmax(worst, fabs(a.rows[i].etot - a.rows[0].etot) / n);
        cr_assert(fabs(a.rows[i].time_ps - b.rows[i].time_ps) < 1e-12);
        cr_assert(a.rows[i].etot == a.rows[i].pe + a.rows[i].ke);
    }
    cr_assert(worst < NVE_BAND_EV_PER_ATOM, "total energy moved by %g eV/atom", worst);
    /* the system moved: the potential energy changes by far more than the total */
    double pe_span = 0;
    for (size_t i = 0; i < a.nrows; i++)
        pe_span = fmax(pe_span, fabs(a.rows[i].pe - a.rows[0].pe) / n);
    cr_assert(pe_span > 10 * a.fluct * 1e-3, "pe span %g eV/atom, fluctuation %g meV/atom", pe_span,
              a.fluct);
    double ratio = a.fluct / b.fluct;
    cr_log_info("NVE fluctuation %.4g meV/atom at 1 fs, %.4g at 0.5 fs: ratio %.3f; drift %.4g, "
                "%.4g meV/atom/ps; band %.3g eV/atom",
                a.fluct, b.fluct, ratio, a.drift, b.drift, worst);
    fprintf(stderr,
            "md: NVE fluctuation %.4g meV/atom at 1 fs, %.4g at 0.5 fs: ratio %.3f; drift %.4g, "
            "%.4g meV/atom/ps\n",
            a.fluct, b.fluct, ratio, a.drift, b.drift);
    cr_assert(ratio >= RATIO_LO && ratio <= RATIO_HI, "fluctuation ratio %g (%g / %g)", ratio,
              a.fluct, b.fluct);
    cr_assert(a.rdf_samples == 20 && isfinite(a.rdf_err_all));
    md_result_free(&a);
    md_result_free(&b);
    model_free(&m);
    dataset_free(&one);
}

/* Same seed, same trajectory; another seed, other velocities. */
Test(md, velocities_from_the_seeded_stream) {
    const double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    dataset_t one;
    deformed(mu_cu(), I, &one);
    const dataset_t *ds = &one;
    model_t m;
    smooth_model(ds, &m);
    md_params p;
    md_params_default(&p);
    p.steps = 10;
    p.thermo_every = 10;
    p.rdf_bins = 10;
    md_result r1, r2, r3;
    cr_assert_eq(md_run(&m, ds, 0, 0, &p, MD_NVE, "cu", 1, NULL, &r1), RK_OK);
    cr_assert_eq(md_run(&m, ds, 0, 0, &p, MD_NVE, "cu", 1, NULL, &r2), RK_OK);
    cr_assert_eq(md_run(&m, ds, 0, 0, &p, MD_NVE, "cu", 2, NULL, &r3), RK_OK);
    cr_assert_eq(r1.nrows, 2);
    cr_assert(r1.rows[1].etot == r2.rows[1].etot && r1.rows[1].pe == r2.rows[1].pe);
    cr_assert(r1.rows[1].pe != r3.rows[1].pe);
    md_result_free(&r1);
    md_result_free(&r2);
    md_result_free(&r3);
    model_free(&m);
    dataset_free(&one);
}

static void import_cu(void) {
    char args[4096], err[4096];
    snprintf(args, sizeof args, "import -o %s %s", tu_tmp("cu.h5"),
             tu_src("datasets/Cu/0_300_MOVEMENT"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
}

Test(md, broken_model_is_unstable_not_a_crash) {
    import_cu();
    dataset_t ds;
    memset(&ds, 0, sizeof ds);
    cr_assert_eq(h5io_dataset_read(tu_tmp("cu.h5"), &ds), RK_OK);
    model_config c;
    mu_small_config(&c);
    model_t m;
    mu_model(&ds, &c, 3, 20, &m);
    for (size_t i = 0; i < m.layout.n_params; i++)
        m.w[i] *= 100.0;
    cr_assert_eq(model_save(&m, tu_tmp("broken.h5")), RK_OK);
    char args[4096], err[4096] = "";
    snprintf(args, sizeof args, "md --model %s --data %s --out %s --steps 200 --thermo-every 10",
             tu_tmp("broken.h5"), tu_tmp("cu.h5"), tu_tmp("md-broken"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    char text[8192];
    cr_assert_eq(tu_read(tu_tmp("md-broken/md.json"), text, sizeof text), 0);
    jsonw *j;
    cr_assert_eq(jsonw_parse_text(text, "md.json", &j), RK_OK);
    cr_assert_str_eq(jsonw_string(jsonw_get(j, "status")), "unstable", "%s", text);
    double t = jsonw_number(jsonw_get(j, "stable_ps")), run = jsonw_number(jsonw_get(j, "run_ps"));
    cr_assert(t < run, "unstable at %g of %g ps", t, run);
    cr_assert(strlen(jsonw_string(jsonw_get(j, "reason"))) > 0);
    cr_log_info("broken model: %s at %g ps", jsonw_string(jsonw_get(j, "reason")), t);
    jsonw_free(j);
    cr_assert_eq(tu_read(tu_tmp("md-broken/thermo.csv"), text, sizeof text), 0);
    cr_assert_eq(tu_read(tu_tmp("md-broken/rdf.csv"), text, sizeof text), 0);
    model_free(&m);
    dataset_free(&ds);
}

/* exit 2 and exactly one line on stderr */
static void bad(const char *args) {
    char err[4096] = "";
    int rc = tu_rlekf(args, err, sizeof err);
    cr_assert_eq(rc, 2, "rlekf %s: exit %d: %s", args, rc, err);
    size_t lines = 0;
    for (const char *p = err; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 1, "rlekf %s: %s", args, err);
}

Test(md, bad_flags_are_input_errors) {
    import_cu();
    char model[1100], base[4096], args[8192];
    snprintf(model, sizeof model, "%s", tu_tmp("small.h5"));
    dataset_t ds;
    memset(&ds, 0, sizeof ds);
    cr_assert_eq(h5io_dataset_read(tu_tmp("cu.h5"), &ds), RK_OK);
    model_config c;
    mu_small_config(&c);
    model_t m;
    mu_model(&ds, &c, 3, 5, &m);
    cr_assert_eq(model_save(&m, model), RK_OK);
    model_free(&m);
    dataset_free(&ds);
    snprintf(base, sizeof base, "md --model %s --data %s --out %s", model, tu_tmp("cu.h5"),
             tu_tmp("md-bad"));
    const char *extra[] = {
        "--steps abc", "--ensemble npt", "--dt 0", "--frame nosuch:0", "--frame 0_300_MOVEMENT:100",
        "--bogus 1"};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        snprintf(args, sizeof args, "%s %s", base, extra[i]);
        bad(args);
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "test ! -e %s", tu_tmp("md-bad"));
    cr_assert_eq(tu_sh(cmd), 0, "an input error wrote %s", tu_tmp("md-bad"));
}

Test(md, element_without_mass_is_an_input_error) {
    /* an extxyz set of a gold cell: Au is not in md's mass table */
    tu_write(tu_tmp("au.xyz"),
             "2\nLattice=\"4.0 0.0 0.0 0.0 4.0 0.0 0.0 0.0 4.0\" "
             "Properties=species:S:1:pos:R:3:forces:R:3 energy=-6.5 pbc=\"T T T\"\n"
             "Au 0.0 0.0 0.0 0.1 -0.2 0.3\nAu 2.0 2.0 2.0 -0.1 0.2 -0.3\n"
             "2\nLattice=\"4.0 0.0 0.0 0.0 4.0 0.0 0.0 0.0 4.0\" "
             "Properties=species:S:1:pos:R:3:forces:R:3 energy=-6.4 pbc=\"T T T\"\n"
             "Au 0.1 0.0 0.0 0.1 -0.2 0.3\nAu 2.0 2.1 2.0 -0.1 0.2 -0.3\n");
    /* five frames, so that the default split has a test frame */
    char text[4096];
    cr_assert_eq(tu_read(tu_tmp("au.xyz"), text, sizeof text), 0);
    char five[5 * 4096] = "";
    for (int i = 0; i < 3; i++)
        strcat(five, text);
    tu_write(tu_tmp("au.xyz"), five);
    char args[8192], err[4096];
    snprintf(args, sizeof args, "import -o %s %s", tu_tmp("au.h5"), tu_tmp("au.xyz"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    snprintf(args, sizeof args, "init --data %s -o %s", tu_tmp("au.h5"), tu_tmp("au-model.h5"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    snprintf(args, sizeof args, "md --model %s --data %s --out %s --steps 10",
             tu_tmp("au-model.h5"), tu_tmp("au.h5"), tu_tmp("md-au"));
    bad(args);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_assert(strstr(err, "'Au'") != NULL, "%s", err);
}

/* The manifest/CLI keys come from one table with bounds. */
Test(md, params_from_json_checked) {
    md_params p;
    md_params_default(&p);
    jsonw *j;
    cr_assert_eq(jsonw_parse_text("{\"steps\": 50, \"ensembles\": [\"nve\", \"nvt\"], "
                                  "\"temperature_K\": 500, \"frame\": \"a:3\"}",
                                  "t", &j),
                 RK_OK);
    cr_assert_eq(md_params_from_json(j, "m.md", &p), RK_OK, "%s", err_msg());
    cr_assert_eq(p.steps, 50);
    cr_assert_eq(p.ensembles, (1u << MD_NVE) | (1u << MD_NVT));
    cr_assert_eq(p.temperature_K, 500);
    cr_assert_str_eq(p.frame, "a:3");
    cr_assert_eq(p.n_datasets, 0);
    cr_assert_eq(p.dt_fs, 1.0); /* default kept */
    jsonw_free(j);
    const char *bad_json[] = {"{\"steps\": -1}",     "{\"ensembles\": [\"npt\"]}",
                              "{\"ensembles\": []}", "{\"dt_fs\": 0}",
                              "{\"stepz\": 1}",      "{\"frame\": \"nocolon\"}",
                              "{\"datasets\": []}",  "{\"datasets\": [1]}"};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        md_params_default(&p);
        cr_assert_eq(jsonw_parse_text(bad_json[i], "t", &j), RK_OK);
        cr_assert_eq(md_params_from_json(j, "m.md", &p), RK_EINPUT, "%s accepted", bad_json[i]);
        cr_assert(strstr(err_msg(), "m.md") != NULL, "%s", err_msg());
        jsonw_free(j);
    }
}

/* ---- the runner's md section ---- */

static const char *smoke_cell(const char *res, const char *label, const char *file) {
    static char buf[8][1024];
    static int k;
    char *b = buf[k++ & 7];
    snprintf(b, 1024, "%s/smoke/Cu/%s/seed-1/%s", res, label, file);
    return b;
}

static int exists(const char *p) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "test -e %s", p);
    return tu_sh(cmd) == 0;
}

/* experiments/smoke.json with one seed, one epoch and an md section; every trained cell gets
 * its MD (NVE and NVT), the skipped one none; summary.csv carries the MD columns; a rerun
 * redoes only the MD that did not finish, never the training. */
Test(md, runner_md_section_resumable, .timeout = 600) {
    char text[8192], out[16384];
    cr_assert_eq(tu_read(tu_src("experiments/smoke.json"), text, sizeof text), 0);
    char *at = strstr(text, "\"seeds\": [1, 2, 3],");
    cr_assert_not_null(at);
    *at = 0;
    snprintf(out, sizeof out,
             "%s\"seeds\": [1], \"md\": {\"steps\": 20, \"thermo_every\": 10, \"ensembles\": "
             "[\"nve\", \"nvt\"], \"rdf_bins\": 20},%s",
             text, at + strlen("\"seeds\": [1, 2, 3],"));
    at = strstr(out, "\"epochs\": 3");
    cr_assert_not_null(at);
    memcpy(at, "\"epochs\": 1", strlen("\"epochs\": 1"));
    /* sel by DeePMD-kit's rule on the data, resolved in config.json */
    at = strstr(out, "\"sel\": [81]");
    cr_assert_not_null(at);
    memmove(at + strlen("\"sel\": \"auto:1.25\""), at + strlen("\"sel\": [81]"),
            strlen(at + strlen("\"sel\": [81]")) + 1);
    memcpy(at, "\"sel\": \"auto:1.25\"", strlen("\"sel\": \"auto:1.25\""));
    tu_write(tu_tmp("smoke-md.json"), out);
    cr_assert_eq(chdir(RLEKF_SOURCE_DIR), 0);
    char res[600], args[2000], err[4096];
    snprintf(res, sizeof res, "%s", tu_tmp("resMD"));
    /* --no-md trains only; the same command without it then runs the MD of the finished cells */
    snprintf(args, sizeof args, "run %s --results %s --quiet --no-md", tu_tmp("smoke-md.json"),
             res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    cr_assert(exists(smoke_cell(res, "adam", "metrics.csv")));
    cr_assert(!exists(smoke_cell(res, "adam", "md_nve")), "--no-md ran MD");
    cr_assert(!exists(smoke_cell(res, "rlekf-256", "md_nve")), "--no-md ran MD");
    char ds_path[800];
    snprintf(ds_path, sizeof ds_path, "%s/smoke/data/Cu.h5", res);
    dataset_t ds;
    cr_assert_eq(h5io_dataset_read(ds_path, &ds), RK_OK, "%s", err_msg());
    size_t n_all = ds.sys[0].nframes, counts[MODEL_MAX_TYPES] = {0}, want[MODEL_MAX_TYPES];
    model_frame_ref *all = calloc(n_all, sizeof *all);
    for (size_t f = 0; f < n_all; f++)
        all[f] = (model_frame_ref){0, f};
    cr_assert_eq(model_neighbor_stat(&ds, 6.0, all, n_all, counts, NULL), RK_OK);
    free(all);
    dataset_free(&ds);
    model_sel_auto(counts, 1, 1.25, want);
    jsonw *cj = NULL;
    cr_assert_eq(jsonw_parse_file(smoke_cell(res, "adam", "config.json"), &cj), RK_OK);
    const jsonw *sel = jsonw_get(jsonw_get(cj, "model"), "sel");
    cr_assert(sel && jsonw_typeof(sel) == JSONW_ARRAY && jsonw_size(sel) == 1);
    cr_expect_eq((size_t)jsonw_number(jsonw_at(sel, 0)), want[0], "max %zu -> sel %zu, want %zu",
                 counts[0], (size_t)jsonw_number(jsonw_at(sel, 0)), want[0]);
    jsonw_free(cj);
    snprintf(args, sizeof args, "run %s --results %s --quiet", tu_tmp("smoke-md.json"), res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    const char *trained[] = {"rlekf-256", "adam"};
    char ke[2][64];
    for (int i = 0; i < 2; i++) {
        cr_assert(exists(smoke_cell(res, trained[i], "md_nve/md.json")), "%s", trained[i]);
        cr_assert(exists(smoke_cell(res, trained[i], "md_nvt/md.json")), "%s", trained[i]);
        /* paired cells: the same velocities (stream of dataset and seed) */
        csvio_table t;
        cr_assert_eq(csvio_read(smoke_cell(res, trained[i], "md_nve/thermo.csv"), &t), RK_OK);
        int c = csvio_col(&t, "kinetic_eV");
        cr_assert(c >= 0 && t.nrows >= 1);
        snprintf(ke[i], sizeof ke[i], "%s", csvio_cell(&t, 0, (size_t)c));
        csvio_free(&t);
    }
    cr_assert_str_eq(ke[0], ke[1]);
    cr_assert(!exists(smoke_cell(res, "gekf", "md_nve")), "a skipped cell has no model");
    char sp[1024];
    snprintf(sp, sizeof sp, "%s/smoke/summary.csv", res);
    csvio_table t;
    cr_assert_eq(csvio_read(sp, &t), RK_OK);
    int cl = csvio_col(&t, "label"), cs = csvio_col(&t, "md_nve_status"),
        cd = csvio_col(&t, "md_nve_drift_meV_per_atom_per_ps"),
        cn = csvio_col(&t, "md_nvt_drift_meV_per_atom_per_ps"),
        cr = csvio_col(&t, "md_nvt_rdf_mae"), ct = csvio_col(&t, "md_nvt_stable_ps");
    cr_assert(cl >= 0 && cs >= 0 && cd >= 0 && cn >= 0 && cr >= 0 && ct >= 0);
    for (size_t r = 0; r < t.nrows; r++) {
        const char *label = csvio_cell(&t, r, (size_t)cl);
        const char *status = csvio_cell(&t, r, (size_t)cs);
        if (!strcmp(label, "gekf")) {
            cr_assert_str_eq(status, "");
            continue;
        }
        cr_assert(!strcmp(status, "stable") || !strcmp(status, "unstable"), "%s: %s", label,
                  status);
        cr_assert_str_eq(csvio_cell(&t, r, (size_t)cn), "", "no NVT drift");
        cr_assert_str_neq(csvio_cell(&t, r, (size_t)ct), "");
    }
    csvio_free(&t);
    /* rerun after losing one MD result: only that MD runs again */
    char before_md[8192], before_md2[8192], before_metrics[65536], after[65536];
    /* adam's NVE run is finished too: its worker reruns only the NVT one */
    cr_assert_eq(tu_read(smoke_cell(res, "adam", "md_nve/md.json"), before_md2, sizeof before_md2),
                 0);
    cr_assert_eq(
        tu_read(smoke_cell(res, "rlekf-256", "md_nve/md.json"), before_md, sizeof before_md), 0);
    cr_assert_eq(
        tu_read(smoke_cell(res, "adam", "metrics.csv"), before_metrics, sizeof before_metrics), 0);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm %s", smoke_cell(res, "adam", "md_nvt/md.json"));
    cr_assert_eq(tu_sh(cmd), 0);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    cr_assert(exists(smoke_cell(res, "adam", "md_nvt/md.json")));
    cr_assert_eq(tu_read(smoke_cell(res, "rlekf-256", "md_nve/md.json"), after, sizeof after), 0);
    cr_assert_str_eq(after, before_md, "a finished MD was rerun");
    cr_assert_eq(tu_read(smoke_cell(res, "adam", "md_nve/md.json"), after, sizeof after), 0);
    cr_assert_str_eq(after, before_md2, "the finished NVE run of a rerun cell was rerun");
    cr_assert_eq(tu_read(smoke_cell(res, "adam", "metrics.csv"), after, sizeof after), 0);
    cr_assert_str_eq(after, before_metrics, "the training was rerun");
    /* the report: an MD table row per trained variant and ensemble, and the figure's tables */
    snprintf(args, sizeof args, "report %s/smoke", res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    char rp[1024];
    snprintf(rp, sizeof rp, "%s/smoke/report/report.md", res);
    cr_assert_eq(tu_read(rp, after, sizeof after), 0);
    const char *md = strstr(after, "## Molecular dynamics");
    cr_assert_not_null(md, "%s", after);
    const char *rows[] = {"| Cu | rlekf-256 | rlekf | NVE | ", "| Cu | rlekf-256 | rlekf | NVT | ",
                          "| Cu | adam | adam | NVE | ", "| Cu | adam | adam | NVT | "};
    for (size_t i = 0; i < 4; i++)
        cr_assert_not_null(strstr(md, rows[i]), "no row %s in %s", rows[i], md);
    cr_assert_null(strstr(md, "| gekf |"), "%s", md);
    snprintf(rp, sizeof rp, "%s/smoke/report/md/Cu__adam__nve.energy.dat", res);
    cr_assert(exists(rp));
    snprintf(rp, sizeof rp, "%s/smoke/report/md/Cu__adam__nve.rdf.dat", res);
    cr_assert(exists(rp));
}

/* The manifest's md section: its keys are md_keys', md.datasets must name the manifest's
 * datasets. */
Test(md, manifest_md_section) {
    char text[8192], out[16384];
    cr_assert_eq(tu_read(tu_src("experiments/smoke.json"), text, sizeof text), 0);
    cr_assert_eq(chdir(RLEKF_SOURCE_DIR), 0);
    const char *sections[] = {"{\"steps\": 5, \"datasets\": [\"Cu\"]}",
                              "{\"steps\": 5, \"datasets\": [\"H2O\"]}",
                              "{\"steps\": 5, \"bogus\": 1}"};
    for (int i = 0; i < 3; i++) {
        char *at = strrchr(text, '}');
        cr_assert_not_null(at);
        snprintf(out, sizeof out, "%.*s, \"md\": %s}\n", (int)(at - text), text, sections[i]);
        tu_write(tu_tmp("m.json"), out);
        manifest_t m;
        rk_status st = manifest_load(tu_tmp("m.json"), &m);
        if (i == 0) {
            cr_assert_eq(st, RK_OK, "%s", err_msg());
            cr_assert(m.has_md && m.md.steps == 5 && m.md.n_datasets == 1);
            cr_assert_str_eq(m.md.datasets[0], "Cu");
            manifest_free(&m);
        } else {
            cr_assert_eq(st, RK_EINPUT, "%s accepted", sections[i]);
            cr_assert(strstr(err_msg(), "md") != NULL, "%s", err_msg());
        }
    }
}

/* Each stop criterion on its own: the shortest pair distance, the temperature band, and more
 * neighbours than sel (over_sel); a stop is a result with its time and reason. */
Test(md, stop_criteria) {
    const double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    dataset_t one;
    deformed(mu_cu(), I, &one);
    model_t m;
    smooth_model(&one, &m);
    md_params p;
    md_params_default(&p);
    p.steps = 40;
    p.thermo_every = 10;
    p.rdf_bins = 10;
    md_result r;
    /* the Cu frame's shortest distance is 2.55 A: a 2.6 A threshold stops the run at once */
    p.min_distance_A = 2.6;
    cr_assert_eq(md_run(&m, &one, 0, 0, &p, MD_NVE, "cu", 1, NULL, &r), RK_OK, "%s", err_msg());
    cr_assert(!r.stable && !r.over_sel && r.stable_ps == 0.0, "%s at %g", r.reason, r.stable_ps);
    cr_assert_not_null(strstr(r.reason, "pair distance"), "%s", r.reason);
    cr_assert_str_eq(md_status_name(&r), "unstable");
    md_result_free(&r);
    /* NVE from 300 K cools by ~0.05% in the first 10 fs (equipartition): a band starting at
     * 0.9999 x 300 K ends the run at the first thermo row */
    p.min_distance_A = 0.5;
    p.temp_low = 0.9999;
    cr_assert_eq(md_run(&m, &one, 0, 0, &p, MD_NVE, "cu", 1, NULL, &r), RK_OK, "%s", err_msg());
    cr_assert(!r.stable && fabs(r.stable_ps - 0.01) < 1e-12, "%s at %g", r.reason, r.stable_ps);
    cr_assert_not_null(strstr(r.reason, "temperature"), "%s", r.reason);
    cr_assert_eq(r.nrows, 1); /* the rows are the part before the stop */
    md_result_free(&r);
    /* a sel below the frame's neighbour count: over_sel, a limit of the model */
    p.temp_low = 0.1;
    m.cfg.sel[0] = 60;
    cr_assert_eq(md_run(&m, &one, 0, 0, &p, MD_NVE, "cu", 1, NULL, &r), RK_OK, "%s", err_msg());
    cr_assert(!r.stable && r.over_sel, "%s", r.reason);
    cr_assert_str_eq(md_status_name(&r), "over_sel");
    md_result_free(&r);
    model_free(&m);
    dataset_free(&one);
}
