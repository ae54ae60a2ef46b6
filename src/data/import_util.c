/* import_util: what every importer shares (import_internal.h) and the format-independent part of
 * import.h: element table, type map and type registration, system assembly (imp_grow, imp_groups),
 * paths, directory listing and walking, and line parsing. It knows no format: the importers call
 * it, never the reverse.
 *
 * Invariant: a system reaches the destination dataset only after dataset_validate() has accepted
 * it with the source path as context, and only under a name not used before.
 */
#include "import.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import_internal.h"

/* Depth limit of the recursive directory search: data trees are a few levels deep; the limit
 * only stops symlink cycles. */
#define IMP_WALK_DEPTH_MAX 16
/* Characters of a source line quoted in an error message. */
#define IMP_EXCERPT_MAX 60

/* ---- element table (IUPAC symbols, Z = 1..118) ---- */

static const char *const elements[IMPORT_Z_MAX + 1] = {
    NULL, "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si",
    "P",  "S",  "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu",
    "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru",
    "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr",
    "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",
    "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac",
    "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf",
    "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og",
};

const char *import_element_symbol(int z) {
    return (z >= 1 && z <= IMPORT_Z_MAX) ? elements[z] : NULL;
}

int import_element_z(const char *symbol) {
    for (int z = 1; z <= IMPORT_Z_MAX; z++)
        if (strcmp(elements[z], symbol) == 0) return z;
    return 0;
}

/* ---- type map ---- */

static rk_status append_type(dataset_t *dst, const char *symbol) {
    char(*tm)[DS_SYMBOL_MAX] = realloc(dst->type_map, (dst->ntypes + 1) * sizeof *tm);
    if (!tm) return err_set(RK_ENOMEM, "out of memory growing the type map");
    dst->type_map = tm;
    snprintf(tm[dst->ntypes], DS_SYMBOL_MAX, "%s", symbol);
    dst->ntypes++;
    return RK_OK;
}

static void type_map_str(const dataset_t *ds, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t t = 0; t < ds->ntypes && n < cap; t++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", t ? "," : "", ds->type_map[t]);
}

rk_status import_set_type_map(dataset_t *dst, const char *list) {
    RK_ASSERT(dst->ntypes == 0 && dst->nsystems == 0);
    const char *p = list;
    while (*p) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        char sym[DS_SYMBOL_MAX];
        if (len == 0 || len >= sizeof sym)
            return err_set(RK_EINPUT, "--type-map '%s': empty or overlong entry", list);
        memcpy(sym, p, len);
        sym[len] = '\0';
        if (!import_element_z(sym))
            return err_set(RK_EINPUT, "--type-map '%s': '%s' is not an element symbol", list, sym);
        if (dataset_type_of(dst, sym) >= 0)
            return err_set(RK_EINPUT, "--type-map '%s': '%s' is listed twice", list, sym);
        rk_status st = append_type(dst, sym);
        if (st) return st;
        p += len;
        if (*p == ',') p++;
    }
    if (dst->ntypes == 0) return err_set(RK_EINPUT, "--type-map: empty list");
    return RK_OK;
}

rk_status imp_type_id(dataset_t *dst, const import_opts *o, const char *symbol, const char *ctx,
                      int32_t *id) {
    if (!import_element_z(symbol))
        return err_set(RK_EINPUT, "%s: '%s' is not an element symbol", ctx, symbol);
    int t = dataset_type_of(dst, symbol);
    if (t < 0) {
        if (o->type_map_fixed) {
            char tm[256];
            type_map_str(dst, tm, sizeof tm);
            return err_set(RK_EINPUT, "%s: element %s is not in --type-map %s", ctx, symbol, tm);
        }
        rk_status st = append_type(dst, symbol);
        if (st) return st;
        t = (int)dst->ntypes - 1;
    }
    *id = (int32_t)t;
    return RK_OK;
}

/* ---- systems ---- */

rk_status imp_add_system(dataset_t *dst, ds_system *s, const char *src) {
    for (size_t i = 0; i < dst->nsystems; i++) {
        if (strcmp(dst->sys[i].name, s->name) == 0) {
            rk_status st = err_set(RK_EINPUT,
                                   "%s: duplicate system name '%s' (already imported from an "
                                   "earlier source)",
                                   src, s->name);
            ds_system_free(s);
            return st;
        }
    }
    dataset_t one = {dst->ntypes, dst->type_map, 1, s};
    rk_status st = dataset_validate(&one, src);
    if (st) {
        ds_system_free(s);
        return st;
    }
    ds_system *sys = realloc(dst->sys, (dst->nsystems + 1) * sizeof *sys);
    if (!sys) {
        ds_system_free(s);
        return err_set(RK_ENOMEM, "out of memory adding system %s", s->name);
    }
    dst->sys = sys;
    dst->sys[dst->nsystems++] = *s;
    memset(s, 0, sizeof *s);
    return RK_OK;
}

