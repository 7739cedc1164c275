/*
 * commands.h - the subcommands of the descent program.
 */
#ifndef DESCENT_CLI_COMMANDS_H
#define DESCENT_CLI_COMMANDS_H

/* Each returns the process exit status: 0 on success, 1 on a runtime failure,
 * 2 on a usage error. argv[0] is the subcommand's name. */
int cmd_train(int argc, char **argv);
int cmd_lr_find(int argc, char **argv);
int cmd_optimizers(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_sweep(int argc, char **argv);

/* Whether `descent train` has the option --name: 1 when it takes a value,
 * 2 for a flag, 0 when it has none (for the options `descent sweep` sweeps). */
int cmd_train_option_kind(const char *name);

#endif /* DESCENT_CLI_COMMANDS_H */
