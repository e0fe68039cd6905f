/* The sink: per-stream queues of converted events, batches sent with the
** exact expected version of their stream (one request per stream at a
** time), outcomes interpreted as the answer table says (advance, reconcile,
** retry the identical request, stop), stream positions learned from the
** target, and the acknowledged frontier of the store that the checkpoint
** saves.  It speaks no protocol and does no I/O: it hands out operations
** (append these events to stream S after version E, read the head of S,
** read S forward from N, write S's metadata) and takes back outcomes; a
** protocol module (target.h) turns them into requests and answers, so tests
** can drive every outcome by hand. */
#ifndef RP_SINK_H
#define RP_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "store.h"
#include "util.h"

/* Settings of a sink.  Strings are copied. */
struct rp_sink_options {
    const char *source_id;    /* as in the events' replicatedFrom metadata */
    int source_metadata;      /* 1: events carry replicatedFrom */
    size_t batch_events;      /* most events in one append (>= 1) */
    size_t batch_bytes;       /* most bytes in one append, counted as each
                                 event's type, data and metadata plus
                                 RP_SINK_EVENT_OVERHEAD (one event is
                                 always sent, whatever its size) */
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

/* Bytes an event counts for in batch_bytes beyond its type, data and
** metadata: its id and the framing around it on the wire. */
#define RP_SINK_EVENT_OVERHEAD 64

/* What the sink asks of the target. */
enum rp_sink_op {
    RP_SINK_APPEND,       /* append 'nevents' events to 'stream', whose last
                             event number must be 'expected' */
    RP_SINK_READ_HEAD,    /* read the last event of 'stream' */
    RP_SINK_READ_FORWARD, /* read at most 'count' events of 'stream' from
                             event number 'from' on, oldest first */
    RP_SINK_SET_METADATA  /* write the metadata of 'stream': one event whose
                             data is the metadata object (any version) */
};

/* 'expected' of an append to a stream that must not exist yet. */
#define RP_SINK_NO_STREAM (-1)

/* An operation the sink wants carried out.  Borrowed from the sink: valid,
** unchanged, until it is given back to rp_sink_done() or
** rp_sink_abandon(), or the sink is freed.  The same operation given out
** again after an unknown outcome is the identical request: a protocol that
** encodes it the same way sends the same bytes. */
struct rp_sink_req {
    int op;             /* an enum rp_sink_op */
    const char *stream; /* target stream name (UTF-8, NUL-terminated) */
    size_t stream_len;  /* bytes in 'stream' */
    int64_t expected;   /* APPEND: last event number the stream must have
                           (RP_SINK_NO_STREAM: it must not exist) */
    size_t nevents;     /* APPEND, SET_METADATA: events to write, read with
                           rp_sink_req_event() */
    int64_t from;       /* READ_FORWARD: first event number wanted */
    size_t count;       /* READ_HEAD, READ_FORWARD: most events wanted */
    int require_leader; /* 1: only the cluster's leader may carry it out */
    void *user;         /* for the caller (the sink never reads it) */
};

/* One event to write, in no protocol's form.  Its pointers are borrowed
** from the sink until the sink is next changed (a call other than the
** read-only ones): encode it at once. */
struct rp_sink_event {
    const unsigned char *id; /* 16 bytes, the event id (RFC 4122 order) */
    const char *type;        /* event type, UTF-8 */
    size_t type_len;
    const char *data; /* the data: JSON text when data_json, else bytes */
    size_t data_len;
    int data_json;        /* 1: 'data' is one JSON value's text */
    const char *metadata; /* JSON text, or NULL when the event has none */
    size_t metadata_len;
};

/* Event 'i' (< req->nevents) of an APPEND or SET_METADATA operation. */
void rp_sink_req_event(const struct rp_sink_req *req, size_t i,
                       struct rp_sink_event *out);

/* What became of an operation, in no protocol's terms. */
enum rp_sink_kind {
    RP_SINK_WRITTEN,       /* the events are in the stream (written now, or
                              recognised as an exact repeat) */
    RP_SINK_WRONG_VERSION, /* nothing written: the stream's last event number
                              is 'number' (RP_SINK_NO_STREAM: none) */
    RP_SINK_EVENTS,        /* a read's events, oldest first */
    RP_SINK_NOT_FOUND,     /* a read found no such stream */
    RP_SINK_DELETED,       /* the stream was deleted for good (tombstone) */
    RP_SINK_UNKNOWN,       /* no definitive answer: the identical request
                              goes again, after a back-off */
    RP_SINK_LEADER,        /* not the leader; the protocol now knows which
                              node is: the identical request goes again */
    RP_SINK_REFUSED,       /* refused for good: the run stops */
    RP_SINK_BAD_ANSWER     /* an answer that cannot be read: the run stops */
};

/* 'number' of a WRITTEN outcome that did not say where the events went. */
#define RP_SINK_NO_NUMBER INT64_MIN

/* The largest event number an outcome may carry: far beyond any real
** stream, low enough that the sink's sums cannot overflow.  An outcome
** with a number above it (or below -1) stops the run as an answer that
** cannot be read. */
#define RP_SINK_MAX_NUMBER (INT64_MAX / 4)

/* One event of a read. */
struct rp_sink_read_event {
    int64_t number;       /* its event number in the stream */
    int has_id;           /* 1 when 'id' is known */
    unsigned char id[16]; /* its id */
    const char *type;     /* its type (may be NULL) */
    size_t type_len;      /* bytes in 'type' */
    const char *data;     /* its data (may be NULL when not given) */
    size_t data_len;      /* bytes in 'data' */
    const char *metadata; /* its metadata bytes, or NULL */
    size_t metadata_len;  /* bytes in 'metadata' */
};

/* An outcome.  Plain data: a protocol fills it from an answer, and unit
** tests build it by hand.  Pointers are borrowed from whoever filled it,
** for the rp_sink_done() call. */
struct rp_sink_outcome {
    int kind;                                /* an enum rp_sink_kind */
    int64_t number;                          /* WRITTEN: last event number
                                                written (RP_SINK_NO_NUMBER
                                                when not said);
                                                WRONG_VERSION: the stream's
                                                current version */
    const struct rp_sink_read_event *events; /* EVENTS: oldest first */
    size_t nevents;                          /* how many */
    uint64_t retry_after_ms; /* UNKNOWN: the server asked for this pause */
    int no_answer;           /* 1: nothing came back ('words' is the
                                transport's error) */
    char words[400];         /* what the server said (status and reason,
                                the start of its text), for messages */
    const char *hint;        /* REFUSED: what the user can do (static text),
                                or NULL */
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

/* Give back 'req' with its outcome 'out' at time 'now_ms'.  Returns 0 (the
** outcome was handled: advance, retry later, read, re-post), or
** RP_ECONFLICT / RP_EREFUSED / RP_EFORMAT when the run must stop (err names
** the record, the key, the stream and the server's words). */
int rp_sink_done(struct rp_sink *s, struct rp_sink_req *req,
                 const struct rp_sink_outcome *out, uint64_t now_ms,
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
/* 1 once the checkpoint stream was found deleted for good: no checkpoint
** events are written or expected any more. */
int rp_sink_markers_off(const struct rp_sink *s);

/* Ask the target, once, to keep only the last 'max_count' events of the
** checkpoint stream 'stream' ($maxCount in its metadata), with the event id
** 'id'.  The operation goes out first through rp_sink_next(); its outcome
** is logged, and a refusal changes nothing else.  Nothing is asked when
** the checkpoint stream is off. */
void rp_sink_cap_markers(struct rp_sink *s, const char *stream,
                         uint64_t max_count, const unsigned char id[16]);

/* Set the frontier to 'pos' before any record was added (the resume point
** became known after the sink was made). */
void rp_sink_set_frontier(struct rp_sink *s, const struct rp_store_pos *pos);

/* 1 while the target is failing (since the first unknown outcome, until
** the next answer); *since_ms gets when it began. */
int rp_sink_outage(const struct rp_sink *s, uint64_t *since_ms);

void rp_sink_get_stats(const struct rp_sink *s, struct rp_sink_stats *out);

#endif
