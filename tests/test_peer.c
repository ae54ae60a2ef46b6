/* Agreement with the independent PyTorch peer (shared/peer/dp_ref.py, written from the SPEC alone):
 * `rlekf init` + `rlekf eval` on a model whose embedding doubles its width ([25, 50, 100], two
 * types, H2O), then `dp_ref.py check-predictions`, which recomputes every predicted frame with
 * autograd and fails beyond |dE|/atom 1e-8 eV or |dF| 1e-8 eV/Å.
 *
 * Skipped (cr_skip) when /usr/bin/python3 cannot import torch and h5py (Debian's python3-torch,
 * python3-h5py), or when dp_ref.py is not found: $RLEKF_PEER if set, else shared/peer/dp_ref.py
 * in the source tree's parent or one of its ancestors (the project keeps shared/ beside it).
 * Kept to one frame of 192 atoms so the peer's run stays within a few seconds of its start-up.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "h5io.h"
#include "modelutil.h"
#include "testutil.h"

#define PEER_PYTHON "/usr/bin/python3"
#define PEER_REL "shared/peer/dp_ref.py"
/* Ancestors of the source tree searched for shared/ (main checkout: 1; a worktree below a
 * folder of worktrees: 2). */
#define PEER_MAX_UP 3
/* Frames kept of H2O data_0: the test split (last 20%) is then one frame. */
#define PEER_FRAMES 5

/* Path of dp_ref.py, or NULL. */
static const char *peer_script(void) {
    static char path[4096];
    const char *env = getenv("RLEKF_PEER");
    if (env && *env) return access(env, R_OK) == 0 ? env : NULL;
    char up[64] = "";
    for (int k = 1; k <= PEER_MAX_UP; k++) {
        strcat(up, "../");
        snprintf(path, sizeof path, "%s/%s%s", RLEKF_SOURCE_DIR, up, PEER_REL);
        if (access(path, R_OK) == 0) return path;
    }
    return NULL;
}

Test(peer, doubling_embedding_predictions_agree, .timeout = 300) {
    const char *script = peer_script();
    if (!script) cr_skip("dp_ref.py not found (set RLEKF_PEER to its path)");
    if (tu_sh(PEER_PYTHON " -c 'import torch, h5py, numpy' >/dev/null 2>&1") != 0)
        cr_skip(PEER_PYTHON " cannot import torch, h5py and numpy (Debian python3-torch, "
                            "python3-h5py, python3-numpy)");
    /* a 5-frame H2O dataset */
    dataset_t ds;
    mu_load("datasets/H2O/data_0", "", &ds);
    cr_assert_geq(ds.sys[0].nframes, PEER_FRAMES);
    ds.sys[0].nframes = PEER_FRAMES; /* the arrays hold frames first: a prefix stays valid */
    char data[4096], model[4096], pred[4096], cfg[4096], args[6 * 4096], err[4096];
    snprintf(data, sizeof data, "%s", tu_tmp("peer-h2o.h5"));
    snprintf(model, sizeof model, "%s", tu_tmp("peer-model.h5"));
    snprintf(pred, sizeof pred, "%s", tu_tmp("peer-pred.h5"));
    snprintf(cfg, sizeof cfg, "%s", tu_tmp("peer-model.json"));
    cr_assert_eq(h5io_dataset_write(data, &ds), RK_OK, "%s", err_msg());
    dataset_free(&ds);
    tu_write(cfg, "{\"neuron\": [25, 50, 100], \"axis_neuron\": 16, "
                  "\"fitting_neuron\": [50, 50, 50], \"resnet\": true}\n");
    snprintf(args, sizeof args, "init --data %s --config %s --seed 4 -o %s", data, cfg, model);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    snprintf(args, sizeof args, "eval --model %s --data %s --out %s", model, data, pred);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    /* the peer's verdict; its report is kept for the failure message */
    char out[4096];
    snprintf(out, sizeof out, "%s", tu_tmp("peer-check.txt"));
    snprintf(args, sizeof args,
             PEER_PYTHON " %s check-predictions --model %s --data %s --pred %s >%s 2>&1", script,
             model, data, pred, out);
    int rc = tu_sh(args);
    char report[4096] = "";
    FILE *f = fopen(out, "r");
    if (f) {
        size_t n = fread(report, 1, sizeof report - 1, f);
        report[n] = '\0';
        fclose(f);
    }
    cr_assert_eq(rc, 0, "dp_ref.py check-predictions failed (%d):\n%s", rc, report);
    cr_assert(strstr(report, "frames=1 ") && strstr(report, "PASS"), "%s", report);
}
