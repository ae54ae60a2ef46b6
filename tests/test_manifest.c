/* Manifest validation, table-driven: every malformed manifest gives exit status 2 and a one-line
 * message naming the file, the JSON path and the bad value; nothing is run (--dry-run) and no
 * results directory appears. And the resolution of a cell's training configuration: defaults,
 * then the manifest's top level, its dataset, its variant's "training" object. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "manifest.h"
#include "testutil.h"

typedef struct {
    const char *name;
    const char *json; /* %s = path of a real raw source (Cu MOVEMENT) */
    const char *expect;
} bad_case;

#define DS "\"datasets\": [{\"name\": \"Cu\", \"source\": \"%s\", \"format\": \"movement\"}]"
#define OPT "\"optimizers\": [{\"type\": \"rlekf\"}]"
#define SEEDS "\"seeds\": [1]"

static const bad_case cases[] = {
    {"syntax", "{\"name\": \"x\",\n \"seeds\": [1,]\n}", "line 2: invalid JSON"},
    {"missing_name", "{" DS ", " OPT ", " SEEDS "}", "manifest.name: missing"},
    {"bad_name", "{\"name\": \"a/b\", " DS ", " OPT ", " SEEDS "}",
     "manifest.name: \"a/b\" must be"},
    {"unknown_key", "{\"name\": \"x\", \"epoch\": 3, " DS ", " OPT ", " SEEDS "}",
     "manifest.epoch: unknown key (valid: name, description"},
    {"epochs_type", "{\"name\": \"x\", \"epochs\": \"two\", " DS ", " OPT ", " SEEDS "}",
     "manifest.epochs: expected a number, got \"two\""},
    {"epochs_negative", "{\"name\": \"x\", \"epochs\": -1, " DS ", " OPT ", " SEEDS "}",
     "manifest.epochs: expected an integer in [0, 1000000], got -1"},
    {"no_datasets", "{\"name\": \"x\", \"datasets\": [], " OPT ", " SEEDS "}",
     "manifest.datasets: expected a non-empty array"},
    {"h5_missing",
     "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"h5\": \"/nonexistent/Cu.h5\"}], " OPT
     ", " SEEDS "}",
     "datasets[0].h5: file not found: /nonexistent/Cu.h5"},
    {"h5_and_source",
     "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"h5\": \"a.h5\", \"source\": "
     "\"%s\"}], " OPT ", " SEEDS "}",
     "datasets[0]: give exactly one of \"h5\" and \"source\""},
    {"source_missing",
     "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"source\": "
     "[\"/no/such/MOVEMENT\"]}], " OPT ", " SEEDS "}",
     "datasets[0].source[0]: not found: /no/such/MOVEMENT"},
    {"bad_format",
     "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"source\": \"%s\", \"format\": "
     "\"vasp\"}], " OPT ", " SEEDS "}",
     "datasets[0].format: "},
    {"dup_dataset",
     "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"source\": \"%s\"}, {\"name\": \"Cu\", "
     "\"source\": \"%s\"}], " OPT ", " SEEDS "}",
     "datasets[1].name: duplicate dataset name \"Cu\""},
    {"dataset_unknown_key",
     "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"source\": \"%s\", \"splt\": "
     "\"tail\"}], " OPT ", " SEEDS "}",
     "datasets[0].splt: unknown key"},
    {"bad_split",
     "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"source\": \"%s\", \"split\": "
     "\"head\"}], " OPT ", " SEEDS "}",
     "datasets[0].split: unknown value \"head\" (valid: tail, random)"},
    {"outliers_random",
     "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"source\": \"%s\", \"split\": "
     "\"random\", "
     "\"outliers\": {\"fraction\": 0.1}}], " OPT ", " SEEDS "}",
     "datasets[0].outliers: outliers need split \"tail\""},
    {"unknown_optimizer",
     "{\"name\": \"x\", " DS ", \"optimizers\": [{\"type\": \"lbfgs\"}], " SEEDS "}",
     /* the list of valid names continues with every later registration */
     "optimizers[0].type: unknown optimizer \"lbfgs\" (valid: gekf, rlekf, lekf, adam"},
    {"optimizer_no_type",
     "{\"name\": \"x\", " DS ", \"optimizers\": [{\"label\": \"a\"}], " SEEDS "}",
     "optimizers[0].type: missing"},
    {"block_size_fraction",
     "{\"name\": \"x\", " DS
     ", \"optimizers\": [{\"type\": \"rlekf\"}, {\"type\": \"lekf\", \"block_size\": 0.5}], " SEEDS
     "}",
     "optimizers[1].block_size"},
    {"block_size_zero",
     "{\"name\": \"x\", " DS ", \"optimizers\": [{\"type\": \"rlekf\", \"block_size\": 0}], " SEEDS
     "}",
     "optimizers[0].block_size"},
    {"lambda_range",
     "{\"name\": \"x\", " DS ", \"optimizers\": [{\"type\": \"gekf\", \"lambda\": 2}], " SEEDS "}",
     "optimizers[0].lambda"},
    {"noise_choice",
     "{\"name\": \"x\", " DS
     ", \"optimizers\": [{\"type\": \"rlekf\", \"measurement_noise\": \"none\"}], " SEEDS "}",
     "optimizers[0].measurement_noise"},
    {"unknown_hyper",
     "{\"name\": \"x\", " DS
     ", \"optimizers\": [{\"type\": \"adam\", \"learning_rate\": 0.1}], " SEEDS "}",
     "optimizers[0]: unknown hyper-parameter 'learning_rate' for adam (valid: start_lr"},
    {"dup_label",
     "{\"name\": \"x\", " DS ", \"optimizers\": [{\"type\": \"rlekf\"}, {\"type\": \"rlekf\", "
     "\"block_size\": 1024}], " SEEDS "}",
     "optimizers[1].label: duplicate label \"rlekf\""},
    {"variant_training_key",
     "{\"name\": \"x\", " DS
     ", \"optimizers\": [{\"type\": \"adam\", \"training\": {\"lr\": 1}}], " SEEDS "}",
     "optimizers[0].training.lr: unknown key"},
    {"variant_training_duplicate",
     "{\"name\": \"x\", " DS ", \"optimizers\": [{\"type\": \"adam\", \"training\": {\"epochs\": "
     "1, \"epochs\": -5}}], " SEEDS "}",
     "optimizers[0].training.epochs: duplicate key"},
    {"variant_training_range",
     "{\"name\": \"x\", " DS
     ", \"optimizers\": [{\"type\": \"adam\", \"training\": {\"pref_f\": -2}}], " SEEDS "}",
     "optimizers[0].training.pref_f: expected a number in [0, 1e+06], got -2"},
    {"variant_training_scope",
     "{\"name\": \"x\", " DS
     ", \"optimizers\": [{\"type\": \"adam\", \"training\": {\"split\": \"random\"}}], " SEEDS "}",
     "optimizers[0].training.split: unknown key (valid: eval_max_frames"},
    {"dataset_duplicate",
     "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"source\": \"%s\", \"name\": "
     "\"Cu2\"}], " OPT ", " SEEDS "}",
     "datasets[0].name: duplicate key"},
    {"bad_timing", "{\"name\": \"x\", \"timing\": \"private\", " DS ", " OPT ", " SEEDS "}",
     "manifest.timing: unknown value \"private\" (valid: shared, exclusive)"},
    {"timing_type", "{\"name\": \"x\", \"timing\": 1, " DS ", " OPT ", " SEEDS "}",
     "manifest.timing: "},
    {"top_level_scope", "{\"name\": \"x\", \"pref_e\": 2, " DS ", " OPT ", " SEEDS "}",
     "manifest.pref_e: unknown key"},
    {"no_seeds", "{\"name\": \"x\", " DS ", " OPT ", \"seeds\": []}",
     "manifest.seeds: expected a non-empty array"},
    {"seed_fraction", "{\"name\": \"x\", " DS ", " OPT ", \"seeds\": [1, 1.5]}",
     "manifest.seeds[1]: expected an integer"},
    {"seed_duplicate", "{\"name\": \"x\", " DS ", " OPT ", \"seeds\": [3, 3]}",
     "manifest.seeds[1]: duplicate seed 3"},
    {"model_unknown_key",
     "{\"name\": \"x\", \"model\": {\"neurons\": [10]}, " DS ", " OPT ", " SEEDS "}",
     "model.neurons: unknown key"},
    {"model_rcut_smth",
     "{\"name\": \"x\", \"model\": {\"rcut\": 4, \"rcut_smth\": 5}, " DS ", " OPT ", " SEEDS "}",
     "model.rcut_smth: must be below rcut = 4, got 5"},
    {"model_resnet_dt",
     "{\"name\": \"x\", \"model\": {\"fitting_resnet_dt\": 3}, " DS ", " OPT ", " SEEDS "}",
     "model.fitting_resnet_dt: expected a boolean, got 3"},
    {"model_axis",
     "{\"name\": \"x\", \"model\": {\"neuron\": [8], \"axis_neuron\": 9}, " DS ", " OPT ", " SEEDS
     "}",
     "model.axis_neuron: must be at most neuron[-1] = 8, got 9"},
};

