/* The training-key table (config.h) and DeePMD-kit input.json (config_deepmd.h).
 *
 * - every key, in every place it may appear, rejects values below and above its bounds, of the
 *   wrong type and (integers) fractions: exit status 2, one line naming the file, the JSON path
 *   and the value; and accepts both bounds (inclusive);
 * - a key given twice in one object is an error naming the key;
 * - DeePMD-kit's water example (tests/data/deepmd_water_input.json, verbatim in model,
 *   learning_rate and loss) maps onto the model, Adam and training values it means (fitting
 *   resnet_dt true: residual timesteps), imports its systems, converts numb_steps, and trains a
 *   step of that model;
 * - every DeePMD-kit key rlekf does not implement, or a value it does not support, is an error
 *   naming the key path and the value;
 * - experiments/README.md holds the tables exactly as the code prints them, and no C file outside
 *   the table spells a training key.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_deepmd.h"
#include "h5io.h"
#include "model.h"
#include "registry.h"
#include "testutil.h"

#define WATER "tests/data/deepmd_water_input.json"
#define CU_SOURCE "datasets/Cu/0_300_MOVEMENT"
/* Frames of the water example's training systems (data_0 80, data_1 160, data_2 80) minus the
 * last floor(0.2 n) of each: 64 + 128 + 64. */
#define WATER_TRAIN_FRAMES 256

/* Run `cd <source tree> && rlekf <args>`; stderr into err. */
static int rlekf_in_src(const char *args, char *err, size_t cap) {
    char cmd[8192], errfile[700];
    snprintf(errfile, sizeof errfile, "%s/stderr-src-%d.txt", tu_tmpdir(), (int)getpid());
    snprintf(cmd, sizeof cmd, "cd %s && %s %s >/dev/null 2>%s", RLEKF_SOURCE_DIR, RLEKF_EXE, args,
             errfile);
    int rc = tu_sh(cmd);
    err[0] = '\0';
    FILE *f = fopen(errfile, "r");
    if (f) {
        size_t n = fread(err, 1, cap - 1, f);
        err[n] = '\0';
        fclose(f);
    }
    return rc;
}

static void expect_one_line_error(int rc, const char *err, const char *file, const char *want,
                                  const char *what) {
    cr_expect_eq(rc, 2, "%s: exit status %d, stderr: %s", what, rc, err);
    cr_expect(strstr(err, want) != NULL, "%s: expected '%s' in: %s", what, want, err);
    cr_expect(strstr(err, file) != NULL, "%s: the message must name %s: %s", what, file, err);
    const char *nl = strchr(err, '\n');
    cr_expect(nl && nl[1] == '\0', "%s: the message must be one line: %s", what, err);
}

/* ------------------------------------------------------------------ bounds -------------- */

/* An input with `key: value` placed in the given scope. */
static void input_for(unsigned scope, const char *key, const char *value, char *buf, size_t cap) {
    const char *src = tu_src(CU_SOURCE);
    const char *ds_key = config_key_of_field(offsetof(train_config, dataset))->name;
    switch (scope) {
    case CONFIG_RUN:
        if (strcmp(key, ds_key) == 0)
            snprintf(buf, cap, "{\"training\": {\"%s\": %s}}", key, value);
        else
            snprintf(buf, cap, "{\"training\": {\"%s\": \"none.h5\", \"%s\": %s}}", ds_key, key,
                     value);
        break;
    case CONFIG_MANIFEST:
        snprintf(buf, cap,
                 "{\"name\": \"x\", \"%s\": %s, \"datasets\": [{\"name\": \"Cu\", \"source\": "
                 "\"%s\", \"format\": \"movement\"}], \"optimizers\": [{\"type\": \"rlekf\"}], "
                 "\"seeds\": [1]}",
                 key, value, src);
        break;
    case CONFIG_DATASET:
        snprintf(buf, cap,
                 "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"source\": \"%s\", "
                 "\"format\": \"movement\", \"%s\": %s}], \"optimizers\": [{\"type\": "
                 "\"rlekf\"}], \"seeds\": [1]}",
                 src, key, value);
        break;
    case CONFIG_VARIANT:
        snprintf(buf, cap,
                 "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"source\": \"%s\", "
                 "\"format\": \"movement\"}], \"optimizers\": [{\"type\": \"rlekf\", "
                 "\"training\": {\"%s\": %s}}], \"seeds\": [1]}",
                 src, key, value);
        break;
    }
}

static const char *scope_path(unsigned scope) {
    switch (scope) {
    case CONFIG_RUN:
        return "training";
    case CONFIG_MANIFEST:
        return "manifest";
    case CONFIG_DATASET:
        return "datasets[0]";
    case CONFIG_VARIANT:
        return "optimizers[0].training";
    }
    return "?";
}

static const unsigned SCOPES[] = {CONFIG_RUN, CONFIG_MANIFEST, CONFIG_DATASET, CONFIG_VARIANT};

/* One bad value of key k: its JSON text and the message fragment it must produce. */
typedef struct {
    char json[1200], want[1300];
} bad_value;

static size_t bad_values(const config_key *k, bad_value *out) {
    size_t n = 0;
    if (k->type == CONFIG_STRING) {
        char long_s[1100];
        memset(long_s, 'a', sizeof long_s - 1);
        long_s[sizeof long_s - 1] = '\0';
        snprintf(out[n].json, sizeof out[n].json, "\"%s\"", long_s);
        snprintf(out[n++].want, sizeof out[0].want, "string too long (%zu characters",
                 sizeof long_s - 1);
        snprintf(out[n].json, sizeof out[n].json, "3");
        snprintf(out[n++].want, sizeof out[0].want, "expected a string, got 3");
        return n;
    }
    if (k->type == CONFIG_CHOICE) {
        snprintf(out[n].json, sizeof out[n].json, "\"no-such-choice\"");
        snprintf(out[n++].want, sizeof out[0].want, "unknown value \"no-such-choice\" (valid: %s",
                 k->choices[0]);
        return n;
    }
    char range[200];
    if (k->type == CONFIG_REAL)
        snprintf(range, sizeof range, "expected a number in [%g, %g], got ", k->lo, k->hi);
    else
        snprintf(range, sizeof range, "expected an integer in [%ld, %ld], got ", (long)k->lo,
                 (long)k->hi);
    double below = k->lo - 1.0, above = k->hi + 1.0;
    snprintf(out[n].json, sizeof out[n].json, "%.17g", below);
    snprintf(out[n++].want, sizeof out[0].want, "%s%.17g", range, below);
    snprintf(out[n].json, sizeof out[n].json, "%.17g", above);
    snprintf(out[n++].want, sizeof out[0].want, "%s%.17g", range, above);
    if (k->type != CONFIG_REAL) {
        double frac = k->lo + 0.5;
        snprintf(out[n].json, sizeof out[n].json, "%.17g", frac);
        snprintf(out[n++].want, sizeof out[0].want, "%s%.17g", range, frac);
    }
    snprintf(out[n].json, sizeof out[n].json, "\"1\"");
    snprintf(out[n++].want, sizeof out[0].want, "expected a number, got \"1\"");
    return n;
}

