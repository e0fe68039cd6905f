/* The subcommands of bin/replicator.  Each takes the arguments after its
** name (argv[0] is the command name) and returns the process exit status. */
#ifndef RP_COMMANDS_H
#define RP_COMMANDS_H

#endif
