/* fs: the project's file helpers, so every reader and writer behaves the same way.
 *
 * Writes are atomic: a file is written as "<path>.tmp-<pid>" beside its target and rename()d over
 * it only when it is complete, so a reader (or a run killed half-way) sees the old file or the new
 * one, never a half-written one; on any failure the temporary is removed.
 */
#ifndef RLEKF_FS_H
#define RLEKF_FS_H

#include <stdio.h>

#include "err.h"

/* Longest path the helpers accept (longer ones are an input error naming the path). */
#define FS_PATH_MAX 1024
/* Room for ".tmp-<pid>" after a path. */
#define FS_TMP_SUFFIX_MAX 32

/* The whole of a regular file as a NUL-terminated string (caller frees); *len (if not NULL) is its
 * length. A missing file, a directory or anything not a regular file is RK_EINPUT naming the path. */
rk_status fs_read_all(const char *path, char **text, size_t *len);

/* 1 if path names an existing regular file. */
int fs_is_file(const char *path);

/* mkdir -p. */
rk_status fs_mkdirs(const char *dir);

/* Name of the temporary sibling "<path>.tmp-<pid>" (tmp holds FS_PATH_MAX + FS_TMP_SUFFIX_MAX). */
rk_status fs_tmp_name(const char *path, char *tmp, size_t cap);
/* Finish an atomic write: when ok, rename tmp over path; otherwise, or when the rename fails,
 * unlink tmp. Returns RK_OK only if path now holds the new file. */
rk_status fs_commit(const char *tmp, const char *path, int ok);

/* An atomic text file: open, write with fprintf(w.f, ...), then commit (or abort on error). */
typedef struct {
    FILE *f;
    char path[FS_PATH_MAX];
    char tmp[FS_PATH_MAX + FS_TMP_SUFFIX_MAX];
} fs_atomic;

rk_status fs_atomic_open(fs_atomic *w, const char *path);
/* Close and rename into place; a write or close error removes the temporary and is reported. */
rk_status fs_atomic_commit(fs_atomic *w);
/* Close and remove the temporary (the target is untouched). */
void fs_atomic_abort(fs_atomic *w);

/* The whole of text as path, atomically. */
rk_status fs_write_text_atomic(const char *path, const char *text);

/* ------------------------------------------------------------ folder transactions -------- */

/* 1 if path names an existing directory. */
int fs_is_dir(const char *path);
/* rm -r path (a file or a folder tree; no error if it does not exist). */
rk_status fs_remove_tree(const char *path);
/* Remove every entry "<name>.tmp-<pid>" of dir whose process <pid> is no longer alive (left by a
 * killed run); returns how many were removed (errors are ignored: cleaning is best effort). */
size_t fs_clean_stale(const char *dir);
/* Put the finished folder `from` in place of `to`: rename, or, when `to` exists, exchange the two
 * atomically (renameat2 RENAME_EXCHANGE) and remove the old one, so a reader sees the old folder
 * or the new one, never a mix. */
rk_status fs_replace_dir(const char *from, const char *to);

#endif
