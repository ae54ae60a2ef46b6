/* cmd_run: placeholder until the subcommand lands; fails loudly rather than pretending. */
#include "cmd.h"

rk_status cmd_run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return err_set(RK_ERUNTIME, "'run' is not implemented yet");
}
