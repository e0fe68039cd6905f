/* The conversion pipeline: records go in in store order and come out in the
** same order, each with the events the script made of it.  With one worker
** the caller's thread converts them; with more, each worker is a thread
** with a Lua state of its own, and the order out is still the store's. */
#ifndef RP_PIPELINE_H
#define RP_PIPELINE_H

#include <stddef.h>

#include "config.h"
#include "event.h"
#include "script.h"
#include "store.h"
#include "util.h"

/* Records read ahead (their bytes, whatever the number of workers) before
** rp_pipeline_room() says no; at most 2048 records in any case. */
#define RP_PIPELINE_AHEAD_BYTES (4u << 20)
/* Event text converted and waiting for its turn before the workers pause
** (each may finish the record it is converting). */
#define RP_PIPELINE_WAITING_BYTES (4u << 20)

/* One record on its way out.  Borrowed from the pipeline: valid until
** rp_pipeline_pop(), rp_pipeline_reload(), rp_pipeline_discard() or
** rp_pipeline_free(). */
struct rp_converted {
    const struct rp_record *rec;    /* the record as it was put */
    const struct rp_events *events; /* its events (NULL when it has none):
                                       rp_pipeline_event() */
    size_t count;                   /* how many events it has */
    int rc;                /* 0, or RP_ESCRIPT / RP_ELIMIT: convert() failed,
                              and the record has no events */
    const char *error;     /* when rc < 0: the message naming the record,
                              exactly as rp_script_convert() gives it */
    const char *traceback; /* when rc < 0: the script's full traceback */
};

/* A pipeline; opaque. */
struct rp_pipeline;

/* Make a pipeline of cfg->workers workers split by cfg->partition.  Takes
** ownership of 'first', a state loaded from cfg->script and configured
** (rp_script_apply_config), even on failure; it becomes worker 0, and
** each further worker loads cfg->script again into a state of its own.
** 'cfg' is borrowed until rp_pipeline_free() (reloading reads it again).
** Returns 0, what rp_script_new() returns when a further state does not
** load (the message names the script), or RP_EIO when a thread cannot
** start. */
int rp_pipeline_new(struct rp_pipeline **out, struct rp_script *first,
                    const struct rp_config *cfg, struct rp_error *err);

/* Stop the workers (each finishes the record it is converting), close
** every state and free everything.  Accepts NULL. */
void rp_pipeline_free(struct rp_pipeline *p);

/* The number of workers. */
size_t rp_pipeline_workers(const struct rp_pipeline *p);

/* 1 when rp_pipeline_put() may be called: the records read ahead are
** under their bounds.  0 means: take records out first. */
int rp_pipeline_room(const struct rp_pipeline *p);

/* Hand in the next record in store order (after rp_pipeline_room() said
** 1).  Its bytes are copied.  Records are handed to the workers in groups;
** a group goes when it is full, or at rp_pipeline_flush().  Cannot fail. */
void rp_pipeline_put(struct rp_pipeline *p, const struct rp_record *rec);

/* The reader has nothing more for now: hand the records put so far to the
** workers without waiting for more.  Cannot fail. */
void rp_pipeline_flush(struct rp_pipeline *p);

/* The next record in store order, once it is converted: returns 1 with
** *out set (the same record until rp_pipeline_pop()), or 0 when it is not
** ready (being converted, or put and not yet flushed) or nothing is
** pending.  With 'wait', blocks until a record that was flushed is
** converted.  With one worker the conversion happens here, on the
** caller's thread. */
int rp_pipeline_next(struct rp_pipeline *p, int wait,
                     const struct rp_converted **out);

/* Event 'i' (< count) of a record given by rp_pipeline_next(); borrowed
** as the record is. */
const struct rp_event *rp_pipeline_event(const struct rp_converted *c,
                                         size_t i);

/* Done with the record rp_pipeline_next() gave: the next one may come. */
void rp_pipeline_pop(struct rp_pipeline *p);

/* Records put and not yet popped. */
size_t rp_pipeline_pending(const struct rp_pipeline *p);

/* A file descriptor that becomes readable when rp_pipeline_next() may
** have a record that it did not have when it last returned 0 (for a poll
** loop), or -1 with one worker (nothing converts in the background).
** rp_pipeline_next() reads it empty. */
int rp_pipeline_fd(const struct rp_pipeline *p);

/* For each key of a record put and not yet popped, call fn once with the
** key's record count before its first such record (its stream version
** minus one): what a checkpoint saved now must count for that key, since
** the reader has counted records that did not reach the target.  Returns
** 0 or fn's first non-zero value. */
int rp_pipeline_counts(const struct rp_pipeline *p, rp_store_count_fn fn,
                       void *ctx);

/* Load cfg->script again into a fresh state for every worker (the
** workers pause meanwhile), with the same settings.  When every state
** loads, they replace the old ones, and every record not yet popped is
** converted again by them: the record that rp_pipeline_next() gives next
** is the first one the new script sees.  When one fails, nothing changes
** and the error (naming the script) is returned; a script whose config
** table states another partition is refused (RP_EINVAL): that needs a
** restart. */
int rp_pipeline_reload(struct rp_pipeline *p, struct rp_error *err);

/* Forget every record not yet popped (the reader starts over).  Cannot
** fail. */
void rp_pipeline_discard(struct rp_pipeline *p);

/* What the pipeline holds now. */
struct rp_pipeline_stats {
    size_t records;      /* put and not yet popped */
    size_t record_bytes; /* their keys, data and file names */
    size_t event_bytes;  /* event text converted and not yet taken */
};

void rp_pipeline_get_stats(struct rp_pipeline *p,
                           struct rp_pipeline_stats *out);

#endif
