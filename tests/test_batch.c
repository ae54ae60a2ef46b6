/* Minibatch training (SPEC §3 "Minibatch"), pinned from outside the trainer.
 *
 * 1. batch_size 1 is the per-image trainer of before, bit for bit: a short Cu run of RLEKF and of
 *    Adam, with batch_size absent and with batch_size 1, against tests/data/batch/ (metrics.csv
 *    without its clock columns, and the final parameters as hexadecimal floats), written by the
 *    trainer before minibatches existed (commit "test_batch: reference runs of the per-image
 *    trainer"). RLEKF_BATCH_WRITE_REF=1 rewrites the reference (only after a deliberate change of
 *    the per-image arithmetic).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvio.h"
#include "h5io.h"
#include "testutil.h"

/* ------------------------------------------------------------------ 1. B = 1 ------------- */

static void import_cu_h5(void) {
    static int done;
    if (done) return;
    char args[2048], err[4096];
    /* the file stem "Cu" is the run's stream name, as in every Cu run */
    snprintf(args, sizeof args, "import -o %s %s", tu_tmp("Cu.h5"),
             tu_src("datasets/Cu/0_300_MOVEMENT"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    done = 1;
}

/* A short Cu run through the CLI: 6 training frames, evaluations every 2 images. `extra` is
 * added to the training section ("" or ", \"batch_size\": 1"). */
static void ref_run(const char *out, const char *optimizer, int epochs, const char *extra) {
    import_cu_h5();
    char cfg[4096], file[1100], args[4096], err[4096];
    snprintf(cfg, sizeof cfg,
             "{\"model\": {\"sel\": [81], \"neuron\": [4, 8, 8], \"axis_neuron\": 2, "
             "\"fitting_neuron\": [8, 8]}, \"optimizer\": %s, \"training\": {\"dataset\": "
             "\"%s\", \"epochs\": %d, \"seed\": 3, \"max_train_frames\": 6, "
             "\"eval_max_frames\": 3, \"eval_every_images\": 2%s}}",
             optimizer, tu_tmp("Cu.h5"), epochs, extra);
    snprintf(file, sizeof file, "%s.json", tu_tmp(out));
    tu_write(file, cfg);
    snprintf(args, sizeof args, "train %s --out %s --quiet", file, tu_tmp(out));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
}

static void assert_csv_equal(const char *ref, const char *got) {
    csvio_table ta, tb;
    cr_assert_eq(csvio_read(ref, &ta), RK_OK, "%s", err_msg());
    cr_assert_eq(csvio_read(got, &tb), RK_OK, "%s", err_msg());
    cr_assert_eq(ta.ncols, tb.ncols);
    cr_assert_eq(ta.nrows, tb.nrows, "%s vs %s: rows %zu vs %zu", ref, got, ta.nrows, tb.nrows);
    for (size_t c = 0; c < ta.ncols; c++) {
        if (tu_is_clock_column(ta.header[c])) continue;
        for (size_t r = 0; r < ta.nrows; r++)
            cr_assert_str_eq(csvio_cell(&ta, r, c), csvio_cell(&tb, r, c), "%s row %zu column %s",
                             got, r + 2, ta.header[c]);
    }
    csvio_free(&ta);
    csvio_free(&tb);
}

/* The final parameters of a run folder against a file of "%a" lines. */
static void assert_params_equal(const char *ref_txt, const char *run) {
    char p[1200];
    snprintf(p, sizeof p, "%s/model.h5", run);
    h5io_model_rec m;
    cr_assert_eq(h5io_model_read(p, &m), RK_OK, "%s", err_msg());
    FILE *f = fopen(ref_txt, "r");
    cr_assert_not_null(f, "%s", ref_txt);
    char line[128];
    size_t i = 0;
    while (fgets(line, sizeof line, f)) {
        cr_assert_lt(i, m.n_params, "%s: more lines than the %zu parameters", ref_txt, m.n_params);
        double v = strtod(line, NULL);
        cr_assert(memcmp(&v, &m.params[i], sizeof v) == 0, "%s: parameter %zu is %a, expected %a",
                  run, i, m.params[i], v);
        i++;
    }
    fclose(f);
    cr_assert_eq(i, m.n_params, "%s: %zu lines for %zu parameters", ref_txt, i, m.n_params);
    h5io_model_rec_free(&m);
}

static void write_reference(const char *name, const char *run) {
    char p[1200], q[1200], cmd[3000];
    snprintf(p, sizeof p, "%s/metrics.csv", run);
    snprintf(q, sizeof q, "tests/data/batch/%s_metrics.csv", name);
    snprintf(cmd, sizeof cmd, "cp %s %s", p, tu_src(q));
    cr_assert_eq(tu_sh(cmd), 0);
    snprintf(p, sizeof p, "%s/model.h5", run);
    h5io_model_rec m;
    cr_assert_eq(h5io_model_read(p, &m), RK_OK, "%s", err_msg());
    snprintf(q, sizeof q, "tests/data/batch/%s_params.txt", name);
    FILE *f = fopen(tu_src(q), "w");
    cr_assert_not_null(f);
    for (size_t i = 0; i < m.n_params; i++)
        fprintf(f, "%a\n", m.params[i]);
    fclose(f);
    h5io_model_rec_free(&m);
}

static void check_reference(const char *name, const char *optimizer, int epochs) {
    char ref[256], out[256], a[1200], b[1200];
    const char *extras[2] = {"", ", \"batch_size\": 1"};
    for (int k = 0; k < 2; k++) {
        snprintf(out, sizeof out, "ref-%s-%d", name, k);
        ref_run(out, optimizer, epochs, getenv("RLEKF_BATCH_WRITE_REF") ? "" : extras[k]);
        if (getenv("RLEKF_BATCH_WRITE_REF")) {
            write_reference(name, tu_tmp(out));
            return;
        }
        snprintf(ref, sizeof ref, "tests/data/batch/%s_metrics.csv", name);
        snprintf(a, sizeof a, "%s", tu_src(ref));
        snprintf(b, sizeof b, "%s/metrics.csv", tu_tmp(out));
        assert_csv_equal(a, b);
        snprintf(ref, sizeof ref, "tests/data/batch/%s_params.txt", name);
        snprintf(a, sizeof a, "%s", tu_src(ref));
        assert_params_equal(a, tu_tmp(out));
    }
}

Test(batch, size_one_is_the_per_image_trainer_rlekf) {
    check_reference("rlekf", "{\"type\": \"rlekf\", \"block_size\": 100}", 2);
}

Test(batch, size_one_is_the_per_image_trainer_adam) {
    check_reference("adam", "{\"type\": \"adam\"}", 3);
}
