/* cmd: the subcommands of the rlekf executable. Each lives in src/cmd_<name>.c, parses its own
 * arguments (every one has --help), and returns an rk_status; main() prints err_msg() and exits
 * with err_exit_code(). */
#ifndef RLEKF_CMD_H
#define RLEKF_CMD_H

#include "err.h"

rk_status cmd_import(int argc, char **argv);
rk_status cmd_neighbor_stat(int argc, char **argv);
rk_status cmd_init(int argc, char **argv);
rk_status cmd_eval(int argc, char **argv);
rk_status cmd_train(int argc, char **argv);
rk_status cmd_plan(int argc, char **argv);
rk_status cmd_run(int argc, char **argv);
rk_status cmd_report(int argc, char **argv);
rk_status cmd_list(int argc, char **argv);
rk_status cmd_md(int argc, char **argv);

/* True if argv holds -h or --help. */
int cmd_wants_help(int argc, char **argv);

#endif
