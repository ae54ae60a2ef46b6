/* import: source formats of DFT training data -> dataset_t (SPEC §1).
 *
 * Formats (one importer each, listed by import_format_at): DeePMD npy systems ("deepmd"), DeePMD
 * raw text ("deepmd-raw"), PWmat MOVEMENT ("movement"), PWMLFF npy ("pwdata"), mlearn/pymatgen
 * JSON ("mlearn") and ASE extended XYZ ("extxyz"). Every importer knows its format's traps:
 * MOVEMENT positions are fractional, its force block prints -F and its label is Ep; pwdata
 * positions are fractional; DeePMD npy may be float32 and is widened to double.
 *
 * Sources are appended to one dataset: its type_map is either fixed by the caller (an element not
 * in it is an error) or grows in order of first appearance. Each imported system is validated
 * (dataset_validate) with the source path as context; a duplicate system name is an error.
 */
#ifndef RLEKF_IMPORT_H
#define RLEKF_IMPORT_H

#include <stddef.h>

#include "dataset.h"
#include "err.h"

/* An importer (its definition: import_internal.h). A format is a pointer to one of the
 * registered importers; IMPORT_AUTO (NULL) means "detect per source". */
typedef struct import_type import_type;
typedef const import_type *import_format;
#define IMPORT_AUTO ((import_format)NULL)

typedef struct {
    import_format format; /* IMPORT_AUTO: detect each source */
    int type_map_fixed;   /* 1: dst->type_map was given by the user and must not grow */
} import_opts;

/* The registered formats, in table order (import_registry.c): i < import_format_count(). */
size_t import_format_count(void);
import_format import_format_at(size_t i);
/* "deepmd, deepmd-raw, ...": every registered name. */
const char *import_format_names(void);

/* Name of a format ("deepmd", ...); "auto" for IMPORT_AUTO. */
const char *import_format_name(import_format f);
/* One-line description for help texts ("" for IMPORT_AUTO). */
const char *import_format_help(import_format f);
/* Parse a format name ("auto" or a registered name); an unknown name is RK_EINPUT listing the
 * valid ones. */
rk_status import_format_parse(const char *name, import_format *f);
/* Guess the format of a file or directory (RK_EINPUT if it cannot be recognised). */
rk_status import_detect(const char *path, import_format *f);

/* Set dst's type map from "O,H" (symbols must be elements, no duplicates). dst must be empty. */
rk_status import_set_type_map(dataset_t *dst, const char *list);
/* Import one source, appending its systems to dst (unsorted; call dataset_sort afterwards).
 * *fmt_used (may be NULL) receives the format actually used. */
rk_status import_source(const char *path, const import_opts *opts, dataset_t *dst,
                        import_format *fmt_used);

/* Periodic table: symbol of atomic number z (1..IMPORT_Z_MAX) or NULL; z of a symbol or 0. */
#define IMPORT_Z_MAX 118
const char *import_element_symbol(int z);
int import_element_z(const char *symbol);

#endif
