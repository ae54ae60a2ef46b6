/* optim: hyper-parameter tables, the memory limit and the owning optimizer object (see optim.h).
 *
 * The registry table itself lives with the plug-ins (optimizers/registry.c), so this layer names
 * none of them. Hyper-parameters are resolved from each type's descriptor table (default,
 * inclusive bounds, integer or choice), so configuration errors name the key path, the value and
 * what would have been valid. optim_create checks the state size (computed from the layout before
 * any allocation) against a memory limit, then lets the type build its state inside an optim_t.
 */
#include "optim.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* Default memory limit: this share of physical memory, leaving room for the model, the data set
 * and the rest of the system. */
#define OPTIM_MEM_SHARE_NUM 4
#define OPTIM_MEM_SHARE_DEN 5
#define OPTIM_MEM_ENV "RLEKF_MEM_LIMIT"
/* Room for one list of parameter names. */
#define OPTIM_NAMES_MAX 512
/* Numbers whose magnitude is below this and that are integers print without exponent. */
#define OPTIM_PRINT_INT_MAX 1e15
/* 17 significant digits always identify a double. */
#define OPTIM_MAX_DIGITS 17

void optim_default_params(const optim_type *t, optim_params *p) {
    RK_ASSERT(t->n_params <= OPTIM_MAX_PARAMS && OPTIM_MAX_PARAMS <= 8 * sizeof p->set);
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < t->n_params; i++)
        p->v[i] = t->params[i].def;
}

int optim_param_is_set(const optim_params *p, size_t i) {
    RK_ASSERT(i < OPTIM_MAX_PARAMS);
    return (p->set >> i) & 1u;
}

rk_status optim_resolve(const optim_type *t, optim_params *p, const optim_run_info *run) {
    return t->resolve ? t->resolve(t, p, run) : RK_OK;
}

int optim_param_index(const optim_type *t, const char *key) {
    for (size_t i = 0; i < t->n_params; i++)
        if (strcmp(t->params[i].name, key) == 0) return (int)i;
    return -1;
}

/* A number as a reader expects it: integers plainly, others in the shortest %g form that reads
 * back to the same double. */
static const char *fmt_num(char *buf, size_t cap, double v) {
    if (isfinite(v) && v == floor(v) && fabs(v) < OPTIM_PRINT_INT_MAX) {
        snprintf(buf, cap, "%.0f", v);
        return buf;
    }
    for (int prec = 1; prec <= OPTIM_MAX_DIGITS; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

/* "ctx.key" or "key" for messages. */
static const char *key_path(char *buf, size_t cap, const char *ctx, const char *key) {
    if (ctx && ctx[0])
        snprintf(buf, cap, "%s.%s", ctx, key);
    else
        snprintf(buf, cap, "%s", key);
    return buf;
}

static size_t n_choices(const optim_param_desc *d) {
    size_t n = 0;
    while (d->choices && d->choices[n])
        n++;
    return n;
}

static const char *choice_list(char *buf, size_t cap, const optim_param_desc *d) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; d->choices && d->choices[i] && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", d->choices[i]);
    return buf;
}

static rk_status unknown_key(const optim_type *t, const char *ctx, const char *key) {
    char names[OPTIM_NAMES_MAX];
    size_t len = 0;
    names[0] = '\0';
    for (size_t i = 0; i < t->n_params && len < sizeof names; i++)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "",
                                t->params[i].name);
    return err_set(RK_EINPUT, "%s%sunknown hyper-parameter '%s' for %s (valid: %s)",
                   ctx && ctx[0] ? ctx : "", ctx && ctx[0] ? ": " : "", key, t->name, names);
}

