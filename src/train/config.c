/* config: the training-key table, its readers and writers, and the run-config loader (see
 * config.h). Every training key is one row of KEYS below; nothing else in the tree spells a
 * training key's name or bounds. */
#include "config.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "config_deepmd.h"
#include "fs.h"
#include "h5io.h"
#include "import.h"
#include "model.h"
#include "num.h"
#include "registry.h"

/* The paper's training protocol (SPEC §3): Kalman prefactors, force groups. */
#define CONFIG_PREF_E 1.0
#define CONFIG_PREF_F 2.0
#define CONFIG_FORCE_GROUPS 4
#define CONFIG_GROUP_ATOMS 6
/* Seconds between progress lines. */
#define CONFIG_PROGRESS_S 5.0
/* The importer of DeePMD-kit's training_data.systems. */
#define CONFIG_DEEPMD_FORMAT "deepmd"
/* The output folder of a config that names none. */
#define CONFIG_DEFAULT_OUTPUT "run"

/* Bounds. Frame counts: far above any data set; epochs and updates: far beyond any run. */
#define CONFIG_FRAMES_MAX 1e8
#define CONFIG_EPOCHS_MAX 1e6
#define CONFIG_UPDATES_MAX 1e9
/* Images per batch: far above any batch a Kalman update or a workspace per thread can use. */
#define CONFIG_BATCH_MAX 4096
/* Seeds are 31-bit so that every tool (and a JSON reader using doubles) keeps them exact. */
#define CONFIG_SEED_MAX 2147483647.0
#define CONFIG_THREADS_MAX 1024
#define CONFIG_SECONDS_MAX 1e9
/* Initial-weight scales beyond 1e+-6 saturate tanh or leave the nets at zero. */
#define CONFIG_SCALE_MIN 1e-6
#define CONFIG_SCALE_MAX 1e6
/* Prefactors multiply errors; 1e6 is far above the paper's 2. */
#define CONFIG_PREF_MAX 1e6

/* Integers below this magnitude print in full; larger ones as 1e+09, to keep tables narrow. */
#define CONFIG_PRINT_INT_MAX 1e7
/* 17 significant digits always identify a double. */
#define CONFIG_MAX_DIGITS 17
/* Room for the list of valid keys of one object. */
#define CONFIG_MAX_ALLOWED 64

#define FIELD(f) offsetof(train_config, f), sizeof(((train_config *)0)->f)
#define RUN CONFIG_RUN
#define MAN CONFIG_MANIFEST
#define DSET CONFIG_DATASET
#define VAR CONFIG_VARIANT

