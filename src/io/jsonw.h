/* jsonw: the project's JSON layer (the only file that includes <cjson/cJSON.h>).
 *
 * Parsing with line numbers in errors, typed getters that report the JSON path of a bad value
 * ("train.json: optimizer.block_size: expected an integer in [1, 1e9], got 0.5"), rejection of
 * unknown keys, and a small builder for writing resolved configurations.
 * `ctx` arguments are the path prefix used in messages, e.g. "exp.json: optimizers[2]".
 */
#ifndef RLEKF_JSONW_H
#define RLEKF_JSONW_H

#include <stddef.h>

#include "err.h"

typedef struct jsonw jsonw; /* a node; the root owns the tree */

typedef enum { JSONW_NULL, JSONW_BOOL, JSONW_NUMBER, JSONW_STRING, JSONW_ARRAY, JSONW_OBJECT } jsonw_type;

/* Parse; invalid JSON names the line, a key given twice in one object names its JSON path
 * ("cfg.json: training.epochs: duplicate key ..."). */
rk_status jsonw_parse_file(const char *path, jsonw **root);
rk_status jsonw_parse_text(const char *text, const char *what, jsonw **root);
void jsonw_free(jsonw *root);

jsonw_type jsonw_typeof(const jsonw *n);
const char *jsonw_type_name(jsonw_type t);
const jsonw *jsonw_get(const jsonw *obj, const char *key); /* NULL if absent or obj not an object */
size_t jsonw_size(const jsonw *n);                          /* array length or member count */
const jsonw *jsonw_at(const jsonw *n, size_t i);            /* i-th element / member */
const char *jsonw_key(const jsonw *member);                 /* key of an object member */
double jsonw_number(const jsonw *n);
const char *jsonw_string(const jsonw *n);
int jsonw_bool(const jsonw *n);

/* Fails with "<ctx>.<key>: unknown key (valid: a, b, c)" for a key not in the NULL-terminated list. */
rk_status jsonw_check_keys(const jsonw *obj, const char *ctx, const char *const *allowed);
/* Typed getters. If the key is absent: required -> error "<ctx>.<key>: missing"; otherwise *out
 * keeps its (default) value and RK_OK is returned. Range checks are inclusive. */
rk_status jsonw_get_num(const jsonw *obj, const char *ctx, const char *key, int required, double lo,
                        double hi, double *out);
rk_status jsonw_get_int(const jsonw *obj, const char *ctx, const char *key, int required, long lo,
                        long hi, long *out);
rk_status jsonw_get_bool(const jsonw *obj, const char *ctx, const char *key, int required, int *out);
/* Copies into buf (cap bytes); too long is an error. */
rk_status jsonw_get_str(const jsonw *obj, const char *ctx, const char *key, int required, char *buf,
                        size_t cap);
/* Array of integers of fixed or free length (len_expected 0 = any, length returned in *len). */
rk_status jsonw_get_int_array(const jsonw *obj, const char *ctx, const char *key, int required,
                              long lo, long hi, long *out, size_t cap, size_t *len);
/* The value at key must be one of the NULL-terminated names; *index gets its position. */
rk_status jsonw_get_choice(const jsonw *obj, const char *ctx, const char *key, int required,
                           const char *const *names, int *index);

/* Builder: create, add, print (caller frees the printed text with free()). */
jsonw *jsonw_new_object(void);
jsonw *jsonw_new_array(void);
void jsonw_add_num(jsonw *obj, const char *key, double v);
void jsonw_add_str(jsonw *obj, const char *key, const char *v);
void jsonw_add_bool(jsonw *obj, const char *key, int v);
void jsonw_add(jsonw *obj, const char *key, jsonw *child); /* takes ownership; key NULL for arrays */
void jsonw_append_num(jsonw *arr, double v);
void jsonw_append_str(jsonw *arr, const char *v);
jsonw *jsonw_duplicate(const jsonw *n);
char *jsonw_print(const jsonw *n); /* formatted */
char *jsonw_print_compact(const jsonw *n);
/* A value as compact JSON for error messages, cut to cap bytes with "..." when longer. */
void jsonw_brief(const jsonw *n, char *buf, size_t cap);

#endif
