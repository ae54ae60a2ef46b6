/* cmd_plan: `rlekf plan CONFIG.json --ranks R[,R...]` — how a Kalman run would share its
 * covariance over R MPI ranks: per rank the blocks it holds (whole, or a row range of a split
 * block), its covariance bytes in float64 and float32, its optimizer state bytes (what
 * optim_create checks against RLEKF_MEM_LIMIT on that rank) and the bytes it receives per update
 * and per training image. Nothing large is allocated: the parameter layout comes from the model
 * section (the dataset is read only when the config gives no sel, for the number of types). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "h5io.h"
#include "kalman.h"
#include "model.h"
#include "num.h"
#include "registry.h"

/* Most rank counts in one --ranks list, and the largest R accepted. */
#define PLAN_MAX_COUNTS 32
#define PLAN_MAX_RANKS 1000000
/* Room for one rank's block list. */
#define PLAN_BLOCKS_TEXT 160

static const char *USAGE =
    "usage: rlekf plan CONFIG.json --ranks R[,R...] [--optimizer NAME] [--block_size N]\n"
    "                  [--covariance float64|float32] [--summary]\n"
    "\n"
    "Print how `mpirun -np R rlekf train CONFIG.json` shares the Kalman covariance over R ranks,\n"
    "without allocating it: per rank the blocks it holds (i-j: whole blocks i..j; i[a:b): rows\n"
    "a..b-1 of block i, split with other ranks), covariance bytes in float64 and float32, the\n"
    "optimizer state bytes (what RLEKF_MEM_LIMIT is checked against on that rank), and the bytes\n"
    "it receives per update and per training image (1 energy + force_groups updates).\n"
    "Blocks are balanced by stored entries: whole where they balance, cut into row slices (at\n"
    "most 16 per block) where one block is larger than a rank's share.\n"
    "  --ranks R,...      rank counts to plan for (e.g. 1,2,4,8)\n"
    "  --optimizer NAME   plan for this Kalman optimizer (gekf, rlekf, lekf) instead of the\n"
    "                     config's, with its default hyper-parameters\n"
    "  --block_size N     N_b; --covariance: storage precision of the state bytes column\n"
    "  --summary          one line per R (largest rank) instead of one line per rank\n";

static rk_status parse_ranks(const char *text, int *ranks, size_t *n) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == PLAN_MAX_COUNTS)
            return err_set(RK_EINPUT, "--ranks: at most %d counts", PLAN_MAX_COUNTS);
        long v = 0;
        rk_status st = num_parse_long("--ranks", tok, 1, PLAN_MAX_RANKS, &v);
        if (st) return st;
        ranks[(*n)++] = (int)v;
    }
    if (*n == 0) return err_set(RK_EINPUT, "--ranks: expected R[,R...], got '%s'", text);
    return RK_OK;
}

static void fmt_bytes(char *buf, size_t cap, double b) {
    const double k = 1024.0;
    if (b >= k * k * k * k)
        snprintf(buf, cap, "%.2f TiB", b / (k * k * k * k));
    else if (b >= k * k * k)
        snprintf(buf, cap, "%.2f GiB", b / (k * k * k));
    else if (b >= k * k)
        snprintf(buf, cap, "%.1f MiB", b / (k * k));
    else if (b >= k)
        snprintf(buf, cap, "%.1f KiB", b / k);
    else
        snprintf(buf, cap, "%.0f B", b);
}

/* "0-4, 5[0:812)" from a rank's slices. */
static void fmt_slices(char *buf, size_t cap, const kalman_slice *s, size_t n, size_t total) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        const char *sep = len ? ", " : "";
        if (s[i].split) {
            len += (size_t)snprintf(buf + len, cap - len, "%s%zu[%zu:%zu)", sep, s[i].block,
                                    s[i].row0, s[i].row1);
            continue;
        }
        size_t j = i;
        while (j + 1 < n && !s[j + 1].split && s[j + 1].block == s[j].block + 1)
            j++;
        if (j == i)
            len += (size_t)snprintf(buf + len, cap - len, "%s%zu", sep, s[i].block);
        else
            len += (size_t)snprintf(buf + len, cap - len, "%s%zu-%zu", sep, s[i].block, s[j].block);
        i = j;
    }
    if (n < total && len < cap) snprintf(buf + len, cap - len, ", ...");
    if (n == 0) snprintf(buf, cap, "(none)");
}

