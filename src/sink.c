/* The sink: per-stream queues and batches with exact expected versions,
** the answer table, stream positions learned from the target, and the
** acknowledged frontier of the store.  No protocol and no I/O here. */
#include "sink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

#define VERSION_UNKNOWN INT64_MIN
#define READ_PAGE 100     /* events per reconciling read (API maximum 4096) */
#define MAX_RELEARN 8     /* write-read cycles without progress before a stop */
#define BATCH_LIMIT 4096  /* events per append even if batch_events is more */
#define STREAM_COST 1024  /* memory of a stream with a queue, for the bound */
#define MAX_LEADER_HOPS 3 /* leader-elsewhere outcomes re-sent at once */

/* One queued event: its source position and id, and its type, data and
** metadata one after the other in the stream's text buffer. */
struct qev {
    uint64_t sv;          /* store version of its record (0: a marker) */
    uint32_t index;       /* position in its record */
    unsigned char id[16]; /* event id */
    size_t off;           /* its type in the stream's 'text' */
    size_t len;           /* type, data and metadata bytes */
    uint32_t type_len;    /* bytes of type at 'off' */
    uint32_t meta_len;    /* bytes of metadata at the end */
    unsigned char json;   /* 1: the data is JSON text */
    unsigned char meta;   /* 1: the event has metadata */
};

/* What a stream waits for, or has out. */
enum op {
    OP_NONE,      /* nothing special: append the queue when its turn comes */
    OP_APPEND,    /* re-send the built batch as it is (outcome unknown) */
    OP_READ_HEAD, /* learn the stream's last event */
    OP_READ_FWD   /* read the events after 'version' up to 'read_target' */
};

enum list { L_NONE, L_URGENT, L_PARTIAL, L_IDLE };

struct stream {
    struct stream *hnext;       /* hash chain */
    struct stream *prev, *next; /* in the list 'list' */
    uint64_t hash;              /* of the name */
    int64_t version;            /* the target's last event number (-1: none), or
                                   VERSION_UNKNOWN until learned */
    uint64_t last_sv;           /* source position of the target's last event */
    int64_t batch_e;            /* expected version of the built batch */
    int64_t read_target;        /* current version the target reported */
    struct qev *q;              /* queue: q[qh..qn) */
    struct rp_buf text;         /* JSON of the queued events */
    struct active *act;         /* request state, only while one is built */
    uint32_t last_index;        /* with last_sv */
    uint32_t qh, qn, qcap;
    uint32_t batch_n;       /* events in the built batch, 0: none built */
    uint32_t name_len;      /* bytes in 'name' */
    unsigned char list;     /* an enum list: the list that holds it */
    unsigned char op;       /* an enum op */
    unsigned char marker;   /* 1: the checkpoint stream */
    unsigned char has_last; /* 1 when last_sv/last_index are known */
    unsigned char out;      /* 1 while its request is out */
    unsigned char relearn;  /* write-read cycles since the last progress */
    char name[];            /* target stream name, NUL-terminated */
};

/* What a stream needs while it has a request built or out; allocated then
** and freed when the stream goes idle, so that idle streams stay small.
** The metadata write of rp_sink_cap_markers() has one of its own. */
struct active {
    struct stream *owner;   /* the stream, or NULL: the metadata write */
    struct capop *cap;      /* that write, when owner is NULL */
    struct rp_sink_req req; /* given out by rp_sink_next() */
};

/* The checkpoint stream's one metadata write. */
struct capop {
    int state;            /* 0 none, 1 to send, 2 out, 3 done */
    uint64_t count;       /* its $maxCount */
    unsigned char id[16]; /* the event's id */
    char data[64];        /* {"$maxCount":N} */
    char *stream;         /* the checkpoint stream */
    struct active act;    /* its request */
};

/* One record read and not yet acknowledged. */
struct rec {
    uint64_t sv;             /* store version */
    uint64_t stream_version; /* of its key */
    size_t pending;          /* its events not yet acknowledged */
    const char *file;        /* interned data file name */
    uint64_t offset, end;
    unsigned char sha1[20];
    char *key; /* copy of the key; buffer reused by the ring slot */
    size_t key_len, key_cap;
};

struct slist {
    struct stream *head, *tail;
};

struct rp_sink {
    struct rp_sink_options opt;
    char *source_id;
    struct stream **buckets;
    size_t nbuckets, nstreams;
    struct slist lists[4]; /* indexed by enum list (L_NONE unused) */
    struct rec *ring;      /* records after the frontier, oldest first */
    size_t rcap, rhead, rcount;
    struct rp_store_pos frontier;
    char **files; /* interned file names */
    size_t nfiles;
    size_t queued_events, queued_bytes, in_flight;
    size_t busy_streams; /* streams with queued events */
    uint64_t backoff_until;
    unsigned failures;
    uint64_t outage_since;
    unsigned rng;
    struct stream *marker;
    int fetch_state;       /* 0 none, 1 asked, 2 got data, 3 no event */
    int markers_off;       /* the checkpoint stream is deleted for good */
    struct rp_buf fetched; /* data of the last checkpoint event */
    struct capop cap;      /* rp_sink_cap_markers() */
    unsigned leader_hops;  /* leader-elsewhere outcomes in a row */
    int warned_no_metadata;
    struct rp_sink_stats stats;
};

/* ---- streams: hash table and scheduling lists ---- */

