/* cmd_train: `rlekf train CONFIG.json` — one training run (see train.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "train.h"

static const char *USAGE =
    "usage: rlekf train CONFIG.json [--out DIR] [--epochs N] [--threads N] [--quiet]\n"
    "\n"
    "Train a Deep Potential (se_e2_a) model with the optimizer named in CONFIG.json.\n"
    "CONFIG.json (DeePMD-kit-like):\n"
    "  {\"model\": {\"rcut\": 6.0, \"rcut_smth\": 0.5, \"sel\": [81], \"neuron\": [25,25,25],\n"
    "             \"axis_neuron\": 16, \"fitting_neuron\": [50,50,50], \"resnet\": true},\n"
    "   \"optimizer\": {\"type\": \"rlekf\", \"block_size\": 5120},\n"
    "   \"training\": {\"dataset\": \"datasets/Cu.h5\", \"epochs\": 1, \"seed\": 1,\n"
    "                \"split\": \"tail\", \"test_fraction\": 0.2, \"eval_every\": 0},\n"
    "   \"output\": \"runs/cu-rlekf\"}\n"
    "Omitted keys take the paper's defaults; sel omitted = largest neighbour count in the data.\n"
    "`rlekf list optimizers` shows every optimizer and its hyper-parameters.\n"
    "Writes DIR/config.json, DIR/model_init.h5, DIR/model.h5 (last finite evaluation),\n"
    "DIR/metrics.csv (one row per evaluation; columns in results/README.md).\n"
    "A run that diverges (NaN/Inf) ends with status 'diverged' in the CSV and exit status 0.\n";

rk_status cmd_train(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        fputs(USAGE, stdout);
        return RK_OK;
    }
    const char *config = NULL, *out = NULL;
    long epochs = -1, threads = -1;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc)
            epochs = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (argv[i][0] == '-')
            return err_set(RK_EINPUT, "unknown option '%s' (see --help)", argv[i]);
        else if (!config)
            config = argv[i];
        else
            return err_set(RK_EINPUT, "unexpected argument '%s' (see --help)", argv[i]);
    }
    if (!config) return err_set(RK_EINPUT, "missing CONFIG.json (see --help)");
    train_config tc;
    train_default_config(&tc);
    rk_status st = train_config_load(config, &tc);
    if (st) return st;
    if (out) snprintf(tc.out_dir, sizeof tc.out_dir, "%s", out);
    if (epochs >= 0) tc.epochs = (size_t)epochs;
    if (threads >= 0) tc.threads = (int)threads;
    tc.quiet = quiet;
    train_result res;
    st = train_run(&tc, NULL, &res);
    if (st) return st;
    printf("%s: %s after %.3g epochs (%zu updates, %.1f s); test RMSE E %.4e eV/atom, F %.4e "
           "eV/A (best %.4e, %.4e); outputs in %s\n",
           tc.opt->name, train_outcome_str(res.outcome), res.epochs_done, res.updates, res.wall_s,
           res.final_test_e, res.final_test_f, res.best_test_e, res.best_test_f, tc.out_dir);
    return RK_OK;
}