/* Every training key. The order is the order of config.json's "training" object. */
static const config_key KEYS[] = {
    {"dataset", CONFIG_STRING, 0, 0, 0, NULL, FIELD(dataset), RUN,
     "HDF5 data set written by rlekf import (required in a run config)"},
    {"split", CONFIG_CHOICE, EVALUATE_SPLIT_TAIL, 0, 0, evaluate_split_mode_names, FIELD(split), RUN | DSET,
     "test frames: the last floor(f n) of each system of n frames (the paper's split) or a "
     "seeded random subset of that size"},
    {"test_fraction", CONFIG_REAL, EVALUATE_TEST_FRACTION, 0, EVALUATE_TEST_FRACTION_MAX, NULL,
     FIELD(test_fraction), RUN | DSET, "f above"},
    {"max_train_frames", CONFIG_SIZE, 0, 0, CONFIG_FRAMES_MAX, NULL, FIELD(max_train_frames),
     RUN | DSET, "train on an evenly spaced subset of at most this many training frames (0: all)"},
    {"eval_max_frames", CONFIG_SIZE, 0, 0, CONFIG_FRAMES_MAX, NULL, FIELD(eval_max_frames),
     RUN | MAN | VAR,
     "evaluate RMSEs on an evenly spaced subset of at most this many train and test frames "
     "(0: all)"},
    {"epochs", CONFIG_SIZE, 1, 0, CONFIG_EPOCHS_MAX, NULL, FIELD(epochs), RUN | MAN | VAR,
     "passes over the training frames"},
    {"batch_size", CONFIG_SIZE, 1, 1, CONFIG_BATCH_MAX, NULL, FIELD(batch_size), RUN | MAN | VAR,
     "images per update, all of one system (SPEC 3 \"Minibatch\"): Kalman reduces their errors "
     "and Jacobians to one measurement per update, gradient methods step on their mean loss; "
     "each system's last batch of an epoch may be short"},
    {"eval_every", CONFIG_SIZE, 0, 0, CONFIG_UPDATES_MAX, NULL, FIELD(eval_every), RUN | MAN | VAR,
     "also evaluate every K updates (0: only after every epoch); Kalman makes 1 + force_groups "
     "updates per image, Adam 1, so use eval_every_images to compare optimizers"},
    {"eval_every_images", CONFIG_SIZE, 0, 0, CONFIG_UPDATES_MAX, NULL, FIELD(eval_every_images),
     RUN | MAN | VAR,
     "also evaluate after every K training images, the same cadence for every optimizer "
     "(0: off; with eval_every, either one triggers)"},
    {"seed", CONFIG_U64, 1, 0, CONFIG_SEED_MAX, NULL, FIELD(seed), RUN,
     "with the data set's name, seeds the streams of initial weights, split, image order and "
     "atom sampling (a manifest lists its seeds instead)"},
    {"threads", CONFIG_INT, 0, 0, CONFIG_THREADS_MAX, NULL, FIELD(threads), RUN | MAN,
     "BLAS/OpenMP threads (0: leave as is); in a manifest the total, divided among -j parallel "
     "cells (0: all cores)"},
    {"time_budget_s", CONFIG_REAL, 0, 0, CONFIG_SECONDS_MAX, NULL, FIELD(time_budget_s),
     RUN | MAN | VAR,
     "wall-time budget; a run that exceeds it ends with status time_budget (0: none)"},
    {"train_budget_s", CONFIG_REAL, 0, 0, CONFIG_SECONDS_MAX, NULL, FIELD(train_budget_s),
     RUN | MAN | DSET | VAR,
     "training-time budget: a run whose train_s (training steps only, no evaluations) exceeds "
     "it ends with status time_budget after that batch (0: none); equal budgets make a fair race"},
    {"checkpoint_every_images", CONFIG_SIZE, 0, 0, CONFIG_UPDATES_MAX, NULL,
     FIELD(checkpoint_every_images), RUN | MAN,
     "write OUT.partial/checkpoint.h5 (weights, optimizer state, RNG streams, position) every K "
     "training images, for --resume (0: after every evaluation, unless saving would take over a "
     "tenth of the time)"},
    {"init_weight_scale", CONFIG_REAL, 1, CONFIG_SCALE_MIN, CONFIG_SCALE_MAX, NULL,
     FIELD(init_weight_scale), RUN | VAR,
     "multiplies every W and hidden b after initialisation (departs from paired starts)"},
    {"pref_e", CONFIG_REAL, CONFIG_PREF_E, 0, CONFIG_PREF_MAX, NULL, FIELD(pref_e), RUN | VAR,
     "Kalman energy prefactor pE"},
    {"pref_f", CONFIG_REAL, CONFIG_PREF_F, 0, CONFIG_PREF_MAX, NULL, FIELD(pref_f), RUN | VAR,
     "Kalman force prefactor pF"},
};
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])
_Static_assert(N_KEYS <= 64, "config_layer.set has one bit per key");

#undef RUN
#undef MAN
#undef DSET
#undef VAR

size_t config_n_keys(void) {
    return N_KEYS;
}

const config_key *config_key_at(size_t i) {
    return i < N_KEYS ? &KEYS[i] : NULL;
}