rk_status imp_grow_init(imp_grow *g, const char *name, size_t natoms, const int32_t *type) {
    memset(g, 0, sizeof *g);
    rk_status st = ds_system_alloc(&g->s, name, natoms, 0);
    if (st) return st;
    memcpy(g->s.type, type, natoms * sizeof *type);
    return RK_OK;
}

static rk_status grow_array(double **a, size_t n) {
    double *p = realloc(*a, (n ? n : 1) * sizeof *p);
    if (!p) return err_set(RK_ENOMEM, "out of memory: cannot grow an array to %zu values", n);
    *a = p;
    return RK_OK;
}

rk_status imp_grow_push(imp_grow *g, double **box, double **coord, double **force,
                        double **energy) {
    ds_system *s = &g->s;
    if (s->nframes == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        size_t na3 = 3 * s->natoms;
        rk_status st = grow_array(&s->box, cap * 9);
        if (!st) st = grow_array(&s->coord, cap * na3);
        if (!st) st = grow_array(&s->force, cap * na3);
        if (!st) st = grow_array(&s->energy, cap);
        if (st) return st;
        g->cap = cap;
    }
    size_t f = s->nframes++;
    *box = s->box + 9 * f;
    *coord = s->coord + 3 * s->natoms * f;
    *force = s->force + 3 * s->natoms * f;
    *energy = s->energy + f;
    return RK_OK;
}

void imp_grow_free(imp_grow *g) {
    ds_system_free(&g->s);
    g->cap = 0;
}

void imp_groups_init(imp_groups *gs, const char *stem) {
    memset(gs, 0, sizeof *gs);
    snprintf(gs->stem, sizeof gs->stem, "%s", stem);
}

rk_status imp_groups_get(imp_groups *gs, size_t natoms, const int32_t *type, imp_grow **out) {
    size_t same_count = 0;
    for (size_t i = 0; i < gs->n; i++) {
        ds_system *s = &gs->g[i].s;
        if (s->natoms != natoms) continue;
        same_count++;
        if (memcmp(s->type, type, natoms * sizeof *type) == 0) {
            *out = &gs->g[i];
            return RK_OK;
        }
    }
    if (gs->n == gs->cap) {
        size_t cap = gs->cap ? 2 * gs->cap : 8;
        imp_grow *g = realloc(gs->g, cap * sizeof *g);
        if (!g) return err_set(RK_ENOMEM, "out of memory adding a system group");
        gs->g = g;
        gs->cap = cap;
    }
    char name[DS_NAME_MAX + 32];
    if (same_count == 0)
        snprintf(name, sizeof name, "%s.n%zu", gs->stem, natoms);
    else
        snprintf(name, sizeof name, "%s.n%zu_%zu", gs->stem, natoms, same_count + 1);
    rk_status st = imp_grow_init(&gs->g[gs->n], name, natoms, type);
    if (st) return st;
    *out = &gs->g[gs->n++];
    return RK_OK;
}

rk_status imp_groups_commit(imp_groups *gs, dataset_t *dst, const char *src) {
    rk_status st = RK_OK;
    for (size_t i = 0; i < gs->n; i++) {
        if (!st)
            st = imp_add_system(dst, &gs->g[i].s, src);
        else
            imp_grow_free(&gs->g[i]);
    }
    free(gs->g);
    memset(gs, 0, sizeof *gs);
    return st;
}

void imp_groups_free(imp_groups *gs) {
    for (size_t i = 0; i < gs->n; i++)
        imp_grow_free(&gs->g[i]);
    free(gs->g);
    memset(gs, 0, sizeof *gs);
}

/* ---- files and text ---- */

int imp_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

rk_status imp_join(char *buf, size_t cap, const char *a, const char *b) {
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    int n = snprintf(buf, cap, "%.*s/%s", (int)la, a, b);
    if (n < 0 || (size_t)n >= cap) return err_set(RK_EINPUT, "%s/%s: path too long", a, b);
    return RK_OK;
}

void imp_basename(const char *path, char *buf, size_t cap) {
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    snprintf(buf, cap, "%.*s", (int)(end - start), path + start);
}

