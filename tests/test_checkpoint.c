/* Checkpoints and the output-folder transaction (README "Failure behaviour"): save -> load of each
 * optimizer's state then one step equals one step without the round trip; `rlekf train` killed
 * with SIGKILL at random moments and resumed ends bitwise like an uninterrupted run (metrics.csv
 * except the clock columns, model.h5 params); an input error leaves no folder behind; a rerun
 * replaces an old folder whole; SIGKILL of the runner leaves no worker alive. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "csvio.h"
#include "h5io.h"
#include "optim.h"
#include "registry.h"
#include "rng.h"
#include "testutil.h"

/* ------------------------------------------------------------ optimizer state round trip ---- */

#define RT_STEPS 5
static const size_t RT_TENSORS[] = {7, 30, 12, 5};
#define RT_N_TENSORS 4

static void rt_layout(layout_t *L) {
    char name[LAYOUT_NAME_MAX];
    cr_assert_eq(layout_init(L, 0), RK_OK);
    for (size_t i = 0; i < RT_N_TENSORS; i++) {
        snprintf(name, sizeof name, "t%zu", i);
        layout_add(L, name, 1, RT_TENSORS[i]);
    }
}

static void signal_of(const optim_type *t, rng_t *r, double *v, size_t N, optim_signal *sig) {
    for (size_t j = 0; j < N; j++)
        v[j] = rng_normal(r) * 0.3;
    if (t->kind == OPTIM_KALMAN)
        *sig = (optim_signal){rng_normal(r) * 0.1, v, NULL};
    else
        *sig = (optim_signal){0.0, NULL, v};
}

static h5io_array to_h5(const optim_array *a) {
    return (h5io_array){a->name, a->type == OPTIM_ARRAY_F32 ? H5IO_F32 : H5IO_F64, a->data, a->n};
}

/* Steps on o1, state to a file, loaded into a fresh o2; one more step on each must agree bit for
 * bit, and a fresh optimizer without the load must not (the test can fail). */
