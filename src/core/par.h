/* par: the process group of a parallel run (MPI), and the few collectives rlekf uses.
 *
 * par.c is the only file that includes <mpi.h>. Built without MPI (CMake option RLEKF_MPI off, or
 * no MPI found), every function is a serial stub: one rank, rank 0, collectives copy or do
 * nothing. Built with MPI, a program that calls par_init runs as one rank of MPI_COMM_WORLD; a
 * program that never calls it (the test and benchmark executables) is one rank as well.
 *
 * Every collective must be called by all ranks in the same order. Every reduction of doubles is in
 * a fixed order that does not depend on the number of ranks (par_sum_ordered gathers the
 * contributions and sums them in rank order on every rank), so results are bitwise the same on
 * every rank and reproducible. Sizes are in bytes (size_t) and may exceed 2 GiB: large transfers
 * are cut into chunks. Communication counters (bytes sent, seconds inside collectives) feed the
 * benchmark and `rlekf plan`'s checks.
 *
 * Data-parallel minibatches (SPEC §3 "Parallel runs") need one more pattern, an all-reduce of e
 * and h over images in a fixed order: par_allgatherv of the per-image terms followed by a sum in
 * global image order on every rank; par_sum_ordered is the case of one term per rank.
 */
#ifndef RLEKF_PAR_H
#define RLEKF_PAR_H

#include <stddef.h>

#include "err.h"

/* 1 when this build has MPI (even when running as a single rank). */
int par_built_with_mpi(void);
/* Join the process group (MPI_Init_thread, MPI_THREAD_FUNNELED: OpenMP threads inside a rank never
 * call MPI), when the process was started by mpirun or srun (OMPI_COMM_WORLD_SIZE, PMIX_RANK or
 * PMI_RANK set); otherwise, and without MPI, a no-op: one rank. */
rk_status par_init(int *argc, char ***argv);
/* Leave it (MPI_Finalize); a no-op without MPI or when par_init was not called. */
void par_finalize(void);
/* End the whole job with exit status code (MPI_Abort); without MPI, exit(code). */
_Noreturn void par_abort(int code);

int par_rank(void);
int par_size(void);
static inline int par_is_root(void) {
    return par_rank() == 0;
}

void par_barrier(void);
/* buf (bytes) of rank 0 to every rank. */
void par_bcast(void *buf, size_t bytes);
/* An int of rank 0 to every rank (a decision only rank 0 may make, e.g. one based on its clock). */
int par_bcast_int(int v);
/* Every rank receives the concatenation of every rank's block: rank r sends counts[r] bytes
 * (send), written at recv + displs[r] on every rank. send may be recv + displs[rank] (in place). */
void par_allgatherv(const void *send, void *recv, const size_t *counts, const size_t *displs);
/* Rank r's counts[r] bytes to rank 0 at recv + displs[r] (recv, counts, displs: rank 0 only). */
void par_gatherv(const void *send, size_t bytes, void *recv, const size_t *counts,
                 const size_t *displs);
/* The reverse: rank 0's send + displs[r] (counts[r] bytes) to rank r's recv. */
void par_scatterv(const void *send, const size_t *counts, const size_t *displs, void *recv,
                  size_t bytes);
/* x[i] ← Σ_r x_r[i] over ranks r = 0, 1, ... in this order, on every rank (n doubles). */
void par_sum_ordered(double *x, size_t n);
/* x ← the minimum of x over ranks, on every rank (exact: order does not matter). */
double par_min(double x);

/* Communication counters since the last reset: bytes this rank sent, seconds it spent inside
 * collectives (including waiting for the others), collective calls. */
typedef struct {
    double bytes_sent, seconds;
    size_t calls;
} par_stats;
void par_stats_get(par_stats *s);
void par_stats_reset(void);

#endif
