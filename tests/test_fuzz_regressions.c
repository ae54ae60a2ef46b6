/* Fuzzing findings, kept: every input under tests/data/fuzz/<target>/ (crashes, leaks, hangs and
 * sanitizer reports found by the libFuzzer targets of fuzz/) is replayed through the same entry
 * point (fuzz/fuzz_harness.c) and must give RK_OK or an input error with a message; under the
 * ASan+UBSan build that also proves it no longer crashes, overflows or leaks (LeakSanitizer is
 * asked after each target). Below the replay, one unit test per fix states the behaviour the fix
 * guarantees, through the public readers.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Under AddressSanitizer a leak would only be printed when the test process exits, which does not
 * fail the test: the replay asks LeakSanitizer itself after each target. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAKS_FOUND() __lsan_do_recoverable_leak_check()
#else
#define LEAKS_FOUND() 0
#endif

#include "dataset.h"
#include "fuzz_harness.h"
#include "h5io.h"
#include "import.h"
#include "model.h"
#include "modelutil.h"
#include "testutil.h"

/* ---- replay ---- */

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(len > 0 ? (size_t)len : 1);
    cr_assert(buf);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    cr_assert_eq(*n, (size_t)len, "short read of %s", path);
    return buf;
}

/* Replays every saved input of one target; returns how many there were. */
static size_t replay_target(const char *name) {
    const fuzz_target *t = fuzz_target_find(name);
    cr_assert(t, "tests/data/fuzz/%s: no fuzz target of that name", name);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_src("tests/data/fuzz"));
    strncat(dir, "/", sizeof dir - strlen(dir) - 1);
    strncat(dir, name, sizeof dir - strlen(dir) - 1);
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n;
        unsigned char *data = slurp(path, &n);
        rk_status st = fuzz_target_run(t, data, n); /* aborts on a broken contract */
        free(data);
        cr_assert(st == RK_OK || st == RK_EINPUT, "%s: status %d", path, (int)st);
        count++;
    }
    closedir(d);
    return count;
}

Test(fuzz_regressions, every_saved_input_is_ok_or_an_input_error) {
    size_t total = 0;
    for (size_t i = 0; i < fuzz_target_count(); i++) {
        total += replay_target(fuzz_target_name(i));
        cr_assert_eq(LEAKS_FOUND(), 0, "tests/data/fuzz/%s: memory leaked (report above)",
                     fuzz_target_name(i));
    }
    fuzz_cleanup();
    cr_assert_gt(total, 0, "no saved inputs under tests/data/fuzz");
}

/* A folder that names no target would be skipped silently by the replay above. */
Test(fuzz_regressions, every_saved_folder_names_a_target) {
    DIR *d = opendir(tu_src("tests/data/fuzz"));
    cr_assert(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        cr_assert(fuzz_target_find(e->d_name), "tests/data/fuzz/%s: no fuzz target of that name",
                  e->d_name);
    }
    closedir(d);
}

/* ---- the fixes ---- */

/* A registered importer by name (the registry is the only table naming them). */
static import_format fmt_of(const char *name) {
    import_format f = IMPORT_AUTO;
    if (import_format_parse(name, &f) != RK_OK || !f) abort();
    return f;
}

static rk_status import_text(const char *name, const char *text, import_format fmt) {
    const char *path = tu_tmp(name);
    tu_write(path, text);
    dataset_t ds = {0};
    import_opts o = {fmt, 0};
    err_clear();
    rk_status st = import_source(path, &o, &ds, NULL);
    dataset_free(&ds);
    return st;
}

/* extxyz: an atom count of 2^32 + 2 sized the scratch arrays before any atom line was read
 * (ASan: allocation of 0x2800000008 bytes); a count is now bounded by the bytes that follow. */