static void round_trip(const char *name, const char *cov) {
    const optim_type *t = optim_find(name);
    cr_assert(t);
    cr_assert(optim_can_checkpoint(t), "%s has no checkpoint hooks", name);
    optim_params p;
    optim_default_params(t, &p);
    if (cov) {
        cr_assert_eq(optim_set_choice(t, &p, "test", "covariance", cov), RK_OK, "%s", err_msg());
        cr_assert_eq(optim_set_param(t, &p, "test", "block_size", 20), RK_OK, "%s", err_msg());
    }
    optim_run_info run = {100};
    cr_assert_eq(optim_resolve(t, &p, &run), RK_OK);
    layout_t L;
    rt_layout(&L);
    const size_t N = L.n_params;
    optim_t *o1 = NULL, *o2 = NULL, *o3 = NULL;
    cr_assert_eq(optim_create(t, &p, &L, &o1), RK_OK, "%s", err_msg());
    cr_assert_eq(optim_create(t, &p, &L, &o2), RK_OK, "%s", err_msg());
    cr_assert_eq(optim_create(t, &p, &L, &o3), RK_OK, "%s", err_msg());
    double *w1 = calloc(N, sizeof *w1), *w2 = calloc(N, sizeof *w2), *w3 = calloc(N, sizeof *w3);
    double *v = calloc(N, sizeof *v);
    rng_t r;
    rng_seed(&r, 11);
    optim_signal sig;
    for (int s = 0; s < RT_STEPS; s++) {
        signal_of(t, &r, v, N, &sig);
        cr_assert_eq(optim_step(o1, w1, &sig), RK_OK, "%s", err_msg());
    }
    memcpy(w2, w1, N * sizeof *w1);
    memcpy(w3, w1, N * sizeof *w1);
    /* save o1's snapshot, load it into o2 */
    char path[1024];
    snprintf(path, sizeof path, "%s", tu_tmp(cov ? "rt-f.h5" : "rt.h5"));
    optim_snapshot s1, s2;
    cr_assert_eq(optim_snapshot_begin(o1, &s1), RK_OK);
    h5io_array a[OPTIM_MAX_ARRAYS + 1];
    for (size_t i = 0; i < s1.n; i++)
        a[i] = to_h5(&s1.a[i]);
    cr_assert_eq(h5io_arrays_write(path, "optimizer", a, s1.n), RK_OK, "%s", err_msg());
    optim_snapshot_end(&s1);
    cr_assert_eq(optim_snapshot_begin(o2, &s2), RK_OK);
    for (size_t i = 0; i < s2.n; i++)
        a[i] = to_h5(&s2.a[i]);
    cr_assert_eq(h5io_arrays_read(path, "optimizer", a, s2.n), RK_OK, "%s", err_msg());
    cr_assert_eq(optim_snapshot_restore(o2, &s2), RK_OK, "%s", err_msg());
    optim_snapshot_end(&s2);
    /* one step each */
    signal_of(t, &r, v, N, &sig);
    cr_assert_eq(optim_step(o1, w1, &sig), RK_OK);
    cr_assert_eq(optim_step(o2, w2, &sig), RK_OK);
    cr_assert_eq(optim_step(o3, w3, &sig), RK_OK);
    cr_assert_eq(memcmp(w1, w2, N * sizeof *w1), 0, "%s: step after the round trip differs", name);
    optim_report_t r1, r2, r3;
    optim_report(o1, &r1);
    optim_report(o2, &r2);
    optim_report(o3, &r3);
    cr_assert(memcmp(w1, w3, N * sizeof *w1) != 0 || r1.updates != r3.updates,
              "%s: a fresh state must differ", name);
    cr_assert_eq(r1.updates, r2.updates);
    cr_assert(r1.lambda == r2.lambda || (r1.lambda != r1.lambda && r2.lambda != r2.lambda));
    cr_assert(r1.lr == r2.lr || (r1.lr != r1.lr && r2.lr != r2.lr));
    optim_free(o1);
    optim_free(o2);
    optim_free(o3);
    free(w1);
    free(w2);
    free(w3);
    free(v);
    layout_free(&L);
}

Test(checkpoint, rlekf_state_round_trip) {
    round_trip("rlekf", "float64");
}
Test(checkpoint, rlekf_float32_state_round_trip) {
    round_trip("rlekf", "float32");
}
Test(checkpoint, gekf_state_round_trip) {
    round_trip("gekf", NULL);
}
Test(checkpoint, adam_state_round_trip) {
    round_trip("adam", NULL);
}
Test(checkpoint, sgd_state_round_trip) {
    round_trip("sgd", NULL);
}

/* A checkpoint of another configuration is refused, naming the file. */
Test(checkpoint, wrong_length_is_refused) {
    double x[3] = {1, 2, 3};
    h5io_array w = {"x", H5IO_F64, x, 3};
    cr_assert_eq(h5io_arrays_write(tu_tmp("len.h5"), "checkpoint", &w, 1), RK_OK);
    double y[4];
    h5io_array rd = {"x", H5IO_F64, y, 4};
    cr_assert_eq(h5io_arrays_read(tu_tmp("len.h5"), "checkpoint", &rd, 1), RK_EINPUT);
    cr_assert(strstr(err_msg(), "len.h5") && strstr(err_msg(), "3 elements, expected 4"), "%s",
              err_msg());
    h5io_array rk = {"x", H5IO_F64, y, 3};
    cr_assert_eq(h5io_arrays_read(tu_tmp("len.h5"), "optimizer", &rk, 1), RK_EINPUT);
}

/* ------------------------------------------------------------ kill -9 and --resume ---------- */

/* Sleep before the kill: uniform in [KILL_MIN_S, KILL_MIN_S + KILL_SPAN_S) from a seeded stream. */
#define KILL_MIN_S 0.05
#define KILL_SPAN_S 1.95
#define KILL_SEED 20261202u
#define POLL_NS 10000000L
/* Kills in total over the three runs, and tries per kill before giving up. */
#define KILLS_MIN 10
#define KILL_TRIES_MAX 4
#define KILL_RUN_SHARE 0.8

