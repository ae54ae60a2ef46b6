/* import: format names, --format auto and dispatch, all by walking the importer table
 * (import_registry.c); no format is named here.
 *
 * Detection: a directory is searched for the first system directory some importer recognises; a
 * file is claimed by its name's suffix, else by its first non-blank line (import_internal.h).
 */
#include "import.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "import_internal.h"

/* Bytes of a file's first non-blank line that sniffing looks at. */
#define IMP_SNIFF_LINE_MAX 512
/* Room for "deepmd, deepmd-raw, ... or extxyz". */
#define IMP_HINT_MAX 256

const char *import_format_name(import_format f) {
    return f ? f->name : "auto";
}

const char *import_format_help(import_format f) {
    return f ? f->help : "";
}

rk_status import_format_parse(const char *name, import_format *f) {
    for (size_t i = 0; i < import_format_count(); i++) {
        if (strcmp(name, import_format_at(i)->name) == 0) {
            *f = import_format_at(i);
            return RK_OK;
        }
    }
    if (strcmp(name, "auto") == 0) {
        *f = IMPORT_AUTO;
        return RK_OK;
    }
    return err_set(RK_EINPUT, "--format: unknown format '%s' (valid: %s)", name,
                   import_format_names());
}

/* ---- detection ---- */

static int has_suffix(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcasecmp(s + ls - lx, suffix) == 0;
}

/* First non-blank line of a text file (up to cap-1 bytes). */
static void first_line(const char *path, char *buf, size_t cap) {
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return;
    while (fgets(buf, (int)cap, f)) {
        if (!imp_blank(buf)) break;
        buf[0] = '\0';
    }
    fclose(f);
}

/* The first importer of the table that recognises dir as one of its systems, or NULL. */
static import_format system_dir_format(const char *dir) {
    for (size_t i = 0; i < import_format_count(); i++) {
        import_format t = import_format_at(i);
        if (t->is_system_dir && t->is_system_dir(dir)) return t;
    }
    return NULL;
}

/* Walk predicate that accepts any recognised system directory. */
static int is_any_system_dir(const char *dir) {
    return system_dir_format(dir) != NULL;
}

static rk_status detect_visit(const char *dir, const char *name, void *ctx) {
    (void)name;
    import_format *found = ctx;
    if (!*found) *found = system_dir_format(dir);
    return RK_OK;
}

/* "a, b or c": the names of the importers, for "use --format ...". */
static const char *format_hint(void) {
    static char buf[IMP_HINT_MAX];
    if (!buf[0]) {
        size_t n = import_format_count(), len = 0;
        for (size_t i = 0; i < n && len < sizeof buf; i++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s",
                                    i == 0       ? ""
                                    : i + 1 == n ? " or "
                                                 : ", ",
                                    import_format_at(i)->name);
    }
    return buf;
}

/* Names of the importers of directories, for "no system directory found". */
static void dir_format_names(char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < import_format_count() && len < cap; i++) {
        import_format t = import_format_at(i);
        if (t->source == IMP_SOURCE_DIR)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", t->name);
    }
}

static rk_status detect_dir(const char *path, import_format *f) {
    import_format found = NULL;
    size_t nfound = 0;
    rk_status st = imp_walk(path, is_any_system_dir, detect_visit, &found, &nfound);
    if (st) return st;
    if (!nfound) {
        char names[IMP_HINT_MAX];
        dir_format_names(names, sizeof names);
        return err_set(RK_EINPUT,
                       "%s: no system directory of a known format found (%s; see rlekf import "
                       "--help)",
                       path, names);
    }
    *f = found;
    return RK_OK;
}

static rk_status detect_file(const char *path, import_format *f) {
    size_t n = import_format_count();
    for (size_t i = 0; i < n; i++) {
        import_format t = import_format_at(i);
        for (const char *const *sx = t->suffixes; sx && *sx; sx++) {
            if (has_suffix(path, *sx)) {
                *f = t;
                return RK_OK;
            }
        }
    }
    char line[IMP_SNIFF_LINE_MAX];
    first_line(path, line, sizeof line);
    for (size_t i = 0; i < n; i++) {
        import_format t = import_format_at(i);
        if (t->sniff && t->sniff(line)) {
            *f = t;
            return RK_OK;
        }
    }
    return err_set(RK_EINPUT, "%s: cannot recognise the format (use --format %s)", path,
                   format_hint());
}

rk_status import_detect(const char *path, import_format *f) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return err_set(RK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    return S_ISDIR(sb.st_mode) ? detect_dir(path, f) : detect_file(path, f);
}

/* ---- dispatch ---- */

rk_status import_source(const char *path, const import_opts *opts, dataset_t *dst,
                        import_format *fmt_used) {
    import_format f = opts->format;
    rk_status st = RK_OK;
    if (f == IMPORT_AUTO && (st = import_detect(path, &f))) return st;
    if (fmt_used) *fmt_used = f;
    int want_dir = f->source == IMP_SOURCE_DIR;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return err_set(RK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (want_dir && !S_ISDIR(sb.st_mode))
        return err_set(RK_EINPUT, "%s: format %s expects a directory", path, f->name);
    if (!want_dir && !S_ISREG(sb.st_mode))
        return err_set(RK_EINPUT, "%s: format %s expects a file", path, f->name);
    return f->read(path, opts, dst);
}
