/* test_report: `rlekf report` on hand-made results trees with known numbers.
 *
 * The synthetic experiment (numbers chosen so every expected value is worked out below):
 *   Cu, baseline E = 0.5 eV/atom (adam seed 1, last row), baseline F = 0.1 eV/Å (adam seed 1).
 *     thresholds E: 1.2 x 0.5 = 0.6, 1.5 x 0.5 = 0.75 (both exact in binary; rows hit them with
 *     equality on purpose); F: 0.12 and 0.15 (no row sits on these).
 *     rlekf-a (2 seeds), adam (2 seeds), rlekf-b (seed 1 diverged and never reaches, seed 2
 *     reaches only x1.5), gekf (skipped, no metrics).
 *   H2O: lekf-c, 3 seeds with 3, 3 and 2 rows, a nan, no Adam variant (ratios n/a).
 * Further trees test what the report decides from an optimizer's registered type (its kind and
 * declared parameters) rather than its name: the speed-up reference, the bars, the ablation
 * table and its order.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvio.h"
#include "fs.h"
#include "registry.h"
#include "report.h"
#include "report_internal.h"
#include "schema.h"
#include "testutil.h"

/* Values in the trees are written with up to 4 significant digits and read back from "%.6g"
 * output, so 1e-9 relative is far below any rounding in play, yet catches any wrong row. */
#define REL_TOL 1e-9
/* Outputs print 6 significant digits: a relative 1e-5 covers that rounding. */
#define PRINT_TOL 1e-5

static int close_rel(double a, double b, double tol) {
    return fabs(a - b) <= tol * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* ------------------------------------------------------------- pure functions -------------- */

static report_row mkrow(double epoch, double updates, double wall, double te, double tf) {
    report_row r = {epoch, updates, wall, wall, NAN, NAN, te, tf, NAN, NAN};
    return r;
}

Test(report_math, first_crossing_equality_dip_and_never) {
    report_row rows[5] = {mkrow(0, 0, 0, 1.0, 1.0), mkrow(1, 1, 1, 0.75, 1.0),
                          mkrow(2, 2, 2, 0.9, 1.0), mkrow(3, 3, 3, 0.6, 1.0),
                          mkrow(4, 4, 4, 0.55, 1.0)};
    /* 0.75 <= 0.75 at row 1 counts (equality), though the RMSE rises again at row 2 */
    cr_expect_eq(report_first_crossing(rows, 5, REPORT_E, 0.75), 1);
    cr_expect_eq(report_first_crossing(rows, 5, REPORT_E, 0.6), 3);
    cr_expect_eq(report_first_crossing(rows, 5, REPORT_E, 0.5), REPORT_NEVER);
    cr_expect_eq(report_first_crossing(rows, 5, REPORT_F, 0.99), REPORT_NEVER);
    cr_expect_eq(report_first_crossing(rows, 0, REPORT_E, 10.0), REPORT_NEVER);
    /* nan never crosses */
    report_row nr[2] = {mkrow(0, 0, 0, NAN, NAN), mkrow(1, 1, 1, 0.1, 0.1)};
    cr_expect_eq(report_first_crossing(nr, 2, REPORT_F, 1.0), 1);
}

Test(report_math, describe_skips_nan_and_takes_median) {
    double v[4] = {3.0, NAN, 1.0, 2.0}, s[4];
    report_stats st = report_describe(v, 4, s);
    cr_expect_eq(st.n, 3);
    cr_expect(close_rel(st.mean, 2.0, REL_TOL));
    cr_expect_eq(st.min, 1.0);
    cr_expect_eq(st.max, 3.0);
    cr_expect_eq(st.median, 2.0);
    double w[4] = {4.0, 1.0, 3.0, 2.0};
    cr_expect(close_rel(report_describe(w, 4, s).median, 2.5, REL_TOL));
    double z[2] = {NAN, NAN};
    st = report_describe(z, 2, s);
    cr_expect_eq(st.n, 0);
    cr_expect(isnan(st.mean) && isnan(st.median));
}

Test(report_math, ratio) {
    cr_expect(close_rel(report_ratio(3.5, 1.25), 2.8, REL_TOL));
    cr_expect(isnan(report_ratio(NAN, 1.0)));
    cr_expect(isnan(report_ratio(1.0, NAN)));
    cr_expect(isnan(report_ratio(1.0, 0.0)));
}

/* A variant of one seed whose run has the given rows (test RMSE of E and F per row: updates
 * 10 x row, training clock clock[row]) and best RMSEs best_e/best_f (the summary's). */
typedef struct {
    report_variant v;
    report_run run;
    report_row rows[4];
} ref_case;

static void mkvariant(ref_case *c, const char *dataset, const char *label, const char *opt,
                      size_t n, const double *clock, const double *te, const double *tf,
                      double best_e, double best_f) {
    memset(c, 0, sizeof *c);
    strcpy(c->v.dataset, dataset);
    strcpy(c->v.label, label);
    strcpy(c->v.optimizer, opt);
    c->v.type = optim_find(opt);
    cr_assert_not_null(c->v.type);
    for (size_t i = 0; i < n; i++) {
        c->rows[i] = mkrow((double)i, 10.0 * (double)i, clock[i], te[i], tf[i]);
        c->rows[i].clock_s = clock[i];
    }
    c->run.rows = n ? c->rows : NULL;
    c->run.nrows = n;
    c->run.best_e = best_e;
    c->run.best_f = best_f;
    c->v.runs = &c->run;
    c->v.nruns = 1;
}

/* Pointers into cases are stable, so the experiment's array is built from copies. */
static void ref_exp(report_exp *e, report_variant *vars, ref_case *cases, size_t n) {
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        vars[i] = cases[i].v;
        vars[i].runs = &cases[i].run;
    }
    e->vars = vars;
    e->nvars = n;
}

Test(report_math, gradient_reference_is_the_strongest_per_quantity_and_threshold) {
    /* Cu: rlekf (Kalman, fastest of all: never a reference); adam-a reaches E <= 0.5 at 2 s and
     * F <= 0.5 never (best F 0.6); adam-b reaches E <= 0.5 at 3 s and F <= 0.5 at 1 s; adam-c
     * (listed last) reaches E <= 0.5 at 2 s too, but after fewer updates (10 against 20) */
    double t[4] = {0, 1, 2, 3}, tc[4] = {0, 2, 2.5, 3};
    double ke[4] = {1, 0.1, 0.1, 0.1}, kf[4] = {1, 0.1, 0.1, 0.1};
    double ae[4] = {1, 0.8, 0.5, 0.4}, af[4] = {1, 0.9, 0.7, 0.6};
    double be[4] = {1, 0.8, 0.7, 0.5}, bf[4] = {1, 0.5, 0.5, 0.5};
    double ce[4] = {1, 0.5, 0.5, 0.5}, cf[4] = {1, 0.9, 0.9, 0.9};
    ref_case cs[5];
    mkvariant(&cs[0], "Cu", "rlekf", "rlekf", 4, t, ke, kf, 0.1, 0.1);
    mkvariant(&cs[1], "Cu", "adam-a", "adam", 4, t, ae, af, 0.4, 0.6);
    mkvariant(&cs[2], "Cu", "adam-b", "adam", 4, t, be, bf, 0.5, 0.5);
    mkvariant(&cs[3], "Cu", "adam-c", "adam", 4, tc, ce, cf, 0.5, 0.9);
    mkvariant(&cs[4], "Si", "adam", "adam", 0, t, ae, af, NAN, NAN);
    report_variant v[5];
    report_exp e;
    ref_exp(&e, v, cs, 5);
    cr_expect_eq(report_gradient_reference(&e, "Cu", REPORT_E, 0.5), &v[3],
                 "2 s after 10 updates (adam-c) beats 2 s after 20 (adam-a) and 3 s (adam-b)");
    cr_expect_eq(report_gradient_reference(&e, "Cu", REPORT_F, 0.5), &v[2], "only adam-b reaches");
    /* nobody reaches F <= 0.2: the lowest best F RMSE (adam-b 0.5 < adam-a 0.6 < adam-c 0.9) */
    cr_expect_eq(report_gradient_reference(&e, "Cu", REPORT_F, 0.2), &v[2]);
    /* nobody reaches E <= 0.3: lowest best E (adam-a 0.4) */
    cr_expect_eq(report_gradient_reference(&e, "Cu", REPORT_E, 0.3), &v[1]);
    /* E <= 0.8: adam-a and adam-b both at row 1 (1 s, 10 updates): the first listed */
    cr_expect_eq(report_gradient_reference(&e, "Cu", REPORT_E, 0.8), &v[1]);
    /* without runs or best RMSEs: the first gradient variant; none at all: NULL */
    cr_expect_eq(report_gradient_reference(&e, "Si", REPORT_E, 0.5), &v[4]);
    cr_expect_null(report_gradient_reference(&e, "H2O", REPORT_E, 0.5));
    /* equal best RMSEs when nobody reaches: the first listed (all three at 0.5 now) */
    v[1].runs[0].best_e = 0.5;
    cr_expect_eq(report_gradient_reference(&e, "Cu", REPORT_E, 0.3), &v[1]);
    /* a variant with metrics whose best RMSE is unknown does not win the fallback */
    v[1].runs[0].best_e = NAN;
    cr_expect_eq(report_gradient_reference(&e, "Cu", REPORT_E, 0.3), &v[2]);
    /* a Kalman variant labelled like a gradient type is no reference */
    strcpy(v[0].label, "adam");
    cr_expect_eq(report_gradient_reference(&e, "Cu", REPORT_F, 0.5), &v[2]);
}