/* One table, every row checked (cr_expect reports each failing row by name). */
Test(manifest, rejects_bad_manifests) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        char json[4096], path[512], args[1200], err[4096];
        const char *src = tu_src("datasets/Cu/0_300_MOVEMENT");
        snprintf(json, sizeof json, c->json, src, src);
        snprintf(path, sizeof path, "%s.json", tu_tmp(c->name));
        tu_write(path, json);
        char results[600];
        snprintf(results, sizeof results, "%s", tu_tmp("results-should-not-exist"));
        snprintf(args, sizeof args, "run %s --results %s", path, results);
        int rc = tu_rlekf(args, err, sizeof err);
        cr_expect_eq(rc, 2, "%s: exit status %d, stderr: %s", c->name, rc, err);
        cr_expect(strstr(err, c->expect) != NULL, "%s: expected '%s' in: %s", c->name, c->expect,
                  err);
        cr_expect(strstr(err, path) != NULL, "%s: message must name the file: %s", c->name, err);
        char *nl = strchr(err, '\n');
        cr_expect(nl && nl[1] == '\0', "%s: message must be one line: %s", c->name, err);
        struct stat sb;
        cr_expect_neq(stat(results, &sb), 0, "%s: nothing may be written", c->name);
    }
}

Test(manifest, usage_errors_exit_2) {
    char err[2048];
    cr_assert_eq(tu_rlekf("run", err, sizeof err), 2);
    cr_assert_eq(tu_rlekf("run x.json --shard 3/2", err, sizeof err), 2);
    cr_assert(strstr(err, "--shard"), "%s", err);
    cr_assert_eq(tu_rlekf("run x.json -j 0", err, sizeof err), 2);
    cr_assert_eq(tu_rlekf("run /nonexistent/m.json", err, sizeof err), 2);
    cr_assert(strstr(err, "/nonexistent/m.json"), "%s", err);
}

