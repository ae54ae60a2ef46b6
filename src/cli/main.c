/* rlekf: command-line entry point. Dispatches to the subcommands of cmd.h; the only place that
 * prints an error and exits (0 success, 1 runtime failure, 2 usage or input error). It also sets
 * the thread policy of the whole process (thread_policy below); the number of OpenMP threads is
 * set per run by train_run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "cmd.h"

typedef struct {
    const char *name;
    rk_status (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"import", cmd_import, "convert DeePMD npy/raw, PWmat MOVEMENT, PWMLFF npy, mlearn JSON, extxyz to HDF5"},
    {"neighbor-stat", cmd_neighbor_stat, "largest neighbour count per type (to choose sel)"},
    {"init", cmd_init, "make a model file from a config and a dataset (statistics, bias, seeded weights)"},
    {"train", cmd_train, "train one model from a JSON config"},
    {"eval", cmd_eval, "predict energies and forces of a dataset, print RMSEs"},
    {"md", cmd_md, "molecular dynamics of a model with LAMMPS: energy drift, stability, RDF"},
    {"run", cmd_run, "run an experiment manifest (datasets x optimizers x seeds)"},
    {"report", cmd_report, "tables and speed-ups from an experiment's results"},
    {"list", cmd_list, "list registered optimizers and their hyper-parameters"},
};

/* Idle threads sleep instead of spinning. A profile of a Cu epoch with --threads 2 on 2 cores
 * showed a quarter of the run in sched_yield: OpenBLAS's idle worker threads spin in it (2.9
 * million calls in 20 images) and libgomp's idle workers spin 300,000 rounds after every parallel
 * region, both against the thread that runs the model.
 * - BLAS runs single-threaded: the model's GEMMs are small and run on one thread between the
 *   Kalman sweeps, which have their own OpenMP threads. (Same results: measured bitwise.)
 * - OpenMP waits passively. libgomp reads OMP_WAIT_POLICY only when it is loaded, before main
 *   (a setenv here is ignored: checked), so the process re-executes itself once with
 *   OMP_WAIT_POLICY=passive, and OPENBLAS_NUM_THREADS=1 so that OpenBLAS starts no threads,
 *   unless the user chose a policy or a spin count. If the exec fails, it runs on as it is. */
static void thread_policy(char **argv) {
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT") &&
        setenv("OMP_WAIT_POLICY", "passive", 1) == 0) {
        if (!getenv("OPENBLAS_NUM_THREADS")) setenv("OPENBLAS_NUM_THREADS", "1", 1);
        execv("/proc/self/exe", argv); /* returns only on failure */
    }
    blas_set_threads(1);
}

static void usage(FILE *f) {
    fprintf(f, "usage: rlekf <command> [options]   (rlekf <command> --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    thread_policy(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            err_clear();
            rk_status st = commands[i].run(argc - 1, argv + 1);
            if (st != RK_OK) fprintf(stderr, "rlekf %s: %s\n", commands[i].name, err_msg());
            return err_exit_code(st);
        }
    }
    fprintf(stderr, "rlekf: unknown command '%s' (valid:", argv[1]);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(stderr, " %s", commands[i].name);
    fprintf(stderr, ")\n");
    return 2;
}