/* ------------------------------------------------------------- synthetic tree -------------- */

static void mkdirs(const char *dir) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    cr_assert_eq(tu_sh(cmd), 0);
}

/* metrics.csv with n rows; weight_norm and max_weight_change are 10 + row and 0.01 x (row + 1);
 * status column "ok" except the last row. With train (the training clock) not NULL the file has
 * train_s and eval_s = wall - train columns, as written since the clock exists; without, the
 * older layout (the report then times by wall_s). */
static void write_metrics_clock(const char *exp, const char *ds, const char *label, int seed,
                                size_t n, const double *epoch, const double *upd,
                                const double *wall, const double *train, const double *te,
                                const double *tf, const char *last_status) {
    char dir[2048], path[2100];
    snprintf(dir, sizeof dir, "%s/%s/%s/seed-%d", exp, ds, label, seed);
    mkdirs(dir);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "epoch,images,updates,wall_s,%strain_rmse_e_eV_per_atom,train_rmse_f_eV_per_A,"
               "test_rmse_e_eV_per_atom,test_rmse_f_eV_per_A,lambda,lr,weight_norm,"
               "max_weight_change,status\n",
            train ? "train_s,eval_s," : "");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%.10g,%zu,%.10g,%.10g,", epoch[i], i, upd[i], wall[i]);
        if (train) fprintf(f, "%.10g,%.10g,", train[i], wall[i] - train[i]);
        fprintf(f, "%.10g,%.10g,%.10g,%.10g,0.99,nan,%.10g,%.10g,%s\n", 2 * te[i], 2 * tf[i],
                te[i], tf[i], 10.0 + (double)i, 0.01 * (double)(i + 1),
                i + 1 == n ? last_status : "ok");
    }
    fclose(f);
}

static void write_metrics(const char *exp, const char *ds, const char *label, int seed, size_t n,
                          const double *epoch, const double *upd, const double *wall,
                          const double *te, const double *tf, const char *last_status) {
    write_metrics_clock(exp, ds, label, seed, n, epoch, upd, wall, NULL, te, tf, last_status);
}

static const char *SUMMARY_HEAD =
    "dataset,label,optimizer,seed,status,reason,group,x,block_size,n_blocks,state_bytes,"
    "n_params,n_train,n_test,epochs,updates,wall_s,final_test_rmse_e_eV_per_atom,"
    "final_test_rmse_f_eV_per_A,best_test_rmse_e_eV_per_atom,best_test_rmse_f_eV_per_A,"
    "final_train_rmse_e_eV_per_atom,final_train_rmse_f_eV_per_A\n";

/* The experiment described at the top of the file; returns its folder. */
static const char *build_tree(const char *name) {
    static char exp[1024];
    snprintf(exp, sizeof exp, "%s", tu_tmp(name));
    mkdirs(exp);
    /* Cu rlekf-a: E crosses 0.75 at row 1 (equality) for both seeds (seed 2 rises again after),
     * 0.6 at row 2 (equality, seed 1) and row 3 (seed 2). */
    double ek[4] = {0, 0.5, 1, 1.5}, uk[4] = {0, 50, 100, 150};
    double wk1[4] = {0.1, 1, 2, 3}, wk2[4] = {0.1, 1.5, 2.5, 3.5};
    double ea1[4] = {1.0, 0.75, 0.6, 0.9}, ea2[4] = {1.0, 0.7, 0.9, 0.58};
    double fa1[4] = {1, 0.14, 0.11, 0.2}, fa2[4] = {1, 0.3, 0.13, 0.115};
    write_metrics(exp, "Cu", "rlekf-a", 1, 4, ek, uk, wk1, ea1, fa1, "done");
    write_metrics(exp, "Cu", "rlekf-a", 2, 4, ek, uk, wk2, ea2, fa2, "done");
    /* Cu adam: E 0.6 at row 3 (equality) / row 4; 0.75 at row 2 for both. */
    double eA[5] = {0, 1, 2, 3, 4}, uA[5] = {0, 10, 20, 30, 40}, wA[5] = {0.1, 1, 2, 3, 4};
    double eA1[5] = {1.0, 0.8, 0.7, 0.6, 0.5}, eA2[5] = {1.0, 0.9, 0.74, 0.65, 0.59};
    double fA1[5] = {1, 0.5, 0.2, 0.13, 0.1}, fA2[5] = {1, 0.5, 0.14, 0.11, 0.105};
    write_metrics(exp, "Cu", "adam", 1, 5, eA, uA, wA, eA1, fA1, "done");
    write_metrics(exp, "Cu", "adam", 2, 5, eA, uA, wA, eA2, fA2, "done");
    /* Cu rlekf-b: seed 1 diverges (nan last row) and never reaches either threshold; seed 2
     * reaches 0.75 (x1.5) only. */
    double eb1[4] = {1.0, 0.9, 0.8, NAN}, eb2[3] = {1.0, 0.8, 0.7};
    double fb1[4] = {1, 0.9, 0.8, NAN}, fb2[3] = {1, 0.9, 0.8};
    write_metrics(exp, "Cu", "rlekf-b", 1, 4, ek, uk, wk1, eb1, fb1, "diverged");
    write_metrics(exp, "Cu", "rlekf-b", 2, 3, ek, uk, wk1, eb2, fb2, "done");
    /* H2O lekf-c: three seeds, the third with only two rows and a nan. */
    double ec[3] = {0, 1, 2}, uc[3] = {0, 5, 10};
    double wc1[3] = {1, 2, 3}, wc2[3] = {1.5, 2.5, 3.5}, wc3[2] = {0.5, 1.5};
    double ec1[3] = {0.3, 0.2, 0.1}, ec2[3] = {0.5, 0.1, 0.05}, ec3[2] = {0.1, NAN};
    double fc1[3] = {0.4, 0.3, 0.2}, fc2[3] = {0.6, 0.2, 0.1}, fc3[2] = {0.5, 0.25};
    write_metrics(exp, "H2O", "lekf-c", 1, 3, ec, uc, wc1, ec1, fc1, "done");
    write_metrics(exp, "H2O", "lekf-c", 2, 3, ec, uc, wc2, ec2, fc2, "done");
    write_metrics(exp, "H2O", "lekf-c", 3, 2, ec, uc, wc3, ec3, fc3, "time_budget");

    char path[1100], text[4096];
    snprintf(path, sizeof path, "%s/summary.csv", exp);
    snprintf(text, sizeof text,
             "%s"
             "Cu,rlekf-a,rlekf,1,done,,,,1024,30,31000000,26551,40,10,1.5,150,3,0.9,0.2,0.6,0.11,"
             "1.8,0.4\n"
             "Cu,rlekf-a,rlekf,2,done,,,,1024,30,31000000,26551,40,10,1.5,150,3.5,0.58,0.115,"
             "0.58,0.115,1.16,0.23\n"
             "Cu,adam,adam,1,done,,,,,,425000,26551,40,10,4,40,4,0.5,0.1,0.5,0.1,1,0.2\n"
             "Cu,adam,adam,2,done,,,,,,425000,26551,40,10,4,40,4,0.59,0.105,0.59,0.105,1.18,0.21\n"
             "Cu,rlekf-b,rlekf,1,diverged,,stab,10,2048,15,62000000,26551,40,10,1.5,150,3,nan,nan,"
             "0.8,0.8,nan,nan\n"
             "Cu,rlekf-b,rlekf,2,done,,stab,10,2048,15,62000000,26551,40,10,1,100,2,0.7,0.8,0.7,"
             "0.8,1.4,1.6\n"
             "Cu,gekf,gekf,1,skipped,\"gekf needs 5.25 GiB, over the limit\",,,26551,1,5639550408,"
             "26551,40,10,0,0,0.002,0,0,nan,nan,0,0\n"
             "H2O,lekf-c,lekf,1,done,,,,512,20,4000000,5000,40,10,2,10,3,0.1,0.2,0.1,0.2,0.2,0.4\n"
             "H2O,lekf-c,lekf,2,done,,,,512,20,4000000,5000,40,10,2,10,3.5,0.05,0.1,0.05,0.1,0.1,"
             "0.2\n"
             "H2O,lekf-c,lekf,3,time_budget,,,,512,20,4000000,5000,40,10,1,5,1.5,nan,0.25,0.1,"
             "0.25,nan,0.5\n",
             SUMMARY_HEAD);
    tu_write(path, text);
    snprintf(path, sizeof path, "%s/provenance.json", exp);
    tu_write(path, "{\"git\": \"abc123-provenance-marker\", \"threads\": 2}\n");
    return exp;
}

