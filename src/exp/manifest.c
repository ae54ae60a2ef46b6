/* manifest: parsing and validation of experiment manifests (see manifest.h). */
#include "manifest.h"
#include "registry.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

static const char *const TIMING_NAMES[MAN_NTIMING + 1] = {"shared", "exclusive", NULL};

const char *manifest_timing_name(man_timing t) {
    RK_ASSERT(t < MAN_NTIMING);
    return TIMING_NAMES[t];
}

static int path_safe(const char *s) {
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return 0;
    return 1;
}

static rk_status get_name(const jsonw *o, const char *ctx, const char *key, char *buf, size_t cap) {
    rk_status st = jsonw_get_str(o, ctx, key, 1, buf, cap);
    if (st) return st;
    if (!path_safe(buf))
        return err_set(RK_EINPUT,
                       "%s.%s: \"%s\" must be a non-empty name of letters, digits, '_', "
                       "'-', '.'",
                       ctx, key, buf);
    return RK_OK;
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static rk_status parse_dataset(const jsonw *o, const char *ctx, man_dataset *d) {
    static const char *const keys[] = {"name",     "h5",       "source", "format",
                                       "type_map", "outliers", NULL};
    memset(d, 0, sizeof *d);
    config_layer_init(&d->training);
    rk_status st = config_parse_keys(o, ctx, CONFIG_DATASET, keys, &d->training);
    if (st) return st;
    d->split = d->training.v.split;
    d->test_fraction = d->training.v.test_fraction;
    if ((st = get_name(o, ctx, "name", d->name, sizeof d->name))) return st;
    const jsonw *h5 = jsonw_get(o, "h5"), *src = jsonw_get(o, "source");
    if (!!h5 == !!src)
        return err_set(RK_EINPUT, "%s: give exactly one of \"h5\" and \"source\"", ctx);
    if (h5) {
        if ((st = jsonw_get_str(o, ctx, "h5", 1, d->h5, sizeof d->h5))) return st;
        if (!exists(d->h5))
            return err_set(RK_EINPUT,
                           "%s.h5: file not found: %s (scripts/import_datasets.sh builds "
                           "the shipped sets)",
                           ctx, d->h5);
    } else {
        if (jsonw_typeof(src) == JSONW_STRING) {
            d->n_sources = 1;
            snprintf(d->sources[0], TRAIN_PATH_MAX, "%s", jsonw_string(src));
        } else if (jsonw_typeof(src) == JSONW_ARRAY && jsonw_size(src) >= 1 &&
                   jsonw_size(src) <= MAN_MAX_SOURCES) {
            d->n_sources = jsonw_size(src);
            for (size_t i = 0; i < d->n_sources; i++) {
                const jsonw *e = jsonw_at(src, i);
                if (jsonw_typeof(e) != JSONW_STRING)
                    return err_set(RK_EINPUT, "%s.source[%zu]: expected a path string", ctx, i);
                snprintf(d->sources[i], TRAIN_PATH_MAX, "%s", jsonw_string(e));
            }
        } else {
            return err_set(RK_EINPUT, "%s.source: expected a path or an array of 1 to %d paths",
                           ctx, MAN_MAX_SOURCES);
        }
        for (size_t i = 0; i < d->n_sources; i++)
            if (!exists(d->sources[i]))
                return err_set(RK_EINPUT, "%s.source[%zu]: not found: %s", ctx, i, d->sources[i]);
        char fmt[32] = "";
        if ((st = jsonw_get_str(o, ctx, "format", 0, fmt, sizeof fmt))) return st;
        d->format = IMPORT_AUTO;
        if (fmt[0] && (st = import_format_parse(fmt, &d->format)))
            return err_prefix(st, "%s.format: ", ctx);
    }
    if ((st = jsonw_get_str(o, ctx, "type_map", 0, d->type_map, sizeof d->type_map))) return st;
    const jsonw *ol = jsonw_get(o, "outliers");
    if (ol) {
        static const char *const okeys[] = {"fraction", "energy_shift_eV_per_atom", "force_scale",
                                            NULL};
        char octx[TRAIN_PATH_MAX + 256];
        snprintf(octx, sizeof octx, "%s.outliers", ctx);
        if ((st = jsonw_check_keys(ol, octx, okeys))) return st;
        d->outlier_force_scale = 1.0;
        if ((st = jsonw_get_num(ol, octx, "fraction", 1, 0.0, 1.0, &d->outlier_fraction)))
            return st;
        if ((st = jsonw_get_num(ol, octx, "energy_shift_eV_per_atom", 0, -1e6, 1e6,
                                &d->outlier_energy_shift)))
            return st;
        if ((st = jsonw_get_num(ol, octx, "force_scale", 0, -1e6, 1e6, &d->outlier_force_scale)))
            return st;
        if (d->split != EVALUATE_SPLIT_TAIL)
            return err_set(RK_EINPUT,
                           "%s: outliers need split \"tail\" (the corrupted frames must "
                           "be training frames for every seed)",
                           octx);
    }
    return RK_OK;
}

static rk_status parse_variant(const jsonw *o, const char *ctx, man_variant *v) {
    /* keys of a variant that are not hyper-parameters */
    static const char *const meta[] = {"label",    "group", "x", "training",
                                       "datasets", "seeds", NULL};
    memset(v, 0, sizeof *v);
    v->x = NAN;
    config_layer_init(&v->training);
    if (jsonw_typeof(o) != JSONW_OBJECT) return err_set(RK_EINPUT, "%s: expected an object", ctx);
    rk_status st = config_parse_optimizer(o, ctx, meta, &v->opt, &v->params);
    if (st) return st;
    snprintf(v->label, sizeof v->label, "%s", v->opt->name);
    if (jsonw_get(o, "label") && (st = get_name(o, ctx, "label", v->label, sizeof v->label)))
        return st;
    if ((st = jsonw_get_str(o, ctx, "group", 0, v->group, sizeof v->group))) return st;
    if ((st = jsonw_get_num(o, ctx, "x", 0, -1e300, 1e300, &v->x))) return st;
    const jsonw *od = jsonw_get(o, "datasets");
    if (od) {
        if (jsonw_typeof(od) != JSONW_ARRAY || jsonw_size(od) == 0 || jsonw_size(od) > 8)
            return err_set(RK_EINPUT, "%s.datasets: expected an array of 1 to 8 dataset names",
                           ctx);
        v->n_only_datasets = jsonw_size(od);
        for (size_t i = 0; i < v->n_only_datasets; i++) {
            const jsonw *e = jsonw_at(od, i);
            if (jsonw_typeof(e) != JSONW_STRING || strlen(jsonw_string(e)) >= MAN_NAME_MAX)
                return err_set(RK_EINPUT, "%s.datasets[%zu]: expected a dataset name", ctx, i);
            snprintf(v->only_datasets[i], MAN_NAME_MAX, "%s", jsonw_string(e));
        }
    }
    if (jsonw_get(o, "seeds")) {
        size_t n = 0;
        const jsonw *os = jsonw_get(o, "seeds");
        if (jsonw_typeof(os) == JSONW_ARRAY && jsonw_size(os) == 0)
            return err_set(RK_EINPUT, "%s.seeds: empty (omit the key to run every seed)", ctx);
        if ((st = jsonw_get_int_array(o, ctx, "seeds", 1, 0, 2147483647, v->only_seeds, 16, &n)))
            return st;
        v->n_only_seeds = n;
    }
    const jsonw *tr = jsonw_get(o, "training");
    if (tr) {
        char tctx[TRAIN_PATH_MAX + 256];
        snprintf(tctx, sizeof tctx, "%s.training", ctx);
        if ((st = config_parse_keys(tr, tctx, CONFIG_VARIANT, NULL, &v->training))) return st;
    }
    return RK_OK;
}

rk_status manifest_load(const char *path, manifest_t *m) {
    static const char *const keys[] = {"name",   "description", "results_dir", "datasets",
                                       "model",  "optimizers",  "seeds",       "memory_limit_gb",
                                       "timing", "md",          NULL};
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    snprintf(m->results_dir, sizeof m->results_dir, "results");
    m->model = model_default_config();
    config_layer_init(&m->defaults);
    jsonw *j = NULL;
    rk_status st = jsonw_parse_file(path, &j);
    if (st) return st;
    char ctx[TRAIN_PATH_MAX + 64];
    snprintf(ctx, sizeof ctx, "%s: manifest", path);
#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((st = (x))) goto done;                                                                 \
    } while (0)
    TRY(config_parse_keys(j, ctx, CONFIG_MANIFEST, keys, &m->defaults));
    m->threads = m->defaults.v.threads;
    TRY(get_name(j, ctx, "name", m->name, sizeof m->name));
    TRY(jsonw_get_str(j, ctx, "description", 0, m->description, sizeof m->description));
    TRY(jsonw_get_str(j, ctx, "results_dir", 0, m->results_dir, sizeof m->results_dir));
    TRY(jsonw_get_num(j, ctx, "memory_limit_gb", 0, 0, 1e6, &m->memory_limit_gb));
    int timing = MAN_TIMING_SHARED;
    TRY(jsonw_get_choice(j, ctx, "timing", 0, TIMING_NAMES, &timing));
    m->timing = (man_timing)timing;
    md_params_default(&m->md);
    if (jsonw_get(j, "md")) {
        char mctx[TRAIN_PATH_MAX + 64];
        snprintf(mctx, sizeof mctx, "%s: md", path);
        TRY(md_params_from_json(jsonw_get(j, "md"), mctx, &m->md));
        m->has_md = 1;
    }
    if (jsonw_get(j, "model")) {
        char mctx[TRAIN_PATH_MAX + 64];
        snprintf(mctx, sizeof mctx, "%s: model", path);
        TRY(model_config_from_json(jsonw_get(j, "model"), mctx, &m->model));
    }
    /* datasets */
    const jsonw *ds = jsonw_get(j, "datasets");
    if (!ds || jsonw_typeof(ds) != JSONW_ARRAY || jsonw_size(ds) == 0) {
        st = err_set(RK_EINPUT, "%s.datasets: expected a non-empty array", ctx);
        goto done;
    }
    m->n_datasets = jsonw_size(ds);
    m->datasets = calloc(m->n_datasets, sizeof *m->datasets);
    for (size_t i = 0; i < m->n_datasets; i++) {
        char c2[TRAIN_PATH_MAX + 96];
        snprintf(c2, sizeof c2, "%s: datasets[%zu]", path, i);
        TRY(parse_dataset(jsonw_at(ds, i), c2, &m->datasets[i]));
        for (size_t k = 0; k < i; k++)
            if (strcmp(m->datasets[k].name, m->datasets[i].name) == 0) {
                st = err_set(RK_EINPUT, "%s.name: duplicate dataset name \"%s\"", c2,
                             m->datasets[i].name);
                goto done;
            }
    }
    /* optimizer variants */
    const jsonw *op = jsonw_get(j, "optimizers");
    if (!op || jsonw_typeof(op) != JSONW_ARRAY || jsonw_size(op) == 0) {
        st = err_set(RK_EINPUT, "%s.optimizers: expected a non-empty array", ctx);
        goto done;
    }
    m->n_variants = jsonw_size(op);
    m->variants = calloc(m->n_variants, sizeof *m->variants);
    for (size_t i = 0; i < m->n_variants; i++) {
        char c2[TRAIN_PATH_MAX + 96];
        snprintf(c2, sizeof c2, "%s: optimizers[%zu]", path, i);
        TRY(parse_variant(jsonw_at(op, i), c2, &m->variants[i]));
        for (size_t k = 0; k < i; k++)
            if (strcmp(m->variants[k].label, m->variants[i].label) == 0) {
                st = err_set(RK_EINPUT,
                             "%s.label: duplicate label \"%s\" (give each variant a "
                             "distinct label)",
                             c2, m->variants[i].label);
                goto done;
            }
    }
    /* md.datasets must name datasets of the manifest */
    for (size_t k = 0; k < m->md.n_datasets; k++) {
        int found = 0;
        for (size_t d = 0; d < m->n_datasets; d++)
            found |= strcmp(m->datasets[d].name, m->md.datasets[k]) == 0;
        if (!found) {
            st = err_set(RK_EINPUT, "%s: md.datasets[%zu]: unknown dataset \"%s\"", path, k,
                         m->md.datasets[k]);
            goto done;
        }
    }
    /* variant restrictions must name datasets of the manifest */
    for (size_t i = 0; i < m->n_variants; i++)
        for (size_t k = 0; k < m->variants[i].n_only_datasets; k++) {
            int found = 0;
            for (size_t d = 0; d < m->n_datasets; d++)
                found |= strcmp(m->datasets[d].name, m->variants[i].only_datasets[k]) == 0;
            if (!found) {
                st = err_set(RK_EINPUT, "%s: optimizers[%zu].datasets[%zu]: unknown dataset \"%s\"",
                             path, i, k, m->variants[i].only_datasets[k]);
                goto done;
            }
        }
    /* seeds */
    const jsonw *se = jsonw_get(j, "seeds");
    if (!se || jsonw_typeof(se) != JSONW_ARRAY || jsonw_size(se) == 0) {
        st = err_set(RK_EINPUT, "%s.seeds: expected a non-empty array of integers", ctx);
        goto done;
    }
    m->n_seeds = jsonw_size(se);
    m->seeds = calloc(m->n_seeds, sizeof *m->seeds);
    size_t got = 0;
    TRY(jsonw_get_int_array(j, ctx, "seeds", 1, 0, 2147483647, m->seeds, m->n_seeds, &got));
    for (size_t i = 0; i < m->n_seeds; i++)
        for (size_t k = 0; k < i; k++)
            if (m->seeds[i] == m->seeds[k]) {
                st = err_set(RK_EINPUT, "%s.seeds[%zu]: duplicate seed %ld", ctx, i, m->seeds[i]);
                goto done;
            }
    /* variant restrictions must name seeds of the manifest (else the variant silently has no
     * cells for that seed, or none at all) */
    for (size_t i = 0; i < m->n_variants; i++)
        for (size_t k = 0; k < m->variants[i].n_only_seeds; k++) {
            int found = 0;
            for (size_t s = 0; s < m->n_seeds; s++)
                found |= m->seeds[s] == m->variants[i].only_seeds[k];
            if (!found) {
                st = err_set(RK_EINPUT,
                             "%s: optimizers[%zu].seeds[%zu]: variant \"%s\" names seed %ld, "
                             "which is not in the manifest's seeds",
                             path, i, k, m->variants[i].label, m->variants[i].only_seeds[k]);
                goto done;
            }
        }
#undef TRY
done:
    jsonw_free(j);
    if (st) manifest_free(m);
    return st;
}

