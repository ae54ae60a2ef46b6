/* config_deepmd: DeePMD-kit input.json -> train_config (see config_deepmd.h).
 *
 * DEEPMD_KEYS below is the one list of DeePMD-kit keys rlekf reads. Each object of the input is
 * walked against the rows of its section: every member must be a row (or a comment "_..."),
 * then every row is applied in table order, with DeePMD-kit's default when the member is
 * absent. Model keys are handed to model_config_from_json and Adam's to its optimizer table, so
 * their bounds are checked where they are defined; training keys go through config.h's table.
 */
#include "config_deepmd.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "registry.h"

typedef enum {
    DP_SECTION,     /* an object whose members are rows of its own section */
    DP_MODEL,       /* rlekf's model key `target` */
    DP_ADAM,        /* Adam's hyper-parameter `target` (learning_rate and loss) */
    DP_FIXED,       /* accepted only with one of `values`: what rlekf does */
    DP_BOOKKEEPING, /* display, checkpoint or profiling control: no effect on the result */
    DP_UNSUPPORTED, /* a DeePMD-kit feature rlekf does not have: an error when given */
    DP_RLEKF,       /* rlekf's own top-level section (optimizer, output) */
    DP_TYPE_MAP,    /* the type order sel refers to */
    DP_SEL,         /* rlekf's sel, or DeePMD-kit's "auto" rule */
    DP_SEED,        /* rlekf's seed */
    DP_SYSTEMS,     /* DeePMD-kit systems, imported */
    DP_NUMB_STEPS,  /* training length in steps; also Adam's `target` (stop_steps) */
    DP_BATCH_SIZE   /* 1, or "auto" when every system is large enough for one frame a batch */
} dp_kind;

#define DP_REQUIRED 1u /* an error when absent */
#define DP_SHARED 2u   /* spelled the same in rlekf's own configs: does not mark a DeePMD input */

typedef struct {
    const char *section; /* "" = top level, else the dotted path of the object */
    const char *key;
    dp_kind kind;
    const char *target; /* DP_MODEL, DP_ADAM, DP_NUMB_STEPS: the rlekf key */
    const char *values; /* DP_FIXED: accepted values, compact JSON, separated by '|' */
    const char *def;    /* DeePMD-kit's value when the key is absent (compact JSON); NULL: none */
    unsigned flags;
    const char *note;
} dp_key;

/* Notes shared by several rows. */
#define DOUBLE "rlekf computes in double precision"
#define TANH "rlekf's nets use tanh"
#define TRAINED "rlekf trains every weight"
#define NO_EFFECT "no effect on the result"

