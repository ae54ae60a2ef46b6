/* Importers against the shipped raw files: every expected number below was read straight out of
 * the raw file named in the comment beside it (python3 standard library: str.split / struct on the
 * npy bytes), not produced by rlekf. Checks the traps of each format: MOVEMENT label Ep (not
 * Etot), its force block negated, fractional positions (MOVEMENT, pwdata) converted to Cartesian,
 * float32 npy widened exactly, type maps respected; plus small hand-written extxyz and DeePMD raw
 * fixtures (tests/data/import), the npy reader, format detection and an exact write/read round
 * trip through the dataset file. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dataset.h"
#include "h5io.h"
#include "import.h"
#include "npy.h"
#include "testutil.h"

/* Cartesian = frac · cell takes 3 products and 2 sums per component; the reference did the same
 * operations in Python, so a few ulps of relative difference is the most that could differ. */
#define CART_RTOL 1e-14

/* The registered format of that name (or IMPORT_AUTO for "auto"). */
static import_format fmt_named(const char *name) {
    import_format f = IMPORT_AUTO;
    cr_assert_eq(import_format_parse(name, &f), RK_OK, "%s", err_msg());
    return f;
}

static void import_into(dataset_t *ds, const char *rel, const char *fmt, int fixed) {
    import_opts o = {fmt_named(fmt), fixed};
    rk_status st = import_source(tu_src(rel), &o, ds, NULL);
    cr_assert_eq(st, RK_OK, "import %s: %s", rel, err_msg());
}

static const ds_system *find_sys(const dataset_t *ds, const char *name) {
    for (size_t i = 0; i < ds->nsystems; i++)
        if (strcmp(ds->sys[i].name, name) == 0) return &ds->sys[i];
    cr_assert_fail("system %s not found", name);
    return NULL;
}

static void assert_cart(const double *got, double x, double y, double z) {
    const double want[3] = {x, y, z};
    for (int k = 0; k < 3; k++)
        cr_assert(fabs(got[k] - want[k]) <= CART_RTOL * fabs(want[k]) + 1e-300,
                  "component %d: got %.17g want %.17g", k, got[k], want[k]);
}

static void assert_exact3(const double *got, double x, double y, double z) {
    cr_assert_eq(got[0], x, "x: got %.17g want %.17g", got[0], x);
    cr_assert_eq(got[1], y, "y: got %.17g want %.17g", got[1], y);
    cr_assert_eq(got[2], z, "z: got %.17g want %.17g", got[2], z);
}

#define AT(s, arr, f, a) ((s)->arr + 3 * ((s)->natoms * (f) + (a)))

Test(import, movement_cu_label_is_ep_force_negated_positions_fractional) {
    dataset_t ds = {0};
    import_into(&ds, "datasets/Cu/0_300_MOVEMENT", "auto", 0);
    import_into(&ds, "datasets/Cu/1_500_MOVEMENT", "movement", 0);
    cr_assert_eq(ds.ntypes, 1);
    cr_assert_str_eq(ds.type_map[0], "Cu");
    const ds_system *a = find_sys(&ds, "0_300_MOVEMENT"), *b = find_sys(&ds, "1_500_MOVEMENT");
    cr_assert_eq(a->natoms, 72);
    cr_assert_eq(a->nframes, 100);
    cr_assert_eq(b->nframes, 100);
    /* 0_300_MOVEMENT line 1: "Etot,Ep,Ek (eV) = -0.3576772281E+06 -0.3576828045E+06 ..." */
    cr_assert_eq(a->energy[0], -0.3576828045E+06, "label must be Ep, not Etot");
    /* 0_300_MOVEMENT line 18 (frame 0 atom 0): "29 0.999856394198265 0.999921687613475
     * 0.000405401355338", cell diag(10.863786, 10.863786, 7.242524) */
    assert_cart(AT(a, coord, 0, 0), 0.999856394198265 * 10.863786, 0.999921687613475 * 10.863786,
                0.000405401355338 * 7.242524);
    /* 0_300_MOVEMENT line 164: "29 -0.018471657903432 -0.012960423864921 0.049977022608987" */
    assert_exact3(AT(a, force, 0, 0), 0.018471657903432, 0.012960423864921, -0.049977022608987);
    /* 1_500_MOVEMENT frame 17: header line 6495 Ep = -0.3576809801E+06; atom 5 position line 6517
     * "29 0.162652621614114 0.162916586906194 0.496468891686428"; force line 6663
     * "29 -0.545014568440334 -0.199018796647746 -0.398251784389564" */
    cr_assert_eq(b->energy[17], -0.3576809801E+06);
    assert_cart(AT(b, coord, 17, 5), 1.7670232735547091, 1.7698909359992936, 3.5956878632923552);
    assert_exact3(AT(b, force, 17, 5), 0.545014568440334, 0.199018796647746, 0.398251784389564);
    const double *box = b->box + 9 * 17;
    cr_assert_eq(box[0], 10.863786);
    cr_assert_eq(box[8], 7.242524);
    cr_assert_eq(box[1], 0.0, "stress columns must not leak into the cell");
    dataset_free(&ds);
}

