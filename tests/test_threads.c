/* The thread policy of the rlekf executable (src/cli/main.c): idle OpenMP threads spin for
 * libgomp's default count, but sleep at once when several MPI ranks share the node, unless the
 * user chose otherwise; and training runs BLAS single-threaded whatever
 * OPENBLAS_NUM_THREADS says, with the OpenMP thread count of --threads. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Whole text file into buf (NUL-terminated); aborts the test if it cannot be read. */
static void read_text(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* The spin count libgomp reports last (OMP_DISPLAY_ENV=verbose prints it when libgomp is loaded:
 * once for the process as started, once more after the re-exec). */
static long last_spincount(const char *env) {
    char cmd[4096], out[1 << 16];
    const char *err = tu_tmp("display-env.txt");
    snprintf(cmd, sizeof cmd,
             "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT %s OMP_DISPLAY_ENV=verbose %s list "
             ">/dev/null 2>%s",
             env, RLEKF_EXE, err);
    cr_assert_eq(tu_sh(cmd), 0, "%s", cmd);
    read_text(err, out, sizeof out);
    const char *key = "GOMP_SPINCOUNT = '", *p = out, *last = NULL;
    while ((p = strstr(p, key)) != NULL)
        last = p++;
    cr_assert_not_null(last, "no GOMP_SPINCOUNT in: %s", out);
    return strtol(last + strlen(key), NULL, 10);
}

/* libgomp's spin counts (documented): 0 when passive, 3e10 when active, 300000 by default. */
Test(threads, openmp_spins_alone_and_sleeps_when_ranks_share_the_node) {
    cr_assert_eq(last_spincount(""), 300000, "one process: libgomp's default spin");
    cr_assert_eq(last_spincount("OMPI_COMM_WORLD_LOCAL_SIZE=1"), 300000);
    cr_assert_eq(last_spincount("OMPI_COMM_WORLD_LOCAL_SIZE=2"), 0, "ranks sharing a node sleep");
    cr_assert_eq(last_spincount("MPI_LOCALNRANKS=4"), 0);
    cr_assert_eq(last_spincount("OMPI_COMM_WORLD_LOCAL_SIZE=2 OMP_WAIT_POLICY=active"),
                 30000000000L);
    cr_assert_eq(last_spincount("OMP_WAIT_POLICY=active"), 30000000000L);
    cr_assert_eq(last_spincount("OMPI_COMM_WORLD_LOCAL_SIZE=2 GOMP_SPINCOUNT=1234"), 1234);
}

/* OPENBLAS_NUM_THREADS=3 would give 3 BLAS threads without the policy. */
Test(threads, training_blas_is_single_threaded) {
    char args[4096], err[4096];
    snprintf(args, sizeof args, "import -o %s %s", tu_tmp("cu-threads.h5"),
             tu_src("datasets/Cu/0_300_MOVEMENT"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"model\": {\"sel\": [81], \"neuron\": [4, 8, 8], \"axis_neuron\": 2,"
             " \"fitting_neuron\": [8, 8]},"
             " \"training\": {\"dataset\": \"%s\", \"epochs\": 0, \"eval_max_frames\": 2},"
             " \"output\": \"%s\"}",
             tu_tmp("cu-threads.h5"), tu_tmp("threads-run"));
    tu_write(tu_tmp("threads.json"), cfg);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "OPENBLAS_NUM_THREADS=3 %s train %s --threads 2 --quiet >/dev/null 2>&1", RLEKF_EXE,
             tu_tmp("threads.json"));
    cr_assert_eq(tu_sh(cmd), 0, "%s", cmd);
    char conf[1 << 16], p[4096];
    snprintf(p, sizeof p, "%s/config.json", tu_tmp("threads-run"));
    read_text(p, conf, sizeof conf);
    cr_assert(strstr(conf, "\"blas_threads\":\t1,"), "%s", conf);
    cr_assert(strstr(conf, "\"omp_threads\":\t2,"), "%s", conf);
}