/* clang-format off */
static const dp_key DEEPMD_KEYS[] = {
    {"", "model", DP_SECTION, NULL, NULL, NULL, DP_REQUIRED | DP_SHARED, "the model"},
    {"", "learning_rate", DP_SECTION, NULL, NULL, NULL, 0, "Adam's learning-rate schedule"},
    {"", "loss", DP_SECTION, NULL, NULL, NULL, 0, "Adam's loss prefactors"},
    {"", "training", DP_SECTION, NULL, NULL, NULL, DP_SHARED, "data and length of the run"},
    {"", "optimizer", DP_RLEKF, NULL, NULL, NULL, DP_SHARED,
     "rlekf's optimizer section (e.g. {\"type\": \"rlekf\"}) instead of learning_rate and loss"},
    {"", "output", DP_RLEKF, NULL, NULL, NULL, DP_SHARED, "rlekf's output folder (default run)"},

    {"model", "type_map", DP_TYPE_MAP, NULL, NULL, NULL, 0,
     "the type order sel refers to: systems are imported in this order; an HDF5 data set must "
     "have these types in this order"},
    {"model", "descriptor", DP_SECTION, NULL, NULL, NULL, DP_REQUIRED, "the descriptor"},
    {"model", "fitting_net", DP_SECTION, NULL, NULL, NULL, 0, "the fitting net"},
    {"model", "data_stat_protect", DP_FIXED, NULL, "0.01", "0.01", 0,
     "rlekf raises every standard deviation below 1e-2 to 1e-2 (SPEC §2)"},
    {"model", "data_stat_nbatch", DP_UNSUPPORTED, NULL, NULL, NULL, 0,
     "rlekf computes the statistics from every training frame (SPEC §2)"},
    {"model", "data_bias_nsample", DP_UNSUPPORTED, NULL, NULL, NULL, 0,
     "rlekf fits the energy bias on every training frame (SPEC §2)"},
    {"model", "type_embedding", DP_UNSUPPORTED, NULL, NULL, NULL, 0,
     "rlekf has one embedding net per type pair, no type embedding"},
    {"model", "use_srtab", DP_UNSUPPORTED, NULL, NULL, NULL, 0,
     "rlekf adds no tabulated short-range potential"},
    {"model", "modifier", DP_UNSUPPORTED, NULL, NULL, NULL, 0, "rlekf has no output modifier"},

    {"model.descriptor", "type", DP_FIXED, NULL, "\"se_e2_a\"|\"se_a\"", NULL, DP_REQUIRED,
     "rlekf implements the se_e2_a descriptor (SPEC §2)"},
    {"model.descriptor", "sel", DP_SEL, NULL, NULL, "\"auto\"", 0,
     "a list is rlekf's sel; \"auto\" / \"auto:r\" is DeePMD-kit's rule: the largest neighbour "
     "count of each type in the data times r (1.1), rounded up to a multiple of 4"},
    {"model.descriptor", "rcut", DP_MODEL, "rcut", NULL, "6", 0, "cut-off radius (Å)"},
    {"model.descriptor", "rcut_smth", DP_MODEL, "rcut_smth", NULL, "0.5", 0,
     "where the smoothing starts (Å)"},
    {"model.descriptor", "neuron", DP_MODEL, "neuron", NULL, "[10,20,40]", 0,
     "embedding widths"},
    {"model.descriptor", "axis_neuron", DP_MODEL, "axis_neuron", NULL, "4", 0, "M2"},
    {"model.descriptor", "activation_function", DP_FIXED, NULL, "\"tanh\"", "\"tanh\"", 0, TANH},
    {"model.descriptor", "resnet_dt", DP_MODEL, "resnet_dt", NULL, "false", 0,
     "residual timestep: each embedding layer with a residual connection becomes "
     "h_in + idt * tanh(h_in W + b), idt trained"},
    {"model.descriptor", "type_one_side", DP_FIXED, NULL, "false", "false", 0,
     "rlekf builds one embedding net per (centre, neighbour) type pair"},
    {"model.descriptor", "precision", DP_FIXED, NULL, "\"float64\"|\"default\"", "\"default\"", 0,
     DOUBLE},
    {"model.descriptor", "trainable", DP_FIXED, NULL, "true", "true", 0, TRAINED},
    {"model.descriptor", "exclude_types", DP_FIXED, NULL, "[]", "[]", 0,
     "every type pair interacts"},
    {"model.descriptor", "set_davg_zero", DP_FIXED, NULL, "false", "false", 0,
     "rlekf subtracts the mean of s (SPEC §2)"},
    {"model.descriptor", "seed", DP_SEED, NULL, NULL, NULL, 0,
     "rlekf's seed if neither model.fitting_net.seed nor training.seed is given"},

    {"model.fitting_net", "type", DP_FIXED, NULL, "\"ener\"", "\"ener\"", 0,
     "rlekf fits energies"},
    {"model.fitting_net", "neuron", DP_MODEL, "fitting_neuron", NULL, "[120,120,120]", 0,
     "fitting widths"},
    {"model.fitting_net", "activation_function", DP_FIXED, NULL, "\"tanh\"", "\"tanh\"", 0, TANH},
    {"model.fitting_net", "precision", DP_FIXED, NULL, "\"float64\"|\"default\"", "\"default\"", 0,
     DOUBLE},
    {"model.fitting_net", "resnet_dt", DP_MODEL, "fitting_resnet_dt", NULL, "true", 0,
     "residual timestep of the hidden fitting layers with a residual connection"},
    {"model.fitting_net", "trainable", DP_FIXED, NULL, "true", "true", 0, TRAINED},
    {"model.fitting_net", "numb_fparam", DP_FIXED, NULL, "0", "0", 0, "no frame parameters"},
    {"model.fitting_net", "numb_aparam", DP_FIXED, NULL, "0", "0", 0, "no atomic parameters"},
    {"model.fitting_net", "atom_ener", DP_FIXED, NULL, "[]", "[]", 0,
     "no fixed atomic energies"},
    {"model.fitting_net", "rcond", DP_UNSUPPORTED, NULL, NULL, NULL, 0,
     "rlekf fits the energy bias by minimum-norm least squares (SPEC §2)"},
    {"model.fitting_net", "layer_name", DP_UNSUPPORTED, NULL, NULL, NULL, 0,
     "rlekf shares no layers"},
    {"model.fitting_net", "seed", DP_SEED, NULL, NULL, NULL, 0,
     "rlekf's seed if training.seed is not given"},

    {"learning_rate", "type", DP_FIXED, NULL, "\"exp\"", "\"exp\"", 0,
     "the exponential decay of SPEC §3"},
    {"learning_rate", "start_lr", DP_ADAM, "start_lr", NULL, "0.001", 0, "lr0"},
    {"learning_rate", "stop_lr", DP_ADAM, "stop_lr", NULL, "1e-08", 0, "lr at numb_steps"},
    {"learning_rate", "decay_steps", DP_ADAM, "decay_steps", NULL, "5000", 0,
     "steps between decays"},
    {"learning_rate", "scale_by_worker", DP_FIXED, NULL, "\"linear\"|\"sqrt\"|\"none\"",
     "\"linear\"", 0, "one worker: " NO_EFFECT},

    {"loss", "type", DP_FIXED, NULL, "\"ener\"", "\"ener\"", 0, "energy and force loss"},
    {"loss", "start_pref_e", DP_ADAM, "start_pref_e", NULL, "0.02", 0, "pE at lr0"},
    {"loss", "limit_pref_e", DP_ADAM, "limit_pref_e", NULL, "1", 0, "pE as lr -> 0"},
    {"loss", "start_pref_f", DP_ADAM, "start_pref_f", NULL, "1000", 0, "pF at lr0"},
    {"loss", "limit_pref_f", DP_ADAM, "limit_pref_f", NULL, "1", 0, "pF as lr -> 0"},
    {"loss", "start_pref_v", DP_FIXED, NULL, "0", "0", 0, "rlekf's loss has no virial term"},
    {"loss", "limit_pref_v", DP_FIXED, NULL, "0", "0", 0, "rlekf's loss has no virial term"},
    {"loss", "start_pref_ae", DP_FIXED, NULL, "0", "0", 0, "no atomic-energy term"},
    {"loss", "limit_pref_ae", DP_FIXED, NULL, "0", "0", 0, "no atomic-energy term"},
    {"loss", "start_pref_pf", DP_FIXED, NULL, "0", "0", 0, "no atom-weighted force term"},
    {"loss", "limit_pref_pf", DP_FIXED, NULL, "0", "0", 0, "no atom-weighted force term"},
    {"loss", "relative_f", DP_FIXED, NULL, "null", "null", 0, "absolute force errors"},
    {"loss", "enable_atom_ener_coeff", DP_FIXED, NULL, "false", "false", 0,
     "E is the plain sum of atomic energies"},

    {"training", "training_data", DP_SECTION, NULL, NULL, NULL, 0, "the training systems"},
    {"training", "validation_data", DP_UNSUPPORTED, NULL, NULL, NULL, 0,
     "rlekf tests on the last floor(test_fraction n) frames of each training system (SPEC §4): "
     "remove validation_data (its systems may join training_data.systems)"},
    {"training", "numb_steps", DP_NUMB_STEPS, "stop_steps", NULL, NULL, 0,
     "ceil(numb_steps / training frames) epochs (rlekf trains whole epochs); with "
     "learning_rate also Adam's stop_steps"},
    {"training", "stop_batch", DP_NUMB_STEPS, "stop_steps", NULL, NULL, 0,
     "older name of numb_steps"},
    {"training", "seed", DP_SEED, NULL, NULL, NULL, DP_SHARED,
     "rlekf's seed (one seed drives every random stream)"},
    {"training", "mixed_precision", DP_UNSUPPORTED, NULL, NULL, NULL, 0, DOUBLE},
    {"training", "disp_file", DP_BOOKKEEPING, NULL, NULL, NULL, 0, NO_EFFECT},
    {"training", "disp_freq", DP_BOOKKEEPING, NULL, NULL, NULL, 0,
     NO_EFFECT " (rlekf's eval_every sets evaluations)"},
    {"training", "disp_training", DP_BOOKKEEPING, NULL, NULL, NULL, 0, NO_EFFECT},
    {"training", "time_training", DP_BOOKKEEPING, NULL, NULL, NULL, 0, NO_EFFECT},
    {"training", "save_freq", DP_BOOKKEEPING, NULL, NULL, NULL, 0, NO_EFFECT},
    {"training", "save_ckpt", DP_BOOKKEEPING, NULL, NULL, NULL, 0, NO_EFFECT},
    {"training", "max_ckpt_keep", DP_BOOKKEEPING, NULL, NULL, NULL, 0, NO_EFFECT},
    {"training", "profiling", DP_BOOKKEEPING, NULL, NULL, NULL, 0, NO_EFFECT},
    {"training", "profiling_file", DP_BOOKKEEPING, NULL, NULL, NULL, 0, NO_EFFECT},
    {"training", "enable_profiler", DP_BOOKKEEPING, NULL, NULL, NULL, 0, NO_EFFECT},
    {"training", "tensorboard", DP_BOOKKEEPING, NULL, NULL, NULL, 0, NO_EFFECT},
    {"training", "tensorboard_log_dir", DP_BOOKKEEPING, NULL, NULL, NULL, 0, NO_EFFECT},
    {"training", "tensorboard_freq", DP_BOOKKEEPING, NULL, NULL, NULL, 0, NO_EFFECT},

    {"training.training_data", "systems", DP_SYSTEMS, NULL, NULL, NULL, DP_REQUIRED,
     "DeePMD-kit npy systems (set.*/ folders), imported into <output>/data.h5; a string is one "
     "system"},
    {"training.training_data", "set_prefix", DP_FIXED, NULL, "\"set\"", "\"set\"", 0,
     "rlekf reads set.* folders"},
    {"training.training_data", "batch_size", DP_BATCH_SIZE, NULL, NULL, "\"auto\"", 0,
     "rlekf's batch_size: a number, a list of equal numbers, or \"auto\" / \"auto:N\" (ceil(32 "
     "/ atoms) or ceil(N / atoms) frames; every system must give the same number)"},
    {"training.training_data", "auto_prob", DP_FIXED, NULL, "\"prob_sys_size\"",
     "\"prob_sys_size\"", 0,
     "rlekf visits every training frame once per epoch, in shuffled order: each system as often "
     "as its size"},
    {"training.training_data", "auto_prob_style", DP_FIXED, NULL, "\"prob_sys_size\"",
     "\"prob_sys_size\"", 0, "older name of auto_prob"},
    {"training.training_data", "sys_probs", DP_UNSUPPORTED, NULL, NULL, NULL, 0,
     "rlekf visits every training frame once per epoch"},
    {"training.training_data", "sys_weights", DP_UNSUPPORTED, NULL, NULL, NULL, 0,
     "rlekf visits every training frame once per epoch"},
};
/* clang-format on */
#define N_DEEPMD_KEYS (sizeof DEEPMD_KEYS / sizeof DEEPMD_KEYS[0])