/* Row of speedup.csv for (label, quantity, factor). */
static size_t speedup_row(const csvio_table *t, const char *label, const char *qty, double factor) {
    int cl = csvio_col(t, "label"), cq = csvio_col(t, "quantity"), cf = csvio_col(t, "factor");
    cr_assert(cl >= 0 && cq >= 0 && cf >= 0);
    for (size_t r = 0; r < t->nrows; r++)
        if (!strcmp(csvio_cell(t, r, (size_t)cl), label) &&
            !strcmp(csvio_cell(t, r, (size_t)cq), qty) &&
            fabs(atof(csvio_cell(t, r, (size_t)cf)) - factor) < 1e-12)
            return r;
    cr_assert_fail("no speedup row %s %s %g", label, qty, factor);
    return 0;
}

static double cell_num(const csvio_table *t, const char *path, size_t row, const char *col) {
    double v;
    cr_assert_eq(csvio_num(t, path, row, col, &v), RK_OK, "%s", err_msg());
    return v;
}

static const char *cell_str(const csvio_table *t, size_t row, const char *col) {
    int c = csvio_col(t, col);
    cr_assert(c >= 0, "no column %s", col);
    return csvio_cell(t, row, (size_t)c);
}

Test(report_tree, baselines_and_crossings_from_load) {
    const char *exp = build_tree("load");
    report_exp e;
    cr_assert_eq(report_load(exp, &e), RK_OK, "%s", err_msg());
    cr_expect_eq(e.nvars, 5);
    /* the minimum over every row of every Cu run; H2O's lower values must not leak in */
    cr_expect_eq(report_baseline(&e, "Cu", REPORT_E), 0.5);
    cr_expect_eq(report_baseline(&e, "Cu", REPORT_F), 0.1);
    cr_expect_eq(report_baseline(&e, "H2O", REPORT_E), 0.05);
    cr_expect_eq(report_baseline(&e, "H2O", REPORT_F), 0.1);
    const report_variant *a = &e.vars[0], *b = &e.vars[2];
    cr_assert_str_eq(a->label, "rlekf-a");
    cr_assert_str_eq(b->label, "rlekf-b");
    /* x1.2 E: seed 1 row 2 (epoch 1, 100 updates, 2 s), seed 2 row 3 (1.5, 150, 3.5 s) */
    report_crossing c = report_variant_crossing(a, REPORT_E, 1.2 * 0.5);
    cr_expect_eq(c.n_runs, 2);
    cr_expect_eq(c.n_reached, 2);
    cr_expect(close_rel(c.epoch, 1.25, REL_TOL));
    cr_expect(close_rel(c.updates, 125, REL_TOL));
    cr_expect(close_rel(c.clock_s, 2.75, REL_TOL));
    /* the seed spread, in the Markdown tables beside the mean; the CSV keeps the mean alone */
    cr_expect(c.lo[0] == 1.0 && c.hi[0] == 1.5 && c.lo[1] == 100 && c.hi[1] == 150);
    cr_expect(close_rel(c.lo[2], 2.0, REL_TOL) && close_rel(c.hi[2], 3.5, REL_TOL));
    cr_expect_str_eq(report_crossing_text(&c, 0, 1), "1.25 [1, 1.5]");
    cr_expect_str_eq(report_crossing_text(&c, 1, 1), "125 [100, 150]");
    cr_expect_str_eq(report_crossing_text(&c, 0, 0), "1.25");
    /* x1.5 E: row 1 for both (seed 2 dips to 0.7 and rises to 0.9 after: first crossing) */
    c = report_variant_crossing(a, REPORT_E, 1.5 * 0.5);
    cr_expect(close_rel(c.epoch, 0.5, REL_TOL));
    cr_expect(close_rel(c.updates, 50, REL_TOL));
    cr_expect(close_rel(c.clock_s, 1.25, REL_TOL));
    cr_expect_str_eq(report_crossing_text(&c, 0, 1), "0.5", "seeds agree: no spread");
    /* rlekf-b: never at x1.2; one of two seeds at x1.5 -> no mean */
    c = report_variant_crossing(b, REPORT_E, 1.2 * 0.5);
    cr_expect_eq(c.n_reached, 0);
    cr_expect(isnan(c.epoch));
    c = report_variant_crossing(b, REPORT_E, 1.5 * 0.5);
    cr_expect_eq(c.n_runs, 2);
    cr_expect_eq(c.n_reached, 1);
    cr_expect(isnan(c.epoch) && isnan(c.updates) && isnan(c.clock_s));
    /* skipped gekf has no rows */
    cr_expect_str_eq(e.vars[3].label, "gekf");
    cr_expect_eq(e.vars[3].runs[0].status, REPORT_ST_SKIPPED);
    cr_expect_null(e.vars[3].runs[0].rows);
    cr_expect_not_null(e.provenance);
    report_free(&e);
}

