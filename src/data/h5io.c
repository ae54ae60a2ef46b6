/* h5io: the project's HDF5 files (see h5io.h); the only file that includes <hdf5.h>.
 *
 * Writing: every writer builds the file in memory (HDF5's core driver, no backing store), so the
 * HDF5 library never writes to disk and none of its calls can fail half-way through a full disk
 * (a failed H5Fclose on a file the library still holds crashed its exit cleanup). The finished
 * image is written with write() to "<path>.tmp-<pid>" beside the target, checked (ENOSPC, EFBIG
 * name the file), and rename()d over the target; on any failure the temporary is unlinked, so
 * the target is either the old file or the complete new one. Strings (root attributes, /type_map)
 * are written as variable-length UTF-8, the way h5py writes Python str; readers accept variable-
 * and fixed-length strings of either character set, NUL- or space-padded.
 *
 * Reading: the file must be HDF5 (else "not an HDF5 file or truncated"), carry the expected
 * `format` and `version` attributes, and hold every required dataset with the expected class and
 * shape; numeric data are converted by HDF5 to native int32/int64/double on read (so float32 files
 * are accepted). Dataset contents are then checked with dataset_validate(). All input problems are
 * RK_EINPUT naming the file, the HDF5 path and the offending value; HDF5's own error printing is
 * switched off.
 */
#define _GNU_SOURCE /* pipe2, sigabbrev_np */
#include "h5io.h"
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H5IO_FORMAT_DATASET "rlekf-dataset"
#define H5IO_FORMAT_MODEL "rlekf-model"
/* Optional root attribute of model files: the training split (JSON text). */
#define H5IO_ATTR_SPLIT "training_split"
#define H5IO_VERSION 1
#define H5IO_FORMAT_ARRAYS "rlekf-arrays"
/* Longest HDF5 object path we build: "/systems/" + a system name + "/" + a dataset name. */
#define H5IO_PATH_MAX (DS_NAME_MAX + 64)
/* Longest file name we handle, plus room for ".tmp-<pid>". */
#define H5IO_FILE_MAX 4096
#define H5IO_RANK_MAX 3
/* Growth step of the in-memory file image of a writer. */
#define H5IO_CORE_INCREMENT (1u << 20)
/* Deflate (h5py's compression="gzip") shrinks data at most 1032-fold. Other filters can do better
 * on constant data (scale-offset), but rlekf never writes filtered data and h5py does not by
 * default: a filtered dataset declaring more than this many times the bytes it stores is taken
 * as corrupt. */
#define H5IO_FILTER_RATIO_MAX 1032.0

#include "rlekf_git.h"

static void h5_quiet(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* File access properties: closing the file closes every object still open in it, so error paths
 * cannot leave the file open. */
static hid_t fapl_strong(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    return fapl;
}

static void close_id(hid_t id) {
    if (id < 0) return;
    switch (H5Iget_type(id)) {
    case H5I_FILE:
        H5Fclose(id);
        break;
    case H5I_GROUP:
        H5Gclose(id);
        break;
    case H5I_DATASET:
        H5Dclose(id);
        break;
    case H5I_ATTR:
        H5Aclose(id);
        break;
    case H5I_DATATYPE:
        H5Tclose(id);
        break;
    case H5I_DATASPACE:
        H5Sclose(id);
        break;
    case H5I_GENPROP_LST:
        H5Pclose(id);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
    const char *path;        /* final name (for messages) */
    char tmp[H5IO_FILE_MAX]; /* temporary name written first */
    hid_t file;
} h5w;

static rk_status w_fail(const h5w *w, const char *what) {
    return err_set(RK_ERUNTIME, "%s: HDF5 failed to write %s", w->path, what);
}

static rk_status w_open(h5w *w, const char *path) {
    h5_quiet();
    w->path = path;
    w->file = -1;
    rk_status st = fs_tmp_name(path, w->tmp, sizeof w->tmp);
    if (st) return st;
    /* Create the temporary with open() first: it gives a proper errno message for a missing
     * directory or a read-only location, which H5Fcreate does not. */
    int fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        return err_set(RK_ERUNTIME, "%s: cannot create %s: %s", path, w->tmp, strerror(errno));
    close(fd);
    hid_t fapl = fapl_strong();
    if (fapl >= 0 && H5Pset_fapl_core(fapl, H5IO_CORE_INCREMENT, 0) < 0) {
        close_id(fapl);
        fapl = -1;
    }
    w->file = fapl >= 0 ? H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : -1;
    close_id(fapl);
    if (w->file < 0) {
        unlink(w->tmp);
        return err_set(RK_ERUNTIME, "%s: HDF5 cannot create %s", path, w->tmp);
    }
    return RK_OK;
}

/* The in-memory file's image (caller frees), or NULL after setting the error. */
static void *w_image(const h5w *w, size_t *len) {
    if (H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0) {
        w_fail(w, "(flushing the file image)");
        return NULL;
    }
    ssize_t n = H5Fget_file_image(w->file, NULL, 0);
    void *buf = n > 0 ? rk_malloc((size_t)n) : NULL;
    if (n <= 0) w_fail(w, "(the file image)");
    if (buf && H5Fget_file_image(w->file, buf, (size_t)n) != n) {
        free(buf);
        buf = NULL;
        w_fail(w, "(the file image)");
    }
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* All of buf to the temporary; a short write (full disk, file size limit) names the errno. */
static rk_status w_write_tmp(const h5w *w, const void *buf, size_t len) {
    int fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        return err_set(RK_ERUNTIME, "%s: cannot create %s: %s", w->path, w->tmp, strerror(errno));
    const char *p = buf;
    size_t done = 0;
    int e = 0;
    while (done < len) {
        ssize_t k = write(fd, p + done, len - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            e = k < 0 ? errno : ENOSPC;
            break;
        }
        done += (size_t)k;
    }
    if (close(fd) != 0 && !e) e = errno;
    if (e)
        return err_set(RK_ERUNTIME, "%s: cannot write %s (%zu of %zu bytes written): %s", w->path,
                       w->tmp, done, len, strerror(e));
    return RK_OK;
}

/* Close; on success write the image and rename it over the target, otherwise remove the
 * temporary. The file is closed on every path (in memory: closing cannot fail for lack of
 * space), so HDF5's exit cleanup has nothing left to flush. */
static rk_status w_finish(h5w *w, rk_status st) {
    void *image = NULL;
    size_t len = 0;
    if (w->file >= 0 && st == RK_OK && !(image = w_image(w, &len))) st = RK_ERUNTIME;
    if (w->file >= 0 && H5Fclose(w->file) < 0 && st == RK_OK) st = w_fail(w, "(closing the file)");
    w->file = -1;
    if (st == RK_OK) st = w_write_tmp(w, image, len);
    free(image);
    if (st != RK_OK) {
        unlink(w->tmp);
        return st;
    }
    return fs_commit(w->tmp, w->path, 1);
}

static hid_t vlen_utf8(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static rk_status w_attr_str(const h5w *w, hid_t obj, const char *name, const char *value) {
    hid_t t = vlen_utf8(), sp = H5Screate(H5S_SCALAR), a = -1;
    herr_t rc = -1;
    if (t >= 0 && sp >= 0) a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) rc = H5Awrite(a, t, &value);
    close_id(a);
    close_id(sp);
    close_id(t);
    if (rc < 0) return w_fail(w, name);
    return RK_OK;
}

static rk_status w_attr_int(const h5w *w, hid_t obj, const char *name, int value) {
    hid_t sp = H5Screate(H5S_SCALAR), a = -1;
    herr_t rc = -1;
    if (sp >= 0) a = H5Acreate2(obj, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) rc = H5Awrite(a, H5T_NATIVE_INT, &value);
    close_id(a);
    close_id(sp);
    if (rc < 0) return w_fail(w, name);
    return RK_OK;
}

/* 1-D dataset of n variable-length UTF-8 strings. */
static rk_status w_strings(const h5w *w, hid_t loc, const char *name,
                           const char (*strs)[DS_SYMBOL_MAX], size_t n) {
    const char **ptrs = rk_malloc(n * sizeof *ptrs);
    if (!ptrs) return RK_ENOMEM;
    for (size_t i = 0; i < n; i++)
        ptrs[i] = strs[i];
    hsize_t dims[1] = {n};
    hid_t t = vlen_utf8(), sp = H5Screate_simple(1, dims, NULL), d = -1;
    herr_t rc = -1;
    if (t >= 0 && sp >= 0) d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) rc = n ? H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs) : 0;
    close_id(d);
    close_id(sp);
    close_id(t);
    free(ptrs);
    if (rc < 0) return w_fail(w, name);
    return RK_OK;
}

/* Numeric dataset of the given rank and dims; file type ftype, memory type mtype. */
static rk_status w_array(const h5w *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                         const void *data, int rank, const size_t *dims) {
    hsize_t hd[H5IO_RANK_MAX];
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        hd[i] = dims[i];
        count *= dims[i];
    }
    hid_t sp = H5Screate_simple(rank, hd, NULL), d = -1;
    herr_t rc = -1;
    if (sp >= 0) d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) rc = count ? H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    close_id(d);
    close_id(sp);
    if (rc < 0) return w_fail(w, name);
    return RK_OK;
}