static void import_cu(void) {
    static int done;
    if (done) return;
    char args[2048], err[4096];
    snprintf(args, sizeof args, "import -o %s %s", tu_tmp("ck-cu.h5"),
             tu_src("datasets/Cu/0_300_MOVEMENT"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    done = 1;
}

/* A tiny run: 8 training frames, evaluations every 3 updates, checkpoints every 2 images (so kills
 * land before, during and after checkpoints and evaluations). */
/* More training keys for the runs of write_config (", \"batch_size\": 3"), or "". */
static const char *ck_extra = "";

static void write_config(const char *file, const char *optimizer, int epochs) {
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"model\": {\"sel\": [81], \"neuron\": [2, 4, 4], \"axis_neuron\": 2, "
             "\"fitting_neuron\": [6, 6]}, \"optimizer\": %s, \"training\": {\"dataset\": "
             "\"%s\", \"epochs\": %d, \"max_train_frames\": 8, \"eval_max_frames\": 2, "
             "\"eval_every\": 3, \"checkpoint_every_images\": 2%s}}",
             optimizer, tu_tmp("ck-cu.h5"), epochs, ck_extra);
    tu_write(tu_tmp(file), cfg);
}

/* Start `rlekf train CFG --out OUT --quiet --resume`, kill it after `sleep_s`; 1 if it was
 * killed, 0 if it finished first (asserting success). */
static int run_and_kill(const char *cfg, const char *out, double sleep_s) {
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(RLEKF_EXE, "rlekf", "train", cfg, "--out", out, "--quiet", "--resume", (char *)NULL);
        _exit(127);
    }
    const double t_end = sleep_s;
    double t = 0.0;
    struct timespec ts = {0, POLL_NS};
    int wst;
    while (t < t_end) {
        pid_t w = waitpid(pid, &wst, WNOHANG);
        if (w == pid) {
            cr_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "resume run failed (status %d)",
                      wst);
            return 0;
        }
        nanosleep(&ts, NULL);
        t += (double)POLL_NS * 1e-9;
    }
    kill(pid, SIGKILL);
    waitpid(pid, &wst, 0);
    return WIFSIGNALED(wst);
}

static void assert_csv_equal(const char *a, const char *b) {
    csvio_table ta, tb;
    cr_assert_eq(csvio_read(a, &ta), RK_OK, "%s", err_msg());
    cr_assert_eq(csvio_read(b, &tb), RK_OK, "%s", err_msg());
    cr_assert_eq(ta.ncols, tb.ncols);
    cr_assert_eq(ta.nrows, tb.nrows, "%s vs %s: rows %zu vs %zu", a, b, ta.nrows, tb.nrows);
    for (size_t c = 0; c < ta.ncols; c++) {
        if (tu_is_clock_column(ta.header[c])) continue;
        for (size_t r = 0; r < ta.nrows; r++)
            cr_assert_str_eq(csvio_cell(&ta, r, c), csvio_cell(&tb, r, c), "%s row %zu column %s",
                             b, r + 2, ta.header[c]);
    }
    csvio_free(&ta);
    csvio_free(&tb);
}

static void assert_params_equal(const char *a, const char *b) {
    h5io_model_rec ra, rb;
    cr_assert_eq(h5io_model_read(a, &ra), RK_OK, "%s", err_msg());
    cr_assert_eq(h5io_model_read(b, &rb), RK_OK, "%s", err_msg());
    cr_assert_eq(ra.n_params, rb.n_params);
    cr_assert_eq(memcmp(ra.params, rb.params, ra.n_params * sizeof(double)), 0,
                 "%s and %s: params differ", a, b);
    h5io_model_rec_free(&ra);
    h5io_model_rec_free(&rb);
}