int config_key_index(const char *name) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(KEYS[i].name, name) == 0) return (int)i;
    return -1;
}

const config_key *config_key_of_field(size_t offset) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (KEYS[i].offset == offset) return &KEYS[i];
    RK_ASSERT(0); /* only a bug names a field that has no key */
    return NULL;
}

/* ------------------------------------------------------------------ fields --------------- */

static void *field(train_config *tc, const config_key *k) {
    return (char *)tc + k->offset;
}

/* Store a number into a key's field (an integer type's value is already checked). */
static void store_number(train_config *tc, const config_key *k, double v) {
    void *p = field(tc, k);
    switch (k->type) {
    case CONFIG_INT:
    case CONFIG_CHOICE: {
        RK_ASSERT(k->size == sizeof(int));
        int x = (int)v;
        memcpy(p, &x, sizeof x);
        break;
    }
    case CONFIG_SIZE: {
        RK_ASSERT(k->size == sizeof(size_t));
        size_t x = (size_t)v;
        memcpy(p, &x, sizeof x);
        break;
    }
    case CONFIG_U64: {
        RK_ASSERT(k->size == sizeof(uint64_t));
        uint64_t x = (uint64_t)v;
        memcpy(p, &x, sizeof x);
        break;
    }
    case CONFIG_REAL:
        RK_ASSERT(k->size == sizeof(double));
        memcpy(p, &v, sizeof v);
        break;
    case CONFIG_STRING:
        RK_ASSERT(0);
    }
}

/* A key's value as a double (strings: 0). */
static double load_number(const train_config *tc, const config_key *k) {
    const void *p = (const char *)tc + k->offset;
    switch (k->type) {
    case CONFIG_INT:
    case CONFIG_CHOICE: {
        int x;
        memcpy(&x, p, sizeof x);
        return x;
    }
    case CONFIG_SIZE: {
        size_t x;
        memcpy(&x, p, sizeof x);
        return (double)x;
    }
    case CONFIG_U64: {
        uint64_t x;
        memcpy(&x, p, sizeof x);
        return (double)x;
    }
    case CONFIG_REAL: {
        double x;
        memcpy(&x, p, sizeof x);
        return x;
    }
    case CONFIG_STRING:
        break;
    }
    return 0.0;
}

void config_default(train_config *tc) {
    memset(tc, 0, sizeof *tc);
    for (size_t i = 0; i < N_KEYS; i++)
        if (KEYS[i].type != CONFIG_STRING) store_number(tc, &KEYS[i], KEYS[i].def);
    tc->model = model_default_config();
    tc->opt = optim_default();
    if (tc->opt) optim_default_params(tc->opt, &tc->opt_params);
    tc->force_groups = CONFIG_FORCE_GROUPS;
    tc->group_atoms = CONFIG_GROUP_ATOMS;
    tc->progress_interval_s = CONFIG_PROGRESS_S;
    snprintf(tc->out_dir, sizeof tc->out_dir, "%s", CONFIG_DEFAULT_OUTPUT);
}

void config_layer_init(config_layer *l) {
    config_default(&l->v);
    l->set = 0;
}

/* ------------------------------------------------------------------ reading -------------- */

/* Check a number against a key's type and bounds and store it; messages as jsonw's getters. */
static rk_status set_number(train_config *tc, const config_key *k, double x, const char *path) {
    if (k->type == CONFIG_REAL) {
        if (!isfinite(x) || x < k->lo || x > k->hi)
            return err_set(RK_EINPUT, "%s: expected a number in [%g, %g], got %.17g", path, k->lo,
                           k->hi, x);
    } else if (!isfinite(x) || x != floor(x) || x < k->lo || x > k->hi) {
        return err_set(RK_EINPUT, "%s: expected an integer in [%ld, %ld], got %.17g", path,
                       (long)k->lo, (long)k->hi, x);
    }
    store_number(tc, k, x);
    return RK_OK;
}

