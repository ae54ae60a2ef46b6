/* report_write: the report's tables (see report.h): accuracy.csv and speedup.csv with the
 * columns of schema.h, curves/<dataset>__<label>.dat, and the whitespace-separated inputs of
 * plots/ (baselines.dat, variants.dat, bars.dat, bars_groups.dat, ablation.dat, stability.dat,
 * batch_size.dat, parity_cells.tsv), then report.md (report_md.c). Everything is derived first (report_ctx);
 * each file is written under a temporary name and renamed when complete. Numbers keep the units
 * of the inputs (eV/atom, eV/Å, s).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "csvio.h"
#include "jsonw.h"
#include "report_internal.h"
#include "schema.h"

/* Bars per variant in bars.dat (energy and force at each factor) plus one empty slot as gap. */
#define BARS_PER_GROUP (REPORT_NQTY * REPORT_NFACTORS)
#define BAR_GROUP_STRIDE (BARS_PER_GROUP + 1)

static rk_status write_accuracy(const report_ctx *c) {
    const report_exp *e = c->e;
    fs_atomic o;
    rk_status st = report_out_open(&o, c->out_dir, "accuracy.csv");
    if (st) return st;
    enum { NH = SCHEMA_ACCURACY_NCOLS };
    csvio_write_row(o.f, schema_accuracy_cols, NH);
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        const report_var_info *vi = &c->vi[j];
        char cnt[REPORT_NSTATUS + 1][32];
        snprintf(cnt[0], 32, "%zu", v->nruns);
        for (int s = 0; s < REPORT_NSTATUS; s++)
            snprintf(cnt[s + 1], 32, "%zu", vi->n_status[s]);
        const report_stats *sts[4] = {&vi->final_e, &vi->final_f, &vi->best_e, &vi->best_f};
        const double *base = c->base[report_ds_index(c, v->dataset)];
        const char *row[NH];
        size_t k = 0;
        row[k++] = v->dataset;
        row[k++] = v->label;
        row[k++] = v->optimizer;
        for (int s = 0; s <= REPORT_NSTATUS; s++)
            row[k++] = cnt[s];
        for (int s = 0; s < 4; s++) {
            row[k++] = report_n(sts[s]->mean);
            row[k++] = report_n(sts[s]->min);
            row[k++] = report_n(sts[s]->max);
        }
        row[k++] = report_n(vi->epochs.mean);
        row[k++] = report_n(vi->updates.mean);
        row[k++] = report_n(vi->wall.mean);
        row[k++] = report_n(vi->clock.mean);
        /* best test RMSE / baseline: the statistics of the seeds divided by a positive constant */
        const report_stats *best[REPORT_NQTY] = {&vi->best_e, &vi->best_f};
        for (int q = 0; q < REPORT_NQTY; q++) {
            double b = base[q] > 0.0 ? base[q] : NAN;
            row[k++] = report_n(best[q]->mean / b);
            row[k++] = report_n(best[q]->min / b);
            row[k++] = report_n(best[q]->max / b);
        }
        RK_ASSERT(k == NH);
        csvio_write_row(o.f, row, NH);
    }
    return fs_atomic_commit(&o);
}

