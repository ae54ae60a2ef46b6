/* cmd_report: placeholder until the subcommand lands; fails loudly rather than pretending. */
#include "cmd.h"

rk_status cmd_report(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return err_set(RK_ERUNTIME, "'report' is not implemented yet");
}
