/* md: molecular dynamics of a trained model, driven by LAMMPS through its C library.
 *
 * LAMMPS integrates (metal units: eV, Å, ps, amu; `fix nve` velocity Verlet or `fix nvt`
 * Nosé–Hoover) and our model supplies energy and forces through `fix external` in callback mode.
 * Only md_lammps.c includes <library.h>. A frame of a dataset (types, coordinates, cell) is the
 * start; its cell is rotated into LAMMPS's lower-triangular convention (md_cell) and the forces
 * are rotated back when compared with the model's.
 *
 * A run is a result whatever happens: non-finite energies or forces, atoms closer than the
 * distance threshold, more neighbours than the model's sel, lost atoms or a temperature outside
 * the band stop the run and are recorded as "unstable at t" (the Debian LAMMPS has no C++
 * exceptions, so a LAMMPS error would end the process: the driver stops before one can occur).
 *
 * Outputs of md_write (each written atomically, md.json last, so a directory holding md.json is
 * a finished run): thermo.csv, rdf.csv (columns in schema.h) and md.json (metrics, see
 * md_result).
 */
#ifndef RLEKF_MD_H
#define RLEKF_MD_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "err.h"
#include "jsonw.h"
#include "model.h"

typedef enum { MD_NVE, MD_NVT, MD_NENSEMBLES } md_ensemble;
/* "nve", "nvt", NULL */
extern const char *const md_ensemble_names[MD_NENSEMBLES + 1];

#define MD_FRAME_MAX 300 /* "SYSTEM:K" */
#define MD_STREAM_MAX 256
#define MD_MAX_DATASETS 16
#define MD_NAME_MAX 64

/* Parameters of a run. Every key is one row of md_keys (name, kind, default, bounds, help). */
typedef struct {
    long steps;
    double dt_fs;
    unsigned ensembles; /* bit e set: run ensemble e (manifest); the CLI runs one */
    double temperature_K;
    long thermo_every;     /* steps between thermo rows and RDF samples */
    double min_distance_A; /* stability: shortest pair distance allowed */
    double temp_low;       /* stability: temperature band [temp_low, temp_high] × temperature_K */
    double temp_high;
    long rdf_bins;
    double rdf_rmax_A;        /* 0: the model's rcut */
    char frame[MD_FRAME_MAX]; /* "SYSTEM:K"; "" = first system, frame 0 */
    /* manifest only: the datasets whose cells get MD (n_datasets 0: every dataset) */
    char datasets[MD_MAX_DATASETS][MD_NAME_MAX];
    size_t n_datasets;
} md_params;

typedef enum {
    MD_KEY_INT,
    MD_KEY_REAL,
    MD_KEY_ENSEMBLES,
    MD_KEY_FRAME,
    MD_KEY_NAMES /* a list of names (the manifest's datasets) */
} md_key_kind;
typedef struct {
    const char *name;
    md_key_kind kind;
    double def, lo, hi; /* numbers; ensembles: the default bit mask */
    const char *help;
} md_key;
extern const md_key md_keys[];
extern const size_t md_n_keys;

void md_params_default(md_params *p);
/* The manifest's "md" object: keys of md_keys only, each checked against its bounds. */
rk_status md_params_from_json(const jsonw *obj, const char *ctx, md_params *p);
/* One key given as text (a command-line flag): parsed and checked by its md_keys row. `what`
 * names the flag in messages. */
rk_status md_params_set(md_params *p, const char *key, const char *what, const char *text);
/* Bit mask of a comma-free ensemble name; RK_EINPUT naming `what` and the valid names. */
rk_status md_ensemble_parse(const char *what, const char *text, md_ensemble *e);

/* ---- md.c: cells, masses, RDF ---- */

/* Standard atomic mass (amu) of an element symbol; RK_EINPUT naming the element if the table
 * has none. */
rk_status md_mass(const char *symbol, double *mass);

/* A periodic cell in LAMMPS's convention: rows a = (lx,0,0), b = (xy,ly,0), c = (xz,yz,lz),
 * with tilts reduced (|xy|, |xz| <= lx/2, |yz| <= ly/2: the same lattice). q maps the frame's
 * Cartesian vectors to LAMMPS's: x' = x q (row vector times q, q orthogonal, a reflection if the
 * frame's cell is left-handed, which se_e2_a cannot tell apart). */
