/* cmd_init: `rlekf init` — a model file from a config and a dataset: sel (if not given),
 * statistics and energy bias from the training split, seeded weights. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "h5io.h"
#include "train.h"

static const char *USAGE =
    "usage: rlekf init --data D.h5 [--config C.json] [--seed S] -o MODEL.h5\n"
    "\n"
    "Make a model file (SPEC §5) for dataset D.h5: sel from the data unless the config gives\n"
    "it, statistics and the output energy bias from the training split (last 20%% of each\n"
    "system is the test split), weights drawn from the seeded stream (dataset stem, seed).\n"
    "C.json is a train config (its \"model\" section is used) or a bare model section.\n";

rk_status cmd_init(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        printf(USAGE, "");
        return RK_OK;
    }
    const char *data = NULL, *config = NULL, *out = NULL;
    const char *seed = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--out") == 0) && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = argv[++i];
        else
            return err_set(RK_EINPUT, "unexpected argument '%s' (see --help)", argv[i]);
    }
    if (!data || !out) return err_set(RK_EINPUT, "--data and -o are required (see --help)");
    train_config tc;
    config_default(&tc);
    snprintf(tc.dataset, sizeof tc.dataset, "%s", data);
    /* the training key's own parser and bounds (config.h, num.h) */
    rk_status st = seed ? config_set_text(&tc, config_key_of_field(offsetof(train_config, seed)),
                                          seed, "--seed")
                        : RK_OK;
    if (st) return st;
    if (config) {
        jsonw *j = NULL;
        if ((st = jsonw_parse_file(config, &j))) return st;
        char ctx[1100];
        snprintf(ctx, sizeof ctx, "%s: model", config);
        const jsonw *msec = jsonw_get(j, "model") ? jsonw_get(j, "model") : j;
        st = model_config_from_json(msec, ctx, &tc.model);
        jsonw_free(j);
        if (st) return st;
    }
    /* A zero-epoch training run does exactly the initialisation and writes model_init.h5. */
    char tmpdir[] = "/tmp/rlekf-init-XXXXXX";
    if (!mkdtemp(tmpdir)) return err_set(RK_ERUNTIME, "cannot create a temporary directory");
    snprintf(tc.out_dir, sizeof tc.out_dir, "%s", tmpdir);
    tc.epochs = 0;
    tc.quiet = 1;
    train_result res;
    st = train_run(&tc, NULL, &res);
    char src[1200];
    snprintf(src, sizeof src, "%s/model_init.h5", tmpdir);
    if (!st && rename(src, out) != 0) {
        /* different file system: copy through the model reader/writer */
        h5io_model_rec rec;
        st = h5io_model_read(src, &rec);
        if (!st) st = h5io_model_write(out, &rec, NULL, 0);
        if (!st) h5io_model_rec_free(&rec);
    }
    const char *names[] = {"model_init.h5", "model.h5", "metrics.csv", "config.json"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(src, sizeof src, "%s/%s", tmpdir, names[i]);
        remove(src);
    }
    remove(tmpdir);
    if (st) return st;
    printf("initialised model for %s (%zu training frames, seed %llu): %s; initial test RMSE E "
           "%.4e eV/atom, F %.4e eV/A\n",
           data, res.n_train, (unsigned long long)tc.seed, out, res.final_test_e, res.final_test_f);
    return RK_OK;
}