Test(import, movement_ligeps_four_types_in_file_order_triclinic_cell) {
    dataset_t ds = {0};
    import_into(&ds, "datasets/LiGePS/100_1200k_movement", "auto", 0);
    cr_assert_eq(ds.nsystems, 1);
    const ds_system *s = &ds.sys[0];
    cr_assert_str_eq(s->name, "100_1200k_movement");
    cr_assert_eq(s->natoms, 50);
    cr_assert_eq(s->nframes, 100);
    /* Z column of the Position block: 20 x 3, 2 x 32, 4 x 15, 24 x 16 */
    cr_assert_eq(ds.ntypes, 4);
    const char *order[4] = {"Li", "Ge", "P", "S"};
    for (int t = 0; t < 4; t++)
        cr_assert_str_eq(ds.type_map[t], order[t]);
    cr_assert_eq(s->type[0], 0);
    cr_assert_eq(s->type[21], 1);
    cr_assert_eq(s->type[22], 2);
    cr_assert_eq(s->type[49], 3);
    /* line 1: Ep = -0.1516317686E+05 */
    cr_assert_eq(s->energy[0], -0.1516317686E+05);
    /* lines 10-12: cell rows with small off-diagonals */
    cr_assert_eq(s->box[1], 0.1399780315E-02);
    cr_assert_eq(s->box[6], 0.3723521192E-02);
    /* line 35 (atom 21, Ge): "32 0.412793962938743 0.475204309767978 0.332423527303015" */
    assert_cart(AT(s, coord, 0, 21), 3.650223968487174, 4.20172339363947, 4.201721651377398);
    /* line 137: "32 -0.145864058830012 -1.551126901771600 2.114127964072865" */
    assert_exact3(AT(s, force, 0, 21), 0.145864058830012, 1.5511269017716, -2.114127964072865);
    dataset_free(&ds);
}

Test(import, deepmd_h2o_float32_widened_sets_concatenated_types_from_type_map) {
    dataset_t ds = {0};
    import_into(&ds, "datasets/H2O/data_1", "auto", 0);
    cr_assert_eq(ds.nsystems, 1);
    const ds_system *s = &ds.sys[0];
    cr_assert_str_eq(s->name, "data_1");
    cr_assert_eq(s->natoms, 192);
    cr_assert_eq(s->nframes, 160, "set.000 and set.001 concatenate");
    /* type_map.raw "O\nH\n", type.raw: 64 zeros then 128 ones */
    cr_assert_str_eq(ds.type_map[0], "O");
    cr_assert_str_eq(ds.type_map[1], "H");
    cr_assert_eq(s->type[0], dataset_type_of(&ds, "O"));
    cr_assert_eq(s->type[63], dataset_type_of(&ds, "O"));
    cr_assert_eq(s->type[64], dataset_type_of(&ds, "H"));
    /* set.001/energy.npy element 0 and 79 (<f4), as float32 values */
    cr_assert_eq(s->energy[80], (double)-29944.0605f);
    cr_assert_eq(s->energy[159], (double)-29943.248f);
    /* set.001/coord.npy row 0, elements 210..212 (atom 70) */
    assert_exact3(AT(s, coord, 80, 70), (double)7.28424549f, (double)4.45660925f,
                  (double)5.34117699f);
    /* set.001/force.npy row 0, elements 210..212 */
    assert_exact3(AT(s, force, 80, 70), (double)-0.0143245533f, (double)0.309034377f,
                  (double)0.33582598f);
    /* set.001/box.npy row 0 */
    cr_assert_eq(s->box[9 * 80], (double)12.4446611f);
    cr_assert_eq(s->box[9 * 80 + 1], 0.0);
    dataset_free(&ds);
}

