/* fuzz_harness: raw bytes -> files in a temporary directory -> one public reader -> contract check
 * (see fuzz_harness.h). Shared by the libFuzzer targets (fuzz_main.c) and the Criterion replay
 * of tests/data/fuzz/ (tests/test_fuzz_regressions.c), so a saved input is replayed through
 * exactly the code that found it.
 */
#include "fuzz_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "dataset.h"
#include "h5io.h"
#include "import.h"
#include "manifest.h"
#include "npy.h"
#include "train.h"

/* Longest path of a file in the temporary directory. */
#define FUZZ_PATH_MAX 1024
/* Most files a target's table names. */
#define FUZZ_FILES_MAX 24
/* Longest --type-map list taken from an input (real lists are a few symbols). */
#define FUZZ_TYPE_MAP_MAX 64
/* Cells of a manifest whose configuration is resolved after a successful load (bounds the time
 * one input can take; the resolution of a cell does not depend on its index beyond these). */
#define FUZZ_CELLS_MAX 256
/* Longest file name after a separator. */
#define FUZZ_NAME_MAX 64
/* Table entries starting with this character are options, not files. */
#define FUZZ_OPTION_MARK '@'
/* The option holding a --type-map list for the importers. */
#define FUZZ_TYPE_MAP_OPTION "@type_map"

/* What a reader gets: the path to read (directory or file 0) and the option values. */
typedef struct {
    const char *path;
    const char *type_map; /* NULL: no --type-map */
} fuzz_input;

typedef rk_status (*fuzz_entry)(const fuzz_input *in);

struct fuzz_target {
    const char *name;
    /* File names relative to the temporary directory (a trailing '/' makes an empty directory,
     * a leading '@' an option); file 0 receives the bytes before the first separator. */
    const char *files[FUZZ_FILES_MAX];
    int pass_dir; /* 1: the reader gets the directory, 0: the path of file 0 */
    fuzz_entry run;
};

/* ---- contract violations ---- */

static void fuzz_fail(const char *target, const char *what) {
    fprintf(stderr, "fuzz target %s: contract broken: %s\n", target, what);
    abort();
}

/* ---- readers ---- */

/* A registered importer by name (the registry is the only table naming them). */
static import_format fmt_of(const char *name) {
    import_format f = IMPORT_AUTO;
    if (import_format_parse(name, &f) != RK_OK || !f) abort();
    return f;
}

static rk_status import_as(const fuzz_input *in, import_format fmt) {
    dataset_t ds = {0};
    import_opts o = {fmt, 0};
    rk_status st = RK_OK;
    if (in->type_map) {
        st = import_set_type_map(&ds, in->type_map);
        o.type_map_fixed = 1;
    }
    if (!st) st = import_source(in->path, &o, &ds, NULL);
    if (!st) {
        /* every imported system was validated on its own; the whole must be valid too */
        dataset_sort(&ds);
        if (dataset_validate(&ds, in->path) != RK_OK)
            fuzz_fail(import_format_name(fmt),
                      "import succeeded but the dataset does not validate");
    }
    dataset_free(&ds);
    return st;
}

static rk_status run_movement(const fuzz_input *in) {
    return import_as(in, fmt_of("movement"));
}
static rk_status run_deepmd(const fuzz_input *in) {
    return import_as(in, fmt_of("deepmd"));
}
static rk_status run_deepmd_raw(const fuzz_input *in) {
    return import_as(in, fmt_of("deepmd-raw"));
}
static rk_status run_pwdata(const fuzz_input *in) {
    return import_as(in, fmt_of("pwdata"));
}
static rk_status run_extxyz(const fuzz_input *in) {
    return import_as(in, fmt_of("extxyz"));
}
static rk_status run_mlearn(const fuzz_input *in) {
    return import_as(in, fmt_of("mlearn"));
}

static rk_status run_npy(const fuzz_input *in) {
    npy_array a;
    rk_status st = npy_read(in->path, &a);
    if (!st) {
        size_t count = 1;
        for (size_t i = 0; i < a.ndim; i++)
            count *= a.shape[i];
        if (count != a.count || (a.is_integer ? !a.i64 : !a.f64))
            fuzz_fail("npy", "npy_read succeeded with an inconsistent array");
        char shp[256];
        npy_shape_str(&a, shp, sizeof shp);
    }
    npy_free(&a);
    return st;
}

