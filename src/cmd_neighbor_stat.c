/* cmd_neighbor_stat: placeholder until the subcommand lands; fails loudly rather than pretending. */
#include "cmd.h"

rk_status cmd_neighbor_stat(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return err_set(RK_ERUNTIME, "'neighbor_stat' is not implemented yet");
}
