/* cmd_list: `rlekf list [optimizers | training | <optimizer>]` prints the registered optimizers,
 * their kind and summary, and a table of their hyper-parameters (default, bounds or choices,
 * help), all read from the registry; or the training keys, read from config.h's table. Neither
 * listing can disagree with what the parsers accept. `--markdown` prints the tables of
 * experiments/README.md (training keys, DeePMD-kit keys). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "config_deepmd.h"
#include "optim.h"
#include "registry.h"

/* Integers below this magnitude print in full; larger ones as 1e+09 to keep the table narrow. */
#define LIST_INT_MAX 1e7
/* 17 significant digits always identify a double. */
#define LIST_MAX_DIGITS 17

static void usage(FILE *f) {
    fprintf(f,
            "usage: rlekf list [optimizers | training | deepmd | <optimizer>] [--markdown]\n\n"
            "Print every registered optimizer (or just the named one): its kind, a summary and\n"
            "its hyper-parameters with default, valid range or choices, and meaning. These are\n"
            "the keys accepted in the optimizer sections of configs and manifests.\n"
            "`training`: every training key (type, default, range, meaning, and where it may\n"
            "appear: a run config's training section, a manifest's top level, its datasets[i],\n"
            "its optimizers[i].training). `deepmd`: every DeePMD-kit input.json key rlekf reads\n"
            "(Markdown). --markdown: the training table as in experiments/README.md.\n"
            "optimizers: %s\n",
            optim_names());
}

static const char *num(char *buf, size_t cap, double v) {
    if (v == floor(v) && fabs(v) < LIST_INT_MAX) {
        snprintf(buf, cap, "%.0f", v);
        return buf;
    }
    /* the shortest %g form that reads back as v: 1e+12, 0.999999999, 3.51e-08 */
    for (int prec = 1; prec <= LIST_MAX_DIGITS; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

static void print_type(const optim_type *t) {
    printf("%s  (%s)\n  %s\n", t->name,
           t->kind == OPTIM_KALMAN ? "kalman: error + Jacobian" : "gradient", t->summary);
    printf("  %-18s %-7s %-10s %-24s %s\n", "parameter", "type", "default", "range", "meaning");
    for (size_t i = 0; i < t->n_params; i++) {
        const optim_param_desc *d = &t->params[i];
        char def[40], range[128], a[40], b[40];
        const char *type = "real";
        if (d->type == OPTIM_P_CHOICE) {
            type = "choice";
            snprintf(def, sizeof def, "%s", d->choices[(size_t)d->def]);
            size_t len = 0;
            range[0] = '\0';
            for (size_t c = 0; d->choices[c] && len < sizeof range; c++)
                len += (size_t)snprintf(range + len, sizeof range - len, "%s%s", c ? " | " : "",
                                        d->choices[c]);
        } else {
            if (d->type == OPTIM_P_INT) type = "int";
            num(def, sizeof def, d->def);
            snprintf(range, sizeof range, "[%s, %s]", num(a, sizeof a, d->lo),
                     num(b, sizeof b, d->hi));
        }
        printf("  %-18s %-7s %-10s %-24s %s\n", d->name, type, def, range, d->help);
    }
}

rk_status cmd_list(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        usage(stdout);
        return RK_OK;
    }
    int markdown = argc >= 2 && strcmp(argv[argc - 1], "--markdown") == 0;
    if (markdown) argc--;
    if (argc > 2) return err_set(RK_EINPUT, "expected at most one topic, got %d", argc - 1);
    const char *topic = argc == 2 ? argv[1] : "optimizers";
    if (strcmp(topic, "training") == 0) {
        if (markdown)
            config_print_markdown(stdout);
        else
            config_print_keys(stdout, ~0u);
        return RK_OK;
    }
    if (strcmp(topic, "deepmd") == 0) {
        config_deepmd_print_markdown(stdout);
        return RK_OK;
    }
    if (markdown) return err_set(RK_EINPUT, "--markdown: only for `training` and `deepmd`");
    if (strcmp(topic, "optimizers") == 0) {
        for (size_t i = 0; i < optim_count(); i++) {
            if (i) printf("\n");
            print_type(optim_at(i));
        }
        return RK_OK;
    }
    const optim_type *t = optim_find(topic);
    if (!t)
        return err_set(RK_EINPUT, "unknown topic '%s' (valid: optimizers, training, deepmd, %s)",
                       topic, optim_names());
    print_type(t);
    return RK_OK;
}