void manifest_free(manifest_t *m) {
    free(m->datasets);
    free(m->variants);
    free(m->seeds);
    m->datasets = NULL;
    m->variants = NULL;
    m->seeds = NULL;
}

size_t manifest_n_cells(const manifest_t *m) {
    return m->n_datasets * m->n_variants * m->n_seeds;
}

void manifest_cell(const manifest_t *m, size_t k, size_t *d, size_t *v, size_t *s) {
    *s = k % m->n_seeds;
    *v = (k / m->n_seeds) % m->n_variants;
    *d = k / (m->n_seeds * m->n_variants);
}

int manifest_cell_applies(const manifest_t *m, size_t k) {
    size_t d, v, s;
    manifest_cell(m, k, &d, &v, &s);
    const man_variant *V = &m->variants[v];
    if (V->n_only_datasets) {
        int ok = 0;
        for (size_t i = 0; i < V->n_only_datasets; i++)
            ok |= strcmp(V->only_datasets[i], m->datasets[d].name) == 0;
        if (!ok) return 0;
    }
    if (V->n_only_seeds) {
        int ok = 0;
        for (size_t i = 0; i < V->n_only_seeds; i++)
            ok |= V->only_seeds[i] == m->seeds[s];
        if (!ok) return 0;
    }
    return 1;
}

