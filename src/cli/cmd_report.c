/* cmd_report: `rlekf report results/<experiment> [--out DIR]` — tables, curves and report.md
 * from an experiment's results tree (see report.h for what is computed). */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "report.h"

static const char *USAGE =
    "usage: rlekf report results/<experiment> [--out DIR]\n"
    "\n"
    "Read <experiment>/summary.csv and every cell's metrics.csv and write into\n"
    "<experiment>/report/ (or DIR), each file atomically:\n"
    "  report.md        the tables below with units, the experiment name and its provenance\n"
    "  accuracy.csv     per dataset x variant: status counts, final and best test RMSE\n"
    "                   (mean, min, max over seeds), mean epochs, updates, wall time\n"
    "  speedup.csv      first evaluation with test RMSE <= 1.2x and 1.5x the dataset's baseline\n"
    "                   (lowest test RMSE of any run); reference/variant ratios of epochs,\n"
    "                   updates, wall time, the reference being the dataset's gradient-kind\n"
    "                   variant (Adam); 'never (k/n reached)' when a seed never got there\n"
    "  curves/<dataset>__<label>.dat   per evaluation row: median/min/max over seeds\n"
    "  baselines.dat variants.dat bars.dat bars_groups.dat ablation.dat stability.dat\n"
    "  parity_cells.tsv                inputs of plots/figures.sh\n"
    "Prints the path of report.md. Exit status 2 for a missing summary.csv, a malformed CSV, an\n"
    "optimizer that is not registered or a cell listed as done/diverged/time_budget without its\n"
    "metrics.csv.\n";

rk_status cmd_report(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        fputs(USAGE, stdout);
        return RK_OK;
    }
    const char *exp = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] == '-')
            return err_set(RK_EINPUT, "unknown option '%s' (see --help)", argv[i]);
        else if (!exp)
            exp = argv[i];
        else
            return err_set(RK_EINPUT, "unexpected argument '%s' (see --help)", argv[i]);
    }
    if (!exp) return err_set(RK_EINPUT, "missing results/<experiment> folder (see --help)");
    report_exp e;
    rk_status st = report_load(exp, &e);
    if (st) return st;
    char out_dir[REPORT_PATH_MAX + 16], md[REPORT_PATH_MAX + 256];
    if (out)
        snprintf(out_dir, sizeof out_dir, "%s", out);
    else
        snprintf(out_dir, sizeof out_dir, "%s/report", e.dir);
    st = report_write(&e, out_dir, md, sizeof md);
    report_free(&e);
    if (!st) printf("%s\n", md);
    return st;
}