static rk_status set_choice(train_config *tc, const config_key *k, const char *s,
                            const char *path) {
    char valid[CONFIG_MAX_ALLOWED * 8] = "";
    size_t len = 0;
    for (size_t c = 0; k->choices[c]; c++) {
        if (strcmp(k->choices[c], s) == 0) {
            store_number(tc, k, (double)c);
            return RK_OK;
        }
        len += (size_t)snprintf(valid + len, len < sizeof valid ? sizeof valid - len : 0, "%s%s",
                                c ? ", " : "", k->choices[c]);
    }
    return err_set(RK_EINPUT, "%s: unknown value \"%s\" (valid: %s)", path, s, valid);
}

static rk_status set_string(train_config *tc, const config_key *k, const char *s,
                            const char *path) {
    if (strlen(s) + 1 > k->size)
        return err_set(RK_EINPUT, "%s: string too long (%zu characters, at most %zu)", path,
                       strlen(s), k->size - 1);
    memcpy(field(tc, k), s, strlen(s) + 1);
    return RK_OK;
}

/* The member k->name of obj (present) into tc. */
static rk_status parse_key(const jsonw *obj, const char *ctx, const config_key *k,
                           train_config *tc) {
    char path[TRAIN_PATH_MAX + 128];
    snprintf(path, sizeof path, "%s.%s", ctx, k->name);
    if (k->type == CONFIG_STRING || k->type == CONFIG_CHOICE) {
        char s[TRAIN_PATH_MAX];
        rk_status st = jsonw_get_str(obj, ctx, k->name, 1, s, sizeof s);
        if (st) return st;
        return k->type == CONFIG_STRING ? set_string(tc, k, s, path) : set_choice(tc, k, s, path);
    }
    double x = 0.0;
    rk_status st = jsonw_get_num(obj, ctx, k->name, 1, -HUGE_VAL, HUGE_VAL, &x);
    if (st) return st;
    return set_number(tc, k, x, path);
}

rk_status config_set_text(train_config *tc, const config_key *k, const char *text,
                          const char *what) {
    if (k->type == CONFIG_STRING) return set_string(tc, k, text, what);
    if (k->type == CONFIG_CHOICE) return set_choice(tc, k, text, what);
    /* the one checked parser (num.h): whole string, the key's bounds, integers as integers */
    double x = 0.0;
    rk_status st = RK_OK;
    if (k->type == CONFIG_REAL) {
        st = num_parse_real(what, text, k->lo, k->hi, &x);
    } else if (k->type == CONFIG_INT) {
        long v = 0;
        st = num_parse_long(what, text, (long)k->lo, (long)k->hi, &v);
        x = (double)v;
    } else {
        uint64_t v = 0;
        st = num_parse_u64(what, text, (uint64_t)(k->lo > 0 ? k->lo : 0), (uint64_t)k->hi, &v);
        x = (double)v;
    }
    if (st) return st;
    return set_number(tc, k, x, what);
}

rk_status config_parse_keys(const jsonw *obj, const char *ctx, unsigned scope,
                            const char *const *extra, config_layer *l) {
    const char *allowed[CONFIG_MAX_ALLOWED];
    size_t n = 0;
    for (const char *const *e = extra; e && *e; e++) {
        RK_ASSERT(n + 1 < CONFIG_MAX_ALLOWED);
        allowed[n++] = *e;
    }
    for (size_t i = 0; i < N_KEYS; i++)
        if (KEYS[i].scopes & scope) {
            RK_ASSERT(n + 1 < CONFIG_MAX_ALLOWED);
            allowed[n++] = KEYS[i].name;
        }
    allowed[n] = NULL;
    rk_status st = jsonw_check_keys(obj, ctx, allowed);
    if (st) return st;
    for (size_t i = 0; i < N_KEYS; i++) {
        if (!(KEYS[i].scopes & scope) || !jsonw_get(obj, KEYS[i].name)) continue;
        if ((st = parse_key(obj, ctx, &KEYS[i], &l->v))) return st;
        l->set |= (uint64_t)1 << i;
    }
    return RK_OK;
}

