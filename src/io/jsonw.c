/* jsonw: cJSON behind a typed, path-reporting interface (see jsonw.h). */
#include "jsonw.h"
#include "fs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#define C(n) ((cJSON *)(n))
#define CC(n) ((const cJSON *)(n))

/* Objects with more members than this are checked for duplicate keys by sorting. */
#define JSONW_PAIRWISE_MAX 32
/* Room for the JSON path of a duplicate key in messages. */
#define JSONW_PATH_MAX 512

static int cmp_key(const void *a, const void *b) {
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* The first key that an object holds twice, or NULL (an allocation failure reports none: the
 * pairwise scan is then used). */
static const char *duplicate_key(const cJSON *obj) {
    size_t n = 0;
    for (const cJSON *m = obj->child; m; m = m->next)
        n++;
    const cJSON **v = n > JSONW_PAIRWISE_MAX ? malloc(n * sizeof *v) : NULL;
    if (v) {
        size_t k = 0;
        for (const cJSON *m = obj->child; m; m = m->next)
            v[k++] = m;
        qsort(v, n, sizeof *v, cmp_key);
        const char *dup = NULL;
        for (size_t i = 1; i < n && !dup; i++)
            if (strcmp(v[i - 1]->string, v[i]->string) == 0) dup = v[i]->string;
        free(v);
        return dup;
    }
    for (const cJSON *a = obj->child; a; a = a->next)
        for (const cJSON *b = obj->child; b != a; b = b->next)
            if (strcmp(a->string, b->string) == 0) return a->string;
    return NULL;
}

/* A key given twice in one object is an input error: lookups see only the first, so the other
 * value would be ignored without a word. path (len used of cap) is the JSON path of n. */
static rk_status check_duplicates(const cJSON *n, const char *what, char *path, size_t len,
                                  size_t cap) {
    if (cJSON_IsObject(n)) {
        const char *dup = duplicate_key(n);
        if (dup)
            return err_set(RK_EINPUT, "%s: %s%s%s: duplicate key (given twice in one object)",
                           what, path, len ? "." : "", dup);
        for (const cJSON *m = n->child; m; m = m->next) {
            int w = snprintf(path + len, cap - len, "%s%s", len ? "." : "", m->string);
            size_t l2 = w < 0 || (size_t)w >= cap - len ? cap - 1 : len + (size_t)w;
            rk_status st = check_duplicates(m, what, path, l2, cap);
            path[len] = '\0';
            if (st) return st;
        }
    } else if (cJSON_IsArray(n)) {
        size_t i = 0;
        for (const cJSON *m = n->child; m; m = m->next, i++) {
            int w = snprintf(path + len, cap - len, "[%zu]", i);
            size_t l2 = w < 0 || (size_t)w >= cap - len ? cap - 1 : len + (size_t)w;
            rk_status st = check_duplicates(m, what, path, l2, cap);
            path[len] = '\0';
            if (st) return st;
        }
    }
    return RK_OK;
}

rk_status jsonw_parse_text(const char *text, const char *what, jsonw **root) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(text, &end, 1);
    if (!j) {
        const char *at = end ? end : text;
        size_t line = 1;
        for (const char *p = text; p < at && *p; p++)
            if (*p == '\n') line++;
        char near[24];
        size_t k = 0;
        for (const char *p = at; *p && *p != '\n' && k + 1 < sizeof near; p++) near[k++] = *p;
        near[k] = '\0';
        return err_set(RK_EINPUT, "%s: line %zu: invalid JSON near '%s'", what, line, near);
    }
    char path[JSONW_PATH_MAX] = "";
    rk_status st = check_duplicates(j, what, path, 0, sizeof path);
    if (st) {
        cJSON_Delete(j);
        return st;
    }
    *root = (jsonw *)j;
    return RK_OK;
}

rk_status jsonw_parse_file(const char *path, jsonw **root) {
    char *text = NULL;
    rk_status st = fs_read_all(path, &text, NULL);
    if (st) return st;
    st = jsonw_parse_text(text, path, root);
    free(text);
    return st;
}

void jsonw_free(jsonw *root) {
    cJSON_Delete(C(root));
}

jsonw_type jsonw_typeof(const jsonw *n) {
    const cJSON *c = CC(n);
    if (!c || cJSON_IsNull(c)) return JSONW_NULL;
    if (cJSON_IsBool(c)) return JSONW_BOOL;
    if (cJSON_IsNumber(c)) return JSONW_NUMBER;
    if (cJSON_IsString(c)) return JSONW_STRING;
    if (cJSON_IsArray(c)) return JSONW_ARRAY;
    return JSONW_OBJECT;
}