typedef struct {
    double lx, ly, lz, xy, xz, yz;
    double q[9];
} md_cell;
/* From box rows a, b, c (Å). Singular cells are RK_EINPUT. */
rk_status md_cell_from_box(const double *box, md_cell *c);
/* Positions (n,3) into LAMMPS's frame, wrapped into the cell [0,1) in fractional coordinates. */
void md_cell_to_lammps(const md_cell *c, const double *x, double *out, size_t n);
/* Vectors (n,3) from LAMMPS's frame back to the frame's: v = v' q^T. */
void md_cell_from_lammps(const md_cell *c, const double *v, double *out, size_t n);
/* The cell's rows as a box (3,3). */
void md_cell_box(const md_cell *c, double *box);

/* Radial distribution functions of the element pairs (a <= b over the frame's types, in type
 * order) with nbins bins on [0, rmax), every periodic image included, normalised as
 * g_ab(r) = H_ab(r) V / (N_a (N_b - [a = b]) V_shell(r)). acc (npairs, nbins) accumulates
 * the g of one configuration (add, not overwrite). */
typedef struct {
    size_t npairs;
    int a[MODEL_MAX_TYPES * MODEL_MAX_TYPES], b[MODEL_MAX_TYPES * MODEL_MAX_TYPES];
} md_pairs;
void md_pairs_of(const ds_system *sys, size_t ntypes, md_pairs *p);
rk_status md_rdf_add(const ds_system *sys, size_t frame, size_t ntypes, const md_pairs *p,
                     double rmax, size_t nbins, double *acc);

/* ---- md_run.c: a run ---- */

typedef struct {
    long step;
    double time_ps, pe, ke, etot, temp, dmin; /* eV, eV, eV, K, Å */
} md_row;

typedef struct {
    md_ensemble ensemble;
    char system[DS_NAME_MAX];
    size_t frame, natoms;
    int stable;       /* 1: no criterion triggered for the whole run */
    double stable_ps; /* time of the first violation, or the run's length if stable */
    char reason[256]; /* what ended the run ("" if stable) */
    int over_sel;     /* it ended because an atom had more neighbours than the model's sel:
                       * a limit of the model (SPEC §2 never truncates), not of the physics */
    long steps_done;
    md_row *rows;
    size_t nrows;
    double drift; /* meV/atom/ps, least-squares slope of etot (NVE; NaN for NVT) */
    double fluct; /* meV/atom, std of etot over the rows (NVE; NaN for NVT) */
    md_pairs pairs;
    char pair_names[MODEL_MAX_TYPES * MODEL_MAX_TYPES][2 * DS_SYMBOL_MAX + 2];
    size_t nbins;
    double rmax;
    double *g_md;  /* (npairs, nbins) mean of LAMMPS's compute rdf over the stable samples */
    double *g_ref; /* (npairs, nbins) mean over the system's DFT frames */
    size_t rdf_samples;
    double rdf_err[MODEL_MAX_TYPES * MODEL_MAX_TYPES]; /* mean |g_md - g_ref| over bins */
    double rdf_err_all;                                /* mean of rdf_err over pairs */
    double wall_s;
} md_result;

/* Every element of the frame has a mass and its cell is regular: RK_EINPUT naming the element
 * (or the frame) otherwise. */
rk_status md_check_frame(const dataset_t *ds, size_t sys, size_t k);
/* Resolve params->frame ("" = first system, frame 0) in ds. */
rk_status md_find_frame(const dataset_t *ds, const char *frame, size_t *sys, size_t *k);
/* Run MD of model m from frame (sys, k) of ds. Velocities from rng_stream(stream, seed,
 * RNG_VELOCITY). log (NULL: none) receives LAMMPS's log. Instability is a result (r->stable 0),
 * not an error. */
rk_status md_run(const model_t *m, const dataset_t *ds, size_t sys, size_t k, const md_params *p,
                 md_ensemble ens, const char *stream, uint64_t seed, const char *log, md_result *r);
void md_result_free(md_result *r);
/* "stable", "unstable" or "over_sel" (md.json's and summary.csv's status). */
const char *md_status_name(const md_result *r);
/* thermo.csv, rdf.csv, then md.json into dir (created), each atomically. */
rk_status md_write(const char *dir, const md_params *p, uint64_t seed, const md_result *r);

/* The model's energy and forces on frame (sys, k) as LAMMPS's fix external applies them: the
 * frame is sent through LAMMPS (rotation, wrapping, atom order), one `run 0`, and the forces
 * LAMMPS holds are rotated back into the frame's orientation. For tests. *lmp_pe = LAMMPS's
 * potential energy (thermo pe); g (NULL: skip) = LAMMPS's compute rdf of the frame, pairs of
 * md_pairs_of, nbins bins on [0, rcut). */
rk_status md_single_point(const model_t *m, const dataset_t *ds, size_t sys, size_t k,
                          double *energy, double *lmp_pe, double *force, size_t nbins, double *g);

#endif
