/* import_deepmd: DeePMD-kit system directories, npy ("deepmd") and raw text ("deepmd-raw").
 *
 * Layout of a system directory: type.raw (one integer type per atom), optional type_map.raw (one
 * element symbol per type; without it the user's --type-map is indexed by the type), and either
 * set.NNN/ folders with box.npy (nf,9), coord.npy (nf,3na), energy.npy (nf), force.npy (nf,3na),
 * or box.raw, coord.raw, energy.raw, force.raw text files with one frame per line. All sets of a
 * directory are concatenated in name order into one system named after the directory. Values are
 * Cartesian Å, eV and physical forces F = -dE/dR already; float32 files are widened exactly.
 * A directory that is not itself a system is searched recursively for systems.
 */
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "import_internal.h"
#include "npy.h"

static int is_deepmd_dir(const char *dir) {
    char p[IMP_PATH_MAX];
    if (imp_join(p, sizeof p, dir, "type.raw") || !fs_is_file(p)) return 0;
    char **names;
    size_t n;
    if (imp_list_dir(dir, "set.", &names, &n)) return 0;
    int any = 0;
    for (size_t i = 0; i < n && !any; i++)
        any = !imp_join(p, sizeof p, dir, names[i]) && imp_is_dir(p);
    imp_names_free(names, n);
    return any;
}

static int is_deepmd_raw_dir(const char *dir) {
    char p[IMP_PATH_MAX], q[IMP_PATH_MAX];
    return !imp_join(p, sizeof p, dir, "type.raw") && fs_is_file(p) &&
           !imp_join(q, sizeof q, dir, "coord.raw") && fs_is_file(q);
}

/* type.raw: non-negative integers separated by whitespace. */
static rk_status read_type_raw(const char *dir, long **types, size_t *natoms) {
    char path[IMP_PATH_MAX];
    rk_status st = imp_join(path, sizeof path, dir, "type.raw");
    char *text;
    size_t len;
    if (st || (st = fs_read_all(path, &text, &len))) return st;
    long *v = NULL;
    size_t n = 0, cap = 0, line = 1;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            if (*p == '\n') line++;
            p++;
        }
        if (!*p) break;
        char *e;
        long t = strtol(p, &e, 10);
        if (e == p || t < 0 || (*e && *e != ' ' && *e != '\t' && *e != '\r' && *e != '\n')) {
            char ex[80];
            st = err_set(RK_EINPUT, "%s line %zu: expected a non-negative integer type, got '%s'",
                         path, line, imp_excerpt(p, ex, sizeof ex));
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            long *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                st = err_set(RK_ENOMEM, "out of memory reading %s", path);
                break;
            }
            v = nv;
        }
        v[n++] = t;
        p = e;
    }
    free(text);
    if (!st && n == 0) st = err_set(RK_EINPUT, "%s: no atom types: the system has 0 atoms", path);
    if (st) {
        free(v);
        return st;
    }
    *types = v;
    *natoms = n;
    return RK_OK;
}

/* type_map.raw (optional): element symbols separated by whitespace. *n = 0 if absent. */
static rk_status read_type_map_raw(const char *dir, char (**syms)[DS_SYMBOL_MAX], size_t *n) {
    *syms = NULL;
    *n = 0;
    char path[IMP_PATH_MAX];
    rk_status st = imp_join(path, sizeof path, dir, "type_map.raw");
    if (st || !fs_is_file(path)) return st;
    char *text;
    size_t len;
    if ((st = fs_read_all(path, &text, &len))) return st;
    char(*v)[DS_SYMBOL_MAX] = NULL;
    size_t cnt = 0;
    char *save = NULL;
    for (char *tok = strtok_r(text, " \t\r\n", &save); tok;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (strlen(tok) >= DS_SYMBOL_MAX) {
            st = err_set(RK_EINPUT, "%s: entry %zu '%.20s' is not an element symbol", path, cnt,
                         tok);
            break;
        }
        char(*nv)[DS_SYMBOL_MAX] = realloc(v, (cnt + 1) * sizeof *nv);
        if (!nv) {
            st = err_set(RK_ENOMEM, "out of memory reading %s", path);
            break;
        }
        v = nv;
        strcpy(v[cnt++], tok);
    }
    free(text);
    if (st) {
        free(v);
        return st;
    }
    *syms = v;
    *n = cnt;
    return RK_OK;
}