Test(config, every_key_enforces_its_bounds_where_it_may_appear) {
    size_t checked = 0;
    for (size_t i = 0; i < config_n_keys(); i++) {
        const config_key *k = config_key_at(i);
        for (size_t s = 0; s < sizeof SCOPES / sizeof SCOPES[0]; s++) {
            if (!(k->scopes & SCOPES[s])) continue;
            bad_value bad[4];
            size_t nb = bad_values(k, bad);
            for (size_t b = 0; b < nb; b++) {
                char json[4096], path[600], args[1400], err[4096], want[1600], what[200];
                input_for(SCOPES[s], k->name, bad[b].json, json, sizeof json);
                snprintf(path, sizeof path, "%s", tu_tmp("bounds.json"));
                tu_write(path, json);
                if (SCOPES[s] == CONFIG_RUN)
                    snprintf(args, sizeof args, "train %s --out %s", path, tu_tmp("no-run"));
                else
                    snprintf(args, sizeof args, "run %s --dry-run", path);
                snprintf(want, sizeof want, "%s.%s: %s", scope_path(SCOPES[s]), k->name,
                         bad[b].want);
                snprintf(what, sizeof what, "%s in %s = %.40s", k->name, scope_path(SCOPES[s]),
                         bad[b].json);
                expect_one_line_error(tu_rlekf(args, err, sizeof err), err, path, want, what);
                checked++;
            }
        }
    }
    cr_expect_geq(checked, 2 * config_n_keys(), "checked %zu cases", checked);
}

Test(config, bounds_are_inclusive_and_scopes_are_exclusive) {
    for (size_t i = 0; i < config_n_keys(); i++) {
        const config_key *k = config_key_at(i);
        if (k->type == CONFIG_STRING || k->type == CONFIG_CHOICE) continue;
        for (int end = 0; end < 2; end++) {
            char text[200];
            snprintf(text, sizeof text, "{\"%s\": %.17g}", k->name, end ? k->hi : k->lo);
            jsonw *o = NULL;
            cr_assert_eq(jsonw_parse_text(text, "bound", &o), RK_OK);
            config_layer l;
            config_layer_init(&l);
            rk_status st = config_parse_keys(o, "t", k->scopes, NULL, &l);
            cr_expect_eq(st, RK_OK, "%s = %s must be accepted: %s", k->name, text, err_msg());
            cr_expect(config_layer_has(&l, k), "%s: set bit", k->name);
            /* the value landed in its field: applying the layer copies exactly it */
            train_config tc;
            config_default(&tc);
            config_apply(&tc, &l);
            jsonw *out = config_to_object(&tc);
            const jsonw *v = jsonw_get(jsonw_get(out, "training"), k->name);
            cr_expect(v && jsonw_number(v) == (end ? k->hi : k->lo), "%s: stored", k->name);
            jsonw_free(out);
            /* outside its scopes the key is unknown */
            unsigned others =
                ~k->scopes & (CONFIG_RUN | CONFIG_MANIFEST | CONFIG_DATASET | CONFIG_VARIANT);
            if (others) {
                config_layer_init(&l);
                st = config_parse_keys(o, "t", others, NULL, &l);
                cr_expect_eq(st, RK_EINPUT, "%s must be unknown outside its scopes", k->name);
                cr_expect(strstr(err_msg(), "unknown key"), "%s", err_msg());
            }
            jsonw_free(o);
        }
    }
}

Test(config, command_line_overrides_use_the_table) {
    char err[4096];
    const char *cfg = tu_tmp("cli.json");
    tu_write(cfg, "{\"training\": {\"dataset\": \"none.h5\"}}");
    char args[1200];
    snprintf(args, sizeof args, "train %s --epochs -1", cfg);
    int rc = tu_rlekf(args, err, sizeof err);
    cr_expect_eq(rc, 2);
    cr_expect(strstr(err, "--epochs: expected an integer in [0, 1000000], got -1"), "%s", err);
    snprintf(args, sizeof args, "train %s --split head", cfg);
    cr_expect_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_expect(strstr(err, "--split: unknown value \"head\" (valid: tail, random)"), "%s", err);
    snprintf(args, sizeof args, "train %s --test_fraction 0.5x", cfg);
    cr_expect_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_expect(strstr(err, "--test_fraction: expected a number in [0, 0.9], got 0.5x"), "%s", err);
    snprintf(args, sizeof args, "train %s --epoch 3", cfg);
    cr_expect_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_expect(strstr(err, "unknown option '--epoch'"), "%s", err);
    /* a valid override reaches the run: the data set is then what fails */
    snprintf(args, sizeof args, "train %s --epochs 3 --out %s", cfg, tu_tmp("cli-run"));
    cr_expect_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_expect(strstr(err, "none.h5"), "%s", err);
}

/* ------------------------------------------------------------------ duplicate keys ------ */

