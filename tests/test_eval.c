/* rlekf eval scores the split the model was trained with: a run records its split in its model
 * files, and eval's test (train) RMSE is exactly the test (train) RMSE of the run's last
 * metrics.csv row, for a random and for a tail split; a model file without the record falls back
 * to the tail split with test fraction 0.2; command-line options override the record. The record
 * round-trips and bad records and bad options are input errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvio.h"
#include "evaluate.h"
#include "h5io.h"
#include "model.h"
#include "testutil.h"

/* The Cu trajectory has 100 frames of 72 atoms. */
#define CU_FRAMES 100
#define CU_ATOMS 72

/* Import the Cu trajectory as <tmp>/cu.h5 (stream name "cu", the file's stem). */
static void import_cu(void) {
    char args[4096], err[4096];
    snprintf(args, sizeof args, "import -o %s %s", tu_tmp("cu.h5"),
             tu_src("datasets/Cu/0_300_MOVEMENT"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
}

/* Train a tiny model for one epoch of Adam with the given "training" members (eval_max_frames
 * stays 0: every RMSE of metrics.csv is over the whole part). */
static void train(const char *dir, const char *training) {
    char cfg[4096], args[4096], err[4096];
    snprintf(cfg, sizeof cfg,
             "{\"model\": {\"sel\": [81], \"neuron\": [4, 8, 8], \"axis_neuron\": 4, "
             "\"fitting_neuron\": [10, 10]}, \"optimizer\": {\"type\": \"adam\"}, "
             "\"training\": {\"dataset\": \"%s\", \"epochs\": 1, %s}, \"output\": \"%s\"}",
             tu_tmp("cu.h5"), training, tu_tmp(dir));
    char name[256];
    snprintf(name, sizeof name, "%s.json", dir);
    tu_write(tu_tmp(name), cfg);
    snprintf(args, sizeof args, "train %s --quiet", tu_tmp(name));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
}

typedef struct {
    char e[64], f[64]; /* the printed RMSEs, as text */
    size_t frames;
    char out[4096]; /* everything eval printed */
} eval_out;

/* Run `rlekf eval --model <tmp>/model --data <tmp>/cu.h5 --out ... <opts>`; it must succeed. */
static void eval(const char *model, const char *opts, eval_out *o) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s eval --model %s --data %s --out %s %s > %s 2>&1", RLEKF_EXE,
             tu_tmp(model), tu_tmp("cu.h5"), tu_tmp("pred.h5"), opts, tu_tmp("eval.txt"));
    int rc = tu_sh(cmd);
    cr_assert_eq(tu_read(tu_tmp("eval.txt"), o->out, sizeof o->out), 0);
    cr_assert_eq(rc, 0, "%s", o->out);
    const char *p = strstr(o->out, "split, ");
    cr_assert(p && sscanf(p, "split, %zu frames", &o->frames) == 1, "%s", o->out);
    p = strstr(o->out, "RMSE energy ");
    cr_assert(p && sscanf(p, "RMSE energy %63s eV/atom, force %63s eV/A", o->e, o->f) == 2, "%s",
              o->out);
}

/* A cell of the last row of <tmp>/dir/metrics.csv, by column name. */
static void last_metric(const char *dir, const char *col, char *buf, size_t cap) {
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.csv", tu_tmp(dir));
    csvio_table t;
    cr_assert_eq(csvio_read(path, &t), RK_OK, "%s", err_msg());
    int c = csvio_col(&t, col);
    cr_assert_geq(c, 0, "%s: no column %s", path, col);
    cr_assert_gt(t.nrows, 0);
    snprintf(buf, cap, "%s", csvio_cell(&t, t.nrows - 1, (size_t)c));
    csvio_free(&t);
}

/* eval --split test and --split train print exactly the last metrics row's test and train RMSEs. */
static void assert_matches_metrics(const char *dir, size_t n_test, size_t n_train) {
    const struct {
        const char *part;
        size_t frames;
    } parts[] = {{"test", n_test}, {"train", n_train}};
    char model[512];
    snprintf(model, sizeof model, "%s/model.h5", dir);
    for (size_t i = 0; i < 2; i++) {
        char opts[64], col_e[64], col_f[64], want_e[64], want_f[64];
        snprintf(opts, sizeof opts, "--split %s", parts[i].part);
        snprintf(col_e, sizeof col_e, "%s_rmse_e_eV_per_atom", parts[i].part);
        snprintf(col_f, sizeof col_f, "%s_rmse_f_eV_per_A", parts[i].part);
        eval_out o;
        eval(model, opts, &o);
        last_metric(dir, col_e, want_e, sizeof want_e);
        last_metric(dir, col_f, want_f, sizeof want_f);
        cr_assert_eq(o.frames, parts[i].frames, "%s", o.out);
        cr_assert_str_eq(o.e, want_e, "%s", o.out);
        cr_assert_str_eq(o.f, want_f, "%s", o.out);
    }
}