/* The Adam optimizer learning_rate and loss configure. */
#define DP_ADAM_NAME "adam"
/* batch_size "auto": DeePMD-kit makes batch_size x atoms >= 32. */
#define DP_BATCH_AUTO_ATOMS 32
/* "auto" and "auto:<number>" values of sel and batch_size. */
#define DP_AUTO "auto"
#define DP_AUTO_PREFIX "auto:"
/* Step counts up to 1e12: far beyond any run, still exact in a double. */
#define DP_STEPS_MAX 1000000000000L
/* Room for a section path, a key path, a value shown in a message. */
#define DP_PATH_MAX 96
#define DP_BRIEF_MAX 64
#define DP_LIST_MAX 1024
/* The section where rlekf's own training keys may join DeePMD-kit's. */
#define DP_TRAINING "training"

typedef struct {
    const char *file;
    train_config *tc;
    config_data *data;
    int own_opt;          /* the optimizer comes from rlekf's "optimizer" section */
    jsonw *rl_training;   /* rlekf training keys given in the training section */
    config_layer seed;    /* the seed, last given wins (descriptor, fitting_net, training) */
    int numb_steps_given; /* numb_steps or its older name seen */
    int batch_given;      /* training_data.batch_size was given (not DeePMD-kit's default) */
} dp_walk;