Test(config, duplicate_keys_are_errors_naming_the_key) {
    static const struct {
        const char *name, *json, *args, *want;
    } cases[] = {
        {"run", "{\"training\": {\"dataset\": \"x.h5\", \"epochs\": 1, \"epochs\": -5}}", "train",
         "training.epochs: duplicate key"},
        {"root", "{\"output\": \"a\", \"training\": {\"dataset\": \"x.h5\"}, \"output\": \"b\"}",
         "train", "output: duplicate key"},
        {"variant",
         "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"h5\": \"x.h5\"}], \"optimizers\": "
         "[{\"type\": \"rlekf\"}, {\"type\": \"adam\"}, {\"type\": \"gekf\", \"training\": "
         "{\"epochs\": 1, \"eval_every\": 2, \"epochs\": -5}}], \"seeds\": [1]}",
         "run", "optimizers[2].training.epochs: duplicate key"},
        {"deepmd",
         "{\"model\": {\"descriptor\": {\"type\": \"se_e2_a\", \"rcut\": 6, \"rcut\": 5}}}",
         "train", "model.descriptor.rcut: duplicate key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[600], args[1400], err[4096];
        snprintf(path, sizeof path, "%s-dup.json", tu_tmp(cases[i].name));
        tu_write(path, cases[i].json);
        snprintf(args, sizeof args, "%s %s", cases[i].args, path);
        expect_one_line_error(tu_rlekf(args, err, sizeof err), err, path, cases[i].want,
                              cases[i].name);
    }
    /* an object with many members (checked by sorting), the duplicate far from its twin */
    char big[4096];
    size_t len = (size_t)snprintf(big, sizeof big, "{");
    for (int k = 0; k < 60; k++)
        len += (size_t)snprintf(big + len, sizeof big - len, "\"k%02d\": %d, ", k, k);
    snprintf(big + len, sizeof big - len, "\"k07\": 0}");
    jsonw *j = NULL;
    cr_expect_eq(jsonw_parse_text(big, "big.json", &j), RK_EINPUT);
    cr_expect(strstr(err_msg(), "big.json: k07: duplicate key"), "%s", err_msg());
    /* the same object without the duplicate parses */
    snprintf(big + len - 2, sizeof big - len + 2, "}");
    cr_expect_eq(jsonw_parse_text(big, "big.json", &j), RK_OK, "%s", err_msg());
    jsonw_free(j);
}

/* ------------------------------------------------------------------ DeePMD-kit ---------- */

static double adam_value(const train_config *tc, const char *name) {
    int i = optim_param_index(tc->opt, name);
    cr_assert_geq(i, 0, "adam has no %s", name);
    return tc->opt_params.v[i];
}

Test(config, deepmd_water_example_maps_onto_model_adam_and_training) {
    train_config tc;
    config_data d;
    config_default(&tc);
    cr_assert_eq(config_load(tu_src(WATER), &tc, &d), RK_OK, "%s", err_msg());
    const model_config *m = &tc.model;
    cr_expect_eq(m->rcut, 6.0);
    cr_expect_eq(m->rcut_smth, 0.5);
    cr_assert_eq(m->n_sel, 2);
    cr_expect(m->sel[0] == 46 && m->sel[1] == 92);
    cr_assert_eq(m->n_neuron, 3);
    cr_expect(m->neuron[0] == 25 && m->neuron[1] == 50 && m->neuron[2] == 100);
    cr_expect_eq(m->axis_neuron, 16);
    cr_assert_eq(m->n_fitting, 3);
    cr_expect(m->fitting_neuron[0] == 240 && m->fitting_neuron[1] == 240 &&
              m->fitting_neuron[2] == 240);
    cr_expect_eq(m->resnet, 1);
    cr_expect_eq(m->resnet_dt, 0, "descriptor.resnet_dt false");
    cr_expect_eq(m->fitting_resnet_dt, 1, "fitting_net.resnet_dt true");
    cr_assert_str_eq(tc.opt->name, "adam");
    cr_expect_eq(adam_value(&tc, "start_lr"), 1e-3);
    cr_expect_eq(adam_value(&tc, "stop_lr"), 3.51e-8);
    cr_expect_eq(adam_value(&tc, "decay_steps"), 5000);
    cr_expect_eq(adam_value(&tc, "stop_steps"), 1000000, "numb_steps is Adam's stop_steps");
    cr_expect_eq(adam_value(&tc, "start_pref_e"), 0.02);
    cr_expect_eq(adam_value(&tc, "limit_pref_e"), 1);
    cr_expect_eq(adam_value(&tc, "start_pref_f"), 1000);
    cr_expect_eq(adam_value(&tc, "limit_pref_f"), 1);
    cr_expect_eq(tc.seed, 10, "training.seed wins over the nets' seeds");
    cr_expect_str_eq(d.type_map, "O,H");
    cr_assert_eq(d.n_systems, 3);
    cr_expect_str_eq(d.systems[0], "datasets/H2O/data_0");
    cr_expect_str_eq(d.systems[2], "datasets/H2O/data_2");
    cr_expect_eq(d.numb_steps, 1000000);
    cr_expect_eq(d.batch_auto_atoms, 32, "batch_size \"auto\": 32 atoms");
    cr_expect_eq(tc.model.sel_auto, 0.0, "sel is given");
    cr_expect_str_eq(tc.out_dir, "run");
}

Test(config, deepmd_water_data_are_imported_and_numb_steps_become_epochs) {
    cr_assert_eq(chdir(RLEKF_SOURCE_DIR), 0); /* the example's systems are relative paths */
    train_config tc;
    config_data d;
    config_default(&tc);
    cr_assert_eq(config_load(WATER, &tc, &d), RK_OK, "%s", err_msg());
    snprintf(tc.out_dir, sizeof tc.out_dir, "%s", tu_tmp("water-data"));
    dataset_t ds;
    cr_assert_eq(config_open_data(&tc, &d, &ds), RK_OK, "%s", err_msg());
    cr_expect_eq(ds.ntypes, 2);
    cr_expect(strcmp(ds.type_map[0], "O") == 0 && strcmp(ds.type_map[1], "H") == 0);
    cr_expect_eq(ds.nsystems, 3);
    cr_expect_eq(dataset_total_frames(&ds), 320);
    char want[1200];
    snprintf(want, sizeof want, "%s/data.h5", tc.out_dir);
    cr_expect_str_eq(tc.dataset, want, "the imported copy is the run's data set");
    dataset_t back;
    cr_assert_eq(h5io_dataset_read(want, &back), RK_OK, "%s", err_msg());
    cr_expect_eq(dataset_total_frames(&back), 320);
    dataset_free(&back);
    /* 1e6 steps over 256 training frames: ceil(3906.25) epochs */
    cr_expect_eq(tc.epochs, (1000000 + WATER_TRAIN_FRAMES - 1) / WATER_TRAIN_FRAMES);
    dataset_free(&ds);
    /* with max_train_frames the epoch is shorter */
    config_default(&tc);
    cr_assert_eq(config_load(WATER, &tc, &d), RK_OK, "%s", err_msg());
    snprintf(tc.out_dir, sizeof tc.out_dir, "%s", tu_tmp("water-data2"));
    tc.max_train_frames = 3;
    cr_assert_eq(config_open_data(&tc, &d, &ds), RK_OK, "%s", err_msg());
    cr_expect_eq(tc.epochs, (1000000 + 2) / 3);
    dataset_free(&ds);
}

Test(config, deepmd_water_example_trains, .timeout = 600) {
    char args[2000], err[8192];
    const char *out = tu_tmp("water-run");
    /* a tiny budget: one training frame, one frame per RMSE, one epoch */
    snprintf(args, sizeof args,
             "train %s --out %s --epochs 1 --max_train_frames 1 --eval_max_frames 1 --quiet", WATER,
             out);
    int rc = rlekf_in_src(args, err, sizeof err);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
    char p[1200];
    snprintf(p, sizeof p, "%s/metrics.csv", out);
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f, "%s", p);
    char line[1024], last[1024] = "";
    size_t rows = 0;
    while (fgets(line, sizeof line, f)) {
        snprintf(last, sizeof last, "%s", line);
        rows++;
    }
    fclose(f);
    cr_expect_eq(rows, 3, "header, step 0, end of the epoch");
    cr_expect(strstr(last, ",done"), "%s", last);
    cr_expect(strncmp(last, "1,1,1,", 6) == 0, "epoch 1, one image, one update: %s", last);
    snprintf(p, sizeof p, "%s/config.json", out);
    jsonw *j = NULL;
    cr_assert_eq(jsonw_parse_file(p, &j), RK_OK, "%s", err_msg());
    const jsonw *ne = jsonw_get(jsonw_get(j, "model"), "neuron");
    cr_expect(ne && jsonw_size(ne) == 3 && jsonw_number(jsonw_at(ne, 2)) == 100);
    cr_expect_str_eq(jsonw_string(jsonw_get(jsonw_get(j, "optimizer"), "type")), "adam");
    snprintf(p, sizeof p, "%s/data.h5", out);
    cr_expect_str_eq(jsonw_string(jsonw_get(jsonw_get(j, "training"), "dataset")), p);
    jsonw_free(j);
    /* the trained model is the example's: an idt after b on fitting layers 2 and 3 (240 -> 240)
     * of both types, none in the embedding nets (descriptor resnet_dt false) */
    snprintf(p, sizeof p, "%s/model.h5", out);
    model_t m;
    cr_assert_eq(model_load(&m, p), RK_OK, "%s", err_msg());
    cr_expect_eq(m.cfg.resnet_dt, 0);
    cr_expect_eq(m.cfg.fitting_resnet_dt, 1);
    size_t n_idt = 0;
    for (size_t t = 0; t < m.layout.n_tensors; t++) {
        const layout_tensor *T = &m.layout.t[t];
        if (!layout_role_is_timestep(T->tag.role)) continue;
        cr_expect_eq(T->tag.role, LAYOUT_FIT_IDT, "%s", T->name);
        cr_expect(T->tag.layer == 2 || T->tag.layer == 3, "%s", T->name);
        cr_expect_eq(T->size, 240, "%s", T->name);
        cr_expect_eq(m.layout.t[t - 1].tag.role, LAYOUT_FIT_B, "%s follows its b", T->name);
        n_idt++;
    }
    cr_expect_eq(n_idt, 2 * 2, "two types x fitting layers 2, 3");
    model_free(&m);
}

