/* npy: NumPy .npy reader (see npy.h).
 *
 * File layout: 6-byte magic "\x93NUMPY", major and minor version bytes, header length HLEN
 * (uint16 LE for version 1, uint32 LE for versions 2 and 3), HLEN bytes of a Python dict literal
 * {'descr': '<f8', 'fortran_order': False, 'shape': (n, m), } padded with spaces and a newline,
 * then count * itemsize bytes of data in C order. Data start at 6 + 2 + (2 or 4) + HLEN; the
 * header length is always read from the file, never assumed.
 */
#include "npy.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* Header dicts written by numpy are < 1 KiB; 1 MiB is a generous bound against garbage lengths. */
#define NPY_HEADER_MAX (1u << 20)

typedef struct {
    const char *path;
    const char *start, *p, *end; /* the header text and the cursor in it */
} hdr_cursor;

static void skip_ws(hdr_cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static rk_status expect_char(hdr_cursor *c, char ch) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch)
        return err_set(RK_EINPUT, "%s: malformed npy header: expected '%c' at offset %td", c->path,
                       ch, c->p - c->start);
    c->p++;
    return RK_OK;
}

/* A quoted Python string ('...' or "...") copied into buf. */
static rk_status parse_str(hdr_cursor *c, char *buf, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return err_set(RK_EINPUT, "%s: malformed npy header: expected a quoted string", c->path);
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (n + 1 >= cap)
            return err_set(RK_EINPUT, "%s: malformed npy header: string too long", c->path);
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return err_set(RK_EINPUT, "%s: malformed npy header: unterminated string", c->path);
    c->p++;
    buf[n] = '\0';
    return RK_OK;
}

static rk_status parse_bool(hdr_cursor *c, int *v) {
    skip_ws(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
        *v = 1;
        c->p += 4;
    } else if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
        *v = 0;
        c->p += 5;
    } else {
        return err_set(RK_EINPUT, "%s: malformed npy header: fortran_order is not True/False",
                       c->path);
    }
    return RK_OK;
}

/* A tuple of non-negative integers: (), (n,), (n, m), ... */
static rk_status parse_shape(hdr_cursor *c, npy_array *a) {
    rk_status st = expect_char(c, '(');
    if (st) return st;
    a->ndim = 0;
    for (;;) {
        skip_ws(c);
        if (c->p < c->end && *c->p == ')') {
            c->p++;
            return RK_OK;
        }
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return err_set(RK_EINPUT, "%s: malformed npy header: bad shape tuple", c->path);
        unsigned long long v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            unsigned d = (unsigned)(*c->p++ - '0');
            if (v > (ULLONG_MAX - d) / 10)
                return err_set(RK_EINPUT, "%s: npy shape dimension overflows", c->path);
            v = v * 10 + d;
        }
        if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 long suffix */
        if (a->ndim == NPY_MAX_DIMS)
            return err_set(RK_EINPUT, "%s: npy array has more than %d dimensions", c->path,
                           NPY_MAX_DIMS);
        if (v > SIZE_MAX) return err_set(RK_EINPUT, "%s: npy shape dimension too large", c->path);
        a->shape[a->ndim++] = (size_t)v;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') c->p++;
    }
}

typedef struct {
    char descr[16];
    int fortran_order;
    int have_descr, have_fortran, have_shape;
} hdr_info;

static rk_status parse_header(const char *path, const char *text, size_t len, npy_array *a,
                              hdr_info *h) {
    hdr_cursor c = {path, text, text, text + len};
    rk_status st = expect_char(&c, '{');
    if (st) return st;
    for (;;) {
        skip_ws(&c);
        if (c.p < c.end && *c.p == '}') break;
        char key[32];
        if ((st = parse_str(&c, key, sizeof key))) return st;
        if ((st = expect_char(&c, ':'))) return st;
        if (strcmp(key, "descr") == 0) {
            if ((st = parse_str(&c, h->descr, sizeof h->descr))) return st;
            h->have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if ((st = parse_bool(&c, &h->fortran_order))) return st;
            h->have_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            if ((st = parse_shape(&c, a))) return st;
            h->have_shape = 1;
        } else {
            return err_set(RK_EINPUT, "%s: npy header has unknown key '%s'", path, key);
        }
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') c.p++;
    }
    if (!h->have_descr || !h->have_fortran || !h->have_shape)
        return err_set(RK_EINPUT, "%s: npy header lacks '%s'", path,
                       !h->have_descr     ? "descr"
                       : !h->have_fortran ? "fortran_order"
                                          : "shape");
    return RK_OK;
}

/* Map a descr to (is_integer, item_bytes); big-endian and other kinds are rejected. */
static rk_status parse_descr(const char *path, const char *d, npy_array *a) {
    if (d[0] == '>')
        return err_set(RK_EINPUT, "%s: big-endian npy data ('%s') is not supported", path, d);
    if (d[0] != '<' && d[0] != '|' && d[0] != '=')
        return err_set(RK_EINPUT, "%s: unsupported npy dtype '%s'", path, d);
    const char *k = d + 1;
    if (strcmp(k, "f8") == 0) {
        a->is_integer = 0, a->item_bytes = 8;
    } else if (strcmp(k, "f4") == 0) {
        a->is_integer = 0, a->item_bytes = 4;
    } else if (strcmp(k, "i8") == 0) {
        a->is_integer = 1, a->item_bytes = 8;
    } else if (strcmp(k, "i4") == 0) {
        a->is_integer = 1, a->item_bytes = 4;
    } else {
        return err_set(RK_EINPUT, "%s: unsupported npy dtype '%s' (valid: <f4, <f8, <i4, <i8)",
                       path, d);
    }
    return RK_OK;
}