Test(report_cli, speedup_accuracy_curves_and_markdown) {
    const char *exp = build_tree("cli");
    char args[2048], err[2048];
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);

    char path[1200];
    csvio_table t;
    snprintf(path, sizeof path, "%s/report/speedup.csv", exp);
    cr_assert_eq(csvio_read(path, &t), RK_OK, "%s", err_msg());
    /* rlekf-a at x1.2 E: means 1.25 epochs, 125 updates, 2.75 s; adam 3.5, 35, 3.5 */
    size_t r = speedup_row(&t, "rlekf-a", "energy", 1.2);
    cr_expect(close_rel(cell_num(&t, path, r, "baseline"), 0.5, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "threshold"), 0.6, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "epochs"), 1.25, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "updates"), 125, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "train_s"), 2.75, PRINT_TOL));
    cr_expect_str_eq(cell_str(&t, r, "adam_label"), "adam");
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_epochs"), 3.5 / 1.25, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_updates"), 35.0 / 125.0, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_train_s"), 3.5 / 2.75, PRINT_TOL));
    /* x1.5 E: rlekf-a 0.5, 50, 1.25; adam 2, 20, 2 */
    r = speedup_row(&t, "rlekf-a", "energy", 1.5);
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_epochs"), 2.0 / 0.5, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_updates"), 20.0 / 50.0, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_train_s"), 2.0 / 1.25, PRINT_TOL));
    /* force x1.2 (<= 0.12): rlekf-a rows 2, 3 -> 1.25, 125, 2.75; adam rows 4, 3 -> 3.5, 35, 3.5
     * force x1.5 (<= 0.15): rlekf-a rows 1, 2 -> 0.75, 75, 1.75; adam rows 3, 2 -> 2.5, 25, 2.5 */
    r = speedup_row(&t, "rlekf-a", "force", 1.2);
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_epochs"), 3.5 / 1.25, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_train_s"), 3.5 / 2.75, PRINT_TOL));
    r = speedup_row(&t, "rlekf-a", "force", 1.5);
    cr_expect(close_rel(cell_num(&t, path, r, "epochs"), 0.75, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_epochs"), 2.5 / 0.75, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_updates"), 25.0 / 75.0, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_train_s"), 2.5 / 1.75, PRINT_TOL));
    /* never: no number, no ratio */
    r = speedup_row(&t, "rlekf-b", "energy", 1.2);
    cr_expect_str_eq(cell_str(&t, r, "epochs"), "never (0/2 reached)");
    cr_expect_str_eq(cell_str(&t, r, "ratio_epochs"), "n/a");
    r = speedup_row(&t, "rlekf-b", "energy", 1.5);
    cr_expect_str_eq(cell_str(&t, r, "updates"), "never (1/2 reached)");
    cr_expect_str_eq(cell_str(&t, r, "ratio_updates"), "n/a");
    /* no Adam variant on H2O */
    r = speedup_row(&t, "lekf-c", "energy", 1.2);
    cr_expect_str_eq(cell_str(&t, r, "ratio_train_s"), "n/a");
    cr_expect_str_eq(cell_str(&t, r, "adam_label"), "");
    csvio_free(&t);

    snprintf(path, sizeof path, "%s/report/accuracy.csv", exp);
    cr_assert_eq(csvio_read(path, &t), RK_OK, "%s", err_msg());
    cr_assert_eq(t.nrows, 5);
    cr_expect_str_eq(cell_str(&t, 0, "label"), "rlekf-a");
    cr_expect_str_eq(cell_str(&t, 0, "n_seeds"), "2");
    cr_expect(
        close_rel(cell_num(&t, path, 0, "final_test_rmse_e_eV_per_atom_mean"), 0.74, PRINT_TOL));
    cr_expect(
        close_rel(cell_num(&t, path, 0, "final_test_rmse_e_eV_per_atom_min"), 0.58, PRINT_TOL));
    cr_expect(
        close_rel(cell_num(&t, path, 0, "final_test_rmse_e_eV_per_atom_max"), 0.9, PRINT_TOL));
    cr_expect(
        close_rel(cell_num(&t, path, 0, "best_test_rmse_f_eV_per_A_mean"), 0.1125, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, 0, "wall_s_mean"), 3.25, PRINT_TOL));
    /* best / baseline (E 0.5, F 0.1): E best 0.6, 0.58 -> 1.18 (1.16, 1.2); F 0.11, 0.115 */
    cr_expect(close_rel(cell_num(&t, path, 0, "best_test_rmse_e_over_baseline_mean"), 1.18,
                        PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, 0, "best_test_rmse_e_over_baseline_min"), 1.16,
                        PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, 0, "best_test_rmse_e_over_baseline_max"), 1.2,
                        PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, 0, "best_test_rmse_f_over_baseline_mean"), 1.125,
                        PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, 0, "best_test_rmse_f_over_baseline_max"), 1.15,
                        PRINT_TOL));
    /* rlekf-b: one diverged (final nan: skipped), one done */
    cr_expect_str_eq(cell_str(&t, 2, "n_diverged"), "1");
    cr_expect_str_eq(cell_str(&t, 2, "n_done"), "1");
    cr_expect(
        close_rel(cell_num(&t, path, 2, "final_test_rmse_e_eV_per_atom_mean"), 0.7, PRINT_TOL));
    cr_expect_str_eq(cell_str(&t, 3, "n_skipped"), "1");
    /* a skipped cell's zeros in summary.csv are not results */
    cr_expect_str_eq(cell_str(&t, 3, "final_test_rmse_e_eV_per_atom_mean"), "nan");
    cr_expect_str_eq(cell_str(&t, 3, "wall_s_mean"), "nan");
    cr_expect_str_eq(cell_str(&t, 4, "n_time_budget"), "1");
    csvio_free(&t);

    /* curves of H2O lekf-c: medians over 3 seeds, then over the 2 seeds that have row 2 */
    snprintf(path, sizeof path, "%s/report/curves/H2O__lekf-c.dat", exp);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char line[1024];
    double want[3][7] = {/* wall med, E med, E min, E max, F med, |dw| med, seeds */
                         {1.0, 0.3, 0.1, 0.5, 0.5, 0.01, 3},
                         {2.0, 0.15, 0.1, 0.2, 0.25, 0.02, 3},
                         {3.25, 0.075, 0.05, 0.1, 0.15, 0.03, 2}};
    size_t row = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        double v[16];
        int n = sscanf(line, "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf",
                       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10],
                       &v[11], &v[12], &v[13], &v[14], &v[15]);
        cr_assert_eq(n, 16, "curve line: %s", line);
        cr_assert(row < 3);
        cr_expect_eq(v[0], (double)row);
        cr_expect(close_rel(v[3], want[row][0], PRINT_TOL), "row %zu wall %g", row, v[3]);
        cr_expect(close_rel(v[4], want[row][1], PRINT_TOL), "row %zu E med %g", row, v[4]);
        cr_expect(close_rel(v[5], want[row][2], PRINT_TOL), "row %zu E min %g", row, v[5]);
        cr_expect(close_rel(v[6], want[row][3], PRINT_TOL), "row %zu E max %g", row, v[6]);
        cr_expect(close_rel(v[7], want[row][4], PRINT_TOL), "row %zu F med %g", row, v[7]);
        cr_expect(close_rel(v[13], want[row][5], PRINT_TOL), "row %zu dw %g", row, v[13]);
        cr_expect_eq(v[14], want[row][6], "row %zu seeds %g", row, v[14]);
        /* every seed's |w| is 10 + row, so its drift from row 0 is the row index */
        cr_expect(close_rel(v[15], (double)row, PRINT_TOL), "row %zu |w| drift %g", row, v[15]);
        row++;
    }
    fclose(f);
    cr_expect_eq(row, 3);

    /* report.md: the experiment name and the provenance verbatim */
    snprintf(path, sizeof path, "%s/report/report.md", exp);
    char *md = NULL;
    size_t cap = 0;
    f = fopen(path, "r");
    cr_assert_not_null(f);
    ssize_t got = getdelim(&md, &cap, '\0', f);
    fclose(f);
    cr_assert(got > 0);
    cr_expect_not_null(strstr(md, "# Experiment `cli`"));
    cr_expect_not_null(strstr(md, "{\"git\": \"abc123-provenance-marker\", \"threads\": 2}"));
    cr_expect_not_null(strstr(md, "never (1/2 reached)"));
    free(md);
}

Test(report_cli, out_dir_option) {
    const char *exp = build_tree("outdir");
    char args[2048], err[2048], path[1200];
    snprintf(args, sizeof args, "report '%s' --out '%s'", exp, tu_tmp("outdir-report"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/report.md", tu_tmp("outdir-report"));
    FILE *f = fopen(path, "r");
    cr_expect_not_null(f, "%s", path);
    if (f) fclose(f);
}

/* ------------------------------------------------------------- errors ---------------------- */

static void expect_no_report(const char *exp) {
    char path[1200];
    snprintf(path, sizeof path, "%s/report/report.md", exp);
    FILE *f = fopen(path, "r");
    cr_expect_null(f, "%s written despite the error", path);
    if (f) fclose(f);
}

Test(report_errors, missing_summary) {
    const char *exp = tu_tmp("nosummary");
    mkdirs(exp);
    char args[2048], err[2048];
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_expect_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_expect_not_null(strstr(err, "summary.csv"), "%s", err);
    expect_no_report(exp);
}

Test(report_errors, done_cell_without_metrics) {
    const char *exp = tu_tmp("nometrics");
    double e[2] = {0, 1}, u[2] = {0, 5}, w[2] = {0.1, 1}, te[2] = {1, 0.5}, tf[2] = {1, 0.5};
    write_metrics(exp, "Cu", "adam", 1, 2, e, u, w, te, tf, "done");
    char path[1200], text[2048], args[2048], err[2048];
    snprintf(path, sizeof path, "%s/summary.csv", exp);
    snprintf(text, sizeof text,
             "%sCu,adam,adam,1,done,,,,,,1,1,1,1,1,5,1,0.5,0.5,0.5,0.5,1,1\n"
             "Cu,adam,adam,2,done,,,,,,1,1,1,1,1,5,1,0.5,0.5,0.5,0.5,1,1\n",
             SUMMARY_HEAD);
    tu_write(path, text);
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_expect_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_expect_not_null(strstr(err, "Cu/adam/seed-2/metrics.csv"), "%s", err);
    cr_expect_not_null(strstr(err, "row 3"), "%s", err);
    expect_no_report(exp);
}

Test(report_errors, malformed_values) {
    const char *exp = tu_tmp("badvalue");
    double e[2] = {0, 1}, u[2] = {0, 5}, w[2] = {0.1, 1}, te[2] = {1, 0.5}, tf[2] = {1, 0.5};
    write_metrics(exp, "Cu", "adam", 1, 2, e, u, w, te, tf, "done");
    char path[1200], text[2048], args[2048], err[2048];
    snprintf(path, sizeof path, "%s/summary.csv", exp);
    /* an unknown status names the row and the value */
    snprintf(text, sizeof text,
             "%sCu,adam,adam,1,finished,,,,,,1,1,1,1,1,5,1,0.5,0.5,0.5,0.5,1,1\n", SUMMARY_HEAD);
    tu_write(path, text);
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_expect_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_expect_not_null(strstr(err, "finished"), "%s", err);
    /* a non-number in a metrics file names that file, row and column */
    snprintf(text, sizeof text, "%sCu,adam,adam,1,done,,,,,,1,1,1,1,1,5,1,0.5,0.5,0.5,0.5,1,1\n",
             SUMMARY_HEAD);
    tu_write(path, text);
    snprintf(path, sizeof path, "%s/Cu/adam/seed-1/metrics.csv", exp);
    tu_write(path, "epoch,updates,wall_s,test_rmse_e_eV_per_atom,test_rmse_f_eV_per_A\n"
                   "0,0,0.1,1.0,1.0\n"
                   "1,5,1.0,abc,0.5\n");
    cr_expect_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_expect_not_null(strstr(err, "metrics.csv"), "%s", err);
    cr_expect_not_null(strstr(err, "abc"), "%s", err);
    expect_no_report(exp);
}

/* ------------------------------------------------------------- optimizer kinds ------------- */

/* What a newly registered optimizer looks like to the report: a type with a name it has never
 * seen. The Kalman one declares a block size as rlekf does. Never run, so no functions. */
static const optim_param_desc TEST_BLOCK_PARAM[] = {
    {"block_size", OPTIM_P_INT, 64.0, 1.0, 1e9, NULL, "N_b"}};
static const optim_type TEST_KALMAN = {.name = "kekf-test",
                                       .summary = "a Kalman type unknown to the report",
                                       .kind = OPTIM_KALMAN,
                                       .params = TEST_BLOCK_PARAM,
                                       .n_params = 1};
static const optim_type TEST_GRADIENT = {
    .name = "sgd-test", .summary = "a gradient type unknown to the report", .kind = OPTIM_GRADIENT};

/* Data lines (not '#') of a table file, at most max of them, each at most 511 characters. */
#define DAT_LINE_MAX 512
static size_t dat_lines(const char *path, char (*lines)[DAT_LINE_MAX], size_t max) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char line[DAT_LINE_MAX];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        cr_assert(n < max, "%s: more than %zu data lines", path, max);
        line[strcspn(line, "\n")] = '\0';
        snprintf(lines[n++], DAT_LINE_MAX, "%s", line);
    }
    fclose(f);
    return n;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *text = NULL;
    size_t cap = 0;
    cr_assert(getdelim(&text, &cap, '\0', f) > 0, "%s: empty", path);
    fclose(f);
    return text;
}