static rk_status write_speedup(const report_ctx *c) {
    const report_exp *e = c->e;
    fs_atomic o;
    rk_status st = report_out_open(&o, c->out_dir, "speedup.csv");
    if (st) return st;
    enum { NH = SCHEMA_SPEEDUP_NCOLS };
    csvio_write_row(o.f, schema_speedup_cols, NH);
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        size_t d = report_ds_index(c, v->dataset);
        for (int q = 0; q < REPORT_NQTY; q++)
            for (int f = 0; f < REPORT_NFACTORS; f++) {
                const report_variant *A = report_ref_at(c, d, q, f);
                size_t ai = A ? (size_t)(A - e->vars) : 0;
                const report_crossing *cr = report_cross_at(c, j, q, f);
                char nr[32], ns[32];
                snprintf(nr, sizeof nr, "%zu", cr->n_reached);
                snprintf(ns, sizeof ns, "%zu", cr->n_runs);
                const char *row[NH];
                size_t k = 0;
                row[k++] = v->dataset;
                row[k++] = v->label;
                row[k++] = v->optimizer;
                row[k++] = report_qty_names[q];
                row[k++] = report_qty_units[q];
                row[k++] = report_n(REPORT_FACTORS[f]);
                row[k++] = report_n(c->base[d][q]);
                row[k++] = report_n(REPORT_FACTORS[f] * c->base[d][q]);
                row[k++] = nr;
                row[k++] = ns;
                for (int m = 0; m < REPORT_NMEASURES; m++)
                    row[k++] = report_crossing_text(cr, m, 0);
                row[k++] = A ? A->label : "";
                for (int m = 0; m < REPORT_NMEASURES; m++) {
                    double r = NAN;
                    if (A && A != v) r = report_pair_ratio(report_cross_at(c, ai, q, f), cr, m);
                    row[k++] = report_ratio_text(r, 0);
                }
                RK_ASSERT(k == NH);
                csvio_write_row(o.f, row, NH);
            }
    }
    return fs_atomic_commit(&o);
}

/* Statistics of one report_row member (at byte offset off) at row i over the seeds that have a
 * row i; *ns receives how many seeds that is. a and scratch hold at least nruns doubles. */
static report_stats row_stats(const report_variant *v, size_t i, size_t off, double *a,
                              double *scratch, size_t *ns) {
    size_t n = 0;
    for (size_t k = 0; k < v->nruns; k++)
        if (v->runs[k].nrows > i) {
            double x;
            memcpy(&x, (const char *)&v->runs[k].rows[i] + off, sizeof x);
            a[n++] = x;
        }
    *ns = n;
    return report_describe(a, n, scratch);
}

/* Median over the seeds that have row i of |w|(row i) - |w|(row 0): the drift of the weight norm,
 * which the output biases (thousands of eV for some sets) hide in |w| itself. */
static report_stats norm_change_stats(const report_variant *v, size_t i, double *a,
                                      double *scratch) {
    size_t n = 0;
    for (size_t k = 0; k < v->nruns; k++)
        if (v->runs[k].nrows > i)
            a[n++] = v->runs[k].rows[i].weight_norm - v->runs[k].rows[0].weight_norm;
    return report_describe(a, n, scratch);
}

static rk_status write_curves(const report_ctx *c, const char *curve_dir) {
    const report_exp *e = c->e;
    rk_status st = RK_OK;
    /* per row: the seeds' values of one column, and the scratch of report_describe */
    double *a = rk_malloc((c->max_seeds + 1) * sizeof *a);
    double *scratch = rk_malloc((c->max_seeds + 1) * sizeof *scratch);
    if (!a || !scratch) st = RK_ENOMEM;
    for (size_t j = 0; !st && j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        if (!c->vi[j].has_curve) continue;
        fs_atomic o;
        if ((st = report_out_open(&o, curve_dir, c->vi[j].curve))) break;
        fprintf(o.f, "# %s %s (%s): per evaluation row, statistics over seeds\n", v->dataset,
                v->label, v->optimizer);
        fprintf(o.f, "# row epoch updates train_s_median test_e_eV_per_atom_median "
                     "test_e_eV_per_atom_min test_e_eV_per_atom_max test_f_eV_per_A_median "
                     "test_f_eV_per_A_min test_f_eV_per_A_max train_e_eV_per_atom_median "
                     "train_f_eV_per_A_median weight_norm_median max_weight_change_median "
                     "n_seeds weight_norm_change_median\n");
        size_t nrows = 0;
        for (size_t k = 0; k < v->nruns; k++)
            if (v->runs[k].nrows > nrows) nrows = v->runs[k].nrows;
        for (size_t i = 0; i < nrows; i++) {
            size_t ns = 0;
#define COL(member) row_stats(v, i, offsetof(report_row, member), a, scratch, &ns)
            report_stats ep = COL(epoch), up = COL(updates), wl = COL(clock_s);
            report_stats te = COL(test_e), tf = COL(test_f), re = COL(train_e), rf = COL(train_f);
            report_stats wn = COL(weight_norm), dw = COL(max_dw);
#undef COL
            report_stats dn = norm_change_stats(v, i, a, scratch);
            fprintf(o.f, "%zu %s %s %s %s %s %s %s %s %s %s %s %s %s %zu %s\n", i,
                    report_n10(ep.median), report_n10(up.median), report_n10(wl.median),
                    report_n10(te.median), report_n10(te.min), report_n10(te.max),
                    report_n10(tf.median), report_n10(tf.min), report_n10(tf.max),
                    report_n10(re.median), report_n10(rf.median), report_n10(wn.median),
                    report_n10(dw.median), ns, report_n10(dn.median));
        }
        if ((st = fs_atomic_commit(&o))) break;
    }
    free(a);
    free(scratch);
    return st;
}

