/* The conversion pipeline.  Records are copied into chunks (up to 64 each,
** fewer with many workers) that wait in a ring in store order.  A chunk handed
** over ("published") is converted by one worker (partition none), or by
** every worker, each converting the records of its own keys (partition
** key).  The caller takes records only from the oldest chunk, in order, so
** they leave in the order they came; it is woken when that chunk is
** converted, or sooner when converted text waits past its bound (then the
** workers wait, but for the one converting the record the caller needs
** next).  Each record's events go to a list of its own, so the caller
** reads one record's events while a worker writes another's.
**
** Threads and Lua states: one lua_State per worker, owned by that worker's
** struct rp_script.  With one worker it runs on the caller's thread, inside
** rp_pipeline_next().  With more, each worker's state is used by that
** worker's thread alone; states are made and closed on the caller's thread
** only while no worker converts (before the threads start, while they are
** paused for a reload, after they are joined).  One mutex guards what the
** threads share; only the caller's thread fills and empties chunks. */
#include "pipeline.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_RECORDS 64           /* records a chunk holds at most */
#define RING_RECORDS 2048          /* records all chunks hold at most */
#define CHUNK_BYTES (256u * 1024u) /* record bytes that close a chunk */
/* What emptied chunks keep for the next records (of all of them), and what
** a record's emptied events list keeps: the memory of a burst of large
** records is given back. */
#define KEEP_RING_BYTES (4u << 20)
#define KEEP_EVENT_BYTES 2048u
#define KEEP_EVENTS 8u

/* One record of a chunk and what became of it. */
struct slot {
    struct rp_record rec; /* its pointers lead into the chunk's 'bytes' once
                             the chunk is published */
    size_t key_off;       /* where its key, data and file name start in
                             'bytes' */
    size_t data_off;
    size_t file_off;
    size_t worker;            /* partition key: the worker that converts it */
    struct rp_events *events; /* its events, made when first used */
    size_t text;              /* their text bytes, counted in 'waiting' */
    int done;                 /* converted (under the mutex) */
    int rc;                   /* 0, or how its conversion failed */
    char *error;              /* on failure: the message naming the record */
    char *traceback;          /* on failure: the script's traceback */
};

struct chunk {
    struct slot slot[CHUNK_RECORDS];
    size_t n;            /* records in it */
    size_t start;        /* records before this one were taken before a
                            reload: they are not converted again */
    struct rp_buf bytes; /* the records' keys, data and file names */
    uint64_t seq;        /* its place: ring[seq % nchunks] */
    size_t pending;      /* workers still converting it (0: converted) */
};

struct worker {
    struct rp_pipeline *p;
    struct rp_script *script; /* this worker's Lua state */
    size_t index;             /* in p->w */
    pthread_t thread;
    int started;   /* the thread runs */
    int busy;      /* converting a chunk (under p->mu) */
    uint64_t next; /* partition key: the next chunk it visits (p->mu) */
};

struct rp_pipeline {
    const struct rp_config *cfg; /* borrowed: the script and its settings */
    struct worker *w;
    size_t nw;
    int by_key;   /* partition key with several workers */
    int threaded; /* several workers, each on a thread */
    struct chunk *ring;
    size_t nchunks;
    size_t chunk_records; /* records that fill a chunk */
    size_t keep_bytes;    /* record bytes an emptied chunk keeps */
    /* The caller's thread alone. */
    uint64_t head;           /* oldest chunk not wholly taken */
    size_t head_rec;         /* its records already taken */
    size_t head_ready;       /* its records known to be converted */
    size_t ahead;            /* record bytes in the ring */
    size_t pending;          /* records put and not popped */
    struct rp_converted cur; /* what rp_pipeline_next() gave */
    int fd[2];               /* a pipe that wakes a poll loop */
    /* Shared: under 'mu'.  'published' is written by the caller only. */
    pthread_mutex_t mu;
    pthread_cond_t work;  /* workers wait here for chunks and room */
    pthread_cond_t done;  /* the caller waits here */
    uint64_t published;   /* chunks handed over: head .. published - 1 */
    uint64_t claimed;     /* partition none: chunks a worker took */
    uint64_t shared_head; /* 'head' and 'head_rec', for the workers */
    size_t shared_head_rec;
    size_t waiting; /* event text converted and not yet taken */
    size_t held;    /* workers waiting for 'waiting' to go down */
    int paused;     /* no chunk may be started or continued */
    int quit;
};

