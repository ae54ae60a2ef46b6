/* rlekf: command-line entry point. Dispatches to the subcommands of cmd.h; the only place that
 * prints an error and exits (0 success, 1 runtime failure, 2 usage or input error). It also sets
 * the thread policy of the whole process (thread_policy below); the number of OpenMP threads is
 * set per run by train_run.
 *
 * Under mpirun (an MPI build, src/core/par.h) every rank runs main: MPI is joined after the
 * thread policy's re-exec and left on every exit path. Only rank 0 prints to stdout (the other
 * ranks' stdout goes to /dev/null; the trainer keeps their progress quiet and writes no file). A
 * failure on any rank prints its one-line message, naming the rank, and ends the whole job
 * (MPI_Abort with the exit status). Only the commands that know how to share work (train and
 * plan) accept more than one rank; the grid runner forks its workers and stays single-process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "cmd.h"
#include "par.h"

typedef struct {
    const char *name;
    rk_status (*run)(int argc, char **argv);
    const char *summary;
    int ranks; /* may run on several MPI ranks */
} command;

static const command commands[] = {
    {"import", cmd_import, "convert DeePMD npy/raw, PWmat MOVEMENT, PWMLFF npy, mlearn JSON, extxyz to HDF5", 0},
    {"neighbor-stat", cmd_neighbor_stat, "largest neighbour count per type (to choose sel)", 0},
    {"init", cmd_init, "make a model file from a config and a dataset (statistics, bias, seeded weights)", 0},
    {"train", cmd_train, "train one model from a JSON config (also under mpirun)", 1},
    {"plan", cmd_plan, "covariance memory and communication per MPI rank, without allocating", 1},
    {"eval", cmd_eval, "predict energies and forces of a dataset, print RMSEs", 0},
    {"md", cmd_md, "molecular dynamics of a model with LAMMPS: energy drift, stability, RDF", 0},
    {"run", cmd_run, "run an experiment manifest (datasets x optimizers x seeds; also under mpirun)", 1},
    {"report", cmd_report, "tables and speed-ups from an experiment's results", 0},
    {"list", cmd_list, "list registered optimizers and their hyper-parameters", 0},
};

/* Threads: OpenMP for everything, BLAS serial, idle OpenMP threads spin briefly.
 * - BLAS runs single-threaded: the model's GEMMs are small and run inside the model's own OpenMP
 *   loops and between the Kalman sweeps. A profile of a Cu epoch with --threads 2 on 2 cores once
 *   showed a quarter of the run in sched_yield, OpenBLAS's idle workers spinning against the
 *   OpenMP threads (2.9 million calls in 20 images). (Same results: measured bitwise.)
 * - OpenMP keeps libgomp's default wait: a worker spins up to 300,000 rounds after a parallel
 *   region before it sleeps (fewer when a process has more threads than CPUs). With BLAS serial
 *   and the model's loops in the same pool as the sweeps, nothing else competes for the cores,
 *   and the spin saves a futex sleep and wake between regions: on Cu, 40 images, 2 threads,
 *   training took 14 % less time for RLEKF and 21 % less for Adam than with passive waits, and
 *   system time fell from 0.4-1.6 s to 0.2 s (#10).
 * - Under mpirun with several ranks on one node (OMPI_COMM_WORLD_LOCAL_SIZE or MPI_LOCALNRANKS
 *   above 1), the ranks' threads may share cores, and spinning ones would steal them: idle
 *   threads sleep at once (OMP_WAIT_POLICY=passive).
 * libgomp and OpenBLAS read their variables only when they are loaded, before main (a setenv here
 * is ignored: checked), so the process re-executes itself once with OPENBLAS_NUM_THREADS=1 and,
 * when wanted, the passive policy; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT is kept. If
 * the exec fails, it runs on as it is. */
static int node_shared_by_ranks(void) {
    const char *v = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (!v) v = getenv("MPI_LOCALNRANKS");
    return v && atoi(v) > 1;
}

static void thread_policy(char **argv) {
    const int passive = !getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT") &&
                        node_shared_by_ranks();
    const int blas = !getenv("OPENBLAS_NUM_THREADS");
    int ok = 1; /* a failed setenv would make the re-exec loop: run on as it is */
    if (passive) ok = ok && setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
    if (blas) ok = ok && setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0;
    if ((passive || blas) && ok) execv("/proc/self/exe", argv); /* returns only on failure */
    blas_set_threads(1);
}

static void usage(FILE *f) {
    fprintf(f, "usage: rlekf <command> [options]   (rlekf <command> --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
}

/* Leave MPI and exit with code; several ranks: a failure ends the whole job. */
static int finish(int code) {
    if (code != 0 && par_size() > 1) par_abort(code);
    par_finalize();
    return code;
}

int main(int argc, char **argv) {
    thread_policy(argv);
    if (par_init(&argc, &argv)) {
        fprintf(stderr, "rlekf: %s\n", err_msg());
        return finish(1);
    }
    const int R = par_size(), me = par_rank();
    if (me != 0 && !freopen("/dev/null", "w", stdout)) return finish(1);
    if (argc < 2) {
        usage(stderr);
        return finish(2);
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return finish(0);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            err_clear();
            rk_status st =
                R > 1 && !commands[i].ranks && !cmd_wants_help(argc - 1, argv + 1)
                    ? err_set(RK_EINPUT, "runs on one process; under mpirun only train, plan "
                                         "and run share work over ranks (this job has %d)", R)
                    : commands[i].run(argc - 1, argv + 1);
            if (st != RK_OK && R > 1)
                fprintf(stderr, "rlekf %s: [rank %d of %d] %s\n", commands[i].name, me, R,
                        err_msg());
            else if (st != RK_OK)
                fprintf(stderr, "rlekf %s: %s\n", commands[i].name, err_msg());
            return finish(err_exit_code(st));
        }
    }
    fprintf(stderr, "rlekf: unknown command '%s' (valid:", argv[1]);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(stderr, " %s", commands[i].name);
    fprintf(stderr, ")\n");
    return finish(2);
}