Test(import, deepmd_fixed_type_map_reorders_types_by_symbol) {
    dataset_t ds = {0};
    cr_assert_eq(import_set_type_map(&ds, "H,O"), RK_OK);
    import_into(&ds, "datasets/H2O/data_0", "deepmd", 1);
    const ds_system *s = &ds.sys[0];
    cr_assert_eq(s->type[0], 1, "atom 0 is O, which is type 1 in H,O");
    cr_assert_eq(s->type[191], 0);
    dataset_free(&ds);
}

Test(import, deepmd_without_type_map_raw_needs_and_indexes_the_given_map) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r %s %s && chmod -R u+w %s && rm %s",
             tu_src("datasets/H2O/data_0"), tu_tmp("noraw"), tu_tmp("noraw"),
             tu_tmp("noraw/type_map.raw"));
    cr_assert_eq(tu_sh(cmd), 0);
    dataset_t ds = {0};
    import_opts o = {IMPORT_AUTO, 0};
    cr_assert_eq(import_source(tu_tmp("noraw"), &o, &ds, NULL), RK_EINPUT);
    cr_assert(strstr(err_msg(), "type_map.raw") && strstr(err_msg(), "--type-map"), "%s",
              err_msg());
    dataset_free(&ds);
    cr_assert_eq(import_set_type_map(&ds, "O,H"), RK_OK);
    o.type_map_fixed = 1;
    cr_assert_eq(import_source(tu_tmp("noraw"), &o, &ds, NULL), RK_OK, "%s", err_msg());
    cr_assert_eq(ds.sys[0].type[0], 0);
    cr_assert_eq(ds.sys[0].type[64], 1);
    dataset_free(&ds);
}

Test(import, pwdata_hfo2_fractional_positions_recursive_names) {
    dataset_t ds = {0};
    import_into(&ds, "datasets/HfO2/pwdata", "auto", 0);
    cr_assert_eq(ds.nsystems, 56);
    cr_assert_eq(dataset_total_frames(&ds), 1140);
    cr_assert_str_eq(ds.type_map[0], "Hf");
    cr_assert_str_eq(ds.type_map[1], "O");
    const ds_system *s = find_sys(&ds, "init_000_50.train");
    find_sys(&ds, "init_027_20.valid");
    cr_assert_eq(s->natoms, 96);
    cr_assert_eq(s->nframes, 40);
    /* image_type.npy: 32 x 72 then 64 x 8 */
    cr_assert_eq(s->type[31], 0);
    cr_assert_eq(s->type[32], 1);
    /* init_000_50/train/energies.npy element 3 */
    cr_assert_eq(s->energy[3], -964.82409668);
    /* lattice.npy row 3: (10.060437202, 0, 0), (0.25406247377, 10.181280136, 0),
     * (-1.9763127565, 0.1103329137, 10.415258408); position.npy row 3 elements 120..122
     * (atom 40): frac (0.466067969799042, 0.184378415346146, 0.091013580560684) */
    cr_assert_eq(s->box[9 * 3 + 6], -1.9763127565);
    assert_cart(AT(s, coord, 3, 40), 4.555819878062708, 1.8872500912004038, 0.9479299601768493);
    /* forces.npy row 3 elements 120..122: already F, no sign change */
    assert_exact3(AT(s, force, 3, 40), -1.497094035148621, -1.145864963531494, -0.285638004541397);
    dataset_free(&ds);
}

