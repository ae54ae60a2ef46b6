/* fs: whole-file reads, mkdir -p and atomic writes (see fs.h). */
#define _GNU_SOURCE /* renameat2 */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

rk_status fs_read_all(const char *path, char **text, size_t *len) {
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(RK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return err_set(RK_EINPUT, "%s: not a regular file", path);
    }
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    char *buf = rk_malloc(cap);
    if (!buf) {
        fclose(f);
        return RK_ENOMEM;
    }
    /* Read to the end, not to st_size: the file may grow while it is read. */
    for (;;) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1 || feof(f) || ferror(f)) break;
        char *nb = realloc(buf, 2 * cap);
        if (!nb) {
            free(buf);
            fclose(f);
            return err_set(RK_ENOMEM, "%s: out of memory reading it", path);
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return err_set(RK_ERUNTIME, "%s: read error", path);
    }
    buf[n] = '\0';
    *text = buf;
    if (len) *len = n;
    return RK_OK;
}

int fs_is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

rk_status fs_mkdirs(const char *dir) {
    char buf[FS_PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return err_set(RK_EINPUT, "%.64s...: directory path too long", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return err_set(RK_ERUNTIME, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return err_set(RK_ERUNTIME, "%s: cannot create directory: %s", buf, strerror(errno));
    return RK_OK;
}

rk_status fs_tmp_name(const char *path, char *tmp, size_t cap) {
    if (strlen(path) >= FS_PATH_MAX) return err_set(RK_EINPUT, "%.64s...: path too long", path);
    int n = snprintf(tmp, cap, "%s.tmp-%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= cap) return err_set(RK_EINPUT, "%.64s...: path too long", path);
    return RK_OK;
}

rk_status fs_commit(const char *tmp, const char *path, int ok) {
    if (ok && rename(tmp, path) == 0) return RK_OK;
    int e = errno;
    unlink(tmp);
    return err_set(RK_ERUNTIME, "%s: cannot write: %s", path, ok ? strerror(e) : "write failed");
}

rk_status fs_atomic_open(fs_atomic *w, const char *path) {
    w->f = NULL;
    if (snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path)
        return err_set(RK_EINPUT, "%.64s...: path too long", path);
    rk_status st = fs_tmp_name(path, w->tmp, sizeof w->tmp);
    if (st) return st;
    w->f = fopen(w->tmp, "w");
    if (!w->f) return err_set(RK_ERUNTIME, "%s: cannot write: %s", w->tmp, strerror(errno));
    return RK_OK;
}

rk_status fs_atomic_commit(fs_atomic *w) {
    int ok = !ferror(w->f);
    ok = (fclose(w->f) == 0) && ok;
    w->f = NULL;
    return fs_commit(w->tmp, w->path, ok);
}

void fs_atomic_abort(fs_atomic *w) {
    if (w->f) fclose(w->f);
    w->f = NULL;
    unlink(w->tmp);
}

rk_status fs_write_text_atomic(const char *path, const char *text) {
    fs_atomic w;
    rk_status st = fs_atomic_open(&w, path);
    if (st) return st;
    fputs(text, w.f);
    return fs_atomic_commit(&w);
}

/* ------------------------------------------------------------ folder transactions -------- */

int fs_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

rk_status fs_remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return errno == ENOENT ? RK_OK : err_set(RK_ERUNTIME,
                                          "%s: cannot stat: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return err_set(RK_ERUNTIME, "%s: cannot open folder: %s", path, strerror(errno));
        rk_status st = RK_OK;
        struct dirent *e;
        char sub[FS_PATH_MAX + FS_TMP_SUFFIX_MAX];
        while (!st && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= sizeof sub)
                st = err_set(RK_EINPUT, "%s/%s: path too long", path, e->d_name);
            else
                st = fs_remove_tree(sub);
        }
        closedir(d);
        if (st) return st;
        if (rmdir(path) != 0)
            return err_set(RK_ERUNTIME, "%s: cannot remove: %s", path, strerror(errno));
        return RK_OK;
    }
    if (unlink(path) != 0 && errno != ENOENT)
        return err_set(RK_ERUNTIME, "%s: cannot remove: %s", path, strerror(errno));
    return RK_OK;
}

/* The pid of a name "<anything>.tmp-<digits>", or 0. */
static long stale_pid(const char *name) {
    const char *t = strstr(name, ".tmp-");
    if (!t) return 0;
    for (const char *n; (n = strstr(t + 1, ".tmp-"));)
        t = n;
    char *end = NULL;
    long pid = strtol(t + 5, &end, 10);
    return end && *end == '\0' && end != t + 5 && pid > 0 ? pid : 0;
}

size_t fs_clean_stale(const char *dir) {
    DIR *d = opendir(dir && dir[0] ? dir : ".");
    if (!d) return 0;
    size_t removed = 0;
    struct dirent *e;
    char p[FS_PATH_MAX + FS_TMP_SUFFIX_MAX];
    while ((e = readdir(d))) {
        long pid = stale_pid(e->d_name);
        if (pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours) */
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir && dir[0] ? dir : ".", e->d_name) >=
            sizeof p)
            continue;
        if (fs_remove_tree(p) == RK_OK) removed++;
    }
    closedir(d);
    return removed;
}

rk_status fs_replace_dir(const char *from, const char *to) {
    if (!fs_is_dir(to)) {
        if (rename(from, to) != 0)
            return err_set(RK_ERUNTIME, "%s: cannot rename to %s: %s", from, to, strerror(errno));
        return RK_OK;
    }
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE) != 0)
        return err_set(RK_ERUNTIME, "%s: cannot exchange with %s: %s", from, to, strerror(errno));
    /* `from` now holds the old folder */
    return fs_remove_tree(from);
}
