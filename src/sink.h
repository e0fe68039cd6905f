/* The sink: per-stream queues of converted events, batches sent with the
** exact expected version of their stream (one request per stream at a
** time), answers interpreted as DESIGN.md's table says, stream positions
** learned from the target, and the acknowledged frontier of the store that
** the checkpoint saves.  It builds requests and reads answers but does no
** I/O itself: the loop carries requests over HTTP, so tests can drive every
** answer by hand. */
#ifndef RP_SINK_H
#define RP_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "http.h"
#include "store.h"
#include "util.h"

/* Settings of a sink.  Strings are copied. */
struct rp_sink_options {
    const char *source_id;    /* as in the events' replicatedFrom metadata */
    int source_metadata;      /* 1: events carry replicatedFrom */
    size_t batch_events;      /* most events in one append (>= 1) */
    size_t batch_bytes;       /* most body bytes in one append (one event
                                 is always sent, whatever its size) */
    size_t max_event_bytes;   /* most data + metadata bytes of one event */
    size_t max_in_flight;     /* most requests out at once (>= 1) */
    size_t max_buffer_bytes;  /* queued event text before rp_sink_full() */
    size_t max_buffer_events; /* queued events before rp_sink_full() */
    size_t max_records;       /* unacknowledged records before full */
    size_t max_streams;       /* idle streams remembered (least recently
                                 used ones are forgotten, then re-learned) */
    int cluster;              /* 1: require the leader on writes */
    uint64_t backoff_min_ms;  /* first retry delay (0: 200) */
    uint64_t backoff_max_ms;  /* retry delay cap (0: 10000) */
    unsigned seed;            /* jitter seed (0: from the clock) */
};

/* A request the sink wants sent.  Borrowed from the sink: valid, unchanged,
** until it is given back to rp_sink_done() or the sink is freed. */
struct rp_sink_req {
    int post;                   /* 1: POST body (append), 0: GET (read) */
    const char *path;           /* path and query after the target's base
                                   URL, e.g. "/streams/a%20b" */
    const char *const *headers; /* NULL-terminated "Name: value" list */
    const char *body;           /* POST body */
    size_t body_len;            /* its length */
    void *user;                 /* for the loop (the sink never reads it) */
};

/* Counters for logs and the progress line. */
struct rp_sink_stats {
    uint64_t events_acked;   /* events the target confirmed (or held) */
    uint64_t events_skipped; /* of those: found already there */
    uint64_t appends;        /* append answers 201 */
    uint64_t retries;        /* requests re-sent after an unknown outcome */
    uint64_t reads;          /* stream reads (learning, reconciling) */
    size_t streams;          /* streams remembered now */
    size_t queued_events;    /* events waiting or in flight */
    size_t queued_bytes;     /* their text */
    size_t records;          /* records read and not yet acknowledged */
    size_t in_flight;        /* requests out */
};

struct rp_sink;

/* Create a sink whose frontier starts at 'start' (the position the reader
** resumes after; records then come with consecutive store versions from
** start->store_version + 1).  Cannot fail but on bad options (RP_EINVAL). */
int rp_sink_new(struct rp_sink **out, const struct rp_sink_options *opt,
                const struct rp_store_pos *start, struct rp_error *err);
/* Free the sink, its queues and its requests.  Accepts NULL. */
void rp_sink_free(struct rp_sink *s);

/* Add the next record read from the store (its store version must follow
** the previous one) before its events.  The record's strings are copied.
** Returns 0. */
int rp_sink_add_record(struct rp_sink *s, const struct rp_record *rec,
                       struct rp_error *err);
/* Queue one event of the record last added.  Returns 0, or RP_ELIMIT when
** the event is larger than max_event_bytes (err names the record, the key,
** the event and the stream). */
int rp_sink_add_event(struct rp_sink *s, const struct rp_event *ev,
                      struct rp_error *err);

/* Check that event 'ev' of record 'rec' can be sent (its size) before
** the record is added.  Returns 0 or RP_ELIMIT naming the record, the key,
** the event and the stream. */
int rp_sink_check_event(const struct rp_sink *s, const struct rp_record *rec,
                        const struct rp_event *ev, struct rp_error *err);