Test(import, mlearn_si_grouped_by_atom_count) {
    dataset_t ds = {0};
    import_into(&ds, "datasets/Si_mlearn/training.json", "auto", 0);
    import_into(&ds, "datasets/Si_mlearn/test.json", "mlearn", 0);
    /* training counts {12,16,18,20,24,36,40,63,64,96}, test counts {24,36,63,64} */
    cr_assert_eq(ds.nsystems, 14);
    cr_assert_eq(dataset_total_frames(&ds), 239);
    cr_assert_eq(find_sys(&ds, "training.n64")->nframes, 145);
    cr_assert_eq(find_sys(&ds, "test.n63")->nframes, 7);
    /* training.json element [0]: 63 sites, outputs.energy -295.49753016, site 7 xyz and force */
    const ds_system *s = find_sys(&ds, "training.n63");
    cr_assert_eq(s->energy[0], -295.49753016);
    assert_exact3(AT(s, coord, 0, 7), 6.3176377202400005, 8.206320220504, 9.444331721344);
    assert_exact3(AT(s, force, 0, 7), -1.1932141, 1.55031482, -0.29724222);
    cr_assert_eq(s->box[0], 14.22366);
    cr_assert_eq(s->box[2], 15.557314);
    /* training.json element [100] is the 32nd 64-atom structure (frame 31) */
    s = find_sys(&ds, "training.n64");
    cr_assert_eq(s->energy[31], -332.43722336);
    assert_exact3(AT(s, force, 31, 7), 4.28851172, -0.17983872, 0.87937111);
    /* test.json element [3] is the 4th 63-atom structure */
    s = find_sys(&ds, "test.n63");
    cr_assert_eq(s->energy[3], -296.24088456);
    assert_exact3(AT(s, coord, 3, 7), 9.650448265074, 9.305420120776, 13.077634361084);
    dataset_free(&ds);
}

Test(import, extxyz_fixture_groups_keys_in_any_order) {
    dataset_t ds = {0};
    import_into(&ds, "tests/data/import/mixed.xyz", "auto", 0);
    dataset_sort(&ds);
    cr_assert_eq(ds.nsystems, 3);
    cr_assert_str_eq(ds.type_map[0], "H");
    cr_assert_str_eq(ds.type_map[1], "O");
    /* frames 0 and 2 are H,H: one system of 2 frames */
    const ds_system *hh = find_sys(&ds, "mixed.n2");
    cr_assert_eq(hh->nframes, 2);
    cr_assert_eq(hh->energy[0], -10.5);
    cr_assert_eq(hh->energy[1], -10.75);
    assert_exact3(AT(hh, force, 0, 1), -0.1, 0.2, -0.3);
    /* frame 2 lists forces before pos */
    assert_exact3(AT(hh, coord, 1, 1), 0.74, 0.0, 0.1);
    assert_exact3(AT(hh, force, 1, 1), -0.2, -0.2, -0.2);
    /* frame 1: energy first, an extra Z column, "force" spelling, quoted value with \" */
    const ds_system *w = find_sys(&ds, "mixed.n4");
    cr_assert_eq(w->energy[0], -20.25);
    cr_assert_eq(w->type[0], 1);
    cr_assert_eq(w->type[1], 0);
    assert_exact3(AT(w, coord, 0, 3), 3.0, 3.0, 3.0);
    assert_exact3(AT(w, force, 0, 3), 0.0, 0.0, -0.03);
    cr_assert_eq(w->box[3], 0.5);
    /* frame 3: same count as frame 0, other species: a second 2-atom system; lower-case keys */
    const ds_system *oh = find_sys(&ds, "mixed.n2_2");
    cr_assert_eq(oh->energy[0], -12.0);
    cr_assert_eq(oh->type[0], 1);
    assert_exact3(AT(oh, force, 0, 1), 0.0, 0.0, 0.5);
    dataset_free(&ds);
}

Test(import, deepmd_raw_fixture) {
    dataset_t ds = {0};
    import_into(&ds, "tests/data/import/raw_sys", "auto", 0);
    const ds_system *s = &ds.sys[0];
    cr_assert_str_eq(s->name, "raw_sys");
    cr_assert_eq(s->natoms, 3);
    cr_assert_eq(s->nframes, 2);
    cr_assert_eq(s->energy[1], -14.125);
    assert_exact3(AT(s, coord, 1, 1), 1.06, 0.0, 0.0);
    assert_exact3(AT(s, force, 1, 2), 0.25, -0.125, 0.0);
    cr_assert_eq(s->box[9 + 8], 6.0);
    cr_assert_eq(s->type[0], dataset_type_of(&ds, "O"));
    dataset_free(&ds);
}