static int is_comment(const char *key) {
    return key[0] == '_';
}

static const dp_key *find_row(const char *section, const char *key) {
    for (size_t i = 0; i < N_DEEPMD_KEYS; i++)
        if (strcmp(DEEPMD_KEYS[i].section, section) == 0 && strcmp(DEEPMD_KEYS[i].key, key) == 0)
            return &DEEPMD_KEYS[i];
    return NULL;
}

static void join_path(char *buf, size_t cap, const char *section, const char *key) {
    if (section[0])
        snprintf(buf, cap, "%s.%s", section, key);
    else
        snprintf(buf, cap, "%s", key);
}

/* A section whose rows configure Adam (learning_rate, loss). */
static int adam_section(const char *section) {
    for (size_t i = 0; i < N_DEEPMD_KEYS; i++)
        if (DEEPMD_KEYS[i].kind == DP_ADAM && strcmp(DEEPMD_KEYS[i].section, section) == 0)
            return 1;
    return 0;
}

/* Is the compact JSON text one of the '|'-separated values? */
static int one_of(const char *values, const char *text) {
    size_t n = strlen(text);
    for (const char *p = values; p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, text, n) == 0) return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* DeePMD-kit's default of a row, parsed (the table's text is a program constant). */
static jsonw *parse_default(const dp_key *r) {
    jsonw *v = NULL;
    rk_status st = jsonw_parse_text(r->def, "config_deepmd default", &v);
    RK_ASSERT(st == RK_OK);
    return v;
}

/* The accepted keys of a section, for messages. */
static void accepted(const char *section, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_DEEPMD_KEYS && len < cap; i++)
        if (strcmp(DEEPMD_KEYS[i].section, section) == 0 && DEEPMD_KEYS[i].kind != DP_UNSUPPORTED)
            len +=
                (size_t)snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", DEEPMD_KEYS[i].key);
}

/* model_config_from_json names rlekf's key (".fitting_neuron:", ".fitting_neuron[1]:"); in the
 * message, put DeePMD-kit's in its place. */
static rk_status rename_in_error(rk_status st, const char *section, const char *ours,
                                 const char *theirs) {
    if (strcmp(ours, theirs) == 0) return st;
    char from[DP_PATH_MAX];
    snprintf(from, sizeof from, "%s.%s", section, ours);
    const char *msg = err_msg(), *at = strstr(msg, from);
    while (at && at[strlen(from)] != ':' && at[strlen(from)] != '[')
        at = strstr(at + 1, from);
    if (!at) return st;
    char buf[DP_LIST_MAX];
    snprintf(buf, sizeof buf, "%.*s%s.%s%s", (int)(at - msg), msg, section, theirs,
             at + strlen(from));
    return err_set(st, "%s", buf);
}

static rk_status walk(dp_walk *w, const char *section, const jsonw *obj);

static rk_status apply_fixed(dp_walk *w, const dp_key *r, const char *path, const jsonw *v) {
    char text[DP_BRIEF_MAX];
    if (v) {
        jsonw_brief(v, text, sizeof text);
        if (one_of(r->values, text)) return RK_OK;
        return err_set(RK_EINPUT, "%s: %s: %s is not supported: %s (accepted: %s)", w->file, path,
                       text, r->note, r->values);
    }
    if (!r->def || one_of(r->values, r->def)) return RK_OK;
    return err_set(RK_EINPUT,
                   "%s: %s: absent, which DeePMD-kit reads as %s: not supported: %s (accepted: %s)",
                   w->file, path, r->def, r->note, r->values);
}

