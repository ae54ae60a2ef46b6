/* Bad inputs to `rlekf import`, table-driven: each case builds a broken source in its own
 * temporary directory (a corrupted copy of a shipped file, or a few hand-written lines), runs the
 * CLI, and requires exit status 2, a one-line message naming the file and what is wrong (and where:
 * line, frame, atom), and no output file (nor temporary) left behind.
 *
 * In setup commands and arguments, @T stands for the case's temporary directory and @S for the
 * source tree. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "h5io.h"
#include "model.h"
#include "modelutil.h"
#include "testutil.h"

#define LIGEPS "@S/datasets/LiGePS/100_1200k_movement"
#define H2O0 "@S/datasets/H2O/data_0"
#define HFO2_DIR "@S/datasets/HfO2/pwdata/init_000_50/train"
#define RAW "@S/tests/data/import/raw_sys"
/* A valid 2-atom extxyz frame header; cases append their own broken pieces. */
#define XYZ_OK_LATTICE "Lattice=\"4 0 0 0 4 0 0 0 4\""

typedef struct {
    const char *name;
    const char *setup;             /* shell command run before the import (may be NULL) */
    void (*prep)(const char *dir); /* C preparation for binary corruption (may be NULL) */
    const char *args;              /* import arguments after "-o @T/out.h5" */
    const char *want1, *want2;
} bad_case;

/* Write a v1.0 .npy file (header padded to 128 bytes) holding n doubles. */
static void write_npy_f8(const char *path, const char *shape, const double *v, size_t n) {
    char dict[118];
    snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", shape);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fwrite("\x93NUMPY\x01\x00\x76\x00", 1, 10, f); /* header length 118 */
    size_t dl = strlen(dict);
    fwrite(dict, 1, dl, f);
    for (size_t i = dl; i < 117; i++)
        fputc(' ', f);
    fputc('\n', f);
    fwrite(v, sizeof *v, n, f);
    fclose(f);
}

static void prep_energy_79(const char *dir) {
    char p[4096];
    double e[79] = {0};
    snprintf(p, sizeof p, "%s/h2o/set.000/energy.npy", dir);
    write_npy_f8(p, "(79,)", e, 79);
}

/* Overwrite the float64 value number k of an npy file (data at byte 128) with NaN. */
static void poke_nan(const char *path, size_t k) {
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f, "%s", path);
    double nan_v = NAN;
    fseek(f, 128 + (long)(8 * k), SEEK_SET);
    fwrite(&nan_v, sizeof nan_v, 1, f);
    fclose(f);
}

static void prep_pw_force_nan(const char *dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s/pw/forces.npy", dir);
    poke_nan(p, 4); /* frame 0, atom 1, y */
}

static void prep_pw_box_nan(const char *dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s/pw/lattice.npy", dir);
    poke_nan(p, 9 + 4); /* frame 1, b_y */
}