/* A DeePMD-kit input around the water example's model: %s = descriptor members, fitting-net
 * members, other model members, training members, other top-level members. */
#define DP_FMT                                                                                     \
    "{\"model\": {\"type_map\": [\"O\", \"H\"], \"descriptor\": {%s}, \"fitting_net\": {%s}%s}, "  \
    "\"training\": {%s}%s}"
#define DESC_OK                                                                                    \
    "\"type\": \"se_e2_a\", \"sel\": [46, 92], \"rcut\": 6, \"rcut_smth\": 0.5, \"neuron\": [25, " \
    "50, 100], \"axis_neuron\": 16"
#define FIT_OK "\"neuron\": [240, 240, 240], \"resnet_dt\": false"
#define SYSTEMS "\"training_data\": {\"systems\": [\"datasets/H2O/data_0\"]}"
#define TRAIN_OK SYSTEMS ", \"numb_steps\": 10"

typedef struct {
    const char *name, *descr, *fit, *model, *train, *rest, *want;
} dp_case;

static void write_dp(const dp_case *c, char *path, size_t cap) {
    char json[4096];
    snprintf(json, sizeof json, DP_FMT, c->descr, c->fit, c->model, c->train, c->rest);
    snprintf(path, cap, "%s.json", tu_tmp(c->name));
    tu_write(path, json);
}

