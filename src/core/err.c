/* err: error message buffer and status helpers (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ERR_MSG_MAX 2048

static _Thread_local char err_buf[ERR_MSG_MAX];

/* Rewrite err_buf with every control byte (a value from a file or the command line: a bell, an
 * escape sequence, a newline that would break the one-line rule) as the visible text \xHH. */
static void sanitise(void) {
    char out[ERR_MSG_MAX];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)err_buf; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            if (n + 4 >= sizeof out) break;
            n += (size_t)snprintf(out + n, sizeof out - n, "\\x%02x", *p);
        } else {
            if (n + 1 >= sizeof out) break;
            out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
    memcpy(err_buf, out, n + 1);
}

rk_status err_set(rk_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    sanitise();
    return st;
}

rk_status err_prefix(rk_status st, const char *fmt, ...) {
    char head[ERR_MSG_MAX], old[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err_buf, sizeof old);
    /* head first, then as much of the old message as fits (truncation is acceptable) */
    size_t h = strlen(head), o = strlen(old);
    if (h > ERR_MSG_MAX - 1) h = ERR_MSG_MAX - 1;
    if (h + o > ERR_MSG_MAX - 1) o = ERR_MSG_MAX - 1 - h;
    memcpy(err_buf, head, h);
    memcpy(err_buf + h, old, o);
    err_buf[h + o] = '\0';
    sanitise();
    return st;
}

const char *err_msg(void) {
    return err_buf[0] ? err_buf : "unknown error";
}

void err_clear(void) {
    err_buf[0] = '\0';
}

const char *err_status_str(rk_status st) {
    switch (st) {
    case RK_OK: return "ok";
    case RK_EINPUT: return "input error";
    case RK_ERUNTIME: return "runtime error";
    case RK_ENOMEM: return "out of memory";
    case RK_EDIVERGED: return "diverged";
    }
    return "unknown status";
}

int err_exit_code(rk_status st) {
    switch (st) {
    case RK_OK: return 0;
    case RK_EINPUT: return 2;
    default: return 1;
    }
}

void *rk_malloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) err_set(RK_ENOMEM, "out of memory: cannot allocate %zu bytes", bytes);
    return p;
}

void *rk_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) err_set(RK_ENOMEM, "out of memory: cannot allocate %zu x %zu bytes", n, size);
    return p;
}

#define HUGE_PAGE_BYTES ((size_t)2 << 20)

void *rk_calloc_touched(size_t n, size_t size) {
    if (n && size > SIZE_MAX / n) {
        err_set(RK_ENOMEM, "out of memory: cannot allocate %zu x %zu bytes", n, size);
        return NULL;
    }
    if (n * size < HUGE_PAGE_BYTES) return rk_calloc(n, size);
    /* whole huge pages, so that the tail is one as well */
    const size_t bytes = (n * size + HUGE_PAGE_BYTES - 1) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES;
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE_BYTES, bytes)) {
        err_set(RK_ENOMEM, "out of memory: cannot allocate %zu x %zu bytes", n, size);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* a request: without huge pages, 4 KiB ones serve */
#endif
    memset(p, 0, bytes);
    return p;
}