static const bad_case cases[] = {
    {"missing_file", NULL, NULL, "@T/nope/0_300_MOVEMENT", "nope/0_300_MOVEMENT", "No such file"},
    {"missing_folder", NULL, NULL, "--format deepmd @T/gone", "gone", "No such file"},
    {"movement_truncated", "head -n 1000 " LIGEPS " > @T/cut_mv", NULL, "@T/cut_mv", "cut_mv",
     "truncated: file ends in the Force block of frame 4 (which starts at line 869)"},
    {"movement_atom_count_changes", "sed '435s/ 50 atoms/ 51 atoms/' " LIGEPS " > @T/mv", NULL,
     "--format movement @T/mv", "mv line 435", "frame 2 has 51 atoms, frame 0 has 50"},
    {"movement_species_change", "sed '231s/^   3 /  32 /' " LIGEPS " > @T/mv", NULL, "@T/mv",
     "mv line 231", "frame 1 atom 0 has atomic number 32"},
    {"movement_z_not_element", "sed '14s/^   3 / 200 /' " LIGEPS " > @T/mv", NULL, "@T/mv",
     "mv line 14", "atomic number 200 is not an element"},
    {"movement_nan_force", "sed '116s/^   3 .*/   3  NaN 0.1 0.2/' " LIGEPS " > @T/mv", NULL,
     "@T/mv", "mv: system mv frame 0 atom 0", "force is NaN"},
    {"movement_inf_coord", "sed '14s/^   3 *[^ ]*/   3 Infinity/' " LIGEPS " > @T/mv", NULL,
     "@T/mv", "mv: system mv frame 0 atom 0", "coordinate is +Inf"},
    {"movement_type_not_in_map", NULL, NULL, "--type-map Li,Ge,P " LIGEPS, "100_1200k_movement",
     "element S is not in --type-map Li,Ge,P"},
    {"npy_truncated",
     "cp -r " H2O0 " @T/h2o && chmod -R u+w @T/h2o && head -c 100000 " H2O0
     "/set.000/force.npy > @T/h2o/set.000/force.npy",
     NULL, "@T/h2o", "h2o/set.000/force.npy", "truncated"},
    {"npy_shape_mismatch", "cp -r " H2O0 " @T/h2o && chmod -R u+w @T/h2o", prep_energy_79, "@T/h2o",
     "h2o/set.000/energy.npy", "shape (79,) does not match"},
    {"pwdata_shape_mismatch",
     "cp -r " HFO2_DIR " @T/pw && chmod -R u+w @T/pw && cp @T/pw/energies.npy @T/pw/lattice.npy",
     NULL, "--format pwdata @T/pw", "pw/lattice.npy", "shape (40, 1) does not match (nframes, 9)"},
    {"pwdata_nan_force", "cp -r " HFO2_DIR " @T/pw && chmod -R u+w @T/pw", prep_pw_force_nan,
     "@T/pw", "system pw frame 0 atom 1", "force is NaN"},
    {"pwdata_nan_box", "cp -r " HFO2_DIR " @T/pw && chmod -R u+w @T/pw", prep_pw_box_nan, "@T/pw",
     "system pw frame 1", "box[1][1] is NaN"},
    {"raw_nan_energy",
     "cp -r " RAW " @T/r && chmod -R u+w @T/r && printf -- '-1\\nnan\\n' > @T/r/energy.raw", NULL,
     "@T/r", "system r frame 1", "energy is NaN"},
    {"raw_zero_atoms", "cp -r " RAW " @T/r && chmod -R u+w @T/r && : > @T/r/type.raw", NULL,
     "--format deepmd-raw @T/r", "r/type.raw", "0 atoms"},
    {"raw_short_line",
     "cp -r " RAW " @T/r && chmod -R u+w @T/r && printf '5 0 0 0 5 0 0 0 5\\n6 0 0 0 6 0 0 0\\n' "
     "> @T/r/box.raw",
     NULL, "@T/r", "r/box.raw line 2", "expected 9 numbers, found 8"},
    {"xyz_zero_atoms", "printf '0\\n" XYZ_OK_LATTICE " energy=1\\n' > @T/a.xyz", NULL, "@T/a.xyz",
     "a.xyz line 1", "frame 0 has 0 atoms"},
    {"xyz_singular_cell",
     "printf '1\\nLattice=\"1 0 0 2 0 0 0 0 1\" energy=-1 "
     "Properties=species:S:1:pos:R:3:forces:R:3\\nH 0 0 0 0 0 0\\n' > @T/s.xyz",
     NULL, "@T/s.xyz", "s.xyz: system s.n1 frame 0", "singular cell (det = 0)"},
    {"xyz_unknown_symbol",
     "printf '1\\n" XYZ_OK_LATTICE " energy=-1 Properties=species:S:1:pos:R:3:forces:R:3\\n"
     "Xx 0 0 0 0 0 0\\n' > @T/u.xyz",
     NULL, "@T/u.xyz", "u.xyz line 3: frame 0 atom 0", "'Xx' is not an element symbol"},
    {"xyz_missing_energy",
     "printf '1\\n" XYZ_OK_LATTICE " free_energy=-1 Properties=species:S:1:pos:R:3:forces:R:3\\n"
     "H 0 0 0 0 0 0\\n' > @T/e.xyz",
     NULL, "@T/e.xyz", "e.xyz line 2", "no energy= key"},
    {"xyz_nan_box",
     "printf '1\\nLattice=\"nan 0 0 0 4 0 0 0 4\" energy=-1 "
     "Properties=species:S:1:pos:R:3:forces:R:3\\nH 0 0 0 0 0 0\\n' > @T/b.xyz",
     NULL, "@T/b.xyz", "b.xyz: system b.n1 frame 0", "box[0][0] is NaN"},
    {"xyz_truncated",
     "printf '2\\n" XYZ_OK_LATTICE " energy=-1 Properties=species:S:1:pos:R:3:forces:R:3\\n"
     "H 0 0 0 0 0 0\\n' > @T/t.xyz",
     NULL, "@T/t.xyz", "t.xyz: truncated", "ends after 1 of 2 atoms"},
    {"xyz_atoms_at_same_position",
     "printf '2\\n" XYZ_OK_LATTICE " energy=-1 Properties=species:S:1:pos:R:3:forces:R:3\\n"
     "H 1 1 1 0 0 0\\nH 1 1 1 0 0 0\\n' > @T/d.xyz",
     NULL, "@T/d.xyz", "d.xyz: system d.n2 frame 0", "atoms 0 and 1 are 0 A apart"},
    {"xyz_atoms_at_same_periodic_image",
     "printf '3\\n" XYZ_OK_LATTICE " energy=-1 Properties=species:S:1:pos:R:3:forces:R:3\\n"
     "H 0 0 0 0 0 0\\nH 2 2 2 0 0 0\\nH 4 0 -4.001 0 0 0\\n' > @T/p.xyz",
     NULL, "@T/p.xyz", "system p.n3 frame 0", "atoms 0 and 2 are 0.001 A apart"},
    {"movement_atoms_at_same_position",
     "sed '15s/^\\( *[0-9]*\\).*/\\1  0.1 0.2 0.3/; "
     "14s/^\\( *[0-9]*\\).*/\\1  0.1 0.2 0.3/' " LIGEPS " > @T/mv",
     NULL, "@T/mv", "mv: system mv frame 0", "atoms 0 and 1 are 0 A apart"},
    {"xyz_energy_1e300",
     "printf '1\\n" XYZ_OK_LATTICE " energy=1e300 Properties=species:S:1:pos:R:3:forces:R:3\\n"
     "H 0 0 0 0 0 0\\n' > @T/h.xyz",
     NULL, "@T/h.xyz", "system h.n1 frame 0", "energy 1e+300 is beyond 1e+15"},
    {"raw_force_1e300",
     "cp -r " RAW " @T/r && chmod -R u+w @T/r && sed -i '1s/^[^ ]*/1e300/' @T/r/force.raw", NULL,
     "@T/r", "system r frame 0 atom 0", "force component 1e+300 is beyond"},
    {"mlearn_forces_rows",
     "printf '[{\"structure\": {\"lattice\": {\"matrix\": [[3,0,0],[0,3,0],[0,0,3]]}, \"sites\": "
     "[{\"species\": [{\"element\": \"Si\", \"occu\": 1}], \"xyz\": [0,0,0]}, {\"species\": "
     "[{\"element\": \"Si\", \"occu\": 1}], \"xyz\": [1,1,1]}]}, \"outputs\": {\"energy\": -10, "
     "\"forces\": [[0,0,0]]}}]' > @T/m.json",
     NULL, "@T/m.json", "m.json: [0].outputs.forces", "1 rows for 2 atoms"},
    {"mlearn_not_element",
     "printf '[{\"structure\": {\"lattice\": {\"matrix\": [[3,0,0],[0,3,0],[0,0,3]]}, \"sites\": "
     "[{\"species\": [{\"element\": \"Qq\", \"occu\": 1}], \"xyz\": [0,0,0]}]}, \"outputs\": "
     "{\"energy\": -10, \"forces\": [[0,0,0]]}}]' > @T/q.json",
     NULL, "@T/q.json", "q.json: [0].structure.sites[0]", "'Qq' is not an element symbol"},
    {"type_map_not_element", NULL, NULL, "--type-map O,Qq " H2O0, "--type-map", "'Qq' is not an"},
    {"duplicate_system", NULL, NULL, LIGEPS " " LIGEPS, "100_1200k_movement",
     "duplicate system name '100_1200k_movement'"},
    {"unknown_format", NULL, NULL, "--format vasp " LIGEPS, "unknown format 'vasp'", "movement"},
    {"undetectable", "echo hello > @T/what.dat", NULL, "@T/what.dat", "what.dat",
     "cannot recognise the format"},
};