Test(config, deepmd_keys_rlekf_does_not_implement_are_errors) {
    static const dp_case cases[] = {
        {"fitting_resnet_dt_value", DESC_OK, "\"neuron\": [240, 240, 240], \"resnet_dt\": 3", "",
         TRAIN_OK, "", "model.fitting_net.resnet_dt: expected a boolean, got 3"},
        {"validation_data", DESC_OK, FIT_OK, "",
         TRAIN_OK ", \"validation_data\": {\"systems\": [\"datasets/H2O/data_3\"]}", "",
         "training.validation_data: {\"systems\":[\"datasets/H2O/data_3\"]} is not supported: "
         "rlekf tests on the last"},
        {"se_e3", "\"type\": \"se_e3\", \"sel\": [40, 80]", FIT_OK, "", TRAIN_OK, "",
         "model.descriptor.type: \"se_e3\" is not supported: rlekf implements the se_e2_a "
         "descriptor"},
        {"no_type", "\"sel\": [40, 80]", FIT_OK, "", TRAIN_OK, "",
         "model.descriptor.type: missing (required)"},
        {"unknown_key", DESC_OK ", \"foo\": 1", FIT_OK, "", TRAIN_OK, "",
         "model.descriptor.foo: not a DeePMD-kit key rlekf implements (accepted here: type, sel"},
        {"type_one_side", DESC_OK ", \"type_one_side\": true", FIT_OK, "", TRAIN_OK, "",
         "model.descriptor.type_one_side: true is not supported: rlekf builds one embedding net "
         "per (centre, neighbour) type pair"},
        {"descriptor_resnet_dt_value", DESC_OK ", \"resnet_dt\": \"yes\"", FIT_OK, "", TRAIN_OK, "",
         "model.descriptor.resnet_dt: expected a boolean, got \"yes\""},
        {"activation", DESC_OK ", \"activation_function\": \"gelu\"", FIT_OK, "", TRAIN_OK, "",
         "model.descriptor.activation_function: \"gelu\" is not supported: rlekf's nets use tanh"},
        {"exclude_types", DESC_OK ", \"exclude_types\": [[0, 1]]", FIT_OK, "", TRAIN_OK, "",
         "model.descriptor.exclude_types: [[0,1]] is not supported"},
        {"precision", DESC_OK, FIT_OK ", \"precision\": \"float32\"", "", TRAIN_OK, "",
         "model.fitting_net.precision: \"float32\" is not supported"},
        {"rcond", DESC_OK, FIT_OK ", \"rcond\": 0.001", "", TRAIN_OK, "",
         "model.fitting_net.rcond: 0.001 is not supported: rlekf fits the energy bias"},
        {"sel_ratio", "\"type\": \"se_a\", \"sel\": \"auto:0.5\"", FIT_OK, "", TRAIN_OK, "",
         "model.descriptor.sel: expected a list of per-type counts, \"auto\" or \"auto:r\" with "
         "1 <= r <= 10, got \"auto:0.5\""},
        {"descriptor_duplicate", DESC_OK ", \"rcut_smth\": 7", FIT_OK, "", TRAIN_OK, "",
         "model.descriptor.rcut_smth: duplicate key"},
        {"rcut_smth_above", "\"type\": \"se_e2_a\", \"sel\": [46, 92], \"rcut_smth\": 7", FIT_OK,
         "", TRAIN_OK, "", "model.descriptor.rcut_smth: must be below rcut = 6, got 7"},
        {"rcut_range", "\"type\": \"se_e2_a\", \"sel\": [46, 92], \"rcut\": -1", FIT_OK, "",
         TRAIN_OK, "", "model.descriptor.rcut: expected a number in [0.001, 100], got -1"},
        {"fitting_neuron", DESC_OK, "\"neuron\": [240, 0], \"resnet_dt\": false", "", TRAIN_OK, "",
         "model.fitting_net.neuron[1]: expected an integer in [1, 100000], got 0"},
        {"data_stat_nbatch", DESC_OK, FIT_OK, ", \"data_stat_nbatch\": 10", TRAIN_OK, "",
         "model.data_stat_nbatch: 10 is not supported: rlekf computes the statistics"},
        {"virial", DESC_OK, FIT_OK, "", TRAIN_OK, ", \"loss\": {\"start_pref_v\": 1}",
         "loss.start_pref_v: 1 is not supported: rlekf's loss has no virial term"},
        {"loss_type", DESC_OK, FIT_OK, "", TRAIN_OK, ", \"loss\": {\"type\": \"tensor\"}",
         "loss.type: \"tensor\" is not supported"},
        {"lr_type", DESC_OK, FIT_OK, "", TRAIN_OK, ", \"learning_rate\": {\"type\": \"cos\"}",
         "learning_rate.type: \"cos\" is not supported"},
        {"start_lr_range", DESC_OK, FIT_OK, "", TRAIN_OK, ", \"learning_rate\": {\"start_lr\": 2}",
         "learning_rate.start_lr: expected a number in [1e-20, 1], got 2"},
        {"decay_fraction", DESC_OK, FIT_OK, "", TRAIN_OK,
         ", \"learning_rate\": {\"decay_steps\": 2.5}",
         "learning_rate.decay_steps: expected an integer"},
        {"numb_steps_zero", DESC_OK, FIT_OK, "",
         "\"training_data\": {\"systems\": \"datasets/H2O/data_0\"}, \"numb_steps\": 0", "",
         "training.numb_steps: expected an integer in [1, 1000000000000], got 0"},
        {"numb_steps_twice", DESC_OK, FIT_OK, "", TRAIN_OK ", \"stop_batch\": 10", "",
         "training.stop_batch: numb_steps is given twice"},
        {"seed_range", DESC_OK, FIT_OK ", \"seed\": -1", "", TRAIN_OK, "",
         "model.fitting_net.seed: expected an integer in [0, 2147483647], got -1"},
        {"batch_size", DESC_OK, FIT_OK, "",
         "\"training_data\": {\"systems\": [\"datasets/H2O/data_0\"], \"batch_size\": [1, 2]}", "",
         "training.training_data.batch_size: [1,2] is not supported: rlekf takes one batch size"},
        {"batch_size_fraction", DESC_OK, FIT_OK, "",
         "\"training_data\": {\"systems\": [\"datasets/H2O/data_0\"], \"batch_size\": 2.5}", "",
         "training.training_data.batch_size: 2.5 is not supported"},
        {"batch_size_twice", DESC_OK, FIT_OK, "",
         "\"training_data\": {\"systems\": [\"datasets/H2O/data_0\"], \"batch_size\": 2}, "
         "\"batch_size\": 2",
         "", "training.batch_size: give training_data.batch_size (DeePMD-kit) or batch_size"},
        {"sys_probs", DESC_OK, FIT_OK, "",
         "\"training_data\": {\"systems\": [\"datasets/H2O/data_0\"], \"sys_probs\": [1]}", "",
         "training.training_data.sys_probs: [1] is not supported"},
        {"no_systems", DESC_OK, FIT_OK, "", "\"numb_steps\": 10", "",
         "training.training_data.systems: missing (required; or rlekf's training.dataset)"},
        {"empty_training_data", DESC_OK, FIT_OK, "", "\"training_data\": {}", "",
         "training.training_data.systems: missing (required)"},
        {"rlekf_unknown", DESC_OK, FIT_OK, "", TRAIN_OK ", \"epoch\": 1", "",
         "training.epoch: not a DeePMD-kit key rlekf implements (accepted here: training_data, "
         "numb_steps"},
        {"rlekf_key_range", DESC_OK, FIT_OK, "", SYSTEMS ", \"max_train_frames\": -1", "",
         "training.max_train_frames: expected an integer in [0, 100000000], got -1"},
        {"steps_and_epochs", DESC_OK, FIT_OK, "", TRAIN_OK ", \"epochs\": 2", "",
         "training.epochs: give numb_steps (DeePMD-kit) or epochs (rlekf), not both"},
        {"systems_and_dataset", DESC_OK, FIT_OK, "", TRAIN_OK ", \"dataset\": \"a.h5\"", "",
         "training.dataset: give training_data.systems (DeePMD-kit) or dataset (rlekf)"},
        {"optimizer_and_lr", DESC_OK, FIT_OK, "", TRAIN_OK,
         ", \"optimizer\": {\"type\": \"rlekf\"}, \"learning_rate\": {\"start_lr\": 1}",
         "learning_rate: rlekf's optimizer section replaces learning_rate and loss"},
        {"top_unknown", DESC_OK, FIT_OK, "", TRAIN_OK, ", \"nvnmd\": {}",
         "nvnmd: not a DeePMD-kit key rlekf implements (accepted here: model, learning_rate"},
        {"section_type", DESC_OK, FIT_OK, "", TRAIN_OK, ", \"loss\": [1]",
         "loss: expected an object, got [1]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[600], args[1400], err[4096];
        write_dp(&cases[i], path, sizeof path);
        snprintf(args, sizeof args, "train %s --out %s", path, tu_tmp("no-deepmd-run"));
        expect_one_line_error(rlekf_in_src(args, err, sizeof err), err, path, cases[i].want,
                              cases[i].name);
    }
}

/* Load a DeePMD-kit input written from c (no data read). */
static rk_status load_dp(const dp_case *c, train_config *tc, config_data *d) {
    char path[600];
    write_dp(c, path, sizeof path);
    config_default(tc);
    return config_load(path, tc, d);
}

Test(config, deepmd_defaults_aliases_comments_seeds_and_rlekf_sections) {
    train_config tc;
    config_data d;
    /* absent keys take DeePMD-kit's defaults, not rlekf's */
    dp_case c = {"defaults",
                 "\"type\": \"se_a\", \"_note\": \"alias\"",
                 "\"resnet_dt\": false",
                 "",
                 SYSTEMS ", \"disp_freq\": 10, \"save_ckpt\": \"x\", \"profiling\": true",
                 ", \"_comment\": \"a comment\"",
                 NULL};
    cr_assert_eq(load_dp(&c, &tc, &d), RK_OK, "%s", err_msg());
    cr_expect(tc.model.n_neuron == 3 && tc.model.neuron[0] == 10 && tc.model.neuron[2] == 40);
    cr_expect_eq(tc.model.axis_neuron, 4);
    cr_expect(tc.model.n_fitting == 3 && tc.model.fitting_neuron[0] == 120);
    cr_expect_eq(tc.model.n_sel, 0, "sel \"auto\" is resolved on the data");
    cr_expect_eq(tc.model.sel_auto, 1.1);
    cr_expect_str_eq(tc.opt->name, "adam", "learning_rate absent: Adam with its defaults");
    cr_expect_eq(adam_value(&tc, "stop_lr"), 1e-8, "DeePMD-kit's stop_lr, not rlekf's");
    cr_expect_eq(adam_value(&tc, "start_pref_f"), 1000);
    cr_expect_eq(d.numb_steps, 0);
    cr_expect_eq(tc.epochs, 1, "no numb_steps: rlekf's epochs");
    cr_expect_eq(tc.model.resnet_dt, 0);
    cr_expect_eq(tc.model.fitting_resnet_dt, 0, "given false");
    /* resnet_dt: DeePMD-kit's defaults are false (descriptor) and true (fitting net) */
    dp_case dt = {"resnet_dt", "\"type\": \"se_a\"", "", "", SYSTEMS, "", NULL};
    cr_assert_eq(load_dp(&dt, &tc, &d), RK_OK, "%s", err_msg());
    cr_expect_eq(tc.model.resnet_dt, 0);
    cr_expect_eq(tc.model.fitting_resnet_dt, 1, "absent in fitting_net: DeePMD-kit's true");
    dp_case dt2 = {"resnet_dt2",
                   "\"type\": \"se_a\", \"resnet_dt\": true",
                   "\"resnet_dt\": false",
                   "",
                   SYSTEMS,
                   "",
                   NULL};
    cr_assert_eq(load_dp(&dt2, &tc, &d), RK_OK, "%s", err_msg());
    cr_expect_eq(tc.model.resnet_dt, 1);
    cr_expect_eq(tc.model.fitting_resnet_dt, 0);
    /* seeds: training, else fitting_net, else descriptor */
    dp_case s1 = {"seed1", DESC_OK ", \"seed\": 7", FIT_OK ", \"seed\": 8", "", SYSTEMS, "", NULL};
    cr_assert_eq(load_dp(&s1, &tc, &d), RK_OK, "%s", err_msg());
    cr_expect_eq(tc.seed, 8);
    dp_case s2 = {"seed2", DESC_OK ", \"seed\": 7", FIT_OK ", \"seed\": null", "", SYSTEMS, "",
                  NULL};
    cr_assert_eq(load_dp(&s2, &tc, &d), RK_OK, "%s", err_msg());
    cr_expect_eq(tc.seed, 7);
    /* rlekf's optimizer instead of learning_rate and loss; rlekf training keys; output */
    dp_case k = {"kalman",
                 DESC_OK,
                 FIT_OK,
                 "",
                 TRAIN_OK ", \"eval_every\": 5, \"test_fraction\": 0.25",
                 ", \"optimizer\": {\"type\": \"rlekf\", \"block_size\": 1024}, \"output\": "
                 "\"out-k\"",
                 NULL};
    cr_assert_eq(load_dp(&k, &tc, &d), RK_OK, "%s", err_msg());
    cr_expect_str_eq(tc.opt->name, "rlekf");
    cr_expect_eq(tc.opt_params.v[optim_param_index(tc.opt, "block_size")], 1024);
    cr_expect_eq(tc.eval_every, 5);
    cr_expect_eq(tc.test_fraction, 0.25);
    cr_expect_eq(d.numb_steps, 10);
    cr_expect_str_eq(tc.out_dir, "out-k");
    /* rlekf's own spelling is not mistaken for DeePMD-kit's */
    jsonw *j = NULL;
    cr_assert_eq(
        jsonw_parse_text("{\"model\": {\"rcut\": 5}, \"training\": {\"seed\": 3}}", "n", &j),
        RK_OK);
    cr_expect_not(config_deepmd_detect(j));
    jsonw_free(j);
}

/* rlekf's own model.sel takes DeePMD-kit's "auto" / "auto:r" too; the rule is floor(count·r)
 * rounded up to a multiple of 4 (the counts are chosen so ceil or another multiple differ). */
Test(config, native_sel_auto_rule_and_its_errors) {
    const size_t counts[3] = {10, 81, 7};
    size_t sel[3];
    model_sel_auto(counts, 3, 1.25, sel);
    cr_expect(sel[0] == 12 && sel[1] == 104 && sel[2] == 8, "%zu %zu %zu", sel[0], sel[1],
              sel[2]);
    model_sel_auto(counts, 3, MODEL_SEL_AUTO_DEFAULT, sel);
    cr_expect(sel[0] == 12 && sel[1] == 92 && sel[2] == 8, "%zu %zu %zu", sel[0], sel[1], sel[2]);
    struct {
        const char *json;
        double r;
    } ok[] = {{"{\"sel\": \"auto\"}", 1.1}, {"{\"sel\": \"auto:1.25\"}", 1.25},
              {"{\"sel\": \"auto:1\"}", 1.0}, {"{\"sel\": \"auto:10\"}", 10.0}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        model_config c = model_default_config();
        c.n_sel = 1;
        c.sel[0] = 5;
        jsonw *j = NULL;
        cr_assert_eq(jsonw_parse_text(ok[i].json, "m", &j), RK_OK);
        cr_assert_eq(model_config_from_json(j, "m.json: model", &c), RK_OK, "%s", err_msg());
        jsonw_free(j);
        cr_expect_eq(c.n_sel, 0, "%s: resolved on the data", ok[i].json);
        cr_expect_eq(c.sel_auto, ok[i].r, "%s", ok[i].json);
        char *text = model_config_to_json(&c);
        cr_expect_not_null(strstr(text, "\"auto:"), "%s", text);
        model_config back = model_default_config();
        cr_assert_eq(jsonw_parse_text(text, "back", &j), RK_OK);
        cr_assert_eq(model_config_from_json(j, "back", &back), RK_OK, "%s", err_msg());
        cr_expect_eq(back.sel_auto, ok[i].r, "round trip of %s: %s", ok[i].json, text);
        jsonw_free(j);
        free(text);
        /* a list afterwards replaces the rule */
        cr_assert_eq(jsonw_parse_text("{\"sel\": [4, 6]}", "m", &j), RK_OK);
        cr_assert_eq(model_config_from_json(j, "m", &c), RK_OK);
        jsonw_free(j);
        cr_expect(c.n_sel == 2 && c.sel_auto == 0.0);
    }
    const char *bad[] = {"auto:0.99", "auto:", "auto:11", "Auto", "auto:1.2x", "automatic", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"sel\": \"%s\"}", bad[i]);
        model_config c = model_default_config();
        jsonw *j = NULL;
        cr_assert_eq(jsonw_parse_text(json, "m", &j), RK_OK);
        cr_expect_eq(model_config_from_json(j, "m.json: model", &c), RK_EINPUT, "%s", json);
        jsonw_free(j);
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", bad[i]);
        cr_expect(strstr(err_msg(), "m.json: model: sel") && strstr(err_msg(), want), "%s",
                  err_msg());
    }
}

