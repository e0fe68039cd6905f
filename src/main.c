/* bin/replicator: process set-up and dispatch to the subcommands. */
#include "commands.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#define RP_VERSION "0.1.0"

struct command {
    const char *name;                 /* as typed on the command line */
    int (*fn)(int argc, char **argv); /* returns the exit status */
    const char *summary;              /* one line for --help */
};

static const struct command commands[] = {
    {"dump", rp_cmd_dump, "print the store's records as JSON lines"},
    {"import", rp_cmd_import, "append JSON lines to a Lokad store"},
    {"dry-run", rp_cmd_dry_run, "print the events the script would send"},
    {"run", rp_cmd_run, "replicate the store to EventStoreDB (the default)"},
    {NULL, NULL, NULL},
};

static void
usage(FILE *out)
{
    const struct command *c;

    fprintf(out, "usage: replicator [COMMAND] [OPTIONS]\n\ncommands:\n");
    for (c = commands; c->name != NULL; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\n'replicator COMMAND --help' describes a command's "
                 "options; see also replicator(1).\n");
}

int
main(int argc, char **argv)
{
    const struct command *c;

    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
        fprintf(stderr, "replicator: error: libcurl cannot start\n");
        return 1;
    }
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
                      !strcmp(argv[1], "help"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "--version")) {
        printf("replicator %s\n", RP_VERSION);
        return 0;
    }
    for (c = commands; c->name != NULL; c++)
        if (argc >= 2 && !strcmp(argv[1], c->name))
            return c->fn(argc - 1, argv + 1);
    /* No command name: the daemon, with every argument as its option. */
    for (c = commands; c->name != NULL; c++)
        if (!strcmp(c->name, "run") && (argc < 2 || argv[1][0] == '-'))
            return c->fn(argc, argv);
    fprintf(stderr, "replicator: unknown command '%s'\n",
            argc >= 2 ? argv[1] : "");
    usage(stderr);
    return 2;
}