rk_status optim_set_param(const optim_type *t, optim_params *p, const char *ctx, const char *key,
                          double value) {
    int i = optim_param_index(t, key);
    if (i < 0) return unknown_key(t, ctx, key);
    const optim_param_desc *d = &t->params[i];
    char path[256], lo[40], hi[40], got[40];
    key_path(path, sizeof path, ctx, key);
    fmt_num(got, sizeof got, value);
    switch (d->type) {
    case OPTIM_P_REAL:
        if (!isfinite(value) || value < d->lo || value > d->hi)
            return err_set(RK_EINPUT, "%s: expected a number in [%s, %s], got %s", path,
                           fmt_num(lo, sizeof lo, d->lo), fmt_num(hi, sizeof hi, d->hi), got);
        break;
    case OPTIM_P_INT:
        if (!isfinite(value) || value != floor(value) || value < d->lo || value > d->hi)
            return err_set(RK_EINPUT, "%s: expected an integer in [%s, %s], got %s", path,
                           fmt_num(lo, sizeof lo, d->lo), fmt_num(hi, sizeof hi, d->hi), got);
        break;
    case OPTIM_P_CHOICE: {
        size_t n = n_choices(d);
        if (!isfinite(value) || value != floor(value) || value < 0 || value >= (double)n) {
            char list[OPTIM_NAMES_MAX];
            return err_set(RK_EINPUT, "%s: expected one of %s, got %s", path,
                           choice_list(list, sizeof list, d), got);
        }
        break;
    }
    }
    p->v[i] = value;
    p->set |= 1u << i;
    return RK_OK;
}

rk_status optim_set_choice(const optim_type *t, optim_params *p, const char *ctx, const char *key,
                           const char *value) {
    int i = optim_param_index(t, key);
    if (i < 0) return unknown_key(t, ctx, key);
    const optim_param_desc *d = &t->params[i];
    char path[256];
    key_path(path, sizeof path, ctx, key);
    if (d->type != OPTIM_P_CHOICE)
        return err_set(RK_EINPUT, "%s: expected a number, got the string \"%s\"", path, value);
    for (size_t c = 0; d->choices[c]; c++) {
        if (strcmp(d->choices[c], value) == 0) {
            p->v[i] = (double)c;
            p->set |= 1u << i;
            return RK_OK;
        }
    }
    char list[OPTIM_NAMES_MAX];
    return err_set(RK_EINPUT, "%s: unknown value \"%s\" (valid: %s)", path, value,
                   choice_list(list, sizeof list, d));
}

/* ---- memory limit ---- */

static size_t optim_limit_override; /* 0: none, use the environment or the default */

/* "123", "1.5G", "512M", "64K", "2GiB", "1e9": bytes with an optional binary-multiple suffix.
 * Returns 0 and leaves *out untouched on anything else. */
static int parse_bytes(const char *s, size_t *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v <= 0) return 0;
    double mult = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K':
        mult = 1024.0;
        end++;
        break;
    case 'M':
        mult = 1024.0 * 1024.0;
        end++;
        break;
    case 'G':
        mult = 1024.0 * 1024.0 * 1024.0;
        end++;
        break;
    case 'T':
        mult = 1024.0 * 1024.0 * 1024.0 * 1024.0;
        end++;
        break;
    default:
        break;
    }
    if (mult > 1 && (end[0] == 'i' || end[0] == 'I') && toupper((unsigned char)end[1]) == 'B')
        end += 2;
    else if (toupper((unsigned char)*end) == 'B')
        end++;
    if (*end != '\0') return 0;
    double bytes = v * mult;
    if (bytes >= (double)SIZE_MAX) return 0;
    *out = (size_t)bytes;
    return 1;
}

static size_t default_limit(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0) return SIZE_MAX; /* unknown: no limit beyond malloc's own */
    return (size_t)pages / OPTIM_MEM_SHARE_DEN * OPTIM_MEM_SHARE_NUM * (size_t)page;
}

size_t optim_mem_limit(void) {
    if (optim_limit_override) return optim_limit_override;
    const char *env = getenv(OPTIM_MEM_ENV);
    size_t v;
    if (env && env[0] && parse_bytes(env, &v)) return v;
    return default_limit();
}

void optim_set_mem_limit(size_t bytes) {
    optim_limit_override = bytes;
}

static const char *fmt_bytes(char *buf, size_t cap, size_t b) {
    const double kib = 1024.0, mib = kib * kib, gib = mib * kib;
    if ((double)b >= gib)
        snprintf(buf, cap, "%.2f GiB", (double)b / gib);
    else if ((double)b >= mib)
        snprintf(buf, cap, "%.1f MiB", (double)b / mib);
    else if ((double)b >= kib)
        snprintf(buf, cap, "%.1f KiB", (double)b / kib);
    else
        snprintf(buf, cap, "%zu bytes", b);
    return buf;
}

