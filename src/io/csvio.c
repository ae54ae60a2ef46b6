/* csvio: CSV reading and writing with libcsv (see csvio.h). */
#include "csvio.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void csvio_write_row(FILE *f, const char *const *fields, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *s = fields[i] ? fields[i] : "";
        if (i) fputc(',', f);
        if (strpbrk(s, ",\"\r\n"))
            csv_fwrite(f, s, strlen(s));
        else
            fputs(s, f);
    }
    fputc('\n', f);
}

typedef struct {
    csvio_table *t;
    char **row; /* fields of the current row */
    size_t nrow, caprow;
    size_t caprows; /* capacity of t->cells in rows */
    int failed;
    size_t ragged_row, ragged_n; /* first row whose cell count differs from the header's (+1) */
} parse_state;

static void on_field(void *s, size_t len, void *data) {
    parse_state *ps = data;
    if (ps->failed) return;
    if (ps->nrow == ps->caprow) {
        ps->caprow = ps->caprow ? 2 * ps->caprow : 16;
        char **r = realloc(ps->row, ps->caprow * sizeof *r);
        if (!r) {
            ps->failed = 1;
            return;
        }
        ps->row = r;
    }
    char *v = malloc(len + 1);
    if (!v) {
        ps->failed = 1;
        return;
    }
    memcpy(v, s, len);
    v[len] = '\0';
    ps->row[ps->nrow++] = v;
}

static void on_row(int c, void *data) {
    (void)c;
    parse_state *ps = data;
    csvio_table *t = ps->t;
    if (ps->failed) return;
    if (!t->header) {
        t->header = ps->row;
        t->ncols = ps->nrow;
        ps->row = NULL;
        ps->nrow = ps->caprow = 0;
        return;
    }
    if (t->nrows == ps->caprows) {
        ps->caprows = ps->caprows ? 2 * ps->caprows : 64;
        char **cells = realloc(t->cells, ps->caprows * t->ncols * sizeof *cells);
        if (!cells) {
            ps->failed = 1;
            return;
        }
        t->cells = cells;
    }
    /* a row cut short (a file truncated mid-write) or with extra cells is an error, not blanks */
    if (ps->nrow != t->ncols && !ps->ragged_row) {
        ps->ragged_row = t->nrows + 1;
        ps->ragged_n = ps->nrow;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        char *v = i < ps->nrow ? ps->row[i] : NULL;
        if (!v) v = calloc(1, 1);
        t->cells[t->nrows * t->ncols + i] = v;
    }
    for (size_t i = t->ncols; i < ps->nrow; i++)
        free(ps->row[i]);
    ps->nrow = 0;
    t->nrows++;
}

rk_status csvio_read(const char *path, csvio_table *t) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(RK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct csv_parser p;
    csv_init(&p, CSV_APPEND_NULL);
    parse_state ps = {t, NULL, 0, 0, 0, 0, 0, 0};
    char buf[65536];
    size_t n;
    rk_status st = RK_OK;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (csv_parse(&p, buf, n, on_field, on_row, &ps) != n) {
            st = err_set(RK_EINPUT, "%s: malformed CSV: %s", path, csv_strerror(csv_error(&p)));
            break;
        }
    }
    if (!st) csv_fini(&p, on_field, on_row, &ps);
    csv_free(&p);
    fclose(f);
    for (size_t i = 0; i < ps.nrow; i++)
        free(ps.row[i]);
    free(ps.row);
    if (!st && ps.failed) st = err_set(RK_ENOMEM, "%s: out of memory reading CSV", path);
    if (!st && !t->header) st = err_set(RK_EINPUT, "%s: empty CSV file (no header)", path);
    if (!st && ps.ragged_row)
        st = err_set(RK_EINPUT,
                     "%s line %zu: %zu cells, the header has %zu (a truncated or "
                     "malformed row)",
                     path, ps.ragged_row + 1, ps.ragged_n, t->ncols);
    if (st) csvio_free(t);
    return st;
}

void csvio_free(csvio_table *t) {
    if (t->header)
        for (size_t i = 0; i < t->ncols; i++)
            free(t->header[i]);
    if (t->cells)
        for (size_t i = 0; i < t->nrows * t->ncols; i++)
            free(t->cells[i]);
    free(t->header);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

int csvio_col(const csvio_table *t, const char *name) {
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->header[i], name) == 0) return (int)i;
    return -1;
}

const char *csvio_cell(const csvio_table *t, size_t row, size_t col) {
    return t->cells[row * t->ncols + col];
}

rk_status csvio_num(const csvio_table *t, const char *path, size_t row, const char *col,
                    double *out) {
    int c = csvio_col(t, col);
    if (c < 0) return err_set(RK_EINPUT, "%s: no column '%s'", path, col);
    const char *s = csvio_cell(t, row, (size_t)c);
    if (!*s || strcmp(s, "nan") == 0 || strcmp(s, "never") == 0) {
        *out = NAN;
        return RK_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end)
        return err_set(RK_EINPUT, "%s: row %zu column %s: not a number: '%s'", path, row + 2, col,
                       s);
    *out = v;
    return RK_OK;
}