static rk_status run_config(const fuzz_input *in) {
    train_config tc;
    config_data data;
    config_default(&tc);
    rk_status st = config_load(in->path, &tc, &data);
    if (!st) free(config_to_json(&tc));
    return st;
}

static rk_status run_manifest(const fuzz_input *in) {
    manifest_t m;
    rk_status st = manifest_load(in->path, &m);
    if (st) return st;
    size_t n = manifest_n_cells(&m);
    for (size_t k = 0; k < n && k < FUZZ_CELLS_MAX; k++) {
        train_config tc;
        char dir[4 * TRAIN_PATH_MAX];
        (void)manifest_cell_applies(&m, k);
        manifest_cell_config(&m, k, "dataset.h5", &tc);
        manifest_cell_dir(&m, k, dir, sizeof dir);
        free(config_to_json(&tc));
    }
    manifest_free(&m);
    return RK_OK;
}

/* The HDF5 readers first read the file in a child (h5io.h), which libhdf5 may crash on a corrupt
 * file; the child's time limit must be below libFuzzer's -timeout (fuzz/run.sh: 10 s). When the
 * child survived, the file is read again in-process without the child, so that coverage feedback
 * and the sanitizers see rlekf's reader code, and the two answers must agree. */
#define FUZZ_H5_GUARD_S 4.0

static void h5_agree(const char *target, rk_status guarded, const char *guarded_msg,
                     rk_status direct) {
    if (direct != guarded || (guarded && strcmp(guarded_msg, err_msg()) != 0)) {
        char msg[512];
        snprintf(msg, sizeof msg, "guarded read gave %d '%.200s', direct read %d '%.200s'",
                 (int)guarded, guarded ? guarded_msg : "", (int)direct, direct ? err_msg() : "");
        fuzz_fail(target, msg);
    }
}

static rk_status run_h5dataset(const fuzz_input *in) {
    dataset_t ds;
    h5io_guard_setup(FUZZ_H5_GUARD_S, 1);
    rk_status st = h5io_dataset_read(in->path, &ds);
    dataset_free(&ds);
    if (st && h5io_guard_failed(err_msg())) return st;
    char *msg = strdup(err_msg());
    rk_status again = h5io_dataset_read_unguarded(in->path, &ds);
    dataset_free(&ds);
    h5_agree("h5dataset", st, msg ? msg : "", again);
    free(msg);
    return st;
}

static rk_status run_h5model(const fuzz_input *in) {
    h5io_model_rec rec;
    h5io_guard_setup(FUZZ_H5_GUARD_S, 1);
    rk_status st = h5io_model_read(in->path, &rec);
    h5io_model_rec_free(&rec);
    if (st && h5io_guard_failed(err_msg())) return st;
    char *msg = strdup(err_msg());
    rk_status again = h5io_model_read_unguarded(in->path, &rec);
    h5io_model_rec_free(&rec);
    h5_agree("h5model", st, msg ? msg : "", again);
    free(msg);
    return st;
}

/* ---- the targets ---- */

/* The files of a DeePMD npy set, a DeePMD raw system and a pwdata system under prefix s. */
#define SET_FILES(s) s "box.npy", s "coord.npy", s "energy.npy", s "force.npy"
#define RAW_FILES(s) s "coord.raw", s "box.raw", s "energy.raw", s "force.raw"
#define PW_FILES(s)                                                                                \
    s "image_type.npy", s "energies.npy", s "forces.npy", s "position.npy", s "lattice.npy"

