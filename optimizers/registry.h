/* registry: every registered optimizer, found by name (optimizers/registry.c holds the table). */
#ifndef RLEKF_REGISTRY_H
#define RLEKF_REGISTRY_H

#include <stddef.h>

#include "optim.h"

const optim_type *optim_find(const char *name);
size_t optim_count(void);
const optim_type *optim_at(size_t i);
/* The optimizer a configuration that names none trains with. */
const optim_type *optim_default(void);
/* "gekf, rlekf, lekf, adam, ..." for error messages. */
const char *optim_names(void);

#endif