const char *jsonw_type_name(jsonw_type t) {
    static const char *names[] = {"null", "boolean", "number", "string", "array", "object"};
    return names[t];
}

const jsonw *jsonw_get(const jsonw *obj, const char *key) {
    if (!obj || !cJSON_IsObject(CC(obj))) return NULL;
    return (const jsonw *)cJSON_GetObjectItemCaseSensitive(CC(obj), key);
}

size_t jsonw_size(const jsonw *n) {
    return n ? (size_t)cJSON_GetArraySize(CC(n)) : 0;
}

const jsonw *jsonw_at(const jsonw *n, size_t i) {
    return (const jsonw *)cJSON_GetArrayItem(CC(n), (int)i);
}

const char *jsonw_key(const jsonw *member) {
    return CC(member)->string;
}

double jsonw_number(const jsonw *n) {
    return CC(n)->valuedouble;
}

const char *jsonw_string(const jsonw *n) {
    return CC(n)->valuestring;
}

int jsonw_bool(const jsonw *n) {
    return cJSON_IsTrue(CC(n));
}

void jsonw_brief(const jsonw *n, char *buf, size_t cap) {
    char *s = cJSON_PrintUnformatted(CC(n));
    if (!s) {
        snprintf(buf, cap, "?");
        return;
    }
    if (strlen(s) + 1 > cap && cap > 4) {
        memcpy(buf, s, cap - 4);
        strcpy(buf + cap - 4, "...");
    } else {
        snprintf(buf, cap, "%s", s);
    }
    free(s);
}

rk_status jsonw_check_keys(const jsonw *obj, const char *ctx, const char *const *allowed) {
    if (!obj || !cJSON_IsObject(CC(obj)))
        return err_set(RK_EINPUT, "%s: expected an object", ctx);
    for (const cJSON *m = CC(obj)->child; m; m = m->next) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, m->string) == 0) ok = 1;
        if (!ok) {
            char valid[512] = "";
            size_t len = 0;
            for (const char *const *a = allowed; *a; a++)
                len += (size_t)snprintf(valid + len, len < sizeof valid ? sizeof valid - len : 0,
                                        "%s%s", a == allowed ? "" : ", ", *a);
            return err_set(RK_EINPUT, "%s.%s: unknown key (valid: %s)", ctx, m->string, valid);
        }
    }
    return RK_OK;
}

static rk_status lookup(const jsonw *obj, const char *ctx, const char *key, int required,
                        jsonw_type want, const jsonw **out) {
    *out = NULL;
    if (!obj || !cJSON_IsObject(CC(obj)))
        return err_set(RK_EINPUT, "%s: expected an object", ctx);
    const jsonw *v = jsonw_get(obj, key);
    if (!v) {
        if (required) return err_set(RK_EINPUT, "%s.%s: missing (required)", ctx, key);
        return RK_OK;
    }
    if (jsonw_typeof(v) != want) {
        char b[64];
        jsonw_brief(v, b, sizeof b);
        return err_set(RK_EINPUT, "%s.%s: expected a %s, got %s", ctx, key, jsonw_type_name(want), b);
    }
    *out = v;
    return RK_OK;
}

rk_status jsonw_get_num(const jsonw *obj, const char *ctx, const char *key, int required, double lo,
                        double hi, double *out) {
    const jsonw *v;
    rk_status st = lookup(obj, ctx, key, required, JSONW_NUMBER, &v);
    if (st || !v) return st;
    double x = jsonw_number(v);
    if (!isfinite(x) || x < lo || x > hi)
        return err_set(RK_EINPUT, "%s.%s: expected a number in [%g, %g], got %.17g", ctx, key, lo,
                       hi, x);
    *out = x;
    return RK_OK;
}

rk_status jsonw_get_int(const jsonw *obj, const char *ctx, const char *key, int required, long lo,
                        long hi, long *out) {
    const jsonw *v;
    rk_status st = lookup(obj, ctx, key, required, JSONW_NUMBER, &v);
    if (st || !v) return st;
    double x = jsonw_number(v);
    if (!isfinite(x) || x != floor(x) || x < (double)lo || x > (double)hi)
        return err_set(RK_EINPUT, "%s.%s: expected an integer in [%ld, %ld], got %.17g", ctx, key,
                       lo, hi, x);
    *out = (long)x;
    return RK_OK;
}

