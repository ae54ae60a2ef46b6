/* report_md: report.md, the experiment's tables for people (see report.h for the quantities).
 *
 * RMSEs are shown in meV/atom and meV/Å with three significant digits (the CSV files beside it
 * keep eV); the page says so, names the experiment, and quotes provenance.json verbatim.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report_internal.h"

/* "mean [min, max]" in meV, or the mean alone for one value. */
static const char *spread(const report_stats *s) {
    char *b = report_nbuf();
    if (s->n == 0) {
        snprintf(b, REPORT_NBUF_LEN, "–");
    } else if (s->n == 1) {
        report_sig3(b, REPORT_NBUF_LEN, s->mean * REPORT_MEV_PER_EV);
    } else {
        char m[24], lo[24], hi[24];
        report_sig3(m, sizeof m, s->mean * REPORT_MEV_PER_EV);
        report_sig3(lo, sizeof lo, s->min * REPORT_MEV_PER_EV);
        report_sig3(hi, sizeof hi, s->max * REPORT_MEV_PER_EV);
        snprintf(b, REPORT_NBUF_LEN, "%s [%s, %s]", m, lo, hi);
    }
    return b;
}

/* "mean [min, max]" of values already in the table's unit, or the mean alone for one value. */
static const char *spread_plain(const report_stats *s) {
    char *b = report_nbuf();
    if (s->n == 0) {
        snprintf(b, REPORT_NBUF_LEN, "–");
    } else if (s->n == 1) {
        report_sig3(b, REPORT_NBUF_LEN, s->mean);
    } else {
        char m[24], lo[24], hi[24];
        report_sig3(m, sizeof m, s->mean);
        report_sig3(lo, sizeof lo, s->min);
        report_sig3(hi, sizeof hi, s->max);
        snprintf(b, REPORT_NBUF_LEN, "%s [%s, %s]", m, lo, hi);
    }
    return b;
}

static const char *status_counts(const report_var_info *vi) {
    char *b = report_nbuf();
    snprintf(b, REPORT_NBUF_LEN, "%zu/%zu/%zu/%zu/%zu", vi->n_status[0], vi->n_status[1],
             vi->n_status[2], vi->n_status[3], vi->n_status[4]);
    return b;
}