Test(config, deepmd_sel_auto_batch_auto_and_type_map_need_the_data) {
    cr_assert_eq(chdir(RLEKF_SOURCE_DIR), 0);
    train_config tc;
    config_data d;
    dataset_t ds;
    /* sel "auto": 1.1 x the largest count, rounded up to a multiple of 4 */
    dp_case a = {"sel_auto", "\"type\": \"se_e2_a\", \"sel\": \"auto\"", FIT_OK, "", SYSTEMS, "",
                 NULL};
    cr_assert_eq(load_dp(&a, &tc, &d), RK_OK, "%s", err_msg());
    snprintf(tc.out_dir, sizeof tc.out_dir, "%s", tu_tmp("sel-auto"));
    cr_assert_eq(config_open_data(&tc, &d, &ds), RK_OK, "%s", err_msg());
    /* the rule is carried to the run (and its config.json) and resolved there, as rlekf's own */
    cr_expect(tc.model.n_sel == 0 && tc.model.sel_auto == 1.1);
    cr_assert_eq(model_resolve_sel(&tc.model, &ds), RK_OK, "%s", err_msg());
    model_frame_ref *all = calloc(dataset_total_frames(&ds), sizeof *all);
    for (size_t f = 0; f < ds.sys[0].nframes; f++)
        all[f] = (model_frame_ref){0, f};
    size_t counts[MODEL_MAX_TYPES] = {0};
    cr_assert_eq(model_neighbor_stat(&ds, tc.model.rcut, all, ds.sys[0].nframes, counts, NULL),
                 RK_OK);
    free(all);
    cr_assert_eq(tc.model.n_sel, 2);
    for (size_t t = 0; t < 2; t++) {
        double want = 1.1 * (double)counts[t];
        cr_expect(tc.model.sel[t] % 4 == 0 && (double)tc.model.sel[t] >= floor(want) &&
                      (double)tc.model.sel[t] < floor(want) + 4,
                  "type %zu: max %zu -> sel %zu", t, counts[t], tc.model.sel[t]);
    }
    dataset_free(&ds);
    /* batch_size "auto:200": two 192-atom frames a batch; a number is rlekf's batch_size */
    char err[4096], args[1400], path[600];
    dp_case b = {"batch_auto",
                 DESC_OK,
                 FIT_OK,
                 "",
                 "\"training_data\": {\"systems\": [\"datasets/H2O/data_0\"], \"batch_size\": "
                 "\"auto:200\"}, \"numb_steps\": 100",
                 "",
                 NULL};
    cr_assert_eq(load_dp(&b, &tc, &d), RK_OK, "%s", err_msg());
    snprintf(tc.out_dir, sizeof tc.out_dir, "%s", tu_tmp("batch-auto"));
    cr_assert_eq(config_open_data(&tc, &d, &ds), RK_OK, "%s", err_msg());
    cr_expect_eq(tc.batch_size, 2, "auto:200 with 192 atoms: ceil(200/192) = 2");
    /* numb_steps counts batches: data_0's 64 training frames are 32 batches of 2, so 100 steps
     * are 4 epochs (in frames they would be 2) */
    cr_expect_eq(tc.epochs, 4, "numb_steps 100 in batches of 2 of 64 frames: %zu epochs",
                 tc.epochs);
    dataset_free(&ds);
    dp_case b3 = {"batch_3",
                  DESC_OK,
                  FIT_OK,
                  "",
                  "\"training_data\": {\"systems\": [\"datasets/H2O/data_0\"], \"batch_size\": "
                  "[3]}",
                  "",
                  NULL};
    cr_assert_eq(load_dp(&b3, &tc, &d), RK_OK, "%s", err_msg());
    cr_expect_eq(tc.batch_size, 3);
    /* type_map must match an HDF5 data set's types */
    snprintf(args, sizeof args, "import -o %s datasets/H2O/data_0", tu_tmp("h2o.h5"));
    cr_assert_eq(rlekf_in_src(args, err, sizeof err), 0, "%s", err);
    char train[1200];
    snprintf(train, sizeof train, "\"dataset\": \"%s\"", tu_tmp("h2o.h5"));
    dp_case t = {"type_map", DESC_OK, FIT_OK, "", train, "", NULL};
    write_dp(&t, path, sizeof path);
    char json[4096];
    FILE *f = fopen(path, "r");
    size_t n = fread(json, 1, sizeof json - 1, f);
    fclose(f);
    json[n] = '\0';
    char *tm = strstr(json, "[\"O\", \"H\"]");
    cr_assert_not_null(tm);
    memcpy(tm, "[\"H\", \"O\"]", 10);
    tu_write(path, json);
    snprintf(args, sizeof args, "train %s --out %s", path, tu_tmp("type-map"));
    expect_one_line_error(rlekf_in_src(args, err, sizeof err), err, path,
                          "model.type_map: [H,O], but", "type_map");
    cr_expect(strstr(err, "has the types [O,H]"), "%s", err);
}

