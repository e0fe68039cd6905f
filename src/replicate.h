/* The replication loop: tail the store, convert each record with the
** script, keep the target in step through the sink, save the checkpoint,
** ride out outages, stop cleanly on a signal or an error. */
#ifndef RP_REPLICATE_H
#define RP_REPLICATE_H

#include <stddef.h>

#include "config.h"
#include "pipeline.h"
#include "util.h"

/* What `replicator run` needs beyond the settings of struct rp_config.
** Strings are borrowed for the run. */
struct rp_replicate_options {
    const struct rp_config *cfg; /* store, target, source id, batches, poll,
                                    checkpoint path (NULL: the default) */
    const char *targets;         /* comma-separated node URLs (cfg->target) */
    const char *gossip_seeds;    /* comma-separated URLs to ask for /gossip, or
                                    NULL */
    size_t max_in_flight;        /* requests out at once */
    const char *username;        /* Basic auth, or NULL */
    const char *password;
    const char *cacert; /* CA bundle for https, or NULL */
    int insecure;       /* 1: do not verify TLS certificates */
    long connect_timeout_ms;
    long request_timeout_ms;
    int until_caught_up; /* 1: exit once the store's records are all
                            acknowledged */
    int progress;        /* 1: a progress line on stderr (a terminal) */
};

/* Replicate until a signal (SIGINT/SIGTERM), until caught up (with
** until_caught_up), or until an error stops the run.  Records are converted
** by 'pipe' (new: nothing put into it yet), which stays the caller's.
** Returns 0 (stopped cleanly, checkpoint saved), or a negative RP_E* code
** with err set (the checkpoint is saved as far as the target
** acknowledged). */
int rp_replicate_run(struct rp_pipeline *pipe,
                     const struct rp_replicate_options *opt,
                     struct rp_error *err);

#endif
