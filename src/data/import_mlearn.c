/* import_mlearn: mlearn / pymatgen JSON lists (Zuo et al. benchmark files, training.json,
 * test.json).
 *
 * Each list element: structure.lattice.matrix (rows a, b, c, Å), structure.sites[] with
 * species[0].element and Cartesian xyz (or fractional abc, then r = abc · matrix),
 * outputs.energy (eV) and outputs.forces [natoms][3] (eV/Å, physical force). Structures are
 * grouped into systems by (atom count, type sequence) in file order; a system is named
 * "<file stem>.n<natoms>" ("_2", "_3", ... for further type sequences with the same count).
 * JSON goes through jsonw only.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_internal.h"
#include "jsonw.h"

#define ML_CTX_MAX (IMP_PATH_MAX + 128)

static rk_status want(const jsonw *n, jsonw_type t, const char *ctx) {
    if (!n) return err_set(RK_EINPUT, "%s: missing", ctx);
    if (jsonw_typeof(n) != t)
        return err_set(RK_EINPUT, "%s: expected %s %s, got %s", ctx,
                       t == JSONW_ARRAY || t == JSONW_OBJECT ? "an" : "a", jsonw_type_name(t),
                       jsonw_type_name(jsonw_typeof(n)));
    return RK_OK;
}

/* An array of exactly k numbers. */
static rk_status num_vec(const jsonw *arr, const char *ctx, double *out, size_t k) {
    rk_status st = want(arr, JSONW_ARRAY, ctx);
    if (st) return st;
    if (jsonw_size(arr) != k)
        return err_set(RK_EINPUT, "%s: expected %zu numbers, got %zu", ctx, k, jsonw_size(arr));
    for (size_t i = 0; i < k; i++) {
        const jsonw *v = jsonw_at(arr, i);
        if (jsonw_typeof(v) != JSONW_NUMBER)
            return err_set(RK_EINPUT, "%s[%zu]: expected a number, got %s", ctx, i,
                           jsonw_type_name(jsonw_typeof(v)));
        out[i] = jsonw_number(v);
    }
    return RK_OK;
}

/* Element symbol of a site: species must hold exactly one fully occupied element. */
static rk_status site_element(const jsonw *site, const char *ctx, const char **sym) {
    char c[ML_CTX_MAX + 32];
    snprintf(c, sizeof c, "%s.species", ctx);
    const jsonw *sp = jsonw_get(site, "species");
    rk_status st = want(sp, JSONW_ARRAY, c);
    if (st) return st;
    if (jsonw_size(sp) != 1)
        return err_set(RK_EINPUT,
                       "%s: %zu species on one site (partial occupancy is not supported)", c,
                       jsonw_size(sp));
    const jsonw *s0 = jsonw_at(sp, 0);
    snprintf(c, sizeof c, "%s.species[0]", ctx);
    if ((st = want(s0, JSONW_OBJECT, c))) return st;
    const jsonw *occ = jsonw_get(s0, "occu");
    if (occ && (jsonw_typeof(occ) != JSONW_NUMBER || jsonw_number(occ) != 1.0))
        return err_set(RK_EINPUT, "%s.occu: expected 1 (partial occupancy is not supported)", c);
    snprintf(c, sizeof c, "%s.species[0].element", ctx);
    const jsonw *el = jsonw_get(s0, "element");
    if ((st = want(el, JSONW_STRING, c))) return st;
    *sym = jsonw_string(el);
    return RK_OK;
}