static struct chunk *
chunk_at(const struct rp_pipeline *p, uint64_t seq)
{
    return &p->ring[seq % p->nchunks];
}

static void
add_bytes(struct rp_buf *b, const void *s, size_t n)
{
    if (rp_buf_add(b, s, n) != 0)
        abort(); /* the buffer has no maximum below SIZE_MAX / 2 */
}

/* ---- converting ---- */

/* Convert record 'i' of 'c' with w's state into the record's own events
** list.  Runs without the mutex: until the record is marked done, its slot
** is this worker's alone. */
static void
convert_one(struct worker *w, struct chunk *c, size_t i)
{
    struct slot *sl = &c->slot[i];
    struct rp_error err = {0};

    if (sl->events == NULL)
        rp_events_new(&sl->events);
    sl->rc = rp_script_convert(w->script, &sl->rec, sl->events, &err);
    sl->text = rp_events_text_bytes(sl->events);
    if (sl->rc < 0) {
        sl->error = rp_xstrdup(err.msg);
        sl->traceback = rp_xstrdup(rp_script_traceback(w->script));
    }
}

/* Tell the caller that it may have records to take (under p->mu). */
static void
wake_caller(struct rp_pipeline *p)
{
    char b = 1;

    pthread_cond_signal(&p->done);
    if (write(p->fd[1], &b, 1) < 0)
        (void)0; /* the pipe is full: it is readable anyway */
}

/* Convert the records of 'c' that are w's (all of them, but with partition
** key).  Called with p->mu held, which is let go while a record converts.
** While too much converted text waits to be taken, a worker waits before
** each record, unless that record is the one the caller takes next; it
** wakes the caller first, which may have converted records to take.
** Returns 1, or 0 when it gave up because the pipeline paused or quits
** (the chunk is then converted again, or not at all). */
static int
convert_chunk(struct rp_pipeline *p, struct worker *w, struct chunk *c)
{
    for (size_t i = c->start; i < c->n; i++) {
        struct slot *sl = &c->slot[i];

        if (p->by_key && sl->worker != w->index)
            continue;
        while (p->waiting >= RP_PIPELINE_WAITING_BYTES &&
               !(c->seq == p->shared_head && i == p->shared_head_rec) &&
               !p->paused && !p->quit) {
            wake_caller(p);
            p->held++;
            pthread_cond_wait(&p->work, &p->mu);
            p->held--;
        }
        if (p->paused || p->quit)
            return 0;
        pthread_mutex_unlock(&p->mu);
        convert_one(w, c, i);
        pthread_mutex_lock(&p->mu);
        sl->done = 1;
        p->waiting += sl->text;
        if (p->waiting >= RP_PIPELINE_WAITING_BYTES && c->seq == p->shared_head)
            wake_caller(p);
    }
    return 1;
}

/* The next chunk worker 'w' may convert, or NULL (under p->mu).  Past the
** waiting bound only the oldest chunk may start. */
static struct chunk *
claim(struct rp_pipeline *p, struct worker *w)
{
    uint64_t *next = p->by_key ? &w->next : &p->claimed;

    if (p->paused || *next >= p->published)
        return NULL;
    if (p->waiting >= RP_PIPELINE_WAITING_BYTES && *next != p->shared_head)
        return NULL;
    return chunk_at(p, (*next)++);
}

/* A worker's thread: convert chunks until told to quit. */
static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct rp_pipeline *p = w->p;
    struct chunk *c = NULL;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && (c = claim(p, w)) == NULL)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->quit)
            break;
        w->busy = 1;
        if (convert_chunk(p, w, c) && --c->pending == 0 &&
            c->seq == p->shared_head)
            wake_caller(p);
        w->busy = 0;
        if (p->paused)
            pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Stop the workers from converting and wait until none is busy; a worker