/* Tables for plots/: whitespace-separated, one '#' header line, names made safe, nan = missing. */
static rk_status write_baselines(const report_ctx *c) {
    fs_atomic o;
    rk_status st = report_out_open(&o, c->out_dir, "baselines.dat");
    if (st) return st;
    fprintf(o.f, "# dataset baseline_e_eV_per_atom baseline_f_eV_per_A\n");
    for (size_t d = 0; d < c->nds; d++) {
        char ds[REPORT_NAME_MAX];
        report_safe_name(ds, sizeof ds, c->ds[d]);
        fprintf(o.f, "%s %s %s\n", ds, report_n(c->base[d][REPORT_E]),
                report_n(c->base[d][REPORT_F]));
    }
    return fs_atomic_commit(&o);
}

static rk_status write_variants(const report_ctx *c) {
    const report_exp *e = c->e;
    fs_atomic o;
    rk_status st = report_out_open(&o, c->out_dir, "variants.dat");
    if (st) return st;
    fprintf(o.f, "# dataset label optimizer group x n_seeds n_with_metrics curve_file\n");
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX], op[REPORT_NAME_MAX], gr[REPORT_NAME_MAX];
        report_safe_name(ds, sizeof ds, v->dataset);
        report_safe_name(lb, sizeof lb, v->label);
        report_safe_name(op, sizeof op, v->optimizer);
        report_safe_name(gr, sizeof gr, v->group);
        size_t nm = 0;
        for (size_t k = 0; k < v->nruns; k++)
            nm += v->runs[k].rows != NULL;
        fprintf(o.f, "%s %s %s %s %s %zu %zu %s\n", ds, lb, op, gr[0] ? gr : "-", report_n(v->x),
                v->nruns, nm, c->vi[j].has_curve ? c->vi[j].curve : "-");
    }
    return fs_atomic_commit(&o);
}

/* bars.dat: one bar per (dataset, variant not of gradient kind, quantity, factor) with the
 * reference/V ratios, the seeds of either side that reached the threshold and the label of that
 * bar's reference (the notes and adam_label say "adam" for the reference, as the plots expect);
 * bars_groups.dat: the x centre of each variant's group of bars for the tick labels, with the
 * reference labels of its bars ("a/b" when they differ, in bar order, each named once). */