/* Replace @T and @S in src. */
static void expand(const char *src, const char *tdir, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = src; *p && n + 1 < cap; p++) {
        const char *rep = NULL;
        if (p[0] == '@' && p[1] == 'T') rep = tdir;
        if (p[0] == '@' && p[1] == 'S') rep = RLEKF_SOURCE_DIR;
        if (rep) {
            n += (size_t)snprintf(out + n, cap - n, "%s", rep);
            p++;
        } else {
            out[n++] = *p;
        }
    }
    out[n < cap ? n : cap - 1] = '\0';
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

Test(bad_input, import_exits_2_with_located_message_and_no_output) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        const char *tdir = tu_tmp(c->name);
        char dir[4096], cmd[8192], args[8192], err[2048], out[4200];
        snprintf(dir, sizeof dir, "%s", tdir);
        snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
        cr_assert_eq(tu_sh(cmd), 0);
        if (c->setup) {
            expand(c->setup, dir, cmd, sizeof cmd);
            cr_assert_eq(tu_sh(cmd), 0, "%s: setup failed: %s", c->name, cmd);
        }
        if (c->prep) c->prep(dir);
        snprintf(out, sizeof out, "%s/out.h5", dir);
        char tmpl[8300];
        snprintf(tmpl, sizeof tmpl, "import -o %s %s", out, c->args);
        expand(tmpl, dir, args, sizeof args);
        int rc = tu_rlekf(args, err, sizeof err);
        cr_expect_eq(rc, 2, "%s: exit status %d (stderr: %s)", c->name, rc, err);
        cr_expect(strstr(err, c->want1) != NULL, "%s: message lacks '%s': %s", c->name, c->want1,
                  err);
        cr_expect(strstr(err, c->want2) != NULL, "%s: message lacks '%s': %s", c->name, c->want2,
                  err);
        cr_expect(strchr(err, '\n') == strrchr(err, '\n'), "%s: message is not one line: %s",
                  c->name, err);
        cr_expect(!exists(out), "%s: %s was left behind", c->name, out);
        snprintf(cmd, sizeof cmd, "ls %s/out.h5.tmp-* >/dev/null 2>&1", dir);
        cr_expect_neq(tu_sh(cmd), 0, "%s: a temporary output file was left behind", c->name);
    }
}