/* The plan of R ranks, printed per rank or as one summary line. */
static rk_status plan_ranks(const optim_type *t, const optim_params *p, const layout_t *L, int R,
                            size_t per_image, int summary) {
    optim_params p64 = *p, p32 = *p;
    p64.v[KALMAN_P_COVARIANCE] = KALMAN_COV_FLOAT64;
    p32.v[KALMAN_P_COVARIANCE] = KALMAN_COV_FLOAT32;
    kalman_slice *sl = calloc(PLAN_BLOCKS_TEXT, sizeof *sl);
    if (!sl) return err_set(RK_ENOMEM, "out of memory");
    double max64 = 0, max32 = 0, maxstate = 0, maxrecv = 0, sum64 = 0;
    size_t split_blocks = 0, empty = 0, blocks = 0;
    if (!summary)
        printf("R = %d\n%-6s %-36s %12s %12s %12s %12s %12s\n", R, "rank", "blocks", "cov_f64",
               "cov_f32", "state", "recv/update", "recv/image");
    for (int r = 0; r < R; r++) {
        kalman_plan_rank pr, pr32, pr64;
        rk_status st = kalman_plan(t, p, L, R, r, &pr, sl, PLAN_BLOCKS_TEXT);
        if (!st) st = kalman_plan(t, &p64, L, R, r, &pr64, NULL, 0);
        if (!st) st = kalman_plan(t, &p32, L, R, r, &pr32, NULL, 0);
        if (st) {
            free(sl);
            return st;
        }
        const double c64 = (double)pr.entries * 8.0, c32 = (double)pr.entries * 4.0;
        blocks = pr.blocks;
        for (size_t i = 0; i < pr.slices && i < PLAN_BLOCKS_TEXT; i++)
            if (sl[i].split && sl[i].row0 == 0) split_blocks++;
        if (pr.slices == 0) empty++;
        if (c64 > max64) max64 = c64;
        if (c32 > max32) max32 = c32;
        if ((double)pr.state_bytes > maxstate) maxstate = (double)pr.state_bytes;
        if ((double)pr.recv_bytes > maxrecv) maxrecv = (double)pr.recv_bytes;
        sum64 += c64;
        if (summary) continue;
        char bl[PLAN_BLOCKS_TEXT], a[32], b[32], c[32], d[32], e[32];
        fmt_slices(bl, sizeof bl, sl, pr.slices < PLAN_BLOCKS_TEXT ? pr.slices : PLAN_BLOCKS_TEXT,
                   pr.slices);
        fmt_bytes(a, sizeof a, c64);
        fmt_bytes(b, sizeof b, c32);
        fmt_bytes(c, sizeof c, (double)pr.state_bytes);
        fmt_bytes(d, sizeof d, (double)pr.recv_bytes);
        fmt_bytes(e, sizeof e, (double)pr.recv_bytes * (double)per_image);
        printf("%-6d %-36s %12s %12s %12s %12s %12s\n", r, bl, a, b, c, d, e);
        /* the exact figures, for scripts and tests */
        printf("#rank %d state_bytes %zu entries %zu send_bytes %zu recv_bytes %zu\n", r,
               pr.state_bytes, pr.entries, pr.send_bytes, pr.recv_bytes);
    }
    char a[32], b[32], c[32], d[32], e[32], f[32];
    fmt_bytes(a, sizeof a, max64);
    fmt_bytes(b, sizeof b, max32);
    fmt_bytes(c, sizeof c, maxstate);
    fmt_bytes(d, sizeof d, maxrecv);
    fmt_bytes(e, sizeof e, maxrecv * (double)per_image);
    fmt_bytes(f, sizeof f, sum64);
    if (summary)
        printf("%5d %6zu %6zu %6zu %12s %12s %12s %12s %12s %12s\n", R, blocks, split_blocks, empty,
               a, b, c, d, e, f);
    else
        printf("largest rank: cov_f64 %s, cov_f32 %s, state %s, recv/update %s; total cov_f64 "
               "%s; %zu blocks, %zu cut over ranks, %zu ranks without covariance\n\n",
               a, b, c, d, f, blocks, split_blocks, empty);
    free(sl);
    return RK_OK;
}

