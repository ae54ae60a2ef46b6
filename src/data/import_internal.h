/* import_internal: the importer type and the helpers every importer shares (import_util.c); not
 * part of the public interface (see import.h).
 *
 * Flow: each import_<format>.c defines one const import_type (its name, what --format auto looks
 * for, its reader) and calls only the helpers below; import_registry.c is the one table naming
 * every importer; import.c (detection and dispatch) walks that table. Adding a format is one file
 * and one line of the table.
 *
 * imp_grow: a system whose frames are appended one at a time (capacity doubles), for formats whose
 * frame count is only known at the end. imp_groups: systems keyed by (natoms, type sequence),
 * for formats that mix structures of different sizes in one file (mlearn, extxyz).
 */
#ifndef RLEKF_IMPORT_INTERNAL_H
#define RLEKF_IMPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "err.h"
#include "import.h"

#define IMP_PATH_MAX 4096

/* ---- the importer type ---- */
/* What a source of a format is on disk. */
typedef enum { IMP_SOURCE_FILE, IMP_SOURCE_DIR } imp_source;

struct import_type {
    const char *name; /* --format name, also the label in provenance strings */
    const char *help; /* one line for `rlekf import --help` */
    imp_source source;
    /* --format auto. A directory is searched (imp_walk) for the first directory that some
     * is_system_dir accepts; the first importer of the table accepting it wins. A file is claimed
     * by the first importer one of whose suffixes (case-insensitive; NULL-terminated list) ends its
     * name, else by the first whose sniff accepts its first non-blank line. NULL members: that
     * clue is not used. is_system_dir is also the predicate of the reader's own search. */
    int (*is_system_dir)(const char *dir);
    const char *const *suffixes;
    int (*sniff)(const char *first_line);
    /* Append the systems of the source at path to dst (path has the kind `source` says). */
    rk_status (*read)(const char *path, const import_opts *o, dataset_t *dst);
};

/* ---- type ids ---- */
/* Type id of an element symbol in dst, registering it unless the map is fixed. `ctx` (file and
 * line or key) prefixes error messages. */
rk_status imp_type_id(dataset_t *dst, const import_opts *o, const char *symbol, const char *ctx,
                      int32_t *id);

/* ---- systems ---- */
/* Validate s (with `src` as context), check its name is new in dst, and move it into dst.
 * Ownership of s's arrays always passes (they are freed on failure). */
rk_status imp_add_system(dataset_t *dst, ds_system *s, const char *src);

typedef struct {
    ds_system s; /* s.nframes = frames appended so far */
    size_t cap;  /* frames allocated */
} imp_grow;

rk_status imp_grow_init(imp_grow *g, const char *name, size_t natoms, const int32_t *type);
/* Reserve the next frame; pointers to its box (9), coord (3 natoms), force (3 natoms), energy. */
rk_status imp_grow_push(imp_grow *g, double **box, double **coord, double **force, double **energy);
void imp_grow_free(imp_grow *g);

typedef struct {
    char stem[DS_NAME_MAX];
    imp_grow *g;
    size_t n, cap;
} imp_groups;

void imp_groups_init(imp_groups *gs, const char *stem);
/* The group of (natoms, type): an existing one or a new one named "<stem>.n<natoms>" (a second
 * type sequence with the same count gets "<stem>.n<natoms>_2", and so on). */
rk_status imp_groups_get(imp_groups *gs, size_t natoms, const int32_t *type, imp_grow **out);
/* Move every group into dst (file order of first appearance); frees gs. */
rk_status imp_groups_commit(imp_groups *gs, dataset_t *dst, const char *src);
void imp_groups_free(imp_groups *gs);

/* ---- files and text ---- */
/* (Regular files: fs_is_file and fs_read_all of fs.h.) */
int imp_is_dir(const char *path);
/* a + "/" + b into buf (RK_EINPUT if too long). */
rk_status imp_join(char *buf, size_t cap, const char *a, const char *b);
/* Last path component without trailing slashes ("data/H2O/data_0/" -> "data_0"). */
void imp_basename(const char *path, char *buf, size_t cap);
/* Basename without its last extension ("Si/training.json" -> "training"). */
void imp_stem(const char *path, char *buf, size_t cap);
/* Sorted names of the entries of a directory (not "." or ".."), optionally only those starting
 * with prefix. Free with imp_names_free. */
rk_status imp_list_dir(const char *dir, const char *prefix, char ***names, size_t *n);
void imp_names_free(char **names, size_t n);

/* Line iterator over a mutable text buffer: each call NUL-terminates and returns the next line
 * (without '\n' or '\r'), or NULL at the end; lineno is 1-based. */
typedef struct {
    char *p, *end;
    size_t lineno;
} imp_lines;
void imp_lines_init(imp_lines *it, char *text, size_t len);
char *imp_lines_next(imp_lines *it);

/* Parse up to n doubles from s (whitespace separated); returns how many were parsed. *rest (may
 * be NULL) points after the last one. */
size_t imp_parse_doubles(const char *s, double *out, size_t n, const char **rest);
/* True if s holds only whitespace. */
int imp_blank(const char *s);
/* Copy at most 60 characters of a line for an error message. */
const char *imp_excerpt(const char *line, char *buf, size_t cap);

/* Cartesian = fractional · cell, cell rows a, b, c: r_j = sum_k f_k cell[k][j]. */
void imp_frac_to_cart(const double *cell, const double *frac, double *cart, size_t natoms);

/* ---- directory search ---- */
/* Depth-first search under root (sorted order) for directories accepted by `is_system`; calls
 * visit(dir, name) with name = path relative to root with '/' replaced by '.', or root's basename
 * if root itself is accepted. *found counts the visits. */
rk_status imp_walk(const char *root, int (*is_system)(const char *dir),
                   rk_status (*visit)(const char *dir, const char *name, void *ctx), void *ctx,
                   size_t *found);

#endif
