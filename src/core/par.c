/* par: the process group and its collectives (see par.h). The only file that includes <mpi.h>.
 *
 * MPI's counts are ints: transfers are cut into chunks of at most PAR_CHUNK bytes (MPI_BYTE), so
 * any size_t works. Errors inside MPI abort the job (MPI_ERRORS_ARE_FATAL, the default handler of
 * MPI_COMM_WORLD): a collective cannot fail halfway on one rank only. */
#include "par.h"

#include <string.h>

#include "clock.h"

/* Largest single MPI transfer (bytes): well inside int. */
#define PAR_CHUNK ((size_t)1 << 30)

static par_stats g_stats;

void par_stats_get(par_stats *s) {
    *s = g_stats;
}

void par_stats_reset(void) {
    memset(&g_stats, 0, sizeof g_stats);
}

#ifdef RLEKF_HAVE_MPI
#include <limits.h>
#include <mpi.h>

static int g_inited; /* par_init called MPI_Init_thread */

int par_built_with_mpi(void) {
    return 1;
}

/* Started by a launcher (mpirun, or srun with PMI/PMIx)? Open MPI sets OMPI_COMM_WORLD_SIZE,
 * PMIx launchers PMIX_RANK, PMI-1/2 launchers PMI_RANK. */
static int launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", NULL};
    for (size_t i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

rk_status par_init(int *argc, char ***argv) {
    /* a plain `rlekf ...` is one rank without touching MPI: a singleton MPI_Init would start
     * PMIx machinery (session files, shared memory) that a restricted process (ulimit -f, a full
     * /tmp) cannot afford, for nothing */
    if (!launched()) return RK_OK;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return err_set(RK_ERUNTIME, "MPI_Init_thread failed");
    g_inited = 1;
    if (provided < MPI_THREAD_FUNNELED)
        return err_set(RK_ERUNTIME, "MPI provides thread level %d, rlekf needs FUNNELED (%d)",
                       provided, MPI_THREAD_FUNNELED);
    return RK_OK;
}

void par_finalize(void) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (g_inited && !fin) MPI_Finalize();
    g_inited = 0;
}

