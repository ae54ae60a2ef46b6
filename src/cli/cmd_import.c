/* cmd_import: `rlekf import [--format F] [--type-map A,B] -o OUT.h5 SRC...`.
 *
 * Reads every source (format detected per source unless --format is given), merges them into one
 * dataset (type map = union in order of first appearance, or exactly --type-map), validates it and
 * writes OUT.h5 atomically (h5io writes a temporary and renames it), so a failed import leaves no
 * output file behind. Prints one line per system and a total.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "dataset.h"
#include "h5io.h"
#include "import.h"

#include "rlekf_git.h"

/* The usage text around the list of formats, which comes from the importer table. */
static const char *const usage_head =
    "usage: rlekf import [--format F] [--type-map A,B,...] -o OUT.h5 SRC [SRC...]\n"
    "\n"
    "Convert DFT training data to an rlekf dataset file (HDF5, SPEC section 1).\n"
    "\n"
    "options:\n"
    "  -o, --output OUT.h5   output file (written atomically; replaced if it exists)\n"
    "  --format F            force the format of every source (default: detect per source):\n";
static const char *const usage_tail =
    "  --type-map A,B,...    fix the type order (an element not listed is an error); default: the\n"
    "                        union of all sources in order of first appearance\n"
    "  -h, --help            this text\n"
    "\n"
    "A directory source that is not itself a system is searched recursively; systems found\n"
    "below it are named by their relative path with '/' replaced by '.'.\n";
/* Indent of the format list under --format, and the width of its name column. */
#define USAGE_FORMAT_INDENT 26
#define USAGE_FORMAT_NAME_W 12

static void print_usage(void) {
    fputs(usage_head, stdout);
    for (size_t i = 0; i < import_format_count(); i++) {
        import_format f = import_format_at(i);
        printf("%*s%-*s%s\n", USAGE_FORMAT_INDENT, "", USAGE_FORMAT_NAME_W, import_format_name(f),
               import_format_help(f));
    }
    fputs(usage_tail, stdout);
}

typedef struct {
    const char *out;
    const char *type_map;
    import_format format;
    char **src;
    size_t nsrc;
} import_args;

/* "--key value" or "--key=value": returns the value or NULL (error set) if missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *key) {
    const char *a = argv[*i];
    size_t kl = strlen(key);
    if (strncmp(a, key, kl) == 0 && a[kl] == '=') return a + kl + 1;
    if (*i + 1 >= argc) {
        err_set(RK_EINPUT, "%s needs a value (see rlekf import --help)", key);
        return NULL;
    }
    return argv[++*i];
}

static int is_opt(const char *a, const char *key) {
    size_t kl = strlen(key);
    return strncmp(a, key, kl) == 0 && (a[kl] == '\0' || a[kl] == '=');
}

static rk_status parse_args(int argc, char **argv, import_args *a) {
    memset(a, 0, sizeof *a);
    a->src = calloc((size_t)argc, sizeof *a->src);
    if (!a->src) return err_set(RK_ENOMEM, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *v;
        if (strcmp(arg, "-o") == 0 || is_opt(arg, "--output")) {
            if (!(v = opt_value(argc, argv, &i, strcmp(arg, "-o") == 0 ? "-o" : "--output")))
                return RK_EINPUT;
            a->out = v;
        } else if (is_opt(arg, "--format")) {
            if (!(v = opt_value(argc, argv, &i, "--format"))) return RK_EINPUT;
            rk_status st = import_format_parse(v, &a->format);
            if (st) return st;
        } else if (is_opt(arg, "--type-map")) {
            if (!(v = opt_value(argc, argv, &i, "--type-map"))) return RK_EINPUT;
            a->type_map = v;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return err_set(RK_EINPUT,
                           "unknown option '%s' (valid: -o/--output, --format, --type-map, --help)",
                           arg);
        } else {
            a->src[a->nsrc++] = argv[i];
        }
    }
    if (!a->out) return err_set(RK_EINPUT, "missing -o OUT.h5 (see rlekf import --help)");
    if (a->nsrc == 0) return err_set(RK_EINPUT, "no source given (see rlekf import --help)");
    return RK_OK;
}

/* "O64 H128": element counts of a system in type order. */
static void composition(const dataset_t *ds, const ds_system *s, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t t = 0; t < ds->ntypes && n < cap; t++) {
        size_t cnt = 0;
        for (size_t a = 0; a < s->natoms; a++)
            cnt += (size_t)s->type[a] == t;
        if (cnt)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s%zu", n ? " " : "", ds->type_map[t], cnt);
    }
}