Test(import, detect_formats) {
    /* by directory contents, by file-name suffix, and (copies without a suffix) by first line */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp %s %s && cp %s %s", tu_src("tests/data/import/mixed.xyz"),
             tu_tmp("xyz_no_suffix"), tu_src("datasets/Si_mlearn/test.json"),
             tu_tmp("json_no_suffix"));
    cr_assert_eq(tu_sh(cmd), 0);
    struct {
        const char *rel, *f;
        int tmp; /* rel is in tu_tmpdir(), not the source tree */
    } cases[] = {
        {"datasets/Cu/0_300_MOVEMENT", "movement", 0},
        {"datasets/LiGePS/100_1200k_movement", "movement", 0},
        {"datasets/H2O/data_0", "deepmd", 0},
        {"datasets/H2O", "deepmd", 0},
        {"datasets/HfO2/pwdata", "pwdata", 0},
        {"datasets/HfO2/pwdata/init_000_50/train", "pwdata", 0},
        {"datasets/Si_mlearn/test.json", "mlearn", 0},
        {"tests/data/import/mixed.xyz", "extxyz", 0},
        {"tests/data/import/raw_sys", "deepmd-raw", 0},
        {"xyz_no_suffix", "extxyz", 1},
        {"json_no_suffix", "mlearn", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = cases[i].tmp ? tu_tmp(cases[i].rel) : tu_src(cases[i].rel);
        import_format f;
        cr_assert_eq(import_detect(path, &f), RK_OK, "%s: %s", path, err_msg());
        cr_assert_str_eq(import_format_name(f), cases[i].f, "%s", path);
    }
    import_format f;
    cr_assert_eq(import_detect(tu_src("datasets/Cu/SOURCE.md"), &f), RK_EINPUT);
    cr_assert(strstr(err_msg(), "--format"), "%s", err_msg());
    /* a directory without any system names the directory formats, from the table */
    cr_assert_eq(import_detect(tu_src("datasets/Cu"), &f), RK_EINPUT);
    cr_assert(strstr(err_msg(), "deepmd, deepmd-raw, pwdata"), "%s", err_msg());
}

/* The importer table: names unique and parsed back to the same importer, "auto" is not a
 * registered name, and the lists shown to the user (unknown --format, cannot recognise, rlekf
 * import --help) name every registered importer with its help line. (detect_formats reaches every
 * importer through --format auto.) */
Test(import, registry_table_drives_names_detection_and_help) {
    size_t n = import_format_count();
    cr_assert_eq(n, 6);
    cr_assert_null(import_format_at(n));
    import_format f = import_format_at(0);
    cr_assert_eq(import_format_parse("auto", &f), RK_OK);
    cr_assert_eq(f, IMPORT_AUTO);
    cr_assert_str_eq(import_format_name(IMPORT_AUTO), "auto");
    cr_assert_eq(import_format_parse("vasp", &f), RK_EINPUT);
    char unknown[512];
    snprintf(unknown, sizeof unknown, "%s", err_msg());
    cr_assert_eq(import_detect(tu_src("datasets/Cu/SOURCE.md"), &f), RK_EINPUT);
    char unrecognised[512];
    snprintf(unrecognised, sizeof unrecognised, "%s", err_msg());
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s import --help > %s", RLEKF_EXE, tu_tmp("help.txt"));
    cr_assert_eq(tu_sh(cmd), 0);
    char help[8192];
    cr_assert_eq(tu_read(tu_tmp("help.txt"), help, sizeof help), 0);
    for (size_t i = 0; i < n; i++) {
        import_format t = import_format_at(i);
        const char *name = import_format_name(t);
        cr_assert_neq(strcmp(name, "auto"), 0);
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(strcmp(name, import_format_name(import_format_at(j))), 0, "%s twice",
                          name);
        cr_assert_eq(import_format_parse(name, &f), RK_OK);
        cr_assert_eq(f, t, "%s", name);
        cr_assert_neq(import_format_help(t)[0], '\0', "%s has no help line", name);
        cr_assert(strstr(unknown, name), "%s missing from: %s", name, unknown);
        cr_assert(strstr(unrecognised, name), "%s missing from: %s", name, unrecognised);
        cr_assert(strstr(help, name) && strstr(help, import_format_help(t)), "%s: %s", name, help);
    }
    cr_assert(strstr(import_format_names(), "deepmd, deepmd-raw, movement, pwdata, mlearn, extxyz"),
              "%s", import_format_names());
}

