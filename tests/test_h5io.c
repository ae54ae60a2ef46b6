/* h5io: exact round trips of dataset and model files, prediction files, atomic writes (no file or
 * temporary left behind on failure, old file replaced only when complete), and the reader's
 * checks: not-HDF5 and truncated files, wrong format/version, shape mismatches, missing datasets,
 * and files written the way other tools write them (fixed-length space-padded strings, float32,
 * int64 types: the .h5 files in tests/data/import, made by gen_h5_fixtures.c there). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset.h"
#include "h5io.h"
#include "testutil.h"

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* No "<path>.tmp-*" left in the directory of path. */
static int no_temp_left(const char *path) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls %s.tmp-* >/dev/null 2>&1", path);
    return tu_sh(cmd) != 0;
}

/* Two systems, given out of name order, with distinct values everywhere. */
static void make_dataset(dataset_t *ds) {
    memset(ds, 0, sizeof *ds);
    ds->ntypes = 2;
    ds->type_map = calloc(2, sizeof *ds->type_map);
    strcpy(ds->type_map[0], "Hf");
    strcpy(ds->type_map[1], "O");
    ds->nsystems = 2;
    ds->sys = calloc(2, sizeof *ds->sys);
    const char *names[2] = {"zeta", "alpha.train"};
    for (size_t k = 0; k < 2; k++) {
        ds_system *s = &ds->sys[k];
        size_t na = 3 + k, nf = 2 + 3 * k;
        cr_assert_eq(ds_system_alloc(s, names[k], na, nf), RK_OK);
        for (size_t a = 0; a < na; a++)
            s->type[a] = (int32_t)(a % 2);
        for (size_t f = 0; f < nf; f++) {
            s->energy[f] = -100.0 / 3.0 - (double)f * 0.1;
            for (size_t i = 0; i < 9; i++)
                s->box[9 * f + i] = i % 4 == 0 ? 5.0 + f : 0.1 * i;
        }
        for (size_t i = 0; i < 3 * na * nf; i++) {
            s->coord[i] = 0.1 * (double)i + 1.0 / 7.0;
            s->force[i] = sin((double)i) * 1e-3;
        }
    }
}

Test(h5io, dataset_roundtrip_exact_and_sorted) {
    dataset_t a, b;
    make_dataset(&a);
    cr_assert_eq(h5io_dataset_write_prov(tu_tmp("ds.h5"), &a, "unit test"), RK_OK, "%s", err_msg());
    cr_assert(no_temp_left(tu_tmp("ds.h5")));
    cr_assert_eq(h5io_dataset_read(tu_tmp("ds.h5"), &b), RK_OK, "%s", err_msg());
    cr_assert_eq(b.nsystems, 2);
    cr_assert_str_eq(b.sys[0].name, "alpha.train", "systems come back ordered by name");
    cr_assert_str_eq(b.type_map[0], "Hf");
    cr_assert_str_eq(b.type_map[1], "O");
    for (size_t k = 0; k < 2; k++) {
        const ds_system *x = &a.sys[1 - k], *y = &b.sys[k];
        size_t n3 = 3 * x->natoms * x->nframes;
        cr_assert_str_eq(x->name, y->name);
        cr_assert_eq(x->natoms, y->natoms);
        cr_assert_eq(x->nframes, y->nframes);
        cr_assert_arr_eq(x->type, y->type, x->natoms * sizeof *x->type);
        cr_assert_arr_eq(x->coord, y->coord, n3 * sizeof(double));
        cr_assert_arr_eq(x->force, y->force, n3 * sizeof(double));
        cr_assert_arr_eq(x->box, y->box, 9 * x->nframes * sizeof(double));
        cr_assert_arr_eq(x->energy, y->energy, x->nframes * sizeof(double));
    }
    dataset_free(&a);
    dataset_free(&b);
}