void manifest_cell_dir(const manifest_t *m, size_t k, char *buf, size_t cap) {
    size_t d, v, s;
    manifest_cell(m, k, &d, &v, &s);
    snprintf(buf, cap, "%s/%s/%s/%s/seed-%ld", m->results_dir, m->name, m->datasets[d].name,
             m->variants[v].label, m->seeds[s]);
}

void manifest_cell_config(const manifest_t *m, size_t k, const char *dataset_path,
                          train_config *tc) {
    size_t d, v, s;
    manifest_cell(m, k, &d, &v, &s);
    const man_dataset *D = &m->datasets[d];
    const man_variant *V = &m->variants[v];
    config_default(tc);
    config_apply(tc, &m->defaults);
    config_apply(tc, &D->training);
    config_apply(tc, &V->training);
    snprintf(tc->dataset, sizeof tc->dataset, "%s", dataset_path);
    tc->model = m->model;
    tc->opt = V->opt;
    tc->opt_params = V->params;
    tc->seed = (uint64_t)m->seeds[s];
    /* paired cells: the streams derive from (dataset name, seed), never from the optimizer */
    snprintf(tc->stream_name, sizeof tc->stream_name, "%s", D->name);
    manifest_cell_dir(m, k, tc->out_dir, sizeof tc->out_dir);
    tc->quiet = 0;
}
