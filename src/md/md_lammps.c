/* md_lammps: the LAMMPS side of a run (see md_engine.h). The only file that includes LAMMPS.
 *
 * The Debian build (20220106) is built against MPI and without C++ exceptions: lammps_open_no_mpi
 * initialises MPI itself, and a LAMMPS error ends the process. So this file keeps LAMMPS off its
 * error paths: lost atoms are ignored by LAMMPS and counted here, non-finite forces never reach
 * it, and a run the provider stops is cut short with lammps_force_timeout.
 */
#include "md_engine.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LAMMPS_SMALLBIG
#define LAMMPS_SMALLBIG
#endif
#include <lammps/library.h>

#define FIX_ID "rk_ext"
#define RDF_ID "rk_rdf"
/* Neighbour skin of LAMMPS's own lists (the rdf compute's), Å: LAMMPS's metal default. */
#define SKIN_A 2.0
/* Nosé–Hoover damping time in time steps (LAMMPS's documented rule of thumb). */
#define NVT_TDAMP_STEPS 100.0

/* LeakSanitizer's own switch (weak: absent outside the ASan build): allocations of this thread
 * between disable and enable are not leaks. Used around lammps_open_no_mpi only: it starts MPI,
 * and Open MPI, PMIx and hwloc keep start-up allocations for the life of the process (dozens of
 * small blocks, partly from plug-ins unloaded before the leak check, so no suppression pattern
 * could name them); the ASan build's `rlekf md` would otherwise exit non-zero. */
void __lsan_disable(void) __attribute__((weak));
void __lsan_enable(void) __attribute__((weak));

struct md_engine {
    void *lmp;
    size_t natoms;
    md_force_fn fn;
    void *ctx;
    double *x, *f; /* (natoms,3) id order */
    int started, stop, lost;
    size_t npairs, nbins;
};

static void callback(void *ptr, int64_t step, int nlocal, int *ids, double **x, double **fext) {
    md_engine *e = ptr;
    double energy = 0.0;
    int ok = !e->stop && (size_t)nlocal == e->natoms;
    if ((size_t)nlocal != e->natoms) e->lost = 1;
    if (ok) {
        for (int i = 0; i < nlocal; i++) {
            int id = ids[i];
            if (id < 1 || (size_t)id > e->natoms) {
                ok = 0;
                break;
            }
            memcpy(e->x + 3 * (size_t)(id - 1), x[i], 3 * sizeof(double));
        }
    }
    if (ok && e->fn(e->ctx, (long)step, e->x, &energy, e->f) != 0) ok = 0;
    if (!ok) {
        e->stop = 1;
        energy = 0.0;
        lammps_force_timeout(e->lmp);
    }
    for (int i = 0; i < nlocal; i++) {
        if (ok)
            memcpy(fext[i], e->f + 3 * (size_t)(ids[i] - 1), 3 * sizeof(double));
        else
            fext[i][0] = fext[i][1] = fext[i][2] = 0.0;
    }
    lammps_fix_external_set_energy_global(e->lmp, FIX_ID, energy);
}

