/* cmd_eval: `rlekf eval` — predictions of a model on a dataset (SPEC §6) and their RMSEs.
 *
 * The frames are a part of the split the model was trained with: training records it in the
 * model file (evaluate.h), so the test part is the run's test set whichever split it used, and the
 * RMSEs are evaluate_rmse's, the numbers of the trainer's metrics.csv. A model file that records
 * no split gets the default (tail, test fraction 0.2); options override single settings.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "evaluate.h"
#include "fs.h"
#include "h5io.h"
#include "num.h"

static const char *USAGE =
    "usage: rlekf eval --model M.h5 --data D.h5 --out P.h5 [--split test|train|all]\n"
    "                  [--split-mode tail|random] [--test-fraction F] [--seed S]\n"
    "                  [--stream NAME] [--parity PREFIX]\n"
    "\n"
    "Predict energies and forces for the frames of D.h5 in one part of the split (default test),\n"
    "write them to P.h5 (per system: energy, force, frame_index) and print the RMSE of energy per\n"
    "atom (eV/atom) and of force components (eV/A), as training computes them for metrics.csv.\n"
    "The split is the one M.h5 was trained with (training records it in the model file), so\n"
    "'test' is that run's test set and 'train' the frames it trained on (max_train_frames\n"
    "included); 'all' is every frame. A model file without the record gets the default split:\n"
    "tail, the last 20%% of each system. --split-mode, --test-fraction, --seed and --stream\n"
    "override the recorded settings (the stream of a run is its dataset file's stem unless its\n"
    "config names another).\n"
    "--parity PREFIX also writes plain-text tables for parity plots: PREFIX_energy.dat\n"
    "(system, frame, DFT and predicted energy per atom, eV/atom) and PREFIX_force.dat (system,\n"
    "frame, atom, component, DFT and predicted force, eV/A).\n";

/* Longest parity file name. */
#define EVAL_PATH_MAX 1100

typedef enum { PART_TEST, PART_TRAIN, PART_ALL } eval_part;
static const char *const part_names[] = {"test", "train", "all", NULL};

typedef struct {
    const char *model, *data, *out, *parity;
    eval_part part;
    /* overrides of the recorded split (NULL: keep) */
    const char *mode, *test_fraction, *seed, *stream;
    double test_fraction_v; /* the checked values of test_fraction and seed */
    uint64_t seed_v;
} eval_args;