Test(bad_input, usage_errors_exit_2) {
    const char *cases_usage[][2] = {
        {"import", "missing -o"},
        {"import -o x.h5", "no source"},
        {"import --bogus", "unknown option '--bogus'"},
        {"import -o", "-o needs a value"},
    };
    for (size_t i = 0; i < sizeof cases_usage / sizeof cases_usage[0]; i++) {
        char err[1024];
        int rc = tu_rlekf(cases_usage[i][0], err, sizeof err);
        cr_expect_eq(rc, 2, "'%s': exit %d", cases_usage[i][0], rc);
        cr_expect(strstr(err, cases_usage[i][1]), "'%s': %s", cases_usage[i][0], err);
    }
    char err[64];
    cr_expect_eq(tu_rlekf("import --help", err, sizeof err), 0);
}

/* Every numeric flag of every subcommand goes through the one checked parser (core/num.h): junk,
 * trailing characters, overflow, NaN/inf, empty text and out-of-range values are one line naming
 * the flag and the value, exit 2, before any work is done. */
Test(bad_input, numeric_flags_are_checked) {
    const char *w = RLEKF_SOURCE_DIR "/tests/data/deepmd_water_input.json";
    char train[1024];
    snprintf(train, sizeof train, "train %s --out %s", w, tu_tmp("flags-run"));
    const struct {
        const char *cmd, *args, *want;
    } flags[] = {
        {train, "--epochs abc", "--epochs: expected an integer in [0, 1000000], got abc"},
        {train, "--epochs 99999999999999999999", "got 99999999999999999999"},
        {train, "--epochs ''", "--epochs: expected an integer in [0, 1000000], got ''"},
        {train, "--epochs 2x", "got 2x"},
        {train, "--epochs ' 2'", "got ' 2'"},
        {train, "--threads 5000000000",
         "--threads: expected an integer in [0, 1024], got 5000000000"},
        {train, "--test_fraction nan", "--test_fraction: expected a number"},
        {train, "--test_fraction inf", "got inf"},
        {train, "--seed -1", "--seed: expected an integer"},
        {"init --data x.h5 -o y.h5", "--seed 4abc",
         "--seed: expected an integer in [0, 2147483647], got 4abc"},
        {"init --data x.h5 -o y.h5", "--seed 99999999999", "got 99999999999"},
        {"run m.json", "-j 1x", "-j: expected an integer in [1, 256], got 1x"},
        {"run m.json", "-j 0", "-j: expected an integer in [1, 256], got 0"},
        {"run m.json", "--shard 3/2", "--shard I: expected an integer in [1, 2], got 3"},
        {"run m.json", "--shard 1/2x", "--shard N: expected an integer"},
        {"run m.json", "--shard 1/99999999999999999999", "got 99999999999999999999"},
        {"run m.json", "--shard -1/2", "--shard I: expected an integer"},
        {"eval --model m.h5 --data d.h5 -o p.h5", "--test-fraction 0.1junk",
         "--test-fraction: expected a number in [0, "},
        {"eval --model m.h5 --data d.h5 -o p.h5", "--seed 1e400", "--seed: expected an integer"},
        {"neighbor-stat d.h5", "--rcut nan", "--rcut: bad value 'nan'"},
        {"neighbor-stat d.h5", "--rcut 6x", "--rcut: bad value '6x'"},
        {"neighbor-stat d.h5", "--rcut 6 --frames 18446744073709551616",
         "--frames: expected an integer"},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char args[2048], err[1024];
        snprintf(args, sizeof args, "%s %s", flags[i].cmd, flags[i].args);
        int rc = tu_rlekf(args, err, sizeof err);
        cr_expect_eq(rc, 2, "'%s': exit %d (%s)", flags[i].args, rc, err);
        cr_expect(strstr(err, flags[i].want), "'%s': message lacks '%s': %s", flags[i].args,
                  flags[i].want, err);
        cr_expect(strchr(err, '\n') == strrchr(err, '\n'), "'%s': not one line: %s", flags[i].args,
                  err);
    }
}

