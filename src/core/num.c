/* num: checked whole-string number parsing (see num.h). */
#include "num.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Echo of the offending text kept short enough for a one-line message. */
#define NUM_ECHO_MAX 64

static rk_status bad(const char *what, const char *kind, const char *lo, const char *hi,
                     const char *text) {
    /* quoted when the text would be invisible or ambiguous: empty or holding a space */
    int quote = !*text;
    for (const char *c = text; *c; c++)
        if (isspace((unsigned char)*c)) quote = 1;
    const char *q = quote ? "'" : "";
    return err_set(RK_EINPUT, "%s: expected %s in [%s, %s], got %s%.*s%s%s", what, kind, lo, hi, q,
                   NUM_ECHO_MAX, text, strlen(text) > NUM_ECHO_MAX ? "..." : "", q);
}

/* Digits only after an optional sign (allow_sign) — strtol/strtoull alone accept leading spaces,
 * and strtoull silently negates "-1". */
static int integer_syntax(const char *s, int allow_sign) {
    if (allow_sign && (*s == '-' || *s == '+')) s++;
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

rk_status num_parse_long(const char *what, const char *text, long lo, long hi, long *out) {
    char los[32], his[32];
    snprintf(los, sizeof los, "%ld", lo);
    snprintf(his, sizeof his, "%ld", hi);
    if (!text || !integer_syntax(text, 1))
        return bad(what, "an integer", los, his, text ? text : "");
    errno = 0;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < lo || v > hi) return bad(what, "an integer", los, his, text);
    *out = v;
    return RK_OK;
}

rk_status num_parse_u64(const char *what, const char *text, uint64_t lo, uint64_t hi,
                        uint64_t *out) {
    char los[32], his[32];
    snprintf(los, sizeof los, "%llu", (unsigned long long)lo);
    snprintf(his, sizeof his, "%llu", (unsigned long long)hi);
    if (!text || !integer_syntax(text, 0))
        return bad(what, "an integer", los, his, text ? text : "");
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < lo || v > hi) return bad(what, "an integer", los, his, text);
    *out = (uint64_t)v;
    return RK_OK;
}

rk_status num_parse_size(const char *what, const char *text, size_t lo, size_t hi, size_t *out) {
    uint64_t v = 0;
    rk_status st = num_parse_u64(what, text, (uint64_t)lo, (uint64_t)hi, &v);
    if (!st) *out = (size_t)v;
    return st;
}

rk_status num_parse_real(const char *what, const char *text, double lo, double hi, double *out) {
    char los[32], his[32];
    snprintf(los, sizeof los, "%g", lo);
    snprintf(his, sizeof his, "%g", hi);
    const char *s = text ? text : "";
    /* strtod also reads leading spaces, hexadecimal, "nan" and "inf": refuse them here */
    const char *p = s + (*s == '-' || *s == '+');
    int plain = *p && (isdigit((unsigned char)*p) || *p == '.') &&
                !(p[0] == '0' && (p[1] == 'x' || p[1] == 'X'));
    errno = 0;
    char *end = NULL;
    double v = plain ? strtod(s, &end) : 0.0;
    if (!plain || end == s || *end || (errno == ERANGE && fabs(v) > 1.0) || !isfinite(v) ||
        !(v >= lo && v <= hi))
        return bad(what, "a number", los, his, s);
    *out = v;
    return RK_OK;
}
