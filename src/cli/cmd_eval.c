/* cmd_eval: `rlekf eval` — predictions of a model on a dataset (SPEC §6) and their RMSEs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "h5io.h"
#include "train.h"

static const char *USAGE =
    "usage: rlekf eval --model M.h5 --data D.h5 --out P.h5 [--split test|train|all]\n"
    "                  [--parity PREFIX]\n"
    "\n"
    "Predict energies and forces for the frames of D.h5 in the split (default test: the last\n"
    "20%% of each system), write them to P.h5 (per system: energy, force, frame_index) and print\n"
    "the RMSE of energy per atom (eV/atom) and of force components (eV/A).\n"
    "--parity PREFIX also writes plain-text tables for parity plots: PREFIX_energy.dat\n"
    "(system, frame, DFT and predicted energy per atom, eV/atom) and PREFIX_force.dat (system,\n"
    "frame, atom, component, DFT and predicted force, eV/A).\n";

/* Plain-text parity tables (whitespace separated, '#' header) for gnuplot. */
static rk_status write_parity(const char *prefix, const dataset_t *ds, const dataset_t *pred,
                              int64_t *const *fidx) {
    char pe[1100], pf[1100];
    snprintf(pe, sizeof pe, "%s_energy.dat", prefix);
    snprintf(pf, sizeof pf, "%s_force.dat", prefix);
    FILE *fe = fopen(pe, "w"), *ff = fopen(pf, "w");
    if (!fe || !ff) {
        if (fe) fclose(fe);
        if (ff) fclose(ff);
        return err_set(RK_ERUNTIME, "%s: cannot write", !fe ? pe : pf);
    }
    fprintf(fe, "# system frame dft_e_eV_per_atom pred_e_eV_per_atom\n");
    fprintf(ff, "# system frame atom component dft_f_eV_per_A pred_f_eV_per_A\n");
    for (size_t s = 0; s < pred->nsystems; s++) {
        const ds_system *P = &pred->sys[s], *D = &ds->sys[s];
        size_t na = D->natoms;
        for (size_t k = 0; k < P->nframes; k++) {
            size_t f = (size_t)fidx[s][k];
            fprintf(fe, "%s %zu %.10g %.10g\n", D->name, f, D->energy[f] / (double)na,
                    P->energy[k] / (double)na);
            for (size_t i = 0; i < 3 * na; i++)
                fprintf(ff, "%s %zu %zu %zu %.8g %.8g\n", D->name, f, i / 3, i % 3,
                        D->force[f * na * 3 + i], P->force[k * na * 3 + i]);
        }
    }
    int ok = fclose(fe) == 0;
    ok = fclose(ff) == 0 && ok;
    return ok ? RK_OK : err_set(RK_ERUNTIME, "%s: write failed", pe);
}

rk_status cmd_eval(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        printf(USAGE, "");
        return RK_OK;
    }
    const char *mpath = NULL, *dpath = NULL, *opath = NULL, *split = "test", *parity = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
            mpath = argv[++i];
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            dpath = argv[++i];
        else if ((strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "-o") == 0) && i + 1 < argc)
            opath = argv[++i];
        else if (strcmp(argv[i], "--split") == 0 && i + 1 < argc)
            split = argv[++i];
        else if (strcmp(argv[i], "--parity") == 0 && i + 1 < argc)
            parity = argv[++i];
        else
            return err_set(RK_EINPUT, "unexpected argument '%s' (see --help)", argv[i]);
    }
    if (!mpath || !dpath || !opath)
        return err_set(RK_EINPUT, "--model, --data and --out are required (see --help)");
    int which = strcmp(split, "test") == 0    ? 0
                : strcmp(split, "train") == 0 ? 1
                : strcmp(split, "all") == 0   ? 2
                                              : -1;
    if (which < 0)
        return err_set(RK_EINPUT, "--split: unknown value '%s' (valid: test, train, all)", split);
    model_t m;
    rk_status st = model_load(&m, mpath);
    if (st) return st;
    dataset_t ds;
    memset(&ds, 0, sizeof ds);
    if ((st = h5io_dataset_read(dpath, &ds))) {
        model_free(&m);
        return st;
    }
    char what[1100];
    snprintf(what, sizeof what, "%s vs %s", dpath, mpath);
    st = model_check_types(&m, &ds, what);
    /* selected frames per system */
    dataset_t pred;
    memset(&pred, 0, sizeof pred);
    int64_t **fidx = NULL;
    model_ws *ws = NULL;
    size_t maxat = 0;
    for (size_t s = 0; s < ds.nsystems; s++)
        if (ds.sys[s].natoms > maxat) maxat = ds.sys[s].natoms;
    if (!st) st = model_ws_create(&m, maxat, &ws);
    if (!st) {
        pred.ntypes = ds.ntypes;
        pred.type_map = ds.type_map;
        pred.nsystems = ds.nsystems;
        pred.sys = calloc(ds.nsystems, sizeof *pred.sys);
        fidx = calloc(ds.nsystems, sizeof *fidx);
        if (!pred.sys || !fidx) st = err_set(RK_ENOMEM, "out of memory");
    }
    double se = 0, sf = 0;
    size_t nfr = 0, ncomp = 0;
    for (size_t s = 0; !st && s < ds.nsystems; s++) {
        size_t n = ds.sys[s].nframes, nt = (size_t)floor(TRAIN_TEST_FRACTION * (double)n);
        size_t lo = which == 0 ? n - nt : 0, hi = which == 1 ? n - nt : n, na = ds.sys[s].natoms;
        st = ds_system_alloc(&pred.sys[s], ds.sys[s].name, na, hi - lo);
        fidx[s] = calloc(hi - lo ? hi - lo : 1, sizeof **fidx);
        if (!st && !fidx[s]) st = err_set(RK_ENOMEM, "out of memory");
        for (size_t f = lo; !st && f < hi; f++) {
            if ((st = model_set_frame(&m, ws, &ds.sys[s], f))) break;
            double E = model_forward(&m, ws);
            double *F = pred.sys[s].force + (f - lo) * na * 3;
            model_backward(&m, ws, NULL, F);
            pred.sys[s].energy[f - lo] = E;
            fidx[s][f - lo] = (int64_t)f;
            double de = (E - ds.sys[s].energy[f]) / (double)na;
            se += de * de;
            const double *Fl = ds.sys[s].force + f * na * 3;
            for (size_t k = 0; k < 3 * na; k++)
                sf += (F[k] - Fl[k]) * (F[k] - Fl[k]);
            nfr++;
            ncomp += 3 * na;
        }
        memcpy(pred.sys[s].type, ds.sys[s].type, na * sizeof *ds.sys[s].type);
    }
    if (!st) st = h5io_pred_write(opath, &pred, fidx);
    if (!st && parity) st = write_parity(parity, &ds, &pred, fidx);
    if (!st)
        printf("%s on %s (%s split, %zu frames): RMSE energy %.6e eV/atom, force %.6e eV/A -> %s\n",
               mpath, dpath, split, nfr, nfr ? sqrt(se / (double)nfr) : NAN,
               ncomp ? sqrt(sf / (double)ncomp) : NAN, opath);
    if (pred.sys)
        for (size_t s = 0; s < pred.nsystems; s++)
            ds_system_free(&pred.sys[s]);
    if (fidx)
        for (size_t s = 0; s < ds.nsystems; s++)
            free(fidx[s]);
    free(fidx);
    free(pred.sys);
    model_ws_free(ws);
    dataset_free(&ds);
    model_free(&m);
    return st;
}
