/* model_io: the model's configuration text and its file (SPEC §2 keys, SPEC §5 layout).
 *
 * model_config_from_json reads a DeePMD-kit-style model section (unknown keys rejected, errors
 * name the JSON path); model_config_to_json writes the resolved section that goes into the
 * model file's /config attribute; model_save / model_load write and read the file through
 * h5io (the only HDF5 user). The file format is SPEC §5 and does not change here.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5io.h"
#include "model.h"

/* ---------------------------------------------------------------- configuration ----------- */

model_config model_default_config(void) {
    model_config c;
    memset(&c, 0, sizeof c);
    c.rcut = 6.0;
    c.rcut_smth = 0.5;
    c.n_neuron = 3;
    c.neuron[0] = c.neuron[1] = c.neuron[2] = 25;
    c.axis_neuron = 16;
    c.n_fitting = 3;
    c.fitting_neuron[0] = c.fitting_neuron[1] = c.fitting_neuron[2] = 50;
    c.resnet = 1;
    c.resnet_dt = 0;
    c.fitting_resnet_dt = 0;
    return c;
}

static rk_status get_sizes(const jsonw *obj, const char *ctx, const char *key, size_t *out,
                           size_t *n, size_t cap, long lo) {
    long tmp[MODEL_MAX_TYPES];
    size_t len = 0;
    if (!jsonw_get(obj, key)) return RK_OK;
    rk_status st = jsonw_get_int_array(obj, ctx, key, 1, lo, 100000, tmp, cap, &len);
    if (st) return st;
    for (size_t i = 0; i < len; i++)
        out[i] = (size_t)tmp[i];
    *n = len;
    return RK_OK;
}

rk_status model_config_from_json(const jsonw *obj, const char *ctx, model_config *c) {
    static const char *const keys[] = {"type",   "rcut",        "rcut_smth",         "sel",
                                       "neuron", "axis_neuron", "fitting_neuron",    "activation",
                                       "resnet", "resnet_dt",   "fitting_resnet_dt", NULL};
    static const char *const types[] = {"se_e2_a", NULL};
    static const char *const acts[] = {"tanh", NULL};
    rk_status st = jsonw_check_keys(obj, ctx, keys);
    if (st) return st;
    int idx = 0;
    if ((st = jsonw_get_choice(obj, ctx, "type", 0, types, &idx))) return st;
    if ((st = jsonw_get_choice(obj, ctx, "activation", 0, acts, &idx))) return st;
    if ((st = jsonw_get_num(obj, ctx, "rcut", 0, 1e-3, 100.0, &c->rcut))) return st;
    if ((st = jsonw_get_num(obj, ctx, "rcut_smth", 0, 0.0, 100.0, &c->rcut_smth))) return st;
    const jsonw *sv = jsonw_get(obj, "sel");
    if (sv && jsonw_typeof(sv) == JSONW_STRING) {
        if (model_parse_sel_auto(jsonw_string(sv), &c->sel_auto))
            return err_set(RK_EINPUT,
                           "%s: sel: \"%s\" is not a list of counts, \"auto\" or \"auto:r\" "
                           "(1 <= r <= 10)",
                           ctx, jsonw_string(sv));
        c->n_sel = 0;
    } else {
        if ((st = get_sizes(obj, ctx, "sel", c->sel, &c->n_sel, MODEL_MAX_TYPES, 0))) return st;
        if (sv) c->sel_auto = 0;
    }
    if ((st = get_sizes(obj, ctx, "neuron", c->neuron, &c->n_neuron, MODEL_MAX_HIDDEN, 1)))
        return st;
    if ((st = get_sizes(obj, ctx, "fitting_neuron", c->fitting_neuron, &c->n_fitting,
                        MODEL_MAX_HIDDEN, 1)))
        return st;
    long ax = (long)c->axis_neuron;
    if ((st = jsonw_get_int(obj, ctx, "axis_neuron", 0, 1, 100000, &ax))) return st;
    c->axis_neuron = (size_t)ax;
    if ((st = jsonw_get_bool(obj, ctx, "resnet", 0, &c->resnet))) return st;
    if ((st = jsonw_get_bool(obj, ctx, "resnet_dt", 0, &c->resnet_dt))) return st;
    if ((st = jsonw_get_bool(obj, ctx, "fitting_resnet_dt", 0, &c->fitting_resnet_dt))) return st;
    if (c->rcut_smth >= c->rcut)
        return err_set(RK_EINPUT, "%s.rcut_smth: must be below rcut = %g, got %g", ctx, c->rcut,
                       c->rcut_smth);
    if (c->axis_neuron > c->neuron[c->n_neuron - 1])
        return err_set(RK_EINPUT, "%s.axis_neuron: must be at most neuron[-1] = %zu, got %zu", ctx,
                       c->neuron[c->n_neuron - 1], c->axis_neuron);
    return RK_OK;
}

int model_parse_sel_auto(const char *text, double *r) {
    if (strcmp(text, "auto") == 0) {
        *r = MODEL_SEL_AUTO_DEFAULT;
        return 0;
    }
    if (strncmp(text, "auto:", 5) != 0 || !text[5]) return 1;
    char *end = NULL;
    errno = 0;
    double v = strtod(text + 5, &end);
    if (errno || *end || !(v >= 1.0 && v <= 10.0)) return 1;
    *r = v;
    return 0;
}