Test(import, element_table) {
    cr_assert_str_eq(import_element_symbol(1), "H");
    cr_assert_str_eq(import_element_symbol(29), "Cu");
    cr_assert_str_eq(import_element_symbol(32), "Ge");
    cr_assert_str_eq(import_element_symbol(72), "Hf");
    cr_assert_str_eq(import_element_symbol(94), "Pu");
    cr_assert_str_eq(import_element_symbol(118), "Og");
    cr_assert_null(import_element_symbol(0));
    cr_assert_null(import_element_symbol(119));
    for (int z = 1; z <= IMPORT_Z_MAX; z++)
        cr_assert_eq(import_element_z(import_element_symbol(z)), z, "Z=%d not unique", z);
    cr_assert_eq(import_element_z("Xx"), 0);
}

Test(import, roundtrip_through_dataset_file_is_exact) {
    dataset_t a = {0}, b = {0};
    import_into(&a, "datasets/LiGePS/100_1200k_movement", "auto", 0);
    import_into(&a, "tests/data/import/mixed.xyz", "auto", 0);
    dataset_sort(&a);
    cr_assert_eq(h5io_dataset_write(tu_tmp("rt.h5"), &a), RK_OK, "%s", err_msg());
    cr_assert_eq(h5io_dataset_read(tu_tmp("rt.h5"), &b), RK_OK, "%s", err_msg());
    cr_assert_eq(b.ntypes, a.ntypes);
    for (size_t t = 0; t < a.ntypes; t++)
        cr_assert_str_eq(b.type_map[t], a.type_map[t]);
    cr_assert_eq(b.nsystems, a.nsystems);
    for (size_t i = 0; i < a.nsystems; i++) {
        const ds_system *x = &a.sys[i], *y = &b.sys[i];
        size_t n3 = 3 * x->natoms * x->nframes;
        cr_assert_str_eq(x->name, y->name);
        cr_assert_eq(x->natoms, y->natoms);
        cr_assert_eq(x->nframes, y->nframes);
        cr_assert_arr_eq(x->type, y->type, x->natoms * sizeof *x->type);
        cr_assert_arr_eq(x->coord, y->coord, n3 * sizeof(double));
        cr_assert_arr_eq(x->force, y->force, n3 * sizeof(double));
        cr_assert_arr_eq(x->box, y->box, 9 * x->nframes * sizeof(double));
        cr_assert_arr_eq(x->energy, y->energy, x->nframes * sizeof(double));
    }
    dataset_free(&a);
    dataset_free(&b);
}

Test(import, cli_merges_sources_and_prints_summary) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s import --output %s %s %s %s %s > %s", RLEKF_EXE, tu_tmp("h2o.h5"),
             tu_src("datasets/H2O/data_0"), tu_src("datasets/H2O/data_1"),
             tu_src("datasets/H2O/data_2"), tu_src("datasets/H2O/data_3"), tu_tmp("summary.txt"));
    cr_assert_eq(tu_sh(cmd), 0);
    dataset_t ds;
    cr_assert_eq(h5io_dataset_read(tu_tmp("h2o.h5"), &ds), RK_OK, "%s", err_msg());
    cr_assert_eq(ds.nsystems, 4);
    cr_assert_eq(dataset_total_frames(&ds), 400);
    cr_assert_str_eq(ds.sys[3].name, "data_3");
    dataset_free(&ds);
    char text[4096];
    cr_assert_eq(tu_read(tu_tmp("summary.txt"), text, sizeof text), 0);
    cr_assert(strstr(text, "data_1") && strstr(text, "160 frames") && strstr(text, "O64 H128"),
              "%s", text);
    cr_assert(strstr(text, "total: 4 systems, 400 frames"), "%s", text);
}

/* ---- npy reader ---- */

