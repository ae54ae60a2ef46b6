/* import_extxyz: ASE extended XYZ trajectories.
 *
 * A frame is: a line with the atom count n; a comment line of key=value pairs (values bare,
 * "double-quoted" with \" escapes, or {braced}); n atom lines whose columns are described by
 * Properties=name:type:ncols:... (default species:S:1:pos:R:3). Required: Lattice="ax ay az bx by
 * bz cx cy cz" (rows a, b, c), energy=<eV>, a species column (S:1), pos (R:3) and forces or
 * force (R:3); other columns are skipped; keys are matched case-insensitively; pbc, if given,
 * must be "T T T". Frames are grouped into systems by (natoms, species sequence) named
 * "<file stem>.n<natoms>" ("_2", ... for further sequences with the same count).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fs.h"
#include "import_internal.h"

/* Keys on one comment line and property columns: generous bounds for hand-written and ASE files. */
#define XYZ_KEYS_MAX 64
#define XYZ_PROPS_MAX 32
#define XYZ_COLS_MAX 256

typedef struct {
    char *key[XYZ_KEYS_MAX];
    char *val[XYZ_KEYS_MAX];
    size_t n;
} kv_list;

/* Split a comment line in place into key=value pairs. */
static rk_status parse_kv(char *s, const char *path, size_t lineno, kv_list *kv) {
    kv->n = 0;
    char *p = s;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p) break;
        char *key = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        char *key_end = p;
        while (isspace((unsigned char)*p))
            p++;
        char *val = NULL;
        if (*p == '=') {
            p++;
            while (isspace((unsigned char)*p))
                p++;
            if (*p == '"') {
                val = ++p;
                char *w = p;
                while (*p && *p != '"') {
                    if (*p == '\\' && p[1]) p++;
                    *w++ = *p++;
                }
                if (*p != '"')
                    return err_set(RK_EINPUT,
                                   "%s line %zu: unterminated quoted value of key '%.*s'", path,
                                   lineno, (int)(key_end - key), key);
                p++;
                *w = '\0';
            } else if (*p == '{') {
                val = ++p;
                while (*p && *p != '}')
                    p++;
                if (*p != '}')
                    return err_set(RK_EINPUT, "%s line %zu: unterminated {...} value of key '%.*s'",
                                   path, lineno, (int)(key_end - key), key);
                *p++ = '\0';
            } else {
                val = p;
                while (*p && !isspace((unsigned char)*p))
                    p++;
                if (*p) *p++ = '\0';
            }
        } else {
            val = "T"; /* a bare key is a true flag */
        }
        *key_end = '\0';
        if (kv->n == XYZ_KEYS_MAX)
            return err_set(RK_EINPUT, "%s line %zu: more than %d keys on the comment line", path,
                           lineno, XYZ_KEYS_MAX);
        kv->key[kv->n] = key;
        kv->val[kv->n] = val;
        kv->n++;
    }
    return RK_OK;
}

static const char *kv_get(const kv_list *kv, const char *key) {
    for (size_t i = 0; i < kv->n; i++)
        if (strcasecmp(kv->key[i], key) == 0) return kv->val[i];
    return NULL;
}

typedef struct {
    size_t ncols;   /* total columns of an atom line */
    size_t species; /* column of the species symbol */
    size_t pos;     /* first of 3 position columns */
    size_t force;   /* first of 3 force columns */
} xyz_columns;

/* Properties=name:type:ncols:name:type:ncols... -> column positions. */
static rk_status parse_properties(const char *spec, const char *path, size_t lineno,
                                  xyz_columns *cols) {
    char buf[1024];
    if (strlen(spec) >= sizeof buf)
        return err_set(RK_EINPUT, "%s line %zu: Properties value too long", path, lineno);
    strcpy(buf, spec);
    char *field[3 * XYZ_PROPS_MAX];
    size_t nf = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
        if (nf == 3 * XYZ_PROPS_MAX)
            return err_set(RK_EINPUT, "%s line %zu: more than %d Properties", path, lineno,
                           XYZ_PROPS_MAX);
        field[nf++] = t;
    }
    if (nf == 0 || nf % 3 != 0)
        return err_set(RK_EINPUT, "%s line %zu: Properties='%.80s' is not name:type:ncols triples",
                       path, lineno, spec);
    int have_s = 0, have_p = 0, have_f = 0;
    size_t col = 0;
    for (size_t i = 0; i < nf; i += 3) {
        const char *name = field[i], *type = field[i + 1];
        char *e;
        long w = strtol(field[i + 2], &e, 10);
        if (e == field[i + 2] || *e || w < 1 || col + (size_t)w > XYZ_COLS_MAX)
            return err_set(RK_EINPUT, "%s line %zu: Properties: bad column count '%s' for '%s'",
                           path, lineno, field[i + 2], name);
        if (strcasecmp(name, "species") == 0) {
            if (strcmp(type, "S") != 0 || w != 1)
                return err_set(RK_EINPUT,
                               "%s line %zu: Properties: species must be S:1, got %s:%ld", path,
                               lineno, type, w);
            cols->species = col, have_s = 1;
        } else if (strcasecmp(name, "pos") == 0 || strcasecmp(name, "positions") == 0) {
            if (strcmp(type, "R") != 0 || w != 3)
                return err_set(RK_EINPUT, "%s line %zu: Properties: pos must be R:3, got %s:%ld",
                               path, lineno, type, w);
            cols->pos = col, have_p = 1;
        } else if (strcasecmp(name, "forces") == 0 || strcasecmp(name, "force") == 0) {
            if (strcmp(type, "R") != 0 || w != 3)
                return err_set(RK_EINPUT, "%s line %zu: Properties: %s must be R:3, got %s:%ld",
                               path, lineno, name, type, w);
            cols->force = col, have_f = 1;
        }
        col += (size_t)w;
    }
    if (!have_s || !have_p || !have_f)
        return err_set(RK_EINPUT, "%s line %zu: Properties='%.80s' lacks a %s column", path, lineno,
                       spec,
                       !have_s   ? "species"
                       : !have_p ? "pos"
                                 : "forces");
    cols->ncols = col;
    return RK_OK;
}