static rk_status write_bars(const report_ctx *c) {
    const report_exp *e = c->e;
    fs_atomic o, g;
    rk_status st = report_out_open(&o, c->out_dir, "bars.dat");
    if (st) return st;
    if ((st = report_out_open(&g, c->out_dir, "bars_groups.dat"))) {
        fs_atomic_abort(&o);
        return st;
    }
    fprintf(o.f, "# xpos dataset label quantity factor ratio_epochs ratio_updates ratio_wall_s "
                 "note variant_seeds_reached variant_seeds adam_seeds_reached adam_seeds "
                 "adam_label\n");
    fprintf(g.f, "# xcenter dataset label adam_label\n");
    size_t group = 0;
    for (size_t d = 0; d < c->nds; d++) {
        /* every quantity and factor has a reference as soon as the dataset has a gradient-kind
         * variant */
        if (!report_ref_at(c, d, 0, 0)) continue;
        for (size_t j = 0; j < e->nvars; j++) {
            const report_variant *v = &e->vars[j];
            if (strcmp(v->dataset, c->ds[d]) != 0 || report_is_gradient(v)) continue;
            char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX], al[REPORT_NAME_MAX];
            report_safe_name(ds, sizeof ds, v->dataset);
            report_safe_name(lb, sizeof lb, v->label);
            /* the group's reference labels, each once, in bar order */
            char refs[BARS_PER_GROUP * REPORT_NAME_MAX] = "";
            const report_variant *seen[BARS_PER_GROUP];
            size_t nseen = 0;
            for (int f = 0; f < REPORT_NFACTORS; f++)
                for (int q = 0; q < REPORT_NQTY; q++) {
                    const report_variant *A = report_ref_at(c, d, q, f);
                    size_t i = 0;
                    while (i < nseen && seen[i] != A)
                        i++;
                    if (i < nseen) continue;
                    seen[nseen++] = A;
                    report_safe_name(al, sizeof al, A->label);
                    size_t len = strlen(refs);
                    snprintf(refs + len, sizeof refs - len, "%s%s", len ? "/" : "", al);
                }
            double x0 = (double)(group * BAR_GROUP_STRIDE);
            fprintf(g.f, "%s %s %s %s\n", report_n(x0 + 0.5 * (BARS_PER_GROUP - 1)), ds, lb, refs);
            size_t bar = 0;
            for (int f = 0; f < REPORT_NFACTORS; f++)
                for (int q = 0; q < REPORT_NQTY; q++, bar++) {
                    const report_variant *A = report_ref_at(c, d, q, f);
                    size_t ai = (size_t)(A - e->vars);
                    report_safe_name(al, sizeof al, A->label);
                    const report_crossing *cv = report_cross_at(c, j, q, f),
                                          *ca = report_cross_at(c, ai, q, f);
                    const char *note = cv->n_runs == 0              ? "no_runs"
                                       : cv->n_reached < cv->n_runs ? "never"
                                       : ca->n_runs == 0            ? "adam_no_runs"
                                       : ca->n_reached < ca->n_runs ? "adam_never"
                                                                    : "ok";
                    double r[REPORT_NMEASURES];
                    for (int m = 0; m < REPORT_NMEASURES; m++)
                        r[m] = report_pair_ratio(ca, cv, m);
                    if (!strcmp(note, "ok") && isnan(r[0])) note = "at_start";
                    fprintf(o.f, "%s %s %s %s %s %s %s %s %s %zu %zu %zu %zu %s\n",
                            report_n(x0 + (double)bar), ds, lb, report_qty_names[q],
                            report_n(REPORT_FACTORS[f]), report_n(r[0]), report_n(r[1]),
                            report_n(r[2]), note, cv->n_reached, cv->n_runs, ca->n_reached,
                            ca->n_runs, al);
                }
            group++;
        }
    }
    st = fs_atomic_commit(&o);
    rk_status st2 = fs_atomic_commit(&g);
    return st ? st : st2;
}

/* ablation.dat: the block-size sweep in report_ablation_order; idx holds nvars. */
static rk_status write_ablation(const report_ctx *c, size_t *idx) {
    const report_exp *e = c->e;
    size_t n = report_ablation_order(c, idx);
    fs_atomic o;
    rk_status st = report_out_open(&o, c->out_dir, "ablation.dat");
    if (st) return st;
    fprintf(o.f, "# dataset label optimizer block_size n_blocks n_params state_MiB "
                 "s_per_epoch_mean final_test_e_eV_per_atom_mean final_test_f_eV_per_A_mean "
                 "n_done n_seeds\n");
    for (size_t k = 0; k < n; k++) {
        const report_variant *v = &e->vars[idx[k]];
        const report_var_info *vi = &c->vi[idx[k]];
        char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX];
        report_safe_name(ds, sizeof ds, v->dataset);
        report_safe_name(lb, sizeof lb, v->label);
        fprintf(o.f, "%s %s %s %s %s %s %s %s %s %s %zu %zu\n", ds, lb, v->optimizer,
                report_n(report_block_size_of(v)), report_n(v->n_blocks), report_n(v->n_params),
                report_n(v->state_bytes / REPORT_BYTES_PER_MIB), report_n(vi->s_per_epoch.mean),
                report_n(vi->final_e.mean), report_n(vi->final_f.mean),
                vi->n_status[REPORT_ST_DONE], v->nruns);
    }
    return fs_atomic_commit(&o);
}