/* Write a .npy file: magic, version, header dict padded with spaces to `total_header` bytes
 * (including the preamble), then raw data. */
static void write_npy(const char *path, int major, const char *dict, size_t total_header,
                      const void *data, size_t nbytes) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    size_t pre = major == 1 ? 10 : 12, hlen = total_header - pre;
    fwrite("\x93NUMPY", 1, 6, f);
    fputc(major, f);
    fputc(0, f);
    unsigned char lb[4] = {(unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8), 0, 0};
    fwrite(lb, 1, major == 1 ? 2 : 4, f);
    size_t dl = strlen(dict);
    cr_assert_lt(dl, hlen);
    fwrite(dict, 1, dl, f);
    for (size_t i = dl; i + 1 < hlen; i++)
        fputc(' ', f);
    fputc('\n', f);
    fwrite(data, 1, nbytes, f);
    fclose(f);
}

Test(npy, versions_dtypes_and_header_lengths) {
    const double d[6] = {1.5, -2.25, 3.0, 4.0, 5.0, 1e-300};
    write_npy(tu_tmp("v2.npy"), 2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
              192, d, sizeof d);
    npy_array a;
    cr_assert_eq(npy_read(tu_tmp("v2.npy"), &a), RK_OK, "%s", err_msg());
    cr_assert_eq(a.ndim, 2);
    cr_assert_eq(a.shape[1], 3);
    cr_assert_arr_eq(a.f64, d, sizeof d);
    npy_free(&a);

    const int32_t iv[3] = {-7, 0, 2147483647};
    write_npy(tu_tmp("i4.npy"), 1, "{'descr':'<i4','fortran_order':False,'shape':(3,)}", 64, iv,
              sizeof iv);
    cr_assert_eq(npy_read(tu_tmp("i4.npy"), &a), RK_OK, "%s", err_msg());
    cr_assert(a.is_integer);
    cr_assert_eq(a.i64[0], -7);
    cr_assert_eq(a.i64[2], 2147483647);
    npy_free(&a);

    const float fv[2] = {0.1f, -3.4e38f};
    write_npy(tu_tmp("f4.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 256,
              fv, sizeof fv);
    cr_assert_eq(npy_read(tu_tmp("f4.npy"), &a), RK_OK, "%s", err_msg());
    cr_assert_eq(a.f64[0], (double)0.1f, "float32 must widen exactly");
    cr_assert_eq(a.f64[1], (double)-3.4e38f);
    npy_free(&a);
}

Test(npy, rejects_bad_files_with_reasons) {
    const double d[4] = {1, 2, 3, 4};
    struct {
        const char *name, *dict, *want;
        size_t nbytes;
    } cases[] = {
        {"big.npy", "{'descr': '>f8', 'fortran_order': False, 'shape': (4,), }", "big-endian", 32},
        {"fortran.npy", "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }",
         "fortran_order", 32},
        {"short.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }", "truncated", 32},
        {"dtype.npy", "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", "dtype", 32},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_npy(tu_tmp(cases[i].name), 1, cases[i].dict, 128, d, cases[i].nbytes);
        npy_array a;
        cr_assert_eq(npy_read(tu_tmp(cases[i].name), &a), RK_EINPUT, "%s accepted", cases[i].name);
        cr_assert(strstr(err_msg(), cases[i].name) && strstr(err_msg(), cases[i].want), "%s",
                  err_msg());
    }
    tu_write(tu_tmp("magic.npy"), "NUMPY? not really\n");
    npy_array a;
    cr_assert_eq(npy_read(tu_tmp("magic.npy"), &a), RK_EINPUT);
    cr_assert(strstr(err_msg(), "magic"), "%s", err_msg());
}

/* Import an absolute path (a prepared temporary copy) into ds. */
static rk_status import_abs(dataset_t *ds, const char *path, const char *fmt) {
    import_opts o = {fmt_named(fmt), 0};
    return import_source(path, &o, ds, NULL);
}

/* Two imports hold the same frames bit for bit. */
static void assert_same_system(const ds_system *a, const ds_system *b) {
    cr_assert_eq(a->natoms, b->natoms);
    cr_assert_eq(a->nframes, b->nframes);
    size_t n3 = 3 * a->natoms * a->nframes;
    cr_assert_eq(memcmp(a->energy, b->energy, a->nframes * sizeof *a->energy), 0);
    cr_assert_eq(memcmp(a->box, b->box, 9 * a->nframes * sizeof *a->box), 0);
    cr_assert_eq(memcmp(a->coord, b->coord, n3 * sizeof *a->coord), 0);
    cr_assert_eq(memcmp(a->force, b->force, n3 * sizeof *a->force), 0, "forces differ");
}

/* Older PWmat prints the force block as "Force (eV/Angstrom)"; its numbers are still dE/dR (the
 * format's readers negate every Force block), so the labels equal the "-force" spelling's. Any
 * other unit is still an unknown block. */
Test(import, movement_older_force_title_gives_the_same_labels) {
    const char *dir = tu_tmp("mv-old-force");
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && cp %s/datasets/LiGePS/100_1200k_movement %s/new && sed "
             "'s/Force (-force, eV\\/Angstrom)/Force (eV\\/Angstrom)/' %s/new > %s/old && sed "
             "'s/Force (-force, eV\\/Angstrom)/Force (eV\\/Bohr)/' %s/new > %s/bohr && "
             "! grep -q -- '-force' %s/old",
             dir, RLEKF_SOURCE_DIR, dir, dir, dir, dir, dir, dir);
    cr_assert_eq(tu_sh(cmd), 0);
    dataset_t a = {0}, b = {0}, c = {0};
    char p[1200];
    snprintf(p, sizeof p, "%s/new", dir);
    cr_assert_eq(import_abs(&a, p, "movement"), RK_OK, "%s", err_msg());
    snprintf(p, sizeof p, "%s/old", dir);
    cr_assert_eq(import_abs(&b, p, "auto"), RK_OK, "%s", err_msg());
    assert_same_system(&a.sys[0], &b.sys[0]);
    snprintf(p, sizeof p, "%s/bohr", dir);
    cr_expect_eq(import_abs(&c, p, "movement"), RK_EINPUT);
    cr_expect(strstr(err_msg(), "unknown force block 'Force (eV/Bohr)'"), "%s", err_msg());
    dataset_free(&a);
    dataset_free(&b);
    dataset_free(&c);
}