rk_status cmd_plan(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        fputs(USAGE, stdout);
        return RK_OK;
    }
    const char *config = NULL, *opt_name = NULL, *nb = NULL, *cov = NULL;
    int ranks[PLAN_MAX_COUNTS];
    size_t n_ranks = 0;
    int summary = 0;
    rk_status st = RK_OK;
    for (int i = 1; i < argc && !st; i++) {
        if (strcmp(argv[i], "--ranks") == 0 && i + 1 < argc)
            st = parse_ranks(argv[++i], ranks, &n_ranks);
        else if (strcmp(argv[i], "--optimizer") == 0 && i + 1 < argc)
            opt_name = argv[++i];
        else if (strcmp(argv[i], "--block_size") == 0 && i + 1 < argc)
            nb = argv[++i];
        else if (strcmp(argv[i], "--covariance") == 0 && i + 1 < argc)
            cov = argv[++i];
        else if (strcmp(argv[i], "--summary") == 0)
            summary = 1;
        else if (argv[i][0] == '-')
            st = err_set(RK_EINPUT, "unknown option '%s' (see --help)", argv[i]);
        else if (!config)
            config = argv[i];
        else
            st = err_set(RK_EINPUT, "unexpected argument '%s' (see --help)", argv[i]);
    }
    if (!st && !config) st = err_set(RK_EINPUT, "missing CONFIG.json (see --help)");
    if (!st && n_ranks == 0) st = err_set(RK_EINPUT, "missing --ranks R (see --help)");
    if (st) return st;
    train_config tc;
    config_data data;
    config_default(&tc);
    if ((st = config_load(config, &tc, &data))) return st;
    if (opt_name) {
        tc.opt = optim_find(opt_name);
        if (!tc.opt)
            return err_set(RK_EINPUT, "--optimizer: unknown optimizer '%s' (valid: %s)", opt_name,
                           optim_names());
        optim_default_params(tc.opt, &tc.opt_params);
    }
    if (kalman_split_of(tc.opt) < 0)
        return err_set(RK_EINPUT,
                       "%s: optimizer %s keeps no covariance; every rank holds its "
                       "whole state (plan is for gekf, rlekf, lekf)",
                       config, tc.opt->name);
    if (nb) {
        double v = 0;
        if ((st = num_parse_real("--block_size", nb, 1, 1e9, &v))) return st;
        if ((st = optim_set_param(tc.opt, &tc.opt_params, "--", "block_size", v))) return st;
    }
    if (cov && (st = optim_set_choice(tc.opt, &tc.opt_params, "--", "covariance", cov))) return st;

    /* the layout: from the model section; ntypes from sel, else from the dataset's type map */
    size_t ntypes = tc.model.n_sel;
    char type_map[MODEL_MAX_TYPES][DS_SYMBOL_MAX];
    memset(type_map, 0, sizeof type_map);
    for (size_t i = 0; i < MODEL_MAX_TYPES; i++)
        snprintf(type_map[i], DS_SYMBOL_MAX, "T%zu", i);
    if (ntypes == 0) {
        dataset_t ds;
        if ((st = config_open_data(&tc, &data, &ds))) return st;
        ntypes = ds.ntypes;
        tc.model.n_sel = ntypes;
        dataset_free(&ds);
    }
    model_t m;
    memset(&m, 0, sizeof m);
    if ((st = model_create(&m, &tc.model, ntypes, type_map))) return st;
    const size_t per_image = 1 + tc.force_groups;
    char desc[96];
    kalman_describe(tc.opt, &tc.opt_params, &m.layout, desc, sizeof desc);
    printf("plan: %s, N = %zu weights, %s, covariance %s; %zu updates per image\n", tc.opt->name,
           m.layout.n_params, desc,
           tc.opt_params.v[KALMAN_P_COVARIANCE] == KALMAN_COV_FLOAT32 ? "float32" : "float64",
           per_image);
    if (summary)
        printf("%5s %6s %6s %6s %12s %12s %12s %12s %12s %12s\n", "R", "blocks", "cut", "empty",
               "cov_f64", "cov_f32", "state", "recv/update", "recv/image", "total_f64");
    for (size_t i = 0; i < n_ranks && !st; i++)
        st = plan_ranks(tc.opt, &tc.opt_params, &m.layout, ranks[i], per_image, summary);
    model_free(&m);
    return st;
}