/* Map DeePMD type indices to dataset type ids (registered in type_map.raw order). */
static rk_status map_types(const char *dir, const long *raw, size_t natoms, const import_opts *o,
                           dataset_t *dst, int32_t *out) {
    char(*tmr)[DS_SYMBOL_MAX];
    size_t ntm;
    rk_status st = read_type_map_raw(dir, &tmr, &ntm);
    if (st) return st;
    char tpath[IMP_PATH_MAX], mpath[IMP_PATH_MAX];
    imp_join(tpath, sizeof tpath, dir, "type.raw");
    imp_join(mpath, sizeof mpath, dir, "type_map.raw");
    long tmax = 0;
    for (size_t a = 0; a < natoms; a++)
        if (raw[a] > tmax) tmax = raw[a];
    if (ntm == 0) {
        free(tmr);
        if (!o->type_map_fixed)
            return err_set(RK_EINPUT, "%s: no type_map.raw beside type.raw: give --type-map", dir);
        for (size_t a = 0; a < natoms; a++) {
            if ((size_t)raw[a] >= dst->ntypes)
                return err_set(RK_EINPUT, "%s: atom %zu has type %ld but --type-map has %zu types",
                               tpath, a, raw[a], dst->ntypes);
            out[a] = (int32_t)raw[a];
        }
        return RK_OK;
    }
    if ((size_t)tmax >= ntm) {
        free(tmr);
        return err_set(RK_EINPUT, "%s: type %ld used but %s lists only %zu types", tpath, tmax,
                       mpath, ntm);
    }
    int32_t *id = rk_malloc(((size_t)tmax + 1) * sizeof *id);
    char *used = rk_calloc((size_t)tmax + 1, 1);
    if (!id || !used) st = RK_ENOMEM;
    for (size_t a = 0; !st && a < natoms; a++)
        used[raw[a]] = 1;
    for (long t = 0; !st && t <= tmax; t++)
        if (used[t]) st = imp_type_id(dst, o, tmr[t], mpath, &id[t]);
    for (size_t a = 0; !st && a < natoms; a++)
        out[a] = id[raw[a]];
    free(id);
    free(used);
    free(tmr);
    return st;
}

/* ---- npy sets ---- */

typedef struct {
    npy_array box, coord, energy, force;
} set_arrays;

static void set_free(set_arrays *s) {
    npy_free(&s->box);
    npy_free(&s->coord);
    npy_free(&s->energy);
    npy_free(&s->force);
}

/* Require a float array of nf rows with `per_frame` values each. */
static rk_status check_rows(const char *path, const npy_array *a, size_t nf, size_t per_frame,
                            const char *expect) {
    char shp[96];
    if (a->is_integer) return err_set(RK_EINPUT, "%s: integer data, expected floating-point", path);
    if (a->ndim == 0 || a->shape[0] != nf || a->count != nf * per_frame)
        return err_set(RK_EINPUT, "%s: shape %s does not match %s (nframes=%zu from coord.npy)",
                       path, npy_shape_str(a, shp, sizeof shp), expect, nf);
    return RK_OK;
}