void model_sel_auto(const size_t *counts, size_t ntypes, double r, size_t *sel) {
    for (size_t t = 0; t < ntypes; t++) {
        size_t scaled = (size_t)floor((double)counts[t] * r);
        sel[t] = (scaled + MODEL_SEL_QUANTUM - 1) / MODEL_SEL_QUANTUM * MODEL_SEL_QUANTUM;
    }
}

char *model_config_to_json(const model_config *c) {
    jsonw *o = jsonw_new_object();
    jsonw_add_str(o, "type", "se_e2_a");
    jsonw_add_num(o, "rcut", c->rcut);
    jsonw_add_num(o, "rcut_smth", c->rcut_smth);
    if (c->n_sel == 0 && c->sel_auto > 0) {
        char rule[40];
        snprintf(rule, sizeof rule, "auto:%.6g", c->sel_auto);
        jsonw_add_str(o, "sel", rule);
    } else {
        jsonw *sel = jsonw_new_array();
        for (size_t i = 0; i < c->n_sel; i++)
            jsonw_append_num(sel, (double)c->sel[i]);
        jsonw_add(o, "sel", sel);
    }
    jsonw *ne = jsonw_new_array();
    for (size_t i = 0; i < c->n_neuron; i++)
        jsonw_append_num(ne, (double)c->neuron[i]);
    jsonw_add(o, "neuron", ne);
    jsonw_add_num(o, "axis_neuron", (double)c->axis_neuron);
    jsonw *fn = jsonw_new_array();
    for (size_t i = 0; i < c->n_fitting; i++)
        jsonw_append_num(fn, (double)c->fitting_neuron[i]);
    jsonw_add(o, "fitting_neuron", fn);
    jsonw_add_str(o, "activation", "tanh");
    jsonw_add_bool(o, "resnet", c->resnet);
    jsonw_add_bool(o, "resnet_dt", c->resnet_dt);
    jsonw_add_bool(o, "fitting_resnet_dt", c->fitting_resnet_dt);
    char *s = jsonw_print(o);
    jsonw_free(o);
    return s;
}

/* ---------------------------------------------------------------- files ------------------- */

rk_status model_check_types(const model_t *m, const dataset_t *ds, const char *what) {
    if (ds->ntypes != m->ntypes)
        return err_set(RK_EINPUT, "%s: dataset has %zu types, model has %zu", what, ds->ntypes,
                       m->ntypes);
    for (size_t a = 0; a < m->ntypes; a++)
        if (strcmp(ds->type_map[a], m->type_map[a]) != 0)
            return err_set(RK_EINPUT,
                           "%s: type %zu is '%s' in the dataset but '%s' in the model (type maps "
                           "must match)",
                           what, a, ds->type_map[a], m->type_map[a]);
    return RK_OK;
}

rk_status model_save(const model_t *m, const char *path) {
    return model_save_split(m, path, NULL);
}

rk_status model_save_split(const model_t *m, const char *path, const char *split_json) {
    h5io_model_rec rec;
    double avg[MODEL_MAX_TYPES * 4], sd[MODEL_MAX_TYPES * 4];
    for (size_t a = 0; a < m->ntypes; a++)
        for (int k = 0; k < 4; k++) {
            avg[a * 4 + k] = m->avg[a][k];
            sd[a * 4 + k] = m->std[a][k];
        }
    rec.config_json = model_config_to_json(&m->cfg);
    rec.ntypes = m->ntypes;
    rec.type_map = (char(*)[DS_SYMBOL_MAX])m->type_map;
    rec.avg = avg;
    rec.std = sd;
    rec.params = m->w;
    rec.n_params = m->layout.n_params;
    rec.split_json = (char *)split_json; /* only read by the writer */
    rk_status st = h5io_model_write(path, &rec, NULL, 0);
    free(rec.config_json);
    return st;
}

rk_status model_load(model_t *m, const char *path) {
    h5io_model_rec rec;
    memset(&rec, 0, sizeof rec);
    rk_status st = h5io_model_read(path, &rec);
    if (st) return st;
    jsonw *j = NULL;
    model_config cfg = model_default_config();
    char ctx[600];
    snprintf(ctx, sizeof ctx, "%s: /config", path);
    st = jsonw_parse_text(rec.config_json, ctx, &j);
    if (!st) st = model_config_from_json(j, ctx, &cfg);
    jsonw_free(j);
    if (!st) st = model_create(m, &cfg, rec.ntypes, rec.type_map);
    if (!st && m->layout.n_params != rec.n_params)
        st = err_set(RK_EINPUT, "%s: /params has %zu entries, the config implies %zu", path,
                     rec.n_params, m->layout.n_params);
    /* the descriptor divides by std: a zero, negative or non-finite entry makes every prediction
     * NaN, so such a file is refused here rather than evaluated */
    for (size_t a = 0; !st && a < m->ntypes; a++)
        for (int k = 0; !st && k < 4; k++) {
            double sd = rec.std[a * 4 + k];
            if (!(isfinite(sd) && sd > 0.0))
                st = err_set(RK_EINPUT,
                             "%s: /stat/std[%zu][%d] (type %s) is %g; a standard "
                             "deviation must be positive and finite",
                             path, a, k, rec.type_map[a], sd);
        }
    if (!st) {
        memcpy(m->w, rec.params, rec.n_params * sizeof *m->w);
        for (size_t a = 0; a < m->ntypes; a++)
            for (int k = 0; k < 4; k++) {
                m->avg[a][k] = rec.avg[a * 4 + k];
                m->std[a][k] = rec.std[a * 4 + k];
            }
    } else if (m->w) {
        model_free(m);
    }
    h5io_model_rec_free(&rec);
    return st;
}