int config_layer_has(const config_layer *l, const config_key *k) {
    RK_ASSERT(k >= KEYS && k < KEYS + N_KEYS);
    return (int)(l->set >> (size_t)(k - KEYS) & 1u);
}

void config_apply(train_config *dst, const config_layer *src) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (src->set >> i & 1u)
            memcpy((char *)dst + KEYS[i].offset, (const char *)&src->v + KEYS[i].offset,
                   KEYS[i].size);
}

rk_status config_parse_training(const jsonw *obj, const char *ctx, train_config *tc) {
    config_layer l = {*tc, 0};
    rk_status st = config_parse_keys(obj, ctx, CONFIG_RUN, NULL, &l);
    if (!st) *tc = l.v;
    return st;
}

static int listed(const char *const *names, const char *key) {
    for (const char *const *n = names; n && *n; n++)
        if (strcmp(*n, key) == 0) return 1;
    return 0;
}

rk_status config_parse_optimizer(const jsonw *obj, const char *ctx, const char *const *meta,
                                 const optim_type **type, optim_params *params) {
    char name[64] = "";
    rk_status st = jsonw_get_str(obj, ctx, "type", 1, name, sizeof name);
    if (st) return st;
    const optim_type *t = optim_find(name);
    if (!t)
        return err_set(RK_EINPUT, "%s.type: unknown optimizer \"%s\" (valid: %s)", ctx, name,
                       optim_names());
    optim_default_params(t, params);
    for (size_t i = 0; i < jsonw_size(obj); i++) {
        const jsonw *mem = jsonw_at(obj, i);
        const char *key = jsonw_key(mem);
        if (strcmp(key, "type") == 0 || listed(meta, key)) continue;
        if (jsonw_typeof(mem) == JSONW_STRING)
            st = optim_set_choice(t, params, ctx, key, jsonw_string(mem));
        else if (jsonw_typeof(mem) == JSONW_NUMBER)
            st = optim_set_param(t, params, ctx, key, jsonw_number(mem));
        else
            st = err_set(RK_EINPUT, "%s.%s: expected a number or a string", ctx, key);
        if (st) return st;
    }
    *type = t;
    return RK_OK;
}

/* rlekf's own spelling: {"model", "optimizer", "training", "output"}. */
static rk_status load_native(const jsonw *j, const char *path, train_config *tc) {
    static const char *const keys[] = {"model", "optimizer", "training", "output", NULL};
    static const char *const opt_meta[] = {"label", NULL};
    char ctx[TRAIN_PATH_MAX + 32];
    snprintf(ctx, sizeof ctx, "%s: config", path);
    rk_status st = jsonw_check_keys(j, ctx, keys);
    if (!st && jsonw_get(j, "model")) {
        snprintf(ctx, sizeof ctx, "%s: model", path);
        st = model_config_from_json(jsonw_get(j, "model"), ctx, &tc->model);
    }
    if (!st && jsonw_get(j, "optimizer")) {
        snprintf(ctx, sizeof ctx, "%s: optimizer", path);
        st = config_parse_optimizer(jsonw_get(j, "optimizer"), ctx, opt_meta, &tc->opt,
                                    &tc->opt_params);
    }
    if (!st && jsonw_get(j, "training")) {
        snprintf(ctx, sizeof ctx, "%s: training", path);
        st = config_parse_training(jsonw_get(j, "training"), ctx, tc);
    }
    if (!st) {
        snprintf(ctx, sizeof ctx, "%s: config", path);
        st = jsonw_get_str(j, ctx, "output", 0, tc->out_dir, sizeof tc->out_dir);
    }
    if (!st && !tc->dataset[0])
        st = err_set(RK_EINPUT, "%s: training.dataset: missing (required)", path);
    return st;
}