static rk_status read_set(const char *setdir, size_t natoms, set_arrays *s, size_t *nf) {
    memset(s, 0, sizeof *s);
    char pb[IMP_PATH_MAX], pc[IMP_PATH_MAX], pe[IMP_PATH_MAX], pf[IMP_PATH_MAX];
    rk_status st = imp_join(pb, sizeof pb, setdir, "box.npy");
    if (!st) st = imp_join(pc, sizeof pc, setdir, "coord.npy");
    if (!st) st = imp_join(pe, sizeof pe, setdir, "energy.npy");
    if (!st) st = imp_join(pf, sizeof pf, setdir, "force.npy");
    if (!st) st = npy_read(pc, &s->coord);
    if (!st) st = npy_read(pb, &s->box);
    if (!st) st = npy_read(pe, &s->energy);
    if (!st) st = npy_read(pf, &s->force);
    if (st) {
        set_free(s);
        return st;
    }
    size_t n = s->coord.ndim ? s->coord.shape[0] : 0;
    char expect[64];
    snprintf(expect, sizeof expect, "(nframes, %zu) for %zu atoms", 3 * natoms, natoms);
    st = check_rows(pc, &s->coord, n, 3 * natoms, expect);
    if (!st) st = check_rows(pb, &s->box, n, 9, "(nframes, 9)");
    if (!st) st = check_rows(pe, &s->energy, n, 1, "(nframes,)");
    if (!st) st = check_rows(pf, &s->force, n, 3 * natoms, expect);
    if (st) {
        set_free(s);
        return st;
    }
    *nf = n;
    return RK_OK;
}

static rk_status import_npy_sets(const char *dir, imp_grow *g) {
    char **sets;
    size_t nsets;
    rk_status st = imp_list_dir(dir, "set.", &sets, &nsets);
    if (st) return st;
    size_t na3 = 3 * g->s.natoms;
    for (size_t k = 0; k < nsets && !st; k++) {
        char setdir[IMP_PATH_MAX];
        if ((st = imp_join(setdir, sizeof setdir, dir, sets[k]))) break;
        if (!imp_is_dir(setdir)) continue;
        set_arrays s;
        size_t nf;
        if ((st = read_set(setdir, g->s.natoms, &s, &nf))) break;
        for (size_t f = 0; f < nf && !st; f++) {
            double *box, *coord, *force, *energy;
            if ((st = imp_grow_push(g, &box, &coord, &force, &energy))) break;
            memcpy(box, s.box.f64 + 9 * f, 9 * sizeof *box);
            memcpy(coord, s.coord.f64 + na3 * f, na3 * sizeof *coord);
            memcpy(force, s.force.f64 + na3 * f, na3 * sizeof *force);
            *energy = s.energy.f64[f];
        }
        set_free(&s);
    }
    imp_names_free(sets, nsets);
    return st;
}

/* ---- raw text ---- */

/* A .raw file of frames, one per line with exactly `per_line` numbers; blank lines skipped. */
static rk_status read_raw_rows(const char *dir, const char *file, size_t per_line, double **out,
                               size_t *nrows) {
    char path[IMP_PATH_MAX];
    rk_status st = imp_join(path, sizeof path, dir, file);
    char *text;
    size_t len;
    if (st || (st = fs_read_all(path, &text, &len))) return st;
    double *v = NULL;
    size_t n = 0, cap = 0;
    imp_lines it;
    imp_lines_init(&it, text, len);
    char *line;
    while (!st && (line = imp_lines_next(&it)) != NULL) {
        if (imp_blank(line)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            double *nv = realloc(v, cap * per_line * sizeof *nv);
            if (!nv) {
                st = err_set(RK_ENOMEM, "out of memory reading %s", path);
                break;
            }
            v = nv;
        }
        const char *rest;
        size_t got = imp_parse_doubles(line, v + n * per_line, per_line, &rest);
        if (got < per_line)
            st = err_set(RK_EINPUT, "%s line %zu: expected %zu numbers, found %zu", path, it.lineno,
                         per_line, got);
        else if (!imp_blank(rest))
            st = err_set(RK_EINPUT, "%s line %zu: more than %zu values on the line", path,
                         it.lineno, per_line);
        n++;
    }
    free(text);
    if (st) {
        free(v);
        return st;
    }
    *out = v;
    *nrows = n;
    return RK_OK;
}

