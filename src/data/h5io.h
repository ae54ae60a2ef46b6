/* h5io: every HDF5 file the project reads or writes (the only file that includes <hdf5.h>).
 *
 * Dataset files (SPEC §1), model files (SPEC §5), prediction files (SPEC §6). Writers write to a
 * temporary name in the same directory and rename it when complete, so no half-written file is
 * ever left under the final name. Readers check format/version attributes, shapes and finiteness
 * and report errors naming the file, the HDF5 path and the value (RK_EINPUT).
 */
#ifndef RLEKF_H5IO_H
#define RLEKF_H5IO_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "err.h"

rk_status h5io_dataset_write(const char *path, const dataset_t *ds);
rk_status h5io_dataset_read(const char *path, dataset_t *ds);

/* Like h5io_dataset_write, recording a free-text root attribute `provenance` (sources and formats
 * imported, rlekf version); NULL records only the rlekf version. Added for `rlekf import`. */
rk_status h5io_dataset_write_prov(const char *path, const dataset_t *ds, const char *provenance);

/* Model file record (SPEC §5). Extra arrays are optional named float64 vectors written under
 * /extra/<name> (e.g. optimizer state summaries); readers ignore unknown groups. */
typedef struct {
    const char *name;
    const double *data;
    size_t n;
} h5io_extra;

typedef struct {
    char *config_json; /* resolved model section, JSON text (owned when read) */
    size_t ntypes;
    char (*type_map)[DS_SYMBOL_MAX]; /* (ntypes) */
    double *avg, *std;               /* (ntypes, 4) */
    double *params;                  /* (n_params) */
    size_t n_params;
    char *split_json; /* optional root attribute training_split (JSON; see evaluate.h): NULL when
                         absent (owned when read) */
} h5io_model_rec;

rk_status h5io_model_write(const char *path, const h5io_model_rec *rec, const h5io_extra *extra,
                           size_t n_extra);
/* Allocates all arrays of rec; free with h5io_model_rec_free. */
rk_status h5io_model_read(const char *path, h5io_model_rec *rec);

/* h5io_dataset_read and h5io_model_read take untrusted files: they first read the file in a
 * forked child, so that a crash or endless loop of libhdf5 on a corrupt file becomes RK_EINPUT
 * "FILE: corrupt HDF5 file (the HDF5 library failed reading it: SIGSEGV)" instead of ending this
 * process. The child is killed after `seconds` (0: the default, 30 s plus 1 s per 8 MiB of
 * file); its stderr (a sanitizer's report on libhdf5) is discarded unless child_stderr. The fuzz
 * targets set a limit below their own and keep the reports. */
void h5io_guard_setup(double seconds, int child_stderr);
/* The same readers without the child: only for a file the guarded reader has already read
 * without a crash (the fuzz harness rereads such files in-process, so that coverage and the
 * sanitizers see rlekf's reader code, and checks both answers agree). */
rk_status h5io_dataset_read_unguarded(const char *path, dataset_t *ds);
rk_status h5io_model_read_unguarded(const char *path, h5io_model_rec *rec);
/* 1 when a status/message of the readers above says the guard's child did not survive. */
int h5io_guard_failed(const char *msg);
void h5io_model_rec_free(h5io_model_rec *rec);

/* Predictions (SPEC §6): per system energy (k), force (k, natoms, 3) and frame_index (k) int64;
 * `pred` reuses the dataset structs: pred->sys[s].energy/force hold predicted values for the k
 * frames listed in frame_index[s] (k = pred->sys[s].nframes); type and coord are not written. */
rk_status h5io_pred_write(const char *path, const dataset_t *pred, int64_t *const *frame_index);

/* Named arrays (checkpoints, SPEC §4 "resume"): a flat file of 1-D arrays under the root, each a
 * float64, float32, uint64 or uint8 vector, plus the root attributes format = "rlekf-arrays" and
 * `kind` (what the file holds, e.g. "checkpoint"). Written atomically like every other file. */
typedef enum { H5IO_F64, H5IO_F32, H5IO_U64, H5IO_U8 } h5io_type;

typedef struct {
    const char *name; /* no '/' */
    h5io_type type;
    void *data; /* writing: n elements; reading: n elements to fill, or NULL = allocate */
    size_t n;   /* reading with data NULL: set to the length read */
} h5io_array;

rk_status h5io_arrays_write(const char *path, const char *kind, const h5io_array *a, size_t n);
/* Read every array of a (by name, with the type given) from a file of that kind. An array with
 * data != NULL must have exactly n elements (else RK_EINPUT naming file, array and both lengths);
 * one with data == NULL is allocated (the caller frees; at least 1 byte even when empty). */
rk_status h5io_arrays_read(const char *path, const char *kind, h5io_array *a, size_t n);

/* HDF5 files and objects in them (groups, datasets, attributes, named datatypes) open in the
 * process. Every reader and writer above closes what it opens, so the count is the same before
 * and after each call: a leak check for the tests and the fuzz targets. */
long h5io_open_ids(void);

#endif