void imp_stem(const char *path, char *buf, size_t cap) {
    imp_basename(path, buf, cap);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = '\0';
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

rk_status imp_list_dir(const char *dir, const char *prefix, char ***names, size_t *n) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return err_set(RK_EINPUT, "%s: cannot open directory: %s", dir, strerror(errno));
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    size_t plen = prefix ? strlen(prefix) : 0;
    struct dirent *e;
    rk_status st = RK_OK;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (plen && strncmp(e->d_name, prefix, plen) != 0) continue;
        if (cnt == cap) {
            cap = cap ? 2 * cap : 16;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                st = err_set(RK_ENOMEM, "out of memory listing %s", dir);
                break;
            }
            v = nv;
        }
        v[cnt] = rk_malloc(strlen(e->d_name) + 1);
        if (!v[cnt]) {
            st = RK_ENOMEM;
            break;
        }
        strcpy(v[cnt++], e->d_name);
    }
    closedir(d);
    if (st) {
        imp_names_free(v, cnt);
        return st;
    }
    if (cnt > 1) qsort(v, cnt, sizeof *v, cmp_str);
    *names = v;
    *n = cnt;
    return RK_OK;
}

void imp_names_free(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

void imp_lines_init(imp_lines *it, char *text, size_t len) {
    it->p = text;
    it->end = text + len;
    it->lineno = 0;
}

char *imp_lines_next(imp_lines *it) {
    if (it->p >= it->end) return NULL;
    char *line = it->p;
    char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    char *stop = nl ? nl : it->end;
    it->p = nl ? nl + 1 : it->end;
    if (stop > line && stop[-1] == '\r') stop--;
    *stop = '\0';
    it->lineno++;
    return line;
}

size_t imp_parse_doubles(const char *s, double *out, size_t n, const char **rest) {
    size_t k = 0;
    const char *p = s;
    while (k < n) {
        char *e;
        double v = strtod(p, &e);
        if (e == p) break;
        out[k++] = v;
        p = e;
    }
    if (rest) *rest = p;
    return k;
}

int imp_blank(const char *s) {
    while (*s && isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

const char *imp_excerpt(const char *line, char *buf, size_t cap) {
    while (*line == ' ' || *line == '\t')
        line++;
    size_t len = strlen(line);
    size_t keep = len < IMP_EXCERPT_MAX ? len : IMP_EXCERPT_MAX;
    snprintf(buf, cap, "%.*s%s", (int)keep, line, len > keep ? "..." : "");
    return buf;
}

void imp_frac_to_cart(const double *cell, const double *frac, double *cart, size_t natoms) {
    for (size_t i = 0; i < natoms; i++) {
        const double *f = frac + 3 * i;
        for (size_t j = 0; j < 3; j++)
            cart[3 * i + j] = f[0] * cell[j] + f[1] * cell[3 + j] + f[2] * cell[6 + j];
    }
}

/* ---- directory walking ---- */

typedef struct {
    int (*is_system)(const char *dir);
    rk_status (*visit)(const char *dir, const char *name, void *ctx);
    void *ctx;
    size_t found;
} walk_state;

static rk_status walk(walk_state *w, const char *dir, const char *rel, int depth) {
    if (depth > IMP_WALK_DEPTH_MAX)
        return err_set(RK_EINPUT, "%s: directories nested deeper than %d levels (a symlink loop?)",
                       dir, IMP_WALK_DEPTH_MAX);
    char **names;
    size_t n;
    rk_status st = imp_list_dir(dir, NULL, &names, &n);
    if (st) return st;
    for (size_t i = 0; i < n && !st; i++) {
        char sub[IMP_PATH_MAX], subrel[IMP_PATH_MAX];
        if ((st = imp_join(sub, sizeof sub, dir, names[i]))) break;
        if (!imp_is_dir(sub)) continue;
        int len = rel[0] ? snprintf(subrel, sizeof subrel, "%s.%s", rel, names[i])
                         : snprintf(subrel, sizeof subrel, "%s", names[i]);
        if (len < 0 || (size_t)len >= sizeof subrel) {
            st = err_set(RK_EINPUT, "%s: path too long", sub);
            break;
        }
        if (w->is_system(sub)) {
            w->found++;
            st = w->visit(sub, subrel, w->ctx);
        } else {
            st = walk(w, sub, subrel, depth + 1);
        }
    }
    imp_names_free(names, n);
    return st;
}

rk_status imp_walk(const char *root, int (*is_system)(const char *dir),
                   rk_status (*visit)(const char *dir, const char *name, void *ctx), void *ctx,
                   size_t *found) {
    walk_state w = {is_system, visit, ctx, 0};
    rk_status st;
    if (is_system(root)) {
        /* the canonical path, so that "." or "data_0/.." still name the directory */
        char name[DS_NAME_MAX], *real = realpath(root, NULL);
        imp_basename(real ? real : root, name, sizeof name);
        free(real);
        w.found = 1;
        st = visit(root, name, ctx);
    } else {
        st = walk(&w, root, "", 0);
    }
    *found = w.found;
    return st;
}