/* `import -o SRC SRC` would overwrite the data it reads: refused (exit 2, naming both) whatever
 * the spelling of the path, and an existing file inside a source folder likewise; the source is
 * left byte for byte. */
Test(bad_input, import_refuses_to_overwrite_a_source) {
    const char *d = tu_tmp("self-import");
    char cmd[4096], err[1024];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && cd %s && cp %s/datasets/LiGePS/100_1200k_movement mv && ln -sf mv "
             "link && cp -r %s/tests/data/import/raw_sys raw && chmod -R u+w . && cksum mv raw/* "
             "> sum.before",
             d, d, RLEKF_SOURCE_DIR, RLEKF_SOURCE_DIR);
    cr_assert_eq(tu_sh(cmd), 0);
    const char *args[][2] = {
        {"import -o @/mv @/mv", "the output is the source"},
        {"import -o @/./mv @/../self-import/mv", "the output is the source"},
        {"import -o @/link @/mv", "the output is the source"},
        {"import --format movement -o @/mv @/link", "the output is the source"},
        {"import -o @/raw/type.raw @/raw", "the output is inside the source folder"},
    };
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        char a[4096];
        size_t n = 0;
        for (const char *p = args[i][0]; *p && n + 1024 < sizeof a; p++) {
            if (*p == '@')
                n += (size_t)snprintf(a + n, sizeof a - n, "%s", d);
            else
                a[n++] = *p;
        }
        a[n] = '\0';
        int rc = tu_rlekf(a, err, sizeof err);
        cr_expect_eq(rc, 2, "'%s': exit %d (%s)", a, rc, err);
        cr_expect(strstr(err, args[i][1]), "'%s': %s", a, err);
    }
    snprintf(cmd, sizeof cmd, "cd %s && cksum mv raw/* > sum.after && cmp -s sum.before sum.after",
             d);
    cr_expect_eq(tu_sh(cmd), 0, "a source file was changed");
}

/* A value holding control bytes (a bell, an escape sequence, a newline) is echoed escaped as
 * \xHH: the message stays one visible line and cannot drive the terminal. */
Test(bad_input, control_characters_are_escaped_in_messages) {
    char args[512], err[1024];
    snprintf(args, sizeof args, "import -o %s \"$(printf 'no\\007pe\\033[2J\\nx')\"",
             tu_tmp("ctl.h5"));
    int rc = tu_rlekf(args, err, sizeof err);
    cr_expect_eq(rc, 2, "exit %d (%s)", rc, err);
    cr_expect(strstr(err, "no\\x07pe\\x1b[2J\\x0ax"), "%s", err);
    for (const char *p = err; *p; p++)
        cr_expect((*p == '\n' && p[1] == '\0') || (unsigned char)*p >= 0x20,
                  "raw byte 0x%02x in %s", (unsigned char)*p, err);
    snprintf(args, sizeof args,
             "train " RLEKF_SOURCE_DIR "/tests/data/deepmd_water_input.json --epochs \"$(printf "
             "'1\\0072')\"");
    rc = tu_rlekf(args, err, sizeof err);
    cr_expect_eq(rc, 2);
    cr_expect(strstr(err, "got 1\\x072"), "%s", err);
}

/* A model file whose /stat/std holds a zero, negative or non-finite entry made every prediction
 * NaN (eval printed -nan): refused on load, naming the file and the entry, exit 2 from eval. */