/* batch_size.dat: the batch-size sweep in report_batch_order (idx, n). Per variant: the final
 * test RMSEs (mean, min, max over seeds) and, per quantity and factor, the mean crossing epoch,
 * updates and training time (nan unless every seed with metrics crossed). */
static rk_status write_batch(const report_ctx *c, const size_t *idx, size_t n) {
    const report_exp *e = c->e;
    fs_atomic o;
    rk_status st = report_out_open(&o, c->out_dir, "batch_size.dat");
    if (st) return st;
    fprintf(o.f, "# dataset label optimizer batch_size n_done n_seeds "
                 "final_test_e_eV_per_atom_mean min max final_test_f_eV_per_A_mean min max");
    for (int q = 0; q < REPORT_NQTY; q++)
        for (int fi = 0; fi < REPORT_NFACTORS; fi++)
            fprintf(o.f, " %c%.1f_epochs %c%.1f_updates %c%.1f_train_s", "ef"[q],
                    REPORT_FACTORS[fi], "ef"[q], REPORT_FACTORS[fi], "ef"[q], REPORT_FACTORS[fi]);
    fprintf(o.f, "\n");
    for (size_t k = 0; k < n; k++) {
        const report_variant *v = &e->vars[idx[k]];
        const report_var_info *vi = &c->vi[idx[k]];
        char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX];
        report_safe_name(ds, sizeof ds, v->dataset);
        report_safe_name(lb, sizeof lb, v->label);
        fprintf(o.f, "%s %s %s %s %zu %zu %s %s %s %s %s %s", ds, lb, v->optimizer,
                report_n(v->batch_size), vi->n_status[REPORT_ST_DONE], v->nruns,
                report_n(vi->final_e.mean), report_n(vi->final_e.min), report_n(vi->final_e.max),
                report_n(vi->final_f.mean), report_n(vi->final_f.min), report_n(vi->final_f.max));
        for (int q = 0; q < REPORT_NQTY; q++)
            for (int fi = 0; fi < REPORT_NFACTORS; fi++)
                for (int m = 0; m < REPORT_NMEASURES; m++)
                    fprintf(o.f, " %s",
                            report_n(report_crossing_value(report_cross_at(c, idx[k], q, fi), m)));
        fprintf(o.f, "\n");
    }
    return fs_atomic_commit(&o);
}

static rk_status write_stability(const report_ctx *c, const size_t *idx, size_t n) {
    const report_exp *e = c->e;
    fs_atomic o;
    rk_status st = report_out_open(&o, c->out_dir, "stability.dat");
    if (st) return st;
    fprintf(o.f, "# dataset group x label optimizer final_test_e_eV_per_atom_mean "
                 "final_test_f_eV_per_A_mean n_done n_diverged n_time_budget n_skipped n_failed "
                 "max_weight_change curve_file\n");
    for (size_t k = 0; k < n; k++) {
        const report_variant *v = &e->vars[idx[k]];
        const report_var_info *vi = &c->vi[idx[k]];
        char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX], gr[REPORT_NAME_MAX];
        report_safe_name(ds, sizeof ds, v->dataset);
        report_safe_name(lb, sizeof lb, v->label);
        report_safe_name(gr, sizeof gr, v->group);
        fprintf(o.f, "%s %s %s %s %s %s %s %zu %zu %zu %zu %zu %s %s\n", ds, gr, report_n(v->x), lb,
                v->optimizer, report_n(vi->final_e.mean), report_n(vi->final_f.mean),
                vi->n_status[REPORT_ST_DONE], vi->n_status[REPORT_ST_DIVERGED],
                vi->n_status[REPORT_ST_TIME_BUDGET], vi->n_status[REPORT_ST_SKIPPED],
                vi->n_status[REPORT_ST_FAILED], report_n(vi->max_dw),
                vi->has_curve ? vi->curve : "-");
    }
    return fs_atomic_commit(&o);
}

