/* nlist: neighbour lists with periodic images for any triclinic cell (SPEC §2 "Neighbours").
 *
 * For atom i, every atom j of any periodic image (j = i only with a non-zero lattice shift) with
 * 0 < |r_ij| < rcut, where r_ij = r_j + n_a a + n_b b + n_c c - r_i. Cells shorter than 2 rcut get
 * as many images as needed. Cost is linear in the number of atoms (cell binning of the images).
 * Output: pairs grouped by centre atom (i ascending); pairs of atom i are
 * [start[i], start[i+1]); order inside a centre is deterministic.
 */
#ifndef RLEKF_NLIST_H
#define RLEKF_NLIST_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct {
    size_t natoms;
    size_t npairs;
    size_t *start; /* (natoms + 1) */
    int32_t *j;    /* (npairs) neighbour atom index (original, unwrapped index) */
    double *d;     /* (npairs, 3) r_ij in Å */
    /* private buffers, grown on demand and reused across calls */
    size_t cap_pairs, cap_atoms, cap_work;
    void *work;
} nlist_t;

void nlist_init(nlist_t *nl);
rk_status nlist_build(nlist_t *nl, size_t natoms, const double *coord /* (natoms,3) */,
                      const double *box /* (3,3) rows */, double rcut);
void nlist_free(nlist_t *nl);
/* Count neighbours of each type for each centre: counts (natoms, ntypes). */
void nlist_count_types(const nlist_t *nl, const int32_t *type, size_t ntypes, size_t *counts);

#endif