rk_status config_load(const char *path, train_config *tc, config_data *data) {
    memset(data, 0, sizeof *data);
    snprintf(data->what, sizeof data->what, "%s", path);
    jsonw *j = NULL;
    rk_status st = jsonw_parse_file(path, &j);
    if (st) return st;
    if (config_deepmd_detect(j))
        st = config_deepmd_parse(j, path, tc, data);
    else
        st = load_native(j, path, tc);
    jsonw_free(j);
    return st;
}

/* ------------------------------------------------------------------ data ----------------- */

/* Import the DeePMD-kit systems into ds and keep a copy in <out_dir>/data.h5. */
static rk_status import_systems(train_config *tc, const config_data *data, dataset_t *ds) {
    import_opts io = {IMPORT_AUTO, 0};
    rk_status st = import_format_parse(CONFIG_DEEPMD_FORMAT, &io.format);
    if (st) return st;
    if (data->type_map[0]) {
        if ((st = import_set_type_map(ds, data->type_map)))
            return err_prefix(st, "%s: model.type_map: ", data->what);
        io.type_map_fixed = 1;
    }
    char prov[CONFIG_MAX_SYSTEMS * (TRAIN_PATH_MAX + 4) + 64];
    size_t len = (size_t)snprintf(prov, sizeof prov, "imported by rlekf train from:");
    for (size_t i = 0; i < data->n_systems; i++) {
        if ((st = import_source(data->systems[i], &io, ds, NULL)))
            return err_prefix(st, "%s: training.training_data.systems[%zu]: ", data->what, i);
        len += (size_t)snprintf(prov + len, sizeof prov - len, " %s", data->systems[i]);
    }
    dataset_sort(ds);
    if ((st = dataset_validate(ds, data->what))) return st;
    char path[TRAIN_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/data.h5", tc->out_dir);
    if (strlen(path) >= sizeof tc->dataset)
        return err_set(RK_EINPUT, "%s: output path too long", tc->out_dir);
    if ((st = fs_mkdirs(tc->out_dir))) return st;
    if ((st = h5io_dataset_write_prov(path, ds, prov))) return st;
    memcpy(tc->dataset, path, strlen(path) + 1);
    return RK_OK;
}

/* The data set's type names as "O,H". */
static void type_list(const dataset_t *ds, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t t = 0; t < ds->ntypes && len < cap; t++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", t ? "," : "", ds->type_map[t]);
}

/* numb_steps steps (batches) = ceil(numb_steps / batches per epoch) epochs (rlekf trains whole
 * epochs; batches per epoch as the trainer cuts them, train_batches_per_epoch). */
static rk_status apply_numb_steps(train_config *tc, const config_data *data, const dataset_t *ds) {
    model_frame_ref *tr = NULL, *te = NULL;
    size_t ntr = 0, nte = 0;
    evaluate_split split = evaluate_default_split();
    split.mode = tc->split;
    split.test_fraction = tc->test_fraction;
    split.seed = tc->seed;
    split.max_train_frames = tc->max_train_frames; /* counts per system do not depend on the
                                                      random split's stream */
    rk_status st = evaluate_frames(ds, &split, &tr, &ntr, &te, &nte);
    size_t batches = st ? 0 : train_batches_per_epoch(tr, ntr, ds->nsystems, tc->batch_size);
    free(tr);
    free(te);
    if (st) return st;
    if (batches == 0) return RK_OK; /* train_run reports "no training frames" */
    size_t epochs = (data->numb_steps + batches - 1) / batches;
    const config_key *k = config_key_of_field(offsetof(train_config, epochs));
    if ((double)epochs > k->hi)
        return err_set(RK_EINPUT,
                       "%s: training.numb_steps: %zu steps are %zu epochs of %zu batches, "
                       "more than the %.0f epochs allowed",
                       data->what, data->numb_steps, epochs, batches, k->hi);
    tc->epochs = epochs;
    return RK_OK;
}

/* batch_size "auto:N": ceil(N / atoms) frames per batch, the same for every system. */
static rk_status apply_batch_auto(train_config *tc, const config_data *data, const dataset_t *ds) {
    size_t B = 0, first = 0;
    const config_key *k = config_key_of_field(offsetof(train_config, batch_size));
    for (size_t s = 0; s < ds->nsystems; s++) {
        size_t na = ds->sys[s].natoms, b = (data->batch_auto_atoms + na - 1) / na;
        if (s > 0 && b != B)
            return err_set(RK_EINPUT,
                           "%s: training.training_data.batch_size: \"auto\" gives %zu frames a "
                           "batch for system %s (%zu atoms) and %zu for %s (%zu atoms); rlekf "
                           "takes one batch size: set a number",
                           data->what, B, ds->sys[first].name, ds->sys[first].natoms, b,
                           ds->sys[s].name, na);
        if ((double)b > k->hi)
            return err_set(RK_EINPUT,
                           "%s: training.training_data.batch_size: \"auto\" gives %zu frames a "
                           "batch for system %s, more than %.0f",
                           data->what, b, ds->sys[s].name, k->hi);
        B = b;
    }
    if (B) tc->batch_size = B;
    return RK_OK;
}

rk_status config_open_data(train_config *tc, const config_data *data, dataset_t *ds) {
    memset(ds, 0, sizeof *ds);
    rk_status st;
    if (data->n_systems) {
        st = import_systems(tc, data, ds);
    } else {
        st = h5io_dataset_read(tc->dataset, ds);
        if (!st && data->type_map[0]) {
            char have[CONFIG_TYPE_MAP_MAX];
            type_list(ds, have, sizeof have);
            if (strcmp(have, data->type_map) != 0)
                st = err_set(RK_EINPUT,
                             "%s: model.type_map: [%s], but %s has the types [%s] (sel follows "
                             "the type order)",
                             data->what, data->type_map, tc->dataset, have);
        }
    }
    if (!st && data->batch_auto_atoms) st = apply_batch_auto(tc, data, ds);
    if (!st && data->numb_steps) st = apply_numb_steps(tc, data, ds);
    if (st) dataset_free(ds);
    return st;
}

/* ------------------------------------------------------------------ writing -------------- */

void config_clear_run_settings(train_config *tc) {
    tc->threads = 0;
    tc->quiet = 0;
    tc->resume = 0;
    tc->progress_interval_s = 0;
    tc->checkpoint_every_images = 0;
}

jsonw *config_to_object(const train_config *tc) {
    jsonw *o = jsonw_new_object();
    char *ms = model_config_to_json(&tc->model);
    jsonw *mj = NULL;
    if (jsonw_parse_text(ms, "model", &mj) == RK_OK) jsonw_add(o, "model", mj);
    free(ms);
    jsonw *op = jsonw_new_object();
    jsonw_add_str(op, "type", tc->opt->name);
    for (size_t i = 0; i < tc->opt->n_params; i++) {
        const optim_param_desc *d = &tc->opt->params[i];
        if (d->type == OPTIM_P_CHOICE)
            jsonw_add_str(op, d->name, d->choices[(int)tc->opt_params.v[i]]);
        else
            jsonw_add_num(op, d->name, tc->opt_params.v[i]);
    }
    jsonw_add(o, "optimizer", op);
    jsonw *tr = jsonw_new_object();
    for (size_t i = 0; i < N_KEYS; i++) {
        const config_key *k = &KEYS[i];
        if (k->type == CONFIG_STRING)
            jsonw_add_str(tr, k->name, (const char *)tc + k->offset);
        else if (k->type == CONFIG_CHOICE)
            jsonw_add_str(tr, k->name, k->choices[(int)load_number(tc, k)]);
        else
            jsonw_add_num(tr, k->name, load_number(tc, k));
    }
    jsonw_add(o, "training", tr);
    jsonw_add_str(o, "output", tc->out_dir);
    return o;
}

char *config_to_json(const train_config *tc) {
    jsonw *o = config_to_object(tc);
    char *s = jsonw_print(o);
    jsonw_free(o);
    return s;
}

/* ------------------------------------------------------------------ printing ------------- */

static const char *num(char *buf, size_t cap, double v) {
    if (v == floor(v) && fabs(v) < CONFIG_PRINT_INT_MAX) {
        snprintf(buf, cap, "%.0f", v);
        return buf;
    }
    for (int prec = 1; prec <= CONFIG_MAX_DIGITS; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

static const char *type_name(const config_key *k) {
    switch (k->type) {
    case CONFIG_INT:
    case CONFIG_SIZE:
    case CONFIG_U64:
        return "integer";
    case CONFIG_REAL:
        return "number";
    case CONFIG_STRING:
        return "string";
    case CONFIG_CHOICE:
        return "choice";
    }
    return "?";
}

/* Default and range as text; md: Markdown (code spans, escaped bars). */
static void describe(const config_key *k, int md, char *def, size_t dcap, char *range,
                     size_t rcap) {
    char a[40], b[40];
    const char *q = md ? "`" : "";
    if (k->type == CONFIG_STRING) {
        snprintf(def, dcap, "%s", md ? "—" : "-");
        snprintf(range, rcap, "%s", md ? "—" : "-");
    } else if (k->type == CONFIG_CHOICE) {
        snprintf(def, dcap, "%s%s%s", q, k->choices[(int)k->def], q);
        size_t len = 0;
        range[0] = '\0';
        for (size_t c = 0; k->choices[c] && len < rcap; c++)
            len += (size_t)snprintf(range + len, rcap - len, "%s%s%s%s",
                                    c ? (md ? " \\| " : " | ") : "", q, k->choices[c], q);
    } else {
        num(def, dcap, k->def);
        snprintf(range, rcap, "[%s, %s]", num(a, sizeof a, k->lo), num(b, sizeof b, k->hi));
    }
}

static const struct {
    unsigned bit;
    const char *name;
} SCOPES[] = {{CONFIG_RUN, "training"},
              {CONFIG_MANIFEST, "manifest"},
              {CONFIG_DATASET, "datasets[i]"},
              {CONFIG_VARIANT, "optimizers[i].training"}};
#define N_SCOPES (sizeof SCOPES / sizeof SCOPES[0])

static void scope_list(unsigned scopes, int md, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t s = 0; s < N_SCOPES && len < cap; s++)
        if (scopes & SCOPES[s].bit)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s%s%s", len ? ", " : "",
                                    md ? "`" : "", SCOPES[s].name, md ? "`" : "");
}

void config_print_keys(FILE *f, unsigned scopes) {
    fprintf(f, "  %-18s %-8s %-8s %-22s %s\n", "key", "type", "default", "range", "meaning");
    for (size_t i = 0; i < N_KEYS; i++) {
        const config_key *k = &KEYS[i];
        if (!(k->scopes & scopes)) continue;
        char def[64], range[128], where[128];
        describe(k, 0, def, sizeof def, range, sizeof range);
        scope_list(k->scopes, 0, where, sizeof where);
        fprintf(f, "  %-18s %-8s %-8s %-22s %s [in: %s]\n", k->name, type_name(k), def, range,
                k->help, where);
    }
}

void config_print_markdown(FILE *f) {
    fprintf(f, "| key | type | default | range | where | meaning |\n");
    fprintf(f, "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < N_KEYS; i++) {
        const config_key *k = &KEYS[i];
        char def[64], range[160], where[160];
        describe(k, 1, def, sizeof def, range, sizeof range);
        scope_list(k->scopes, 1, where, sizeof where);
        fprintf(f, "| `%s` | %s | %s | %s | %s | %s |\n", k->name, type_name(k), def, range, where,
                k->help);
    }
}