/* ------------------------------------------------------------------ documentation ------- */

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* The text between the line holding `begin` and the line holding `end`. */
static char *between(const char *text, const char *begin, const char *end) {
    const char *a = strstr(text, begin);
    cr_assert_not_null(a, "marker %s", begin);
    a = strchr(a, '\n');
    cr_assert_not_null(a);
    a++;
    const char *b = strstr(a, end);
    cr_assert_not_null(b, "marker %s", end);
    while (b > a && b[-1] != '\n')
        b--;
    char *s = malloc((size_t)(b - a) + 1);
    memcpy(s, a, (size_t)(b - a));
    s[b - a] = '\0';
    return s;
}

static char *printed(void (*print)(FILE *)) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    print(f);
    fclose(f);
    return buf;
}

Test(config, experiments_readme_holds_the_tables_as_printed) {
    char *readme = read_all(tu_src("experiments/README.md"));
    char *doc = between(readme, "<!-- training-keys: begin", "<!-- training-keys: end");
    char *code = printed(config_print_markdown);
    cr_expect_str_eq(doc, code,
                     "experiments/README.md differs from `rlekf list training "
                     "--markdown`; paste its output between the markers");
    for (size_t i = 0; i < config_n_keys(); i++) {
        char row[96];
        snprintf(row, sizeof row, "| `%s` |", config_key_at(i)->name);
        cr_expect(strstr(doc, row), "%s is not documented", config_key_at(i)->name);
    }
    free(doc);
    free(code);
    doc = between(readme, "<!-- deepmd-keys: begin", "<!-- deepmd-keys: end");
    code = printed(config_deepmd_print_markdown);
    cr_expect_str_eq(doc, code, "experiments/README.md differs from `rlekf list deepmd`");
    cr_expect(strstr(doc, "| `training.disp_file` | accepted, unused |"), "bookkeeping listed");
    free(doc);
    free(code);
    free(readme);
}