/* The cell chosen for each variant's parity plot: the first done cell, else the first that
 * stopped at its time budget (both leave a finite model.h5). -1 if none. */
static long parity_cell(const report_variant *v) {
    for (size_t k = 0; k < v->nruns; k++)
        if (v->runs[k].status == REPORT_ST_DONE) return (long)k;
    for (size_t k = 0; k < v->nruns; k++)
        if (v->runs[k].status == REPORT_ST_TIME_BUDGET) return (long)k;
    return -1;
}

/* parity_cells.tsv (tab-separated, paths may hold spaces): dataset label optimizer seed
 * model_h5 dataset_h5. model_h5 is relative to the experiment folder, so the table stays valid
 * wherever the folder is read from; dataset_h5 is training.dataset of the cell's config.json as
 * written (relative paths are relative to where `rlekf run` ran, normally the repository). */
static rk_status write_parity_cells(const report_ctx *c) {
    const report_exp *e = c->e;
    fs_atomic o;
    rk_status st = report_out_open(&o, c->out_dir, "parity_cells.tsv");
    if (st) return st;
    fprintf(o.f, "# dataset\tlabel\toptimizer\tseed\tmodel_h5_in_experiment\tdataset_h5\n");
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        long k = parity_cell(v);
        if (k < 0) continue;
        const report_run *r = &v->runs[k];
        char cfg[REPORT_PATH_MAX + 16], h5[REPORT_PATH_MAX], model[REPORT_PATH_MAX + 16];
        snprintf(cfg, sizeof cfg, "%s/config.json", r->dir);
        snprintf(model, sizeof model, "%s/model.h5", r->dir);
        if (!fs_is_file(model)) continue;
        snprintf(h5, sizeof h5, "-");
        jsonw *root = NULL;
        if (fs_is_file(cfg) && jsonw_parse_file(cfg, &root) == RK_OK) {
            /* config.json's training section, keyed as the training-key table names it */
            const char *key = config_key_of_field(offsetof(train_config, dataset))->name;
            const jsonw *d = jsonw_get(jsonw_get(root, "training"), key);
            if (d && jsonw_typeof(d) == JSONW_STRING)
                snprintf(h5, sizeof h5, "%s", jsonw_string(d));
        }
        err_clear(); /* an unreadable config only costs the parity plot, not the report */
        jsonw_free(root);
        char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX];
        report_safe_name(ds, sizeof ds, v->dataset);
        report_safe_name(lb, sizeof lb, v->label);
        fprintf(o.f, "%s\t%s\t%s\t%ld\t%s/%s/seed-%ld/model.h5\t%s\n", ds, lb, v->optimizer,
                r->seed, v->dataset, v->label, r->seed, h5);
    }
    return fs_atomic_commit(&o);
}

/* ------------------------------------------------------------- md ------------------------- */

/* The ensembles' folder names in a cell (runner.c: md_<ensemble>), in report_md_run order. */
static const char *const MD_ENS[REPORT_MD_NENS] = {"nve", "nvt"};

/* The first seed (summary order) of v with an MD result in ensemble en, or -1. */
static long md_cell(const report_variant *v, int en) {
    for (size_t k = 0; k < v->nruns; k++)
        if (v->runs[k].md[en].status >= 0) return (long)k;
    return -1;
}

/* md/<ds>__<label>__<ens>.energy.dat: time (ps) and total energy minus its first value per atom
 * (meV/atom) of run r; md/...rdf.dat: one block per element pair (r, g_md, g_dft), blocks
 * separated by two blank lines (gnuplot's index). *pairs gets the pair names, comma-joined.
 * A run whose files cannot be read is left out (RK_EINPUT). */
