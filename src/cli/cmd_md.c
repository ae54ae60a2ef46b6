/* cmd_md: `rlekf md` — molecular dynamics of a trained model through LAMMPS (see md.h). */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "fs.h"
#include "h5io.h"
#include "md.h"
#include "num.h"

static const char *USAGE =
    "usage: rlekf md --model M.h5 --data D.h5 --out DIR [--frame SYSTEM:K] [--steps N]\n"
    "                [--dt FS] [--ensemble nve|nvt] [--temp K] [--seed S] [--thermo-every K]\n"
    "                [--stream NAME]\n"
    "\n"
    "Run molecular dynamics with LAMMPS (metal units; fix nve: velocity Verlet, or fix nvt:\n"
    "Nose-Hoover with damping 100 steps), the model supplying energy and forces through fix\n"
    "external, from frame K of SYSTEM in D.h5 (default: first system, frame 0) with velocities\n"
    "drawn at --temp from the seeded stream (NAME: the data file's stem, seed S, default 0).\n"
    "Writes into DIR, each file atomically: thermo.csv (step, time, potential, kinetic and\n"
    "total energy, temperature, shortest pair distance), rdf.csv (g(r) per element pair of\n"
    "the run, LAMMPS compute rdf, and of the system's DFT frames) and md.json (status, why\n"
    "and when the run stopped, NVE energy drift in meV/atom/ps and fluctuation in meV/atom,\n"
    "RDF mean absolute error). A run that becomes unphysical (pair distance below 0.5 A,\n"
    "temperature outside 0.1x..5x the target, non-finite forces) stops there with status\n"
    "unstable; one where an atom gathers more neighbours than the model's sel stops with\n"
    "status over_sel (a limit of the model); both are results: exit status 0.\n"
    "Defaults: --steps 1000 --dt 1 --ensemble nve --temp 300 --thermo-every 10.\n";

/* The data file's stem: the default velocity stream. */
static void stem_of(const char *path, char *buf, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(buf, cap, "%s", b);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
}

rk_status cmd_md(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        fputs(USAGE, stdout);
        return RK_OK;
    }
    md_params p;
    md_params_default(&p);
    const char *model = NULL, *data = NULL, *out = NULL, *seed = NULL, *stream = NULL;
    md_ensemble ens = MD_NVE;
    /* flags that are md keys: parsed and checked by their md_keys row */
    static const struct {
        const char *flag, *key;
    } keyed[] = {{"--steps", "steps"},
                 {"--dt", "dt_fs"},
                 {"--temp", "temperature_K"},
                 {"--thermo-every", "thermo_every"},
                 {"--frame", "frame"}};
    rk_status st = RK_OK;
    for (int i = 1; i < argc && !st; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return err_set(RK_EINPUT, "unexpected argument '%s' (see --help)", a);
        const char *val = argv[++i];
        size_t k = 0, nk = sizeof keyed / sizeof keyed[0];
        while (k < nk && strcmp(a, keyed[k].flag) != 0)
            k++;
        if (k < nk)
            st = md_params_set(&p, keyed[k].key, a, val);
        else if (!strcmp(a, "--model"))
            model = val;
        else if (!strcmp(a, "--data"))
            data = val;
        else if (!strcmp(a, "--out"))
            out = val;
        else if (!strcmp(a, "--seed"))
            seed = val;
        else if (!strcmp(a, "--stream"))
            stream = val;
        else if (!strcmp(a, "--ensemble"))
            st = md_ensemble_parse("--ensemble", val, &ens);
        else
            return err_set(RK_EINPUT, "unexpected argument '%s' (see --help)", a);
    }
    if (st) return st;
    uint64_t seed_v = 0;
    if (seed && (st = num_parse_u64("--seed", seed, 0, UINT32_MAX, &seed_v))) return st;
    if (!model || !data || !out)
        return err_set(RK_EINPUT, "--model, --data and --out are required (see --help)");
    if (p.thermo_every > p.steps && p.steps > 0)
        return err_set(RK_EINPUT, "--thermo-every %ld is more than --steps %ld", p.thermo_every,
                       p.steps);
    char stem[256];
    stem_of(data, stem, sizeof stem);
    if (!stream) stream = stem;

    dataset_t ds;
    memset(&ds, 0, sizeof ds);
    model_t m;
    memset(&m, 0, sizeof m);
    if ((st = h5io_dataset_read(data, &ds))) return st;
    if ((st = model_load(&m, model))) {
        dataset_free(&ds);
        return st;
    }
    size_t sys = 0, k = 0;
    st = model_check_types(&m, &ds, data);
    if (!st) st = md_find_frame(&ds, p.frame, &sys, &k);
    if (!st) st = md_check_frame(&ds, sys, k);
    md_result r;
    memset(&r, 0, sizeof r);
    char log[1100];
    snprintf(log, sizeof log, "%s/lammps.log", out);
    if (!st) st = fs_mkdirs(out);
    if (!st) st = md_run(&m, &ds, sys, k, &p, ens, stream, seed_v, log, &r);
    if (!st) st = md_write(out, &p, seed_v, &r);
    if (!st) {
        if (r.stable)
            printf("%s: stable for %.4g ps", out, r.stable_ps);
        else
            printf("%s: %s at %.4g ps (%s)", out, md_status_name(&r), r.stable_ps, r.reason);
        if (r.ensemble == MD_NVE)
            printf(", drift %.4g meV/atom/ps, fluctuation %.4g meV/atom", r.drift, r.fluct);
        printf(", RDF error %.4g\n", r.rdf_err_all);
    }
    md_result_free(&r);
    model_free(&m);
    dataset_free(&ds);
    return st;
}