/* The bug this guards against: a Kalman variant whose optimizer the report did not know by name
 * dropped out of the ablation table and the Kalman section; a gradient variant not named adam was
 * no reference for the speed-up. */
Test(report_kinds, unseen_kalman_type_in_ablation_unseen_gradient_type_as_reference) {
    const char *exp = build_tree("kinds");
    report_exp e;
    cr_assert_eq(report_load(exp, &e), RK_OK, "%s", err_msg());
    report_variant *k = &e.vars[0], *g = &e.vars[1];
    cr_assert_str_eq(k->label, "rlekf-a");
    cr_assert_str_eq(g->label, "adam");
    k->type = &TEST_KALMAN;
    strcpy(k->optimizer, TEST_KALMAN.name);
    g->type = &TEST_GRADIENT;
    strcpy(g->optimizer, TEST_GRADIENT.name);
    cr_expect_eq(report_gradient_reference(&e, "Cu", REPORT_E, 0.6), g);
    char md_path[1200], path[1200];
    const char *out = tu_tmp("kinds-report");
    cr_assert_eq(report_write(&e, out, md_path, sizeof md_path), RK_OK, "%s", err_msg());
    report_free(&e);

    /* ablation.dat: the unseen type declares a block size, so it is a series before the one-block
     * gekf; rlekf-b stays out (group stab) */
    char lines[16][DAT_LINE_MAX];
    snprintf(path, sizeof path, "%s/ablation.dat", out);
    size_t n = dat_lines(path, lines, 16);
    cr_assert_eq(n, 3);
    cr_expect(!strncmp(lines[0], "Cu rlekf-a kekf-test 1024 30 26551 ", 35), "%s", lines[0]);
    cr_expect(!strncmp(lines[1], "Cu gekf gekf 26551 1 26551 ", 27), "%s", lines[1]);
    cr_expect(!strncmp(lines[2], "H2O lekf-c lekf 512 20 5000 ", 28), "%s", lines[2]);
    char *md = read_text(md_path);
    cr_expect_not_null(strstr(md, "| Cu | rlekf-a | kekf-test | 1024 | 30 |"), "%s", md);
    cr_expect_not_null(strstr(md, "| rlekf-a | energy | ×1.2 (600 meV/atom) | 1.25 [1, 1.5] | 125 "
                                  "[100, 150] | 2.75 [2, 3.5] | `adam` |"),
                       "%s", md);
    free(md);

    /* the gradient variant is the reference: same ratios as with adam (see report_cli) */
    csvio_table t;
    snprintf(path, sizeof path, "%s/speedup.csv", out);
    cr_assert_eq(csvio_read(path, &t), RK_OK, "%s", err_msg());
    size_t r = speedup_row(&t, "rlekf-a", "energy", 1.2);
    cr_expect_str_eq(cell_str(&t, r, "adam_label"), "adam");
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_epochs"), 3.5 / 1.25, PRINT_TOL));
    csvio_free(&t);
    /* and has no bars of its own */
    snprintf(path, sizeof path, "%s/bars.dat", out);
    n = dat_lines(path, lines, 16);
    cr_expect_eq(n, 12);
    for (size_t i = 0; i < n; i++)
        cr_expect_null(strstr(lines[i], " adam "), "%s", lines[i]);
}

/* Skipped cells of one summary.csv row each (no metrics needed); x and block_size as given. */
static const char *build_sweep(const char *name) {
    static char exp[1024];
    snprintf(exp, sizeof exp, "%s", tu_tmp(name));
    mkdirs(exp);
    char path[1100], text[4096];
    snprintf(path, sizeof path, "%s/summary.csv", exp);
    /* gekf's empty block_size is an older tree's: its N_b is N */
    snprintf(text, sizeof text,
             "%s"
             "Cu,gekf,gekf,1,skipped,over the limit,,,,1,5639550408,26551,40,10,0,0,0,0,0,nan,nan,"
             "0,0\n"
             "Cu,lekf-5120,lekf,1,skipped,,,,5120,9,1000,26551,40,10,0,0,0,0,0,nan,nan,0,0\n"
             "Cu,rlekf-4096,rlekf,1,skipped,,block_size,4096,4096,8,1000,26551,40,10,0,0,0,0,0,"
             "nan,nan,0,0\n"
             "Cu,rlekf-init10,rlekf,1,skipped,,init_scale,10,5120,7,1000,26551,40,10,0,0,0,0,0,"
             "nan,nan,0,0\n"
             "Cu,kalman-new,rlekf,1,skipped,,block_size,256,256,110,1000,26551,40,10,0,0,0,0,0,"
             "nan,nan,0,0\n"
             "Cu,adam,adam,1,skipped,,,,,,1000,26551,40,10,0,0,0,0,0,nan,nan,0,0\n"
             "Si,rlekf,rlekf,1,skipped,,,,5120,7,1000,20000,40,10,0,0,0,0,0,nan,nan,0,0\n",
             SUMMARY_HEAD);
    tu_write(path, text);
    return exp;
}

Test(report_kinds, ablation_order_and_block_size_group) {
    const char *exp = build_sweep("sweep");
    char args[2048], err[2048], path[1200];
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    /* per dataset: types declaring a block size in registry order (rlekf, lekf), then gekf; N_b
     * ascending within a type; the new label of a registered Kalman type is in its series; the
     * init-scale variant (another group) and adam are not */
    static const char *const want[] = {"Cu kalman-new rlekf 256 ", "Cu rlekf-4096 rlekf 4096 ",
                                       "Cu lekf-5120 lekf 5120 ", "Cu gekf gekf 26551 ",
                                       "Si rlekf rlekf 5120 "};
    char lines[16][DAT_LINE_MAX];
    snprintf(path, sizeof path, "%s/report/ablation.dat", exp);
    size_t n = dat_lines(path, lines, 16);
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < n; i++)
        cr_expect(!strncmp(lines[i], want[i], strlen(want[i])), "line %zu: %s (want %s...)", i,
                  lines[i], want[i]);
    /* the Kalman section lists every Kalman variant, in summary.csv order, the init one too */
    snprintf(path, sizeof path, "%s/report/report.md", exp);
    char *md = read_text(path);
    const char *sec = strstr(md, "## Kalman variants");
    cr_assert_not_null(sec);
    const char *rows[] = {
        "| Cu | gekf | gekf | 26551 |",       "| Cu | lekf-5120 | lekf | 5120 |",
        "| Cu | rlekf-4096 | rlekf | 4096 |", "| Cu | rlekf-init10 | rlekf | 5120 |",
        "| Cu | kalman-new | rlekf | 256 |",  "| Si | rlekf | rlekf | 5120 |"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *at = strstr(sec, rows[i]);
        cr_expect_not_null(at, "%s", rows[i]);
        if (at) sec = at;
    }
    cr_expect_null(strstr(strstr(md, "## Kalman variants"), "| Cu | adam |"));
    free(md);
}

Test(report_errors, unregistered_optimizer) {
    const char *exp = tu_tmp("unregistered");
    mkdirs(exp);
    char path[1200], text[2048], args[2048], err[2048];
    snprintf(path, sizeof path, "%s/summary.csv", exp);
    snprintf(text, sizeof text, "%sCu,new,kekf-x,1,skipped,,,,,,1,1,1,1,0,0,0,0,0,nan,nan,0,0\n",
             SUMMARY_HEAD);
    tu_write(path, text);
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_expect_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_expect_not_null(strstr(err, "row 2 column optimizer: unknown optimizer 'kekf-x'"), "%s",
                       err);
    cr_expect_not_null(strstr(err, optim_names()), "%s", err);
    expect_no_report(exp);
}