static rk_status import_raw(const char *dir, imp_grow *g) {
    size_t na3 = 3 * g->s.natoms, nc = 0, nb = 0, ne = 0, nfo = 0;
    double *c = NULL, *b = NULL, *e = NULL, *fo = NULL;
    rk_status st = read_raw_rows(dir, "coord.raw", na3, &c, &nc);
    if (!st) st = read_raw_rows(dir, "box.raw", 9, &b, &nb);
    if (!st) st = read_raw_rows(dir, "energy.raw", 1, &e, &ne);
    if (!st) st = read_raw_rows(dir, "force.raw", na3, &fo, &nfo);
    if (!st && (nb != nc || ne != nc || nfo != nc))
        st = err_set(RK_EINPUT,
                     "%s: frame counts disagree: coord.raw %zu, box.raw %zu, energy.raw %zu, "
                     "force.raw %zu",
                     dir, nc, nb, ne, nfo);
    for (size_t f = 0; !st && f < nc; f++) {
        double *box, *coord, *force, *energy;
        if ((st = imp_grow_push(g, &box, &coord, &force, &energy))) break;
        memcpy(box, b + 9 * f, 9 * sizeof *box);
        memcpy(coord, c + na3 * f, na3 * sizeof *coord);
        memcpy(force, fo + na3 * f, na3 * sizeof *force);
        *energy = e[f];
    }
    free(c);
    free(b);
    free(e);
    free(fo);
    return st;
}

/* ---- one system directory ---- */

typedef struct {
    const import_opts *o;
    dataset_t *dst;
    int raw;
} visit_ctx;

static rk_status import_system(const char *dir, const char *name, void *vctx) {
    visit_ctx *c = vctx;
    char marker[IMP_PATH_MAX];
    if (!imp_join(marker, sizeof marker, dir, "nopbc") && fs_is_file(marker))
        return err_set(RK_EINPUT, "%s: non-periodic system (nopbc file); rlekf needs 3-D cells",
                       dir);
    long *raw;
    size_t natoms;
    rk_status st = read_type_raw(dir, &raw, &natoms);
    if (st) return st;
    int32_t *type = rk_malloc(natoms * sizeof *type);
    if (!type) {
        free(raw);
        return RK_ENOMEM;
    }
    st = map_types(dir, raw, natoms, c->o, c->dst, type);
    free(raw);
    imp_grow g;
    if (!st) st = imp_grow_init(&g, name, natoms, type);
    free(type);
    if (st) return st;
    st = c->raw ? import_raw(dir, &g) : import_npy_sets(dir, &g);
    if (!st && g.s.nframes == 0)
        st = err_set(RK_EINPUT, "%s: system has no frames (empty set.* directories?)", dir);
    if (st) {
        imp_grow_free(&g);
        return st;
    }
    return imp_add_system(c->dst, &g.s, dir);
}

/* A DeePMD system directory (npy sets or raw text), or a folder searched for such directories. */
static rk_status read_deepmd(const char *path, int raw, const import_opts *o, dataset_t *dst) {
    visit_ctx c = {o, dst, raw};
    size_t found = 0;
    rk_status st =
        imp_walk(path, raw ? is_deepmd_raw_dir : is_deepmd_dir, import_system, &c, &found);
    if (st) return st;
    if (!found)
        return err_set(RK_EINPUT, "%s: no DeePMD %s system (type.raw with %s) found", path,
                       raw ? "raw" : "npy", raw ? "coord.raw" : "set.*/ directories");
    return RK_OK;
}

static rk_status read_npy(const char *path, const import_opts *o, dataset_t *dst) {
    return read_deepmd(path, 0, o, dst);
}

static rk_status read_raw(const char *path, const import_opts *o, dataset_t *dst) {
    return read_deepmd(path, 1, o, dst);
}

const import_type import_deepmd = {
    .name = "deepmd",
    .help = "DeePMD npy system dir (type.raw, type_map.raw, set.*/)",
    .source = IMP_SOURCE_DIR,
    .is_system_dir = is_deepmd_dir,
    .read = read_npy,
};

const import_type import_deepmd_raw = {
    .name = "deepmd-raw",
    .help = "DeePMD raw system dir (type.raw, box/coord/energy/force.raw)",
    .source = IMP_SOURCE_DIR,
    .is_system_dir = is_deepmd_raw_dir,
    .read = read_raw,
};