Test(bad_input, model_with_bad_std_is_refused_on_load) {
    dataset_t ds;
    mu_load("tests/data/import/raw_sys", "", &ds);
    const char *data = tu_tmp("std-data.h5");
    cr_assert_eq(h5io_dataset_write(data, &ds), RK_OK, "%s", err_msg());
    const double bad[] = {0.0, -0.5, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        model_t m;
        mu_model(&ds, NULL, 1, 1, &m);
        m.std[0][i % 4] = bad[i];
        char path[256], want[300], args[1024], err[1024];
        snprintf(path, sizeof path, "%s", tu_tmp("bad-std.h5"));
        cr_assert_eq(model_save(&m, path), RK_OK, "%s", err_msg());
        model_free(&m);
        model_t back;
        rk_status st = model_load(&back, path);
        cr_expect_eq(st, RK_EINPUT, "std %g accepted", bad[i]);
        /* non-finite values are caught by the HDF5 reader's finiteness check (flat index) */
        if (isfinite(bad[i]))
            snprintf(want, sizeof want, "%s: /stat/std[0][%zu]", path, i % 4);
        else
            snprintf(want, sizeof want, "%s: /stat/std[%zu] is", path, i % 4);
        cr_expect(strstr(err_msg(), want), "%s", err_msg());
        if (!st) model_free(&back);
        snprintf(args, sizeof args, "eval --model %s --data %s -o %s", path, data,
                 tu_tmp("bad-std-pred.h5"));
        int rc = tu_rlekf(args, err, sizeof err);
        cr_expect_eq(rc, 2, "eval with std %g: exit %d (%s)", bad[i], rc, err);
        cr_expect(strstr(err, want), "%s", err);
    }
    dataset_free(&ds);
}

/* A metrics.csv row with fewer cells than the header (a file cut mid-write) used to be read as
 * blanks, i.e. NaN results: `rlekf report` now stops naming the file and the line. */
