/* testutil: helpers shared by the Criterion suites. */
#ifndef RLEKF_TESTUTIL_H
#define RLEKF_TESTUTIL_H

#include <stddef.h>

/* Absolute path of a file in the source tree (static buffer rotated over 8 slots). */
const char *tu_src(const char *rel);
/* A fresh empty temporary directory for this test process (created once). */
const char *tu_tmpdir(void);
/* Path inside tu_tmpdir() (static buffer rotated over 8 slots). */
const char *tu_tmp(const char *name);
/* Run `rlekf <args>` through /bin/sh; stderr captured into err (may be NULL). Returns the exit
 * status (or -1 if it did not exit normally). */
int tu_rlekf(const char *args, char *err, size_t errcap);
/* Run a shell command, return exit status. */
int tu_sh(const char *cmd);
/* 1 for the clock columns of metrics.csv and summary.csv (wall_s, train_s, eval_s): seconds, which
 * no two runs share, so comparisons of runs skip them. */
int tu_is_clock_column(const char *name);
/* The text of a file (its first cap-1 bytes), NUL-terminated; -1 and buf = "" if it cannot be
 * read. */
int tu_read(const char *path, char *buf, size_t cap);
/* Write text to a file (for synthetic inputs). */
void tu_write(const char *path, const char *text);

/* TU_SANITIZED: 1 in the AddressSanitizer build (gcc defines __SANITIZE_ADDRESS__, clang answers
 * __has_feature). The few runs that are too slow there, or that LeakSanitizer cannot follow into
 * libmpi, are checked in the release build only. */
#if defined(__SANITIZE_ADDRESS__)
#define TU_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_SANITIZED 1
#endif
#endif
#ifndef TU_SANITIZED
#define TU_SANITIZED 0
#endif

#endif
