/* cmd_neighbor_stat: `rlekf neighbor-stat DATA.h5 --rcut R [--frames K]`.
 *
 * For every (or every K-th) frame of every system, the model layer's neighbour scan
 * (model_neighbor_scan: the periodic neighbour list of SPEC §2, all images, 0 < r_ij < rcut)
 * gives, per neighbour type t, the largest number of type-t neighbours around any centre:
 * sel[t] = max over frames and centres i of |{j : type j = t}|. That is the smallest `sel` a
 * model with this rcut can use on these frames (training computes its default sel with the same
 * function). Also reports the shortest interatomic distance found (a quick check for
 * overlapping atoms or bad units).
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "dataset.h"
#include "h5io.h"
#include "model.h"
#include "num.h"

static const char help_text[] =
    "usage: rlekf neighbor-stat DATA.h5 --rcut R [--frames K]\n"
    "\n"
    "Builds the periodic neighbour list (every image, 0 < r < R) of the frames of a dataset file\n"
    "and prints, for each type, the largest number of neighbours of that type found around any\n"
    "atom, the suggested `sel` array (those maxima in type order: the smallest sel a model with\n"
    "this rcut can use on these frames; leave a margin for frames not in the file), and the\n"
    "shortest interatomic distance.\n"
    "\n"
    "  --rcut R     cut-off radius in Å (the model's rcut, e.g. 6.0); required\n"
    "  --frames K   use every K-th frame of each system (frames 0, K, 2K, ...); default 1\n"
    "  -h, --help   this text\n";

static rk_status parse_double(const char *opt, const char *s, double *out) {
    double v = 0.0;
    rk_status st = num_parse_real(opt, s, 0.0, DBL_MAX, &v);
    if (st || !(v > 0.0)) /* the checked parser's verdict, in this flag's own words */
        st = err_set(RK_EINPUT, "%s: bad value '%s' (want a positive length in Å)", opt, s);
    if (!st) *out = v;
    return st;
}

static rk_status parse_size(const char *opt, const char *s, size_t *out) {
    return num_parse_size(opt, s, 1, SIZE_MAX, out);
}

/* Value of option `name` given as "--name V" (advancing *i) or "--name=V"; NULL if argv[*i] is
 * not this option. Sets *missing when the value is absent. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing) {
    size_t len = strlen(name);
    if (strncmp(argv[*i], name, len) != 0) return NULL;
    if (argv[*i][len] == '=') return argv[*i] + len + 1;
    if (argv[*i][len] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return argv[*i];
    }
    return argv[++*i];
}

rk_status cmd_neighbor_stat(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        fputs(help_text, stdout);
        return RK_OK;
    }
    const char *path = NULL;
    double rcut = 0.0;
    size_t every = 1;
    int have_rcut = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        rk_status st;
        if ((v = opt_value(argc, argv, &i, "--rcut", &missing))) {
            if (missing) return err_set(RK_EINPUT, "--rcut needs a value (Å)");
            if ((st = parse_double("--rcut", v, &rcut)) != RK_OK) return st;
            have_rcut = 1;
        } else if ((v = opt_value(argc, argv, &i, "--frames", &missing))) {
            if (missing) return err_set(RK_EINPUT, "--frames needs a value");
            if ((st = parse_size("--frames", v, &every)) != RK_OK) return st;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return err_set(RK_EINPUT, "unknown option '%s' (valid: --rcut, --frames, --help)",
                           argv[i]);
        } else if (path) {
            return err_set(RK_EINPUT, "unexpected argument '%s' (one dataset file only)", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return err_set(RK_EINPUT,
                       "missing dataset file (usage: rlekf neighbor-stat DATA.h5 --rcut R)");
    if (!have_rcut) return err_set(RK_EINPUT, "--rcut is required (the model's cut-off in Å)");

    dataset_t ds = {0};
    rk_status st = h5io_dataset_read(path, &ds);
    if (st != RK_OK) return st;

    /* frames 0, K, 2K, ... of every system, in system order */
    size_t ntypes = ds.ntypes, nframes_used = 0;
    for (size_t s = 0; s < ds.nsystems; s++)
        nframes_used += (ds.sys[s].nframes + every - 1) / every;
    model_frame_ref *frames = rk_malloc((nframes_used ? nframes_used : 1) * sizeof *frames);
    size_t *sel = rk_calloc(ntypes, sizeof *sel);           /* (ntypes) */
    model_site *sel_at = rk_calloc(ntypes, sizeof *sel_at); /* (ntypes) */
    if (!frames || !sel || !sel_at) {
        st = RK_ENOMEM;
        goto done;
    }
    size_t k = 0;
    for (size_t s = 0; s < ds.nsystems; s++)
        for (size_t f = 0; f < ds.sys[s].nframes; f += every) {
            frames[k++] = (model_frame_ref){s, f};
            if (ds.sys[s].nframes - f <= every) break; /* f += every would pass nframes (or wrap) */
        }
    RK_ASSERT(k == nframes_used);
    model_nbr_stat ns = {.max_count = sel, .max_at = sel_at};
    st = model_neighbor_scan(&ds, rcut, frames, nframes_used, &ns);
    if (st != RK_OK) {
        err_prefix(st, "%s: ", path);
        goto done;
    }
    size_t max_total = ns.max_total;
    model_site total_at = ns.total_at, dmin_at = ns.min_at;
    double dmin = ns.min_dist;

    printf("# rlekf neighbor-stat %s: rcut %g Å, %zu of %zu frames (every %zu), %zu systems\n",
           path, rcut, nframes_used, dataset_total_frames(&ds), every, ds.nsystems);
    printf("# type  element  max_neighbours  found_at(system frame atom)\n");
    for (size_t t = 0; t < ntypes; t++) {
        printf("%6zu  %-7s  %14zu", t, ds.type_map[t], sel[t]);
        if (sel[t] > 0)
            printf("  %s %zu %zu", ds.sys[sel_at[t].sys].name, sel_at[t].frame, sel_at[t].atom);
        printf("\n");
    }
    printf("max_total_neighbours %zu", max_total);
    if (max_total > 0)
        printf(" (system %s frame %zu atom %zu)", ds.sys[total_at.sys].name, total_at.frame,
               total_at.atom);
    printf("\n");
    if (isfinite(dmin))
        printf("min_distance_A %.6f (system %s frame %zu atoms %zu %zu)\n", dmin,
               ds.sys[dmin_at.sys].name, dmin_at.frame, dmin_at.atom, dmin_at.other);
    else
        printf("min_distance_A none (no pair closer than rcut)\n");
    printf("sel [");
    for (size_t t = 0; t < ntypes; t++)
        printf("%s%zu", t ? ", " : "", sel[t]);
    printf("]\n");
    if (fflush(stdout) != 0) st = err_set(RK_ERUNTIME, "cannot write to standard output");

done:
    free(frames);
    free(sel);
    free(sel_at);
    dataset_free(&ds);
    return st;
}