/* One command; LAMMPS either succeeds, reports (exception builds) or ends the process. */
static rk_status cmd(md_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static rk_status cmd(md_engine *e, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    RK_ASSERT(n > 0 && (size_t)n < sizeof buf);
    lammps_command(e->lmp, buf);
    if (lammps_has_error(e->lmp)) {
        char msg[512] = "";
        lammps_get_last_error_message(e->lmp, msg, sizeof msg);
        msg[strcspn(msg, "\n")] = 0;
        return err_set(RK_ERUNTIME, "LAMMPS: '%s': %s", buf, msg);
    }
    return RK_OK;
}

rk_status md_engine_open(const md_engine_setup *s, md_engine **out) {
    *out = NULL;
    md_engine *e = rk_calloc(1, sizeof *e);
    if (!e) return RK_ENOMEM;
    e->natoms = s->natoms;
    e->fn = s->fn;
    e->ctx = s->ctx;
    e->npairs = s->pairs->npairs;
    e->nbins = s->rdf_bins;
    e->x = rk_calloc(3 * s->natoms, sizeof(double));
    e->f = rk_calloc(3 * s->natoms, sizeof(double));
    int *ids = rk_calloc(s->natoms, sizeof(int));
    int *img = rk_calloc(s->natoms, sizeof(int)), *types = rk_calloc(s->natoms, sizeof(int));
    double *xr = rk_calloc(3 * s->natoms, sizeof(double));
    if (!e->x || !e->f || !ids || !img || !types || !xr) {
        free(ids);
        free(img);
        free(types);
        free(xr);
        md_engine_close(e);
        return RK_ENOMEM;
    }
    char log[1100];
    snprintf(log, sizeof log, "%s", s->log ? s->log : "none");
    char *args[] = {"rlekf", "-screen", "none", "-log", log, "-nocite"};
    if (__lsan_disable) __lsan_disable();
    e->lmp = lammps_open_no_mpi((int)(sizeof args / sizeof args[0]), args, NULL);
    if (__lsan_enable) __lsan_enable();
    rk_status st = RK_OK;
    if (!e->lmp) st = err_set(RK_ERUNTIME, "LAMMPS: could not create an instance");
#define TRY(x)                                                                                     \
    do {                                                                                           \
        if (!st) st = (x);                                                                         \
    } while (0)
    const md_cell *c = &s->cell;
    TRY(cmd(e, "units metal"));
    TRY(cmd(e, "atom_style atomic"));
    TRY(cmd(e, "atom_modify map array"));
    TRY(cmd(e, "boundary p p p"));
    TRY(cmd(e, "region rk_box prism 0 %.17g 0 %.17g 0 %.17g %.17g %.17g %.17g units box", c->lx,
            c->ly, c->lz, c->xy, c->xz, c->yz));
    TRY(cmd(e, "create_box %zu rk_box", s->ntypes));
    for (size_t t = 0; t < s->ntypes; t++)
        TRY(cmd(e, "mass %zu %.17g", t + 1, s->mass[t]));
    if (!st) {
        /* atoms go in in reverse id order, so that LAMMPS's local order is never the id order
         * and a mix-up of the two in the callback cannot go unnoticed (test_md) */
        int zero = lammps_encode_image_flags(0, 0, 0);
        size_t n = s->natoms;
        for (size_t i = 0; i < n; i++) {
            size_t a = n - 1 - i;
            ids[i] = (int)a + 1;
            img[i] = zero;
            types[i] = s->type[a];
            memcpy(xr + 3 * i, s->x + 3 * a, 3 * sizeof(double));
        }
        /* image flags given: LAMMPS maps each position into the box by whole cell vectors */
        int made = lammps_create_atoms(e->lmp, (int)n, ids, types, xr, NULL, img, 0);
        if (made != (int)s->natoms || lammps_get_natoms(e->lmp) != (double)s->natoms)
            st = err_set(RK_ERUNTIME, "LAMMPS: created %d of %zu atoms", made, s->natoms);
    }
    TRY(cmd(e, "pair_style zero %.17g", s->rdf_rmax));
    TRY(cmd(e, "pair_coeff * *"));
    TRY(cmd(e, "neighbor %g bin", SKIN_A));
    TRY(cmd(e, "neigh_modify every 1 delay 0 check yes"));
    TRY(cmd(e, "timestep %.17g", s->dt_ps));
    TRY(cmd(e, "fix %s all external pf/callback 1 1", FIX_ID));
    TRY(cmd(e, "fix_modify %s energy yes", FIX_ID));
    if (s->ensemble == MD_NVE)
        TRY(cmd(e, "fix rk_int all nve"));
    else
        TRY(cmd(e, "fix rk_int all nvt temp %.17g %.17g %.17g", s->temp_K, s->temp_K,
                NVT_TDAMP_STEPS * s->dt_ps));
    {
        char pairs[2048] = "";
        size_t len = 0;
        for (size_t p = 0; p < s->pairs->npairs; p++)
            len += (size_t)snprintf(pairs + len, sizeof pairs - len, " %d %d", s->pairs->a[p] + 1,
                                    s->pairs->b[p] + 1);
        RK_ASSERT(len < sizeof pairs);
        TRY(cmd(e, "compute %s all rdf %zu%s", RDF_ID, s->rdf_bins, pairs));
    }
    TRY(cmd(e, "thermo_style custom step pe ke etotal temp"));
    TRY(cmd(e, "thermo_modify lost ignore norm no flush yes"));
    TRY(cmd(e, "thermo 0"));
#undef TRY
    if (!st) lammps_set_fix_external_callback(e->lmp, FIX_ID, callback, e);
    free(ids);
    free(img);
    free(types);
    free(xr);
    if (st) {
        md_engine_close(e);
        return st;
    }
    *out = e;
    return RK_OK;
}

rk_status md_engine_run(md_engine *e, long nsteps, int *lost) {
    rk_status st = RK_OK;
    if (!e->stop) {
        if (!e->started)
            st = cmd(e, "run %ld", nsteps);
        else
            st = cmd(e, "run %ld pre no post no", nsteps);
        e->started = 1;
    }
    if (lammps_get_natoms(e->lmp) != (double)e->natoms) e->lost = 1;
    *lost = e->lost;
    return st;
}

long md_engine_step(md_engine *e) {
    const int64_t *step = lammps_extract_global(e->lmp, "ntimestep");
    return step ? (long)*step : -1;
}

double md_engine_thermo(md_engine *e, const char *keyword) {
    return lammps_get_thermo(e->lmp, keyword);
}

rk_status md_engine_rdf(md_engine *e, double *g) {
    double **a = lammps_extract_compute(e->lmp, RDF_ID, LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY);
    if (!a) return err_set(RK_ERUNTIME, "LAMMPS: compute rdf gave no array");
    /* columns: r, then (g, coordination) per pair */
    for (size_t p = 0; p < e->npairs; p++)
        for (size_t b = 0; b < e->nbins; b++)
            g[p * e->nbins + b] = a[b][1 + 2 * p];
    return RK_OK;
}

void md_engine_units(md_engine *e, double *boltz, double *mvv2e) {
    const double *b = lammps_extract_global(e->lmp, "boltz");
    const double *m = lammps_extract_global(e->lmp, "mvv2e");
    RK_ASSERT(b && m);
    *boltz = *b;
    *mvv2e = *m;
}

rk_status md_engine_set_velocities(md_engine *e, const double *v) {
    lammps_scatter_atoms(e->lmp, "v", 1, 3, (void *)v);
    if (lammps_has_error(e->lmp)) return err_set(RK_ERUNTIME, "LAMMPS: setting velocities failed");
    return RK_OK;
}

rk_status md_engine_velocities(md_engine *e, double *v) {
    lammps_gather_atoms(e->lmp, "v", 1, 3, v);
    if (lammps_has_error(e->lmp)) return err_set(RK_ERUNTIME, "LAMMPS: reading velocities failed");
    return RK_OK;
}

rk_status md_engine_forces(md_engine *e, double *f) {
    lammps_gather_atoms(e->lmp, "f", 1, 3, f);
    if (lammps_has_error(e->lmp)) return err_set(RK_ERUNTIME, "LAMMPS: gathering forces failed");
    return RK_OK;
}

void md_engine_close(md_engine *e) {
    if (!e) return;
    if (e->lmp) lammps_close(e->lmp);
    free(e->x);
    free(e->f);
    free(e);
}