/* 1 when the buffers are over their bounds: stop reading the store until
** answers have drained them. */
int rp_sink_full(const struct rp_sink *s);
/* 1 when every record added is acknowledged and nothing is out. */
int rp_sink_idle(const struct rp_sink *s);

/* The next request to send at time 'now_ms', or NULL when none may go now
** (nothing to send, the in-flight limit, or a back-off).  Without 'flush',
** only batches that are full go; with it, partial ones go too (the reader
** has nothing more for now, or the buffers are full). */
struct rp_sink_req *rp_sink_next(struct rp_sink *s, uint64_t now_ms, int flush);
/* Milliseconds from 'now_ms' until a backed-off request may go (0: now or
** nothing waits on time; the loop then waits for other reasons). */
uint64_t rp_sink_wait_ms(const struct rp_sink *s, uint64_t now_ms);

/* Give back 'req' with the answer 'res' at time 'now_ms'.  Returns 0 (the
** answer was handled: advance, retry later, read, re-post), or RP_ECONFLICT
** / RP_EREFUSED / RP_EFORMAT when the run must stop (err names the record,
** the key, the stream and the server's words). */
int rp_sink_done(struct rp_sink *s, struct rp_sink_req *req,
                 const struct rp_http_result *res, uint64_t now_ms,
                 struct rp_error *err);
/* Give back 'req' unanswered (shutdown): its events stay unacknowledged. */
void rp_sink_abandon(struct rp_sink *s, struct rp_sink_req *req);

/* The acknowledged frontier: the last record such that it and every record
** before it are fully acknowledged. */
void rp_sink_frontier(struct rp_sink *s, struct rp_store_pos *out);
/* For each key of a record after the frontier, call fn with the key's
** record count at the frontier (its first unacknowledged stream version
** minus one); other keys' counts at the frontier are the reader's.  A key
** is reported once.  Returns 0 or fn's first non-zero value. */
int rp_sink_frontier_counts(struct rp_sink *s, rp_store_count_fn fn, void *ctx);

/* Queue a checkpoint event (type "ReplicatorCheckpoint", data 'json') for
** the stream 'stream'; it replaces one that has not gone out yet.  Such
** events belong to no record.  Returns 0 or RP_ELIMIT. */
int rp_sink_put_marker(struct rp_sink *s, const char *stream, const char *json,
                       size_t json_len, const unsigned char id[16],
                       struct rp_error *err);
/* 1 while a checkpoint event is queued or out. */
int rp_sink_marker_pending(const struct rp_sink *s);
/* The checkpoint stream's request if it has one ready (shutdown: only the
** checkpoint goes out), else NULL. */
struct rp_sink_req *rp_sink_next_marker(struct rp_sink *s, uint64_t now_ms);

/* Ask for the last event of the checkpoint stream 'stream' (to resume
** without a local checkpoint, or to check that the target still holds what
** the local one says).  The read goes out through rp_sink_next() with the
** usual retries. */
void rp_sink_fetch_marker(struct rp_sink *s, const char *stream);
/* After rp_sink_fetch_marker(): 0 while the answer is awaited; 1 with the
** last checkpoint event's data in *data (valid until the sink changes);
** RP_ENOENT when the stream has no event. */
int rp_sink_marker_fetched(struct rp_sink *s, const char **data, size_t *len);
/* 1 once the checkpoint stream was found deleted for good (410): no
** checkpoint events are written or expected any more. */
int rp_sink_markers_off(const struct rp_sink *s);

/* Set the frontier to 'pos' before any record was added (the resume point
** became known after the sink was made). */
void rp_sink_set_frontier(struct rp_sink *s, const struct rp_store_pos *pos);

/* 1 while the target is failing (since the first unknown outcome, until
** the next answer); *since_ms gets when it began. */
int rp_sink_outage(const struct rp_sink *s, uint64_t *since_ms);

void rp_sink_get_stats(const struct rp_sink *s, struct rp_sink_stats *out);

#endif