rk_status jsonw_get_bool(const jsonw *obj, const char *ctx, const char *key, int required, int *out) {
    const jsonw *v;
    rk_status st = lookup(obj, ctx, key, required, JSONW_BOOL, &v);
    if (st || !v) return st;
    *out = jsonw_bool(v);
    return RK_OK;
}

rk_status jsonw_get_str(const jsonw *obj, const char *ctx, const char *key, int required, char *buf,
                        size_t cap) {
    const jsonw *v;
    rk_status st = lookup(obj, ctx, key, required, JSONW_STRING, &v);
    if (st || !v) return st;
    const char *s = jsonw_string(v);
    if (strlen(s) + 1 > cap)
        return err_set(RK_EINPUT, "%s.%s: string too long (%zu characters, at most %zu)", ctx, key,
                       strlen(s), cap - 1);
    memcpy(buf, s, strlen(s) + 1);
    return RK_OK;
}

rk_status jsonw_get_int_array(const jsonw *obj, const char *ctx, const char *key, int required,
                              long lo, long hi, long *out, size_t cap, size_t *len) {
    const jsonw *v;
    rk_status st = lookup(obj, ctx, key, required, JSONW_ARRAY, &v);
    if (st || !v) return st;
    size_t n = jsonw_size(v);
    if (n == 0 || n > cap)
        return err_set(RK_EINPUT, "%s.%s: expected 1 to %zu integers, got %zu", ctx, key, cap, n);
    for (size_t i = 0; i < n; i++) {
        const jsonw *e = jsonw_at(v, i);
        double x = jsonw_typeof(e) == JSONW_NUMBER ? jsonw_number(e) : NAN;
        if (!isfinite(x) || x != floor(x) || x < (double)lo || x > (double)hi) {
            char b[64];
            jsonw_brief(e, b, sizeof b);
            return err_set(RK_EINPUT, "%s.%s[%zu]: expected an integer in [%ld, %ld], got %s", ctx,
                           key, i, lo, hi, b);
        }
        out[i] = (long)x;
    }
    *len = n;
    return RK_OK;
}

rk_status jsonw_get_choice(const jsonw *obj, const char *ctx, const char *key, int required,
                           const char *const *names, int *index) {
    const jsonw *v;
    rk_status st = lookup(obj, ctx, key, required, JSONW_STRING, &v);
    if (st || !v) return st;
    const char *s = jsonw_string(v);
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0) {
            *index = i;
            return RK_OK;
        }
    char valid[512] = "";
    size_t len = 0;
    for (int i = 0; names[i]; i++)
        len += (size_t)snprintf(valid + len, len < sizeof valid ? sizeof valid - len : 0, "%s%s",
                                i ? ", " : "", names[i]);
    return err_set(RK_EINPUT, "%s.%s: unknown value \"%s\" (valid: %s)", ctx, key, s, valid);
}

jsonw *jsonw_new_object(void) {
    return (jsonw *)cJSON_CreateObject();
}

jsonw *jsonw_new_array(void) {
    return (jsonw *)cJSON_CreateArray();
}

void jsonw_add_num(jsonw *obj, const char *key, double v) {
    cJSON_AddNumberToObject(C(obj), key, v);
}

void jsonw_add_str(jsonw *obj, const char *key, const char *v) {
    cJSON_AddStringToObject(C(obj), key, v);
}

void jsonw_add_bool(jsonw *obj, const char *key, int v) {
    cJSON_AddBoolToObject(C(obj), key, v);
}

void jsonw_add(jsonw *obj, const char *key, jsonw *child) {
    if (key) cJSON_AddItemToObject(C(obj), key, C(child));
    else cJSON_AddItemToArray(C(obj), C(child));
}

void jsonw_append_num(jsonw *arr, double v) {
    cJSON_AddItemToArray(C(arr), cJSON_CreateNumber(v));
}

void jsonw_append_str(jsonw *arr, const char *v) {
    cJSON_AddItemToArray(C(arr), cJSON_CreateString(v));
}

jsonw *jsonw_duplicate(const jsonw *n) {
    return (jsonw *)cJSON_Duplicate(CC(n), 1);
}

char *jsonw_print(const jsonw *n) {
    return cJSON_Print(CC(n));
}

char *jsonw_print_compact(const jsonw *n) {
    return cJSON_PrintUnformatted(CC(n));
}