static rk_status apply_seed(dp_walk *w, const char *section, const jsonw *v) {
    if (jsonw_typeof(v) == JSONW_NULL) return RK_OK; /* DeePMD-kit: no seed given */
    const config_key *k = config_key_of_field(offsetof(train_config, seed));
    jsonw *o = jsonw_new_object();
    jsonw_add(o, k->name, jsonw_duplicate(v));
    char ctx[TRAIN_PATH_MAX + DP_PATH_MAX];
    snprintf(ctx, sizeof ctx, "%s: %s", w->file, section);
    rk_status st = config_parse_keys(o, ctx, CONFIG_RUN, NULL, &w->seed);
    jsonw_free(o);
    return st;
}

static rk_status apply_sel(dp_walk *w, const char *path, const jsonw *v, jsonw *mobj,
                           const char *key) {
    if (jsonw_typeof(v) == JSONW_ARRAY) {
        jsonw_add(mobj, key, jsonw_duplicate(v));
        return RK_OK;
    }
    const char *s = jsonw_typeof(v) == JSONW_STRING ? jsonw_string(v) : "";
    double ratio = 0.0;
    if (model_parse_sel_auto(s, &ratio)) ratio = 0.0;
    if (ratio > 0.0) { /* rlekf's model.sel takes the same text; resolved on the data by
                          model_resolve_sel when the run starts */
        jsonw_add(mobj, key, jsonw_duplicate(v));
        return RK_OK;
    }
    char text[DP_BRIEF_MAX];
    jsonw_brief(v, text, sizeof text);
    return err_set(RK_EINPUT,
                   "%s: %s: expected a list of per-type counts, \"auto\" or \"auto:r\" with 1 <= "
                   "r <= 10, got %s",
                   w->file, path, text);
}

static rk_status apply_systems(dp_walk *w, const char *path, const jsonw *v) {
    config_data *d = w->data;
    char text[DP_BRIEF_MAX];
    if (jsonw_typeof(v) == JSONW_STRING) {
        if (strlen(jsonw_string(v)) >= TRAIN_PATH_MAX)
            return err_set(RK_EINPUT, "%s: %s: path too long", w->file, path);
        snprintf(d->systems[0], TRAIN_PATH_MAX, "%s", jsonw_string(v));
        d->n_systems = 1;
        return RK_OK;
    }
    if (jsonw_typeof(v) != JSONW_ARRAY || jsonw_size(v) == 0 ||
        jsonw_size(v) > CONFIG_MAX_SYSTEMS) {
        jsonw_brief(v, text, sizeof text);
        return err_set(RK_EINPUT, "%s: %s: expected a path or a list of 1 to %d paths, got %s",
                       w->file, path, CONFIG_MAX_SYSTEMS, text);
    }
    for (size_t i = 0; i < jsonw_size(v); i++) {
        const jsonw *e = jsonw_at(v, i);
        if (jsonw_typeof(e) != JSONW_STRING || strlen(jsonw_string(e)) >= TRAIN_PATH_MAX) {
            jsonw_brief(e, text, sizeof text);
            return err_set(RK_EINPUT, "%s: %s[%zu]: expected a path, got %s", w->file, path, i,
                           text);
        }
        snprintf(d->systems[i], TRAIN_PATH_MAX, "%s", jsonw_string(e));
    }
    d->n_systems = jsonw_size(v);
    return RK_OK;
}

static rk_status apply_type_map(dp_walk *w, const char *path, const jsonw *v) {
    char *tm = w->data->type_map, text[DP_BRIEF_MAX];
    size_t cap = sizeof w->data->type_map, len = 0;
    jsonw_brief(v, text, sizeof text);
    if (jsonw_typeof(v) != JSONW_ARRAY || jsonw_size(v) == 0 || jsonw_size(v) > MODEL_MAX_TYPES)
        return err_set(RK_EINPUT, "%s: %s: expected a list of 1 to %d element symbols, got %s",
                       w->file, path, MODEL_MAX_TYPES, text);
    tm[0] = '\0';
    for (size_t i = 0; i < jsonw_size(v); i++) {
        const jsonw *e = jsonw_at(v, i);
        const char *s = jsonw_typeof(e) == JSONW_STRING ? jsonw_string(e) : NULL;
        if (!s || !s[0] || strchr(s, ',') || len + strlen(s) + 2 > cap)
            return err_set(RK_EINPUT, "%s: %s[%zu]: expected an element symbol, got %s", w->file,
                           path, i, text);
        len += (size_t)snprintf(tm + len, cap - len, "%s%s", i ? "," : "", s);
    }
    return RK_OK;
}

