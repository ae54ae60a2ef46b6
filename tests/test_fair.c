/* The fair race (SPEC §3, §4): Adam anneals over the run it is given, unless told otherwise.
 * stop_steps unset = the run's total number of steps, DeePMD-kit's clamp of decay_steps on short
 * runs, the resolved values in config.json, and the learning rate reaching stop_lr at the end. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "csvio.h"
#include "fs.h"
#include "jsonw.h"
#include "modelutil.h"
#include "registry.h"
#include "testutil.h"
#include "train.h"

/* lr(T) = lr0·γ^⌊T/ds⌋ with γ^(ss/ds) = stop/lr0 is stop_lr up to the rounding of pow. */
#define LR_RTOL 1e-12

static void resolved(size_t total, int set_stop, double stop, double decay, double *ss,
                     double *ds) {
    const optim_type *t = optim_find("adam");
    optim_params p;
    optim_default_params(t, &p);
    if (set_stop) cr_assert_eq(optim_set_param(t, &p, "t", "stop_steps", stop), RK_OK);
    cr_assert_eq(optim_set_param(t, &p, "t", "decay_steps", decay), RK_OK);
    optim_run_info run = {.total_steps = total};
    cr_assert_eq(optim_resolve(t, &p, &run), RK_OK);
    *ss = p.v[optim_param_index(t, "stop_steps")];
    *ds = p.v[optim_param_index(t, "decay_steps")];
}

Test(fair, adam_stop_steps_default_to_the_run_length_with_deepmd_clamp) {
    double ss, ds;
    resolved(48000, 0, 0, 5000, &ss, &ds); /* a long run: as configured */
    cr_assert_eq(ss, 48000);
    cr_assert_eq(ds, 5000);
    resolved(4800, 0, 0, 5000, &ss, &ds); /* decay_steps >= stop_steps, stop/10 > 100: 100 */
    cr_assert_eq(ss, 4800);
    cr_assert_eq(ds, 100);
    resolved(1010, 0, 0, 5000, &ss, &ds); /* 1010/10 = 101 > 100 */
    cr_assert_eq(ds, 100);
    resolved(1000, 0, 0, 5000, &ss, &ds); /* 1000/10 = 100, not > 100: 1000/100 + 1 */
    cr_assert_eq(ds, 11);
    resolved(18, 0, 0, 5000, &ss, &ds); /* 18/100 + 1, integer division */
    cr_assert_eq(ds, 1);
    resolved(4800, 1, 1e6, 5000, &ss, &ds); /* the authors' fixed 1e6 still wins when given */
    cr_assert_eq(ss, 1e6);
    cr_assert_eq(ds, 5000);
    resolved(4800, 1, 5000, 5000, &ss, &ds); /* given, and the clamp applies to it as well */
    cr_assert_eq(ss, 5000);
    cr_assert_eq(ds, 100);
}