static rk_status md_tables(const report_run *r, int en, const char *energy, const char *rdf,
                           char *pairs, size_t cap) {
    char dir[REPORT_PATH_MAX + 16], p[REPORT_PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/md_%s", r->dir, MD_ENS[en]);
    snprintf(p, sizeof p, "%s/md.json", dir);
    jsonw *j = NULL;
    rk_status st = jsonw_parse_file(p, &j);
    if (st) return st;
    double natoms = 0;
    st = jsonw_get_num(j, p, "natoms", 1, 1, 1e9, &natoms);
    jsonw_free(j);
    if (st) return st;
    csvio_table t;
    snprintf(p, sizeof p, "%s/thermo.csv", dir);
    if ((st = csvio_read(p, &t))) return st;
    fs_atomic o;
    if ((st = fs_atomic_open(&o, energy))) {
        csvio_free(&t);
        return st;
    }
    fprintf(o.f, "# %s: time_ps (total_eV - first total_eV) / natoms in meV/atom\n", p);
    double e0 = NAN;
    for (size_t i = 0; i < t.nrows && !st; i++) {
        double tp, et;
        st = csvio_num(&t, p, i, schema_thermo_cols[SCHEMA_THERMO_TIME_PS], &tp);
        if (!st) st = csvio_num(&t, p, i, schema_thermo_cols[SCHEMA_THERMO_ETOT], &et);
        if (st) break;
        if (i == 0) e0 = et;
        fprintf(o.f, "%.10g %.10g\n", tp, (et - e0) / natoms * REPORT_MEV_PER_EV);
    }
    csvio_free(&t);
    if (st) {
        fs_atomic_abort(&o);
        return st;
    }
    if ((st = fs_atomic_commit(&o))) return st;
    snprintf(p, sizeof p, "%s/rdf.csv", dir);
    if ((st = csvio_read(p, &t))) return st;
    if ((st = fs_atomic_open(&o, rdf))) {
        csvio_free(&t);
        return st;
    }
    fprintf(o.f, "# %s: blocks per pair: r_A g_md g_dft\n", p);
    int cp = csvio_col(&t, schema_rdf_cols[SCHEMA_RDF_PAIR]);
    if (cp < 0) st = err_set(RK_EINPUT, "%s: no column '%s'", p, schema_rdf_cols[SCHEMA_RDF_PAIR]);
    pairs[0] = '\0';
    const char *prev = NULL;
    for (size_t i = 0; i < t.nrows && !st; i++) {
        const char *pr = csvio_cell(&t, i, (size_t)cp);
        if (!prev || strcmp(prev, pr) != 0) {
            if (prev) fprintf(o.f, "\n\n");
            snprintf(pairs + strlen(pairs), cap - strlen(pairs), "%s%s", prev ? "," : "", pr);
            prev = pr;
        }
        double rr, gm, gd;
        st = csvio_num(&t, p, i, schema_rdf_cols[SCHEMA_RDF_R], &rr);
        if (!st) st = csvio_num(&t, p, i, schema_rdf_cols[SCHEMA_RDF_G_MD], &gm);
        if (!st) st = csvio_num(&t, p, i, schema_rdf_cols[SCHEMA_RDF_G_REF], &gd);
        if (!st) fprintf(o.f, "%.10g %.10g %.10g\n", rr, gm, gd);
    }
    csvio_free(&t);
    if (st) {
        fs_atomic_abort(&o);
        return st;
    }
    return fs_atomic_commit(&o);
}

/* md_cells.tsv: per variant and ensemble with MD, the first such seed: dataset label optimizer
 * seed ensemble status stable_ps energy_file rdf_file pairs (files relative to the report
 * folder). */
static rk_status write_md_cells(const report_ctx *c) {
    const report_exp *e = c->e;
    char mdir[REPORT_PATH_MAX + 16];
    snprintf(mdir, sizeof mdir, "%s/md", c->out_dir);
    fs_atomic o;
    rk_status st = report_out_open(&o, c->out_dir, "md_cells.tsv");
    if (st) return st;
    fprintf(o.f, "# dataset\tlabel\toptimizer\tseed\tensemble\tstatus\tstable_ps\tenergy_dat\t"
                 "rdf_dat\tpairs\n");
    int made_dir = 0;
    for (size_t j = 0; j < e->nvars && !st; j++) {
        const report_variant *v = &e->vars[j];
        for (int en = 0; en < REPORT_MD_NENS && !st; en++) {
            long k = md_cell(v, en);
            if (k < 0) continue;
            if (!made_dir && (st = fs_mkdirs(mdir))) break;
            made_dir = 1;
            const report_run *r = &v->runs[k];
            char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX], base[3 * REPORT_NAME_MAX];
            char ef[REPORT_PATH_MAX + 512], rf[REPORT_PATH_MAX + 512], pairs[512];
            report_safe_name(ds, sizeof ds, v->dataset);
            report_safe_name(lb, sizeof lb, v->label);
            snprintf(base, sizeof base, "%s__%s__%s", ds, lb, MD_ENS[en]);
            snprintf(ef, sizeof ef, "%s/%s.energy.dat", mdir, base);
            snprintf(rf, sizeof rf, "%s/%s.rdf.dat", mdir, base);
            rk_status mst = md_tables(r, en, ef, rf, pairs, sizeof pairs);
            if (mst) {
                /* the MD files of a cell are not the report's input: say so and go on */
                fprintf(stderr, "rlekf report: %s: no MD tables: %s\n", r->dir, err_msg());
                err_clear();
                continue;
            }
            fprintf(o.f, "%s\t%s\t%s\t%ld\t%s\t%s\t%.6g\tmd/%s.energy.dat\tmd/%s.rdf.dat\t%s\n", ds,
                    lb, v->optimizer, r->seed, MD_ENS[en],
                    r->md[en].status == 1   ? "stable"
                    : r->md[en].status == 2 ? "over_sel"
                                            : "unstable",
                    r->md[en].stable_ps, base, base, pairs);
        }
    }
    if (st) {
        fs_atomic_abort(&o);
        return st;
    }
    return fs_atomic_commit(&o);
}