static rk_status apply_numb_steps(dp_walk *w, const dp_key *r, const char *section,
                                  const char *path, const jsonw *obj) {
    if (w->numb_steps_given)
        return err_set(RK_EINPUT, "%s: %s: numb_steps is given twice (numb_steps, stop_batch)",
                       w->file, path);
    w->numb_steps_given = 1;
    char ctx[TRAIN_PATH_MAX + DP_PATH_MAX];
    snprintf(ctx, sizeof ctx, "%s: %s", w->file, section);
    long steps = 0;
    rk_status st = jsonw_get_int(obj, ctx, r->key, 1, 1, DP_STEPS_MAX, &steps);
    if (st) return st;
    w->data->numb_steps = (size_t)steps;
    /* DeePMD-kit's learning rate reaches stop_lr at numb_steps */
    if (!w->own_opt && optim_param_index(w->tc->opt, r->target) >= 0)
        st = optim_set_param(w->tc->opt, &w->tc->opt_params, ctx, r->target, (double)steps);
    return st;
}

/* An integer batch size in the range of rlekf's batch_size key, else 0. */
static size_t batch_number(const jsonw *v) {
    const config_key *k = config_key_of_field(offsetof(train_config, batch_size));
    if (jsonw_typeof(v) != JSONW_NUMBER) return 0;
    double x = jsonw_number(v);
    return x == floor(x) && x >= k->lo && x <= k->hi ? (size_t)x : 0;
}

/* DeePMD-kit's training_data.batch_size: a number, a list with one number per system (all equal:
 * rlekf has one batch size), or "auto" / "auto:N" (resolved per system against the data:
 * config_open_data). */
static rk_status apply_batch_size(dp_walk *w, const char *path, const jsonw *v, int given) {
    char text[DP_BRIEF_MAX];
    jsonw_brief(v, text, sizeof text);
    size_t B = 0;
    w->batch_given = given;
    w->data->batch_auto_atoms = 0;
    if (jsonw_typeof(v) == JSONW_NUMBER) {
        B = batch_number(v);
    } else if (jsonw_typeof(v) == JSONW_ARRAY && jsonw_size(v) > 0) {
        B = batch_number(jsonw_at(v, 0));
        for (size_t i = 1; i < jsonw_size(v); i++)
            if (batch_number(jsonw_at(v, i)) != B) B = 0;
    } else if (jsonw_typeof(v) == JSONW_STRING) {
        const char *s = jsonw_string(v);
        long atoms = 0;
        const size_t np = strlen(DP_AUTO_PREFIX);
        if (strcmp(s, DP_AUTO) == 0) {
            atoms = DP_BATCH_AUTO_ATOMS;
        } else if (strncmp(s, DP_AUTO_PREFIX, np) == 0) {
            char *end = NULL;
            atoms = strtol(s + np, &end, 10);
            if (end == s + np || *end) atoms = 0;
        }
        if (atoms > 0) {
            w->data->batch_auto_atoms = (size_t)atoms;
            return RK_OK;
        }
    }
    if (B) {
        w->tc->batch_size = B;
        return RK_OK;
    }
    const config_key *k = config_key_of_field(offsetof(train_config, batch_size));
    return err_set(RK_EINPUT,
                   "%s: %s: %s is not supported: rlekf takes one batch size for every system "
                   "(an integer in [%g, %g], a list of equal ones, \"auto\" or \"auto:N\")",
                   w->file, path, text, k->lo, k->hi);
}

/* Apply row r of `section` to value v (NULL: absent); mobj collects the section's model keys. */
static rk_status apply_row(dp_walk *w, const dp_key *r, const char *section, const jsonw *obj,
                           const jsonw *v, jsonw *mobj) {
    char path[DP_PATH_MAX];
    join_path(path, sizeof path, section, r->key);
    if (!v && obj && (r->flags & DP_REQUIRED))
        return err_set(RK_EINPUT, "%s: %s: missing (required)", w->file, path);
    jsonw *def = NULL;
    if (!v && r->def && r->kind != DP_FIXED) v = def = parse_default(r);
    rk_status st = RK_OK;
    char ctx[TRAIN_PATH_MAX + DP_PATH_MAX];
    snprintf(ctx, sizeof ctx, "%s: %s", w->file, section);
    switch (r->kind) {
    case DP_SECTION:
        if (!(w->own_opt && adam_section(path))) st = walk(w, path, v);
        break;
    case DP_MODEL:
        if (v) jsonw_add(mobj, r->target, jsonw_duplicate(v));
        break;
    case DP_ADAM:
        if (v && jsonw_typeof(v) != JSONW_NUMBER) {
            char text[DP_BRIEF_MAX];
            jsonw_brief(v, text, sizeof text);
            st = err_set(RK_EINPUT, "%s: %s: expected a number, got %s", w->file, path, text);
        } else if (v) {
            st = optim_set_param(w->tc->opt, &w->tc->opt_params, ctx, r->target, jsonw_number(v));
        }
        break;
    case DP_FIXED:
        st = apply_fixed(w, r, path, v);
        break;
    case DP_BOOKKEEPING:
    case DP_RLEKF:
        break;
    case DP_UNSUPPORTED:
        if (v) {
            char text[DP_BRIEF_MAX];
            jsonw_brief(v, text, sizeof text);
            st =
                err_set(RK_EINPUT, "%s: %s: %s is not supported: %s", w->file, path, text, r->note);
        }
        break;
    case DP_TYPE_MAP:
        if (v) st = apply_type_map(w, path, v);
        break;
    case DP_SEL:
        if (v) st = apply_sel(w, path, v, mobj, r->key);
        break;
    case DP_SEED:
        if (v) st = apply_seed(w, section, v);
        break;
    case DP_SYSTEMS:
        if (v) st = apply_systems(w, path, v);
        break;
    case DP_NUMB_STEPS:
        if (v) st = apply_numb_steps(w, r, section, path, obj);
        break;
    case DP_BATCH_SIZE:
        if (v) st = apply_batch_size(w, path, v, def == NULL);
        break;
    }
    jsonw_free(def);
    return st;
}