static const fuzz_target targets[] = {
    {"movement", {"MOVEMENT", FUZZ_TYPE_MAP_OPTION}, 0, run_movement},
    {"deepmd",
     {"type.raw", "type_map.raw", SET_FILES("set.000/"), SET_FILES("set.001/"), "set.002/", "nopbc",
      "sub/type.raw", "sub/type_map.raw", SET_FILES("sub/set.000/"), FUZZ_TYPE_MAP_OPTION},
     1,
     run_deepmd},
    {"deepmd_raw",
     {"type.raw", "type_map.raw", RAW_FILES(""), "nopbc", "sub/type.raw", "sub/type_map.raw",
      RAW_FILES("sub/"), FUZZ_TYPE_MAP_OPTION},
     1,
     run_deepmd_raw},
    {"pwdata",
     {PW_FILES(""), "atom_type.npy", PW_FILES("valid/"), FUZZ_TYPE_MAP_OPTION},
     1,
     run_pwdata},
    {"extxyz", {"frames.xyz", FUZZ_TYPE_MAP_OPTION}, 0, run_extxyz},
    {"mlearn", {"structures.json", FUZZ_TYPE_MAP_OPTION}, 0, run_mlearn},
    {"npy", {"array.npy"}, 0, run_npy},
    {"config", {"train.json"}, 0, run_config},
    {"manifest", {"exp.json"}, 0, run_manifest},
    {"h5dataset", {"dataset.h5"}, 0, run_h5dataset},
    {"h5model", {"model.h5"}, 0, run_h5model},
};
#define N_TARGETS (sizeof targets / sizeof targets[0])

const fuzz_target *fuzz_target_find(const char *name) {
    for (size_t i = 0; i < N_TARGETS; i++)
        if (strcmp(targets[i].name, name) == 0) return &targets[i];
    return NULL;
}

size_t fuzz_target_count(void) {
    return N_TARGETS;
}

const char *fuzz_target_name(size_t i) {
    return i < N_TARGETS ? targets[i].name : NULL;
}

size_t fuzz_target_nfiles(const fuzz_target *t) {
    size_t n = 0;
    while (n < FUZZ_FILES_MAX && t->files[n])
        n++;
    return n;
}

const char *fuzz_target_file(const fuzz_target *t, size_t k) {
    return k < fuzz_target_nfiles(t) ? t->files[k] : NULL;
}

/* ---- the temporary directory ---- */

static char tmp_root[FUZZ_PATH_MAX];

static void tmp_path(char *buf, const char *rel) {
    int n = snprintf(buf, FUZZ_PATH_MAX, "%s/%s", tmp_root, rel);
    if (n < 0 || n >= FUZZ_PATH_MAX) fuzz_fail("harness", "temporary path too long");
}

/* Remove every file and directory a table may have created: files first, then every directory
 * prefix of an entry, deepest first (entries list a directory's files before its parent's). */
static void remove_files(const fuzz_target *t) {
    char p[FUZZ_PATH_MAX], rel[FUZZ_PATH_MAX];
    size_t nf = fuzz_target_nfiles(t);
    for (size_t k = 0; k < nf; k++) {
        const char *f = t->files[k];
        if (f[0] == FUZZ_OPTION_MARK || f[strlen(f) - 1] == '/') continue;
        tmp_path(p, f);
        unlink(p);
    }
    for (size_t k = 0; k < nf; k++) {
        const char *f = t->files[k];
        if (f[0] == FUZZ_OPTION_MARK) continue;
        for (size_t i = strlen(f); i-- > 0;) {
            if (f[i] != '/') continue;
            memcpy(rel, f, i);
            rel[i] = '\0';
            tmp_path(p, rel);
            rmdir(p); /* fails (harmlessly) while another entry still has files in it */
        }
    }
    for (size_t k = nf; k-- > 0;) { /* second pass: parents emptied by the first */
        const char *f = t->files[k];
        if (f[0] == FUZZ_OPTION_MARK) continue;
        for (size_t i = strlen(f); i-- > 0;) {
            if (f[i] != '/') continue;
            memcpy(rel, f, i);
            rel[i] = '\0';
            tmp_path(p, rel);
            rmdir(p);
        }
    }
}

void fuzz_cleanup(void) {
    if (!tmp_root[0]) return;
    for (size_t i = 0; i < N_TARGETS; i++)
        remove_files(&targets[i]);
    rmdir(tmp_root);
    tmp_root[0] = '\0';
}

static void ensure_root(void) {
    if (tmp_root[0]) return;
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    int n = snprintf(tmp_root, sizeof tmp_root, "%s/rlekf-fuzz-XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof tmp_root || !mkdtemp(tmp_root)) {
        fprintf(stderr, "fuzz harness: cannot create a temporary directory under %s: %s\n", base,
                strerror(errno));
        abort();
    }
    atexit(fuzz_cleanup);
}