Test(h5io, model_roundtrip_with_extras) {
    char(*tm)[DS_SYMBOL_MAX] = calloc(2, sizeof *tm);
    strcpy(tm[0], "Li");
    strcpy(tm[1], "S");
    double avg[8], sd[8], params[37];
    for (int i = 0; i < 8; i++)
        avg[i] = i * 0.25, sd[i] = 1.0 + i;
    for (int i = 0; i < 37; i++)
        params[i] = cos(i) / 3.0;
    char cfg[] = "{\"rcut\": 6.0, \"sel\": [40, 80]}";
    h5io_model_rec rec = {cfg, 2, tm, avg, sd, params, 37, NULL};
    const double lam[3] = {0.98, 0.99, 0.997};
    h5io_extra extra[1] = {{"lambda", lam, 3}};
    cr_assert_eq(h5io_model_write(tu_tmp("m.h5"), &rec, extra, 1), RK_OK, "%s", err_msg());
    h5io_model_rec r;
    cr_assert_eq(h5io_model_read(tu_tmp("m.h5"), &r), RK_OK, "%s", err_msg());
    cr_assert_str_eq(r.config_json, cfg);
    cr_assert_eq(r.ntypes, 2);
    cr_assert_str_eq(r.type_map[1], "S");
    cr_assert_eq(r.n_params, 37);
    cr_assert_arr_eq(r.params, params, sizeof params);
    cr_assert_arr_eq(r.avg, avg, sizeof avg);
    cr_assert_arr_eq(r.std, sd, sizeof sd);
    h5io_model_rec_free(&r);
    /* a model file is not a dataset file */
    dataset_t ds;
    cr_assert_eq(h5io_dataset_read(tu_tmp("m.h5"), &ds), RK_EINPUT);
    cr_assert(strstr(err_msg(), "m.h5") && strstr(err_msg(), "rlekf-model"), "%s", err_msg());
    free(tm);
}

Test(h5io, predictions_carry_dataset_attributes) {
    dataset_t p;
    make_dataset(&p);
    int64_t idx0[2] = {1, 0}, idx1[5] = {4, 3, 2, 1, 0};
    int64_t *const fi[2] = {idx0, idx1};
    cr_assert_eq(h5io_pred_write(tu_tmp("p.h5"), &p, fi), RK_OK, "%s", err_msg());
    cr_assert(exists(tu_tmp("p.h5")));
    /* the dataset reader accepts its format and type map and stops at the first dataset a
     * prediction file does not have */
    dataset_t back;
    cr_assert_eq(h5io_dataset_read(tu_tmp("p.h5"), &back), RK_EINPUT);
    cr_assert(strstr(err_msg(), "/systems/alpha.train/type: missing"), "%s", err_msg());
    dataset_free(&p);
}

Test(h5io, failed_write_leaves_nothing_and_keeps_old_file) {
    dataset_t a;
    make_dataset(&a);
    /* a directory that does not exist */
    const char *nodir = tu_tmp("no/such/dir/x.h5");
    cr_assert_neq(h5io_dataset_write(nodir, &a), RK_OK);
    cr_assert(strstr(err_msg(), "x.h5"), "%s", err_msg());
    cr_assert(!exists(nodir));
    /* invalid content: nothing written, an existing file stays as it was */
    const char *path = tu_tmp("keep.h5");
    cr_assert_eq(h5io_dataset_write(path, &a), RK_OK, "%s", err_msg());
    struct stat before;
    stat(path, &before);
    a.sys[1].force[4] = NAN;
    cr_assert_eq(h5io_dataset_write(path, &a), RK_EINPUT);
    cr_assert(strstr(err_msg(), "force is NaN") && strstr(err_msg(), "frame 0 atom 1"), "%s",
              err_msg());
    cr_assert(no_temp_left(path));
    dataset_t b;
    cr_assert_eq(h5io_dataset_read(path, &b), RK_OK, "old file must still be readable: %s",
                 err_msg());
    dataset_free(&b);
    dataset_free(&a);
}