/* Check the members of obj (NULL: an absent section) against the rows of section, then apply
 * every row in table order. */
static rk_status walk(dp_walk *w, const char *section, const jsonw *obj) {
    char path[DP_PATH_MAX];
    if (obj && jsonw_typeof(obj) != JSONW_OBJECT) {
        char text[DP_BRIEF_MAX];
        jsonw_brief(obj, text, sizeof text);
        return err_set(RK_EINPUT, "%s: %s: expected an object, got %s", w->file,
                       section[0] ? section : "config", text);
    }
    int is_training = w->rl_training && strcmp(section, DP_TRAINING) == 0;
    for (size_t i = 0; obj && i < jsonw_size(obj); i++) {
        const jsonw *mem = jsonw_at(obj, i);
        const char *key = jsonw_key(mem);
        if (is_comment(key) || find_row(section, key)) continue;
        if (is_training && config_key_index(key) >= 0 &&
            (config_key_at((size_t)config_key_index(key))->scopes & CONFIG_RUN)) {
            jsonw_add(w->rl_training, key, jsonw_duplicate(mem));
            continue;
        }
        char list[DP_LIST_MAX];
        accepted(section, list, sizeof list);
        join_path(path, sizeof path, section, key);
        return err_set(RK_EINPUT,
                       "%s: %s: not a DeePMD-kit key rlekf implements (accepted here: "
                       "%s%s)",
                       w->file, path, list, is_training ? "; and rlekf's training keys" : "");
    }
    jsonw *mobj = jsonw_new_object();
    rk_status st = RK_OK;
    for (size_t i = 0; i < N_DEEPMD_KEYS && !st; i++) {
        const dp_key *r = &DEEPMD_KEYS[i];
        if (strcmp(r->section, section) != 0) continue;
        st = apply_row(w, r, section, obj, obj ? jsonw_get(obj, r->key) : NULL, mobj);
    }
    if (!st && jsonw_size(mobj)) {
        char ctx[TRAIN_PATH_MAX + DP_PATH_MAX];
        snprintf(ctx, sizeof ctx, "%s: %s", w->file, section);
        st = model_config_from_json(mobj, ctx, &w->tc->model);
        for (size_t i = 0; st && i < N_DEEPMD_KEYS; i++)
            if (DEEPMD_KEYS[i].kind == DP_MODEL && strcmp(DEEPMD_KEYS[i].section, section) == 0)
                st = rename_in_error(st, section, DEEPMD_KEYS[i].target, DEEPMD_KEYS[i].key);
    }
    jsonw_free(mobj);
    return st;
}

int config_deepmd_detect(const jsonw *root) {
    if (jsonw_typeof(root) != JSONW_OBJECT) return 0;
    for (size_t i = 0; i < N_DEEPMD_KEYS; i++) {
        const dp_key *r = &DEEPMD_KEYS[i];
        if (r->flags & DP_SHARED) continue;
        /* look at the top level and at the sections both spellings have (model, training) */
        const jsonw *obj = root;
        if (r->section[0]) {
            const dp_key *sec = find_row("", r->section);
            if (!sec || !(sec->flags & DP_SHARED)) continue;
            obj = jsonw_get(root, r->section);
        }
        if (obj && jsonw_get(obj, r->key)) return 1;
    }
    return 0;
}

