/* cmd_run: `rlekf run MANIFEST.json [-j N] [--shard I/N] [--seed K] [--dry-run] ...`. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "num.h"
#include "runner.h"

/* Most parallel cell processes -j accepts. */
#define RUN_JOBS_MAX 256
/* Most shards --shard accepts (far beyond any array job). */
#define RUN_SHARDS_MAX 1000000

static const char *USAGE =
    "usage: rlekf run MANIFEST.json [-j N] [--shard I/N] [--seed K] [--dry-run] [--no-md]\n"
    "                 [--results DIR] [--quiet]\n"
    "\n"
    "Run every cell (dataset x optimizer variant x seed) of an experiment manifest\n"
    "(keys: experiments/README.md). Results go to DIR/<name>/ (default DIR: the manifest's\n"
    "results_dir, else results/): per cell metrics.csv, config.json, model files, log.txt, and\n"
    "summary.csv for the grid (columns: results/README.md).\n"
    "  -j N         run N cells in parallel processes; threads are divided among them\n"
    "  --shard I/N  run only cells k with k mod N = I-1 (1 <= I <= N), e.g. Slurm array jobs:\n"
    "               --shard $((SLURM_ARRAY_TASK_ID+1))/$SLURM_ARRAY_TASK_COUNT\n"
    "  --seed K     run only the cells of seed K (one of the manifest's seeds): a long grid\n"
    "               seed by seed, each sitting complete for its seed\n"
    "  --dry-run    validate the manifest, list the cells and their optimizer memory, run nothing\n"
    "  --no-md      train only, leaving the manifest's md section for a later run of the same\n"
    "               command without --no-md (which runs the MD of the finished cells)\n"
    "Rerunning the same command skips finished cells and restarts unfinished ones; a finished\n"
    "cell trained under another configuration (the manifest edited since) is an error.\n"
    "Under mpirun the cells run one at a time, each shared by all ranks (no -j workers).\n";

/* "--shard I/N": two checked integers with 1 <= I <= N. */
static rk_status parse_shard(const char *text, size_t *i, size_t *n) {
    const char *slash = strchr(text, '/');
    char head[32];
    size_t len = slash ? (size_t)(slash - text) : 0;
    if (!slash || len >= sizeof head)
        return err_set(RK_EINPUT, "--shard: expected I/N with 1 <= I <= N, got '%.64s'", text);
    memcpy(head, text, len);
    head[len] = '\0';
    rk_status st = num_parse_size("--shard N", slash + 1, 1, RUN_SHARDS_MAX, n);
    if (!st) st = num_parse_size("--shard I", head, 1, *n, i);
    if (st) return err_prefix(st, "--shard '%.64s': ", text);
    return RK_OK;
}

rk_status cmd_run(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        fputs(USAGE, stdout);
        return RK_OK;
    }
    const char *path = NULL, *results = NULL;
    runner_opts o = {.jobs = 1, .shard_i = 1, .shard_n = 1};
    int no_md = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-j") == 0 && i + 1 < argc) {
            long j = 0;
            rk_status st = num_parse_long("-j", argv[++i], 1, RUN_JOBS_MAX, &j);
            if (st) return st;
            o.jobs = (int)j;
        } else if (strcmp(argv[i], "--shard") == 0 && i + 1 < argc) {
            rk_status st = parse_shard(argv[++i], &o.shard_i, &o.shard_n);
            if (st) return st;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            rk_status st = num_parse_long("--seed", argv[++i], LONG_MIN, LONG_MAX, &o.seed);
            if (st) return st;
            o.has_seed = 1;
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            o.dry_run = 1;
        } else if (strcmp(argv[i], "--no-md") == 0) {
            no_md = 1;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            o.quiet = 1;
        } else if (strcmp(argv[i], "--results") == 0 && i + 1 < argc) {
            results = argv[++i];
        } else if (argv[i][0] == '-') {
            return err_set(RK_EINPUT, "unknown option '%s' (see --help)", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return err_set(RK_EINPUT, "unexpected argument '%s' (see --help)", argv[i]);
        }
    }
    if (!path) return err_set(RK_EINPUT, "missing MANIFEST.json (see --help)");
    manifest_t m;
    rk_status st = manifest_load(path, &m);
    if (st) return st;
    if (results) snprintf(m.results_dir, sizeof m.results_dir, "%s", results);
    if (no_md) m.has_md = 0;
    st = runner_run(&m, &o);
    manifest_free(&m);
    return st;
}