/* eval --split test --parity: the frames of its energy table, in file order. */
static size_t test_frames(const char *model, eval_out *o, size_t *frames, size_t cap) {
    char opts[4096];
    snprintf(opts, sizeof opts, "--split test --parity %s", tu_tmp("par"));
    eval(model, opts, o);
    FILE *f = fopen(tu_tmp("par_energy.dat"), "r");
    cr_assert_not_null(f);
    char line[512];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        cr_assert_lt(n, cap);
        cr_assert_eq(sscanf(line, "%*s %zu", &frames[n]), 1, "%s", line);
        n++;
    }
    fclose(f);
    return n;
}

/* The RMSEs of a model file over the given frames, printed as eval and metrics.csv print them. */
static void rmse_text(const char *model, const model_frame_ref *frames, size_t n, char *e,
                      char *f) {
    dataset_t ds;
    memset(&ds, 0, sizeof ds);
    cr_assert_eq(h5io_dataset_read(tu_tmp("cu.h5"), &ds), RK_OK, "%s", err_msg());
    model_t m;
    cr_assert_eq(model_load(&m, tu_tmp(model)), RK_OK, "%s", err_msg());
    model_ws *ws;
    cr_assert_eq(model_ws_create(&m, CU_ATOMS, &ws), RK_OK);
    double re, rf;
    cr_assert_eq(evaluate_rmse(&m, ws, &ds, frames, n, &re, &rf), RK_OK);
    snprintf(e, 64, "%.10g", re);
    snprintf(f, 64, "%.10g", rf);
    model_ws_free(ws);
    model_free(&m);
    dataset_free(&ds);
}

Test(eval, random_split_model_scores_the_runs_test_and_train_frames) {
    import_cu();
    train("rnd", "\"split\": \"random\", \"test_fraction\": 0.25, \"seed\": 3, "
                 "\"max_train_frames\": 30");
    assert_matches_metrics("rnd", 25, 30);
    /* the test frames are the random ones of (stream "cu", seed 3), not the last 25 */
    eval_out o;
    size_t got[CU_FRAMES];
    size_t n = test_frames("rnd/model.h5", &o, got, CU_FRAMES);
    dataset_t ds;
    memset(&ds, 0, sizeof ds);
    cr_assert_eq(h5io_dataset_read(tu_tmp("cu.h5"), &ds), RK_OK);
    model_frame_ref *tr, *te;
    size_t ntr, nte;
    cr_assert_eq(
        evaluate_split_frames(&ds, EVALUATE_SPLIT_RANDOM, 0.25, "cu", 3, &tr, &ntr, &te, &nte),
        RK_OK);
    cr_assert_eq(n, nte);
    int tail_only = 1;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(got[i], te[i].frame, "test frame %zu", i);
        tail_only &= te[i].frame >= CU_FRAMES - nte;
    }
    cr_assert(!tail_only, "the random test set must not be the tail");
    free(tr);
    free(te);
    dataset_free(&ds);
}

Test(eval, tail_split_model_scores_the_runs_test_and_train_frames) {
    import_cu();
    train("tail", "\"split\": \"tail\", \"max_train_frames\": 20");
    assert_matches_metrics("tail", 20, 20);
    eval_out o;
    size_t got[CU_FRAMES];
    cr_assert_eq(test_frames("tail/model.h5", &o, got, CU_FRAMES), 20);
    for (size_t i = 0; i < 20; i++)
        cr_assert_eq(got[i], CU_FRAMES - 20 + i);
    cr_assert(strstr(o.out, "split: tail, test_fraction 0.2, seed 1, stream 'cu'"), "%s", o.out);
}

/* Without the record: tail, 0.2. Options override single settings of the record. */
Test(eval, unrecorded_split_falls_back_to_tail_and_options_override) {
    import_cu();
    train("rnd", "\"split\": \"random\", \"test_fraction\": 0.25, \"seed\": 3");
    /* the same model without the record, as files written before it existed */
    h5io_model_rec rec;
    cr_assert_eq(h5io_model_read(tu_tmp("rnd/model.h5"), &rec), RK_OK, "%s", err_msg());
    cr_assert_not_null(rec.split_json);
    free(rec.split_json);
    rec.split_json = NULL;
    cr_assert_eq(h5io_model_write(tu_tmp("old.h5"), &rec, NULL, 0), RK_OK, "%s", err_msg());
    h5io_model_rec_free(&rec);

    dataset_t ds;
    memset(&ds, 0, sizeof ds);
    cr_assert_eq(h5io_dataset_read(tu_tmp("cu.h5"), &ds), RK_OK);
    model_frame_ref *tr, *te;
    size_t ntr, nte;
    char want_e[64], want_f[64];
    eval_out o;

    cr_assert_eq(evaluate_split_frames(&ds, EVALUATE_SPLIT_TAIL, 0.2, "", 0, &tr, &ntr, &te, &nte),
                 RK_OK);
    rmse_text("old.h5", te, nte, want_e, want_f);
    eval("old.h5", "", &o);
    cr_assert(strstr(o.out, "records no split"), "%s", o.out);
    cr_assert_eq(o.frames, 20);
    cr_assert_str_eq(o.e, want_e, "%s", o.out);
    cr_assert_str_eq(o.f, want_f, "%s", o.out);
    /* overriding mode and fraction of the random record gives the same tail split */
    eval("rnd/model.h5", "--split-mode tail --test-fraction 0.2", &o);
    cr_assert(strstr(o.out, "overrides"), "%s", o.out);
    cr_assert_eq(o.frames, 20);
    cr_assert_str_eq(o.e, want_e, "%s", o.out);
    cr_assert_str_eq(o.f, want_f, "%s", o.out);
    free(tr);
    free(te);

    /* another seed and stream: that random split */
    cr_assert_eq(
        evaluate_split_frames(&ds, EVALUATE_SPLIT_RANDOM, 0.25, "other", 4, &tr, &ntr, &te, &nte),
        RK_OK);
    rmse_text("rnd/model.h5", te, nte, want_e, want_f);
    eval("rnd/model.h5", "--seed 4 --stream other", &o);
    cr_assert_eq(o.frames, 25);
    cr_assert_str_eq(o.e, want_e, "%s", o.out);
    cr_assert_str_eq(o.f, want_f, "%s", o.out);
    free(tr);
    free(te);
    dataset_free(&ds);
}

