/* Settings: every knob of the program in one plain struct, filled from
** defaults, then from the script's `config` table, then from command-line
** flags (a flag always wins).  Each setting has one name: `batch_events` in
** the config table is `--batch-events` on the command line. */
#ifndef RP_CONFIG_H
#define RP_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "util.h"

/* All settings.  Strings are owned by the struct (rp_config_dispose frees
** them) and NULL when unset.  The table in config.c lists each one with its
** type, range and help text; keep the two in step. */
struct rp_config {
    char *script;             /* path of the Lua script (flag only) */
    char *store;              /* folder of the Lokad store to read */
    char *target;             /* EventStoreDB base URL, e.g.
                                 http://127.0.0.1:2113, or a gRPC connection
                                 string, e.g. kurrentdb://127.0.0.1:2113 */
    char *source_id;          /* names the source in event ids and in the
                                 replicatedFrom metadata; default: the store
                                 folder's base name */
    int source_metadata;      /* 1 (default): add "replicatedFrom" to each
                                 event's metadata object */
    uint64_t time_limit_ms;   /* longest one convert() call (or the script's
                                 loading) may run; default 1000 */
    uint64_t memory_limit_mb; /* most memory the script's Lua state may
                                 hold, in MiB; default 256 */
    uint64_t max_event_bytes; /* most data + metadata bytes of one event;
                                 default 4 MiB, the HTTP API's limit */
    uint64_t batch_events;    /* most events in one append request; 500 */
    uint64_t batch_bytes;     /* most bytes in one append request (types,
                                 data and metadata of its events, and 64 an
                                 event); default 1 MiB */
    uint64_t poll_ms;         /* how often a live store is checked for new
                                 records when no change notice comes; 500 */
    char *checkpoint;         /* file of the local checkpoint; NULL: the
                                 replication command's default */
    uint64_t checkpoint_max_count; /* $maxCount given to the checkpoint stream
                                      when a run creates it; 0: none; 10000 */
    int log_level;                 /* an enum rp_log_level; default info */
    uint64_t max_in_flight;        /* most append/read requests out at once (one
                                      per stream); default 16 */
    char *gossip_seed;             /* comma-separated cluster node URLs to ask
                                      for the leader (GET /gossip), or NULL */
    char *credentials;             /* file holding "user:password", or NULL (the
                                      environment is used) */
    char *cacert;                  /* CA bundle verifying an https target */
    int insecure_skip_tls_verify;  /* 1: do not verify the target's TLS
                                      certificate (default 0) */
    uint64_t connect_timeout_ms;   /* connection set-up limit; default 5000 */
    uint64_t request_timeout_ms;   /* one request's limit; default 30000 */
    uint64_t workers;              /* Lua states converting records at once,
                                      each on a thread of its own when more
                                      than 1; default 1 */
    int partition;                 /* an enum rp_partition: which records a
                                      worker may get; set only by the
                                      script's config table */
};

/* How records are split between workers: the script states it, since it
** depends on what convert() keeps from one record to the next. */
enum rp_partition {
    RP_PARTITION_UNSET, /* not stated: one worker only */
    RP_PARTITION_NONE,  /* any record to any worker: convert() keeps nothing
                           that changes its output */
    RP_PARTITION_KEY    /* every record of one store key to the same worker,
                           in store order: state per key is kept */
};

/* Fill 'cfg' with the defaults.  Cannot fail. */
void rp_config_init(struct rp_config *cfg);
/* Free the strings; the struct may then be initialised again. */
void rp_config_dispose(struct rp_config *cfg);

/* Set the setting 'name' (as in the config table, e.g. "batch_events") from
** its text form: strings as they are, numbers in decimal, booleans "true" or
** "false", log_level one of error/warn/info/debug.  'origin' names where the
** value came from for error messages ("config table of x.lua").  Returns 0,
** RP_ENOENT when no setting has that name, or RP_EINVAL (message in err). */
int rp_config_set(struct rp_config *cfg, const char *name, const char *value,
                  const char *origin, struct rp_error *err);

/* 1 when 'name' is a setting the script's config table may hold. */
int rp_config_known(const char *name);

/* Try argv[*i] as a settings flag: "--name VALUE", "--name=VALUE", and for
** booleans "--name" and "--no-name".  On success *i is left on the last
** argument used.  Returns 1 (consumed), 0 (not a settings flag: the command
** handles it), or RP_EINVAL (err says why). */
int rp_config_flag(struct rp_config *cfg, int argc, char **argv, int *i,
                   struct rp_error *err);

/* A command's own options, tried on argv[*i] before the settings flags.
** Returns 1 (consumed; *i left on the last argument used), 0 (not one of
** its options) or RP_EINVAL (err says why). */
typedef int (*rp_config_option_fn)(void *ctx, int argc, char **argv, int *i,
                                   struct rp_error *err);

/* Parse a command's arguments argv[1..argc-1]: "--help" or "-h" sets *help
** (unless 'help' is NULL),
** 'option' (may be NULL) is tried first on every other argument, then
** rp_config_flag; anything else is an unknown option.  Commands run it twice:
** before the script is loaded (to find it) and after the script's config
** table was read (so flags win).  Returns 0 or RP_EINVAL (err says why). */
int rp_config_parse_args(struct rp_config *cfg, int argc, char **argv,
                         rp_config_option_fn option, void *ctx, int *help,
                         struct rp_error *err);

/* Fill what the other settings imply (source_id from the store folder)
** and check the settings together (workers above 1 need a partition).
** Returns 0 or RP_EINVAL. */
int rp_config_finish(struct rp_config *cfg, struct rp_error *err);

/* The first pass of a command that runs a script: rp_config_parse_args;
** then "--help" prints usage(stdout), else --script is required.  Returns
** 0 (go on: cfg->script is set), 1 (help printed), RP_EINVAL (bad
** arguments) or RP_ENOENT (no --script), err saying why. */
int rp_config_start(struct rp_config *cfg, int argc, char **argv,
                    rp_config_option_fn option, void *ctx,
                    void (*usage)(FILE *out), struct rp_error *err);

/* The second pass, once the script's config table is in 'cfg': parse the
** arguments again (so flags win), then rp_config_finish, and require a
** store.  Returns 0 or RP_EINVAL (err says why). */
int rp_config_complete(struct rp_config *cfg, int argc, char **argv,
                       rp_config_option_fn option, void *ctx,
                       struct rp_error *err);

/* Print one line per settings flag with its help text. */
void rp_config_usage(FILE *out);

#endif
