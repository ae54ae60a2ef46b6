/* cmd_import: placeholder until the subcommand lands; fails loudly rather than pretending. */
#include "cmd.h"

rk_status cmd_import(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return err_set(RK_ERUNTIME, "'import' is not implemented yet");
}
