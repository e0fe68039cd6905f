/* The subcommands of bin/replicator.  Each takes the arguments after its
** name (argv[0] is the command name) and returns the process exit status. */
#ifndef RP_COMMANDS_H
#define RP_COMMANDS_H

/* replicator dump: the store's records as JSON lines (cmd_dump.c). */
int rp_cmd_dump(int argc, char **argv);
/* replicator import: append JSON lines to a store (cmd_import.c). */
int rp_cmd_import(int argc, char **argv);
/* dry-run: print the events the script makes of the store's records. */
int rp_cmd_dry_run(int argc, char **argv);
/* replicator run: the replication daemon (cmd_run.c). */
int rp_cmd_run(int argc, char **argv);

#endif