struct optim {
    const optim_type *type;
    optim_params params;
    void *state; /* made by type->init, released by type->free */
};

size_t optim_state_bytes(const optim_type *t, const optim_params *p, const layout_t *L) {
    return t->state_bytes(t, p, L);
}

rk_status optim_create(const optim_type *t, const optim_params *p, const layout_t *L,
                       optim_t **out) {
    *out = NULL;
    const char *env = getenv(OPTIM_MEM_ENV);
    size_t dummy;
    const int from_env = !optim_limit_override && env && env[0];
    if (from_env && !parse_bytes(env, &dummy))
        return err_set(RK_EINPUT,
                       "%s: expected a positive number of bytes with optional suffix K, M, G "
                       "or T, got \"%s\"",
                       OPTIM_MEM_ENV, env);
    size_t need = optim_state_bytes(t, p, L), limit = optim_mem_limit();
    if (need > limit) {
        char what[96], nb[32], lb[32];
        int described = t->describe && t->describe(t, p, L, what, sizeof what);
        if (!described) snprintf(what, sizeof what, "N = %zu", L->n_params);
        const char *source = optim_limit_override ? "configured"
                             : from_env           ? OPTIM_MEM_ENV
                                        : "80% of physical memory; " OPTIM_MEM_ENV " overrides";
        return err_set(RK_ENOMEM, "%s: needs %s of optimizer state (%s), limit %s (%s)%s%s",
                       t->name, fmt_bytes(nb, sizeof nb, need), what,
                       fmt_bytes(lb, sizeof lb, limit), source, t->memory_hint ? "; " : "",
                       t->memory_hint ? t->memory_hint : "");
    }
    optim_t *o = rk_calloc(1, sizeof *o);
    if (!o) return err_prefix(RK_ENOMEM, "%s: ", t->name);
    o->type = t;
    o->params = *p;
    rk_status st = t->init(t, &o->state, p, L);
    if (st) {
        free(o);
        return st;
    }
    *out = o;
    return RK_OK;
}

rk_status optim_step(optim_t *o, double *w, const optim_signal *sig) {
    return o->type->step(o->state, w, sig);
}

void optim_report(const optim_t *o, optim_report_t *r) {
    r->lambda = NAN;
    r->lr = NAN;
    r->pref_e = NAN;
    r->pref_f = NAN;
    r->n_blocks = 0;
    r->updates = 0;
    r->state_bytes = 0;
    o->type->report(o->state, r);
}

const optim_type *optim_type_of(const optim_t *o) {
    return o->type;
}

const optim_params *optim_params_of(const optim_t *o) {
    return &o->params;
}

void *optim_state(const optim_t *o) {
    return o->state;
}

void optim_free(optim_t *o) {
    if (!o) return;
    o->type->free(o->state);
    free(o);
}

/* ------------------------------------------------------------------ checkpoints ---------- */

int optim_can_checkpoint(const optim_type *t) {
    return t && t->state_arrays && t->get_scalars && t->set_scalars;
}

rk_status optim_snapshot_begin(optim_t *o, optim_snapshot *s) {
    memset(s, 0, sizeof *s);
    const optim_type *t = o->type;
    if (!optim_can_checkpoint(t))
        return err_set(RK_EINPUT, "%s: cannot checkpoint its state (the optimizer has no state "
                                  "hooks); run without checkpoints", t->name);
    size_t ns = t->get_scalars(o->state, NULL);
    double *sc = rk_malloc((ns ? ns : 1) * sizeof *sc);
    if (!sc) return RK_ENOMEM;
    t->get_scalars(o->state, sc);
    s->a[0] = (optim_array){"scalars", OPTIM_ARRAY_F64, sc, ns, 0, 0};
    s->n = 1 + t->state_arrays(o->state, s->a + 1);
    RK_ASSERT(s->n <= OPTIM_MAX_ARRAYS + 1);
    return RK_OK;
}

rk_status optim_snapshot_restore(optim_t *o, const optim_snapshot *s) {
    RK_ASSERT(s->n >= 1 && optim_can_checkpoint(o->type));
    return o->type->set_scalars(o->state, s->a[0].data, s->a[0].n);
}

void optim_snapshot_end(optim_snapshot *s) {
    if (s->n) free(s->a[0].data);
    memset(s, 0, sizeof *s);
}
