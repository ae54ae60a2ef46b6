/* import_registry: the one table that names every importer (GSL-style: found by name, an unknown
 * name answered with the list of valid ones). Its order is also the tie-break of --format auto
 * (see import_internal.h). Adding a format is one file import_<format>.c defining a const
 * import_type, and one line in import_registry[] below.
 */
#include "import.h"

#include <stdio.h>

#include "import_internal.h"

extern const import_type import_deepmd, import_deepmd_raw, import_movement, import_pwdata,
    import_mlearn, import_extxyz;

static const import_type *const import_registry[] = {
    &import_deepmd, /* before deepmd-raw: a directory with both set.NNN and *.raw is npy */
    &import_deepmd_raw, &import_movement, &import_pwdata, &import_mlearn, &import_extxyz,
};

#define IMPORT_N_TYPES (sizeof import_registry / sizeof import_registry[0])
/* Room for "deepmd, deepmd-raw, movement, ...". */
#define IMPORT_NAMES_MAX 256

size_t import_format_count(void) {
    return IMPORT_N_TYPES;
}

import_format import_format_at(size_t i) {
    return i < IMPORT_N_TYPES ? import_registry[i] : NULL;
}

const char *import_format_names(void) {
    static char buf[IMPORT_NAMES_MAX];
    if (!buf[0]) {
        size_t len = 0;
        for (size_t i = 0; i < IMPORT_N_TYPES && len < sizeof buf; i++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "",
                                    import_registry[i]->name);
    }
    return buf;
}
