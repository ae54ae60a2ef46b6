/* config: the one description of every training key, and the run-config loader (SPEC §7).
 *
 * One table (config.c) describes every key of a training section: its name, type, default,
 * inclusive bounds, meaning, the train_config field it sets and the places it may appear (a run
 * config's "training" section, a manifest's top level, a manifest's datasets[i], a manifest's
 * optimizers[i].training). Every reader parses through the table, config.json is written from it,
 * and `rlekf list training`, `rlekf train --help` and experiments/README.md print it. Adding a
 * key is one table row plus its use.
 *
 * Values read from one JSON object form a layer: a train_config plus one bit per table key that
 * was given, so a manifest cell resolves as defaults <- manifest top level <- dataset <- variant
 * without sentinel values.
 *
 * A run config is rlekf's own {"model", "optimizer", "training", "output"} or a DeePMD-kit
 * input.json (config_deepmd.h); both load into the same train_config.
 */
#ifndef RLEKF_CONFIG_H
#define RLEKF_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dataset.h"
#include "err.h"
#include "jsonw.h"
#include "optim.h"
#include "train.h"

typedef enum {
    CONFIG_INT,    /* int */
    CONFIG_SIZE,   /* size_t */
    CONFIG_U64,    /* uint64_t */
    CONFIG_REAL,   /* double */
    CONFIG_STRING, /* char[size] */
    CONFIG_CHOICE  /* an enum (int-sized) set by name */
} config_type;

/* Where a key may appear (bits of config_key.scopes). */
enum {
    CONFIG_RUN = 1u << 0,      /* the "training" section of a run config (rlekf train) */
    CONFIG_MANIFEST = 1u << 1, /* a manifest's top level: the default of every cell */
    CONFIG_DATASET = 1u << 2,  /* a manifest's datasets[i] */
    CONFIG_VARIANT = 1u << 3,  /* a manifest's optimizers[i].training */
};

/* One training key. Numbers: default and inclusive bounds; CHOICE: default index into choices. */
typedef struct {
    const char *name;
    config_type type;
    double def, lo, hi;
    const char *const *choices; /* CHOICE: NULL-terminated names */
    size_t offset, size;        /* the train_config field */
    unsigned scopes;
    const char *help;
} config_key;

size_t config_n_keys(void);
const config_key *config_key_at(size_t i);
/* Index of a key in the table, or -1. */
int config_key_index(const char *name);
/* The key that sets a train_config field (offsetof(train_config, f)); code that needs a key
 * names its field, never its spelling. */
const config_key *config_key_of_field(size_t offset);

/* Values read from one JSON object, with a bit per table key that was given. */
typedef struct {
    train_config v;
    uint64_t set;
} config_layer;

/* Defaults of every field (the table's and the paper's protocol constants). */
void config_default(train_config *tc);
/* Defaults, no key set. */
void config_layer_init(config_layer *l);
/* Read the table keys allowed in `scope` from obj into l. Any other key must be one of `extra`
 * (the caller's own keys, NULL-terminated, may be NULL), else "<ctx>.<key>: unknown key (valid:
 * ...)". Wrong types and out-of-range values name "<ctx>.<key>" and the value. */
rk_status config_parse_keys(const jsonw *obj, const char *ctx, unsigned scope,
                            const char *const *extra, config_layer *l);
/* Was key k given? */
int config_layer_has(const config_layer *l, const config_key *k);
/* Copy the keys set in src into dst. */
void config_apply(train_config *dst, const config_layer *src);
/* Set key k from text (a command-line value), with the table's type and bounds; messages name
 * `what` (e.g. "--epochs"). */
rk_status config_set_text(train_config *tc, const config_key *k, const char *text,
                          const char *what);
/* A run config's "training" section into tc (scope CONFIG_RUN). */
rk_status config_parse_training(const jsonw *obj, const char *ctx, train_config *tc);

/* An optimizer object: "type" (a registry name, required) and hyper-parameters of that type,
 * checked against its table (optim_param_desc); members named in meta (NULL-terminated) are the
 * caller's and skipped. */
rk_status config_parse_optimizer(const jsonw *obj, const char *ctx, const char *const *meta,
                                 const optim_type **type, optim_params *params);

/* What a run config says about its data beyond training.dataset (a DeePMD-kit input.json):
 * raw systems to import, a fixed type order and settings that need the data to resolve. */
#define CONFIG_MAX_SYSTEMS 16
#define CONFIG_TYPE_MAP_MAX 256
typedef struct {
    char systems[CONFIG_MAX_SYSTEMS]
                [TRAIN_PATH_MAX]; /* DeePMD-kit systems (import format deepmd) */
    size_t n_systems;
    char type_map[CONFIG_TYPE_MAP_MAX]; /* "O,H": the type order the model's sel refers to; "" */
    size_t numb_steps;                  /* > 0: train ceil(numb_steps / n_train) epochs */
    size_t batch_auto_atoms;   /* > 0: batch_size "auto": ceil(this / atoms) frames a batch */
    char what[TRAIN_PATH_MAX]; /* the config file, for messages */
} config_data;

/* Load a run config (rlekf's spelling or DeePMD-kit's input.json) over tc (start from
 * config_default). data receives what must be resolved against the data set. */
rk_status config_load(const char *path, train_config *tc, config_data *data);
/* Load the data set a run config names and resolve what depends on it: import DeePMD-kit systems
 * (written to <out_dir>/data.h5, which becomes tc->dataset) or read tc->dataset; check the type
 * map; apply sel "auto", batch_size "auto" and numb_steps. The caller frees ds. */
rk_status config_open_data(train_config *tc, const config_data *data, dataset_t *ds);

/* The resolved configuration: {"model", "optimizer", "training", "output"} (jsonw_free). */
jsonw *config_to_object(const train_config *tc);
/* Clear the settings of how a run executes, which do not change what it computes: threads,
 * progress output, checkpoint cadence, resumption. Used where two configurations are compared
 * for sameness (a checkpoint's, a finished runner cell's). */
void config_clear_run_settings(train_config *tc);
/* The same as JSON text (caller frees). */
char *config_to_json(const train_config *tc);

/* The keys allowed in any of `scopes`, one per line: name, type, default, range, meaning. */
void config_print_keys(FILE *f, unsigned scopes);
/* The table as the Markdown of experiments/README.md (between its training-keys markers). */
void config_print_markdown(FILE *f);

#endif