Test(config, listings_print_every_key) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s list training > %s && %s train --help > %s", RLEKF_EXE,
             tu_tmp("list.txt"), RLEKF_EXE, tu_tmp("help.txt"));
    cr_assert_eq(tu_sh(cmd), 0);
    char *list = read_all(tu_tmp("list.txt")), *help = read_all(tu_tmp("help.txt"));
    for (size_t i = 0; i < config_n_keys(); i++) {
        const config_key *k = config_key_at(i);
        char word[96];
        snprintf(word, sizeof word, "\n  %s ", k->name);
        cr_expect(strstr(list, word), "rlekf list training lacks %s", k->name);
        if (k->scopes & CONFIG_RUN) cr_expect(strstr(help, word), "train --help lacks %s", k->name);
    }
    free(list);
    free(help);
}

/* ------------------------------------------------------------------ one spelling -------- */

/* Spellings of a training key's name outside config.c that are not that key: result columns
 * (summary.csv, result.json) and DeePMD-kit's own "seed" keys. */
static const struct {
    const char *key, *file;
} OTHER_MEANING[] = {
    {"dataset", "src/exp/runner.c"},
    {"epochs", "src/exp/runner.c"},
    {"seed", "src/exp/runner.c"},
    {"seed", "src/train/config_deepmd.c"},
    {"batch_size", "src/train/config_deepmd.c"}, /* DeePMD-kit's training_data.batch_size */
    /* summary.csv's column names (a file format, src/io/schema.c) */
    {"dataset", "src/io/schema.c"},
    {"epochs", "src/io/schema.c"},
    {"seed", "src/io/schema.c"},
    {"threads", "src/io/schema.c"},
    {"batch_size", "src/io/schema.c"},
    /* md.json's record of the velocity seed (a file format, src/md) */
    {"seed", "src/md/md_run.c"},
    /* the model file's training_split record (a file format read by eval, SPEC §5 extra) */
    {"split", "src/train/evaluate.c"},
    {"test_fraction", "src/train/evaluate.c"},
    {"max_train_frames", "src/train/evaluate.c"},
    {"seed", "src/train/evaluate.c"},
    /* sgd's own loss prefactors (optimizer hyper-parameters, not the Kalman training keys) */
    {"pref_e", "optimizers/sgd.c"},
    {"pref_f", "optimizers/sgd.c"},
};

static size_t count_in(const char *text, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void scan(const char *rel, size_t *in_table, int *bad) {
    char dir[1200];
    snprintf(dir, sizeof dir, "%s", tu_src(rel));
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.') continue;
        char sub[1200];
        snprintf(sub, sizeof sub, "%s/%s", rel, e->d_name);
        struct stat sb;
        if (stat(tu_src(sub), &sb) == 0 && S_ISDIR(sb.st_mode)) {
            scan(sub, in_table, bad);
            continue;
        }
        if (len < 2 || (strcmp(e->d_name + len - 2, ".c") && strcmp(e->d_name + len - 2, ".h")))
            continue;
        char *text = read_all(tu_src(sub));
        for (size_t i = 0; i < config_n_keys(); i++) {
            char q[96];
            snprintf(q, sizeof q, "\"%s\"", config_key_at(i)->name);
            size_t n = count_in(text, q);
            if (strcmp(sub, "src/train/config.c") == 0) {
                in_table[i] += n;
                continue;
            }
            int other = 0;
            for (size_t k = 0; k < sizeof OTHER_MEANING / sizeof OTHER_MEANING[0]; k++)
                other |= strcmp(OTHER_MEANING[k].key, config_key_at(i)->name) == 0 &&
                         strcmp(OTHER_MEANING[k].file, sub) == 0;
            if (n && !other) {
                cr_expect(0, "%s spells the training key %s (use config.h's table)", sub, q);
                *bad = 1;
            }
        }
        free(text);
    }
    closedir(d);
}

Test(config, training_keys_are_spelled_only_in_the_table) {
    size_t in_table[64] = {0};
    int bad = 0;
    scan("src", in_table, &bad);
    scan("optimizers", in_table, &bad);
    for (size_t i = 0; i < config_n_keys(); i++)
        cr_expect_eq(in_table[i], 1, "config.c spells %s %zu times", config_key_at(i)->name,
                     in_table[i]);
    cr_expect_not(bad);
}