/* The finished folder holds exactly the run's four files: no checkpoint, no temporary. */
static void assert_clean_folder(const char *out) {
    DIR *d = opendir(out);
    cr_assert(d, "%s missing", out);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        cr_assert(!strcmp(e->d_name, "config.json") || !strcmp(e->d_name, "metrics.csv") ||
                      !strcmp(e->d_name, "model.h5") || !strcmp(e->d_name, "model_init.h5"),
                  "%s: unexpected %s", out, e->d_name);
        n++;
    }
    closedir(d);
    cr_assert_eq(n, 4);
    char p[1024];
    snprintf(p, sizeof p, "%s.partial", out);
    struct stat sb;
    cr_assert_neq(stat(p, &sb), 0, "%s must be gone", p);
}

/* kills: how many SIGKILLs this optimizer gets (the run is resumed until it finishes). */
static int kill_resume(const char *tag, const char *optimizer, int epochs, int kills, rng_t *rng) {
    import_cu();
    char cfg[1024], ref[1024], out[1100], args[4096], err[4096], a[1200], b[1200];
    snprintf(cfg, sizeof cfg, "ck-%s.json", tag);
    write_config(cfg, optimizer, epochs);
    snprintf(cfg, sizeof cfg, "%s", tu_tmp(cfg));
    snprintf(ref, sizeof ref, "%s", tu_tmp(tag));
    snprintf(out, sizeof out, "%s-killed", ref);
    snprintf(args, sizeof args, "train %s --out %s --quiet", cfg, ref);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* kill within the first KILL_RUN_SHARE of a run's length, so a kill finds it running (a
     * try that finds it finished starts over from an empty folder) */
    double run_s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double span = KILL_RUN_SHARE * run_s - KILL_MIN_S;
    if (span > KILL_SPAN_S) span = KILL_SPAN_S;
    if (span < 0.0) span = 0.0;
    int killed = 0;
    for (int i = 0; i < KILL_TRIES_MAX * kills && killed < kills; i++) {
        double s = KILL_MIN_S + span * rng_uniform(rng);
        if (run_and_kill(cfg, out, s)) {
            killed++;
        } else {
            snprintf(args, sizeof args, "rm -rf %s %s.partial", out, out);
            cr_assert_eq(tu_sh(args), 0);
        }
    }
    /* resume until done */
    snprintf(args, sizeof args, "train %s --out %s --quiet --resume", cfg, out);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    snprintf(a, sizeof a, "%s/metrics.csv", ref);
    snprintf(b, sizeof b, "%s/metrics.csv", out);
    assert_csv_equal(a, b);
    snprintf(a, sizeof a, "%s/model.h5", ref);
    snprintf(b, sizeof b, "%s/model.h5", out);
    assert_params_equal(a, b);
    assert_clean_folder(out);
    return killed;
}

Test(checkpoint, kill_and_resume_is_bitwise_identical, .timeout = 900) {
    rng_t rng;
    rng_seed(&rng, KILL_SEED);
    int killed = 0;
    killed += kill_resume("k64", "{\"type\": \"rlekf\", \"block_size\": 40}", 8, 4, &rng);
    killed += kill_resume("k32",
                          "{\"type\": \"rlekf\", \"block_size\": 40, \"covariance\": "
                          "\"float32\"}",
                          8, 3, &rng);
    killed += kill_resume("kad", "{\"type\": \"adam\"}", 20, 3, &rng);
    cr_assert_geq(killed, KILLS_MIN, "only %d of the runs were killed before they finished",
                  killed);
}

/* --resume of a finished folder does nothing; without a checkpoint it starts from scratch. */
/* Batches of 3 of the 8 frames (3, 3, 2): checkpoints fall on batch boundaries (every batch that
 * crosses a multiple of 2 images), and a resume rebuilds the batches from the saved order. */
Test(checkpoint, kill_and_resume_with_batches, .timeout = 600) {
    rng_t rng;
    rng_seed(&rng, KILL_SEED + 1);
    ck_extra = ", \"batch_size\": 3";
    int killed = kill_resume("kb3", "{\"type\": \"rlekf\", \"block_size\": 40}", 12, 3, &rng);
    killed += kill_resume("kab3", "{\"type\": \"adam\"}", 30, 2, &rng);
    ck_extra = "";
    cr_assert_geq(killed, 2, "only %d of the runs were killed before they finished", killed);
}