/* ------------------------------------------------------------- tables for plots/ ----------- */

Test(report_cli, plot_tables) {
    const char *exp = build_tree("plots");
    char args[2048], err[2048], path[1200];
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    char lines[16][DAT_LINE_MAX];
    snprintf(path, sizeof path, "%s/report/baselines.dat", exp);
    cr_assert_eq(dat_lines(path, lines, 16), 2);
    cr_expect_str_eq(lines[0], "Cu 0.5 0.1");
    cr_expect_str_eq(lines[1], "H2O 0.05 0.1");
    /* bars: the Cu variants other than the reference, four bars each (E, F at x1.2, then x1.5)
     * and a gap; the ratios of report_cli's speed-up test; H2O has no reference, so no bars */
    snprintf(path, sizeof path, "%s/report/bars.dat", exp);
    cr_assert_eq(dat_lines(path, lines, 16), 12);
    cr_expect_str_eq(lines[0], "0 Cu rlekf-a energy 1.2 2.8 0.28 1.27273 ok 2 2 2 2 adam");
    cr_expect_str_eq(lines[3], "3 Cu rlekf-a force 1.5 3.33333 0.333333 1.42857 ok 2 2 2 2 adam");
    cr_expect_str_eq(lines[4], "5 Cu rlekf-b energy 1.2 nan nan nan never 0 2 2 2 adam");
    cr_expect_str_eq(lines[6], "7 Cu rlekf-b energy 1.5 nan nan nan never 1 2 2 2 adam");
    cr_expect_str_eq(lines[8], "10 Cu gekf energy 1.2 nan nan nan no_runs 0 0 2 2 adam");
    snprintf(path, sizeof path, "%s/report/bars_groups.dat", exp);
    cr_assert_eq(dat_lines(path, lines, 16), 3);
    cr_expect_str_eq(lines[0], "1.5 Cu rlekf-a adam");
    cr_expect_str_eq(lines[2], "11.5 Cu gekf adam");
    /* stability: the grouped variant, max |dw| = 0.01 x 4 rows */
    snprintf(path, sizeof path, "%s/report/stability.dat", exp);
    cr_assert_eq(dat_lines(path, lines, 16), 1);
    cr_expect_str_eq(lines[0], "Cu stab 10 rlekf-b rlekf 0.7 0.8 1 1 0 0 0 0.04 Cu__rlekf-b.dat");
    /* variants: the skipped gekf has no metrics and no curve */
    snprintf(path, sizeof path, "%s/report/variants.dat", exp);
    cr_assert_eq(dat_lines(path, lines, 16), 5);
    cr_expect_str_eq(lines[3], "Cu gekf gekf - nan 1 0 -");
    cr_expect_str_eq(lines[4], "H2O lekf-c lekf - nan 3 3 H2O__lekf-c.dat");
}

/* ------------------------------------------------------------- a fair race ---------------- */

/* Cu, one seed each, with the training clock and the machine share: rlekf, and two Adam
 * variants of which adam-e is the strongest for energy, adam-f for force (worked out below);
 * adam-f ran with jobs_f cells at once; jobs_f 0: summary.csv has no jobs and threads columns
 * (an older tree) and provenance.json says the run had -j 2. Baselines: E 0.5, F 0.1 (rlekf). */
static const char *build_race(const char *name, int jobs_f) {
    static char exp[1024];
    snprintf(exp, sizeof exp, "%s", tu_tmp(name));
    mkdirs(exp);
    double ep[4] = {0, 1, 2, 3};
    /* rlekf: E 0.6 (x1.2) and F 0.12 (x1.2) at row 1 (1 s, 50 updates), E 0.75 and F 0.15 too */
    double uk[4] = {0, 50, 100, 150}, tk[4] = {0, 1, 2, 3};
    double ek[4] = {1, 0.6, 0.5, 0.5}, fk[4] = {1, 0.12, 0.1, 0.1};
    write_metrics_clock(exp, "Cu", "rlekf", 1, 4, ep, uk, tk, tk, ek, fk, "done");
    /* adam-e: E 0.75 at row 1 (2 s), E 0.6 at row 2 (4 s, 20 updates); F never below 0.3 */
    double ua[4] = {0, 10, 20, 30}, ta[4] = {0, 2, 4, 6};
    double ea[4] = {1, 0.7, 0.6, 0.55}, fa[4] = {1, 0.5, 0.4, 0.3};
    write_metrics_clock(exp, "Cu", "adam-e", 1, 4, ep, ua, ta, ta, ea, fa, "done");
    /* adam-f: F 0.15 at row 1 (3 s), F 0.12 at row 2 (6 s, 20 updates); E 0.75 only at row 3
     * (9 s), E 0.6 never */
    double tf_[4] = {0, 3, 6, 9};
    double ef[4] = {1, 0.9, 0.8, 0.65}, ff[4] = {1, 0.14, 0.12, 0.11};
    write_metrics_clock(exp, "Cu", "adam-f", 1, 4, ep, ua, tf_, tf_, ef, ff, "done");
    char path[1100], text[4096];
    snprintf(path, sizeof path, "%s/summary.csv", exp);
    snprintf(text, sizeof text,
             "dataset,label,optimizer,seed,status,reason,group,x,block_size,n_blocks,state_bytes,"
             "n_params,n_train,n_test,epochs,updates,wall_s,train_s,eval_s,"
             "final_test_rmse_e_eV_per_atom,final_test_rmse_f_eV_per_A,"
             "best_test_rmse_e_eV_per_atom,best_test_rmse_f_eV_per_A,"
             "final_train_rmse_e_eV_per_atom,final_train_rmse_f_eV_per_A,jobs,threads\n"
             "Cu,rlekf,rlekf,1,done,,,,1024,30,1000,26551,40,10,3,150,3,3,0,0.5,0.1,0.5,0.1,1,"
             "0.2,1,2\n"
             "Cu,adam-e,adam,1,done,,,,,,1000,26551,40,10,3,30,6,6,0,0.55,0.3,0.55,0.3,1,0.6,1,"
             "2\n"
             "Cu,adam-f,adam,1,done,,,,,,1000,26551,40,10,3,30,9,9,0,0.65,0.11,0.65,0.11,1,0.2,"
             "%d,1\n",
             jobs_f);
    if (jobs_f == 0) {
        /* drop ",jobs,threads" and each row's last two fields */
        char *at = strstr(text, ",jobs,threads");
        memmove(at, at + strlen(",jobs,threads"), strlen(at + strlen(",jobs,threads")) + 1);
        for (char *nl = strchr(text, '\n'); nl && (nl = strchr(nl + 1, '\n'));) {
            char *cut = nl;
            for (int k = 0; k < 2; k++)
                while (*--cut != ',') {
                }
            memmove(cut, nl, strlen(nl) + 1);
            nl = cut;
        }
    }
    tu_write(path, text);
    if (jobs_f == 0) {
        snprintf(path, sizeof path, "%s/provenance.json", exp);
        tu_write(path, "{\"experiment\": \"race\", \"jobs\": 2, \"threads_per_job\": 1}\n");
    }
    return exp;
}