/* mkdir of every parent directory of rel (and of rel itself if it ends in '/'). */
static void make_parents(const char *rel) {
    char sub[FUZZ_PATH_MAX], p[FUZZ_PATH_MAX];
    for (size_t i = 0; rel[i]; i++) {
        if (rel[i] != '/') continue;
        memcpy(sub, rel, i);
        sub[i] = '\0';
        tmp_path(p, sub);
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            fuzz_fail("harness", "cannot create a directory");
    }
}

static void write_file(const char *rel, const uint8_t *data, size_t size) {
    char p[FUZZ_PATH_MAX];
    make_parents(rel);
    if (rel[strlen(rel) - 1] == '/') return;
    tmp_path(p, rel);
    FILE *f = fopen(p, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        fuzz_fail("harness", "cannot write an input file");
}

/* Position of the next separator at or after `from`, or size. */
static size_t next_separator(const uint8_t *data, size_t size, size_t from) {
    for (size_t i = from; i + FUZZ_SEPARATOR_LEN <= size; i++)
        if (memcmp(data + i, FUZZ_SEPARATOR, FUZZ_SEPARATOR_LEN) == 0) return i;
    return size;
}

/* Index of the table entry named by the n bytes at name, or nf if none. */
static size_t file_index(const fuzz_target *t, size_t nf, const uint8_t *name, size_t n) {
    for (size_t k = 0; k < nf; k++)
        if (strlen(t->files[k]) == n && memcmp(t->files[k], name, n) == 0) return k;
    return nf;
}

rk_status fuzz_target_run(const fuzz_target *t, const uint8_t *data, size_t size) {
    ensure_root();
    size_t nf = fuzz_target_nfiles(t);
    /* parts: the bytes before the first separator are file 0; "#FZ:<name>\n" starts file
     * <name> (unknown names are dropped); a later part for a file replaces an earlier one */
    size_t start[FUZZ_FILES_MAX], len[FUZZ_FILES_MAX];
    int given[FUZZ_FILES_MAX] = {0};
    int multi = nf > 1;
    size_t k = 0, pos = 0;
    for (;;) {
        size_t end = multi ? next_separator(data, size, pos) : size;
        if (k < nf && (k > 0 || end > 0 || !multi)) { /* an empty leading part: no file 0 */
            start[k] = pos;
            len[k] = end - pos;
            given[k] = 1;
        }
        if (end == size) break;
        size_t name = end + FUZZ_SEPARATOR_LEN, stop = name;
        while (stop < size && stop - name <= FUZZ_NAME_MAX && data[stop] != '\n')
            stop++;
        k = stop < size && data[stop] == '\n' ? file_index(t, nf, data + name, stop - name) : nf;
        pos = stop < size ? stop + 1 : size;
    }
    char type_map[FUZZ_TYPE_MAP_MAX + 1];
    fuzz_input in = {NULL, NULL};
    for (size_t i = 0; i < nf; i++) {
        if (!given[i]) continue;
        if (strcmp(t->files[i], FUZZ_TYPE_MAP_OPTION) == 0) {
            size_t n = len[i] < FUZZ_TYPE_MAP_MAX ? len[i] : FUZZ_TYPE_MAP_MAX;
            memcpy(type_map, data + start[i], n);
            type_map[n] = '\0';
            in.type_map = type_map;
        } else {
            write_file(t->files[i], data + start[i], len[i]);
        }
    }
    char path[FUZZ_PATH_MAX];
    if (t->pass_dir)
        snprintf(path, sizeof path, "%s", tmp_root);
    else
        tmp_path(path, t->files[0]);
    in.path = path;

    long ids_before = h5io_open_ids();
    err_clear();
    rk_status st = t->run(&in);
    char msg[256];
    if (st != RK_OK && st != RK_EINPUT) {
        snprintf(msg, sizeof msg, "status '%s' (expected ok or input error): %.160s",
                 err_status_str(st), err_msg());
        fuzz_fail(t->name, msg);
    }
    if (st != RK_OK && strcmp(err_msg(), "unknown error") == 0)
        fuzz_fail(t->name, "an input error without a message");
    long ids_after = h5io_open_ids();
    if (ids_after != ids_before) {
        snprintf(msg, sizeof msg, "%ld HDF5 identifiers open before the call, %ld after",
                 ids_before, ids_after);
        fuzz_fail(t->name, msg);
    }
    remove_files(t);
    return st;
}
