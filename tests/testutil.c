/* testutil: helpers shared by the Criterion suites (see testutil.h). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"

static char *slot(void) {
    static char bufs[8][4096];
    static int k;
    return bufs[k++ & 7];
}

const char *tu_src(const char *rel) {
    char *b = slot();
    snprintf(b, 4096, "%s/%s", RLEKF_SOURCE_DIR, rel);
    return b;
}

const char *tu_tmpdir(void) {
    static char dir[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/testtmp-XXXXXX", RLEKF_BINARY_DIR);
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
    }
    return dir;
}

const char *tu_tmp(const char *name) {
    char *b = slot();
    snprintf(b, 4096, "%s/%s", tu_tmpdir(), name);
    return b;
}

int tu_sh(const char *cmd) {
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

int tu_rlekf(const char *args, char *err, size_t errcap) {
    char errfile[600], cmd[8192];
    snprintf(errfile, sizeof errfile, "%s/stderr-%d.txt", tu_tmpdir(), (int)getpid());
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>%s", RLEKF_EXE, args, errfile);
    int st = tu_sh(cmd);
    if (err && errcap) tu_read(errfile, err, errcap);
    return st;
}

int tu_read(const char *path, char *buf, size_t cap) {
    char *text;
    size_t n;
    buf[0] = '\0';
    if (fs_read_all(path, &text, &n) != RK_OK) return -1;
    if (n > cap - 1) n = cap - 1;
    memcpy(buf, text, n);
    buf[n] = '\0';
    free(text);
    return 0;
}

void tu_write(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        abort();
    }
    fputs(text, f);
    fclose(f);
}

int tu_is_clock_column(const char *name) {
    return strcmp(name, "wall_s") == 0 || strcmp(name, "train_s") == 0 ||
           strcmp(name, "eval_s") == 0;
}
