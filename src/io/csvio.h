/* csvio: CSV files through libcsv (the only file that includes <csv.h>).
 *
 * Writing: rows of string fields, quoted as needed (RFC 4180). Reading: a whole file into a table
 * of strings with a header row; lookups by column name. Values are never reinterpreted here.
 */
#ifndef RLEKF_CSVIO_H
#define RLEKF_CSVIO_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

/* Write one row (fields quoted only where needed), terminated by "\n". */
void csvio_write_row(FILE *f, const char *const *fields, size_t n);

typedef struct {
    size_t ncols, nrows;
    char **header; /* (ncols) */
    char **cells;  /* (nrows, ncols), row-major */
} csvio_table;

/* Every row must have as many cells as the header: a shorter (truncated) or longer row is
 * RK_EINPUT naming the file and line. */
rk_status csvio_read(const char *path, csvio_table *t);
void csvio_free(csvio_table *t);
/* Column index by name, or -1. */
int csvio_col(const csvio_table *t, const char *name);
const char *csvio_cell(const csvio_table *t, size_t row, size_t col);
/* Parse a cell as a double: "" / "nan" / "never" give NAN; error names file/row/column. */
rk_status csvio_num(const csvio_table *t, const char *path, size_t row, const char *col,
                    double *out);

#endif