/* Comment line -> cell, energy, columns. */
static rk_status parse_comment(char *line, const char *path, size_t lineno, size_t frame,
                               double *cell, double *energy, xyz_columns *cols) {
    kv_list kv;
    rk_status st = parse_kv(line, path, lineno, &kv);
    if (st) return st;
    const char *lat = kv_get(&kv, "Lattice");
    const char *rest;
    if (!lat)
        return err_set(RK_EINPUT, "%s line %zu: frame %zu has no Lattice=\"...\" (3-D cells only)",
                       path, lineno, frame);
    if (imp_parse_doubles(lat, cell, 9, &rest) != 9 || !imp_blank(rest))
        return err_set(RK_EINPUT, "%s line %zu: frame %zu: Lattice=\"%.80s\" is not 9 numbers",
                       path, lineno, frame, lat);
    const char *pbc = kv_get(&kv, "pbc");
    if (pbc) {
        int nt = 0, nother = 0;
        for (const char *p = pbc; *p; p++) {
            if (isspace((unsigned char)*p)) continue;
            if (*p == 'T' || *p == 't')
                nt++;
            else
                nother++;
            while (p[1] && !isspace((unsigned char)p[1]))
                p++; /* "True" counts once */
        }
        if (nt != 3 || nother)
            return err_set(RK_EINPUT,
                           "%s line %zu: frame %zu: pbc=\"%s\": only 3-D periodic "
                           "frames are supported",
                           path, lineno, frame, pbc);
    }
    const char *en = kv_get(&kv, "energy");
    if (!en)
        return err_set(RK_EINPUT, "%s line %zu: frame %zu has no energy= key", path, lineno, frame);
    if (imp_parse_doubles(en, energy, 1, &rest) != 1 || !imp_blank(rest))
        return err_set(RK_EINPUT, "%s line %zu: frame %zu: energy=%.40s is not a number", path,
                       lineno, frame, en);
    const char *props = kv_get(&kv, "Properties");
    return parse_properties(props ? props : "species:S:1:pos:R:3", path, lineno, cols);
}

typedef struct {
    const char *path;
    const import_opts *o;
    dataset_t *dst;
    imp_groups gs;
    int32_t *type; /* (cap) scratch: type ids of the current frame */
    double *xyz;   /* (cap, 3) scratch positions */
    double *frc;   /* (cap, 3) scratch forces */
    size_t cap;
} xyz_reader;

static rk_status reserve(xyz_reader *r, size_t n) {
    if (n <= r->cap) return RK_OK;
    int32_t *t = realloc(r->type, n * sizeof *t);
    if (t) r->type = t;
    double *x = realloc(r->xyz, 3 * n * sizeof *x);
    if (x) r->xyz = x;
    double *f = realloc(r->frc, 3 * n * sizeof *f);
    if (f) r->frc = f;
    if (!t || !x || !f) return err_set(RK_ENOMEM, "out of memory reading %s", r->path);
    r->cap = n;
    return RK_OK;
}