_Noreturn void par_abort(int code) {
    if (g_inited && par_size() > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
    par_finalize();
    exit(code);
}

int par_rank(void) {
    if (!g_inited) return 0;
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int par_size(void) {
    if (!g_inited) return 1;
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

/* Counters around one collective. */
static double enter(void) {
    g_stats.calls++;
    return clock_now_s();
}
static void leave(double t0, size_t sent) {
    g_stats.seconds += clock_now_s() - t0;
    g_stats.bytes_sent += (double)sent;
}

void par_barrier(void) {
    if (par_size() == 1) return;
    double t = enter();
    MPI_Barrier(MPI_COMM_WORLD);
    leave(t, 0);
}

static void bcast_from(void *buf, size_t bytes, int root) {
    for (size_t off = 0; off < bytes; off += PAR_CHUNK) {
        size_t n = bytes - off < PAR_CHUNK ? bytes - off : PAR_CHUNK;
        MPI_Bcast((char *)buf + off, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
    }
}

void par_bcast(void *buf, size_t bytes) {
    if (par_size() == 1) return;
    double t = enter();
    bcast_from(buf, bytes, 0);
    leave(t, par_is_root() ? bytes : 0);
}

int par_bcast_int(int v) {
    par_bcast(&v, sizeof v);
    return v;
}

void par_allgatherv(const void *send, void *recv, const size_t *counts, const size_t *displs) {
    const int R = par_size(), me = par_rank();
    if (R == 1) {
        if (counts[0] && (char *)recv + displs[0] != send)
            memmove((char *)recv + displs[0], send, counts[0]);
        return;
    }
    double t = enter();
    int fits = 1;
    for (int r = 0; r < R; r++)
        if (counts[r] > (size_t)INT_MAX || displs[r] > (size_t)INT_MAX) fits = 0;
    if (fits) {
        int ic[R], id[R];
        for (int r = 0; r < R; r++) {
            ic[r] = (int)counts[r];
            id[r] = (int)displs[r];
        }
        /* a block already in place is passed as MPI_IN_PLACE (MPI forbids aliased buffers) */
        const int inplace = (const char *)send == (char *)recv + displs[me];
        MPI_Allgatherv(inplace ? MPI_IN_PLACE : send, ic[me], MPI_BYTE, recv, ic, id, MPI_BYTE,
                       MPI_COMM_WORLD);
    } else {
        /* beyond int: every rank broadcasts its block in turn, in chunks */
        memmove((char *)recv + displs[me], send, counts[me]);
        for (int r = 0; r < R; r++)
            bcast_from((char *)recv + displs[r], counts[r], r);
    }
    leave(t, counts[me] * (size_t)(R - 1));
}

void par_gatherv(const void *send, size_t bytes, void *recv, const size_t *counts,
                 const size_t *displs) {
    const int R = par_size(), me = par_rank();
    if (R == 1) {
        if (bytes) memmove((char *)recv + displs[0], send, bytes);
        return;
    }
    double t = enter();
    if (me == 0) {
        if (bytes) memmove((char *)recv + displs[0], send, bytes);
        for (int r = 1; r < R; r++)
            for (size_t off = 0; off < counts[r]; off += PAR_CHUNK) {
                size_t n = counts[r] - off < PAR_CHUNK ? counts[r] - off : PAR_CHUNK;
                MPI_Recv((char *)recv + displs[r] + off, (int)n, MPI_BYTE, r, 0, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
            }
    } else {
        for (size_t off = 0; off < bytes; off += PAR_CHUNK) {
            size_t n = bytes - off < PAR_CHUNK ? bytes - off : PAR_CHUNK;
            MPI_Send((const char *)send + off, (int)n, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
        }
    }
    leave(t, me == 0 ? 0 : bytes);
}

void par_scatterv(const void *send, const size_t *counts, const size_t *displs, void *recv,
                  size_t bytes) {
    const int R = par_size(), me = par_rank();
    if (R == 1) {
        if (bytes) memmove(recv, (const char *)send + displs[0], bytes);
        return;
    }
    double t = enter();
    size_t sent = 0;
    if (me == 0) {
        if (bytes) memmove(recv, (const char *)send + displs[0], bytes);
        for (int r = 1; r < R; r++)
            for (size_t off = 0; off < counts[r]; off += PAR_CHUNK) {
                size_t n = counts[r] - off < PAR_CHUNK ? counts[r] - off : PAR_CHUNK;
                MPI_Send((const char *)send + displs[r] + off, (int)n, MPI_BYTE, r, 0,
                         MPI_COMM_WORLD);
                sent += n;
            }
    } else {
        for (size_t off = 0; off < bytes; off += PAR_CHUNK) {
            size_t n = bytes - off < PAR_CHUNK ? bytes - off : PAR_CHUNK;
            MPI_Recv((char *)recv + off, (int)n, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
    }
    leave(t, sent);
}

void par_sum_ordered(double *x, size_t n) {
    const int R = par_size();
    if (R == 1 || n == 0) return;
    size_t counts[R], displs[R];
    for (int r = 0; r < R; r++) {
        counts[r] = n * sizeof *x;
        displs[r] = (size_t)r * n * sizeof *x;
    }
    double *all = malloc((size_t)R * n * sizeof *all);
    RK_ASSERT(all);
    par_allgatherv(x, all, counts, displs);
    /* x[i] = ((x_0[i] + x_1[i]) + x_2[i]) + ...: the same order on every rank */
    for (size_t i = 0; i < n; i++) {
        double s = all[i];
        for (int r = 1; r < R; r++)
            s += all[(size_t)r * n + i];
        x[i] = s;
    }
    free(all);
}

double par_min(double x) {
    if (par_size() == 1) return x;
    double t = enter(), y = x;
    MPI_Allreduce(&x, &y, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    leave(t, sizeof x);
    return y;
}

#else /* serial stubs: one rank */

int par_built_with_mpi(void) {
    return 0;
}
rk_status par_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return RK_OK;
}
void par_finalize(void) {}
_Noreturn void par_abort(int code) {
    exit(code);
}
int par_rank(void) {
    return 0;
}
int par_size(void) {
    return 1;
}
void par_barrier(void) {}
void par_bcast(void *buf, size_t bytes) {
    (void)buf;
    (void)bytes;
}
int par_bcast_int(int v) {
    return v;
}
void par_allgatherv(const void *send, void *recv, const size_t *counts, const size_t *displs) {
    if (counts[0] && (char *)recv + displs[0] != send)
        memmove((char *)recv + displs[0], send, counts[0]);
}
void par_gatherv(const void *send, size_t bytes, void *recv, const size_t *counts,
                 const size_t *displs) {
    (void)counts;
    if (bytes) memmove((char *)recv + displs[0], send, bytes);
}
void par_scatterv(const void *send, const size_t *counts, const size_t *displs, void *recv,
                  size_t bytes) {
    (void)counts;
    if (bytes) memmove(recv, (const char *)send + displs[0], bytes);
}
void par_sum_ordered(double *x, size_t n) {
    (void)x;
    (void)n;
}
double par_min(double x) {
    return x;
}

#endif