Test(checkpoint, resume_without_checkpoint_starts_fresh) {
    import_cu();
    write_config("fresh.json", "{\"type\": \"adam\"}", 1);
    char args[4096], err[4096];
    snprintf(args, sizeof args, "train %s --out %s --quiet --resume", tu_tmp("fresh.json"),
             tu_tmp("fresh"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    assert_clean_folder(tu_tmp("fresh"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
}

/* An input error found after the dataset is loaded leaves neither the folder nor its partial. */
Test(checkpoint, input_error_leaves_nothing) {
    import_cu();
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"model\": {\"sel\": [81, 3]}, \"training\": {\"dataset\": \"%s\"}}",
             tu_tmp("ck-cu.h5"));
    tu_write(tu_tmp("bad.json"), cfg);
    char args[4096], err[4096];
    snprintf(args, sizeof args, "train %s --out %s --quiet", tu_tmp("bad.json"), tu_tmp("bad"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2, "%s", err);
    struct stat sb;
    cr_assert_neq(stat(tu_tmp("bad"), &sb), 0);
    cr_assert_neq(stat(tu_tmp("bad.partial"), &sb), 0);
}

/* A rerun into an old folder replaces it whole (no old file survives), and stale temporaries of
 * dead processes beside it are removed. */
Test(checkpoint, rerun_replaces_the_old_folder) {
    import_cu();
    write_config("re.json", "{\"type\": \"sgd\"}", 1);
    char dir[1024], p[1100], args[4096], err[4096];
    snprintf(dir, sizeof dir, "%s", tu_tmp("re"));
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    tu_write(p, "old\n");
    snprintf(p, sizeof p, "%s/old.txt", dir);
    tu_write(p, "old\n");
    /* pid 1 is alive (never stale); a pid beyond pid_max is dead */
    snprintf(p, sizeof p, "%s.x.tmp-999999999", dir);
    tu_write(p, "stale\n");
    char alive[1100];
    snprintf(alive, sizeof alive, "%s.x.tmp-1", dir);
    tu_write(alive, "alive\n");
    snprintf(args, sizeof args, "train %s --out %s --quiet", tu_tmp("re.json"), dir);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    assert_clean_folder(dir);
    struct stat sb;
    cr_assert_neq(stat(p, &sb), 0, "stale %s must be removed", p);
    cr_assert_eq(stat(alive, &sb), 0, "%s belongs to a live process", alive);
    unlink(alive);
}

/* A re-run into an old, finished folder that is killed mid-way used to leave the old metrics.csv
 * beside a new, half-trained model.h5. The new run lives in OUT.partial until it finishes, so a
 * kill leaves the old folder whole. Kill when the new run's first model file exists. */
#define KILL_WAIT_S 60.0
Test(checkpoint, killed_rerun_leaves_the_old_folder_whole) {
    import_cu();
    write_config("kr.json", "{\"type\": \"sgd\"}", 1000);
    char dir[1024], p[1100], init[1100], args[4096];
    snprintf(dir, sizeof dir, "%s", tu_tmp("kr"));
    mkdir(dir, 0777);
    const char *olds[] = {"metrics.csv", "model.h5", "config.json", "old.txt"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, olds[i]);
        tu_write(p, "old\n");
    }
    snprintf(init, sizeof init, "%s.partial/model_init.h5", dir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(RLEKF_EXE, "rlekf", "train", tu_tmp("kr.json"), "--out", dir, "--quiet",
              (char *)NULL);
        _exit(127);
    }
    struct stat sb;
    struct timespec ts = {0, POLL_NS};
    for (double t = 0; t < KILL_WAIT_S && stat(init, &sb) != 0; t += (double)POLL_NS * 1e-9)
        nanosleep(&ts, NULL);
    int wst;
    cr_assert_eq(waitpid(pid, &wst, WNOHANG), 0, "the run ended before the kill");
    kill(pid, SIGKILL);
    waitpid(pid, &wst, 0);
    cr_assert_eq(stat(init, &sb), 0, "%s never appeared", init);
    for (size_t i = 0; i < 4; i++) {
        char text[64];
        snprintf(p, sizeof p, "%s/%s", dir, olds[i]);
        cr_expect(tu_read(p, text, sizeof text) == 0 && strcmp(text, "old\n") == 0,
                  "%s: not the old file after the killed re-run", p);
    }
    snprintf(args, sizeof args, "%s/model_init.h5", dir);
    cr_expect_neq(stat(args, &sb), 0, "a new file beside the old ones");
}

/* ------------------------------------------------------------ runner workers -------------- */

/* Children (by /proc) of pid. */
static int children_of(pid_t pid, pid_t *out, int cap) {
    DIR *d = opendir("/proc");
    cr_assert(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) && n < cap) {
        char p[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
        if (tu_read(p, buf, sizeof buf) != 0) continue;
        const char *rp = strrchr(buf, ')');
        char state;
        int ppid;
        if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2) continue;
        if (ppid == pid && state != 'Z') out[n++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return n;
}

static int alive(pid_t pid) {
    char p[64], buf[512];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    if (tu_read(p, buf, sizeof buf) != 0) return 0;
    const char *rp = strrchr(buf, ')');
    return rp && rp[2] != 'Z' && rp[2] != 'X';
}

#define MAX_WORKERS 8
#define WAIT_POLLS 3000

/* The smoke grid with cells long enough (900 epochs) that no worker ends on its own while the
 * test waits: a worker that outlives the runner is then still alive when checked. */
#define LONG_EPOCHS "\"epochs\": 900"
/* Wait after the first worker appears, so that only processes that stay are taken as workers (the
 * runner's short-lived HDF5 check children of h5io are not). */
#define SETTLE_NS 500000000L

Test(checkpoint, runner_workers_die_with_the_runner, .timeout = 300) {
    char mpath[600], res[600], text[8192];
    cr_assert_eq(tu_read(tu_src("experiments/smoke.json"), text, sizeof text), 0);
    char *at = strstr(text, "\"epochs\": 3,");
    cr_assert(at, "smoke.json must set epochs 3");
    char long_text[8300];
    snprintf(long_text, sizeof long_text, "%.*s" LONG_EPOCHS "%s", (int)(at - text), text,
             at + strlen("\"epochs\": 3"));
    snprintf(mpath, sizeof mpath, "%s", tu_tmp("long-smoke.json"));
    tu_write(mpath, long_text);
    snprintf(res, sizeof res, "%s", tu_tmp("resK"));
    cr_assert_eq(chdir(RLEKF_SOURCE_DIR), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        execl(RLEKF_EXE, "rlekf", "run", mpath, "--results", res, "-j", "2", "--quiet",
              (char *)NULL);
        _exit(127);
    }
    pid_t kids[MAX_WORKERS];
    int n = 0;
    struct timespec ts = {0, POLL_NS};
    for (int i = 0; i < WAIT_POLLS && n == 0; i++) {
        int wst;
        cr_assert_eq(waitpid(pid, &wst, WNOHANG), 0, "the runner ended before it could be killed");
        nanosleep(&ts, NULL);
        n = children_of(pid, kids, MAX_WORKERS);
    }
    cr_assert_gt(n, 0, "no worker seen");
    struct timespec settle = {0, SETTLE_NS};
    nanosleep(&settle, NULL);
    n = children_of(pid, kids, MAX_WORKERS);
    cr_assert_gt(n, 0, "no worker stayed");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    for (int i = 0; i < WAIT_POLLS; i++) {
        int any = 0;
        for (int k = 0; k < n; k++)
            any |= alive(kids[k]);
        if (!any) break;
        nanosleep(&ts, NULL);
    }
    int survived = 0;
    for (int k = 0; k < n; k++)
        if (alive(kids[k])) {
            survived++;
            kill(kids[k], SIGKILL); /* not left running after the test */
        }
    cr_assert_eq(survived, 0, "%d of %d workers survived the runner", survived, n);
}