Test(eval, split_record_round_trips_and_bad_ones_are_input_errors) {
    /* fractions as configs write them (up to 15 significant digits) come back bit for bit */
    static const double fractions[] = {0.2, 0.1, 0.15, 0.35, 0.7, 0.123456789012345, 0.0};
    for (size_t i = 0; i < sizeof fractions / sizeof fractions[0]; i++) {
        evaluate_split s = evaluate_default_split(), r;
        s.mode = i % 2 ? EVALUATE_SPLIT_RANDOM : EVALUATE_SPLIT_TAIL;
        s.test_fraction = fractions[i];
        s.seed = 123456789 + i;
        snprintf(s.stream_name, sizeof s.stream_name, "H2O \"x\" %zu", i);
        s.max_train_frames = 17 * i;
        char *j = evaluate_split_to_json(&s);
        cr_assert_not_null(j);
        cr_assert_eq(evaluate_split_from_json(j, "rec", &r), RK_OK, "%s: %s", j, err_msg());
        cr_assert_eq(r.mode, s.mode, "%s", j);
        cr_assert_eq(memcmp(&r.test_fraction, &s.test_fraction, sizeof r.test_fraction), 0, "%s",
                     j);
        cr_assert_eq(r.seed, s.seed, "%s", j);
        cr_assert_str_eq(r.stream_name, s.stream_name, "%s", j);
        cr_assert_eq(r.max_train_frames, s.max_train_frames, "%s", j);
        free(j);
    }
    evaluate_split r;

    static const struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"split\": \"rand\", \"test_fraction\": 0.2, \"seed\": 1, \"stream_name\": \"a\"}",
         "rand"},
        {"{\"split\": \"tail\", \"test_fraction\": 2, \"seed\": 1, \"stream_name\": \"a\"}",
         "test_fraction"},
        {"{\"split\": \"tail\", \"test_fraction\": 0.2, \"seed\": -1, \"stream_name\": \"a\"}",
         "seed"},
        {"{\"split\": \"tail\", \"test_fraction\": 0.2, \"seed\": 1}", "stream_name"},
        {"{\"split\": \"tail\", \"test_fraction\": 0.2, \"seed\": 1, \"stream_name\": \"a\", "
         "\"shuffle\": 1}",
         "shuffle"},
        {"not json", "rec"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(evaluate_split_from_json(bad[i].json, "rec", &r), RK_EINPUT, "%s",
                     bad[i].json);
        cr_assert(strstr(err_msg(), "rec") && strstr(err_msg(), bad[i].needle), "%s: %s",
                  bad[i].json, err_msg());
    }
}

Test(eval, bad_options_exit_2_naming_the_option_and_value) {
    import_cu();
    train("t", "\"max_train_frames\": 4");
    static const struct {
        const char *opts, *needle;
    } bad[] = {
        {"--split middle", "middle"},     {"--split-mode shuffled", "shuffled"},
        {"--test-fraction 0.95", "0.95"}, {"--test-fraction x", "--test-fraction"},
        {"--seed -1", "--seed"},          {"--seed 1.5", "1.5"},
        {"--stream", "--stream"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[8192], err[4096];
        snprintf(args, sizeof args, "eval --model %s --data %s --out %s %s", tu_tmp("t/model.h5"),
                 tu_tmp("cu.h5"), tu_tmp("p.h5"), bad[i].opts);
        cr_assert_eq(tu_rlekf(args, err, sizeof err), 2, "%s: %s", bad[i].opts, err);
        cr_assert(strstr(err, bad[i].needle), "%s: %s", bad[i].opts, err);
    }
}