/* Layers: a key set at a level overrides the level above, even with the default's value; a key
 * not set leaves it alone. */
Test(manifest, cell_training_resolves_defaults_top_dataset_variant) {
    char json[4096];
    const char *src = tu_src("datasets/Cu/0_300_MOVEMENT");
    snprintf(json, sizeof json,
             "{\"name\": \"x\", \"epochs\": 3, \"eval_every\": 7, \"eval_every_images\": 9, "
             "\"threads\": 2, \"timing\": \"exclusive\", "
             "\"datasets\": [{\"name\": \"Cu\", \"source\": \"%s\", \"split\": \"random\", "
             "\"test_fraction\": 0.3, \"max_train_frames\": 5}, {\"name\": \"Cu2\", \"source\": "
             "\"%s\"}], "
             "\"optimizers\": [{\"type\": \"rlekf\", \"training\": {\"epochs\": 1, \"pref_f\": 3, "
             "\"time_budget_s\": 0}}, {\"type\": \"adam\"}], \"seeds\": [4]}",
             src, src);
    const char *path = tu_tmp("layers.json");
    tu_write(path, json);
    manifest_t m;
    cr_assert_eq(manifest_load(path, &m), RK_OK, "%s", err_msg());
    cr_expect_eq(m.threads, 2);
    cr_expect_eq(m.timing, MAN_TIMING_EXCLUSIVE);
    train_config tc;
    /* cell 0: dataset Cu, variant rlekf */
    manifest_cell_config(&m, 0, "cu.h5", &tc);
    cr_expect_eq(tc.epochs, 1, "the variant's epochs, although it equals the default");
    cr_expect_eq(tc.eval_every, 7);
    cr_expect_eq(tc.eval_every_images, 9);
    cr_expect_eq(tc.pref_f, 3);
    cr_expect_eq(tc.pref_e, 1, "unset: the default");
    cr_expect_eq(tc.split, EVALUATE_SPLIT_RANDOM);
    cr_expect_eq(tc.test_fraction, 0.3);
    cr_expect_eq(tc.max_train_frames, 5);
    cr_expect_eq(tc.threads, 2);
    cr_expect_eq(tc.seed, 4);
    cr_expect_str_eq(tc.dataset, "cu.h5");
    cr_expect_str_eq(tc.stream_name, "Cu");
    /* cell 1: dataset Cu, variant adam: the top level's epochs */
    manifest_cell_config(&m, 1, "cu.h5", &tc);
    cr_expect_eq(tc.epochs, 3);
    cr_expect_eq(tc.pref_f, 2);
    cr_expect_str_eq(tc.opt->name, "adam");
    /* cell 2: dataset Cu2 (no training keys), variant rlekf */
    manifest_cell_config(&m, 2, "cu2.h5", &tc);
    cr_expect_eq(tc.split, EVALUATE_SPLIT_TAIL);
    cr_expect_eq(tc.test_fraction, 0.2);
    cr_expect_eq(tc.max_train_frames, 0);
    cr_expect_eq(tc.epochs, 1);
    manifest_free(&m);
    /* without the key: shared */
    snprintf(json, sizeof json,
             "{\"name\": \"x\", \"datasets\": [{\"name\": \"Cu\", \"source\": \"%s\"}], "
             "\"optimizers\": [{\"type\": \"adam\"}], \"seeds\": [4]}",
             src);
    tu_write(path, json);
    cr_assert_eq(manifest_load(path, &m), RK_OK, "%s", err_msg());
    cr_expect_eq(m.timing, MAN_TIMING_SHARED);
    manifest_free(&m);
}
