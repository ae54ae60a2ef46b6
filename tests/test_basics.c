/* Unit tests of the small infrastructure modules: rng, layout, jsonw, err. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jsonw.h"
#include "layout.h"
#include "rng.h"

Test(rng, streams_are_reproducible_and_distinct) {
    rng_t a, b, c;
    rng_stream(&a, "Cu", 1, RNG_INIT);
    rng_stream(&b, "Cu", 1, RNG_INIT);
    rng_stream(&c, "Cu", 1, RNG_ORDER);
    int same_ac = 1;
    for (int i = 0; i < 100; i++) {
        uint64_t x = rng_u64(&a), y = rng_u64(&b), z = rng_u64(&c);
        cr_assert_eq(x, y);
        if (x != z) same_ac = 0;
    }
    cr_assert(!same_ac, "different purposes must give different streams");
}

Test(rng, normal_moments) {
    rng_t r;
    rng_seed(&r, 42);
    const int n = 200000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double x = rng_normal(&r);
        s += x;
        s2 += x * x;
    }
    /* standard error of the mean is 1/sqrt(n) ~ 0.0022; 5 sigma bounds */
    cr_assert(fabs(s / n) < 0.012);
    cr_assert(fabs(s2 / n - 1.0) < 0.02);
}

Test(rng, below_is_in_range_and_shuffle_is_permutation) {
    rng_t r;
    rng_seed(&r, 7);
    size_t a[50];
    for (size_t i = 0; i < 50; i++) a[i] = i;
    rng_shuffle(&r, a, 50);
    int seen[50] = {0};
    for (size_t i = 0; i < 50; i++) {
        cr_assert_lt(a[i], 50);
        seen[a[i]]++;
    }
    for (size_t i = 0; i < 50; i++) cr_assert_eq(seen[i], 1);
    for (int i = 0; i < 1000; i++) cr_assert_lt(rng_below(&r, 3), 3);
}

Test(layout, offsets_are_contiguous) {
    layout_t L;
    cr_assert_eq(layout_init(&L, 1), RK_OK);
    layout_add(&L, "a.W", 1, 25);
    layout_add(&L, "a.b", 1, 25);
    layout_add(&L, "b.W", 25, 25);
    cr_assert_eq(L.n_params, 675);
    cr_assert_eq(L.t[2].offset, 50);
    cr_assert_eq(layout_find(&L, 49), 1);
    cr_assert_eq(layout_find(&L, 50), 2);
    cr_assert_eq(layout_find(&L, 0), 0);
    layout_free(&L);
}

Test(jsonw, errors_name_path_and_value) {
    jsonw *j = NULL;
    cr_assert_eq(jsonw_parse_text("{\"a\": 1.5, \"b\": \"x\", \"c\": [1,2,3]}", "t.json", &j), RK_OK);
    long v = 0;
    cr_assert_eq(jsonw_get_int(j, "t.json: m", "a", 1, 0, 10, &v), RK_EINPUT);
    cr_assert(strstr(err_msg(), "t.json: m.a") && strstr(err_msg(), "1.5"), "%s", err_msg());
    const char *allowed[] = {"a", "b", NULL};
    cr_assert_eq(jsonw_check_keys(j, "t.json: m", allowed), RK_EINPUT);
    cr_assert(strstr(err_msg(), "m.c: unknown key"), "%s", err_msg());
    long arr[4];
    size_t n = 0;
    cr_assert_eq(jsonw_get_int_array(j, "x", "c", 1, 0, 5, arr, 4, &n), RK_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(arr[2], 3);
    const char *names[] = {"x", "y", NULL};
    int idx = -1;
    cr_assert_eq(jsonw_get_choice(j, "x", "b", 1, names, &idx), RK_OK);
    cr_assert_eq(idx, 0);
    cr_assert_eq(jsonw_get_num(j, "x", "missing", 1, 0, 1, &(double){0}), RK_EINPUT);
    jsonw_free(j);
    cr_assert_eq(jsonw_parse_text("{\n\"a\": ,}", "bad.json", &j), RK_EINPUT);
    cr_assert(strstr(err_msg(), "bad.json: line 2"), "%s", err_msg());
}

/* The covariance allocator: zeroed, 2 MiB aligned from 2 MiB up, plain below, and an overflowing
 * request is an error, not a wrapped small block. */
Test(alloc, touched_is_zeroed_aligned_and_checks_overflow) {
    const size_t big = ((size_t)5 << 20) / sizeof(double) + 3; /* not a whole number of pages */
    double *p = rk_calloc_touched(big, sizeof *p);
    cr_assert(p);
    cr_expect_eq((uintptr_t)p % ((uintptr_t)2 << 20), 0);
    size_t nonzero = 0;
    for (size_t i = 0; i < big; i++) nonzero += p[i] != 0.0;
    cr_expect_eq(nonzero, 0);
    p[big - 1] = 1.0; /* the last element is inside the block */
    free(p);
    float *q = rk_calloc_touched(7, sizeof *q);
    cr_assert(q);
    for (size_t i = 0; i < 7; i++) cr_expect_eq(q[i], 0.0f);
    free(q);
    cr_expect_null(rk_calloc_touched(SIZE_MAX / 4, 8));
    cr_expect(strstr(err_msg(), "out of memory") != NULL, "%s", err_msg());
}