Test(bad_input, report_refuses_truncated_metrics_row) {
    const char *exp = tu_tmp("truncated-exp");
    char cmd[2048], path[1200], args[1300], err[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/Cu/adam/seed-1'", exp);
    cr_assert_eq(tu_sh(cmd), 0);
    snprintf(path, sizeof path, "%s/summary.csv", exp);
    tu_write(path,
             "dataset,label,optimizer,seed,status,reason,group,x,block_size,n_blocks,state_bytes,"
             "n_params,n_train,n_test,epochs,updates,wall_s,final_test_rmse_e_eV_per_atom,"
             "final_test_rmse_f_eV_per_A,best_test_rmse_e_eV_per_atom,best_test_rmse_f_eV_per_A,"
             "final_train_rmse_e_eV_per_atom,final_train_rmse_f_eV_per_A\n"
             "Cu,adam,adam,1,done,,,,,,1,1,1,1,1,5,1,0.5,0.5,0.5,0.5,1,1\n");
    snprintf(path, sizeof path, "%s/Cu/adam/seed-1/metrics.csv", exp);
    snprintf(args, sizeof args, "report '%s' --out '%s/rep'", exp, exp);
    /* complete rows: the report is made */
    tu_write(path, "epoch,updates,wall_s,test_rmse_e_eV_per_atom,test_rmse_f_eV_per_A\n"
                   "0,0,0.1,1.0,1.0\n"
                   "1,5,1.0,0.5,0.5\n");
    int rc = tu_rlekf(args, err, sizeof err);
    cr_assert_eq(rc, 0, "complete file: exit %d (%s)", rc, err);
    tu_write(path, "epoch,updates,wall_s,test_rmse_e_eV_per_atom,test_rmse_f_eV_per_A\n"
                   "0,0,0.1,1.0,1.0\n"
                   "1,5,1.0\n");
    rc = tu_rlekf(args, err, sizeof err);
    cr_expect_eq(rc, 2, "exit %d (%s)", rc, err);
    cr_expect(strstr(err, "seed-1/metrics.csv line 3: 3 cells, the header has 5"), "%s", err);
}

/* Run `rlekf run MANIFEST --dry-run` on a manifest (json: %s = the Cu MOVEMENT source); require
 * exit 2 and a one-line message holding want and the manifest's path. */
static void expect_manifest_error(const char *name, const char *json, const char *want) {
    char text[4096], path[512], args[1400], err[4096];
    const char *src = tu_src("datasets/Cu/0_300_MOVEMENT");
    snprintf(text, sizeof text, json, src);
    snprintf(path, sizeof path, "%s.json", tu_tmp(name));
    tu_write(path, text);
    snprintf(args, sizeof args, "run %s --dry-run --results %s", path, tu_tmp("dry-results"));
    int rc = tu_rlekf(args, err, sizeof err);
    cr_expect_eq(rc, 2, "%s: exit %d (%s)", name, rc, err);
    cr_expect(strstr(err, want), "%s: message lacks '%s': %s", name, want, err);
    cr_expect(strstr(err, path), "%s: message does not name the file: %s", name, err);
    cr_expect(strchr(err, '\n') == strrchr(err, '\n'), "%s: not one line: %s", name, err);
}

#define MAN_DS "\"datasets\": [{\"name\": \"Cu\", \"source\": \"%s\", \"format\": \"movement\"}]"

/* A variant's seed filter naming no seed of the manifest used to drop the variant silently. */
Test(bad_input, variant_seed_filter_must_name_manifest_seeds) {
    expect_manifest_error("seedfilter",
                          "{\"name\": \"s\", " MAN_DS ", \"seeds\": [1, 2], \"optimizers\": "
                          "[{\"type\": \"adam\"}, {\"type\": \"rlekf\", \"label\": \"r\", "
                          "\"seeds\": [2, 7]}]}",
                          "optimizers[1].seeds[1]: variant \"r\" names seed 7, which is not in "
                          "the manifest's seeds");
    expect_manifest_error("seedfilter-empty",
                          "{\"name\": \"s\", " MAN_DS ", \"seeds\": [1], \"optimizers\": "
                          "[{\"type\": \"rlekf\", \"seeds\": []}]}",
                          "optimizers[0].seeds: empty");
}

/* A 2-frame system has no test frame at test_fraction 0.2: the run used to train, record NaN test
 * RMSEs, end "done" and write no model.h5. Now an input error before training, naming the dataset
 * and the split, and nothing trained. */
Test(bad_input, empty_test_split_is_an_input_error) {
    char args[2048], err[2048];
    const char *data = tu_tmp("two-frames.h5"), *cfg = tu_tmp("two-frames.json");
    snprintf(args, sizeof args, "import -o %s %s/tests/data/import/raw_sys", data,
             RLEKF_SOURCE_DIR);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    char text[1200];
    snprintf(text, sizeof text, "{\"training\": {\"dataset\": \"%s\", \"epochs\": 1}}", data);
    tu_write(cfg, text);
    snprintf(args, sizeof args, "train %s --quiet --out %s", cfg, tu_tmp("two-frames-run"));
    int rc = tu_rlekf(args, err, sizeof err);
    cr_expect_eq(rc, 2, "exit %d (%s)", rc, err);
    cr_expect(strstr(err, "two-frames.h5: the tail split with test_fraction 0.2 leaves no test "
                          "frames"),
              "%s", err);
    snprintf(args, sizeof args, "test -e %s/metrics.csv", tu_tmp("two-frames-run"));
    cr_expect_neq(tu_sh(args), 0, "a metrics.csv was written");
}

/* A sel that does not fit the data passed `run --dry-run` and then failed every cell: the dry run
 * now checks it against the data (entries per type, neighbours within rcut), exit 2. */
Test(bad_input, dry_run_checks_sel_against_the_data) {
    expect_manifest_error(
        "sel-small",
        "{\"name\": \"s\", " MAN_DS ", \"model\": {\"sel\": [5]}, \"seeds\": "
        "[1], \"optimizers\": [{\"type\": \"adam\"}]}",
        "cell 0 (Cu / adam): model.sel[0] = 5 (type Cu), but dataset Cu has atoms "
        "with ");
    expect_manifest_error("sel-entries",
                          "{\"name\": \"s\", " MAN_DS ", \"model\": {\"sel\": [80, 4]}, \"seeds\": "
                          "[1], \"optimizers\": [{\"type\": \"adam\"}]}",
                          "model.sel has 2 entries, dataset Cu has 1 types");
    /* a sel that fits passes */
    char text[2048], path[512], args[1400], err[4096];
    snprintf(text, sizeof text,
             "{\"name\": \"s\", " MAN_DS ", \"model\": {\"sel\": [200]}, \"seeds\": [1], "
             "\"optimizers\": [{\"type\": \"adam\"}]}",
             tu_src("datasets/Cu/0_300_MOVEMENT"));
    snprintf(path, sizeof path, "%s.json", tu_tmp("sel-fits"));
    tu_write(path, text);
    snprintf(args, sizeof args, "run %s --dry-run --results %s", path, tu_tmp("dry-results"));
    int rc = tu_rlekf(args, err, sizeof err);
    cr_expect_eq(rc, 0, "exit %d (%s)", rc, err);
}

/* A full disk (simulated by a file size limit, SIGXFSZ ignored so writes fail with EFBIG) while an
 * HDF5 file is written used to end in a segfault inside HDF5's exit cleanup after the message.
 * Now: exit 1, one line naming the file and the errno, no half-written file or temporary. */
Test(bad_input, full_disk_while_writing_hdf5_exits_1_cleanly) {
    const char *d = tu_tmp("fulldisk");
    char cmd[4096], err[2048];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && cd %s && (trap '' XFSZ; ulimit -f 100; exec %s import -o big.h5 "
             "%s/datasets/Cu/0_300_MOVEMENT) >/dev/null 2>err.txt",
             d, d, RLEKF_EXE, RLEKF_SOURCE_DIR);
    int rc = tu_sh(cmd);
    snprintf(cmd, sizeof cmd, "%s/err.txt", d);
    tu_read(cmd, err, sizeof err);
    cr_expect_eq(rc, 1, "import: exit %d (%s)", rc, err);
    cr_expect(strstr(err, "big.h5: cannot write") && strstr(err, "File too large"), "%s", err);
    cr_expect(strchr(err, '\n') == strrchr(err, '\n'), "not one line: %s", err);
    snprintf(cmd, sizeof cmd, "ls %s | grep -q big.h5", d);
    cr_expect_neq(tu_sh(cmd), 0, "a (half-written) big.h5 or its temporary was left behind");

    /* training: config.json fits, model_init.h5 does not */
    snprintf(cmd, sizeof cmd,
             "cd %s && %s import -o cu.h5 %s/datasets/Cu/0_300_MOVEMENT >/dev/null && printf "
             "'{\"training\": {\"dataset\": \"cu.h5\", \"epochs\": 1, \"max_train_frames\": 2, "
             "\"eval_max_frames\": 2}, \"optimizer\": {\"type\": \"adam\"}}' > t.json && (trap '' "
             "XFSZ; ulimit -f 100; exec %s train t.json --quiet --out run) >/dev/null 2>err.txt",
             d, RLEKF_EXE, RLEKF_SOURCE_DIR, RLEKF_EXE);
    rc = tu_sh(cmd);
    snprintf(cmd, sizeof cmd, "%s/err.txt", d);
    tu_read(cmd, err, sizeof err);
    cr_expect_eq(rc, 1, "train: exit %d (%s)", rc, err);
    cr_expect(strstr(err, "model_init.h5: cannot write") && strstr(err, "File too large"), "%s",
              err);
    snprintf(cmd, sizeof cmd, "ls %s/run | grep -q '\\.h5'", d);
    cr_expect_neq(tu_sh(cmd), 0, "a model file or temporary was left behind");
}

/* The dry run also finds the empty test split (a manifest dataset of 2 frames at test_fraction
 * 0.2) that would fail every cell. */
Test(bad_input, dry_run_checks_the_split_leaves_test_frames) {
    char text[2048], path[512], args[1400], err[4096];
    snprintf(text, sizeof text,
             "{\"name\": \"s\", \"datasets\": [{\"name\": \"two\", \"source\": \"%s\", \"format\": "
             "\"deepmd-raw\"}], \"seeds\": [1], \"optimizers\": [{\"type\": \"adam\"}]}",
             tu_src("tests/data/import/raw_sys"));
    snprintf(path, sizeof path, "%s.json", tu_tmp("split-empty"));
    tu_write(path, text);
    snprintf(args, sizeof args, "run %s --dry-run --results %s", path, tu_tmp("dry-results"));
    int rc = tu_rlekf(args, err, sizeof err);
    cr_expect_eq(rc, 2, "exit %d (%s)", rc, err);
    cr_expect(strstr(err, "cell 0 (two / adam): the tail split with test_fraction 0.2 leaves no "
                          "test frames in dataset two (2 frames)"),
              "%s", err);
}

/* A directory given as the config (or manifest) was read as a file of 2^63 bytes: exit 1 "cannot
 * allocate 9223372036854775808 bytes". Now an input error naming the path, exit 2. */
Test(bad_input, directory_as_config_is_an_input_error) {
    const char *dir = tu_tmpdir();
    const char *cmds[] = {"train", "run", "run --dry-run"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char args[4200], want[4200], err[2048];
        snprintf(args, sizeof args, "%s %s", cmds[i], dir);
        int rc = tu_rlekf(args, err, sizeof err);
        cr_expect_eq(rc, 2, "%s: exit %d (%s)", args, rc, err);
        snprintf(want, sizeof want, "%s: not a regular file", dir);
        cr_expect(strstr(err, want), "%s: %s", args, err);
        cr_expect(strchr(err, '\n') == strrchr(err, '\n'), "%s: not one line: %s", args, err);
    }
}