Test(fuzz_regressions, extxyz_atom_count_beyond_the_file_is_a_truncation) {
    rk_status st = import_text("huge.xyz", "4294967298\nLattice=\"1 0 0 0 1 0 0 0 1\" energy=1\n",
                               fmt_of("extxyz"));
    cr_assert_eq(st, RK_EINPUT, "%s", err_msg());
    cr_assert(strstr(err_msg(), "truncated") && strstr(err_msg(), "declares 4294967298 atoms"),
              "%s", err_msg());
    /* the bound is the bytes left, not a guess: a count that fits is still read normally */
    st = import_text("ok.xyz",
                     "1\nLattice=\"3 0 0 0 3 0 0 0 3\" energy=-1 Properties=species:S:1:pos:R:3:"
                     "forces:R:3\nH 0 0 0 0 0 0\n",
                     fmt_of("extxyz"));
    cr_assert_eq(st, RK_OK, "%s", err_msg());
}

/* MOVEMENT: the same for the header's atom count, which sized the per-atom scratch arrays. */
Test(fuzz_regressions, movement_atom_count_beyond_the_file_is_a_truncation) {
    rk_status st = import_text("MOVEMENT_huge",
                               "3074457345618258603 atoms,Iteration (fs) = 1, Etot,Ep,Ek (eV) = "
                               "1 2 3, SCF = 1\n",
                               fmt_of("movement"));
    cr_assert_eq(st, RK_EINPUT, "%s", err_msg());
    cr_assert(strstr(err_msg(), "truncated") && strstr(err_msg(), "declares"), "%s", err_msg());
}

/* HDF5 dataset files: a dataspace is only a declaration. huge_type_dims.h5 is raw_sys.h5 (written
 * by `rlekf import tests/data/import/raw_sys`) with the 8-byte dimension of /systems/raw_sys/type
 * patched from 3 to 2^40; the reader sized the system's arrays from it (calloc of 6.6e12 x 8
 * bytes: "out of memory", exit status 1, an ASan abort). A declared size is now checked against
 * the bytes the file stores before it sizes anything. */
Test(fuzz_regressions, h5_dataspace_larger_than_the_stored_data_is_an_input_error) {
    dataset_t ds;
    err_clear();
    rk_status st = h5io_dataset_read(tu_src("tests/data/fuzz/h5dataset/huge_type_dims.h5"), &ds);
    cr_assert_eq(st, RK_EINPUT, "%s", err_msg());
    cr_assert(strstr(err_msg(), "/systems/raw_sys/type: declares 1099511627776 elements of 4 bytes "
                                "but the file stores 12 bytes"),
              "%s", err_msg());
}

/* The storage size HDF5 reports is itself read from the file: huge_type_map_dims_and_layout.h5 is
 * raw_sys.h5 with the dimension of /type_map patched to 2^40 and its contiguous layout message's
 * size field to 2^44 bytes, which satisfied the first bound (calloc of 2^40 x 8: "out of memory").
 * Stored bytes now count only up to the size of the file. */
Test(fuzz_regressions, h5_storage_size_beyond_the_file_is_an_input_error) {
    dataset_t ds;
    err_clear();
    const char *path = tu_src("tests/data/fuzz/h5dataset/huge_type_map_dims_and_layout.h5");
    rk_status st = h5io_dataset_read(path, &ds);
    cr_assert_eq(st, RK_EINPUT, "%s", err_msg());
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    char want[160];
    snprintf(want, sizeof want,
             "/type_map: declares 1099511627776 elements of 8 bytes but the file stores %lld bytes",
             (long long)sb.st_size);
    cr_assert(strstr(err_msg(), want), "%s", err_msg());
}

/* The bound must not reject real compressed files: deflate_valid.h5 holds one system (64 Cu atoms,
 * 2 frames) written by a one-off HDF5 program the way h5py writes compression="gzip": chunked,
 * shuffle + deflate level 9, latest file format; its force data (all zero) shrink 123-fold. */
Test(fuzz_regressions, h5_deflate_compressed_dataset_is_still_read) {
    dataset_t ds;
    err_clear();
    rk_status st = h5io_dataset_read(tu_src("tests/data/fuzz/h5dataset/deflate_valid.h5"), &ds);
    cr_assert_eq(st, RK_OK, "%s", err_msg());
    cr_assert_eq(ds.nsystems, 1);
    cr_assert_eq(ds.sys[0].natoms, 64);
    cr_assert_eq(ds.sys[0].nframes, 2);
    cr_assert_eq(ds.sys[0].box[0], 20.0);
    dataset_free(&ds);
}