** in the middle of a chunk gives it up after its current record. */
static void
pause_workers(struct rp_pipeline *p)
{
    if (!p->threaded)
        return;
    pthread_mutex_lock(&p->mu);
    p->paused = 1;
    pthread_cond_broadcast(&p->work);
    for (;;) {
        size_t busy = 0;

        for (size_t i = 0; i < p->nw; i++)
            busy += (size_t)p->w[i].busy;
        if (busy == 0)
            break;
        pthread_cond_wait(&p->done, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

static void
resume_workers(struct rp_pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    p->paused = 0;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

/* ---- chunks ---- */

/* Forget what the conversion of 'c' gave (events, failures); the emptied
** lists keep their memory unless they held more than KEEP_EVENT_BYTES or
** KEEP_EVENTS.
** Returns the event text of the records not yet taken, which 'waiting'
** counts. */
static size_t
clear_output(struct chunk *c, size_t taken)
{
    size_t text = 0;

    for (size_t i = 0; i < c->n; i++) {
        struct slot *sl = &c->slot[i];

        if (i >= taken && sl->done)
            text += sl->text;
        free(sl->error);
        free(sl->traceback);
        sl->error = sl->traceback = NULL;
        sl->rc = 0;
        sl->done = 0;
        sl->text = 0;
        if (sl->events != NULL &&
            (rp_events_text_bytes(sl->events) > KEEP_EVENT_BYTES ||
             rp_events_count(sl->events) > KEEP_EVENTS)) {
            rp_events_free(sl->events);
            sl->events = NULL;
        } else if (sl->events != NULL) {
            rp_events_reset(sl->events);
        }
    }
    return text;
}

/* Empty 'c' for the next records.  Returns the event text of the records
** not yet taken. */
static size_t
clear_chunk(struct rp_pipeline *p, struct chunk *c, size_t taken)
{
    size_t text = clear_output(c, taken);

    c->n = 0;
    c->start = 0;
    if (c->bytes.cap > p->keep_bytes)
        rp_buf_dispose(&c->bytes);
    else
        rp_buf_reset(&c->bytes);
    return text;
}

/* Hand the chunk being filled to the workers. */
static void
publish(struct rp_pipeline *p)
{
    struct chunk *c = chunk_at(p, p->published);

    if (c->n == 0 || p->published - p->head >= p->nchunks)
        return;
    for (size_t i = 0; i < c->n; i++) {
        struct slot *sl = &c->slot[i];

        sl->rec.key = c->bytes.data + sl->key_off;
        sl->rec.data = (const unsigned char *)c->bytes.data + sl->data_off;
        sl->rec.file = c->bytes.data + sl->file_off;
    }
    c->seq = p->published;
    c->start = 0;
    c->pending = p->by_key ? p->nw : 1;
    pthread_mutex_lock(&p->mu);
    p->published++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

/* The oldest chunk was wholly taken: make it the one filled next. */
static void
release_head(struct rp_pipeline *p)
{
    struct chunk *c = chunk_at(p, p->head);

    p->ahead -= c->bytes.len;
    clear_chunk(p, c, c->n);
    p->head++;
    p->head_rec = 0;
    p->head_ready = 0;
    pthread_mutex_lock(&p->mu);
    p->shared_head = p->head;
    p->shared_head_rec = 0;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

/* Every chunk handed over and not wholly taken is to be converted again
** (the workers are paused).  The records of the oldest one already taken
** stay taken. */
static void
convert_again(struct rp_pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    for (uint64_t seq = p->head; seq < p->published; seq++) {
        struct chunk *c = chunk_at(p, seq);

        p->waiting -= clear_output(c, seq == p->head ? p->head_rec : 0);
        c->start = seq == p->head ? p->head_rec : 0;
        c->pending = p->by_key ? p->nw : 1;
    }
    p->claimed = p->head;
    for (size_t i = 0; i < p->nw; i++)
        p->w[i].next = p->head;
    pthread_mutex_unlock(&p->mu);
    p->head_ready = p->head_rec;
}

/* ---- public ---- */

void
rp_pipeline_free(struct rp_pipeline *p)
{
    if (p == NULL)
        return;
    if (p->threaded) {
        pthread_mutex_lock(&p->mu);
        p->quit = 1;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < p->nw; i++)
            if (p->w[i].started)
                pthread_join(p->w[i].thread, NULL);
    }
    for (size_t i = 0; p->ring != NULL && i < p->nchunks; i++) {
        struct chunk *c = &p->ring[i];

        clear_output(c, 0);
        for (size_t k = 0; k < CHUNK_RECORDS; k++)
            rp_events_free(c->slot[k].events);
        rp_buf_dispose(&c->bytes);
    }
    free(p->ring);
    for (size_t i = 0; i < p->nw; i++)
        rp_script_free(p->w[i].script);
    free(p->w);
    for (int i = 0; i < 2; i++)
        if (p->fd[i] >= 0)
            close(p->fd[i]);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Start one thread per worker, with every signal blocked in them: signals
** are the caller's thread's business. */
static int
start_threads(struct rp_pipeline *p, struct rp_error *err)
{
    sigset_t all, old;
    int rc = 0;

    if (pipe(p->fd) != 0) {
        p->fd[0] = p->fd[1] = -1;
        return rp_error_set(err, RP_EIO, "pipe: %s", strerror(errno));
    }
    for (int i = 0; i < 2; i++) {
        fcntl(p->fd[i], F_SETFL, fcntl(p->fd[i], F_GETFL) | O_NONBLOCK);
        fcntl(p->fd[i], F_SETFD, FD_CLOEXEC);
    }
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (size_t i = 0; i < p->nw && rc == 0; i++) {
        int e = pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]);

        if (e != 0)
            rc = rp_error_set(err, RP_EIO, "cannot start worker %zu: %s", i + 1,
                              strerror(e));
        else
            p->w[i].started = 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int
rp_pipeline_new(struct rp_pipeline **out, struct rp_script *first,
                const struct rp_config *cfg, struct rp_error *err)
{
    struct rp_pipeline *p = rp_xcalloc(1, sizeof(*p));
    int rc = 0;

    *out = NULL;
    p->cfg = cfg;
    p->nw = cfg->workers > 1 ? (size_t)cfg->workers : 1;
    p->threaded = p->nw > 1;
    p->by_key = p->threaded && cfg->partition == RP_PARTITION_KEY;
    p->fd[0] = p->fd[1] = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->w = rp_xcalloc(p->nw, sizeof(*p->w));
    p->w[0].script = first;
    /* Enough chunks for each worker to have one in hand and one ready;
    ** smaller ones with many workers, so that what the ring holds and
    ** keeps does not grow with their number. */
    p->nchunks = p->threaded ? 2 * p->nw + 2 : 1;
    p->chunk_records = RING_RECORDS / p->nchunks;
    if (p->chunk_records > CHUNK_RECORDS)
        p->chunk_records = CHUNK_RECORDS;
    if (p->chunk_records < 4)
        p->chunk_records = 4;
    p->keep_bytes = KEEP_RING_BYTES / p->nchunks;
    if (p->keep_bytes > (1u << 20))
        p->keep_bytes = 1u << 20;
    p->ring = rp_xcalloc(p->nchunks, sizeof(*p->ring));
    for (size_t i = 0; i < p->nchunks; i++)
        rp_buf_init(&p->ring[i].bytes, 0);
    for (size_t i = 0; i < p->nw; i++) {
        p->w[i].p = p;
        p->w[i].index = i;
    }
    if (p->threaded && cfg->partition == RP_PARTITION_UNSET) {
        rc = rp_error_set(err, RP_EINVAL,
                          "%zu workers need a partition (none or key)", p->nw);
        goto fail;
    }
    for (size_t i = 1; i < p->nw; i++) {
        rc = rp_script_new(&p->w[i].script, cfg->script, cfg, err);
        if (rc != 0)
            goto fail;
        rp_script_apply_config(p->w[i].script, cfg);
    }
    if (p->threaded && (rc = start_threads(p, err)) != 0)
        goto fail;
    *out = p;
    return 0;
fail:
    rp_pipeline_free(p);
    return rc;
}

size_t
rp_pipeline_workers(const struct rp_pipeline *p)
{
    return p->nw;
}

int
rp_pipeline_room(const struct rp_pipeline *p)
{
    return p->published - p->head < p->nchunks &&
           p->ahead < RP_PIPELINE_AHEAD_BYTES;
}

void
rp_pipeline_put(struct rp_pipeline *p, const struct rp_record *rec)
{
    struct chunk *c = chunk_at(p, p->published);
    struct slot *sl = &c->slot[c->n];
    size_t before = c->bytes.len;
    const char *file = rec->file ? rec->file : "";

    assert(p->published - p->head < p->nchunks && c->n < p->chunk_records);
    sl->rec = *rec;
    sl->key_off = c->bytes.len;
    add_bytes(&c->bytes, rec->key, rec->key_len);
    add_bytes(&c->bytes, "", 1);
    sl->data_off = c->bytes.len;
    add_bytes(&c->bytes, rec->data, rec->data_len);
    sl->file_off = c->bytes.len;
    add_bytes(&c->bytes, file, strlen(file) + 1);
    if (p->by_key)
        sl->worker = (size_t)(rp_fnv1a(rec->key, rec->key_len) % p->nw);
    c->n++;
    p->ahead += c->bytes.len - before;
    p->pending++;
    if (c->n == p->chunk_records || c->bytes.len >= CHUNK_BYTES ||
        p->ahead >= RP_PIPELINE_AHEAD_BYTES)
        publish(p);
}

void
rp_pipeline_flush(struct rp_pipeline *p)
{
    publish(p);
}

int
rp_pipeline_next(struct rp_pipeline *p, int wait,
                 const struct rp_converted **out)
{
    struct chunk *c;
    struct slot *sl;

    if (p->head == p->published)
        return 0;
    c = chunk_at(p, p->head);
    sl = &c->slot[p->head_rec];
    if (p->head_ready > p->head_rec) {
        /* known to be converted */
    } else if (!p->threaded) {
        /* One worker: convert it now, on this thread, as it is taken. */
        convert_one(&p->w[0], c, p->head_rec);
        sl->done = 1;
        p->waiting += sl->text;
        p->head_ready = p->head_rec + 1;
    } else {
        char buf[64];

        pthread_mutex_lock(&p->mu);
        while (read(p->fd[0], buf, sizeof(buf)) > 0)
            ;
        while (wait && c->pending > 0 && !sl->done)
            pthread_cond_wait(&p->done, &p->mu);
        while (p->head_ready < c->n && c->slot[p->head_ready].done)
            p->head_ready++;
        pthread_mutex_unlock(&p->mu);
        if (p->head_ready <= p->head_rec)
            return 0;
    }
    p->cur.rec = &sl->rec;
    p->cur.events = sl->events;
    p->cur.count = sl->events ? rp_events_count(sl->events) : 0;
    p->cur.rc = sl->rc;
    p->cur.error = sl->error;
    p->cur.traceback = sl->traceback;
    *out = &p->cur;
    return 1;
}

const struct rp_event *
rp_pipeline_event(const struct rp_converted *c, size_t i)
{
    return rp_events_get(c->events, i);
}

void
rp_pipeline_pop(struct rp_pipeline *p)
{
    struct chunk *c = chunk_at(p, p->head);
    size_t text = c->slot[p->head_rec].text;

    p->pending--;
    p->head_rec++;
    if (!p->threaded) {
        p->waiting -= text;
    } else {
        pthread_mutex_lock(&p->mu);
        p->waiting -= text;
        p->shared_head_rec = p->head_rec;
        if (p->held > 0)
            pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
    }
    if (p->head_rec == c->n)
        release_head(p);
}

size_t
rp_pipeline_pending(const struct rp_pipeline *p)
{
    return p->pending;
}

int
rp_pipeline_fd(const struct rp_pipeline *p)
{
    return p->fd[0];
}

int
rp_pipeline_counts(const struct rp_pipeline *p, rp_store_count_fn fn, void *ctx)
{
    /* The keys reported, an open-addressing set of at most half load. */
    struct seen {
        const char *key;
        size_t len;
    } * seen;
    size_t cap = 16, mask;
    uint64_t last = p->published;
    int rc = 0;

    while (cap < 2 * p->pending)
        cap *= 2;
    mask = cap - 1;
    seen = rp_xcalloc(cap, sizeof(*seen));
    if (p->published - p->head < p->nchunks)
        last++; /* the chunk being filled */
    for (uint64_t seq = p->head; seq < last && rc == 0; seq++) {
        const struct chunk *c = chunk_at(p, seq);

        for (size_t i = seq == p->head ? p->head_rec : 0; i < c->n && rc == 0;
             i++) {
            const struct slot *sl = &c->slot[i];
            const char *key = c->bytes.data + sl->key_off;
            size_t len = sl->rec.key_len, h = (size_t)rp_fnv1a(key, len);
            int found = 0;

            for (h &= mask; !found && seen[h].key != NULL; h = (h + 1) & mask)
                found =
                    seen[h].len == len && memcmp(seen[h].key, key, len) == 0;
            if (found)
                continue;
            seen[h].key = key;
            seen[h].len = len;
            rc = fn(ctx, key, len, sl->rec.stream_version - 1);
        }
    }
    free(seen);
    return rc;
}

int
rp_pipeline_reload(struct rp_pipeline *p, struct rp_error *err)
{
    struct rp_script **fresh = rp_xcalloc(p->nw, sizeof(*fresh));
    struct rp_config stated;
    int rc = 0;

    rp_config_init(&stated);
    pause_workers(p);
    for (size_t i = 0; i < p->nw && rc == 0; i++) {
        rc = rp_script_new(&fresh[i], p->cfg->script, p->cfg, err);
        if (rc == 0 && i == 0)
            rc = rp_script_read_config(fresh[0], &stated, err);
        if (rc == 0 && i == 0 && p->threaded &&
            stated.partition != p->cfg->partition)
            rc = rp_error_set(err, RP_EINVAL,
                              "%s now states another partition: a restart "
                              "is needed to change it",
                              p->cfg->script);
        if (rc == 0)
            rp_script_apply_config(fresh[i], p->cfg);
    }
    if (rc == 0) {
        for (size_t i = 0; i < p->nw; i++) {
            rp_script_free(p->w[i].script);
            p->w[i].script = fresh[i];
            fresh[i] = NULL;
        }
    }
    /* Pausing may have stopped a worker in the middle of a chunk. */
    convert_again(p);
    for (size_t i = 0; i < p->nw; i++)
        rp_script_free(fresh[i]);
    free(fresh);
    rp_config_dispose(&stated);
    resume_workers(p);
    return rc;
}

void
rp_pipeline_discard(struct rp_pipeline *p)
{
    uint64_t last = p->published;

    pause_workers(p);
    if (p->published - p->head < p->nchunks)
        last++;
    for (uint64_t seq = p->head; seq < last; seq++)
        clear_chunk(p, chunk_at(p, seq), seq == p->head ? p->head_rec : 0);
    pthread_mutex_lock(&p->mu);
    p->head = p->claimed = p->shared_head = p->published;
    p->shared_head_rec = 0;
    for (size_t i = 0; i < p->nw; i++)
        p->w[i].next = p->published;
    p->waiting = 0;
    pthread_mutex_unlock(&p->mu);
    p->head_rec = 0;
    p->head_ready = 0;
    p->ahead = 0;
    p->pending = 0;
    resume_workers(p);
}

void
rp_pipeline_get_stats(struct rp_pipeline *p, struct rp_pipeline_stats *out)
{
    out->records = p->pending;
    out->record_bytes = p->ahead;
    pthread_mutex_lock(&p->mu);
    out->event_bytes = p->waiting;
    pthread_mutex_unlock(&p->mu);
}