Test(report_race, each_quantity_races_its_strongest_adam) {
    const char *exp = build_race("race", 1);
    char args[2048], err[4096], path[1200];
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    cr_expect_null(strstr(err, "shared the machine"), "%s", err);
    csvio_table t;
    snprintf(path, sizeof path, "%s/report/speedup.csv", exp);
    cr_assert_eq(csvio_read(path, &t), RK_OK, "%s", err_msg());
    /* energy: adam-e (the only one at x1.2; 2 s against 9 s at x1.5) */
    size_t r = speedup_row(&t, "rlekf", "energy", 1.2);
    cr_expect_str_eq(cell_str(&t, r, "adam_label"), "adam-e");
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_train_s"), 4.0 / 1.0, PRINT_TOL));
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_updates"), 20.0 / 50.0, PRINT_TOL));
    r = speedup_row(&t, "rlekf", "energy", 1.5);
    cr_expect_str_eq(cell_str(&t, r, "adam_label"), "adam-e");
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_train_s"), 2.0 / 1.0, PRINT_TOL));
    /* force: adam-f (adam-e never reaches) */
    r = speedup_row(&t, "rlekf", "force", 1.2);
    cr_expect_str_eq(cell_str(&t, r, "adam_label"), "adam-f");
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_train_s"), 6.0 / 1.0, PRINT_TOL));
    r = speedup_row(&t, "rlekf", "force", 1.5);
    cr_expect_str_eq(cell_str(&t, r, "adam_label"), "adam-f");
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_train_s"), 3.0 / 1.0, PRINT_TOL));
    /* the Adam variants against each other: adam-f's energy against adam-e (2 s / 9 s) */
    r = speedup_row(&t, "adam-f", "energy", 1.5);
    cr_expect_str_eq(cell_str(&t, r, "adam_label"), "adam-e");
    cr_expect(close_rel(cell_num(&t, path, r, "ratio_train_s"), 2.0 / 9.0, PRINT_TOL));
    r = speedup_row(&t, "adam-e", "energy", 1.5);
    cr_expect_str_eq(cell_str(&t, r, "ratio_train_s"), "n/a", "the reference itself");
    csvio_free(&t);
    /* bars.dat: per bar its own reference and that side's seeds */
    char lines[16][DAT_LINE_MAX];
    snprintf(path, sizeof path, "%s/report/bars.dat", exp);
    cr_assert_eq(dat_lines(path, lines, 16), 4);
    cr_expect_str_eq(lines[0], "0 Cu rlekf energy 1.2 2 0.4 4 ok 1 1 1 1 adam-e");
    cr_expect_str_eq(lines[1], "1 Cu rlekf force 1.2 2 0.4 6 ok 1 1 1 1 adam-f");
    snprintf(path, sizeof path, "%s/report/bars_groups.dat", exp);
    cr_assert_eq(dat_lines(path, lines, 16), 1);
    cr_expect_str_eq(lines[0], "1.5 Cu rlekf adam-e/adam-f");
    /* report.md names the reference of every row */
    snprintf(path, sizeof path, "%s/report/report.md", exp);
    char *md = read_text(path);
    cr_expect_not_null(strstr(md, "| rlekf | energy | ×1.2 (600 meV/atom) | 1 | 50 | 1 | `adam-e` | 2 "
                                  "| 0.4 | 4 |"),
                       "%s", md);
    cr_expect_not_null(strstr(md, "| rlekf | force | ×1.2 (120 meV/Å) | 1 | 50 | 1 | `adam-f` | 2 "
                                  "| 0.4 | 6 |"),
                       "%s", md);
    cr_expect_null(strstr(md, "shared the machine"));
    free(md);
}

Test(report_race, time_ratios_of_cells_that_shared_the_machine_are_flagged) {
    const char *exp = build_race("race-shared", 2);
    char args[2048], err[4096], path[1200];
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    /* adam-f ran beside another cell: rlekf's two force ratios and adam-f's energy x1.5 ratio */
    cr_expect_not_null(strstr(err, "warning: 3 time ratio(s) compare cells that shared the machine"),
                       "%s", err);
    snprintf(path, sizeof path, "%s/report/report.md", exp);
    char *md = read_text(path);
    cr_expect_not_null(strstr(md, "**Warning:** 3 time ratio(s) (marked †)"), "%s", md);
    cr_expect_not_null(strstr(md, "`adam-f` | 2 | 0.4 | 6 † |"), "%s", md);
    cr_expect_not_null(strstr(md, "`adam-e` | 2 | 0.4 | 4 |"), "energy is not flagged: %s", md);
    free(md);
    /* an older tree without the columns: provenance.json's -j 2 stands for every cell, so every
     * finite time ratio is flagged (rlekf's four, adam-f's energy x1.5) */
    exp = build_race("race-old", 0);
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    cr_expect_not_null(strstr(err, "warning: 5 time ratio(s)"), "%s", err);
}

/* ------------------------------------------------------------- schema ---------------------- */

static void expect_header(const char *const *cols, size_t n, const char *want) {
    char got[2048] = "";
    for (size_t i = 0; i < n; i++) {
        cr_assert_not_null(cols[i], "column %zu has no name", i);
        for (size_t j = 0; j < i; j++)
            cr_expect_str_neq(cols[i], cols[j], "column %zu repeats %zu", i, j);
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "," : "", cols[i]);
    }
    cr_expect_str_eq(got, want);
}

/* The headers are file formats: the committed results and plots/ read these names in this
 * order. */
Test(report_schema, headers_as_documented) {
    expect_header(schema_metrics_cols, SCHEMA_METRICS_NCOLS,
                  "epoch,images,updates,wall_s,train_s,eval_s,train_rmse_e_eV_per_atom,"
                  "train_rmse_f_eV_per_A,test_rmse_e_eV_per_atom,test_rmse_f_eV_per_A,lambda,lr,"
                  "weight_norm,max_weight_change,status");
    expect_header(schema_summary_cols, SCHEMA_SUMMARY_NCOLS,
                  "dataset,label,optimizer,seed,status,reason,group,x,block_size,n_blocks,"
                  "state_bytes,n_params,n_train,n_test,epochs,updates,wall_s,train_s,eval_s,"
                  "final_test_rmse_e_eV_per_atom,final_test_rmse_f_eV_per_A,"
                  "best_test_rmse_e_eV_per_atom,best_test_rmse_f_eV_per_A,"
                  "final_train_rmse_e_eV_per_atom,final_train_rmse_f_eV_per_A,jobs,threads,"
                  "batch_size,"

                  "md_nve_status,md_nve_stable_ps,md_nve_drift_meV_per_atom_per_ps,"
                  "md_nve_fluct_meV_per_atom,md_nve_rdf_mae,md_nvt_status,md_nvt_stable_ps,"
                  "md_nvt_drift_meV_per_atom_per_ps,md_nvt_fluct_meV_per_atom,md_nvt_rdf_mae");
    expect_header(schema_thermo_cols, SCHEMA_THERMO_NCOLS,
                  "step,time_ps,potential_eV,kinetic_eV,total_eV,temperature_K,"
                  "min_pair_distance_A");
    expect_header(schema_rdf_cols, SCHEMA_RDF_NCOLS, "pair,r_A,g_md,g_dft");
    expect_header(schema_accuracy_cols, SCHEMA_ACCURACY_NCOLS,
                  "dataset,label,optimizer,n_seeds,n_done,n_diverged,n_time_budget,n_skipped,"
                  "n_failed,final_test_rmse_e_eV_per_atom_mean,final_test_rmse_e_eV_per_atom_min,"
                  "final_test_rmse_e_eV_per_atom_max,final_test_rmse_f_eV_per_A_mean,"
                  "final_test_rmse_f_eV_per_A_min,final_test_rmse_f_eV_per_A_max,"
                  "best_test_rmse_e_eV_per_atom_mean,best_test_rmse_e_eV_per_atom_min,"
                  "best_test_rmse_e_eV_per_atom_max,best_test_rmse_f_eV_per_A_mean,"
                  "best_test_rmse_f_eV_per_A_min,best_test_rmse_f_eV_per_A_max,epochs_mean,"
                  "updates_mean,wall_s_mean,train_s_mean,best_test_rmse_e_over_baseline_mean,"
                  "best_test_rmse_e_over_baseline_min,best_test_rmse_e_over_baseline_max,"
                  "best_test_rmse_f_over_baseline_mean,best_test_rmse_f_over_baseline_min,"
                  "best_test_rmse_f_over_baseline_max");
    expect_header(schema_speedup_cols, SCHEMA_SPEEDUP_NCOLS,
                  "dataset,label,optimizer,quantity,unit,factor,baseline,threshold,seeds_reached,"
                  "seeds,epochs,updates,train_s,adam_label,ratio_epochs,ratio_updates,ratio_train_s");
}

/* Time speed-ups use the training clock (SPEC §4): the same training times with evaluations that
 * cost 3x or 30x more wall time on the Adam side give the same ratio, and the report says which
 * clock it used. */