/* Index of s in a NULL-terminated list of names, or -1. */
static int name_index(const char *const *names, const char *s) {
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

static rk_status parse_args(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    const char *part = "test";
    struct {
        const char *opt;
        const char **dst;
    } opts[] = {
        {"--model", &a->model},     {"--data", &a->data},
        {"--out", &a->out},         {"-o", &a->out},
        {"--split", &part},         {"--parity", &a->parity},
        {"--split-mode", &a->mode}, {"--seed", &a->seed},
        {"--stream", &a->stream},   {"--test-fraction", &a->test_fraction},
    };
    for (int i = 1; i < argc; i++) {
        size_t k = 0, n = sizeof opts / sizeof opts[0];
        while (k < n && strcmp(argv[i], opts[k].opt) != 0)
            k++;
        if (k == n || i + 1 >= argc)
            return err_set(RK_EINPUT, "unexpected argument '%s' (see --help)", argv[i]);
        *opts[k].dst = argv[++i];
    }
    /* numbers are checked before any file is read */
    rk_status st = RK_OK;
    if (a->test_fraction && (st = num_parse_real("--test-fraction", a->test_fraction, 0.0,
                                                 EVALUATE_TEST_FRACTION_MAX, &a->test_fraction_v)))
        return st;
    if (a->seed &&
        (st = num_parse_u64("--seed", a->seed, 0, (uint64_t)EVALUATE_SEED_MAX, &a->seed_v)))
        return st;
    if (!a->model || !a->data || !a->out)
        return err_set(RK_EINPUT, "--model, --data and --out are required (see --help)");
    int p = name_index(part_names, part);
    if (p < 0)
        return err_set(RK_EINPUT, "--split: unknown value '%s' (valid: test, train, all)", part);
    a->part = (eval_part)p;
    return RK_OK;
}

/* The split M.h5 was trained with (or the default), with the command line's overrides.
 * *source says where it came from, for the printed summary. */
static rk_status resolve_split(const eval_args *a, evaluate_split *sp, const char **source) {
    h5io_model_rec rec;
    rk_status st = h5io_model_read(a->model, &rec);
    if (st) return st;
    *sp = evaluate_default_split();
    *source = "default: the model file records no split";
    if (rec.split_json) {
        char ctx[EVAL_PATH_MAX];
        snprintf(ctx, sizeof ctx, "%s: attribute /training_split", a->model);
        st = evaluate_split_from_json(rec.split_json, ctx, sp);
        *source = "recorded in the model file";
    }
    h5io_model_rec_free(&rec);
    if (st) return st;
    if (a->mode) {
        int m = name_index(evaluate_split_mode_names, a->mode);
        if (m < 0)
            return err_set(RK_EINPUT, "--split-mode: unknown value '%s' (valid: tail, random)",
                           a->mode);
        sp->mode = (evaluate_split_mode)m;
    }
    if (a->test_fraction) {
        sp->test_fraction = a->test_fraction_v;
    }
    if (a->seed) sp->seed = a->seed_v;
    if (a->stream) {
        if (strlen(a->stream) >= sizeof sp->stream_name)
            return err_set(RK_EINPUT, "--stream: '%.40s...' is longer than %zu characters",
                           a->stream, sizeof sp->stream_name - 1);
        snprintf(sp->stream_name, sizeof sp->stream_name, "%s", a->stream);
    }
    if (a->mode || a->test_fraction || a->seed || a->stream)
        *source = rec.split_json ? "recorded in the model file, with command-line overrides"
                                 : "default, with command-line overrides";
    return RK_OK;
}

/* The frames of the part, system after system in dataset order, frames ascending ("all" is the
 * training part of a split with no test frames). The caller frees *frames. */
static rk_status select_frames(const dataset_t *ds, const evaluate_split *sp, eval_part part,
                               model_frame_ref **frames, size_t *n) {
    model_frame_ref *tr, *te;
    size_t ntr, nte;
    double fraction = part == PART_ALL ? 0.0 : sp->test_fraction;
    rk_status st = evaluate_split_frames(ds, sp->mode, fraction, sp->stream_name, sp->seed, &tr,
                                         &ntr, &te, &nte);
    if (st) return st;
    if (part == PART_TEST) {
        free(tr);
        *frames = te;
        *n = nte;
        return RK_OK;
    }
    free(te);
    *frames = tr;
    *n = part == PART_TRAIN ? evaluate_subset(tr, ntr, sp->max_train_frames) : ntr;
    return RK_OK;
}

/* Plain-text parity tables (whitespace separated, '#' header) for gnuplot, written atomically. */
static rk_status write_parity(const char *prefix, const dataset_t *ds, const dataset_t *pred,
                              int64_t *const *fidx) {
    char pe[EVAL_PATH_MAX], pf[EVAL_PATH_MAX];
    snprintf(pe, sizeof pe, "%s_energy.dat", prefix);
    snprintf(pf, sizeof pf, "%s_force.dat", prefix);
    fs_atomic fe, ff;
    rk_status st = fs_atomic_open(&fe, pe);
    if (st) return st;
    if ((st = fs_atomic_open(&ff, pf))) {
        fs_atomic_abort(&fe);
        return st;
    }
    fprintf(fe.f, "# system frame dft_e_eV_per_atom pred_e_eV_per_atom\n");
    fprintf(ff.f, "# system frame atom component dft_f_eV_per_A pred_f_eV_per_A\n");
    for (size_t s = 0; s < pred->nsystems; s++) {
        const ds_system *P = &pred->sys[s], *D = &ds->sys[s];
        size_t na = D->natoms;
        for (size_t k = 0; k < P->nframes; k++) {
            size_t f = (size_t)fidx[s][k];
            fprintf(fe.f, "%s %zu %.10g %.10g\n", D->name, f, D->energy[f] / (double)na,
                    P->energy[k] / (double)na);
            for (size_t i = 0; i < 3 * na; i++)
                fprintf(ff.f, "%s %zu %zu %zu %.8g %.8g\n", D->name, f, i / 3, i % 3,
                        D->force[f * na * 3 + i], P->force[k * na * 3 + i]);
        }
    }
    st = fs_atomic_commit(&fe);
    if (st) {
        fs_atomic_abort(&ff);
        return st;
    }
    return fs_atomic_commit(&ff);
}

/* Predictions for the frames, grouped into pred (one system per dataset system, k frames each)
 * with their frame indices; the RMSEs are those of evaluate_rmse over the same frames. */
static rk_status predict(const model_t *m, const dataset_t *ds, const model_frame_ref *frames,
                         size_t n, dataset_t *pred, int64_t **fidx, double *rmse_e,
                         double *rmse_f) {
    size_t maxat = 0, ncomp = 0;
    for (size_t s = 0; s < ds->nsystems; s++)
        if (ds->sys[s].natoms > maxat) maxat = ds->sys[s].natoms;
    for (size_t i = 0; i < n; i++)
        ncomp += 3 * ds->sys[frames[i].sys].natoms;
    model_ws *ws = NULL;
    double *E = rk_malloc((n ? n : 1) * sizeof *E), *F = rk_malloc((ncomp ? ncomp : 1) * sizeof *F);
    rk_status st = (!E || !F) ? RK_ENOMEM : model_ws_create(m, maxat, &ws);
    if (!st) st = evaluate_predict(m, ws, ds, frames, n, E, F, rmse_e, rmse_f);
    model_ws_free(ws);
    /* frames of system s are the run i0..i1 of the list (it is grouped by system) */
    size_t i = 0, off = 0;
    for (size_t s = 0; !st && s < ds->nsystems; s++) {
        const ds_system *D = &ds->sys[s];
        size_t i0 = i, na3 = 3 * D->natoms;
        while (i < n && frames[i].sys == s)
            i++;
        size_t k = i - i0;
        st = ds_system_alloc(&pred->sys[s], D->name, D->natoms, k);
        fidx[s] = calloc(k ? k : 1, sizeof **fidx);
        if (!st && !fidx[s]) st = err_set(RK_ENOMEM, "out of memory");
        if (st) break;
        memcpy(pred->sys[s].type, D->type, D->natoms * sizeof *D->type);
        memcpy(pred->sys[s].energy, E + i0, k * sizeof *E);
        memcpy(pred->sys[s].force, F + off, k * na3 * sizeof *F);
        for (size_t j = 0; j < k; j++)
            fidx[s][j] = (int64_t)frames[i0 + j].frame;
        off += k * na3;
    }
    RK_ASSERT(st || i == n);
    free(E);
    free(F);
    return st;
}

rk_status cmd_eval(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        printf(USAGE, "");
        return RK_OK;
    }
    eval_args a;
    rk_status st = parse_args(argc, argv, &a);
    if (st) return st;
    evaluate_split sp;
    const char *source = NULL;
    if ((st = resolve_split(&a, &sp, &source))) return st;
    model_t m;
    if ((st = model_load(&m, a.model))) return st;
    dataset_t ds, pred;
    memset(&ds, 0, sizeof ds);
    memset(&pred, 0, sizeof pred);
    int64_t **fidx = NULL;
    model_frame_ref *frames = NULL;
    size_t n = 0;
    double re = NAN, rf = NAN;
    st = h5io_dataset_read(a.data, &ds);
    if (!st) {
        char what[2 * EVAL_PATH_MAX];
        snprintf(what, sizeof what, "%s vs %s", a.data, a.model);
        st = model_check_types(&m, &ds, what);
    }
    if (!st) st = select_frames(&ds, &sp, a.part, &frames, &n);
    if (!st) {
        pred.ntypes = ds.ntypes;
        pred.type_map = ds.type_map;
        pred.nsystems = ds.nsystems;
        pred.sys = calloc(ds.nsystems ? ds.nsystems : 1, sizeof *pred.sys);
        fidx = calloc(ds.nsystems ? ds.nsystems : 1, sizeof *fidx);
        if (!pred.sys || !fidx) st = err_set(RK_ENOMEM, "out of memory");
    }
    if (!st) st = predict(&m, &ds, frames, n, &pred, fidx, &re, &rf);
    if (!st) st = h5io_pred_write(a.out, &pred, fidx);
    if (!st && a.parity) st = write_parity(a.parity, &ds, &pred, fidx);
    if (!st) {
        /* %.10g: the digits of metrics.csv */
        printf("%s on %s (%s split, %zu frames): RMSE energy %.10g eV/atom, force %.10g eV/A -> "
               "%s\n",
               a.model, a.data, part_names[a.part], n, re, rf, a.out);
        printf(
            "split: %s, test_fraction %.10g, seed %llu, stream '%s', max_train_frames %zu (%s)\n",
            evaluate_split_mode_names[sp.mode], sp.test_fraction, (unsigned long long)sp.seed,
            sp.stream_name, sp.max_train_frames, source);
    }
    if (pred.sys)
        for (size_t s = 0; s < pred.nsystems; s++)
            ds_system_free(&pred.sys[s]);
    if (fidx)
        for (size_t s = 0; s < ds.nsystems; s++)
            free(fidx[s]);
    free(fidx);
    free(pred.sys);
    free(frames);
    dataset_free(&ds);
    model_free(&m);
    return st;
}
