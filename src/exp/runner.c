/* runner: resumable, parallel execution of an experiment grid (see runner.h). */
#include "runner.h"
#include "clock.h"
#include "fs.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "csvio.h"
#include "evaluate.h"
#include "h5io.h"
#include "import.h"
#include "jsonw.h"
#include "md.h"
#include "par.h"
#include "rng.h"
#include "schema.h"

#include <omp.h>

#define RUN_PATH (TRAIN_PATH_MAX + 256)

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* ------------------------------------------------------------ datasets ---------------------- */

/* Import a manifest dataset's raw sources into ds; prov receives a provenance line. */
static rk_status import_raw(const man_dataset *d, dataset_t *ds, char *prov, size_t cap) {
    import_opts io = {d->format, 0};
    rk_status st = RK_OK;
    if (d->type_map[0]) {
        if ((st = import_set_type_map(ds, d->type_map))) return st;
        io.type_map_fixed = 1;
    }
    snprintf(prov, cap, "imported by rlekf run from:");
    for (size_t i = 0; i < d->n_sources && !st; i++) {
        import_format used = IMPORT_AUTO;
        st = import_source(d->sources[i], &io, ds, &used);
        size_t len = strlen(prov);
        snprintf(prov + len, cap - len, " %s (%s)", d->sources[i], import_format_name(used));
    }
    if (!st) dataset_sort(ds);
    return st;
}

/* Load a manifest dataset into ds: its HDF5 file, or its raw sources, imported once into
 * <exp>/data/<name>.h5 (a dry run imports in memory only and writes nothing). */
static rk_status load_dataset(const manifest_t *m, const man_dataset *d, int dry_run, char *path,
                              size_t cap, dataset_t *ds) {
    if (d->h5[0]) {
        snprintf(path, cap, "%s", d->h5);
        return h5io_dataset_read(path, ds);
    }
    char dir[RUN_PATH];
    snprintf(dir, sizeof dir, "%s/%s/data", m->results_dir, m->name);
    if (strlen(dir) + strlen(d->name) + 5 > cap)
        return err_set(RK_EINPUT, "%s: results path too long", dir);
    strcpy(path, dir);
    strcat(path, "/");
    strcat(path, d->name);
    strcat(path, ".h5");
    if (!dry_run && file_exists(path)) return h5io_dataset_read(path, ds);
    char prov[4096];
    rk_status st = import_raw(d, ds, prov, sizeof prov);
    if (!st && !dry_run) st = fs_mkdirs(dir);
    if (!st && !dry_run) st = h5io_dataset_write_prov(path, ds, prov);
    return st;
}

/* Stress test: corrupt the labels of a fraction of the frames the cells train on (tail split,
 * then the dataset's max_train_frames subset, as the trainer takes them), chosen by the stream
 * (dataset name, 0, RNG_TEST): E += shift * natoms, F *= scale. */
rk_status runner_inject_outliers(const man_dataset *d, dataset_t *ds) {
    if (d->outlier_fraction <= 0.0) return RK_OK;
    /* split, test_fraction and max_train_frames are dataset keys, the same for all its cells;
     * the stream and seed do not change a tail split */
    evaluate_split sp = evaluate_default_split();
    sp.mode = d->split;
    sp.test_fraction = d->test_fraction;
    snprintf(sp.stream_name, sizeof sp.stream_name, "%s", d->name);
    sp.max_train_frames = d->training.v.max_train_frames;
    model_frame_ref *tr = NULL, *te = NULL;
    size_t ntr = 0, nte = 0;
    rk_status st = evaluate_frames(ds, &sp, &tr, &ntr, &te, &nte);
    if (st) return st;
    size_t k = (size_t)llround(d->outlier_fraction * (double)ntr);
    size_t *idx = rk_malloc((ntr ? ntr : 1) * sizeof *idx);
    if (!idx) {
        free(tr);
        free(te);
        return RK_ENOMEM;
    }
    for (size_t i = 0; i < ntr; i++)
        idx[i] = i;
    rng_t r;
    rng_stream(&r, d->name, 0, RNG_TEST);
    rng_shuffle(&r, idx, ntr);
    for (size_t i = 0; i < k; i++) {
        ds_system *s = &ds->sys[tr[idx[i]].sys];
        size_t f = tr[idx[i]].frame, na = s->natoms;
        s->energy[f] += d->outlier_energy_shift * (double)na;
        for (size_t c = 0; c < 3 * na; c++)
            s->force[f * na * 3 + c] *= d->outlier_force_scale;
    }
    free(idx);
    free(tr);
    free(te);
    return RK_OK;
}

/* ------------------------------------------------------------ cell records ------------------ */

