/* md_engine: the LAMMPS instance of one run (md_lammps.c, the only includer of <library.h>).
 *
 * Internal to src/md. The engine owns the LAMMPS handle; forces come from a provider called
 * from `fix external` in callback mode with the positions in atom-id order.
 */
#ifndef RLEKF_MD_ENGINE_H
#define RLEKF_MD_ENGINE_H

#include "md.h"

/* Fill e and f (natoms,3) for positions x (natoms,3) in LAMMPS's frame, atom-id order. Return
 * 0 to go on, non-zero to stop the run after this step (the engine then applies zero forces, so
 * LAMMPS never integrates a non-finite value). */
typedef int (*md_force_fn)(void *ctx, long step, const double *x, double *e, double *f);

typedef struct {
    md_cell cell;
    size_t natoms;
    const int *type; /* (natoms) LAMMPS types, 1-based */
    const double *x; /* (natoms,3) LAMMPS frame */
    size_t ntypes;
    const double *mass; /* (ntypes) amu */
    md_ensemble ensemble;
    double temp_K, dt_ps;
    double rdf_rmax;
    size_t rdf_bins;
    const md_pairs *pairs; /* 0-based types */
    const char *log;       /* LAMMPS log file, NULL: none */
    md_force_fn fn;
    void *ctx;
} md_engine_setup;

typedef struct md_engine md_engine;

rk_status md_engine_open(const md_engine_setup *s, md_engine **e);
/* Advance nsteps steps (the first call also sets the run up; nsteps 0 evaluates the forces
 * once). Stops early when the provider asks; *lost = 1 when LAMMPS dropped atoms. */
rk_status md_engine_run(md_engine *e, long nsteps, int *lost);
/* The current step. */
long md_engine_step(md_engine *e);
/* A thermo keyword (ke, temp, pe, etotal) at the end of a completed run (LAMMPS ends the
 * process if the keyword's compute is not current: never after a stopped run). */
double md_engine_thermo(md_engine *e, const char *keyword);
/* LAMMPS's unit constants: Boltzmann (eV/K) and mv^2 to energy (eV per amu A^2/ps^2). */
void md_engine_units(md_engine *e, double *boltz, double *mvv2e);
/* Set (natoms,3) velocities in atom-id order; read them back. */
rk_status md_engine_set_velocities(md_engine *e, const double *v);
rk_status md_engine_velocities(md_engine *e, double *v);
/* LAMMPS's compute rdf at the current step: g (npairs, nbins). */
rk_status md_engine_rdf(md_engine *e, double *g);
/* Forces LAMMPS holds (natoms,3), atom-id order, LAMMPS's frame. */
rk_status md_engine_forces(md_engine *e, double *f);
void md_engine_close(md_engine *e);

#endif