rk_status config_deepmd_parse(const jsonw *root, const char *path, train_config *tc,
                              config_data *data) {
    dp_walk w;
    memset(&w, 0, sizeof w);
    w.file = path;
    w.tc = tc;
    w.data = data;
    config_layer_init(&w.seed);
    char ctx[TRAIN_PATH_MAX + DP_PATH_MAX];
    snprintf(ctx, sizeof ctx, "%s: optimizer", path);
    rk_status st = RK_OK;
    const jsonw *opt = jsonw_get(root, "optimizer");
    tc->model.resnet = 1; /* DeePMD-kit always builds its residual connections */
    if (opt) {
        static const char *const meta[] = {"label", NULL};
        w.own_opt = 1;
        st = config_parse_optimizer(opt, ctx, meta, &tc->opt, &tc->opt_params);
        for (size_t i = 0; !st && i < N_DEEPMD_KEYS; i++)
            if (!DEEPMD_KEYS[i].section[0] && adam_section(DEEPMD_KEYS[i].key) &&
                jsonw_get(root, DEEPMD_KEYS[i].key))
                st = err_set(RK_EINPUT,
                             "%s: %s: rlekf's optimizer section replaces learning_rate and loss: "
                             "give one of them",
                             path, DEEPMD_KEYS[i].key);
    } else {
        tc->opt = optim_find(DP_ADAM_NAME);
        RK_ASSERT(tc->opt);
        optim_default_params(tc->opt, &tc->opt_params);
    }
    w.rl_training = jsonw_new_object();
    if (!st) st = walk(&w, "", root);
    if (!st) config_apply(tc, &w.seed);
    if (!st && jsonw_size(w.rl_training)) {
        config_layer l = {*tc, 0};
        snprintf(ctx, sizeof ctx, "%s: %s", path, DP_TRAINING);
        st = config_parse_keys(w.rl_training, ctx, CONFIG_RUN, NULL, &l);
        const config_key *ep = config_key_of_field(offsetof(train_config, epochs));
        const config_key *ds = config_key_of_field(offsetof(train_config, dataset));
        if (!st && data->numb_steps && config_layer_has(&l, ep))
            st = err_set(RK_EINPUT,
                         "%s: training.%s: give numb_steps (DeePMD-kit) or %s (rlekf), not both",
                         path, ep->name, ep->name);
        const config_key *bk = config_key_of_field(offsetof(train_config, batch_size));
        if (!st && w.batch_given && config_layer_has(&l, bk))
            st = err_set(RK_EINPUT,
                         "%s: training.%s: give training_data.batch_size (DeePMD-kit) or %s "
                         "(rlekf), not both",
                         path, bk->name, bk->name);
        if (!st && config_layer_has(&l, bk)) data->batch_auto_atoms = 0; /* rlekf's key wins */
        if (!st && data->n_systems && config_layer_has(&l, ds))
            st = err_set(RK_EINPUT,
                         "%s: training.%s: give training_data.systems (DeePMD-kit) or %s "
                         "(rlekf), not both",
                         path, ds->name, ds->name);
        if (!st) config_apply(tc, &l);
    }
    jsonw_free(w.rl_training);
    if (!st) {
        snprintf(ctx, sizeof ctx, "%s: config", path);
        st = jsonw_get_str(root, ctx, "output", 0, tc->out_dir, sizeof tc->out_dir);
    }
    if (!st && !data->n_systems && !tc->dataset[0])
        st = err_set(RK_EINPUT,
                     "%s: training.training_data.systems: missing (required; or rlekf's "
                     "training.%s)",
                     path, config_key_of_field(offsetof(train_config, dataset))->name);
    return st;
}

/* ------------------------------------------------------------------ documentation -------- */

static void md_values(const char *values, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (const char *p = values; p && len < cap;) {
        const char *bar = strchr(p, '|');
        int n = bar ? (int)(bar - p) : (int)strlen(p);
        len += (size_t)snprintf(buf + len, cap - len, "%s`%.*s`", len ? " or " : "", n, p);
        p = bar ? bar + 1 : NULL;
    }
}

void config_deepmd_print_markdown(FILE *f) {
    fprintf(f, "| DeePMD-kit key | rlekf | when absent | note |\n");
    fprintf(f, "|---|---|---|---|\n");
    for (size_t i = 0; i < N_DEEPMD_KEYS; i++) {
        const dp_key *r = &DEEPMD_KEYS[i];
        char path[DP_PATH_MAX], what[DP_LIST_MAX], absent[DP_PATH_MAX];
        join_path(path, sizeof path, r->section, r->key);
        switch (r->kind) {
        case DP_SECTION:
            snprintf(what, sizeof what, "section");
            break;
        case DP_MODEL:
            snprintf(what, sizeof what, "model `%s`", r->target);
            break;
        case DP_ADAM:
            snprintf(what, sizeof what, "adam `%s`", r->target);
            break;
        case DP_FIXED:
            md_values(r->values, what + 5, sizeof what - 5);
            memcpy(what, "only ", 5);
            break;
        case DP_BOOKKEEPING:
            snprintf(what, sizeof what, "accepted, unused");
            break;
        case DP_UNSUPPORTED:
            snprintf(what, sizeof what, "**error**");
            break;
        case DP_RLEKF:
            snprintf(what, sizeof what, "rlekf's own");
            break;
        case DP_TYPE_MAP:
            snprintf(what, sizeof what, "type order");
            break;
        case DP_SEL:
            snprintf(what, sizeof what, "model `sel`");
            break;
        case DP_SEED:
            snprintf(what, sizeof what, "training `%s`",
                     config_key_of_field(offsetof(train_config, seed))->name);
            break;
        case DP_SYSTEMS:
            snprintf(what, sizeof what, "data set");
            break;
        case DP_NUMB_STEPS:
            snprintf(what, sizeof what, "training `%s`; adam `%s`",
                     config_key_of_field(offsetof(train_config, epochs))->name, r->target);
            break;
        case DP_BATCH_SIZE:
            snprintf(what, sizeof what, "checked");
            break;
        }
        if (r->flags & DP_REQUIRED)
            snprintf(absent, sizeof absent, "required");
        else if (r->def)
            snprintf(absent, sizeof absent, "`%s`", r->def);
        else
            snprintf(absent, sizeof absent, "—");
        fprintf(f, "| `%s` | %s | %s | %s |\n", path, what, absent, r->note);
    }
}