/* What ase.io.write(format="extxyz") puts in a file: a boolean move_mask column (FixAtoms), a
 * per-atom scalar, stress, free_energy and pbc keys beside energy and forces; all but the labels
 * are ignored. */
Test(import, extxyz_as_ase_writes_it) {
    dataset_t ds = {0};
    import_into(&ds, "tests/data/import/ase_written.xyz", "auto", 0);
    cr_assert_eq(ds.nsystems, 1);
    const ds_system *s = &ds.sys[0];
    cr_assert_eq(s->natoms, 2);
    cr_assert_eq(s->energy[0], -3.5);
    assert_exact3(AT(s, coord, 0, 1), 1.0, 1.0, 1.0);
    assert_exact3(AT(s, force, 0, 0), 0.1, 0.2, 0.3);
    assert_exact3(AT(s, force, 0, 1), -0.1, -0.2, -0.3);
    dataset_free(&ds);
}

/* PWMLFF pwdata folders come with and without ei.npy (per-atom energies, never read): the same
 * labels either way. */
Test(import, pwdata_with_and_without_ei_npy) {
    const char *dir = tu_tmp("pw-no-ei");
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && cp -r %s/datasets/HfO2/pwdata/init_000_50/train %s/train && chmod -R "
             "u+w %s && rm %s/train/ei.npy",
             dir, RLEKF_SOURCE_DIR, dir, dir, dir);
    cr_assert_eq(tu_sh(cmd), 0);
    dataset_t a = {0}, b = {0};
    import_into(&a, "datasets/HfO2/pwdata/init_000_50/train", "pwdata", 0);
    char p[1200];
    snprintf(p, sizeof p, "%s/train", dir);
    cr_assert_eq(import_abs(&b, p, "auto"), RK_OK, "%s", err_msg());
    assert_same_system(&a.sys[0], &b.sys[0]);
    dataset_free(&a);
    dataset_free(&b);
}