/* One atom line: tokens -> type id, position, force. */
static rk_status parse_atom(xyz_reader *r, char *line, size_t lineno, size_t frame, size_t a,
                            const xyz_columns *cols) {
    char *tok[XYZ_COLS_MAX];
    size_t nt = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (nt == XYZ_COLS_MAX) break;
        tok[nt++] = t;
    }
    if (nt != cols->ncols)
        return err_set(RK_EINPUT,
                       "%s line %zu: frame %zu atom %zu: %zu columns, Properties say %zu", r->path,
                       lineno, frame, a, nt, cols->ncols);
    char ctx[IMP_PATH_MAX + 64];
    snprintf(ctx, sizeof ctx, "%s line %zu: frame %zu atom %zu", r->path, lineno, frame, a);
    rk_status st = imp_type_id(r->dst, r->o, tok[cols->species], ctx, &r->type[a]);
    if (st) return st;
    for (size_t k = 0; k < 3; k++) {
        char *e1, *e2;
        r->xyz[3 * a + k] = strtod(tok[cols->pos + k], &e1);
        r->frc[3 * a + k] = strtod(tok[cols->force + k], &e2);
        if (*e1 || *e2 || e1 == tok[cols->pos + k] || e2 == tok[cols->force + k])
            return err_set(RK_EINPUT, "%s: '%s' is not a number", ctx,
                           *e1 || e1 == tok[cols->pos + k] ? tok[cols->pos + k]
                                                           : tok[cols->force + k]);
    }
    return RK_OK;
}

static rk_status read_frames(xyz_reader *r, char *text, size_t len) {
    imp_lines it;
    imp_lines_init(&it, text, len);
    char *line, ex[80];
    size_t frame = 0;
    while ((line = imp_lines_next(&it)) != NULL) {
        if (imp_blank(line)) continue;
        char *e;
        long n = strtol(line, &e, 10);
        if (e == line || !imp_blank(e) || n < 0)
            return err_set(RK_EINPUT, "%s line %zu: expected the atom count of frame %zu, got '%s'",
                           r->path, it.lineno, frame, imp_excerpt(line, ex, sizeof ex));
        if (n == 0)
            return err_set(RK_EINPUT, "%s line %zu: frame %zu has 0 atoms", r->path, it.lineno,
                           frame);
        size_t na = (size_t)n, count_line = it.lineno;
        /* every atom has a line of its own: a count beyond the bytes left is a truncated file
         * (checked before the count sizes any allocation) */
        size_t left = (size_t)(it.end - it.p);
        if (na > left)
            return err_set(RK_EINPUT,
                           "%s: truncated: frame %zu (line %zu) declares %zu atoms but only %zu "
                           "bytes follow",
                           r->path, frame, count_line, na, left);
        rk_status st = reserve(r, na);
        if (st) return st;
        if (!(line = imp_lines_next(&it)))
            return err_set(RK_EINPUT, "%s: truncated: frame %zu (line %zu) has no comment line",
                           r->path, frame, count_line);
        double cell[9], energy;
        xyz_columns cols = {0};
        if ((st = parse_comment(line, r->path, it.lineno, frame, cell, &energy, &cols))) return st;
        for (size_t a = 0; a < na; a++) {
            if (!(line = imp_lines_next(&it)))
                return err_set(RK_EINPUT,
                               "%s: truncated: frame %zu (line %zu) ends after %zu of %zu "
                               "atoms",
                               r->path, frame, count_line, a, na);
            if ((st = parse_atom(r, line, it.lineno, frame, a, &cols))) return st;
        }
        imp_grow *g;
        double *box, *coord, *force, *en;
        if ((st = imp_groups_get(&r->gs, na, r->type, &g))) return st;
        if ((st = imp_grow_push(g, &box, &coord, &force, &en))) return st;
        memcpy(box, cell, sizeof cell);
        memcpy(coord, r->xyz, 3 * na * sizeof *coord);
        memcpy(force, r->frc, 3 * na * sizeof *force);
        *en = energy;
        frame++;
    }
    if (frame == 0) return err_set(RK_EINPUT, "%s: no frames found", r->path);
    return RK_OK;
}

static rk_status read_extxyz(const char *path, const import_opts *o, dataset_t *dst) {
    char *text;
    size_t len;
    rk_status st = fs_read_all(path, &text, &len);
    if (st) return st;
    xyz_reader r;
    memset(&r, 0, sizeof r);
    r.path = path;
    r.o = o;
    r.dst = dst;
    char stem[DS_NAME_MAX];
    imp_stem(path, stem, sizeof stem);
    imp_groups_init(&r.gs, stem);
    st = read_frames(&r, text, len);
    free(text);
    free(r.type);
    free(r.xyz);
    free(r.frc);
    if (st) {
        imp_groups_free(&r.gs);
        return st;
    }
    return imp_groups_commit(&r.gs, dst, path);
}

/* --format auto: a .xyz/.extxyz file, or one whose first line is just the atom count. */
static const char *const extxyz_suffixes[] = {".xyz", ".extxyz", NULL};

static int sniff_extxyz(const char *first_line) {
    char *e;
    strtoul(first_line, &e, 10);
    return e != first_line && imp_blank(e);
}

const import_type import_extxyz = {
    .name = "extxyz",
    .help = "ASE extended XYZ (Lattice=, energy=, Properties=)",
    .source = IMP_SOURCE_FILE,
    .suffixes = extxyz_suffixes,
    .sniff = sniff_extxyz,
    .read = read_extxyz,
};