/* ---- libhdf5's own crashes ---- */

/* fuzz/known-libhdf5/ holds one input per libhdf5 1.10 failure the fuzzers found (heap overflows,
 * SIGSEGV, a 6.6 GB allocation, an endless loop). libhdf5 cannot be fixed here; h5io reads an
 * untrusted file first in a child, so each must be an input error naming the file, on one line,
 * and this process must survive it (under ASan too). Time limit of the child for the endless
 * loop: far above the milliseconds a 3 kB file takes, below Criterion's patience. */
#define KNOWN_H5_GUARD_S 3.0

/* Calls fn(path, is_model) for every known input; returns how many. */
static size_t each_known_h5(void (*fn)(const char *path, const char *name, int is_model)) {
    DIR *d = opendir(tu_src("fuzz/known-libhdf5"));
    cr_assert(d, "fuzz/known-libhdf5 missing");
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", tu_src("fuzz/known-libhdf5"), e->d_name);
        int is_model = strncmp(e->d_name, "h5model-", 8) == 0;
        cr_assert(is_model || strncmp(e->d_name, "h5dataset-", 10) == 0,
                  "fuzz/known-libhdf5/%s: name starts with neither h5model- nor h5dataset-",
                  e->d_name);
        fn(path, e->d_name, is_model);
        count++;
    }
    closedir(d);
    return count;
}

static void read_known(const char *path, const char *name, int is_model) {
    err_clear();
    rk_status st;
    if (is_model) {
        h5io_model_rec rec;
        st = h5io_model_read(path, &rec);
        if (!st) h5io_model_rec_free(&rec);
    } else {
        dataset_t ds;
        st = h5io_dataset_read(path, &ds);
        if (!st) dataset_free(&ds);
    }
    cr_expect_eq(st, RK_EINPUT, "%s: status %d (%s)", name, (int)st, err_msg());
    cr_expect(strncmp(err_msg(), path, strlen(path)) == 0 && !strchr(err_msg(), '\n'),
              "%s: message '%s' does not name the file on one line", name, err_msg());
}

Test(fuzz_regressions, libhdf5_crashes_on_known_inputs_are_input_errors) {
    h5io_guard_setup(KNOWN_H5_GUARD_S, 0);
    cr_assert_gt(each_known_h5(read_known), 0);
    h5io_guard_setup(0, 0);
}

static char known_model[4096], known_data[4096]; /* tu_tmp() rotates its buffers */

static void eval_known(const char *path, const char *name, int is_model) {
    /* The endless loop takes the CLI's default limit (30 s); the test above covers it. */
    if (strstr(name, "timeout")) return;
    char args[20000], err[4096];
    snprintf(args, sizeof args, "eval --model '%s' --data '%s' -o '%s'",
             is_model ? path : known_model, is_model ? known_data : path, tu_tmp("known-pred.h5"));
    int rc = tu_rlekf(args, err, sizeof err);
    cr_expect_eq(rc, 2, "%s: rlekf eval exit %d (%s)", name, rc, err);
    char want[8300];
    snprintf(want, sizeof want, "rlekf eval: %s: ", path);
    size_t len = strlen(err);
    cr_expect(strncmp(err, want, strlen(want)) == 0 && len > 0 && err[len - 1] == '\n' &&
                  strchr(err, '\n') == err + len - 1,
              "%s: stderr is not one line naming the file: '%s'", name, err);
}

Test(fuzz_regressions, rlekf_eval_gives_one_line_input_errors_on_known_libhdf5_crashes) {
    dataset_t ds;
    mu_load("tests/data/import/raw_sys", "", &ds);
    snprintf(known_data, sizeof known_data, "%s", tu_tmp("known-data.h5"));
    cr_assert_eq(h5io_dataset_write(known_data, &ds), RK_OK, "%s", err_msg());
    model_t m;
    mu_model(&ds, NULL, 1, 1, &m);
    snprintf(known_model, sizeof known_model, "%s", tu_tmp("known-model.h5"));
    cr_assert_eq(model_save(&m, known_model), RK_OK, "%s", err_msg());
    model_free(&m);
    dataset_free(&ds);
    cr_assert_gt(each_known_h5(eval_known), 0);
}