rk_status report_write_md(const report_ctx *c, const size_t *stab, size_t nstab, const size_t *bat,
                          size_t nbat, char *md_path, size_t cap) {
    const report_exp *e = c->e;
    fs_atomic o;
    rk_status st = report_out_open(&o, c->out_dir, "report.md");
    if (st) return st;
    FILE *f = o.f;
    fprintf(f, "# Experiment `%s`\n\n", e->name);
    fprintf(f,
            "Results folder: `%s`. Written by `rlekf report`. Test RMSEs in these tables are in "
            "meV/atom (energy per atom) and meV/Å (force components); the CSV files beside "
            "this page hold the same numbers in eV/atom and eV/Å. Status counts are "
            "done/diverged/time_budget/skipped/failed; statistics over seeds use the seeds "
            "with a finite value.\n\n",
            e->dir);

    fprintf(f, "## Provenance\n\n");
    if (e->provenance) {
        size_t len = strlen(e->provenance);
        fprintf(f, "```json\n%s%s```\n\n", e->provenance,
                len && e->provenance[len - 1] == '\n' ? "" : "\n");
    } else {
        fprintf(f, "No provenance.json in the results folder.\n\n");
    }

    fprintf(f, "## Baselines (SPEC §4)\n\nLowest test RMSE reached by any evaluation of any run "
               "on the dataset, and the thresholds used for the speed-up.\n\n");
    fprintf(f, "| Dataset | E baseline (meV/atom) | ×1.2 | ×1.5 | F baseline (meV/Å) | ×1.2 | ×1.5 "
               "|\n|---|---|---|---|---|---|---|\n");
    for (size_t d = 0; d < c->nds; d++) {
        double be = c->base[d][REPORT_E], bf = c->base[d][REPORT_F];
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s |\n", c->ds[d], report_mev(be),
                report_mev(REPORT_FACTORS[0] * be), report_mev(REPORT_FACTORS[1] * be),
                report_mev(bf), report_mev(REPORT_FACTORS[0] * bf),
                report_mev(REPORT_FACTORS[1] * bf));
    }

    fprintf(f, "\n## Accuracy\n\nFinal and best test RMSE as mean [min, max] over seeds; epochs, "
               "updates, training time (training steps only, SPEC §4) and wall time (training "
               "plus evaluations and saves) are means over seeds.\n\n");
    fprintf(f, "| Dataset | Variant | Optimizer | Seeds | Status | Final E (meV/atom) | Final F "
               "(meV/Å) | Best E (meV/atom) | Best F (meV/Å) | Epochs | Updates | Train (s) | "
               "Wall (s) |\n");
    fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        const report_var_info *vi = &c->vi[j];
        fprintf(f, "| %s | %s | %s | %zu | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                v->dataset,
                v->label, v->optimizer, v->nruns, status_counts(vi), spread(&vi->final_e),
                spread(&vi->final_f), spread(&vi->best_e), spread(&vi->best_f),
                report_g3(vi->epochs.mean),
                isfinite(vi->updates.mean) ? report_n(vi->updates.mean) : "–",
                report_g3(vi->clock.mean), report_g3(vi->wall.mean));
    }

    /* The page calls the reference "Adam" (gradient-kind: Adam in every experiment so far). */
    fprintf(f, "\n## Speed-up against Adam\n\nFirst evaluation with test RMSE ≤ factor × baseline, "
               "mean [min, max] over seeds (\"never (k/n reached)\" unless every seed reached it; "
               "one number when the seeds agree). Ratios are of the means, "
               "Adam's value / the variant's value: above 1 means the variant needs fewer "
               "epochs, updates or seconds than Adam; n/a when either side never reached the "
               "threshold or reached it at the initial evaluation (before any update). Time is the "
               "training clock: seconds in training steps only, without evaluations and saves "
               "(SPEC §4). With several Adam variants, each quantity and threshold is raced "
               "against the strongest: the one that reaches the threshold in the least training "
               "time (equal times: fewer updates, then the first listed), or, if none reaches it, "
               "the one with the lowest mean best test RMSE; the Reference column names it.\n");
    if (e->n_wall_clock)
        fprintf(f, "\n**Warning:** %zu run(s) were recorded without a training clock; their "
                   "times are wall time including evaluations, which favours whichever side "
                   "evaluates less often.\n",
                e->n_wall_clock);
    size_t n_shared = report_n_shared_time_ratios(c);
    if (n_shared)
        fprintf(f, "\n**Warning:** %zu time ratio(s) (marked †) compare cells that shared the "
                   "machine with other cells (jobs > 1 in summary.csv, or in provenance.json "
                   "for cells recorded without that column): their training clocks include "
                   "contention. Rerun the experiment with `\"timing\": \"exclusive\"` "
                   "for time ratios that compare.\n",
                n_shared);
    for (size_t d = 0; d < c->nds; d++) {
        fprintf(f, "\n### %s\n\n", c->ds[d]);
        if (!report_ref_at(c, d, 0, 0))
            fprintf(f, "No Adam variant on this dataset: ratios are n/a.\n\n");
        fprintf(f, "| Variant | Quantity | Threshold | Epochs | Updates | Train (s) | Reference "
                   "| Adam/V epochs | Adam/V updates | Adam/V train time |\n"
                   "|---|---|---|---|---|---|---|---|---|---|\n");
        for (size_t j = 0; j < e->nvars; j++) {
            const report_variant *v = &e->vars[j];
            if (strcmp(v->dataset, c->ds[d]) != 0) continue;
            for (int q = 0; q < REPORT_NQTY; q++)
                for (int fi = 0; fi < REPORT_NFACTORS; fi++) {
                    const report_crossing *cr = report_cross_at(c, j, q, fi);
                    const report_variant *A = report_ref_at(c, d, q, fi);
                    size_t ai = A ? (size_t)(A - e->vars) : 0;
                    fprintf(f, "| %s | %s | ×%.1f (%s %s) |", v->label, report_qty_names[q],
                            REPORT_FACTORS[fi], report_mev(REPORT_FACTORS[fi] * c->base[d][q]),
                            report_qty_md_units[q]);
                    for (int m = 0; m < REPORT_NMEASURES; m++)
                        fprintf(f, " %s |", report_crossing_text(cr, m, 1));
                    fprintf(f, " %s%s%s |", A ? "`" : "", A ? A->label : "–", A ? "`" : "");
                    for (int m = 0; m < REPORT_NMEASURES; m++) {
                        if (A == v) {
                            fprintf(f, " (reference) |");
                            continue;
                        }
                        double r =
                            A ? report_pair_ratio(report_cross_at(c, ai, q, fi), cr, m) : NAN;
                        int mark = m == REPORT_MEASURE_TRAIN_S && isfinite(r) &&
                                   report_time_shared(c, ai, j);
                        fprintf(f, " %s%s |", report_ratio_text(r, 1), mark ? " †" : "");
                    }
                    fprintf(f, "\n");
                }
        }
    }

    int any_abl = 0;
    for (size_t j = 0; j < e->nvars; j++)
        any_abl |= report_is_kalman(&e->vars[j]);
    if (any_abl) {
        fprintf(f, "\n## Kalman variants: block size, memory, time\n\nN_b is the block size "
                   "(gekf: one block of all N weights); state is the optimizer's covariance "
                   "memory; time per epoch is train_s / epochs (training steps only), mean over seeds.\n\n");
        fprintf(f, "| Dataset | Variant | Optimizer | N_b | Blocks | State (MiB) | Time/epoch (s) "
                   "| Final E (meV/atom) | Final F (meV/Å) | Status |\n");
        fprintf(f, "|---|---|---|---|---|---|---|---|---|---|\n");
        for (size_t j = 0; j < e->nvars; j++) {
            const report_variant *v = &e->vars[j];
            if (!report_is_kalman(v)) continue;
            const report_var_info *vi = &c->vi[j];
            double nb = report_block_size_of(v);
            fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", v->dataset,
                    v->label, v->optimizer, isfinite(nb) ? report_n(nb) : "–",
                    isfinite(v->n_blocks) ? report_n(v->n_blocks) : "–",
                    report_g3(v->state_bytes / REPORT_BYTES_PER_MIB),
                    report_g3(vi->s_per_epoch.mean), report_mev(vi->final_e.mean),
                    report_mev(vi->final_f.mean), status_counts(vi));
        }
    }

    if (nbat) {
        fprintf(f, "\n## Batch size\n\nOptimizers run at two or more batch sizes B (images per "
                   "update, SPEC §3 \"Minibatch\"), by B. Final test RMSE as mean [min, max] over "
                   "seeds; updates and epochs are means over seeds.\n\n");
        fprintf(f, "| Dataset | Optimizer | B | Variant | Seeds | Status | Final E (meV/atom) | "
                   "Final F (meV/Å) | Updates | Epochs | Train (s) |\n"
                   "|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (size_t k = 0; k < nbat; k++) {
            const report_variant *v = &e->vars[bat[k]];
            const report_var_info *vi = &c->vi[bat[k]];
            fprintf(f, "| %s | %s | %s | %s | %zu | %s | %s | %s | %s | %s | %s |\n", v->dataset,
                    v->optimizer, report_n(v->batch_size), v->label, v->nruns, status_counts(vi),
                    spread(&vi->final_e), spread(&vi->final_f),
                    isfinite(vi->updates.mean) ? report_n(vi->updates.mean) : "–",
                    report_g3(vi->epochs.mean), report_g3(vi->clock.mean));
        }
        fprintf(f,
                "\nTo the baseline: first evaluation with test RMSE ≤ factor × baseline, mean [min, "
                "max] over seeds (\"never (k/n reached)\" unless every seed reached it); time on the "
                "training clock (SPEC §4).\n\n");
        fprintf(f, "| Dataset | Optimizer | B | Variant | Quantity | Threshold | Updates | Epochs "
                   "| Train (s) |\n|---|---|---|---|---|---|---|---|---|\n");
        for (int q = REPORT_NQTY - 1; q >= 0; q--) /* force first: the headline quantity */
            for (int fi = 0; fi < REPORT_NFACTORS; fi++)
                for (size_t k = 0; k < nbat; k++) {
                    const report_variant *v = &e->vars[bat[k]];
                    const report_crossing *cr = report_cross_at(c, bat[k], q, fi);
                    size_t d = report_ds_index(c, v->dataset);
                    fprintf(f, "| %s | %s | %s | %s | %s | ×%.1f (%s %s) | %s | %s | %s |\n",
                            v->dataset, v->optimizer, report_n(v->batch_size), v->label,
                            report_qty_names[q], REPORT_FACTORS[fi],
                            report_mev(REPORT_FACTORS[fi] * c->base[d][q]), report_qty_md_units[q],
                            report_crossing_text(cr, 1, 1), report_crossing_text(cr, 0, 1),
                            report_crossing_text(cr, REPORT_MEASURE_TRAIN_S, 1));
                }
    }

    if (nstab) {
        fprintf(f, "\n## Stability groups\n\nFinal test RMSE (mean over seeds), status counts "
                   "and the largest single-weight change in one update over all rows and "
                   "seeds.\n\n");
        fprintf(f, "| Dataset | Group | x | Variant | Optimizer | Final E (meV/atom) | Final F "
                   "(meV/Å) | Status | Max abs weight change |\n");
        fprintf(f, "|---|---|---|---|---|---|---|---|---|\n");
        for (size_t k = 0; k < nstab; k++) {
            const report_variant *v = &e->vars[stab[k]];
            const report_var_info *vi = &c->vi[stab[k]];
            fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", v->dataset, v->group,
                    report_g3(v->x), v->label, v->optimizer, report_mev(vi->final_e.mean),
                    report_mev(vi->final_f.mean), status_counts(vi), report_g3(vi->max_dw));
        }
    }

    /* MD of the trained models (manifest "md"): per variant and ensemble over its seeds */
    int any_md = 0;
    for (size_t j = 0; j < e->nvars; j++)
        for (size_t k = 0; k < e->vars[j].nruns; k++)
            for (int en = 0; en < REPORT_MD_NENS; en++)
                any_md |= e->vars[j].runs[k].md[en].status >= 0;
    if (any_md) {
        fprintf(f, "\n## Molecular dynamics\n\nEach trained model run with LAMMPS from the same "
                   "frame and velocities (`rlekf md`, the manifest's `md` section). Stable: seeds "
                   "whose run met no stop criterion (pair distance, temperature band, non-finite "
                   "forces) / seeds with MD; \"over sel\": runs stopped because an atom had more "
                   "neighbours than the model's sel (a limit of the model, not of the physics). "
                   "Stable time, drift (least-squares slope of the total energy), fluctuation "
                   "(its standard deviation) and RDF error (mean |g_MD − g_DFT| over bins and "
                   "element pairs) as mean [min, max] over those seeds; drift and fluctuation "
                   "only in NVE, over the part of the run before it stopped.\n\n");
        fprintf(f, "| Dataset | Variant | Optimizer | Ensemble | Stable | Stable time (ps) | Drift "
                   "(meV/atom/ps) | Fluctuation (meV/atom) | RDF error |\n");
        fprintf(f, "|---|---|---|---|---|---|---|---|---|\n");
        static const char *const ens_names[REPORT_MD_NENS] = {"NVE", "NVT"};
        for (size_t j = 0; j < e->nvars; j++) {
            const report_variant *v = &e->vars[j];
            for (int en = 0; en < REPORT_MD_NENS; en++) {
                size_t n = 0, n_stable = 0, n_sel = 0;
                double val[4][64];
                for (size_t k = 0; k < v->nruns && n < 64; k++) {
                    const report_md_run *m = &v->runs[k].md[en];
                    if (m->status < 0) continue;
                    n_stable += m->status == 1;
                    n_sel += m->status == 2;
                    val[0][n] = m->stable_ps;
                    val[1][n] = m->drift;
                    val[2][n] = m->fluct;
                    val[3][n] = m->rdf;
                    n++;
                }
                if (!n) continue;
                const char *cell[4];
                for (int q = 0; q < 4; q++) {
                    double scratch[64];
                    report_stats s = report_describe(val[q], n, scratch);
                    cell[q] = spread_plain(&s);
                }
                char sel[48] = "";
                if (n_sel) snprintf(sel, sizeof sel, " (%zu over sel)", n_sel);
                fprintf(f, "| %s | %s | %s | %s | %zu/%zu%s | %s | %s | %s | %s |\n",
                        v->dataset, v->label, v->optimizer, ens_names[en], n_stable, n, sel,
                        cell[0], cell[1], cell[2], cell[3]);
            }
        }
    }

    fprintf(f, "\n## Files\n\n"
               "- `accuracy.csv`, `speedup.csv`: the tables above in eV units, one row per "
               "variant (speed-up: per variant, quantity and factor).\n"
               "- `curves/<dataset>__<label>.dat`: per evaluation row, median/min/max over seeds "
               "(gnuplot input).\n"
               "- `baselines.dat`, `variants.dat`, `bars.dat`, `bars_groups.dat`, "
               "`ablation.dat`, `stability.dat`, `batch_size.dat`, `parity_cells.tsv`, "
               "`md_cells.tsv`, `md/`: inputs of plots/*.gp.\n");
    st = fs_atomic_commit(&o);
    if (!st) snprintf(md_path, cap, "%s", o.path);
    return st;
}
