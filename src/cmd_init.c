/* cmd_init: placeholder until the subcommand lands; fails loudly rather than pretending. */
#include "cmd.h"

rk_status cmd_init(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return err_set(RK_ERUNTIME, "'init' is not implemented yet");
}