static uint64_t load_le(const unsigned char *b, size_t nbytes) {
    uint64_t v = 0;
    for (size_t i = nbytes; i-- > 0;)
        v = (v << 8) | b[i];
    return v;
}

/* Decode little-endian raw bytes into the widened arrays. */
static void decode(const unsigned char *raw, npy_array *a) {
    for (size_t i = 0; i < a->count; i++) {
        const unsigned char *b = raw + i * a->item_bytes;
        uint64_t u = load_le(b, a->item_bytes);
        if (a->is_integer) {
            a->i64[i] = a->item_bytes == 8 ? (int64_t)u : (int64_t)(int32_t)(uint32_t)u;
        } else if (a->item_bytes == 8) {
            double x;
            memcpy(&x, &u, sizeof x);
            a->f64[i] = x;
        } else {
            uint32_t u32 = (uint32_t)u;
            float x;
            memcpy(&x, &u32, sizeof x);
            a->f64[i] = (double)x;
        }
    }
}

const char *npy_shape_str(const npy_array *a, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (size_t i = 0; i < a->ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%zu", i ? ", " : "", a->shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, a->ndim == 1 ? ",)" : ")");
    return buf;
}

void npy_free(npy_array *a) {
    free(a->f64);
    free(a->i64);
    memset(a, 0, sizeof *a);
}

static rk_status read_body(FILE *f, const char *path, npy_array *a) {
    unsigned char pre[NPY_MAGIC_LEN + 2];
    if (fread(pre, 1, sizeof pre, f) != sizeof pre || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return err_set(RK_EINPUT, "%s: not an npy file (bad magic)", path);
    unsigned major = pre[NPY_MAGIC_LEN];
    size_t lenbytes = major == 1 ? 2 : (major == 2 || major == 3) ? 4 : 0;
    if (!lenbytes)
        return err_set(RK_EINPUT, "%s: unsupported npy format version %u.%u", path, major,
                       (unsigned)pre[NPY_MAGIC_LEN + 1]);
    unsigned char lb[4];
    if (fread(lb, 1, lenbytes, f) != lenbytes)
        return err_set(RK_EINPUT, "%s: truncated npy header", path);
    size_t hlen = (size_t)load_le(lb, lenbytes);
    if (hlen == 0 || hlen > NPY_HEADER_MAX)
        return err_set(RK_EINPUT, "%s: implausible npy header length %zu", path, hlen);
    char *text = rk_malloc(hlen);
    if (!text) return RK_ENOMEM;
    if (fread(text, 1, hlen, f) != hlen) {
        free(text);
        return err_set(RK_EINPUT, "%s: truncated npy header (%zu bytes declared)", path, hlen);
    }
    hdr_info h = {0};
    rk_status st = parse_header(path, text, hlen, a, &h);
    free(text);
    if (st) return st;
    if ((st = parse_descr(path, h.descr, a))) return st;
    if (h.fortran_order)
        return err_set(RK_EINPUT, "%s: fortran_order True is not supported (save in C order)",
                       path);
    a->count = 1;
    for (size_t i = 0; i < a->ndim; i++) {
        if (a->shape[i] && a->count > SIZE_MAX / 8 / a->shape[i])
            return err_set(RK_EINPUT, "%s: npy shape too large", path);
        a->count *= a->shape[i];
    }
    long data_start = ftell(f);
    if (data_start < 0 || fseek(f, 0, SEEK_END) != 0)
        return err_set(RK_ERUNTIME, "%s: cannot seek: %s", path, strerror(errno));
    long file_end = ftell(f);
    size_t have = file_end > data_start ? (size_t)(file_end - data_start) : 0;
    size_t need = a->count * a->item_bytes;
    char shp[128];
    if (have < need)
        return err_set(RK_EINPUT,
                       "%s: truncated: shape %s of %s needs %zu data bytes, file has %zu", path,
                       npy_shape_str(a, shp, sizeof shp), h.descr, need, have);
    if (have > need)
        return err_set(RK_EINPUT, "%s: %zu unexpected bytes after the data of shape %s", path,
                       have - need, npy_shape_str(a, shp, sizeof shp));
    if (fseek(f, data_start, SEEK_SET) != 0)
        return err_set(RK_ERUNTIME, "%s: cannot seek: %s", path, strerror(errno));
    unsigned char *raw = rk_malloc(need);
    if (!raw) return RK_ENOMEM;
    if (fread(raw, 1, need, f) != need) {
        free(raw);
        return err_set(RK_ERUNTIME, "%s: read failed: %s", path, strerror(errno));
    }
    if (a->is_integer)
        a->i64 = rk_malloc(a->count * sizeof *a->i64);
    else
        a->f64 = rk_malloc(a->count * sizeof *a->f64);
    if (!a->i64 && !a->f64) {
        free(raw);
        return RK_ENOMEM;
    }
    decode(raw, a);
    free(raw);
    return RK_OK;
}

rk_status npy_read(const char *path, npy_array *a) {
    memset(a, 0, sizeof *a);
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(RK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    rk_status st = read_body(f, path, a);
    fclose(f);
    if (st) npy_free(a);
    return st;
}
