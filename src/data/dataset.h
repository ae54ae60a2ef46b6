/* dataset: labelled DFT frames in memory (SPEC §1), independent of any file format.
 *
 * A dataset holds systems; a system has a fixed atom count and fixed atom types. Arrays are
 * row-major doubles: coord and force (nframes, natoms, 3), box (nframes, 3, 3) with rows a, b, c,
 * energy (nframes). Systems are kept sorted by name (byte order). Units: eV, Å, eV/Å.
 */
#ifndef RLEKF_DATASET_H
#define RLEKF_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define DS_NAME_MAX 256
#define DS_SYMBOL_MAX 8

typedef struct {
    char name[DS_NAME_MAX];
    size_t natoms, nframes;
    int32_t *type;  /* (natoms) type id of each atom */
    double *coord;  /* (nframes, natoms, 3) Cartesian Å */
    double *box;    /* (nframes, 3, 3) rows are a, b, c */
    double *energy; /* (nframes) eV */
    double *force;  /* (nframes, natoms, 3) eV/Å */
} ds_system;

typedef struct {
    size_t ntypes;
    char (*type_map)[DS_SYMBOL_MAX]; /* (ntypes) element symbols */
    size_t nsystems;
    ds_system *sys; /* (nsystems) sorted by name */
} dataset_t;

/* Allocate a system's arrays (zeroed) for natoms x nframes. */
rk_status ds_system_alloc(ds_system *s, const char *name, size_t natoms, size_t nframes);
void ds_system_free(ds_system *s);
void dataset_free(dataset_t *ds);
/* Sort systems by name (byte order). */
void dataset_sort(dataset_t *ds);
/* Type id of an element symbol, or -1. */
int dataset_type_of(const dataset_t *ds, const char *symbol);
/* Checks: at least one system; natoms > 0; nframes > 0; finite values everywhere, none beyond
 * 1e15 in magnitude (not physical; their squares overflow); non-singular cells (|det| > 1e-6 Å^3);
 * no two atoms of a frame within 0.01 Å (nearest image); types in range; unique system names. Errors name `what` (a file),
 * the system, frame, atom and value; status RK_EINPUT. */
rk_status dataset_validate(const dataset_t *ds, const char *what);
size_t dataset_total_frames(const dataset_t *ds);

#endif