static rk_status w_f64(const h5w *w, hid_t loc, const char *name, const double *data, int rank,
                       const size_t *dims) {
    return w_array(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data, rank, dims);
}

static hid_t w_group(hid_t loc, const char *name) {
    return H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

/* Root attributes and /type_map shared by dataset and prediction files. */
static rk_status w_dataset_header(const h5w *w, const dataset_t *ds, const char *provenance) {
    rk_status st = w_attr_str(w, w->file, "format", H5IO_FORMAT_DATASET);
    if (!st) st = w_attr_int(w, w->file, "version", H5IO_VERSION);
    if (!st && provenance) st = w_attr_str(w, w->file, "provenance", provenance);
    if (!st)
        st = w_strings(w, w->file, "type_map", (const char(*)[DS_SYMBOL_MAX])ds->type_map,
                       ds->ntypes);
    return st;
}

static rk_status w_system(const h5w *w, hid_t systems, const ds_system *s) {
    hid_t g = w_group(systems, s->name);
    if (g < 0) return w_fail(w, s->name);
    size_t dna[1] = {s->natoms}, dnf[1] = {s->nframes};
    size_t dxyz[3] = {s->nframes, s->natoms, 3}, dbox[3] = {s->nframes, 3, 3};
    rk_status st = w_array(w, g, "type", H5T_STD_I32LE, H5T_NATIVE_INT32, s->type, 1, dna);
    if (!st) st = w_f64(w, g, "coord", s->coord, 3, dxyz);
    if (!st) st = w_f64(w, g, "box", s->box, 3, dbox);
    if (!st) st = w_f64(w, g, "energy", s->energy, 1, dnf);
    if (!st) st = w_f64(w, g, "force", s->force, 3, dxyz);
    close_id(g);
    return st;
}

rk_status h5io_dataset_write_prov(const char *path, const dataset_t *ds, const char *provenance) {
    rk_status st = dataset_validate(ds, path);
    if (st) return st;
    h5w w;
    if ((st = w_open(&w, path))) return st;
    char prov_default[128];
    if (!provenance) {
        snprintf(prov_default, sizeof prov_default, "written by rlekf %s", RLEKF_GIT);
        provenance = prov_default;
    }
    st = w_dataset_header(&w, ds, provenance);
    hid_t systems = st ? -1 : w_group(w.file, "systems");
    if (!st && systems < 0) st = w_fail(&w, "/systems");
    for (size_t i = 0; !st && i < ds->nsystems; i++)
        st = w_system(&w, systems, &ds->sys[i]);
    close_id(systems);
    return w_finish(&w, st);
}

rk_status h5io_dataset_write(const char *path, const dataset_t *ds) {
    return h5io_dataset_write_prov(path, ds, NULL);
}

rk_status h5io_pred_write(const char *path, const dataset_t *pred, int64_t *const *frame_index) {
    h5w w;
    rk_status st = w_open(&w, path);
    if (st) return st;
    char prov[128];
    snprintf(prov, sizeof prov, "predictions written by rlekf %s", RLEKF_GIT);
    st = w_dataset_header(&w, pred, prov);
    hid_t systems = st ? -1 : w_group(w.file, "systems");
    if (!st && systems < 0) st = w_fail(&w, "/systems");
    for (size_t i = 0; !st && i < pred->nsystems; i++) {
        const ds_system *s = &pred->sys[i];
        hid_t g = w_group(systems, s->name);
        if (g < 0) {
            st = w_fail(&w, s->name);
            break;
        }
        size_t dk[1] = {s->nframes}, dxyz[3] = {s->nframes, s->natoms, 3};
        st = w_f64(&w, g, "energy", s->energy, 1, dk);
        if (!st) st = w_f64(&w, g, "force", s->force, 3, dxyz);
        if (!st)
            st = w_array(&w, g, "frame_index", H5T_STD_I64LE, H5T_NATIVE_INT64, frame_index[i], 1,
                         dk);
        close_id(g);
    }
    close_id(systems);
    return w_finish(&w, st);
}

rk_status h5io_model_write(const char *path, const h5io_model_rec *rec, const h5io_extra *extra,
                           size_t n_extra) {
    RK_ASSERT(rec->config_json && rec->type_map && rec->avg && rec->std && rec->params);
    h5w w;
    rk_status st = w_open(&w, path);
    if (st) return st;
    size_t dstat[2] = {rec->ntypes, 4}, dpar[1] = {rec->n_params};
    st = w_attr_str(&w, w.file, "format", H5IO_FORMAT_MODEL);
    if (!st) st = w_attr_int(&w, w.file, "version", H5IO_VERSION);
    if (!st) st = w_attr_str(&w, w.file, "config", rec->config_json);
    if (!st && rec->split_json) st = w_attr_str(&w, w.file, H5IO_ATTR_SPLIT, rec->split_json);
    if (!st)
        st = w_strings(&w, w.file, "type_map", (const char(*)[DS_SYMBOL_MAX])rec->type_map,
                       rec->ntypes);
    hid_t g = st ? -1 : w_group(w.file, "stat");
    if (!st && g < 0) st = w_fail(&w, "/stat");
    if (!st) st = w_f64(&w, g, "avg", rec->avg, 2, dstat);
    if (!st) st = w_f64(&w, g, "std", rec->std, 2, dstat);
    close_id(g);
    if (!st) st = w_f64(&w, w.file, "params", rec->params, 1, dpar);
    if (!st && n_extra) {
        g = w_group(w.file, "extra");
        if (g < 0) st = w_fail(&w, "/extra");
        for (size_t i = 0; !st && i < n_extra; i++) {
            size_t dn[1] = {extra[i].n};
            st = w_f64(&w, g, extra[i].name, extra[i].data, 1, dn);
        }
        close_id(g);
    }
    return w_finish(&w, st);
}

/* ------------------------------------------------------------------------------------------ */
/* Reading                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* The checks before HDF5 sees the file; `size` (may be NULL) gets its size in bytes. */
static rk_status r_precheck(const char *path, off_t *size) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return err_set(RK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return err_set(RK_EINPUT, "%s: is a directory, not an HDF5 file", path);
    if (access(path, R_OK) != 0)
        return err_set(RK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (size) *size = sb.st_size;
    return RK_OK;
}

static rk_status r_open(const char *path, hid_t *file) {
    h5_quiet();
    *file = -1;
    rk_status st = r_precheck(path, NULL);
    if (st) return st;
    if (H5Fis_hdf5(path) <= 0) return err_set(RK_EINPUT, "%s: not an HDF5 file or truncated", path);
    hid_t fapl = fapl_strong();
    *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    close_id(fapl);
    if (*file < 0) return err_set(RK_EINPUT, "%s: not an HDF5 file or truncated", path);
    return RK_OK;
}

/* The elements an object's dataspace declares must be stored in the file: unfiltered, n elements
 * of b bytes take n b bytes; a filter shrinks them at most H5IO_FILTER_RATIO_MAX times. Checked
 * before a declared size sizes an allocation, so a corrupt dataspace (dimensions of 2^40) is an
 * input error rather than a request for terabytes. The storage size HDF5 reports is read from the
 * file too (a contiguous layout message states it), so it counts only up to the file's size.
 * `is_attr`: obj is an attribute. */
static rk_status r_check_stored(const char *path, const char *h5path, hid_t obj, int is_attr,
                                hid_t ftype, double npoints) {
    if (npoints == 0) return RK_OK;
    size_t size = H5Tget_size(ftype);
    hsize_t stored = is_attr ? H5Aget_storage_size(obj) : H5Dget_storage_size(obj);
    struct stat sb;
    if (stat(path, &sb) == 0 && (hsize_t)sb.st_size < stored) stored = (hsize_t)sb.st_size;
    int nfilters = 0;
    if (!is_attr) {
        hid_t dcpl = H5Dget_create_plist(obj);
        nfilters = dcpl >= 0 ? H5Pget_nfilters(dcpl) : -1;
        close_id(dcpl);
    }
    if (size == 0 || nfilters < 0)
        return err_set(RK_EINPUT, "%s: %s: cannot read (corrupt file?)", path, h5path);
    double need = npoints * (double)size;
    if (!nfilters && need > (double)stored)
        return err_set(RK_EINPUT,
                       "%s: %s: declares %.0f elements of %zu bytes but the file stores %llu "
                       "bytes of data (corrupt or truncated file)",
                       path, h5path, npoints, size, (unsigned long long)stored);
    if (nfilters && need > (double)stored * H5IO_FILTER_RATIO_MAX)
        return err_set(RK_EINPUT,
                       "%s: %s: declares %.0f elements of %zu bytes but the file stores %llu "
                       "filtered bytes, more than %.0f-fold compression (corrupt file or an "
                       "unsupported filter)",
                       path, h5path, npoints, size, (unsigned long long)stored,
                       H5IO_FILTER_RATIO_MAX);
    return RK_OK;
}

/* Read all strings of an attribute (is_attr) or dataset into a malloc'd array of malloc'd
 * strings. Accepts variable- and fixed-length strings in ASCII or UTF-8. */
static rk_status r_strings(const char *path, const char *h5path, hid_t obj, int is_attr,
                           char ***out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    hid_t ftype = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t space = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    hid_t mtype = -1;
    rk_status st = RK_OK;
    char **res = NULL;
    size_t n = 0;
    if (ftype < 0 || space < 0) {
        st = err_set(RK_EINPUT, "%s: %s: cannot read (corrupt file?)", path, h5path);
        goto done;
    }
    if (H5Tget_class(ftype) != H5T_STRING) {
        st = err_set(RK_EINPUT, "%s: %s: expected a string, found a non-string HDF5 type", path,
                     h5path);
        goto done;
    }
    hssize_t np = H5Sget_simple_extent_npoints(space);
    if (np < 0 || H5Sget_simple_extent_ndims(space) > 1) {
        st =
            err_set(RK_EINPUT, "%s: %s: expected a scalar or a 1-D array of strings", path, h5path);
        goto done;
    }
    if ((st = r_check_stored(path, h5path, obj, is_attr, ftype, (double)np))) goto done;
    n = (size_t)np;
    res = rk_calloc(n ? n : 1, sizeof *res);
    if (!res) {
        st = RK_ENOMEM;
        goto done;
    }
    H5T_cset_t cset = H5Tget_cset(ftype);
    int variable = H5Tis_variable_str(ftype) > 0;
    if (variable) {
        mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, H5T_VARIABLE);
        H5Tset_cset(mtype, cset);
        char **buf = rk_calloc(n ? n : 1, sizeof *buf);
        if (!buf) {
            st = RK_ENOMEM;
            goto done;
        }
        herr_t rc = n == 0    ? 0
                    : is_attr ? H5Aread(obj, mtype, buf)
                              : H5Dread(obj, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        if (rc < 0) {
            free(buf);
            st = err_set(RK_EINPUT, "%s: %s: cannot read strings (corrupt or truncated file)", path,
                         h5path);
            goto done;
        }
        for (size_t i = 0; i < n && !st; i++) {
            const char *s = buf[i] ? buf[i] : "";
            res[i] = rk_malloc(strlen(s) + 1);
            if (!res[i])
                st = RK_ENOMEM;
            else
                strcpy(res[i], s);
        }
#if H5_VERSION_GE(1, 12, 0)
        if (n) H5Treclaim(mtype, space, H5P_DEFAULT, buf);
#else
        if (n) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf);
#endif
        free(buf);
    } else {
        size_t size = H5Tget_size(ftype);
        mtype = H5Tcopy(ftype);
        char *buf = rk_malloc(n * size + 1);
        if (!buf || size == 0) {
            free(buf);
            st =
                buf ? err_set(RK_EINPUT, "%s: %s: zero-size string type", path, h5path) : RK_ENOMEM;
            goto done;
        }
        herr_t rc = n == 0    ? 0
                    : is_attr ? H5Aread(obj, mtype, buf)
                              : H5Dread(obj, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        if (rc < 0) {
            free(buf);
            st = err_set(RK_EINPUT, "%s: %s: cannot read strings (corrupt or truncated file)", path,
                         h5path);
            goto done;
        }
        for (size_t i = 0; i < n && !st; i++) {
            const char *s = buf + i * size;
            size_t len = 0;
            while (len < size && s[len] != '\0')
                len++;
            while (len > 0 && s[len - 1] == ' ')
                len--; /* Fortran-style space padding */
            res[i] = rk_malloc(len + 1);
            if (!res[i]) {
                st = RK_ENOMEM;
            } else {
                memcpy(res[i], s, len);
                res[i][len] = '\0';
            }
        }
        free(buf);
    }
done:
    close_id(mtype);
    close_id(space);
    close_id(ftype);
    if (st && res) {
        for (size_t i = 0; i < n; i++)
            free(res[i]);
        free(res);
        res = NULL;
        n = 0;
    }
    *out = res;
    *n_out = n;
    return st;
}

static void free_strings(char **s, size_t n) {
    if (!s) return;
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

/* A scalar string attribute of the root group (required). *value is malloc'd. */
static rk_status r_attr_str(const char *path, hid_t file, const char *name, char **value) {
    *value = NULL;
    char h5path[64];
    snprintf(h5path, sizeof h5path, "attribute /%s", name);
    if (H5Aexists(file, name) <= 0)
        return err_set(RK_EINPUT, "%s: %s is missing (not an rlekf file?)", path, h5path);
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    if (a < 0) return err_set(RK_EINPUT, "%s: %s: cannot open", path, h5path);
    char **s = NULL;
    size_t n = 0;
    rk_status st = r_strings(path, h5path, a, 1, &s, &n);
    H5Aclose(a);
    if (st) return st;
    if (n != 1) {
        free_strings(s, n);
        return err_set(RK_EINPUT, "%s: %s: expected one string, found %zu", path, h5path, n);
    }
    *value = s[0];
    free(s);
    return RK_OK;
}

static rk_status r_check_format(const char *path, hid_t file, const char *expected) {
    char *fmt = NULL;
    rk_status st = r_attr_str(path, file, "format", &fmt);
    if (st) return st;
    if (strcmp(fmt, expected) != 0) {
        st = err_set(RK_EINPUT, "%s: attribute /format is '%.64s', expected '%s'", path, fmt,
                     expected);
        free(fmt);
        return st;
    }
    free(fmt);
    if (H5Aexists(file, "version") <= 0)
        return err_set(RK_EINPUT, "%s: attribute /version is missing", path);
    hid_t a = H5Aopen(file, "version", H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
    long long v = 0;
    int ok = t >= 0 && H5Tget_class(t) == H5T_INTEGER && sp >= 0 &&
             H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0;
    close_id(sp);
    close_id(t);
    close_id(a);
    if (!ok) return err_set(RK_EINPUT, "%s: attribute /version is not a scalar integer", path);
    if (v != H5IO_VERSION)
        return err_set(RK_EINPUT, "%s: attribute /version is %lld, this rlekf reads version %d",
                       path, v, H5IO_VERSION);
    return RK_OK;
}

/* /type_map: 1-D array of element symbols. */
static rk_status r_type_map(const char *path, hid_t file, char (**tm)[DS_SYMBOL_MAX],
                            size_t *ntypes) {
    *tm = NULL;
    *ntypes = 0;
    if (H5Lexists(file, "type_map", H5P_DEFAULT) <= 0)
        return err_set(RK_EINPUT, "%s: /type_map: missing", path);
    hid_t d = H5Dopen2(file, "type_map", H5P_DEFAULT);
    if (d < 0) return err_set(RK_EINPUT, "%s: /type_map: not a dataset", path);
    char **s = NULL;
    size_t n = 0;
    rk_status st = r_strings(path, "/type_map", d, 0, &s, &n);
    H5Dclose(d);
    if (st) return st;
    if (n == 0) st = err_set(RK_EINPUT, "%s: /type_map is empty", path);
    char(*out)[DS_SYMBOL_MAX] = st ? NULL : rk_calloc(n, sizeof *out);
    if (!st && !out) st = RK_ENOMEM;
    for (size_t i = 0; !st && i < n; i++) {
        size_t len = strlen(s[i]);
        if (len == 0 || len >= DS_SYMBOL_MAX)
            st = err_set(RK_EINPUT, "%s: /type_map[%zu] = '%.32s': expected 1 to %d characters",
                         path, i, s[i], DS_SYMBOL_MAX - 1);
        else
            memcpy(out[i], s[i], len + 1);
    }
    free_strings(s, n);
    if (st) {
        free(out);
        return st;
    }
    *tm = out;
    *ntypes = n;
    return RK_OK;
}

/* Open loc/name as a dataset and report its class and dims (rank at most H5IO_RANK_MAX). */
static rk_status r_open_array(const char *path, hid_t loc, const char *h5path, const char *name,
                              H5T_class_t want_class, hid_t *d, int *rank, size_t *dims) {
    *d = -1;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return err_set(RK_EINPUT, "%s: %s: missing", path, h5path);
    *d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (*d < 0) return err_set(RK_EINPUT, "%s: %s: not a dataset", path, h5path);
    hid_t t = H5Dget_type(*d), sp = H5Dget_space(*d);
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    int r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t hd[H5IO_RANK_MAX];
    double npoints = 1;
    if (r >= 0 && r <= H5IO_RANK_MAX && H5Sget_simple_extent_dims(sp, hd, NULL) >= 0)
        for (int i = 0; i < r; i++)
            npoints *= (double)hd[i];
    close_id(sp);
    rk_status st = RK_OK;
    if (cls != want_class)
        st = err_set(RK_EINPUT, "%s: %s: expected %s data", path, h5path,
                     want_class == H5T_INTEGER ? "integer" : "floating-point");
    else if (r < 0 || r > H5IO_RANK_MAX)
        st = err_set(RK_EINPUT, "%s: %s: unexpected rank %d", path, h5path, r);
    else
        st = r_check_stored(path, h5path, *d, 0, t, npoints);
    close_id(t);
    if (st) {
        close_id(*d);
        *d = -1;
        return st;
    }
    *rank = r;
    for (int i = 0; i < r; i++)
        dims[i] = (size_t)hd[i];
    return RK_OK;
}

static const char *dims_str(char *buf, size_t cap, int rank, const size_t *dims) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%zu", i ? "," : "", dims[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

/* Open an array and require its exact shape; `expect_desc` explains the shape in messages. */
static rk_status r_expect(const char *path, hid_t loc, const char *h5path, const char *name,
                          H5T_class_t cls, int rank, const size_t *dims, const char *expect_desc,
                          hid_t *d) {
    int r;
    size_t got[H5IO_RANK_MAX];
    rk_status st = r_open_array(path, loc, h5path, name, cls, d, &r, got);
    if (st) return st;
    int same = r == rank;
    for (int i = 0; same && i < rank; i++)
        same = got[i] == dims[i];
    if (!same) {
        char a[96], b[96];
        st = err_set(RK_EINPUT, "%s: %s: shape %s does not match %s %s", path, h5path,
                     dims_str(a, sizeof a, r, got), dims_str(b, sizeof b, rank, dims), expect_desc);
        close_id(*d);
        *d = -1;
    }
    return st;
}

static rk_status r_read(const char *path, const char *h5path, hid_t d, hid_t mtype, void *buf,
                        size_t count) {
    herr_t rc = count ? H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
    close_id(d);
    if (rc < 0)
        return err_set(RK_EINPUT, "%s: %s: cannot read data (corrupt or truncated file)", path,
                       h5path);
    return RK_OK;
}

/* Read one system group /systems/<name>. */
static rk_status r_system(const char *path, hid_t systems, const char *name, ds_system *s) {
    char hp[H5IO_PATH_MAX], desc[96];
    hid_t g = H5Gopen2(systems, name, H5P_DEFAULT);
    if (g < 0) return err_set(RK_EINPUT, "%s: /systems/%s: not a group", path, name);
    hid_t d = -1;
    int rank;
    size_t dims[H5IO_RANK_MAX];
    size_t na, nf;
    snprintf(hp, sizeof hp, "/systems/%s/type", name);
    rk_status st = r_open_array(path, g, hp, "type", H5T_INTEGER, &d, &rank, dims);
    if (!st && rank != 1)
        st = err_set(RK_EINPUT, "%s: %s: expected a 1-D array [natoms]", path, hp);
    close_id(d);
    d = -1;
    if (st) goto done;
    na = dims[0];
    snprintf(hp, sizeof hp, "/systems/%s/energy", name);
    st = r_open_array(path, g, hp, "energy", H5T_FLOAT, &d, &rank, dims);
    if (!st && rank != 1)
        st = err_set(RK_EINPUT, "%s: %s: expected a 1-D array [nframes]", path, hp);
    close_id(d);
    d = -1;
    if (st) goto done;
    nf = dims[0];
    size_t dna[1] = {na}, dnf[1] = {nf}, dxyz[3] = {nf, na, 3}, dbox[3] = {nf, 3, 3};
    /* every shape (and the data behind it) is checked before na and nf size the allocation */
    static const char *const per_atom[] = {"coord", "force"};
    for (int k = 0; k < 2 && !st; k++) {
        snprintf(desc, sizeof desc, "[nframes=%zu, natoms=%zu, 3]", nf, na);
        snprintf(hp, sizeof hp, "/systems/%s/%s", name, per_atom[k]);
        st = r_expect(path, g, hp, per_atom[k], H5T_FLOAT, 3, dxyz, desc, &d);
        close_id(d);
        d = -1;
    }
    if (st) goto done;
    if ((st = ds_system_alloc(s, name, na, nf))) goto done;

    snprintf(hp, sizeof hp, "/systems/%s/type", name);
    snprintf(desc, sizeof desc, "[natoms]");
    if ((st = r_expect(path, g, hp, "type", H5T_INTEGER, 1, dna, desc, &d))) goto done;
    if ((st = r_read(path, hp, d, H5T_NATIVE_INT32, s->type, na))) goto done;
    snprintf(hp, sizeof hp, "/systems/%s/energy", name);
    if ((st = r_expect(path, g, hp, "energy", H5T_FLOAT, 1, dnf, "[nframes]", &d))) goto done;
    if ((st = r_read(path, hp, d, H5T_NATIVE_DOUBLE, s->energy, nf))) goto done;
    snprintf(desc, sizeof desc, "[nframes=%zu, natoms=%zu, 3]", nf, na);
    snprintf(hp, sizeof hp, "/systems/%s/coord", name);
    if ((st = r_expect(path, g, hp, "coord", H5T_FLOAT, 3, dxyz, desc, &d))) goto done;
    if ((st = r_read(path, hp, d, H5T_NATIVE_DOUBLE, s->coord, nf * na * 3))) goto done;
    snprintf(hp, sizeof hp, "/systems/%s/force", name);
    if ((st = r_expect(path, g, hp, "force", H5T_FLOAT, 3, dxyz, desc, &d))) goto done;
    if ((st = r_read(path, hp, d, H5T_NATIVE_DOUBLE, s->force, nf * na * 3))) goto done;
    snprintf(desc, sizeof desc, "[nframes=%zu, 3, 3]", nf);
    snprintf(hp, sizeof hp, "/systems/%s/box", name);
    if ((st = r_expect(path, g, hp, "box", H5T_FLOAT, 3, dbox, desc, &d))) goto done;
    st = r_read(path, hp, d, H5T_NATIVE_DOUBLE, s->box, nf * 9);
done:
    close_id(g);
    if (st) ds_system_free(s); /* the caller counts only complete systems */
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Guarded reading of untrusted files                                                          */
/* ------------------------------------------------------------------------------------------ */

/* libhdf5 1.10 overflows buffers, dereferences wild pointers and loops for ever on some corrupt
 * files (fuzz/README.md), and no check of ours can run before it parses them. So a dataset or
 * model file is first read in a forked child by the very reader the caller then runs (for a
 * dataset, without the content checks of dataset_validate, which never reach libhdf5): the child
 * makes every HDF5 call, sends back the reader's status and message, and _exit()s. Only when the
 * child answers is the file read here; a child killed by a signal, stopped by the time limit or
 * exiting without an answer (a sanitizer report) makes the file an input error, without this
 * process ever handing the bytes to libhdf5. The child calls no OpenMP, so threads alive in the
 * parent do not matter (fork copies only the caller; glibc's malloc is fork-safe; Debian's
 * libhdf5 is built thread-safe, but its global lock is free at the fork because rlekf calls HDF5
 * only from the thread that reads), and it leaves
 * by _exit(), so neither libhdf5's exit cleanup nor LeakSanitizer runs there. Checkpoints
 * (h5io_arrays_read) are not guarded: rlekf writes them itself (atomically, see above) into its
 * own run folder, and a second read of a GEKF checkpoint would cost its gigabytes twice. */

/* Time limit of the child: a base plus a minimal reading speed, so a large file is never cut
 * short on a loaded machine; a corrupt file loops for ever. */
#define H5IO_GUARD_BASE_S 30.0
#define H5IO_GUARD_BYTES_PER_S (8.0 * 1024 * 1024)
/* The child's answer: one status byte and the message (err.c keeps messages shorter than this). */
#define H5IO_GUARD_MSG_MAX 4096
/* Memory the child may take beyond what it inherited: a base plus what the reader may need for
 * the data a file of that size can hold (double values from float32 storage shrunk by a filter,
 * see H5IO_FILTER_RATIO_MAX). A corrupt variable-length string can make libhdf5 allocate and fill
 * gigabytes (6.6 GB from a 3 kB file). Without a sanitizer the limit is the child's address space
 * (malloc then fails and the reader reports it); under one, whose shadow memory fills the address
 * space, a malloc hook ends the child on a single larger request. */
#define H5IO_GUARD_MEM_BASE (1024.0 * 1024 * 1024)
#define H5IO_GUARD_EXIT_MEM 86
/* The message of a file the child did not survive: "FILE: " this " CAUSE)". */
#define H5IO_GUARD_FAILED "corrupt HDF5 file (the HDF5 library failed reading it:"

static double guard_limit_s; /* 0: the default above */
static int guard_stderr;     /* 1: the child's stderr (sanitizer reports) is kept */

void h5io_guard_setup(double seconds, int child_stderr) {
    guard_limit_s = seconds > 0 ? seconds : 0;
    guard_stderr = child_stderr != 0;
}

/* Set by the sanitizer runtimes (ASan, UBSan, libFuzzer's use of them); absent otherwise. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));
extern int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *,
                                                                         size_t),
                                                     void (*free_hook)(const volatile void *))
    __attribute__((weak));

static size_t guard_alloc_max;

static void guard_malloc_hook(const volatile void *ptr, size_t size) {
    (void)ptr;
    if (size > guard_alloc_max) _exit(H5IO_GUARD_EXIT_MEM);
}

static void guard_free_hook(const volatile void *ptr) {
    (void)ptr;
}

/* The child's size of address space in bytes (0 if unknown). */
static double guard_vm_bytes(void) {
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    return strtod(buf, NULL) * (double)sysconf(_SC_PAGESIZE);
}

static double guard_budget(double file_bytes) {
    return H5IO_GUARD_MEM_BASE + 2.0 * H5IO_FILTER_RATIO_MAX * file_bytes;
}

static void guard_limit_memory(double budget) {
    if (__sanitizer_install_malloc_and_free_hooks) {
        guard_alloc_max = budget < (double)SIZE_MAX ? (size_t)budget : SIZE_MAX;
        __sanitizer_install_malloc_and_free_hooks(guard_malloc_hook, guard_free_hook);
        return;
    }
    double vm = guard_vm_bytes();
    if (vm <= 0) return;
    double lim = vm + budget;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0) return;
    if (rl.rlim_max != RLIM_INFINITY && lim > (double)rl.rlim_max) return;
    if (rl.rlim_cur != RLIM_INFINITY && lim > (double)rl.rlim_cur) return;
    rl.rlim_cur = lim < 1.8e19 ? (rlim_t)lim : RLIM_INFINITY;
    setrlimit(RLIMIT_AS, &rl);
}

typedef rk_status (*h5io_check_fn)(const char *path);

static void guard_write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w, n -= (size_t)w;
    }
}

static _Noreturn void guard_child(int fd, const char *path, double budget, double limit_s,
                                  pid_t parent, h5io_check_fn check) {
    /* dies with the caller; and if the caller is gone before that took effect, or cannot kill it
     * any more, a CPU-time limit ends an endless loop */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    struct rlimit cpu = {(rlim_t)ceil(limit_s) + 1, (rlim_t)ceil(limit_s) + 2};
    setrlimit(RLIMIT_CPU, &cpu);
    guard_limit_memory(budget);
    /* Handlers inherited from the caller (the runner's signal forwarding, libFuzzer's crash and
     * timeout handlers, which would record the input as a finding of the parent) do not apply:
     * a fault here kills this child. With a sanitizer, its own SIGSEGV/SIGBUS handler stays so
     * that the report names the frame, and its death callback (libFuzzer's) is dropped. */
    static const int sigs[] = {SIGABRT, SIGALRM, SIGFPE,  SIGILL,  SIGINT,  SIGTERM, SIGHUP,
                               SIGXFSZ, SIGXCPU, SIGUSR1, SIGUSR2, SIGPIPE, SIGTRAP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(NULL);
    else {
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
    }
    if (!guard_stderr) { /* the caller prints one line; a sanitizer's report is not it */
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0) dup2(null, STDERR_FILENO);
    }
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    err_clear();
    rk_status st = check(path);
    const char *msg = st ? err_msg() : "";
    size_t len = strnlen(msg, H5IO_GUARD_MSG_MAX - 2);
    char out[H5IO_GUARD_MSG_MAX];
    out[0] = (char)('0' + (int)st);
    memcpy(out + 1, msg, len);
    guard_write_all(fd, out, len + 1);
    _exit(0);
}

static double guard_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* What ended the child, for the message. */
static void guard_cause(char *buf, size_t cap, int wst, int timed_out, double limit,
                        double budget) {
    if (timed_out)
        snprintf(buf, cap, "no answer within %.0f s", limit);
    else if (WIFSIGNALED(wst)) {
        const char *name = sigabbrev_np(WTERMSIG(wst));
        if (name)
            snprintf(buf, cap, "SIG%s", name);
        else
            snprintf(buf, cap, "signal %d", WTERMSIG(wst));
    } else if (WIFEXITED(wst) && WEXITSTATUS(wst) == H5IO_GUARD_EXIT_MEM)
        snprintf(buf, cap, "asked for more than %.0f MiB at once", budget / 1048576);
    else if (WIFEXITED(wst))
        snprintf(buf, cap, "exit status %d without an answer", WEXITSTATUS(wst));
    else
        snprintf(buf, cap, "wait status %d", wst);
}

/* Runs check(path) in a child; RK_OK when it read the file without error, the reader's own status
 * and message when it found an error, RK_EINPUT "corrupt HDF5 file" when it did not survive. */
static rk_status guard_run(const char *path, h5io_check_fn check) {
    off_t size = 0;
    rk_status st = r_precheck(path, &size);
    if (st) return st;
    double limit = guard_limit_s > 0 ? guard_limit_s
                                     : H5IO_GUARD_BASE_S + (double)size / H5IO_GUARD_BYTES_PER_S;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return err_set(RK_ERUNTIME, "%s: cannot create a pipe to check the file: %s", path,
                       strerror(errno));
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return err_set(RK_ERUNTIME, "%s: cannot fork to check the file: %s", path, strerror(e));
    }
    if (pid == 0) {
        close(fds[0]);
        guard_child(fds[1], path, guard_budget((double)size), limit, parent, check);
    }
    close(fds[1]);
    char ans[H5IO_GUARD_MSG_MAX];
    size_t got = 0;
    int timed_out = 0;
    double deadline = guard_now() + limit;
    for (;;) {
        double left = deadline - guard_now();
        if (left <= 0) {
            timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        struct pollfd p = {fds[0], POLLIN, 0};
        int r = poll(&p, 1, (int)ceil(left * 1000));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue; /* the deadline is checked above */
        char tmp[1024];
        ssize_t n = read(fds[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* EOF: the child is gone */
        size_t keep = (size_t)n < sizeof ans - 1 - got ? (size_t)n : sizeof ans - 1 - got;
        memcpy(ans + got, tmp, keep);
        got += keep;
    }
    close(fds[0]);
    int wst = 0;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {
    }
    ans[got] = '\0';
    if (!timed_out && WIFEXITED(wst) && WEXITSTATUS(wst) == 0 && got >= 1 && ans[0] >= '0' &&
        ans[0] <= '0' + (int)RK_EDIVERGED) {
        rk_status cst = (rk_status)(ans[0] - '0');
        if (cst == RK_OK) return RK_OK;
        return err_set(cst, "%s", ans[1] ? ans + 1 : err_status_str(cst));
    }
    char cause[128];
    guard_cause(cause, sizeof cause, wst, timed_out, limit, guard_budget((double)size));
    return err_set(RK_EINPUT, "%s: " H5IO_GUARD_FAILED " %s)", path, cause);
}

int h5io_guard_failed(const char *msg) {
    return msg && strstr(msg, H5IO_GUARD_FAILED) != NULL;
}

static rk_status r_dataset(const char *path, hid_t file, dataset_t *ds) {
    rk_status st = r_check_format(path, file, H5IO_FORMAT_DATASET);
    if (st) return st;
    if ((st = r_type_map(path, file, &ds->type_map, &ds->ntypes))) return st;
    if (H5Lexists(file, "systems", H5P_DEFAULT) <= 0)
        return err_set(RK_EINPUT, "%s: /systems: missing", path);
    hid_t systems = H5Gopen2(file, "systems", H5P_DEFAULT);
    if (systems < 0) return err_set(RK_EINPUT, "%s: /systems: not a group", path);
    H5G_info_t info;
    if (H5Gget_info(systems, &info) < 0) {
        H5Gclose(systems);
        return err_set(RK_EINPUT, "%s: /systems: cannot list (corrupt file?)", path);
    }
    size_t n = (size_t)info.nlinks;
    ds->sys = rk_calloc(n ? n : 1, sizeof *ds->sys);
    if (!ds->sys) {
        H5Gclose(systems);
        return RK_ENOMEM;
    }
    for (size_t i = 0; i < n && !st; i++) {
        char name[DS_NAME_MAX];
        ssize_t len = H5Lget_name_by_idx(systems, ".", H5_INDEX_NAME, H5_ITER_INC, (hsize_t)i, name,
                                         sizeof name, H5P_DEFAULT);
        if (len < 0)
            st = err_set(RK_EINPUT, "%s: /systems: cannot read member %zu", path, i);
        else if ((size_t)len >= sizeof name)
            st = err_set(RK_EINPUT, "%s: /systems: member name of %zd characters is too long", path,
                         len);
        else if ((st = r_system(path, systems, name, &ds->sys[i])) == RK_OK)
            ds->nsystems++;
    }
    H5Gclose(systems);
    return st;
}

rk_status h5io_dataset_read_unguarded(const char *path, dataset_t *ds) {
    memset(ds, 0, sizeof *ds);
    hid_t file;
    rk_status st = r_open(path, &file);
    if (st) return st;
    st = r_dataset(path, file, ds);
    H5Fclose(file);
    if (!st) {
        dataset_sort(ds);
        st = dataset_validate(ds, path);
    }
    if (st) dataset_free(ds);
    return st;
}

/* In the guard's child: every HDF5 call of the reader, without the content checks that follow
 * them (dataset_validate, rlekf's own code, half the time of a read); the child exits right
 * after, so nothing is freed. */
static rk_status dataset_check(const char *path) {
    dataset_t ds;
    memset(&ds, 0, sizeof ds);
    hid_t file;
    rk_status st = r_open(path, &file);
    if (st) return st;
    st = r_dataset(path, file, &ds);
    H5Fclose(file);
    return st;
}

rk_status h5io_dataset_read(const char *path, dataset_t *ds) {
    memset(ds, 0, sizeof *ds);
    rk_status st = guard_run(path, dataset_check);
    return st ? st : h5io_dataset_read_unguarded(path, ds);
}

/* A float64 array of exact shape, allocated and read, then checked finite. */
static rk_status r_f64_alloc(const char *path, hid_t loc, const char *h5path, const char *name,
                             int rank, const size_t *dims, const char *desc, double **out) {
    *out = NULL;
    hid_t d;
    rk_status st = r_expect(path, loc, h5path, name, H5T_FLOAT, rank, dims, desc, &d);
    if (st) return st;
    size_t count = 1;
    for (int i = 0; i < rank; i++)
        count *= dims[i];
    double *buf = rk_malloc(count * sizeof *buf);
    if (!buf) {
        close_id(d);
        return RK_ENOMEM;
    }
    if ((st = r_read(path, h5path, d, H5T_NATIVE_DOUBLE, buf, count))) {
        free(buf);
        return st;
    }
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(buf[i])) {
            st = err_set(RK_EINPUT, "%s: %s[%zu] is %g (not finite)", path, h5path, i, buf[i]);
            free(buf);
            return st;
        }
    }
    *out = buf;
    return RK_OK;
}

static rk_status r_model(const char *path, hid_t file, h5io_model_rec *rec) {
    rk_status st = r_check_format(path, file, H5IO_FORMAT_MODEL);
    if (st) return st;
    if ((st = r_attr_str(path, file, "config", &rec->config_json))) return st;
    if (H5Aexists(file, H5IO_ATTR_SPLIT) > 0 &&
        (st = r_attr_str(path, file, H5IO_ATTR_SPLIT, &rec->split_json)))
        return st;
    if ((st = r_type_map(path, file, &rec->type_map, &rec->ntypes))) return st;
    size_t dstat[2] = {rec->ntypes, 4};
    char desc[64];
    snprintf(desc, sizeof desc, "[ntypes=%zu, 4]", rec->ntypes);
    if (H5Lexists(file, "stat", H5P_DEFAULT) <= 0)
        return err_set(RK_EINPUT, "%s: /stat: missing", path);
    hid_t g = H5Gopen2(file, "stat", H5P_DEFAULT);
    if (g < 0) return err_set(RK_EINPUT, "%s: /stat: not a group", path);
    st = r_f64_alloc(path, g, "/stat/avg", "avg", 2, dstat, desc, &rec->avg);
    if (!st) st = r_f64_alloc(path, g, "/stat/std", "std", 2, dstat, desc, &rec->std);
    H5Gclose(g);
    if (st) return st;
    hid_t d;
    int rank;
    size_t dims[H5IO_RANK_MAX];
    if ((st = r_open_array(path, file, "/params", "params", H5T_FLOAT, &d, &rank, dims))) return st;
    close_id(d);
    if (rank != 1 || dims[0] == 0)
        return err_set(RK_EINPUT, "%s: /params: expected a non-empty 1-D array", path);
    rec->n_params = dims[0];
    return r_f64_alloc(path, file, "/params", "params", 1, dims, "[n_params]", &rec->params);
}

rk_status h5io_model_read_unguarded(const char *path, h5io_model_rec *rec) {
    memset(rec, 0, sizeof *rec);
    hid_t file;
    rk_status st = r_open(path, &file);
    if (st) return st;
    st = r_model(path, file, rec);
    H5Fclose(file);
    if (st) h5io_model_rec_free(rec);
    return st;
}

static rk_status model_check(const char *path) {
    h5io_model_rec rec;
    return h5io_model_read_unguarded(path, &rec);
}

rk_status h5io_model_read(const char *path, h5io_model_rec *rec) {
    memset(rec, 0, sizeof *rec);
    rk_status st = guard_run(path, model_check);
    return st ? st : h5io_model_read_unguarded(path, rec);
}

void h5io_model_rec_free(h5io_model_rec *rec) {
    free(rec->config_json);
    free(rec->split_json);
    free(rec->type_map);
    free(rec->avg);
    free(rec->std);
    free(rec->params);
    memset(rec, 0, sizeof *rec);
}

/* ------------------------------------------------------------------------------------------ */
/* Named arrays (checkpoints)                                                                  */
/* ------------------------------------------------------------------------------------------ */

static void arr_types(h5io_type t, hid_t *ftype, hid_t *mtype, size_t *esize) {
    switch (t) {
    case H5IO_F32:
        *ftype = H5T_IEEE_F32LE, *mtype = H5T_NATIVE_FLOAT, *esize = sizeof(float);
        return;
    case H5IO_U64:
        *ftype = H5T_STD_U64LE, *mtype = H5T_NATIVE_UINT64, *esize = sizeof(uint64_t);
        return;
    case H5IO_U8:
        *ftype = H5T_STD_U8LE, *mtype = H5T_NATIVE_UINT8, *esize = 1;
        return;
    case H5IO_F64:
    default:
        *ftype = H5T_IEEE_F64LE, *mtype = H5T_NATIVE_DOUBLE, *esize = sizeof(double);
        return;
    }
}

rk_status h5io_arrays_write(const char *path, const char *kind, const h5io_array *a, size_t n) {
    h5w w;
    rk_status st = w_open(&w, path);
    if (st) return st;
    st = w_attr_str(&w, w.file, "format", H5IO_FORMAT_ARRAYS);
    if (!st) st = w_attr_int(&w, w.file, "version", H5IO_VERSION);
    if (!st) st = w_attr_str(&w, w.file, "kind", kind);
    for (size_t i = 0; !st && i < n; i++) {
        hid_t ft, mt;
        size_t es;
        arr_types(a[i].type, &ft, &mt, &es);
        size_t dn[1] = {a[i].n};
        st = w_array(&w, w.file, a[i].name, ft, mt, a[i].data, 1, dn);
    }
    return w_finish(&w, st);
}

static rk_status r_arrays(const char *path, hid_t file, const char *kind, h5io_array *a, size_t n) {
    rk_status st = r_check_format(path, file, H5IO_FORMAT_ARRAYS);
    if (st) return st;
    char *k = NULL;
    if ((st = r_attr_str(path, file, "kind", &k))) return st;
    if (strcmp(k, kind) != 0) st = err_set(RK_EINPUT, "%s: holds a %s, not a %s", path, k, kind);
    free(k);
    for (size_t i = 0; !st && i < n; i++) {
        hid_t ft, mt, d;
        size_t es, dims[H5IO_RANK_MAX];
        int rank;
        arr_types(a[i].type, &ft, &mt, &es);
        char h5path[H5IO_PATH_MAX];
        snprintf(h5path, sizeof h5path, "/%s", a[i].name);
        H5T_class_t cls = a[i].type == H5IO_F64 || a[i].type == H5IO_F32 ? H5T_FLOAT : H5T_INTEGER;
        if ((st = r_open_array(path, file, h5path, a[i].name, cls, &d, &rank, dims))) break;
        if (rank != 1) {
            close_id(d);
            st = err_set(RK_EINPUT, "%s: %s: expected a 1-D array, rank %d", path, h5path, rank);
            break;
        }
        if (a[i].data && dims[0] != a[i].n) {
            close_id(d);
            st = err_set(RK_EINPUT, "%s: %s: %zu elements, expected %zu", path, h5path, dims[0],
                         a[i].n);
            break;
        }
        if (!a[i].data) {
            a[i].n = dims[0];
            a[i].data = rk_calloc(dims[0] + 1, es);
            if (!a[i].data) {
                close_id(d);
                st = RK_ENOMEM;
                break;
            }
        }
        st = r_read(path, h5path, d, mt, a[i].data, dims[0]);
    }
    return st;
}

rk_status h5io_arrays_read(const char *path, const char *kind, h5io_array *a, size_t n) {
    hid_t file;
    rk_status st = r_open(path, &file);
    if (st) return st;
    st = r_arrays(path, file, kind, a, n);
    H5Fclose(file);
    return st;
}

long h5io_open_ids(void) {
    if (H5open() < 0) return -1;
    ssize_t n = H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
    return n < 0 ? -1 : (long)n;
}