static rk_status import_structure(const jsonw *item, const char *path, size_t idx,
                                  const import_opts *o, dataset_t *dst, imp_groups *gs,
                                  int32_t **type_buf, size_t *type_cap) {
    char c[ML_CTX_MAX];
    snprintf(c, sizeof c, "%s: [%zu]", path, idx);
    rk_status st = want(item, JSONW_OBJECT, c);
    if (st) return st;
    const jsonw *stc = jsonw_get(item, "structure"), *out = jsonw_get(item, "outputs");
    snprintf(c, sizeof c, "%s: [%zu].structure", path, idx);
    if ((st = want(stc, JSONW_OBJECT, c))) return st;
    snprintf(c, sizeof c, "%s: [%zu].outputs", path, idx);
    if ((st = want(out, JSONW_OBJECT, c))) return st;

    double cell[9];
    const jsonw *lat = jsonw_get(stc, "lattice");
    snprintf(c, sizeof c, "%s: [%zu].structure.lattice", path, idx);
    if ((st = want(lat, JSONW_OBJECT, c))) return st;
    const jsonw *mat = jsonw_get(lat, "matrix");
    snprintf(c, sizeof c, "%s: [%zu].structure.lattice.matrix", path, idx);
    if ((st = want(mat, JSONW_ARRAY, c))) return st;
    if (jsonw_size(mat) != 3)
        return err_set(RK_EINPUT, "%s: expected 3 rows, got %zu", c, jsonw_size(mat));
    for (size_t r = 0; r < 3; r++) {
        snprintf(c, sizeof c, "%s: [%zu].structure.lattice.matrix[%zu]", path, idx, r);
        if ((st = num_vec(jsonw_at(mat, r), c, cell + 3 * r, 3))) return st;
    }

    const jsonw *sites = jsonw_get(stc, "sites");
    snprintf(c, sizeof c, "%s: [%zu].structure.sites", path, idx);
    if ((st = want(sites, JSONW_ARRAY, c))) return st;
    size_t na = jsonw_size(sites);
    if (na == 0) return err_set(RK_EINPUT, "%s: structure has 0 atoms", c);
    if (na > *type_cap) {
        int32_t *t = realloc(*type_buf, na * sizeof *t);
        if (!t) return err_set(RK_ENOMEM, "out of memory reading %s", path);
        *type_buf = t;
        *type_cap = na;
    }
    int32_t *type = *type_buf;
    for (size_t a = 0; a < na; a++) {
        const char *sym = NULL;
        snprintf(c, sizeof c, "%s: [%zu].structure.sites[%zu]", path, idx, a);
        if ((st = site_element(jsonw_at(sites, a), c, &sym))) return st;
        if ((st = imp_type_id(dst, o, sym, c, &type[a]))) return st;
    }
    imp_grow *g;
    if ((st = imp_groups_get(gs, na, type, &g))) return st;
    double *box, *coord, *force, *energy;
    if ((st = imp_grow_push(g, &box, &coord, &force, &energy))) return st;
    memcpy(box, cell, sizeof cell);
    for (size_t a = 0; a < na; a++) {
        const jsonw *site = jsonw_at(sites, a);
        const jsonw *xyz = jsonw_get(site, "xyz");
        if (xyz) {
            snprintf(c, sizeof c, "%s: [%zu].structure.sites[%zu].xyz", path, idx, a);
            if ((st = num_vec(xyz, c, coord + 3 * a, 3))) return st;
        } else {
            double abc[3];
            snprintf(c, sizeof c, "%s: [%zu].structure.sites[%zu].abc", path, idx, a);
            if ((st = num_vec(jsonw_get(site, "abc"), c, abc, 3))) return st;
            imp_frac_to_cart(cell, abc, coord + 3 * a, 1);
        }
    }
    const jsonw *e = jsonw_get(out, "energy");
    snprintf(c, sizeof c, "%s: [%zu].outputs.energy", path, idx);
    if ((st = want(e, JSONW_NUMBER, c))) return st;
    *energy = jsonw_number(e);
    const jsonw *f = jsonw_get(out, "forces");
    snprintf(c, sizeof c, "%s: [%zu].outputs.forces", path, idx);
    if ((st = want(f, JSONW_ARRAY, c))) return st;
    if (jsonw_size(f) != na)
        return err_set(RK_EINPUT, "%s: %zu rows for %zu atoms", c, jsonw_size(f), na);
    for (size_t a = 0; a < na; a++) {
        snprintf(c, sizeof c, "%s: [%zu].outputs.forces[%zu]", path, idx, a);
        if ((st = num_vec(jsonw_at(f, a), c, force + 3 * a, 3))) return st;
    }
    return RK_OK;
}

static rk_status read_mlearn(const char *path, const import_opts *o, dataset_t *dst) {
    jsonw *root;
    rk_status st = jsonw_parse_file(path, &root);
    if (st) return st;
    if (jsonw_typeof(root) != JSONW_ARRAY) {
        jsonw_free(root);
        return err_set(RK_EINPUT, "%s: expected a JSON list of structures", path);
    }
    size_t n = jsonw_size(root);
    if (n == 0) {
        jsonw_free(root);
        return err_set(RK_EINPUT, "%s: the list of structures is empty", path);
    }
    char stem[DS_NAME_MAX];
    imp_stem(path, stem, sizeof stem);
    imp_groups gs;
    imp_groups_init(&gs, stem);
    int32_t *type_buf = NULL;
    size_t type_cap = 0;
    for (size_t i = 0; i < n && !st; i++)
        st = import_structure(jsonw_at(root, i), path, i, o, dst, &gs, &type_buf, &type_cap);
    free(type_buf);
    jsonw_free(root);
    if (st) {
        imp_groups_free(&gs);
        return st;
    }
    return imp_groups_commit(&gs, dst, path);
}

/* --format auto: a .json file, or one whose text opens with a JSON list. */
static const char *const mlearn_suffixes[] = {".json", NULL};

static int sniff_mlearn(const char *first_line) {
    const char *p = first_line;
    while (isspace((unsigned char)*p))
        p++;
    return *p == '[';
}

const import_type import_mlearn = {
    .name = "mlearn",
    .help = "pymatgen JSON list (mlearn training.json / test.json)",
    .source = IMP_SOURCE_FILE,
    .suffixes = mlearn_suffixes,
    .sniff = sniff_mlearn,
    .read = read_mlearn,
};