static double clock_ratio(const char *name, double eval_factor, int *warned) {
    const char *exp = build_tree(name);
    /* Cu adam again, now with a training clock: train_s is the old wall column, and wall_s grows
     * by the evaluations (eval_factor x the training time). */
    double eA[5] = {0, 1, 2, 3, 4}, uA[5] = {0, 10, 20, 30, 40}, tA[5] = {0.1, 1, 2, 3, 4};
    double wA[5];
    for (int i = 0; i < 5; i++)
        wA[i] = tA[i] * (1.0 + eval_factor);
    double eA1[5] = {1.0, 0.8, 0.7, 0.6, 0.5}, eA2[5] = {1.0, 0.9, 0.74, 0.65, 0.59};
    double fA1[5] = {1, 0.5, 0.2, 0.13, 0.1}, fA2[5] = {1, 0.5, 0.14, 0.11, 0.105};
    write_metrics_clock(exp, "Cu", "adam", 1, 5, eA, uA, wA, tA, eA1, fA1, "done");
    write_metrics_clock(exp, "Cu", "adam", 2, 5, eA, uA, wA, tA, eA2, fA2, "done");
    /* and rlekf-a with a clock equal to its old wall column, evaluations free */
    double ek[4] = {0, 0.5, 1, 1.5}, uk[4] = {0, 50, 100, 150};
    double wk1[4] = {0.1, 1, 2, 3}, wk2[4] = {0.1, 1.5, 2.5, 3.5};
    double ea1[4] = {1.0, 0.75, 0.6, 0.9}, ea2[4] = {1.0, 0.7, 0.9, 0.58};
    double fa1[4] = {1, 0.14, 0.11, 0.2}, fa2[4] = {1, 0.3, 0.13, 0.115};
    write_metrics_clock(exp, "Cu", "rlekf-a", 1, 4, ek, uk, wk1, wk1, ea1, fa1, "done");
    write_metrics_clock(exp, "Cu", "rlekf-a", 2, 4, ek, uk, wk2, wk2, ea2, fa2, "done");
    char args[2048], err[2048], path[1200];
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/report/speedup.csv", exp);
    csvio_table t;
    cr_assert_eq(csvio_read(path, &t), RK_OK, "%s", err_msg());
    double r = cell_num(&t, path, speedup_row(&t, "rlekf-a", "energy", 1.2), "ratio_train_s");
    csvio_free(&t);
    snprintf(path, sizeof path, "%s/report/report.md", exp);
    char *md;
    cr_assert_eq(fs_read_all(path, &md, NULL), RK_OK);
    *warned = strstr(md, "without a training clock") != NULL;
    free(md);
    return r;
}

Test(report_cli, speedup_uses_the_training_clock_not_wall_time) {
    int w3, w30;
    double r3 = clock_ratio("clock3", 3.0, &w3), r30 = clock_ratio("clock30", 30.0, &w30);
    /* adam reaches x1.2 E at 3.5 s of training (rows 3 and 4 of its seeds), rlekf-a at 2.75 s */
    cr_expect(close_rel(r3, 3.5 / 2.75, PRINT_TOL), "ratio %.6g", r3);
    cr_expect_eq(r3, r30, "evaluation time changed the ratio: %.17g vs %.17g", r3, r30);
    /* the other variants of the tree still lack the clock: the report says so */
    cr_expect(w3 && w30);
}

/* ------------------------------------------------------------- batch size ---------------- */

/* Cu: rlekf at B 4 and 1 (two seeds), adam at B 8 and 1, an rlekf variant in a group (another
 * question) at B 2; H2O: rlekf at B 1 only. Only Cu's rlekf and adam form batch-size sweeps. */
static const char *build_batch(const char *name) {
    static char exp[1024];
    snprintf(exp, sizeof exp, "%s", tu_tmp(name));
    mkdirs(exp);
    double ep[3] = {0, 1, 2}, up[3] = {0, 10, 20}, wall[3] = {0.1, 1, 2}, tr[3] = {0, 0.5, 1};
    double e1[3] = {1, 0.5, 0.1}, f1[3] = {1, 0.5, 0.1};   /* baseline 0.1: x1.2 at row 2 */
    double e2[3] = {1, 0.11, 0.2}, f2[3] = {1, 0.14, 0.3}; /* x1.5 at row 1 */
    write_metrics_clock(exp, "Cu", "rlekf-b4", 1, 3, ep, up, wall, tr, e2, f2, "done");
    write_metrics_clock(exp, "Cu", "rlekf-b4", 2, 3, ep, up, wall, tr, e1, f1, "done");
    write_metrics_clock(exp, "Cu", "rlekf-b1", 1, 3, ep, up, wall, tr, e1, f1, "done");
    write_metrics_clock(exp, "Cu", "rlekf-b1", 2, 3, ep, up, wall, tr, e1, f1, "done");
    write_metrics_clock(exp, "Cu", "adam-b8", 1, 3, ep, up, wall, tr, e2, f2, "done");
    write_metrics_clock(exp, "Cu", "adam-b1", 1, 3, ep, up, wall, tr, e1, f1, "done");
    write_metrics_clock(exp, "Cu", "rlekf-init", 1, 3, ep, up, wall, tr, e1, f1, "done");
    write_metrics_clock(exp, "H2O", "rlekf", 1, 3, ep, up, wall, tr, e1, f1, "done");
    char path[1100], text[4096];
    snprintf(path, sizeof path, "%s/summary.csv", exp);
    const char *tail = ",5120,7,1000,26551,40,10,2,20,2,1,1,0.2,0.3,0.11,0.14,0.2,0.3,1,2,";
    snprintf(text, sizeof text,
             "dataset,label,optimizer,seed,status,reason,group,x,block_size,n_blocks,state_bytes,"
             "n_params,n_train,n_test,epochs,updates,wall_s,train_s,eval_s,"
             "final_test_rmse_e_eV_per_atom,final_test_rmse_f_eV_per_A,"
             "best_test_rmse_e_eV_per_atom,best_test_rmse_f_eV_per_A,"
             "final_train_rmse_e_eV_per_atom,final_train_rmse_f_eV_per_A,jobs,threads,batch_size\n"
             "Cu,rlekf-b4,rlekf,1,done,,,%s4\n"
             "Cu,rlekf-b4,rlekf,2,done,,,%s4\n"
             "Cu,rlekf-b1,rlekf,1,done,,,%s1\n"
             "Cu,rlekf-b1,rlekf,2,done,,,%s1\n"
             "Cu,adam-b8,adam,1,done,,,%s8\n"
             "Cu,adam-b1,adam,1,done,,,%s1\n"
             "Cu,rlekf-init,rlekf,1,done,,init_scale,10%s2\n"
             "H2O,rlekf,rlekf,1,done,,,%s1\n",
             tail, tail, tail, tail, tail, tail, tail, tail);
    tu_write(path, text);
    return exp;
}

Test(report_batch, table_per_optimizer_and_batch_size) {
    const char *exp = build_batch("batch");
    char args[2048], err[2048], path[1200];
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    /* rows: per dataset and type (first appearance), by B; the grouped variant and H2O's single
     * batch size are not a sweep */
    static const char *const want[] = {"Cu rlekf-b1 rlekf 1 2 2 ", "Cu rlekf-b4 rlekf 4 2 2 ",
                                       "Cu adam-b1 adam 1 1 1 ", "Cu adam-b8 adam 8 1 1 "};
    char lines[16][DAT_LINE_MAX];
    snprintf(path, sizeof path, "%s/report/batch_size.dat", exp);
    size_t n = dat_lines(path, lines, 16);
    cr_assert_eq(n, 4);
    for (size_t i = 0; i < n; i++)
        cr_expect(!strncmp(lines[i], want[i], strlen(want[i])), "line %zu: %s (want %s...)", i,
                  lines[i], want[i]);
    /* rlekf-b4: final F mean 0.3 (both seeds' summary value); f x1.2 (0.12): seed 1 never, so
     * nan; f x1.5 (0.15): row 1 (seed 1) and row 2 (seed 2): epochs 1.5, updates 15, train 0.75 */
    char ds[32], lb[32], op[32];
    double B, nd, ns, v[24];
    int got = sscanf(lines[1],
                     "%31s %31s %31s %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf "
                     "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf",
                     ds, lb, op, &B, &nd, &ns, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                     &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15], &v[16],
                     &v[17], &v[18], &v[19], &v[20], &v[21], &v[22], &v[23]);
    cr_assert_eq(got, 24, "%s", lines[1]);
    cr_expect_float_eq(v[3], 0.3, 1e-12, "final F mean");
    cr_expect(isnan(v[6 + 6]), "f x1.2 epochs: one seed never crossed");
    cr_expect_float_eq(v[6 + 9], 1.5, 1e-12, "f x1.5 epochs");
    cr_expect_float_eq(v[6 + 10], 15, 1e-12, "f x1.5 updates");
    cr_expect_float_eq(v[6 + 11], 0.75, 1e-12, "f x1.5 train_s");
    snprintf(path, sizeof path, "%s/report/report.md", exp);
    char *md = read_text(path);
    char *sec = strstr(md, "## Batch size");
    cr_assert_not_null(sec);
    char *next = strstr(sec + 1, "\n## ");
    if (next) *next = '\0'; /* the section only */
    cr_expect_not_null(strstr(sec, "| Cu | rlekf | 4 | rlekf-b4 | 2 |"));
    cr_expect_not_null(strstr(sec, "| Cu | rlekf | 4 | rlekf-b4 | force | ×1.5 (150 meV/Å) | 15 "
                                   "[10, 20] | 1.5 [1, 2] | 0.75 [0.5, 1] |"));
    cr_expect_null(strstr(sec, "rlekf-init"));
    free(md);
    /* a tree without the column is all batch size 1: no section */
    exp = build_tree("batch-none");
    snprintf(args, sizeof args, "report '%s'", exp);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/report/report.md", exp);
    md = read_text(path);
    cr_expect_null(strstr(md, "## Batch size"));
    free(md);
}