/* Append to a growing provenance string. */
static rk_status prov_add(char **s, size_t *len, const char *piece) {
    size_t pl = strlen(piece);
    char *ns = realloc(*s, *len + pl + 1);
    if (!ns) return err_set(RK_ENOMEM, "out of memory");
    memcpy(ns + *len, piece, pl + 1);
    *s = ns;
    *len += pl;
    return RK_OK;
}

/* The output must not overwrite what is read: refuse when OUT is one of the sources (the same
 * device and inode, whatever the spelling: links, "./", "../") or an existing file inside a source
 * folder (which may be one of its files: type.raw, set.000/force.npy). A missing OUT cannot be a
 * source. */
static rk_status check_output_not_source(const import_args *a) {
    struct stat out_sb;
    if (stat(a->out, &out_sb) != 0) return RK_OK;
    char out_real[PATH_MAX];
    int have_real = realpath(a->out, out_real) != NULL;
    for (size_t i = 0; i < a->nsrc; i++) {
        struct stat sb;
        if (stat(a->src[i], &sb) != 0) continue; /* the importer reports a missing source */
        if (sb.st_dev == out_sb.st_dev && sb.st_ino == out_sb.st_ino)
            return err_set(RK_EINPUT,
                           "-o %s: the output is the source %s (refusing to overwrite "
                           "it)",
                           a->out, a->src[i]);
        char src_real[PATH_MAX];
        if (S_ISDIR(sb.st_mode) && have_real && realpath(a->src[i], src_real)) {
            size_t n = strlen(src_real);
            if (strncmp(out_real, src_real, n) == 0 &&
                (out_real[n] == '/' || src_real[n - 1] == '/'))
                return err_set(RK_EINPUT,
                               "-o %s: the output is inside the source folder %s "
                               "(refusing to overwrite its files)",
                               a->out, a->src[i]);
        }
    }
    return RK_OK;
}

static rk_status run_import(const import_args *a, dataset_t *ds, char **prov) {
    import_opts opts = {a->format, a->type_map != NULL};
    rk_status st = RK_OK;
    size_t plen = 0;
    if ((st = check_output_not_source(a))) return st;
    if (a->type_map && (st = import_set_type_map(ds, a->type_map))) return st;
    if ((st = prov_add(prov, &plen, "rlekf " RLEKF_GIT " import from:"))) return st;
    for (size_t i = 0; i < a->nsrc; i++) {
        import_format used;
        if ((st = import_source(a->src[i], &opts, ds, &used))) return st;
        char piece[64];
        snprintf(piece, sizeof piece, "%s %s (", i ? ";" : "", import_format_name(used));
        if ((st = prov_add(prov, &plen, piece))) return st;
        if ((st = prov_add(prov, &plen, a->src[i]))) return st;
        if ((st = prov_add(prov, &plen, ")"))) return st;
    }
    dataset_sort(ds);
    if ((st = dataset_validate(ds, "import"))) return st;
    return h5io_dataset_write_prov(a->out, ds, *prov);
}

rk_status cmd_import(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        print_usage();
        return RK_OK;
    }
    import_args a;
    dataset_t ds;
    memset(&ds, 0, sizeof ds);
    char *prov = NULL;
    rk_status st = parse_args(argc, argv, &a);
    if (!st) st = run_import(&a, &ds, &prov);
    if (!st) {
        size_t atoms_total = 0;
        for (size_t i = 0; i < ds.nsystems; i++) {
            const ds_system *s = &ds.sys[i];
            char comp[256];
            composition(&ds, s, comp, sizeof comp);
            printf("%-32s %6zu atoms %6zu frames  %s\n", s->name, s->natoms, s->nframes, comp);
            atoms_total += s->natoms * s->nframes;
        }
        printf("total: %zu systems, %zu frames, %zu atom-frames, types", ds.nsystems,
               dataset_total_frames(&ds), atoms_total);
        for (size_t t = 0; t < ds.ntypes; t++)
            printf(" %s", ds.type_map[t]);
        printf(" -> %s\n", a.out);
    }
    free(a.src);
    free(prov);
    dataset_free(&ds);
    return st;
}
