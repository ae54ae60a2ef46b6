/* fs: whole-file reads, mkdir -p and atomic writes (see fs.h). */
#include "fs.h"

#include <errno.h>
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