Test(h5io, not_hdf5_and_truncated) {
    tu_write(tu_tmp("text.h5"), "this is not HDF5\n");
    dataset_t ds;
    cr_assert_eq(h5io_dataset_read(tu_tmp("text.h5"), &ds), RK_EINPUT);
    cr_assert(strstr(err_msg(), "text.h5: not an HDF5 file or truncated"), "%s", err_msg());

    dataset_t a;
    make_dataset(&a);
    cr_assert_eq(h5io_dataset_write(tu_tmp("full.h5"), &a), RK_OK, "%s", err_msg());
    dataset_free(&a);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "head -c 3000 %s > %s", tu_tmp("full.h5"), tu_tmp("cut.h5"));
    cr_assert_eq(tu_sh(cmd), 0);
    cr_assert_eq(h5io_dataset_read(tu_tmp("cut.h5"), &ds), RK_EINPUT);
    cr_assert(strstr(err_msg(), "cut.h5: not an HDF5 file or truncated"), "%s", err_msg());

    cr_assert_eq(h5io_dataset_read(tu_tmp("absent.h5"), &ds), RK_EINPUT);
    cr_assert(strstr(err_msg(), "absent.h5"), "%s", err_msg());
}

Test(h5io, foreign_fixed_length_strings_float32_int64) {
    dataset_t ds;
    cr_assert_eq(h5io_dataset_read(tu_src("tests/data/import/fixed_strings.h5"), &ds), RK_OK, "%s",
                 err_msg());
    cr_assert_eq(ds.ntypes, 2);
    cr_assert_str_eq(ds.type_map[0], "O", "space padding must be trimmed");
    cr_assert_str_eq(ds.type_map[1], "H");
    const ds_system *s = &ds.sys[0];
    cr_assert_str_eq(s->name, "w");
    cr_assert_eq(s->type[1], 1);
    cr_assert_eq(s->coord[3], 1.5);
    cr_assert_eq(s->force[5], -0.25);
    cr_assert_eq(s->energy[0], -17.5);
    cr_assert_eq(s->box[8], 4.0);
    dataset_free(&ds);
}

Test(h5io, reader_names_path_and_value) {
    struct {
        const char *file, *want;
    } cases[] = {
        {"bad_shape.h5", "/systems/w/coord: shape [1,3,3] does not match [1,2,3]"},
        {"missing_force.h5", "/systems/w/force: missing"},
        {"version2.h5", "/version is 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tests/data/import/%s", cases[i].file);
        dataset_t ds;
        cr_assert_eq(h5io_dataset_read(tu_src(rel), &ds), RK_EINPUT, "%s accepted", rel);
        cr_assert(strstr(err_msg(), cases[i].file) && strstr(err_msg(), cases[i].want), "%s: %s",
                  rel, err_msg());
    }
}

Test(dataset, validate_messages) {
    dataset_t a;
    make_dataset(&a);
    cr_assert_eq(dataset_validate(&a, "x.h5"), RK_OK, "%s", err_msg());
    ds_system *s = &a.sys[0];
    memset(s->box + 9, 0, 9 * sizeof(double)); /* frame 1: zero cell */
    cr_assert_eq(dataset_validate(&a, "x.h5"), RK_EINPUT);
    cr_assert(strstr(err_msg(), "x.h5: system zeta frame 1: singular cell (det = 0)"), "%s",
              err_msg());
    s->box[9] = s->box[13] = s->box[17] = 5.0;
    s->energy[1] = INFINITY;
    cr_assert_eq(dataset_validate(&a, "x.h5"), RK_EINPUT);
    cr_assert(strstr(err_msg(), "frame 1: energy is +Inf"), "%s", err_msg());
    s->energy[1] = 0;
    s->type[2] = 2;
    cr_assert_eq(dataset_validate(&a, "x.h5"), RK_EINPUT);
    cr_assert(strstr(err_msg(), "atom 2: type id 2"), "%s", err_msg());
    s->type[2] = 0;
    strcpy(a.sys[1].name, "zeta");
    cr_assert_eq(dataset_validate(&a, "x.h5"), RK_EINPUT);
    cr_assert(strstr(err_msg(), "duplicate system name 'zeta'"), "%s", err_msg());
    dataset_free(&a);
}
