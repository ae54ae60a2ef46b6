/* cmd_train: `rlekf train CONFIG.json` — one training run (see train.h); CONFIG.json is rlekf's
 * own spelling or a DeePMD-kit input.json (config.h). Any training key can be overridden on the
 * command line as --KEY VALUE, checked by the same table. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "train.h"

static const char *USAGE =
    "usage: rlekf train CONFIG.json [--out DIR] [--quiet] [--resume] [--KEY VALUE ...]\n"
    "\n"
    "Train a Deep Potential (se_e2_a) model with the optimizer named in CONFIG.json.\n"
    "CONFIG.json, rlekf's spelling (model keys as DeePMD-kit's descriptor):\n"
    "  {\"model\": {\"rcut\": 6.0, \"rcut_smth\": 0.5, \"sel\": [81], \"neuron\": [25,25,25],\n"
    "             \"axis_neuron\": 16, \"fitting_neuron\": [50,50,50], \"resnet\": true},\n"
    "   \"optimizer\": {\"type\": \"rlekf\", \"block_size\": 5120},\n"
    "   \"training\": {\"dataset\": \"datasets/Cu.h5\", ...training keys below...},\n"
    "   \"output\": \"runs/cu-rlekf\"}\n"
    "or a DeePMD-kit input.json (model.descriptor se_e2_a, model.fitting_net, learning_rate,\n"
    "loss, training.training_data.systems, numb_steps): it trains Adam with its schedule;\n"
    "every key it reads is listed in experiments/README.md, any other is an error.\n"
    "Omitted keys take the paper's defaults; sel omitted = largest neighbour count in the data;\n"
    "sel \"auto\" / \"auto:r\" = that count x r (1.1) rounded up to a multiple of 4 (DeePMD-kit).\n"
    "`rlekf list optimizers` shows every optimizer and its hyper-parameters.\n"
    "Writes DIR/config.json, DIR/model_init.h5, DIR/model.h5 (last finite evaluation),\n"
    "DIR/metrics.csv (one row per evaluation; columns in results/README.md).\n"
    "A run that diverges (NaN/Inf) ends with status 'diverged' in the CSV and exit status 0.\n"
    "\n"
    "The run writes into DIR.partial and renames it to DIR when finished (replacing an old DIR);\n"
    "DIR.partial/checkpoint.h5 holds the state for --resume.\n"
    "\n"
    "Options: --out DIR replaces \"output\"; --quiet drops the progress lines; --resume continues\n"
    "a killed or failed run from DIR.partial/checkpoint.h5 (bitwise as if never interrupted; from\n"
    "scratch when there is none; nothing to do when DIR is finished); --KEY VALUE sets\n"
    "training key KEY (e.g. --epochs 2 --threads 4), after the config is read.\n"
    "\n"
    "Training keys (`rlekf list training`):\n";

/* A --KEY VALUE override of a training key. */
typedef struct {
    const config_key *key;
    const char *value, *option;
} override;

static const config_key *training_option(const char *arg) {
    if (strncmp(arg, "--", 2) != 0) return NULL;
    int k = config_key_index(arg + 2);
    if (k < 0 || !(config_key_at((size_t)k)->scopes & CONFIG_RUN)) return NULL;
    return config_key_at((size_t)k);
}

rk_status cmd_train(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        fputs(USAGE, stdout);
        config_print_keys(stdout, CONFIG_RUN);
        return RK_OK;
    }
    const char *config = NULL, *out = NULL;
    override *ov = calloc((size_t)argc, sizeof *ov);
    if (!ov) return RK_ENOMEM;
    size_t n_ov = 0;
    int quiet = 0, resume = 0;
    rk_status st = RK_OK;
    for (int i = 1; i < argc && !st; i++) {
        const config_key *k = training_option(argv[i]);
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (strcmp(argv[i], "--resume") == 0)
            resume = 1;
        else if (k && i + 1 < argc) {
            ov[n_ov++] = (override){k, argv[i + 1], argv[i]};
            i++;
        } else if (argv[i][0] == '-')
            st = err_set(RK_EINPUT, "unknown option '%s' (see --help)", argv[i]);
        else if (!config)
            config = argv[i];
        else
            st = err_set(RK_EINPUT, "unexpected argument '%s' (see --help)", argv[i]);
    }
    if (!st && !config) st = err_set(RK_EINPUT, "missing CONFIG.json (see --help)");
    train_config tc;
    config_data data;
    config_default(&tc);
    if (!st) st = config_load(config, &tc, &data);
    const config_key *epochs = config_key_of_field(offsetof(train_config, epochs));
    for (size_t i = 0; !st && i < n_ov; i++) {
        st = config_set_text(&tc, ov[i].key, ov[i].value, ov[i].option);
        if (ov[i].key == epochs) data.numb_steps = 0; /* the command line wins */
    }
    free(ov);
    if (st) return st;
    if (out) snprintf(tc.out_dir, sizeof tc.out_dir, "%s", out);
    tc.quiet = quiet;
    tc.resume = resume;
    if (resume && train_is_finished(tc.out_dir)) {
        printf("%s: finished already, nothing to resume\n", tc.out_dir);
        return RK_OK;
    }
    dataset_t ds;
    if ((st = config_open_data(&tc, &data, &ds))) return st;
    train_result res;
    st = train_run(&tc, &ds, &res);
    dataset_free(&ds);
    if (st) return st;
    printf("%s: %s after %.3g epochs (%zu updates, %.1f s); test RMSE E %.4e eV/atom, F %.4e "
           "eV/A (best %.4e, %.4e); outputs in %s\n",
           tc.opt->name, train_outcome_str(res.outcome), res.epochs_done, res.updates, res.wall_s,
           res.final_test_e, res.final_test_f, res.best_test_e, res.best_test_f, tc.out_dir);
    return RK_OK;
}