static uint64_t
hash_name(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Take the stream out of the scheduling list that holds it, if any. */
static void
unlink_stream(struct rp_sink *s, struct stream *st)
{
    struct slist *l;

    if (st->list == L_NONE)
        return;
    l = &s->lists[st->list];
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        l->head = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    else
        l->tail = st->prev;
    st->prev = st->next = NULL;
    st->list = L_NONE;
}

/* Append the stream to the tail of list 'which'. */
static void
push_stream(struct rp_sink *s, struct stream *st, enum list which)
{
    struct slist *l = &s->lists[which];

    st->list = which;
    st->next = NULL;
    st->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = st;
    else
        l->head = st;
    l->tail = st;
}

/* Events queued (the built batch included). */
static size_t
queue_count(const struct stream *st)
{
    return st->qn - st->qh;
}

/* Bytes of JSON text of the queued events. */
static size_t
queue_bytes(const struct stream *st)
{
    return st->qh < st->qn ? st->text.len - st->q[st->qh].off : 0;
}

/* Free a stream and its buffers.  Accepts NULL. */
static void
stream_free(struct stream *st)
{
    if (st == NULL)
        return;
    free(st->q);
    rp_buf_dispose(&st->text);
    free(st->act);
    free(st);
}

/* Forget a stream: out of the table and its list, then freed. */
static void
remove_stream(struct rp_sink *s, struct stream *st)
{
    struct stream **pp = &s->buckets[st->hash & (s->nbuckets - 1)];

    while (*pp != st)
        pp = &(*pp)->hnext;
    *pp = st->hnext;
    unlink_stream(s, st);
    s->nstreams--;
    stream_free(st);
}

/* Forget idle streams beyond the bound, least recently used first; they
** are learned again from the target when they get events. */
static void
evict(struct rp_sink *s)
{
    struct stream *st = s->lists[L_IDLE].head;

    while (s->nstreams > s->opt.max_streams && st != NULL) {
        struct stream *next = st->next;

        if (!st->marker)
            remove_stream(s, st);
        st = next;
    }
}

/* An idle stream keeps its name and positions only. */
static void
shrink(struct stream *st)
{
    free(st->act);
    st->act = NULL;
    free(st->q);
    st->q = NULL;
    st->qh = st->qn = st->qcap = 0;
    rp_buf_dispose(&st->text);
}

/* Put the stream in the list its state calls for.  A stream keeps its
** place when it stays in the same list (first come, first sent). */
static void
schedule(struct rp_sink *s, struct stream *st)
{
    enum list want;

    if (st->out) {
        unlink_stream(s, st);
        return;
    }
    if (st->op != OP_NONE)
        want = L_URGENT;
    else if (queue_count(st) == 0)
        want = L_IDLE;
    else if (queue_count(st) >= s->opt.batch_events ||
             queue_bytes(st) >= s->opt.batch_bytes)
        want = L_URGENT;
    else
        want = L_PARTIAL;
    if (want == L_IDLE)
        shrink(st);
    if (st->list == want)
        return;
    unlink_stream(s, st);
    push_stream(s, st, want);
    if (want == L_IDLE && s->nstreams > s->opt.max_streams)
        evict(s);
}

/* Double the hash table and rehash every stream. */
static void
grow_buckets(struct rp_sink *s)
{
    size_t n = s->nbuckets * 2;
    struct stream **b = rp_xcalloc(n, sizeof(*b));

    for (size_t i = 0; i < s->nbuckets; i++) {
        struct stream *st = s->buckets[i];

        while (st != NULL) {
            struct stream *next = st->hnext;

            st->hnext = b[st->hash & (n - 1)];
            b[st->hash & (n - 1)] = st;
            st = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

/* The stream named by 'n' bytes of 'name'; created (version unknown)
** when absent and 'create' is set, else NULL. */
static struct stream *
find_stream(struct rp_sink *s, const char *name, size_t n, int create)
{
    uint64_t h = hash_name(name, n);
    struct stream *st;

    for (st = s->buckets[h & (s->nbuckets - 1)]; st != NULL; st = st->hnext)
        if (st->hash == h && st->name_len == n &&
            memcmp(st->name, name, n) == 0)
            return st;
    if (!create)
        return NULL;
    if (s->nstreams >= s->nbuckets)
        grow_buckets(s);
    st = rp_xcalloc(1, sizeof(*st) + n + 1);
    memcpy(st->name, name, n);
    st->name_len = (uint32_t)n;
    st->hash = h;
    st->version = VERSION_UNKNOWN;
    rp_buf_init(&st->text, 0);
    st->hnext = s->buckets[h & (s->nbuckets - 1)];
    s->buckets[h & (s->nbuckets - 1)] = st;
    s->nstreams++;
    return st;
}

/* ---- records: the ring behind the frontier ---- */

static const char *
intern_file(struct rp_sink *s, const char *file)
{
    for (size_t i = s->nfiles; i-- > 0;)
        if (strcmp(s->files[i], file) == 0)
            return s->files[i];
    s->files = rp_xrealloc(s->files, (s->nfiles + 1) * sizeof(*s->files));
    s->files[s->nfiles] = rp_xstrdup(file);
    return s->files[s->nfiles++];
}

/* The i-th record after the frontier (0: the oldest). */
static struct rec *
ring_at(struct rp_sink *s, size_t i)
{
    return &s->ring[(s->rhead + i) % s->rcap];
}

/* The record of store version 'sv', which must be after the frontier. */
static struct rec *
find_rec(struct rp_sink *s, uint64_t sv)
{
    uint64_t first;

    if (s->rcount == 0 || sv == 0)
        return NULL;
    first = ring_at(s, 0)->sv;
    if (sv < first || sv - first >= s->rcount)
        return NULL;
    return ring_at(s, (size_t)(sv - first));
}

/* Move the frontier over the acknowledged records at the ring's head. */
static void
advance(struct rp_sink *s)
{
    while (s->rcount > 0) {
        struct rec *r = ring_at(s, 0);
        struct rp_store_pos *f = &s->frontier;

        if (r->pending > 0)
            break;
        f->store_version = r->sv;
        snprintf(f->file, sizeof(f->file), "%s", r->file);
        f->offset = r->offset;
        f->end = r->end;
        memcpy(f->sha1, r->sha1, sizeof(f->sha1));
        s->rhead = (s->rhead + 1) % s->rcap;
        s->rcount--;
    }
}

/* Double the ring, keeping the records in order. */
static void
grow_ring(struct rp_sink *s)
{
    size_t n = s->rcap * 2;
    struct rec *r = rp_xcalloc(n, sizeof(*r));

    for (size_t i = 0; i < s->rcap; i++)
        r[i] = s->ring[(s->rhead + i) % s->rcap];
    free(s->ring);
    s->ring = r;
    s->rhead = 0;
    s->rcap = n;
}

/* ---- creation ---- */

int
rp_sink_new(struct rp_sink **out, const struct rp_sink_options *opt,
            const struct rp_store_pos *start, struct rp_error *err)
{
    struct rp_sink *s;

    *out = NULL;
    if (opt->batch_events == 0 || opt->batch_bytes == 0 ||
        opt->max_in_flight == 0)
        return rp_error_set(err, RP_EINVAL,
                            "batch limits and max-in-flight must be at least "
                            "1");
    s = rp_xcalloc(1, sizeof(*s));
    s->opt = *opt;
    s->source_id = rp_xstrdup(opt->source_id ? opt->source_id : "");
    s->opt.source_id = s->source_id;
    if (s->opt.batch_events > BATCH_LIMIT)
        s->opt.batch_events = BATCH_LIMIT;
    if (s->opt.max_event_bytes == 0)
        s->opt.max_event_bytes = 4u << 20;
    if (s->opt.max_buffer_bytes == 0)
        s->opt.max_buffer_bytes = 64u << 20;
    if (s->opt.max_buffer_events == 0)
        s->opt.max_buffer_events = 200000;
    if (s->opt.max_records == 0)
        s->opt.max_records = 100000;
    if (s->opt.max_streams == 0)
        s->opt.max_streams = 100000;
    if (s->opt.backoff_min_ms == 0)
        s->opt.backoff_min_ms = 200;
    if (s->opt.backoff_max_ms == 0)
        s->opt.backoff_max_ms = 10000;
    s->rng = opt->seed ? opt->seed : (unsigned)rp_now_ns();
    s->nbuckets = 1024;
    s->buckets = rp_xcalloc(s->nbuckets, sizeof(*s->buckets));
    s->rcap = 1024;
    s->ring = rp_xcalloc(s->rcap, sizeof(*s->ring));
    if (start != NULL)
        s->frontier = *start;
    rp_buf_init(&s->fetched, 0);
    *out = s;
    return 0;
}

void
rp_sink_free(struct rp_sink *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct stream *st = s->buckets[i];

        while (st != NULL) {
            struct stream *next = st->hnext;

            stream_free(st);
            st = next;
        }
    }
    free(s->buckets);
    for (size_t i = 0; i < s->rcap; i++)
        free(s->ring[i].key);
    free(s->ring);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    free(s->source_id);
    free(s->cap.stream);
    rp_buf_dispose(&s->fetched);
    free(s);
}

/* ---- input ---- */

int
rp_sink_add_record(struct rp_sink *s, const struct rp_record *rec,
                   struct rp_error *err)
{
    struct rec *r;
    uint64_t expect = s->rcount > 0 ? ring_at(s, s->rcount - 1)->sv + 1
                                    : s->frontier.store_version + 1;

    advance(s);
    if (rec->store_version != expect)
        return rp_error_set(err, RP_EINVAL,
                            "record %" PRIu64 " came where %" PRIu64
                            " was expected",
                            rec->store_version, expect);
    if (s->rcount == s->rcap)
        grow_ring(s);
    r = ring_at(s, s->rcount);
    s->rcount++;
    r->sv = rec->store_version;
    r->stream_version = rec->stream_version;
    r->pending = 0;
    r->file = intern_file(s, rec->file);
    r->offset = rec->offset;
    r->end = rec->end;
    memcpy(r->sha1, rec->sha1, sizeof(r->sha1));
    if (r->key_cap < rec->key_len + 1) {
        r->key_cap = rec->key_len + 1;
        r->key = rp_xrealloc(r->key, r->key_cap);
    }
    memcpy(r->key, rec->key, rec->key_len);
    r->key[rec->key_len] = '\0';
    r->key_len = rec->key_len;
    return 0;
}

/* 1 when source position (sv, index) is at or before the stream's last. */
static int
already_there(const struct stream *st, uint64_t sv, uint32_t index)
{
    return st->has_last &&
           (sv < st->last_sv || (sv == st->last_sv && index <= st->last_index));
}

/* Queue event 'ev' (its stream, store version and index aside) at the end
** of the stream's queue, its strings copied into the stream's text.
** Returns 0 or RP_ELIMIT. */
static int
push_event(struct rp_sink *s, struct stream *st, const struct rp_event *ev,
           uint64_t sv, uint32_t index)
{
    struct qev *e;
    size_t off = st->text.len;
    int rc = 0;

    if (ev->type_len > UINT32_MAX || ev->metadata_len > UINT32_MAX)
        return RP_ELIMIT;
    rc |= rp_buf_add(&st->text, ev->type, ev->type_len);
    rc |= rp_buf_add(&st->text, ev->data, ev->data_len);
    if (ev->metadata != NULL)
        rc |= rp_buf_add(&st->text, ev->metadata, ev->metadata_len);
    if (rc != 0) {
        st->text.len = off;
        return RP_ELIMIT;
    }
    if (st->qn == st->qcap) {
        st->qcap = st->qcap ? st->qcap * 2 : 4;
        st->q = rp_xrealloc(st->q, st->qcap * sizeof(*st->q));
    }
    if (queue_count(st) == 0)
        s->busy_streams++;
    e = &st->q[st->qn++];
    e->sv = sv;
    e->index = index;
    memcpy(e->id, ev->id, 16);
    e->off = off;
    e->len = st->text.len - off;
    e->type_len = (uint32_t)ev->type_len;
    e->meta_len = ev->metadata != NULL ? (uint32_t)ev->metadata_len : 0;
    e->json = 1; /* an rp_event's data is JSON text */
    e->meta = ev->metadata != NULL;
    s->queued_events++;
    s->queued_bytes += e->len;
    return 0;
}

int
rp_sink_add_event(struct rp_sink *s, const struct rp_event *ev,
                  struct rp_error *err)
{
    struct rec *r = s->rcount > 0 ? ring_at(s, s->rcount - 1) : NULL;
    struct stream *st;

    if (r == NULL || r->sv != ev->store_version)
        return rp_error_set(err, RP_EINVAL,
                            "event of record %" PRIu64
                            " does not follow its record",
                            ev->store_version);
    if (ev->data_len + ev->metadata_len > s->opt.max_event_bytes)
        return rp_error_set(err, RP_ELIMIT,
                            "record %" PRIu64 " (key '%s'): event %" PRIu32
                            " for stream '%.*s' has %zu bytes of data and "
                            "metadata, more than the %zu the API accepts",
                            r->sv, r->key, ev->index, (int)ev->stream_len,
                            ev->stream, ev->data_len + ev->metadata_len,
                            s->opt.max_event_bytes);
    st = find_stream(s, ev->stream, ev->stream_len, 1);
    if (already_there(st, ev->store_version, ev->index)) {
        s->stats.events_acked++;
        s->stats.events_skipped++;
        schedule(s, st);
        return 0;
    }
    if (push_event(s, st, ev, ev->store_version, ev->index) < 0)
        return rp_error_set(err, RP_ELIMIT, "out of buffer space");
    r->pending++;
    schedule(s, st);
    return 0;
}

int
rp_sink_check_event(const struct rp_sink *s, const struct rp_record *rec,
                    const struct rp_event *ev, struct rp_error *err)
{
    if (ev->data_len + ev->metadata_len <= s->opt.max_event_bytes)
        return 0;
    return rp_error_set(err, RP_ELIMIT,
                        "record %" PRIu64 " (key '%.*s'): event %" PRIu32
                        " for stream '%.*s' has %zu bytes of data and "
                        "metadata, more than the %zu the API accepts",
                        rec->store_version, (int)rec->key_len, rec->key,
                        ev->index, (int)ev->stream_len, ev->stream,
                        ev->data_len + ev->metadata_len,
                        s->opt.max_event_bytes);
}

int
rp_sink_full(const struct rp_sink *s)
{
    return s->queued_bytes + s->busy_streams * STREAM_COST >=
               s->opt.max_buffer_bytes ||
           s->queued_events >= s->opt.max_buffer_events ||
           s->rcount >= s->opt.max_records;
}

int
rp_sink_idle(const struct rp_sink *s)
{
    for (size_t i = 0; i < s->rcount; i++)
        if (s->ring[(s->rhead + i) % s->rcap].pending > 0)
            return 0;
    return s->queued_events == 0 && s->in_flight == 0 &&
           !rp_sink_marker_pending(s) && s->cap.state != 1;
}

/* ---- requests ---- */

/* Bytes an event counts for in batch_bytes. */
static size_t
event_cost(const struct qev *e)
{
    return e->len + RP_SINK_EVENT_OVERHEAD;
}

/* Choose the next batch of the stream's queue and its expected version. */
static void
build_batch(struct rp_sink *s, struct stream *st)
{
    size_t n = 0, bytes = 0;

    while (st->qh + n < st->qn && n < s->opt.batch_events) {
        size_t cost = event_cost(&st->q[st->qh + n]);

        if (n > 0 && bytes + cost > s->opt.batch_bytes)
            break;
        bytes += cost;
        n++;
    }
    st->batch_n = (uint32_t)n;
    st->batch_e =
        st->version == VERSION_UNKNOWN ? RP_SINK_NO_STREAM : st->version;
}

/* Fill the parts of a request that every operation on 'st' shares. */
static struct rp_sink_req *
stream_req(struct rp_sink *s, struct stream *st, int op)
{
    struct rp_sink_req *req = &st->act->req;

    req->op = op;
    req->stream = st->name;
    req->stream_len = st->name_len;
    req->expected = 0;
    req->nevents = 0;
    req->from = 0;
    req->count = 0;
    req->require_leader = s->opt.cluster;
    return req;
}

/* The metadata write of rp_sink_cap_markers(), when it is due. */
static struct rp_sink_req *
next_cap(struct rp_sink *s)
{
    struct rp_sink_req *req = &s->cap.act.req;

    s->cap.state = 2;
    s->cap.act.cap = &s->cap;
    req->op = RP_SINK_SET_METADATA;
    req->stream = s->cap.stream;
    req->stream_len = strlen(s->cap.stream);
    req->expected = 0;
    req->nevents = 1;
    req->from = 0;
    req->count = 0;
    req->require_leader = s->opt.cluster;
    s->in_flight++;
    return req;
}

struct rp_sink_req *
rp_sink_next(struct rp_sink *s, uint64_t now_ms, int flush)
{
    struct rp_sink_req *req;
    struct stream *st;

    if (s->in_flight >= s->opt.max_in_flight || now_ms < s->backoff_until)
        return NULL;
    /* During an outage one request probes the target at a time. */
    if (s->failures > 0 && s->in_flight > 0)
        return NULL;
    if (s->cap.state == 1)
        return next_cap(s);
    st = s->lists[L_URGENT].head;
    if (st == NULL && flush)
        st = s->lists[L_PARTIAL].head;
    if (st == NULL)
        return NULL;
    unlink_stream(s, st);
    if (st->act == NULL) {
        st->act = rp_xcalloc(1, sizeof(*st->act));
        st->act->owner = st;
    }
    if (st->op == OP_NONE) {
        build_batch(s, st);
        st->op = OP_APPEND;
    }
    switch (st->op) {
    case OP_READ_HEAD:
        req = stream_req(s, st, RP_SINK_READ_HEAD);
        req->count = 1;
        s->stats.reads++;
        break;
    case OP_READ_FWD: {
        int64_t want = st->read_target - st->version;

        req = stream_req(s, st, RP_SINK_READ_FORWARD);
        if (want < 1)
            want = 1;
        if (want > READ_PAGE)
            want = READ_PAGE;
        req->from = st->version + 1;
        req->count = (size_t)want;
        s->stats.reads++;
        break;
    }
    default: /* OP_APPEND: made just above, or to be sent again as it is */
        req = stream_req(s, st, RP_SINK_APPEND);
        req->expected = st->batch_e;
        req->nevents = st->batch_n;
        break;
    }
    st->out = 1;
    s->in_flight++;
    return req;
}

/* The active request state that holds 'req'. */
static const struct active *
req_active(const struct rp_sink_req *req)
{
    return (const struct active *)((const char *)req -
                                   offsetof(struct active, req));
}

void
rp_sink_req_event(const struct rp_sink_req *req, size_t i,
                  struct rp_sink_event *out)
{
    const struct active *a = req_active(req);
    const struct stream *st = a->owner;
    const struct qev *e;
    const char *p;

    memset(out, 0, sizeof(*out));
    if (st == NULL) {
        out->id = a->cap->id;
        out->type = "$metadata";
        out->type_len = 9;
        out->data = a->cap->data;
        out->data_len = strlen(a->cap->data);
        out->data_json = 1;
        return;
    }
    e = &st->q[st->qh + i];
    p = st->text.data + e->off;
    out->id = e->id;
    out->type = p;
    out->type_len = e->type_len;
    out->data = p + e->type_len;
    out->data_len = e->len - e->type_len - e->meta_len;
    out->data_json = e->json;
    if (e->meta) {
        out->metadata = p + e->len - e->meta_len;
        out->metadata_len = e->meta_len;
    }
}

uint64_t
rp_sink_wait_ms(const struct rp_sink *s, uint64_t now_ms)
{
    if (s->backoff_until > now_ms &&
        (s->lists[L_URGENT].head != NULL || s->lists[L_PARTIAL].head != NULL))
        return s->backoff_until - now_ms;
    return 0;
}

/* ---- answers ---- */

/* Describe the record of the stream's first queued event for messages. */
static void
describe(struct rp_sink *s, const struct stream *st, char *out, size_t size)
{
    const struct rec *r =
        st->qh < st->qn ? find_rec(s, st->q[st->qh].sv) : NULL;

    if (st->marker)
        snprintf(out, size, "checkpoint stream '%s'", st->name);
    else if (r != NULL)
        snprintf(out, size,
                 "record %" PRIu64 " (key '%s'), event %" PRIu32
                 ", stream '%s'",
                 r->sv, r->key, st->q[st->qh].index, st->name);
    else
        snprintf(out, size, "stream '%s'", st->name);
}

/* "; " and the outcome's hint, or "" when it has none. */
static const char *
hint_sep(const char *hint)
{
    return hint != NULL && hint[0] != '\0' ? "; " : "";
}

/* The hint, or "" when there is none. */
static const char *
hint_text(const char *hint)
{
    return hint != NULL ? hint : "";
}

/* Fail with 'code': the place, the server's words and a hint. */
static int
refuse(struct rp_sink *s, struct stream *st, const struct rp_sink_outcome *out,
       int code, const char *hint, struct rp_error *err)
{
    char where[512];

    describe(s, st, where, sizeof(where));
    return rp_error_set(err, code, "%s: the target answered %s%s%s", where,
                        out->words, hint_sep(hint), hint_text(hint));
}

/* What to say of a stream deleted for good. */
static const char deleted_hint[] = "the stream was deleted for good "
                                   "(tombstoned) and cannot take events";

/* Delay before the next try after 'failures' unknown outcomes in a row:
** exponential from backoff_min_ms, capped at backoff_max_ms, with jitter
** (between half and all of it). */
static uint64_t
backoff_delay(struct rp_sink *s, unsigned failures)
{
    uint64_t d = s->opt.backoff_min_ms;

    for (unsigned i = 1; i < failures && d < s->opt.backoff_max_ms; i++)
        d *= 2;
    if (d > s->opt.backoff_max_ms)
        d = s->opt.backoff_max_ms;
    s->rng = s->rng * 1103515245u + 12345u;
    return d / 2 + (uint64_t)((s->rng >> 8) % (d / 2 + 1));
}

/* The outcome is unknown: keep the request exactly as it is, back off. */
static void
unknown(struct rp_sink *s, struct stream *st, const struct rp_sink_outcome *out,
        uint64_t now_ms)
{
    uint64_t d;

    s->failures++;
    s->stats.retries++;
    if (s->failures == 1) {
        char where[512];

        s->outage_since = now_ms;
        describe(s, st, where, sizeof(where));
        rp_log(RP_LOG_WARN,
               "target not answering (%s) for %s; retrying the same request "
               "with back-off",
               out->words, where);
    }
    d = backoff_delay(s, s->failures);
    if (out->retry_after_ms > d)
        d = out->retry_after_ms;
    if (d > 0 && now_ms + d > s->backoff_until)
        s->backoff_until = now_ms + d;
}

/* A definitive answer came: an outage, if any, is over. */
static void
answered(struct rp_sink *s, uint64_t now_ms)
{
    s->leader_hops = 0;
    if (s->failures > 0) {
        rp_log(RP_LOG_INFO,
               "target answering again after %.1f s (%u failed attempts)",
               (double)(now_ms - s->outage_since) / 1000.0, s->failures);
        s->failures = 0;
        s->backoff_until = 0;
    }
}

/* Acknowledge the first n queued events of the stream. */
static void
ack_front(struct rp_sink *s, struct stream *st, size_t n, int skipped)
{
    for (size_t i = 0; i < n; i++) {
        const struct qev *e = &st->q[st->qh + i];
        struct rec *r = find_rec(s, e->sv);

        if (r != NULL && r->pending > 0)
            r->pending--;
        if (!st->marker) {
            s->stats.events_acked++;
            if (skipped)
                s->stats.events_skipped++;
            st->has_last = 1;
            st->last_sv = e->sv;
            st->last_index = e->index;
        }
        s->queued_events--;
        s->queued_bytes -= e->len;
    }
    st->qh += n;
    if (st->qh == st->qn) {
        if (n > 0)
            s->busy_streams--;
        st->qh = st->qn = 0;
        rp_buf_reset(&st->text);
    } else if (st->qh >= 64 && st->qh * 2 >= st->qn) {
        size_t base = st->q[st->qh].off;

        memmove(st->text.data, st->text.data + base, st->text.len - base);
        st->text.len -= base;
        memmove(st->q, st->q + st->qh, (st->qn - st->qh) * sizeof(*st->q));
        st->qn -= st->qh;
        st->qh = 0;
        for (size_t i = 0; i < st->qn; i++)
            st->q[i].off -= base;
    }
    advance(s);
}

/* The checkpoint stream was deleted for good: replication goes on without
** checkpoints on the target (the local file still has them). */
static void
markers_off(struct rp_sink *s, struct stream *st)
{
    rp_log(RP_LOG_WARN,
           "the checkpoint stream '%s' was deleted for good on the target: "
           "checkpoints are kept in the local file only",
           st->name);
    s->markers_off = 1;
    s->queued_events -= queue_count(st);
    s->queued_bytes -= queue_bytes(st);
    if (queue_count(st) > 0)
        s->busy_streams--;
    st->qh = st->qn = 0;
    st->batch_n = 0;
    st->op = OP_NONE;
    rp_buf_reset(&st->text);
}

/* The stream no longer holds events this run wrote or saw there: it was
** deleted or truncated, or the target was reset.  Writing on would leave
** out what came before, so the run stops. */
static int
shrunk(struct rp_sink *s, const struct stream *st, int64_t now,
       struct rp_error *err)
{
    char where[512];

    describe(s, st, where, sizeof(where));
    return rp_error_set(err, RP_ECONFLICT,
                        "%s: the stream held events up to number %" PRId64
                        ", but the target now reports %" PRId64
                        " (deleted, or the target was reset): stopping "
                        "rather than write on without what came before; a "
                        "restart replicates a target that lost the "
                        "checkpoint stream from the start of the store",
                        where, st->version, now);
}

/* Interpret the outcome of an append (the answer table).  Returns 0, or
** RP_ECONFLICT/RP_EREFUSED when the run must stop. */
static int
on_append(struct rp_sink *s, struct stream *st,
          const struct rp_sink_outcome *out, struct rp_error *err)
{
    if (out->kind == RP_SINK_WRITTEN) {
        st->version = out->number != RP_SINK_NO_NUMBER
                          ? out->number
                          : st->batch_e + (int64_t)st->batch_n;
        s->stats.appends++;
        ack_front(s, st, st->batch_n, 0);
        st->batch_n = 0;
        st->op = OP_NONE;
        st->relearn = 0;
        return 0;
    }
    if (out->kind == RP_SINK_WRONG_VERSION) {
        /* Nothing of this request was written: the batch may be rebuilt. */
        st->batch_n = 0;
        if (st->version != VERSION_UNKNOWN && out->number < st->version)
            return shrunk(s, st, out->number, err);
        if (++st->relearn > MAX_RELEARN) {
            char where[512];

            describe(s, st, where, sizeof(where));
            return rp_error_set(err, RP_ECONFLICT,
                                "%s: the stream keeps changing under the "
                                "replicator (current version %" PRId64
                                "); is another program writing to it?",
                                where, out->number);
        }
        st->read_target = out->number;
        if (st->marker) {
            /* Older checkpoints: append after them. */
            st->version = out->number;
            st->op = OP_NONE;
        } else if (st->batch_e == RP_SINK_NO_STREAM &&
                   st->version == VERSION_UNKNOWN) {
            st->op = OP_READ_HEAD;
        } else {
            st->version = st->batch_e;
            st->op = OP_READ_FWD;
        }
        return 0;
    }
    if (out->kind == RP_SINK_DELETED && st->marker) {
        markers_off(s, st);
        return 0;
    }
    st->op = OP_APPEND;
    if (out->kind == RP_SINK_DELETED)
        return refuse(s, st, out, RP_EREFUSED, deleted_hint, err);
    if (out->kind == RP_SINK_REFUSED)
        return refuse(s, st, out, RP_EREFUSED, out->hint, err);
    return refuse(s, st, out, RP_EFORMAT, "the answer does not fit an append",
                  err);
}

/* Source position of a read event from its metadata's replicatedFrom, when
** it names this source.  Returns 1 (ours, *sv and *index set), 0 (no such
** metadata, or another source). */
static int
entry_position(struct rp_sink *s, const struct rp_sink_read_event *e,
               uint64_t *sv, uint32_t *index)
{
    struct rp_json_doc *doc = NULL;
    const struct rp_json *from;
    int64_t v, i;
    const char *src;
    int ours = 0;

    if (e->metadata == NULL)
        return 0;
    if (rp_json_parse(&doc, e->metadata, e->metadata_len, NULL) < 0)
        return 0;
    from = rp_json_get(rp_json_root(doc), "replicatedFrom");
    src = rp_json_string(rp_json_get(from, "source"));
    if (src != NULL && strcmp(src, s->source_id) == 0 &&
        rp_json_int64(rp_json_get(from, "storeVersion"), &v) == 0 &&
        rp_json_int64(rp_json_get(from, "index"), &i) == 0 && v > 0 && i >= 0 &&
        i <= (int64_t)UINT32_MAX) {
        *sv = (uint64_t)v;
        *index = (uint32_t)i;
        ours = 1;
    }
    rp_json_free(doc);
    return ours;
}

/* Fail with a conflict: 'e' is not an event of ours. */
static int
foreign(struct rp_sink *s, struct stream *st,
        const struct rp_sink_read_event *e, struct rp_error *err)
{
    char where[512], id[37] = "?";

    if (e->has_id)
        rp_event_format_id(id, e->id);
    describe(s, st, where, sizeof(where));
    return rp_error_set(err, RP_ECONFLICT,
                        "%s: conflict: the target stream already holds event "
                        "%" PRId64 " (id %s, type '%.*s') that was not "
                        "replicated from source '%s' by this replicator; "
                        "nothing more is written to it",
                        where, e->number, id,
                        e->type ? (int)(e->type_len > 200 ? 200 : e->type_len)
                                : 1,
                        e->type ? e->type : "?", s->source_id);
}

/* Drop the queued events at or before the stream's last source position:
** the target has them. */
static void
drop_known(struct rp_sink *s, struct stream *st)
{
    size_t n = 0;

    while (st->qh + n < st->qn &&
           already_there(st, st->q[st->qh + n].sv, st->q[st->qh + n].index))
        n++;
    if (n > 0) {
        uint64_t sv = st->last_sv;
        uint32_t idx = st->last_index;

        ack_front(s, st, n, 1);
        st->last_sv = sv;
        st->last_index = idx;
    }
}

/* The stream's last event after an optimistic first append failed: learn
** its version and which record it came from, drop what it already holds. */
static int
on_read_head(struct rp_sink *s, struct stream *st,
             const struct rp_sink_outcome *out, struct rp_error *err)
{
    const struct rp_sink_read_event *e =
        out->nevents > 0 ? &out->events[out->nevents - 1] : NULL;
    uint64_t sv;
    uint32_t index;

    if (e == NULL)
        return rp_error_set(err, RP_EFORMAT,
                            "stream '%s': the target reports version %" PRId64
                            " but its last event cannot be read",
                            st->name, st->read_target);
    if (entry_position(s, e, &sv, &index)) {
        st->version = e->number;
        st->has_last = 1;
        st->last_sv = sv;
        st->last_index = index;
        drop_known(s, st);
        st->op = OP_NONE;
        return 0;
    }
    if (!s->opt.source_metadata) {
        size_t n = 0, found = 0;

        if (e->has_id)
            for (n = 0; st->qh + n < st->qn; n++)
                if (memcmp(st->q[st->qh + n].id, e->id, 16) == 0) {
                    found = 1;
                    break;
                }
        if (found) {
            ack_front(s, st, n + 1, 1);
        } else if (!s->warned_no_metadata) {
            s->warned_no_metadata = 1;
            rp_log(RP_LOG_WARN,
                   "stream '%s' already holds events; without source "
                   "metadata its last event is taken as replicated earlier "
                   "(foreign writes cannot be detected)",
                   st->name);
        }
        st->version = e->number;
        st->op = OP_NONE;
        return 0;
    }
    return foreign(s, st, e, err);
}

/* Events after the expected version after a wrong expected version: each
** must be the next queued event (by id), or ours from records not read
** yet; else a conflict.  Then read on, or re-post the rest after them. */
static int
on_read_fwd(struct rp_sink *s, struct stream *st,
            const struct rp_sink_outcome *out, struct rp_error *err)
{
    int progressed = 0;

    for (size_t k = 0; k < out->nevents; k++) {
        const struct rp_sink_read_event *e = &out->events[k];
        uint64_t sv;
        uint32_t index;

        if (e->number <= st->version)
            continue;
        if (st->qh < st->qn && e->has_id &&
            memcmp(st->q[st->qh].id, e->id, 16) == 0) {
            ack_front(s, st, 1, 1);
        } else if (st->qh == st->qn && entry_position(s, e, &sv, &index)) {
            /* Ours, from records not read yet (a run that got further). */
            st->has_last = 1;
            st->last_sv = sv;
            st->last_index = index;
        } else {
            return foreign(s, st, e, err);
        }
        st->version = e->number;
        progressed = 1;
    }
    if (progressed)
        st->relearn = 0;
    st->op =
        progressed && st->version < st->read_target ? OP_READ_FWD : OP_NONE;
    return 0;
}

/* The outcome of rp_sink_fetch_marker(): keep the last event's data and
** learn the stream's version on the way. */
static int
on_marker_read(struct rp_sink *s, struct stream *st,
               const struct rp_sink_outcome *out, struct rp_error *err)
{
    const struct rp_sink_read_event *e;

    st->op = OP_NONE;
    if (out->kind == RP_SINK_NOT_FOUND) {
        s->fetch_state = 3;
        st->version = -1;
        return 0;
    }
    if (out->kind == RP_SINK_DELETED) {
        s->fetch_state = 3;
        markers_off(s, st);
        return 0;
    }
    if (out->kind != RP_SINK_EVENTS)
        return rp_error_set(
            err, out->kind == RP_SINK_BAD_ANSWER ? RP_EFORMAT : RP_EREFUSED,
            "reading the checkpoint stream '%s', the target "
            "answered %s%s%s",
            st->name, out->words, hint_sep(out->hint), hint_text(out->hint));
    e = out->nevents > 0 ? &out->events[out->nevents - 1] : NULL;
    if (e != NULL)
        st->version = e->number;
    if (e != NULL && e->data != NULL) {
        rp_buf_reset(&s->fetched);
        rp_buf_add(&s->fetched, e->data, e->data_len);
        s->fetch_state = 2;
    } else {
        s->fetch_state = 3;
    }
    return 0;
}

/* Interpret the outcome of a read. */
static int
on_read(struct rp_sink *s, struct stream *st, const struct rp_sink_outcome *out,
        struct rp_error *err)
{
    if (st->marker && st->op == OP_READ_HEAD)
        return on_marker_read(s, st, out, err);
    if (out->kind == RP_SINK_NOT_FOUND && st->op == OP_READ_HEAD) {
        /* Deleted meanwhile: learn again by appending as to a new stream. */
        st->version = VERSION_UNKNOWN;
        st->op = OP_NONE;
        return 0;
    }
    if (out->kind == RP_SINK_BAD_ANSWER)
        return rp_error_set(err, RP_EFORMAT,
                            "stream '%s': the target's answer cannot be "
                            "read: %s",
                            st->name, out->words);
    if (out->kind != RP_SINK_EVENTS) {
        char where[512];
        const char *h = out->kind == RP_SINK_DELETED ? deleted_hint : out->hint;

        describe(s, st, where, sizeof(where));
        return rp_error_set(err, RP_EREFUSED,
                            "%s: reading the stream to learn its position, "
                            "the target answered %s%s%s",
                            where, out->words, hint_sep(h), hint_text(h));
    }
    if (st->op == OP_READ_HEAD)
        return on_read_head(s, st, out, err);
    return on_read_fwd(s, st, out, err);
}

/* The outcome of the metadata write of rp_sink_cap_markers(): logged, and
** nothing else changes whatever it is. */
static void
on_cap(struct rp_sink *s, const struct rp_sink_outcome *out)
{
    s->cap.state = 3;
    if (out->kind == RP_SINK_WRITTEN)
        rp_log(RP_LOG_INFO,
               "checkpoint stream %s: the target keeps its last %" PRIu64
               " events ($maxCount)",
               s->cap.stream, s->cap.count);
    else
        rp_log(RP_LOG_WARN,
               "checkpoint stream %s: $maxCount %" PRIu64
               " was not set (%s%s): the target keeps every checkpoint event",
               s->cap.stream, s->cap.count,
               out->no_answer ? "" : "the target answered ", out->words);
}

/* An event number of 'out' outside -1..RP_SINK_MAX_NUMBER (WRITTEN and
** EVENTS: 0..), into *bad; 0 when there is none. */
static int
number_out_of_range(const struct rp_sink_outcome *out, int64_t *bad)
{
    int64_t low = out->kind == RP_SINK_WRONG_VERSION ? -1 : 0;

    if (out->kind == RP_SINK_WRITTEN && out->number == RP_SINK_NO_NUMBER)
        return 0;
    if ((out->kind == RP_SINK_WRITTEN || out->kind == RP_SINK_WRONG_VERSION) &&
        (out->number < low || out->number > RP_SINK_MAX_NUMBER)) {
        *bad = out->number;
        return 1;
    }
    for (size_t i = 0; out->kind == RP_SINK_EVENTS && i < out->nevents; i++)
        if (out->events[i].number < 0 ||
            out->events[i].number > RP_SINK_MAX_NUMBER) {
            *bad = out->events[i].number;
            return 1;
        }
    return 0;
}

/* Stop on an event number that cannot be one. */
static int
refuse_number(struct rp_sink *s, struct stream *st,
              const struct rp_sink_outcome *out, int64_t bad,
              struct rp_error *err)
{
    char where[512];

    describe(s, st, where, sizeof(where));
    return rp_error_set(err, RP_EFORMAT,
                        "%s: the target answered %s, with event number %" PRId64
                        ", out of range: an answer that cannot be read",
                        where, out->words, bad);
}

int
rp_sink_done(struct rp_sink *s, struct rp_sink_req *req,
             const struct rp_sink_outcome *out, uint64_t now_ms,
             struct rp_error *err)
{
    struct stream *st = req_active(req)->owner;
    int64_t bad;
    int rc;

    s->in_flight--;
    if (st == NULL) {
        on_cap(s, out);
        return 0;
    }
    st->out = 0;
    if (out->kind == RP_SINK_LEADER && ++s->leader_hops <= MAX_LEADER_HOPS) {
        /* Sent again at once, to the node the protocol now knows. */
        schedule(s, st);
        return 0;
    }
    if (out->kind == RP_SINK_UNKNOWN || out->kind == RP_SINK_LEADER) {
        unknown(s, st, out, now_ms);
        schedule(s, st);
        return 0;
    }
    answered(s, now_ms);
    if (number_out_of_range(out, &bad))
        rc = refuse_number(s, st, out, bad, err);
    else if (req->op == RP_SINK_APPEND)
        rc = on_append(s, st, out, err);
    else
        rc = on_read(s, st, out, err);
    if (rc < 0) {
        unlink_stream(s, st);
        return rc;
    }
    schedule(s, st);
    return 0;
}

void
rp_sink_abandon(struct rp_sink *s, struct rp_sink_req *req)
{
    struct stream *st = req_active(req)->owner;

    s->in_flight--;
    if (st == NULL) {
        s->cap.state = 1;
        return;
    }
    st->out = 0;
    schedule(s, st);
}

/* ---- frontier and checkpoint ---- */

void
rp_sink_frontier(struct rp_sink *s, struct rp_store_pos *out)
{
    advance(s);
    *out = s->frontier;
}

int
rp_sink_frontier_counts(struct rp_sink *s, rp_store_count_fn fn, void *ctx)
{
    size_t cap = 16, n = 0;
    struct rec **seen;
    int rc = 0;

    advance(s);
    while (cap < s->rcount * 2)
        cap *= 2;
    seen = rp_xcalloc(cap, sizeof(*seen));
    /* Oldest first, so the first record of a key met is its first
    ** unacknowledged one. */
    for (size_t i = 0; i < s->rcount && rc == 0; i++) {
        struct rec *r = ring_at(s, i);
        size_t h = (size_t)hash_name(r->key, r->key_len) & (cap - 1);

        while (seen[h] != NULL &&
               !(seen[h]->key_len == r->key_len &&
                 memcmp(seen[h]->key, r->key, r->key_len) == 0))
            h = (h + 1) & (cap - 1);
        if (seen[h] != NULL)
            continue;
        seen[h] = r;
        n++;
        rc = fn(ctx, r->key, r->key_len, r->stream_version - 1);
    }
    free(seen);
    return rc;
}

/* The checkpoint stream, created on first use. */
static struct stream *
marker_stream(struct rp_sink *s, const char *stream)
{
    struct stream *st = s->marker;

    if (st == NULL) {
        st = s->marker = find_stream(s, stream, strlen(stream), 1);
        st->marker = 1;
    }
    return st;
}

int
rp_sink_put_marker(struct rp_sink *s, const char *stream, const char *json,
                   size_t json_len, const unsigned char id[16],
                   struct rp_error *err)
{
    struct stream *st = marker_stream(s, stream);
    struct rp_event ev;

    if (s->markers_off)
        return 0;
    /* An unsent checkpoint is replaced: only the newest matters. */
    if (!st->out && st->op == OP_NONE && queue_count(st) > 0) {
        s->queued_events -= queue_count(st);
        s->queued_bytes -= queue_bytes(st);
        s->busy_streams--;
        st->qh = st->qn = 0;
        rp_buf_reset(&st->text);
    } else if (queue_count(st) > st->batch_n) {
        s->queued_events--;
        s->queued_bytes -= st->q[st->qn - 1].len;
        st->text.len = st->q[st->qn - 1].off;
        st->qn--;
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = "ReplicatorCheckpoint";
    ev.type_len = strlen(ev.type);
    ev.data = json;
    ev.data_len = json_len;
    memcpy(ev.id, id, 16);
    if (push_event(s, st, &ev, 0, 0) < 0)
        return rp_error_set(err, RP_ELIMIT, "out of buffer space");
    schedule(s, st);
    return 0;
}

int
rp_sink_marker_pending(const struct rp_sink *s)
{
    return s->marker != NULL && (s->marker->out || queue_count(s->marker) > 0);
}

struct rp_sink_req *
rp_sink_next_marker(struct rp_sink *s, uint64_t now_ms)
{
    struct stream *st = s->marker;

    if (st == NULL || st->out ||
        (st->list != L_URGENT && st->list != L_PARTIAL))
        return NULL;
    /* Put it first, then take the next request as usual. */
    unlink_stream(s, st);
    st->list = L_URGENT;
    st->prev = NULL;
    st->next = s->lists[L_URGENT].head;
    if (st->next != NULL)
        st->next->prev = st;
    else
        s->lists[L_URGENT].tail = st;
    s->lists[L_URGENT].head = st;
    return rp_sink_next(s, now_ms, 1);
}

void
rp_sink_fetch_marker(struct rp_sink *s, const char *stream)
{
    struct stream *st = marker_stream(s, stream);

    s->fetch_state = 1;
    st->op = OP_READ_HEAD;
    schedule(s, st);
}

int
rp_sink_marker_fetched(struct rp_sink *s, const char **data, size_t *len)
{
    if (s->fetch_state == 2) {
        *data = s->fetched.data;
        *len = s->fetched.len;
        return 1;
    }
    return s->fetch_state == 3 ? RP_ENOENT : 0;
}

int
rp_sink_markers_off(const struct rp_sink *s)
{
    return s->markers_off;
}

void
rp_sink_cap_markers(struct rp_sink *s, const char *stream, uint64_t max_count,
                    const unsigned char id[16])
{
    if (max_count == 0 || s->markers_off || s->cap.state != 0)
        return;
    free(s->cap.stream);
    s->cap.stream = rp_xstrdup(stream);
    s->cap.count = max_count;
    memcpy(s->cap.id, id, 16);
    snprintf(s->cap.data, sizeof(s->cap.data), "{\"$maxCount\":%" PRIu64 "}",
             max_count);
    s->cap.state = 1;
}

void
rp_sink_set_frontier(struct rp_sink *s, const struct rp_store_pos *pos)
{
    s->frontier = *pos;
}

int
rp_sink_outage(const struct rp_sink *s, uint64_t *since_ms)
{
    if (since_ms != NULL)
        *since_ms = s->outage_since;
    return s->failures > 0;
}

void
rp_sink_get_stats(const struct rp_sink *s, struct rp_sink_stats *out)
{
    *out = s->stats;
    out->streams = s->nstreams;
    out->queued_events = s->queued_events;
    out->queued_bytes = s->queued_bytes;
    out->records = s->rcount;
    out->in_flight = s->in_flight;
}
