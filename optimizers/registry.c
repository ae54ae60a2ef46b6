/* registry: the one table that names every registered optimizer (GSL-style: found by name; an
 * unknown name is answered with the list of valid ones). Adding an optimizer is one file in this
 * folder defining `const optim_type optim_NAME` and one line X(optim_NAME) in OPTIM_TYPES below,
 * which both declares it and enters it in the table.
 */
#include "registry.h"

#include <stdio.h>
#include <string.h>

/* Every registered type, in the order of `rlekf list` and of optim_names(). */
#define OPTIM_TYPES(X)                                                                             \
    X(optim_gekf)                                                                                  \
    X(optim_rlekf)                                                                                 \
    X(optim_lekf)                                                                                  \
    X(optim_adam)                                                                                  \
    X(optim_sgd)

#define OPTIM_DECLARE(type) extern const optim_type type;
OPTIM_TYPES(OPTIM_DECLARE)
#define OPTIM_ENTRY(type) &type,
static const optim_type *const optim_registry[] = {OPTIM_TYPES(OPTIM_ENTRY)};

/* What a configuration without an optimizer section trains with. */
#define OPTIM_DEFAULT (&optim_rlekf)

#define OPTIM_N_TYPES (sizeof optim_registry / sizeof optim_registry[0])
/* Room for "gekf, rlekf, lekf, adam, ...". */
#define OPTIM_NAMES_MAX 512

const optim_type *optim_find(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < OPTIM_N_TYPES; i++)
        if (strcmp(optim_registry[i]->name, name) == 0) return optim_registry[i];
    return NULL;
}

size_t optim_count(void) {
    return OPTIM_N_TYPES;
}

const optim_type *optim_default(void) {
    return OPTIM_DEFAULT;
}

const optim_type *optim_at(size_t i) {
    return i < OPTIM_N_TYPES ? optim_registry[i] : NULL;
}

const char *optim_names(void) {
    static char buf[OPTIM_NAMES_MAX];
    if (!buf[0]) {
        size_t len = 0;
        for (size_t i = 0; i < OPTIM_N_TYPES; i++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "",
                                    optim_registry[i]->name);
    }
    return buf;
}