Test(fair, adam_run_records_resolved_schedule_and_reaches_stop_lr) {
    const char *data = tu_tmp("cu.h5");
    char err[512];
    char args[2048];
    snprintf(args, sizeof args, "import -o %s %s", data, tu_src("datasets/Cu/0_300_MOVEMENT"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    const char *out = tu_tmp("adam");
    const char *cfg = tu_tmp("adam.json");
    char text[2048];
    snprintf(text, sizeof text,
             "{\"model\": {\"sel\": [81], \"neuron\": [4, 8, 8], \"axis_neuron\": 4, "
             "\"fitting_neuron\": [10, 10]}, \"optimizer\": {\"type\": \"adam\"},\n"
             " \"training\": {\"dataset\": \"%s\", \"epochs\": 3, \"seed\": 1, "
             "\"max_train_frames\": 6, \"eval_every\": 5, \"eval_max_frames\": 2},\n"
             " \"output\": \"%s\"}\n",
             data, out);
    tu_write(cfg, text);
    snprintf(args, sizeof args, "train %s --quiet", cfg);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    /* 3 epochs x 6 images = 18 Adam steps */
    char p[2048];
    snprintf(p, sizeof p, "%s/config.json", out);
    jsonw *root;
    cr_assert_eq(jsonw_parse_file(p, &root), RK_OK, "%s", err_msg());
    const jsonw *o = jsonw_get(root, "optimizer");
    cr_assert(o);
    cr_assert_eq(jsonw_number(jsonw_get(o, "stop_steps")), 18);
    cr_assert_eq(jsonw_number(jsonw_get(o, "decay_steps")), 1);
    double stop_lr = jsonw_number(jsonw_get(o, "stop_lr"));
    jsonw_free(root);
    snprintf(p, sizeof p, "%s/metrics.csv", out);
    csvio_table t;
    cr_assert_eq(csvio_read(p, &t), RK_OK, "%s", err_msg());
    int cu = -1, cl = -1;
    for (size_t c = 0; c < t.ncols; c++) {
        if (strcmp(t.header[c], "updates") == 0) cu = (int)c;
        if (strcmp(t.header[c], "lr") == 0) cl = (int)c;
    }
    cr_assert(cu >= 0 && cl >= 0);
    const size_t last = t.nrows - 1;
    cr_assert_eq(atof(csvio_cell(&t, last, (size_t)cu)), 18);
    double lr = atof(csvio_cell(&t, last, (size_t)cl));
    cr_assert_leq(fabs(lr - stop_lr), LR_RTOL * stop_lr, "last lr %.17g, stop_lr %.17g", lr,
                  stop_lr);
    /* and it decayed monotonically on the way */
    for (size_t r = 1; r < t.nrows; r++)
        cr_assert_leq(atof(csvio_cell(&t, r, (size_t)cl)), atof(csvio_cell(&t, r - 1, (size_t)cl)));
    csvio_free(&t);
}

/* train_budget_s stops on the training clock, not the wall clock: with an evaluation after every
 * update on 40 frames (far dearer than the update), a budget on wall time would stop the run with
 * train_s well below the budget; on the training clock the last train_s is past the budget and
 * at most one update beyond it, and the run ends time_budget before its 6 epochs. */
Test(fair, train_budget_counts_training_time_only, .timeout = 300) {
    const char *data = tu_tmp("cu-b.h5");
    char err[512], args[2048], text[2048], p[2048];
    snprintf(args, sizeof args, "import -o %s %s", data, tu_src("datasets/Cu/0_300_MOVEMENT"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    const char *out = tu_tmp("budget");
    const char *cfg = tu_tmp("budget.json");
    const double budget = 0.05;
    snprintf(text, sizeof text,
             "{\"model\": {\"sel\": [81], \"neuron\": [4, 8, 8], \"axis_neuron\": 4, "
             "\"fitting_neuron\": [10, 10]}, \"optimizer\": {\"type\": \"adam\"},\n"
             " \"training\": {\"dataset\": \"%s\", \"epochs\": 1000, \"seed\": 1, "
             "\"max_train_frames\": 6, \"eval_every\": 1, \"eval_max_frames\": 40, "
             "\"train_budget_s\": %g},\n"
             " \"output\": \"%s\"}\n",
             data, budget, out);
    tu_write(cfg, text);
    snprintf(args, sizeof args, "train %s --quiet", cfg);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    snprintf(p, sizeof p, "%s/metrics.csv", out);
    csvio_table t;
    cr_assert_eq(csvio_read(p, &t), RK_OK, "%s", err_msg());
    int cs = csvio_col(&t, "status"), ct = csvio_col(&t, "train_s"), ce = csvio_col(&t, "eval_s"),
        cu = csvio_col(&t, "updates");
    cr_assert(cs >= 0 && ct >= 0 && ce >= 0 && cu >= 0);
    const size_t last = t.nrows - 1;
    cr_expect_str_eq(csvio_cell(&t, last, (size_t)cs), "time_budget");
    double train_s = atof(csvio_cell(&t, last, (size_t)ct));
    double eval_s = atof(csvio_cell(&t, last, (size_t)ce));
    double updates = atof(csvio_cell(&t, last, (size_t)cu));
    cr_expect_geq(train_s, budget, "stopped at train_s %g before the budget %g", train_s, budget);
    cr_expect_lt(updates, 6000, "never stopped");
    /* one update costs train_s/updates on average; allow a few for a noisy machine */
    cr_expect_leq(train_s, budget + 10.0 * train_s / updates + 0.02,
                  "train_s %g: ran on past the budget %g", train_s, budget);
    cr_expect_gt(eval_s, train_s, "the evaluations (%g s) should dominate (train %g s)", eval_s,
                 train_s);
    csvio_free(&t);
}