rk_status report_write(const report_exp *e, const char *out_dir, char *md_path, size_t cap) {
    char curve_dir[REPORT_PATH_MAX + 16];
    int n = snprintf(curve_dir, sizeof curve_dir, "%s/curves", out_dir);
    if (n < 0 || (size_t)n >= sizeof curve_dir)
        return err_set(RK_EINPUT, "%s: path too long", out_dir);
    rk_status st = fs_mkdirs(curve_dir);
    if (st) return st;
    report_ctx c;
    if ((st = report_ctx_init(&c, e, out_dir))) return st;
    size_t nv = e->nvars ? e->nvars : 1;
    size_t *stab = rk_calloc(nv, sizeof *stab), *a_idx = rk_calloc(nv, sizeof *a_idx),
           *bat = rk_calloc(nv, sizeof *bat);
    if (!stab || !a_idx || !bat) st = RK_ENOMEM;
    size_t nstab = st ? 0 : report_stability_order(&c, stab);
    size_t nbat = st ? 0 : report_batch_order(&c, bat);
    if (!st) st = write_accuracy(&c);
    if (!st) st = write_speedup(&c);
    if (!st) st = write_curves(&c, curve_dir);
    if (!st) st = write_baselines(&c);
    if (!st) st = write_variants(&c);
    if (!st) st = write_bars(&c);
    if (!st) st = write_ablation(&c, a_idx);
    if (!st) st = write_stability(&c, stab, nstab);
    if (!st) st = write_batch(&c, bat, nbat);
    if (!st) st = write_parity_cells(&c);
    if (!st) st = write_md_cells(&c);
    if (!st) st = report_write_md(&c, stab, nstab, bat, nbat, md_path, cap);
    size_t n_shared = st ? 0 : report_n_shared_time_ratios(&c);
    if (n_shared)
        fprintf(stderr,
                "rlekf report: warning: %zu time ratio(s) compare cells that shared the machine "
                "(jobs > 1); rerun them with \"timing\": \"exclusive\" (see report.md)\n",
                n_shared);
    report_ctx_free(&c);
    free(stab);
    free(a_idx);
    free(bat);
    return st;
}
