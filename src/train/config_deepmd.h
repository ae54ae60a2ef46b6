/* config_deepmd: DeePMD-kit's input.json as a run config.
 *
 * model.type_map, model.descriptor (se_e2_a), model.fitting_net, learning_rate (exp), loss (ener)
 * and training map onto rlekf's model keys, Adam's hyper-parameters and the training keys of
 * config.h. One table (config_deepmd.c) lists every DeePMD-kit key rlekf accepts, what it maps
 * to, and DeePMD-kit's default where the key is absent (an absent key means what DeePMD-kit would
 * do). A key rlekf does not implement, or a value it does not support (descriptor se_e3,
 * a virial prefactor), is a one-line input error naming the key path and value; never
 * silently ignored. Keys with no effect on the result (display, checkpoint and profiling
 * control) are accepted: they are the table's "bookkeeping" rows. Keys starting with '_' are
 * comments, as in DeePMD-kit.
 *
 * rlekf's own training keys may appear in the training section too (e.g. max_train_frames),
 * rlekf's "optimizer" section may replace learning_rate and loss (e.g. {"type": "rlekf"}), and
 * "output" names the output folder.
 */
#ifndef RLEKF_CONFIG_DEEPMD_H
#define RLEKF_CONFIG_DEEPMD_H

#include <stdio.h>

#include "config.h"

/* True if root is spelled as a DeePMD-kit input (it has a key rlekf's spelling does not). */
int config_deepmd_detect(const jsonw *root);
/* Map root (from file path) onto tc (start from config_default) and data. */
rk_status config_deepmd_parse(const jsonw *root, const char *path, train_config *tc,
                              config_data *data);
/* The table as Markdown (experiments/README.md, between its deepmd-keys markers). */
void config_deepmd_print_markdown(FILE *f);

#endif