static void cell_file(const manifest_t *m, size_t k, const char *name, char *buf, size_t cap) {
    char dir[RUN_PATH];
    manifest_cell_dir(m, k, dir, sizeof dir);
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* A cell has a record: result.json exists (it is in the summary, whatever its status). */
static int cell_recorded(const manifest_t *m, size_t k) {
    char p[RUN_PATH + 32];
    cell_file(m, k, "result.json", p, sizeof p);
    return file_exists(p);
}

/* A cell is finished (not rerun) only if result.json says done, diverged, time_budget or
 * skipped and, for a trained cell, its metrics.csv and model.h5 exist. Anything else (failed,
 * killed, disk full, half-written) is rerun, resuming from its checkpoint when there is one. */
static int cell_finished(const manifest_t *m, size_t k) {
    char p[RUN_PATH + 32];
    cell_file(m, k, "result.json", p, sizeof p);
    jsonw *o = NULL;
    if (!file_exists(p) || jsonw_parse_file(p, &o) != RK_OK) return 0;
    char status[64] = "";
    jsonw_get_str(o, "result", "status", 0, status, sizeof status);
    jsonw_free(o);
    if (strcmp(status, "skipped") == 0) return 1;
    if (strcmp(status, "done") != 0 && strcmp(status, "diverged") != 0 &&
        strcmp(status, train_outcome_str(TRAIN_TIME_BUDGET)) != 0)
        return 0;
    cell_file(m, k, "metrics.csv", p, sizeof p);
    if (!file_exists(p)) return 0;
    cell_file(m, k, "model.h5", p, sizeof p);
    return file_exists(p);
}

/* ------------------------------------------------------------ md ---------------------------- */

_Static_assert(MD_NENSEMBLES * SCHEMA_MD_NQ ==
                   SCHEMA_SUMMARY_NCOLS - SCHEMA_SUMMARY_MD_NVE_STATUS,
               "summary.csv has one block of MD columns per ensemble");

/* <cell>/md_<ensemble>: one MD run of the cell's model; finished iff md.json exists. */
static void md_dir(const manifest_t *m, size_t k, md_ensemble e, char *buf, size_t cap) {
    char name[32];
    snprintf(name, sizeof name, "md_%s", md_ensemble_names[e]);
    cell_file(m, k, name, buf, cap);
}

static int md_finished(const manifest_t *m, size_t k, md_ensemble e) {
    char d[RUN_PATH + 32], p[RUN_PATH + 64];
    md_dir(m, k, e, d, sizeof d);
    snprintf(p, sizeof p, "%s/md.json", d);
    return file_exists(p);
}

/* MD applies to a cell of a dataset listed in md.datasets (all if none listed) whose training
 * finished with a model (done or time_budget). */
static int md_applies(const manifest_t *m, size_t k) {
    if (!m->has_md || !cell_finished(m, k)) return 0;
    if (m->md.n_datasets) {
        size_t d, v, s;
        manifest_cell(m, k, &d, &v, &s);
        int listed = 0;
        for (size_t i = 0; i < m->md.n_datasets; i++)
            listed |= strcmp(m->md.datasets[i], m->datasets[d].name) == 0;
        if (!listed) return 0;
    }
    char p[RUN_PATH + 32];
    cell_file(m, k, "result.json", p, sizeof p);
    jsonw *o = NULL;
    if (jsonw_parse_file(p, &o) != RK_OK) return 0;
    char status[64] = "";
    jsonw_get_str(o, "result", "status", 0, status, sizeof status);
    jsonw_free(o);
    return strcmp(status, "done") == 0 || strcmp(status, train_outcome_str(TRAIN_TIME_BUDGET)) == 0;
}

/* The cell's MD runs still to do. */
static int md_pending(const manifest_t *m, size_t k) {
    if (!md_applies(m, k)) return 0;
    for (int e = 0; e < MD_NENSEMBLES; e++)
        if ((m->md.ensembles & (1u << e)) && !md_finished(m, k, (md_ensemble)e)) return 1;
    return 0;
}

/* Run the cell's pending MD (in the cell's worker): model.h5 from the start frame of
 * md.frame, velocities from the stream (dataset name, seed), results in md_<ensemble>/. */
static rk_status run_cell_md(const manifest_t *m, size_t k, const dataset_t *ds, int threads) {
    size_t d, v, s;
    manifest_cell(m, k, &d, &v, &s);
    if (threads > 0) omp_set_num_threads(threads);
    char mp[RUN_PATH + 32];
    cell_file(m, k, "model.h5", mp, sizeof mp);
    model_t mod;
    memset(&mod, 0, sizeof mod);
    rk_status st = model_load(&mod, mp);
    size_t sys = 0, f = 0;
    if (!st) st = model_check_types(&mod, ds, mp);
    if (!st) st = md_find_frame(ds, m->md.frame, &sys, &f);
    if (!st) st = md_check_frame(ds, sys, f);
    for (int e = 0; e < MD_NENSEMBLES && !st; e++) {
        if (!(m->md.ensembles & (1u << e)) || md_finished(m, k, (md_ensemble)e)) continue;
        char dir[RUN_PATH + 32], log[RUN_PATH + 64];
        md_dir(m, k, (md_ensemble)e, dir, sizeof dir);
        snprintf(log, sizeof log, "%s/lammps.log", dir);
        md_result r;
        if ((st = fs_mkdirs(dir))) break;
        st = md_run(&mod, ds, sys, f, &m->md, (md_ensemble)e, m->datasets[d].name,
                    (uint64_t)m->seeds[s], log, &r);
        if (!st) st = md_write(dir, &m->md, (uint64_t)m->seeds[s], &r);
        if (!st)
            fprintf(stderr, "md %s: %s at %.4g ps%s%s\n", md_ensemble_names[e],
                    r.stable ? "stable" : "unstable", r.stable_ps, r.stable ? "" : ": ", r.reason);
        md_result_free(&r);
    }
    model_free(&mod);
    return st;
}

/* How cell k shared the machine: jobs cells at once (the run's -j), threads BLAS/OpenMP threads
 * each; result.json records them, the threads under the training key's name. */
typedef struct {
    int jobs, threads;
} cell_share;

static const char *threads_key(void) {
    return config_key_of_field(offsetof(train_config, threads))->name;
}

/* What cell k is, as the manifest asks for it: its training configuration before the data
 * resolve anything (sel "auto", stop_steps), without where it runs and how (data path, folder,
 * threads, progress, checkpoint cadence). result.json records it, and a finished cell whose
 * record differs from the manifest's is refused (check_finished_cell). */
static jsonw *cell_request(const manifest_t *m, size_t k) {
    train_config tc;
    manifest_cell_config(m, k, "", &tc);
    tc.dataset[0] = '\0';
    tc.out_dir[0] = '\0';
    config_clear_run_settings(&tc);
    return config_to_object(&tc);
}

static rk_status write_result(const manifest_t *m, size_t k, const char *status, const char *reason,
                              const train_result *res, cell_share share) {
    jsonw *o = jsonw_new_object();
    jsonw_add_str(o, "status", status);
    jsonw_add_str(o, "reason", reason ? reason : "");
    jsonw_add_num(o, "jobs", share.jobs);
    jsonw_add_num(o, threads_key(), share.threads);
    /* a skipped or failed cell has no training numbers: only what it needed */
    int trained = strcmp(status, "skipped") != 0 && strcmp(status, "failed") != 0;
    if (res->n_params) jsonw_add_num(o, "n_params", (double)res->n_params);
    if (res->state_bytes) jsonw_add_num(o, "state_bytes", (double)res->state_bytes);
    if (trained) {
        jsonw_add_num(o, "epochs", res->epochs_done);
        jsonw_add_num(o, "updates", (double)res->updates);
        jsonw_add_num(o, "images", (double)res->images);
        jsonw_add_num(o, "wall_s", res->wall_s);
        jsonw_add_num(o, "train_s", res->train_s);
        jsonw_add_num(o, "eval_s", res->eval_s);
        jsonw_add_num(o, "n_train", (double)res->n_train);
        jsonw_add_num(o, "n_test", (double)res->n_test);
        jsonw_add_num(o, "n_blocks", (double)res->n_blocks);
        /* NaN is not JSON: non-finite RMSEs are written as strings "nan" */
        const char *names[] = {"final_test_e", "final_test_f",  "best_test_e",
                               "best_test_f",  "final_train_e", "final_train_f"};
        double vals[] = {res->final_test_e, res->final_test_f,  res->best_test_e,
                         res->best_test_f,  res->final_train_e, res->final_train_f};
        for (size_t i = 0; i < 6; i++) {
            if (isfinite(vals[i]))
                jsonw_add_num(o, names[i], vals[i]);
            else
                jsonw_add_str(o, names[i], "nan");
        }
    }
    jsonw_add(o, "request", cell_request(m, k));
    char *text = jsonw_print(o);
    jsonw_free(o);
    char p[RUN_PATH + 32];
    cell_file(m, k, "result.json", p, sizeof p);
    rk_status st = fs_write_text_atomic(p, text);
    free(text);
    return st;
}

/* The workers of the runner, for forwarding SIGINT/SIGTERM (0 = free slot). */
static volatile pid_t *g_workers;
static volatile int g_n_workers;

static void forward_signal(int sig) {
    for (int i = 0; i < g_n_workers; i++)
        if (g_workers && g_workers[i] > 0) kill(g_workers[i], sig);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Child process: run cell k, record its result, exit. Never returns. The cell's folder is
 * train_run's transaction (cell.partial, put in place when finished); the log is written beside
 * it as a "*.tmp-<pid>" file (removed by the next run if this worker is killed) and moved into the
 * folder with the result. */
static void run_cell_child(const manifest_t *m, size_t k, const char *ds_path, const dataset_t *ds,
                           cell_share share, pid_t parent) {
    const int threads = share.threads;
    /* die with the runner */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    char dir[RUN_PATH], logp[RUN_PATH + 64], logf[RUN_PATH + 32], rp[RUN_PATH + 32];
    manifest_cell_dir(m, k, dir, sizeof dir);
    if (cell_finished(m, k)) {
        /* trained before: only its MD is left (log appended to md.log) */
        char mdlog[RUN_PATH + 32];
        cell_file(m, k, "md.log", mdlog, sizeof mdlog);
        if (!freopen(mdlog, "a", stderr)) _exit(1);
        rk_status mst = run_cell_md(m, k, ds, threads);
        if (mst) fprintf(stderr, "md of cell %s failed: %s\n", dir, err_msg());
        fflush(stderr);
        _exit(mst ? 1 : 0);
    }
    cell_file(m, k, "result.json", rp, sizeof rp);
    unlink(rp); /* an old record must not outlive its rerun */
    snprintf(logp, sizeof logp, "%s.log.tmp-%ld", dir, (long)getpid());
    rk_status st = fs_mkdirs(dir);
    if (st) {
        fprintf(stderr, "rlekf run: %s\n", err_msg());
        _exit(1);
    }
    if (!freopen(logp, "w", stderr)) _exit(1);
    setvbuf(stderr, NULL, _IOLBF, 0);
    train_config tc;
    manifest_cell_config(m, k, ds_path, &tc);
    tc.threads = threads; /* train_run sets them */
    tc.resume = 1;        /* a killed or failed cell continues from its checkpoint */
    train_result res;
    st = train_run(&tc, ds, &res);
    const char *status = train_outcome_str(res.outcome), *reason = "";
    if (st == RK_ENOMEM) {
        status = "skipped";
        reason = err_msg();
        char part[RUN_PATH + 32];
        snprintf(part, sizeof part, "%s%s", dir, TRAIN_PARTIAL);
        fs_remove_tree(part); /* nothing to resume */
    } else if (st) {
        status = "failed";
        reason = err_msg();
    }
    if (st) fprintf(stderr, "cell %s: %s: %s\n", dir, status, reason);
    fflush(stderr);
    rk_status st2 = fs_mkdirs(dir);
    cell_file(m, k, "log.txt", logf, sizeof logf);
    if (!st2 && rename(logp, logf) != 0)
        st2 = err_set(RK_ERUNTIME, "%s: cannot rename to %s: %s", logp, logf, strerror(errno));
    if (!st2) st2 = write_result(m, k, status, reason, &res, share);
    if (st2) fprintf(stderr, "cell %s: %s\n", dir, err_msg());
    fflush(stderr);
    if (!st2 && md_pending(m, k)) {
        char mdlog[RUN_PATH + 32];
        cell_file(m, k, "md.log", mdlog, sizeof mdlog);
        if (!freopen(mdlog, "a", stderr)) _exit(1);
        st2 = run_cell_md(m, k, ds, threads);
        if (st2) fprintf(stderr, "md of cell %s failed: %s\n", dir, err_msg());
        fflush(stderr);
    }
    _exit(st2 ? 1 : 0);
}

static size_t cell_state_bytes(const manifest_t *m, size_t k, const dataset_t *ds,
                               size_t *n_params);

/* Cell k under mpirun (R >= 2 ranks): every rank calls this for the same cell, in this process
 * (no worker), and train_run shares the cell over the ranks. The memory limit is checked first
 * on every rank's own share (the layout as --dry-run computes it): if any rank's is over it, all
 * skip the cell. Any other failure is returned (it ends the job, as for `rlekf train` under
 * mpirun: the ranks cannot agree on a failure inside a collective); a rerun resumes the cell.
 * Rank 0 alone writes result.json; the cell's messages go to the job's stderr (no log.txt). */
static rk_status run_cell_ranks(const manifest_t *m, size_t k, const char *ds_path,
                                const dataset_t *ds, cell_share share, int quiet) {
    const int root = par_is_root();
    char dir[RUN_PATH], rp[RUN_PATH + 32];
    manifest_cell_dir(m, k, dir, sizeof dir);
    cell_file(m, k, "result.json", rp, sizeof rp);
    rk_status st = RK_OK;
    if (root) {
        unlink(rp); /* an old record must not outlive its rerun */
        st = fs_mkdirs(dir);
    }
    if (st) return st;
    train_result res;
    memset(&res, 0, sizeof res);
    size_t n_params = 0;
    const size_t need = cell_state_bytes(m, k, ds, &n_params), limit = optim_mem_limit();
    const double most = -par_min(-(double)need); /* the largest rank's share */
    if (most > (double)limit) {
        size_t d, v, sd;
        manifest_cell(m, k, &d, &v, &sd);
        char reason[256];
        snprintf(reason, sizeof reason,
                 "%s: needs %.0f bytes of optimizer state on the largest of %d ranks, limit %zu",
                 m->variants[v].opt->name, most, par_size(), limit);
        res.state_bytes = (size_t)most;
        res.n_params = n_params;
        return root ? write_result(m, k, "skipped", reason, &res, share) : RK_OK;
    }
    train_config tc;
    manifest_cell_config(m, k, ds_path, &tc);
    tc.threads = share.threads;
    tc.resume = 1;
    if (quiet) tc.quiet = 1;
    if ((st = train_run(&tc, ds, &res))) return err_prefix(st, "cell %s: ", dir);
    return root ? write_result(m, k, train_outcome_str(res.outcome), "", &res, share) : RK_OK;
}

/* ------------------------------------------------------------ summary ----------------------- */

static void num_field(const jsonw *o, const char *key, char *buf, size_t cap, int integer) {
    const jsonw *v = jsonw_get(o, key);
    if (!v)
        buf[0] = '\0';
    else if (jsonw_typeof(v) == JSONW_STRING)
        snprintf(buf, cap, "%s", jsonw_string(v));
    else if (integer)
        snprintf(buf, cap, "%.0f", jsonw_number(v));
    else
        snprintf(buf, cap, "%.10g", jsonw_number(v));
}

rk_status runner_write_summary(const manifest_t *m) {
    char path[RUN_PATH];
    snprintf(path, sizeof path, "%s/%s/summary.csv", m->results_dir, m->name);
    fs_atomic out;
    rk_status st = fs_atomic_open(&out, path);
    if (st) return st;
    FILE *f = out.f;
    csvio_write_row(f, schema_summary_cols, SCHEMA_SUMMARY_NCOLS);
    for (size_t k = 0; k < manifest_n_cells(m) && !st; k++) {
        if (!manifest_cell_applies(m, k) || !cell_recorded(m, k)) continue;
        char rp[RUN_PATH + 32];
        cell_file(m, k, "result.json", rp, sizeof rp);
        jsonw *o = NULL;
        if ((st = jsonw_parse_file(rp, &o))) break;
        size_t d, v, s;
        manifest_cell(m, k, &d, &v, &s);
        const man_variant *V = &m->variants[v];
        char fld[SCHEMA_SUMMARY_NCOLS][512];
        snprintf(fld[SCHEMA_SUMMARY_DATASET], 512, "%s", m->datasets[d].name);
        snprintf(fld[SCHEMA_SUMMARY_LABEL], 512, "%s", V->label);
        snprintf(fld[SCHEMA_SUMMARY_OPTIMIZER], 512, "%s", V->opt->name);
        snprintf(fld[SCHEMA_SUMMARY_SEED], 512, "%ld", m->seeds[s]);
        num_field(o, "status", fld[SCHEMA_SUMMARY_STATUS], 512, 0);
        num_field(o, "reason", fld[SCHEMA_SUMMARY_REASON], 512, 0);
        snprintf(fld[SCHEMA_SUMMARY_GROUP], 512, "%s", V->group);
        if (isnan(V->x))
            fld[SCHEMA_SUMMARY_X][0] = '\0';
        else
            snprintf(fld[SCHEMA_SUMMARY_X], 512, "%.10g", V->x);
        int bi = optim_param_index(V->opt, "block_size");
        const jsonw *np = jsonw_get(o, "n_params");
        if (bi >= 0)
            snprintf(fld[SCHEMA_SUMMARY_BLOCK_SIZE], 512, "%.0f", V->params.v[bi]);
        else if (V->opt->kind == OPTIM_KALMAN && np)
            snprintf(fld[SCHEMA_SUMMARY_BLOCK_SIZE], 512, "%.0f", jsonw_number(np));
        else
            fld[SCHEMA_SUMMARY_BLOCK_SIZE][0] = '\0';
        if (V->opt->kind == OPTIM_KALMAN)
            num_field(o, "n_blocks", fld[SCHEMA_SUMMARY_N_BLOCKS], 512, 1);
        else
            fld[SCHEMA_SUMMARY_N_BLOCKS][0] = '\0';
        num_field(o, "state_bytes", fld[SCHEMA_SUMMARY_STATE_BYTES], 512, 1);
        num_field(o, "n_params", fld[SCHEMA_SUMMARY_N_PARAMS], 512, 1);
        num_field(o, "n_train", fld[SCHEMA_SUMMARY_N_TRAIN], 512, 1);
        num_field(o, "n_test", fld[SCHEMA_SUMMARY_N_TEST], 512, 1);
        num_field(o, "epochs", fld[SCHEMA_SUMMARY_EPOCHS], 512, 0);
        num_field(o, "updates", fld[SCHEMA_SUMMARY_UPDATES], 512, 1);
        /* seconds with 3 decimals; "" when the record has none (skipped, failed, older runs) */
        const char *const secs[] = {"wall_s", "train_s", "eval_s"};
        const int secs_col[] = {SCHEMA_SUMMARY_WALL_S, SCHEMA_SUMMARY_TRAIN_S,
                                SCHEMA_SUMMARY_EVAL_S};
        for (size_t q = 0; q < sizeof secs / sizeof secs[0]; q++) {
            const jsonw *w = jsonw_get(o, secs[q]);
            if (w)
                snprintf(fld[secs_col[q]], 512, "%.3f", jsonw_number(w));
            else
                fld[secs_col[q]][0] = '\0';
        }
        num_field(o, "final_test_e", fld[SCHEMA_SUMMARY_FINAL_TEST_E], 512, 0);
        num_field(o, "final_test_f", fld[SCHEMA_SUMMARY_FINAL_TEST_F], 512, 0);
        num_field(o, "best_test_e", fld[SCHEMA_SUMMARY_BEST_TEST_E], 512, 0);
        num_field(o, "best_test_f", fld[SCHEMA_SUMMARY_BEST_TEST_F], 512, 0);
        num_field(o, "final_train_e", fld[SCHEMA_SUMMARY_FINAL_TRAIN_E], 512, 0);
        num_field(o, "final_train_f", fld[SCHEMA_SUMMARY_FINAL_TRAIN_F], 512, 0);
        num_field(o, "jobs", fld[SCHEMA_SUMMARY_JOBS], 512, 1);
        num_field(o, threads_key(), fld[SCHEMA_SUMMARY_THREADS], 512, 1);
        train_config tc; /* the cell's resolved training keys: its batch size */
        manifest_cell_config(m, k, "", &tc);
        snprintf(fld[SCHEMA_SUMMARY_BATCH_SIZE], 512, "%zu", tc.batch_size);
        jsonw_free(o);
        for (int e = 0; e < MD_NENSEMBLES; e++) {
            static const char *const keys[SCHEMA_MD_NQ] = {
                [SCHEMA_MD_STATUS] = "status",
                [SCHEMA_MD_STABLE_PS] = "stable_ps",
                [SCHEMA_MD_DRIFT] = "drift_meV_per_atom_per_ps",
                [SCHEMA_MD_FLUCT] = "fluctuation_meV_per_atom",
                [SCHEMA_MD_RDF] = "rdf_mae"};
            jsonw *mo = NULL;
            char mp[RUN_PATH + 32], mj[RUN_PATH + 64];
            md_dir(m, k, (md_ensemble)e, mp, sizeof mp);
            snprintf(mj, sizeof mj, "%s/md.json", mp);
            if (file_exists(mj) && (st = jsonw_parse_file(mj, &mo))) break;
            for (int q = 0; q < SCHEMA_MD_NQ; q++) {
                char *cell = fld[SCHEMA_SUMMARY_MD_COL(e, q)];
                const jsonw *x = mo ? jsonw_get(mo, keys[q]) : NULL;
                if (x && jsonw_typeof(x) == JSONW_NUMBER)
                    snprintf(cell, 512, "%.6g", jsonw_number(x));
                else if (x && jsonw_typeof(x) == JSONW_STRING)
                    snprintf(cell, 512, "%s", jsonw_string(x));
                else
                    cell[0] = '\0'; /* not run, or null (NVT drift, no RDF sample) */
            }
            jsonw_free(mo);
        }
        if (st) break;
        const char *row[SCHEMA_SUMMARY_NCOLS];
        for (size_t i = 0; i < SCHEMA_SUMMARY_NCOLS; i++)
            row[i] = fld[i];
        csvio_write_row(f, row, SCHEMA_SUMMARY_NCOLS);
    }
    if (st) {
        fs_atomic_abort(&out);
        return st;
    }
    return fs_atomic_commit(&out);
}

/* ------------------------------------------------------------ run --------------------------- */

static rk_status copy_manifest(const manifest_t *m) {
    char dst[RUN_PATH];
    snprintf(dst, sizeof dst, "%s/%s/manifest.json", m->results_dir, m->name);
    char *buf = NULL;
    rk_status st = fs_read_all(m->path, &buf, NULL);
    if (st) return st;
    st = fs_write_text_atomic(dst, buf);
    free(buf);
    return st;
}

static rk_status write_provenance(const manifest_t *m, int jobs, int threads) {
    /* this invocation's share; every cell's own jobs x threads is in its result.json and in
     * summary.csv (a resumed experiment may mix invocations) */
    char p[RUN_PATH];
    snprintf(p, sizeof p, "%s/%s/provenance.json", m->results_dir, m->name);
    jsonw *o = jsonw_new_object();
    jsonw_add_str(o, "experiment", m->name);
    jsonw_add_str(o, "manifest", m->path);
    jsonw_add_num(o, "jobs", jobs);
    jsonw_add_num(o, "threads_per_job", threads);
    jsonw_add_num(o, "mpi_ranks", par_size());
    jsonw_add_str(o, "timing", manifest_timing_name(m->timing));
    train_add_provenance(o);
    time_t t = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    jsonw_add_str(o, "started", when);
    char *text = jsonw_print(o);
    jsonw_free(o);
    rk_status st = fs_write_text_atomic(p, text);
    free(text);
    return st;
}

/* Estimated optimizer state of cell k for --dry-run (model layout from the manifest's model). */
static size_t cell_state_bytes(const manifest_t *m, size_t k, const dataset_t *ds,
                               size_t *n_params) {
    size_t d, v, s;
    manifest_cell(m, k, &d, &v, &s);
    model_config c = m->model;
    c.n_sel = ds->ntypes;
    for (size_t a = 0; a < ds->ntypes; a++)
        c.sel[a] = 1; /* the layout does not depend on sel */
    model_t mod;
    if (model_create(&mod, &c, ds->ntypes, ds->type_map)) return 0;
    size_t b = optim_state_bytes(m->variants[v].opt, &m->variants[v].params, &mod.layout);
    if (n_params) *n_params = mod.layout.n_params;
    model_free(&mod);
    return b;
}

static void fmt_time(double s, char *buf, size_t cap) {
    if (!(s >= 0) || s > 1e8)
        snprintf(buf, cap, "?");
    else
        snprintf(buf, cap, "%dh%02dm%02ds", (int)(s / 3600), ((int)s % 3600) / 60, (int)s % 60);
}

/* A dry run checks what would otherwise fail every cell: the split must leave test frames, and a
 * given sel must have one entry per type of the data and hold the most neighbours of each type
 * within rcut (the first misfit is an input error naming the cell). The neighbour counts of a
 * dataset are scanned once per rcut. */
static rk_status check_sel(const manifest_t *m, const dataset_t *ds, char (*paths)[RUN_PATH]) {
    size_t nd = m->n_datasets;
    double *rcut = calloc(nd, sizeof *rcut);
    size_t *counts = calloc(nd * MODEL_MAX_TYPES, sizeof *counts);
    if (!rcut || !counts) {
        free(rcut);
        free(counts);
        return err_set(RK_ENOMEM, "out of memory");
    }
    rk_status st = RK_OK;
    for (size_t k = 0; k < manifest_n_cells(m) && !st; k++) {
        if (!manifest_cell_applies(m, k)) continue;
        size_t d, v, s;
        manifest_cell(m, k, &d, &v, &s);
        train_config tc;
        manifest_cell_config(m, k, paths[d], &tc);
        const model_config *mc = &tc.model;
        const char *label = m->variants[v].label, *name = m->datasets[d].name;
        /* the split must leave test frames (training refuses an empty one) */
        model_frame_ref *tr = NULL, *te = NULL;
        size_t ntr = 0, nte = 0;
        st = evaluate_split_frames(&ds[d], tc.split, tc.test_fraction, tc.stream_name, tc.seed, &tr,
                                   &ntr, &te, &nte);
        free(tr);
        free(te);
        if (!st && nte == 0)
            st = err_set(RK_EINPUT,
                         "%s: cell %zu (%s / %s): the %s split with test_fraction %g leaves no "
                         "test frames in dataset %s (%zu frames)",
                         m->path, k, name, label, evaluate_split_mode_names[tc.split],
                         tc.test_fraction, name, dataset_total_frames(&ds[d]));
        if (st) break;
        if (mc->n_sel == 0) continue; /* computed from the data by the run */
        if (mc->n_sel != ds[d].ntypes) {
            st = err_set(RK_EINPUT,
                         "%s: cell %zu (%s / %s): model.sel has %zu entries, dataset %s "
                         "has %zu types",
                         m->path, k, name, label, mc->n_sel, name, ds[d].ntypes);
            break;
        }
        size_t *c = counts + d * MODEL_MAX_TYPES;
        if (rcut[d] != mc->rcut) {
            size_t total = dataset_total_frames(&ds[d]), f = 0;
            model_frame_ref *all = rk_malloc(total * sizeof *all);
            if (!all) {
                st = RK_ENOMEM;
                break;
            }
            for (size_t i = 0; i < ds[d].nsystems; i++)
                for (size_t j = 0; j < ds[d].sys[i].nframes; j++)
                    all[f++] = (model_frame_ref){i, j};
            st = model_neighbor_stat(&ds[d], mc->rcut, all, total, c, NULL);
            free(all);
            rcut[d] = mc->rcut;
        }
        for (size_t t = 0; !st && t < ds[d].ntypes; t++)
            if (c[t] > mc->sel[t])
                st = err_set(RK_EINPUT,
                             "%s: cell %zu (%s / %s): model.sel[%zu] = %zu (type %s), "
                             "but dataset %s has atoms with %zu type-%s neighbours within rcut %g",
                             m->path, k, name, label, t, mc->sel[t], ds[d].type_map[t], name, c[t],
                             ds[d].type_map[t], mc->rcut);
    }
    free(rcut);
    free(counts);
    return st;
}

/* The first key (section.key) whose value differs between the recorded request `was` and the
 * manifest's `now`; keys one side lacks (added or retired by another version of rlekf) are not
 * compared. 0 if none differs. */
static int request_differs(const jsonw *was, const jsonw *now, char *key, size_t kcap,
                           char *a, char *b, size_t vcap) {
    for (size_t i = 0; i < jsonw_size(now); i++) {
        const jsonw *sec = jsonw_at(now, i), *old = jsonw_get(was, jsonw_key(sec));
        if (!old) continue;
        int nested = jsonw_typeof(sec) == JSONW_OBJECT && jsonw_typeof(old) == JSONW_OBJECT;
        size_t n = nested ? jsonw_size(sec) : 1;
        for (size_t j = 0; j < n; j++) {
            const jsonw *v = nested ? jsonw_at(sec, j) : sec;
            const jsonw *w = nested ? jsonw_get(old, jsonw_key(v)) : old;
            if (!w) continue;
            char *pv = jsonw_print_compact(v), *pw = jsonw_print_compact(w);
            int diff = !pv || !pw || strcmp(pv, pw) != 0;
            free(pv);
            free(pw);
            if (!diff) continue;
            if (nested)
                snprintf(key, kcap, "%s.%s", jsonw_key(sec), jsonw_key(v));
            else
                snprintf(key, kcap, "%s", jsonw_key(sec));
            jsonw_brief(w, a, vcap);
            jsonw_brief(v, b, vcap);
            return 1;
        }
    }
    return 0;
}

/* A finished cell is never rerun, so one trained under another configuration (the manifest was
 * edited since) would pass for a result of this one: refuse it, naming the cell and the first
 * key that differs. Records without a request (older results) are taken as they are. */
static rk_status check_finished_cell(const manifest_t *m, size_t k) {
    char p[RUN_PATH + 32];
    cell_file(m, k, "result.json", p, sizeof p);
    jsonw *o = NULL;
    if (jsonw_parse_file(p, &o) != RK_OK) return RK_OK; /* cell_finished said yes: unreachable */
    const jsonw *was = jsonw_get(o, "request");
    rk_status st = RK_OK;
    if (was) {
        jsonw *now = cell_request(m, k);
        char key[160], a[96], b[96];
        if (request_differs(was, now, key, sizeof key, a, b, sizeof a)) {
            char dir[RUN_PATH];
            manifest_cell_dir(m, k, dir, sizeof dir);
            st = err_set(RK_EINPUT,
                         "%s: cell %s was trained with %s = %s, but %s now gives %s: restore the "
                         "manifest, or delete the cell's folder to retrain it",
                         m->path, dir, key, a, m->path, b);
        }
        jsonw_free(now);
    }
    jsonw_free(o);
    return st;
}

/* Whether cell k runs in this invocation: it applies, is in this shard and has the chosen seed. */
static int cell_selected(const manifest_t *m, const runner_opts *o, size_t k) {
    if (!manifest_cell_applies(m, k)) return 0;
    if (o->shard_n > 1 && k % o->shard_n != o->shard_i - 1) return 0;
    if (o->has_seed) {
        size_t d, v, s;
        manifest_cell(m, k, &d, &v, &s);
        if (m->seeds[s] != o->seed) return 0;
    }
    return 1;
}

rk_status runner_run(const manifest_t *m, const runner_opts *o) {
    size_t nd = m->n_datasets, ncells = manifest_n_cells(m);
    if (o->has_seed) {
        char list[256];
        size_t len = 0;
        int found = 0;
        list[0] = '\0';
        for (size_t s = 0; s < m->n_seeds; s++) {
            found |= m->seeds[s] == o->seed;
            if (len < sizeof list)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%ld", s ? ", " : "",
                                        m->seeds[s]);
        }
        if (!found)
            return err_set(RK_EINPUT, "--seed %ld: %s has the seeds [%s]", o->seed, m->path,
                           list);
    }
    if (m->memory_limit_gb > 0) optim_set_mem_limit((size_t)(m->memory_limit_gb * 1073741824.0));
    char exp_dir[RUN_PATH];
    snprintf(exp_dir, sizeof exp_dir, "%s/%s", m->results_dir, m->name);
    rk_status st = RK_OK;
    /* under mpirun (R >= 2): the cells run one after another on all ranks together (see
     * run_cell_ranks); rank 0 alone writes the experiment's files, prints, and decides which
     * cells are left */
    const int R = par_size(), root = par_is_root(), quiet = o->quiet || !root;
    /* before anything is written (the manifest copy included): every finished cell, of any shard
     * or seed (the summary lists them all), must be what the manifest asks for; every rank reads
     * the same files and reaches the same verdict */
    for (size_t k = 0; k < ncells; k++)
        if (manifest_cell_applies(m, k) && cell_finished(m, k) && (st = check_finished_cell(m, k)))
            return st;
    if (!o->dry_run && root) {
        if ((st = fs_mkdirs(exp_dir))) return st;
        if ((st = copy_manifest(m))) return st;
    }
    /* datasets: import if needed, load once (children inherit them), inject outliers */
    char(*paths)[RUN_PATH] = calloc(nd, sizeof *paths);
    dataset_t *ds = calloc(nd, sizeof *ds);
    if (!paths || !ds) {
        free(paths);
        free(ds);
        return err_set(RK_ENOMEM, "out of memory");
    }
    /* several ranks: rank 0 imports first (it alone writes data/<name>.h5), then the others read */
    if (R > 1 && !root) par_barrier();
    for (size_t d = 0; d < nd && !st; d++) {
        const man_dataset *D = &m->datasets[d];
        st = load_dataset(m, D, o->dry_run, paths[d], RUN_PATH, &ds[d]);
        if (!st) st = runner_inject_outliers(D, &ds[d]);
        if (st) err_prefix(st, "%s: datasets[%zu] (%s): ", m->path, d, D->name);
    }
    if (R > 1 && root && !st) par_barrier();
    int jobs = o->jobs > 0 ? o->jobs : 1;
    if (R > 1 && jobs > 1) {
        if (root)
            fprintf(stderr, "[run %s] %d MPI ranks: one cell at a time (-j %d ignored)\n", m->name,
                    R, jobs);
        jobs = 1;
    }
    if (m->timing == MAN_TIMING_EXCLUSIVE && jobs > 1) {
        /* times that are compared must not share the machine */
        if (root && (!o->quiet || o->dry_run))
            fprintf(stderr,
                    "[run %s] timing \"exclusive\": one cell at a time with all threads "
                    "(-j %d ignored)\n",
                    m->name, jobs);
        jobs = 1;
    }
    int total_threads = m->threads > 0 ? m->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    int threads = total_threads / jobs > 0 ? total_threads / jobs : 1;
    /* the cells of this shard (and seed) */
    size_t *todo = calloc(ncells ? ncells : 1, sizeof *todo), n_todo = 0, n_mine = 0, n_done0 = 0;
    for (size_t k = 0; k < ncells && !st; k++) {
        if (!cell_selected(m, o, k)) continue;
        n_mine++;
        /* under mpirun the md section is left for a run without mpirun (run_cell_ranks trains
         * only), so a trained cell counts as finished there */
        if (cell_finished(m, k) && (R > 1 || !md_pending(m, k)))
            n_done0++;
        else
            todo[n_todo++] = k;
    }
    if (!st && R > 1 && m->has_md && root && !o->dry_run)
        fprintf(stderr,
                "[run %s] the md section is not run under mpirun: rerun `rlekf run` without "
                "mpirun afterwards, which runs only the MD of the trained cells\n",
                m->name);
    if (!st && R > 1) { /* rank 0's view of the finished cells, for all */
        size_t counts[3] = {n_todo, n_mine, n_done0};
        par_bcast(counts, sizeof counts);
        n_todo = counts[0];
        n_mine = counts[1];
        n_done0 = counts[2];
        par_bcast(todo, n_todo * sizeof *todo);
    }
    if (!st && o->dry_run) st = check_sel(m, ds, paths);
    if (!st && o->dry_run) {
        printf("experiment %s: %zu cells (%zu datasets x %zu variants x %zu seeds)%s; this shard: "
               "%zu, finished %zu, to run %zu; %d job(s) x %d thread(s), timing %s; memory limit "
               "%.3g GiB\n",
               m->name, ncells, nd, m->n_variants, m->n_seeds, o->shard_n > 1 ? " sharded" : "",
               n_mine, n_done0, n_todo, jobs, threads, manifest_timing_name(m->timing),
               (double)optim_mem_limit() / 1073741824.0);
        printf("%-6s %-12s %-20s %-8s %-6s %12s  %s\n", "cell", "dataset", "label", "optim", "seed",
               "state MiB", "status");
        for (size_t k = 0; k < ncells; k++) {
            if (!cell_selected(m, o, k)) continue;
            size_t d, v, s;
            manifest_cell(m, k, &d, &v, &s);
            /* under mpirun: the largest rank's share (every rank runs this loop) */
            size_t b = (size_t)-par_min(-(double)cell_state_bytes(m, k, &ds[d], NULL));
            const char *status = cell_finished(m, k)     ? "finished"
                                 : b > optim_mem_limit() ? "will be skipped (over memory limit)"
                                                         : "to run";
            printf("%-6zu %-12s %-20s %-8s %-6ld %12.1f  %s\n", k, m->datasets[d].name,
                   m->variants[v].label, m->variants[v].opt->name, m->seeds[s],
                   (double)b / 1048576.0, status);
        }
    }
    if (!st && !o->dry_run && root) st = write_provenance(m, jobs, threads);
    if (!st && !o->dry_run && root) st = runner_write_summary(m);
    size_t next = 0, running = 0, finished = 0, failed = 0;
    char first_failure[1024] = "";
    pid_t *pids = calloc(jobs, sizeof *pids);
    size_t *pcell = calloc(jobs, sizeof *pcell);
    double *pstart = calloc(jobs, sizeof *pstart);
    double t0 = clock_now_s(), cell_time = 0.0;
    const pid_t self = getpid();
    /* SIGINT/SIGTERM of the runner go to its workers too (which also die with it: PDEATHSIG) */
    g_workers = pids;
    g_n_workers = pids ? jobs : 0;
    void (*old_int)(int) = signal(SIGINT, forward_signal);
    void (*old_term)(int) = signal(SIGTERM, forward_signal);
    if (!st && !o->dry_run && root) fs_clean_stale(exp_dir);
    if (!quiet && !st && !o->dry_run)
        fprintf(stderr,
                "[run %s] %zu cells, %zu already finished, %zu to run with %d job(s) x %d "
                "thread(s)\n",
                m->name, n_mine, n_done0, n_todo, jobs, threads);
    fflush(stdout);
    fflush(stderr);
    for (size_t i = 0; R > 1 && !st && !o->dry_run && i < n_todo; i++) {
        size_t k = todo[i], d, v, s;
        manifest_cell(m, k, &d, &v, &s);
        if (!quiet)
            fprintf(stderr, "[run %s] start %s / %s / seed %ld\n", m->name, m->datasets[d].name,
                    m->variants[v].label, m->seeds[s]);
        const double c0 = clock_now_s();
        st = run_cell_ranks(m, k, paths[d], &ds[d], (cell_share){jobs, threads}, quiet);
        if (!st && root) st = runner_write_summary(m);
        if (!st && !quiet) {
            char status[64] = "?", rp[RUN_PATH + 32];
            cell_file(m, k, "result.json", rp, sizeof rp);
            jsonw *res = NULL;
            if (jsonw_parse_file(rp, &res) == RK_OK) {
                jsonw_get_str(res, "result", "status", 0, status, sizeof status);
                jsonw_free(res);
            }
            fprintf(stderr, "[run %s] %zu/%zu cells done; %s / %s / seed %ld: %s (%.1f s)\n",
                    m->name, n_done0 + i + 1, n_mine, m->datasets[d].name, m->variants[v].label,
                    m->seeds[s], status, clock_now_s() - c0);
        }
    }
    while (!st && !o->dry_run && R == 1 && (next < n_todo || running > 0)) {
        /* start cells while slots are free */
        while (next < n_todo && running < (size_t)jobs) {
            size_t k = todo[next++], d, v, s;
            manifest_cell(m, k, &d, &v, &s);
            int slot = 0;
            while (pids[slot])
                slot++;
            pid_t pid = fork();
            if (pid < 0) {
                st = err_set(RK_ERUNTIME, "fork failed: %s", strerror(errno));
                break;
            }
            if (pid == 0) run_cell_child(m, k, paths[d], &ds[d], (cell_share){jobs, threads}, self);
            pids[slot] = pid;
            pcell[slot] = k;
            pstart[slot] = clock_now_s();
            running++;
            if (!o->quiet)
                fprintf(stderr, "[run %s] start %s / %s / seed %ld\n", m->name, m->datasets[d].name,
                        m->variants[v].label, m->seeds[s]);
        }
        if (running == 0) break;
        int wst = 0;
        pid_t pid = wait(&wst);
        if (pid < 0) {
            if (errno == EINTR) continue;
            st = err_set(RK_ERUNTIME, "wait failed: %s", strerror(errno));
            break;
        }
        int slot = -1;
        for (int i = 0; i < jobs; i++)
            if (pids[i] == pid) slot = i;
        if (slot < 0) continue;
        size_t k = pcell[slot], d, v, s;
        manifest_cell(m, k, &d, &v, &s);
        pids[slot] = 0;
        running--;
        finished++;
        double dt = clock_now_s() - pstart[slot];
        cell_time += dt;
        char status[64] = "?", reason[512] = "";
        if (!cell_recorded(m, k)) {
            /* the worker died without a record (e.g. killed by the OOM killer) */
            train_result empty;
            memset(&empty, 0, sizeof empty);
            empty.final_test_e = empty.final_test_f = empty.best_test_e = empty.best_test_f = NAN;
            empty.final_train_e = empty.final_train_f = NAN;
            snprintf(reason, sizeof reason, "worker %s (status %d)",
                     WIFSIGNALED(wst) ? "killed by a signal" : "exited without a result",
                     WIFSIGNALED(wst) ? WTERMSIG(wst) : WEXITSTATUS(wst));
            write_result(m, k, "failed", reason, &empty, (cell_share){jobs, threads});
        }
        char rp[RUN_PATH + 32];
        cell_file(m, k, "result.json", rp, sizeof rp);
        jsonw *res = NULL;
        if (jsonw_parse_file(rp, &res) == RK_OK) {
            jsonw_get_str(res, "result", "status", 0, status, sizeof status);
            jsonw_get_str(res, "result", "reason", 0, reason, sizeof reason);
            jsonw_free(res);
        }
        if (strcmp(status, "failed") != 0 && md_pending(m, k)) {
            /* trained, but its MD did not finish: reported, rerun next time */
            snprintf(status, sizeof status, "failed");
            snprintf(reason, sizeof reason, "md did not finish (see the cell's md.log)");
        }
        if (strcmp(status, "failed") == 0) {
            failed++;
            if (!first_failure[0])
                snprintf(first_failure, sizeof first_failure, "%s / %s / seed %ld: %s",
                         m->datasets[d].name, m->variants[v].label, m->seeds[s], reason);
        }
        st = runner_write_summary(m);
        if (!o->quiet) {
            double left = (double)(n_todo - finished) * cell_time / (double)finished / jobs;
            char eta[32], el[32];
            fmt_time(left, eta, sizeof eta);
            fmt_time(clock_now_s() - t0, el, sizeof el);
            fprintf(stderr,
                    "[run %s] %zu/%zu cells done; %s / %s / seed %ld: %s%s%s (%.1f s); "
                    "elapsed %s, ETA %s\n",
                    m->name, n_done0 + finished, n_mine, m->datasets[d].name, m->variants[v].label,
                    m->seeds[s], status, reason[0] ? " - " : "", reason, dt, el, eta);
        }
    }
    /* on an error, stop the workers still running: their cells rerun next time */
    for (int i = 0; i < jobs; i++)
        if (pids[i]) {
            kill(pids[i], SIGTERM);
            waitpid(pids[i], NULL, 0);
        }
    signal(SIGINT, old_int);
    signal(SIGTERM, old_term);
    g_n_workers = 0;
    g_workers = NULL;
    free(pids);
    free(pcell);
    free(pstart);
    free(todo);
    for (size_t d = 0; d < nd; d++)
        dataset_free(&ds[d]);
    free(ds);
    free(paths);
    if (!st && failed)
        st = err_set(RK_ERUNTIME, "%zu cell(s) failed; first: %s (see the cell's log.txt)", failed,
                     first_failure);
    if (!st && !o->dry_run && !quiet)
        fprintf(stderr, "[run %s] finished; summary: %s/summary.csv\n", m->name, exp_dir);
    return st;
}
