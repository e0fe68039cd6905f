/* The replication loop.  One thread: read records in order into the
** conversion pipeline (whose workers may be threads of their own), queue
** the events it gives back in the sink, hand the sink's operations to the
** target (many in flight), give the outcomes back, save the acknowledged
** frontier, and wait on the store folder (inotify, with a poll fallback),
** the sockets, the pipeline and a signal pipe at once. */
#include "replicate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "checkpoint.h"
#include "event.h"
#include "log.h"
#include "sink.h"
#include "store.h"
#include "target.h"

#define READ_CHUNK 64       /* records read between two looks at the target */
#define REMOTE_CKPT_MS 5000 /* checkpoint stream at most this often */
#define SETTLE_MS 5000      /* wait for answers at a stop */
#define DRAIN_MS 60000      /* flush what is queued at an input error */
#define CKPT_STREAM_PREFIX "replicator-checkpoint-"

/* Set by the signal handler; the pipe wakes the poll. */
static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t signal_count; /* a second one: stop waiting */
static int signal_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
    int saved = errno;
    char c = 1;

    stop_signal = sig;
    signal_count++;
    if (signal_pipe[1] >= 0 && write(signal_pipe[1], &c, 1) < 0)
        (void)0;
    errno = saved;
}

struct loop {
    const struct rp_replicate_options *opt;
    const struct rp_config *cfg;
    struct rp_pipeline *pipe; /* converts what is read, in store order */
    struct rp_store *store;
    struct rp_sink *sink;
    struct rp_target *target;
    const char *ckpt_path;
    char ckpt_default[512];
    char marker_stream[512];
    struct rp_idgen idgen;
    int inotify_fd;
    int resuming;          /* waiting for the target's checkpoint (to
                              confirm the local one when saved_sv > 0) */
    int reader_idle;       /* the store had nothing more at the last read */
    int taking;            /* converted records may go on to the sink (0
                              after one failed) */
    uint64_t next_read_ms; /* when an idle store is looked at again */
    uint64_t saved_sv;     /* frontier of the last local checkpoint */
    uint64_t saved_ms;
    uint64_t marked_sv; /* frontier of the last checkpoint event queued */
    uint64_t marked_ms;
    int saved_once;
    uint64_t progress_ms; /* last progress line */
    uint64_t progress_acked;
};

/* ---- set-up helpers ---- */

static int
open_signals(struct rp_error *err)
{
    struct sigaction sa;

    if (pipe(signal_pipe) != 0)
        return rp_error_set(err, RP_EIO, "pipe: %s", strerror(errno));
    for (int i = 0; i < 2; i++) {
        fcntl(signal_pipe[i], F_SETFL,
              fcntl(signal_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    stop_signal = 0;
    signal_count = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return 0;
}

static void
close_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (int i = 0; i < 2; i++) {
        if (signal_pipe[i] >= 0)
            close(signal_pipe[i]);
        signal_pipe[i] = -1;
    }
}

static void
drain_fd(int fd)
{
    char buf[4096];

    while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
        ;
}

/* ---- checkpoints ---- */

static int
ignore_count(void *ctx, const char *key, size_t key_len, uint64_t count)
{
    (void)ctx;
    (void)key;
    (void)key_len;
    (void)count;
    return 0;
}

static int
set_count(void *ctx, const char *key, size_t key_len, uint64_t count)
{
    rp_store_set_stream_version(ctx, key, key_len, count);
    return 0;
}

/* Write the local checkpoint at the frontier (if it moved, or 'force';
** never before the resume point is known).  Returns 1 (written), 0 or an
** error.
** The reader's counts come first, then the corrections for keys with
** records read and not yet in the sink (the pipeline's), then for keys
** with records after the frontier (the sink's): the last count of a key
** wins. */
static int
save_local(struct loop *L, int force, struct rp_error *err)
{
    struct rp_checkpoint_writer *w = NULL;
    struct rp_store_pos pos;
    int rc;

    rp_sink_frontier(L->sink, &pos);
    if (L->resuming ||
        (!force && L->saved_once && pos.store_version == L->saved_sv))
        return 0;
    rc = rp_checkpoint_begin(&w, L->ckpt_path, L->cfg->source_id, &pos, err);
    if (rc < 0)
        return rc;
    rp_store_foreach_count(L->store, rp_checkpoint_add_count, w);
    rp_pipeline_counts(L->pipe, rp_checkpoint_add_count, w);
    rp_sink_frontier_counts(L->sink, rp_checkpoint_add_count, w);
    rc = rp_checkpoint_commit(w, err);
    if (rc < 0)
        return rc;
    L->saved_sv = pos.store_version;
    L->saved_ms = rp_now_ms();
    L->saved_once = 1;
    return 1;
}

/* Queue a checkpoint event for the target when the frontier moved. */
static int
mark_remote(struct loop *L, struct rp_error *err)
{
    struct rp_store_pos pos;
    struct rp_buf json;
    unsigned char id[16];
    int rc;

    rp_sink_frontier(L->sink, &pos);
    if (L->resuming || pos.store_version == L->marked_sv)
        return 0;
    rp_buf_init(&json, 0);
    rp_checkpoint_to_json(&json, L->cfg->source_id, &pos);
    /* Ids of checkpoint events: index 2^32-1 of the frontier's record,
    ** which no converted event uses in practice. */
    rp_idgen_make(&L->idgen, pos.store_version, UINT32_MAX, id);
    rc = rp_sink_put_marker(L->sink, L->marker_stream, json.data, json.len, id,
                            err);
    rp_buf_dispose(&json);
    if (rc == 0) {
        L->marked_sv = pos.store_version;
        L->marked_ms = rp_now_ms();
    }
    return rc;
}

/* Resume from the local checkpoint.  Returns 1 (resumed), 0 (no file) or
** an error. */
static int
resume_local(struct loop *L, struct rp_error *err)
{
    struct rp_store_pos pos;
    char source[512];
    int rc;

    rc = rp_checkpoint_load(L->ckpt_path, source, sizeof(source), &pos,
                            ignore_count, NULL, err);
    if (rc == RP_ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    if (strcmp(source, L->cfg->source_id) != 0)
        return rp_error_set(err, RP_EINVAL,
                            "checkpoint %s was made for source '%s', not '%s' "
                            "(another store?): give another --checkpoint",
                            L->ckpt_path, source, L->cfg->source_id);
    if (pos.store_version > 0) {
        rc = rp_store_seek(L->store, &pos, err);
        if (rc < 0)
            return rp_error_prefix(err,
                                   "resuming from checkpoint %s (it "
                                   "does not match the store; remove "
                                   "it to start over)",
                                   L->ckpt_path);
        rc = rp_checkpoint_load(L->ckpt_path, source, sizeof(source), &pos,
                                set_count, L->store, err);
        if (rc < 0)
            return rc;
    }
    rp_sink_set_frontier(L->sink, &pos);
    L->saved_sv = L->marked_sv = pos.store_version;
    L->saved_once = 1;
    if (pos.store_version > 0)
        rp_log(RP_LOG_INFO,
               "resuming after store version %" PRIu64 " (%s, offset %" PRIu64
               ") from checkpoint %s",
               pos.store_version, pos.file, pos.offset, L->ckpt_path);
    else
        rp_log(RP_LOG_INFO, "checkpoint %s: starting from the beginning",
               L->ckpt_path);
    return 1;
}

/* The target has no checkpoint stream, and this run will create it: ask
** the target to keep only the last checkpoint_max_count of its events
** ($maxCount in the stream's metadata).  The event id is that of "store
** version 0" (no record's) and the count. */
static void
cap_markers(struct loop *L)
{
    uint64_t n = L->cfg->checkpoint_max_count;
    unsigned char id[16];

    if (n == 0)
        return;
    rp_idgen_make(&L->idgen, 0, (uint32_t)n, id);
    rp_sink_cap_markers(L->sink, L->marker_stream, n, id);
}

/* Read the store again from its start, with fresh counts. */
static int
reread_store(struct loop *L, struct rp_error *err)
{
    struct rp_store *fresh = NULL;
    int rc = rp_store_open(&fresh, L->cfg->store, err);

    if (rc < 0)
        return rc;
    rp_pipeline_discard(L->pipe);
    rp_store_close(L->store);
    L->store = fresh;
    return 0;
}

/* The local checkpoint says that the records up to saved_sv reached the
** target, and the target's checkpoint stream was read to confirm it.  A
** target that holds no checkpoint stream was reset or is another server:
** resuming would leave out every event before the checkpoint, so the store
** is read from its start instead, and the streams the target does hold are
** matched, not written again.  (After a crash before the first checkpoint
** event landed, that costs a second reading and nothing else.) */
static int
check_local(struct loop *L, int found, struct rp_error *err)
{
    struct rp_store_pos start;

    L->resuming = 0;
    if (found || rp_sink_markers_off(L->sink))
        return 0;
    rp_log(RP_LOG_WARN,
           "checkpoint %s says every record up to store version %" PRIu64
           " reached the target, but the target has no checkpoint stream %s "
           "(was it reset, or is it another server?): replicating from the "
           "start of the store; streams the target holds are matched, not "
           "written again",
           L->ckpt_path, L->saved_sv, L->marker_stream);
    memset(&start, 0, sizeof(start));
    rp_sink_set_frontier(L->sink, &start);
    L->saved_sv = L->marked_sv = 0;
    cap_markers(L);
    return reread_store(L, err);
}

/* The target's checkpoint arrived (or there is none): skip the store up to
** it, counting keys, and start reading. */
static int
resume_remote(struct loop *L, const char *data, size_t len,
              struct rp_error *err)
{
    struct rp_store_pos want, got;
    struct rp_error perr;
    int rc;

    L->resuming = 0;
    if (data == NULL) {
        cap_markers(L);
        rp_log(RP_LOG_INFO,
               "no checkpoint (%s, none on the target): replicating from the "
               "start of the store; streams the target already holds are "
               "matched, not written again",
               L->ckpt_path);
        return 0;
    }
    if (rp_checkpoint_from_json(data, len, L->cfg->source_id, &want, &perr) <
        0) {
        rp_log(RP_LOG_WARN,
               "the target's checkpoint stream %s is not usable (%s): "
               "replicating from the start of the store",
               L->marker_stream, perr.msg);
        return 0;
    }
    rc = rp_store_skip(L->store, want.store_version, err);
    if (rc < 0)
        return rc;
    rp_store_get_pos(L->store, &got);
    if (rc == 0 || strcmp(got.file, want.file) != 0 ||
        got.offset != want.offset || memcmp(got.sha1, want.sha1, 20) != 0) {
        rp_log(RP_LOG_WARN,
               "the target's checkpoint (store version %" PRIu64
               ") does not match this store: replicating from its start",
               want.store_version);
        return reread_store(L, err);
    }
    rp_sink_set_frontier(L->sink, &got);
    L->marked_sv = got.store_version;
    rp_log(RP_LOG_INFO,
           "no local checkpoint (%s): resuming after store version %" PRIu64
           " from the target's checkpoint stream %s",
           L->ckpt_path, got.store_version, L->marker_stream);
    return 0;
}

/* ---- reading ---- */

/* Move converted records, in store order, into the sink while it has room.
** Returns 0, or the error of a record that cannot go (its conversion
** failed, or the sink refuses one of its events): that record stays in
** the pipeline, so the checkpoint's count of its key leaves it out. */
static int
take_converted(struct loop *L, struct rp_error *err)
{
    const struct rp_converted *c;
    int rc;

    while (L->taking && !rp_sink_full(L->sink) &&
           rp_pipeline_next(L->pipe, 0, &c) > 0) {
        rc = c->rc < 0 ? rp_error_set(err, c->rc, "%s", c->error) : 0;
        for (size_t i = 0; i < c->count && rc >= 0; i++)
            rc = rp_sink_check_event(L->sink, c->rec, rp_pipeline_event(c, i),
                                     err);
        if (rc == 0)
            rc = rp_sink_add_record(L->sink, c->rec, err);
        for (size_t i = 0; i < c->count && rc == 0; i++)
            rc = rp_sink_add_event(L->sink, rp_pipeline_event(c, i), err);
        if (rc < 0) {
            L->taking = 0;
            return rc;
        }
        rp_pipeline_pop(L->pipe);
    }
    return 0;
}

/* Read up to READ_CHUNK records into the pipeline while it has room, and
** take what is converted.  Returns 0 or an error. */
static int
read_some(struct loop *L, struct rp_error *err)
{
    struct rp_record rec;
    int rc;

    for (int n = 0; n < READ_CHUNK && rp_pipeline_room(L->pipe); n++) {
        rc = rp_store_next(L->store, &rec, err);
        if (rc < 0) {
            /* What was read before goes on; nothing after. */
            rp_pipeline_flush(L->pipe);
            return rc;
        }
        if (rc == 0) {
            L->reader_idle = 1;
            L->next_read_ms = rp_now_ms() + L->cfg->poll_ms;
            rp_pipeline_flush(L->pipe);
            break;
        }
        L->reader_idle = 0;
        rp_pipeline_put(L->pipe, &rec);
    }
    return take_converted(L, err);
}

/* ---- requests ---- */

/* Send what the sink has ready ('marker_only': just the checkpoint). */
static int
dispatch(struct loop *L, int flush, int marker_only, struct rp_error *err)
{
    while (rp_target_room(L->target)) {
        uint64_t now = rp_now_ms();
        struct rp_sink_req *sreq;
        int rc;

        sreq = marker_only ? rp_sink_next_marker(L->sink, now)
                           : rp_sink_next(L->sink, now, flush);
        if (sreq == NULL)
            return 0;
        rc = rp_target_start(L->target, sreq, err);
        if (rc < 0) {
            rp_sink_abandon(L->sink, sreq);
            return rc;
        }
    }
    return 0;
}

/* Give finished operations back to the sink.  Returns 0 or the first
** stop. */
static int
collect(struct loop *L, struct rp_error *err)
{
    struct rp_sink_req *sreq;
    struct rp_sink_outcome out;
    int first = 0;

    while ((sreq = rp_target_next_done(L->target, &out)) != NULL) {
        struct rp_error e = {0};
        int rc = rp_sink_done(L->sink, sreq, &out, rp_now_ms(), &e);

        if (rc < 0 && first == 0) {
            first = rc;
            *err = e;
        }
    }
    return first;
}

/* Wait for sockets, the store folder, a signal, converted records (when
** the sink has room for them), or 'timeout_ms'. */
static int
wait_events(struct loop *L, int timeout_ms, struct rp_error *err)
{
    int fds[3];
    int n = 0;
    unsigned ready = 0;
    int rc;

    fds[n++] = signal_pipe[0];
    if (L->inotify_fd >= 0)
        fds[n++] = L->inotify_fd;
    if (rp_pipeline_fd(L->pipe) >= 0 && L->taking && !rp_sink_full(L->sink))
        fds[n++] = rp_pipeline_fd(L->pipe);
    rc = rp_target_wait(L->target, fds, n, timeout_ms, &ready, err);
    if (rc < 0)
        return rc;
    if (ready & 1)
        drain_fd(signal_pipe[0]);
    if (L->inotify_fd >= 0 && (ready & 2)) {
        drain_fd(L->inotify_fd);
        L->next_read_ms = 0; /* the folder changed: read now */
    }
    return 0;
}

/* ---- progress ---- */

static void
progress(struct loop *L, int final)
{
    struct rp_sink_stats st;
    struct rp_store_pos read, acked;
    uint64_t now = rp_now_ms();
    double rate;
    char line[200];

    if (!L->opt->progress)
        return;
    if (final) {
        rp_log_status(NULL);
        return;
    }
    if (now - L->progress_ms < 1000)
        return;
    rp_sink_get_stats(L->sink, &st);
    rp_store_get_pos(L->store, &read);
    rp_sink_frontier(L->sink, &acked);
    rate = L->progress_ms == 0 ? 0.0
                               : (double)(st.events_acked - L->progress_acked) *
                                     1000.0 / (double)(now - L->progress_ms);
    L->progress_ms = now;
    L->progress_acked = st.events_acked;
    snprintf(line, sizeof(line),
             "%" PRIu64 " events, %.0f/s; acknowledged to store version "
             "%" PRIu64 ", %" PRIu64 " records pending%s",
             st.events_acked, rate, acked.store_version,
             read.store_version - acked.store_version,
             rp_sink_outage(L->sink, NULL) ? "; target not answering" : "");
    rp_log_status(line);
}

/* ---- the run ---- */

/* Wait up to 'ms' for the answers in flight (nothing new is sent but the
** checkpoint when 'marker' is set). */
static void
settle(struct loop *L, uint64_t ms, int marker)
{
    uint64_t end = rp_now_ms() + ms;
    struct rp_error e;

    while (rp_target_in_flight(L->target) > 0 ||
           (marker && rp_sink_marker_pending(L->sink) &&
            !rp_sink_outage(L->sink, NULL))) {
        uint64_t now = rp_now_ms();

        if (now >= end || signal_count > 1)
            break;
        if (marker && dispatch(L, 1, 1, &e) < 0)
            break;
        if (rp_target_in_flight(L->target) == 0 &&
            rp_sink_wait_ms(L->sink, now) > end - now)
            break;
        if (wait_events(L, (int)(end - now < 100 ? end - now : 100), &e) < 0)
            break;
        if (collect(L, &e) < 0)
            rp_log(RP_LOG_ERROR, "%s", e.msg);
    }
}

static int
loop_setup(struct loop *L, struct rp_error *err)
{
    const struct rp_config *cfg = L->cfg;
    const struct rp_replicate_options *o = L->opt;
    struct rp_sink_options so;
    struct rp_target_options to;
    int rc;

    memset(&to, 0, sizeof(to));
    to.targets = o->targets;
    to.gossip_seeds = o->gossip_seeds;
    to.username = o->username;
    to.password = o->password;
    to.cacert = o->cacert;
    to.insecure = o->insecure;
    to.connect_timeout_ms = o->connect_timeout_ms;
    to.request_timeout_ms = o->request_timeout_ms;
    to.max_in_flight = o->max_in_flight ? o->max_in_flight : 16;
    to.stop = &stop_signal;
    if ((rc = rp_target_new(&L->target, &to, err)) < 0)
        return rc;
    if (cfg->checkpoint != NULL) {
        L->ckpt_path = cfg->checkpoint;
    } else {
        snprintf(L->ckpt_default, sizeof(L->ckpt_default),
                 "replicator-%s.checkpoint", cfg->source_id);
        L->ckpt_path = L->ckpt_default;
    }
    snprintf(L->marker_stream, sizeof(L->marker_stream), "%s%s",
             CKPT_STREAM_PREFIX, cfg->source_id);
    rp_idgen_init(&L->idgen, cfg->source_id, strlen(cfg->source_id));
    if ((rc = rp_store_open(&L->store, cfg->store, err)) < 0)
        return rc;
    memset(&so, 0, sizeof(so));
    so.source_id = cfg->source_id;
    so.source_metadata = cfg->source_metadata;
    so.batch_events = (size_t)cfg->batch_events;
    so.batch_bytes = (size_t)cfg->batch_bytes;
    so.max_event_bytes = (size_t)cfg->max_event_bytes;
    so.max_in_flight = to.max_in_flight;
    /* Enough for a batch out and the next one filling on every stream
    ** that sends, and bounded whatever the store's size: the bound counts
    ** the event text and a cost per stream with a queue. */
    so.max_buffer_bytes = 16u << 20;
    if (so.max_buffer_bytes < so.batch_bytes * 3)
        so.max_buffer_bytes = so.batch_bytes * 3;
    so.max_buffer_events = so.batch_events * 3;
    if (so.max_buffer_events < 20000)
        so.max_buffer_events = 20000;
    so.max_records = so.max_buffer_events * 2;
    so.max_streams = 200000;
    so.cluster = rp_target_cluster(L->target);
    if ((rc = rp_sink_new(&L->sink, &so, NULL, err)) < 0)
        return rc;
    L->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (L->inotify_fd >= 0 &&
        inotify_add_watch(L->inotify_fd, cfg->store,
                          IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE |
                              IN_DELETE | IN_MOVED_FROM | IN_ATTRIB) < 0) {
        rp_log(RP_LOG_DEBUG, "inotify on %s: %s; polling every %" PRIu64 " ms",
               cfg->store, strerror(errno), cfg->poll_ms);
        close(L->inotify_fd);
        L->inotify_fd = -1;
    }
    return 0;
}

static void
loop_free(struct loop *L)
{
    rp_target_free(L->target);
    rp_sink_free(L->sink);
    rp_store_close(L->store);
    if (L->inotify_fd >= 0)
        close(L->inotify_fd);
}

int
rp_replicate_run(struct rp_pipeline *pipe,
                 const struct rp_replicate_options *opt, struct rp_error *err)
{
    struct loop L;
    struct rp_error e = {0};
    char shown[512];
    int failure = 0;     /* the error that stops the run, 0 for none */
    int input_error = 0; /* it came from the store or the script */
    uint64_t drain_end = 0;
    struct rp_store_pos f;
    int rc_save;

    memset(&L, 0, sizeof(L));
    L.opt = opt;
    L.cfg = opt->cfg;
    L.pipe = pipe;
    L.taking = 1;
    L.inotify_fd = -1;
    if ((failure = open_signals(err)) < 0)
        return failure;
    if ((failure = loop_setup(&L, err)) < 0) {
        rp_log(RP_LOG_ERROR, "%s", err->msg);
        goto done;
    }
    rp_target_describe(L.target, shown, sizeof(shown));
    rp_log(RP_LOG_INFO, "replicating store %s (source '%s') to %s%s",
           L.cfg->store, L.cfg->source_id, shown,
           rp_target_cluster(L.target) ? " (a cluster: writes go to the leader)"
                                       : "");
    if ((failure = rp_target_connect(L.target, err)) < 0) {
        rp_log(RP_LOG_ERROR, "%s", err->msg);
        goto done;
    }
    failure = resume_local(&L, err);
    if (failure < 0) {
        rp_log(RP_LOG_ERROR, "%s", err->msg);
        goto done;
    }
    if (failure == 0 || L.saved_sv > 0) {
        L.resuming = 1;
        rp_sink_fetch_marker(L.sink, L.marker_stream);
    }
    failure = 0;
    for (;;) {
        uint64_t now = rp_now_ms();
        int timeout, rc = 0;

        if (stop_signal) {
            rp_log(RP_LOG_INFO,
                   "signal %d: stopping (answers in flight are waited for "
                   "up to %d s; a second signal stops at once)",
                   (int)stop_signal, SETTLE_MS / 1000);
            break;
        }
        if (L.resuming && !input_error) {
            const char *data = NULL;
            size_t len = 0;
            int got = rp_sink_marker_fetched(L.sink, &data, &len);

            if (got != 0 && L.saved_sv > 0)
                rc = check_local(&L, got > 0, &e);
            else if (got != 0)
                rc = resume_remote(&L, got > 0 ? data : NULL, len, &e);
        }
        /* Take what is converted, and read while there is room, unless an
        ** error stopped reading. */
        if (rc == 0 && !L.resuming)
            rc = take_converted(&L, &e);
        if (rc == 0 && !L.resuming && !input_error &&
            (!L.reader_idle || now >= L.next_read_ms))
            rc = read_some(&L, &e);
        if (rc < 0) {
            /* Send what came before the bad record, then stop. */
            rp_log(RP_LOG_ERROR, "%s", e.msg);
            if (!failure) {
                failure = rc;
                *err = e;
            }
            if (!input_error)
                drain_end = now + DRAIN_MS;
            input_error = 1;
            rc = 0;
        }
        /* Checkpoints first, so that a checkpoint event goes out below. */
        now = rp_now_ms();
        if (!L.resuming) {
            uint64_t every = 1000 + rp_store_key_count(L.store) / 100;

            if (now - L.saved_ms >= every && (rc = save_local(&L, 0, &e)) > 0)
                rc = 0;
            if (rc == 0 && !input_error && now - L.marked_ms >= REMOTE_CKPT_MS)
                rc = mark_remote(&L, &e);
        }
        /* Partial batches go when there is nothing more to read now, when
        ** the buffers are full, or when nothing is out (the target would
        ** idle); else streams fill their batches (fewer, larger requests:
        ** a request costs the target more than an event). */
        if (rc == 0)
            rc =
                dispatch(&L,
                         L.reader_idle || input_error || rp_sink_full(L.sink) ||
                             rp_target_in_flight(L.target) == 0,
                         0, &e);
        now = rp_now_ms();
        if (rc < 0) {
            rp_log(RP_LOG_ERROR, "%s", e.msg);
            if (!failure) {
                failure = rc;
                *err = e;
            }
            break;
        }
        progress(&L, 0);
        if (input_error) {
            /* After a bad frame, what was read before it still goes. */
            if ((rp_sink_idle(L.sink) &&
                 (!L.taking || rp_pipeline_pending(L.pipe) == 0)) ||
                now >= drain_end)
                break;
        } else if (opt->until_caught_up && !L.resuming && L.reader_idle &&
                   rp_pipeline_pending(L.pipe) == 0 && rp_sink_idle(L.sink)) {
            rp_sink_frontier(L.sink, &f);
            if (f.store_version == L.marked_sv) {
                rp_log(RP_LOG_INFO,
                       "caught up: every record up to store version %" PRIu64
                       " is acknowledged",
                       f.store_version);
                break;
            }
            L.marked_ms = 0; /* write the final checkpoint event now */
            continue;
        }
        /* Wait: not at all while there is reading to do, else until the
        ** next look at the store, a retry, a checkpoint or converted
        ** records. */
        if (!L.resuming && !input_error && !L.reader_idle &&
            !rp_sink_full(L.sink) && rp_pipeline_room(L.pipe)) {
            timeout = 0;
        } else {
            uint64_t t = L.cfg->poll_ms;
            uint64_t w = rp_sink_wait_ms(L.sink, now);

            if (L.reader_idle && L.next_read_ms > now &&
                L.next_read_ms - now < t)
                t = L.next_read_ms - now;
            if (w > 0 && w < t)
                t = w;
            if (t > 1000)
                t = 1000;
            timeout = (int)t;
        }
        rc = wait_events(&L, timeout, &e);
        if (rc == 0)
            rc = collect(&L, &e);
        if (rc < 0) {
            rp_log(RP_LOG_ERROR, "%s", e.msg);
            if (!failure) {
                failure = rc;
                *err = e;
            }
            break;
        }
    }
    /* Let the answers in flight land and save what they acknowledged; after
    ** a clean stop, the checkpoint event too. */
    settle(&L, SETTLE_MS, 0);
    if (!failure) {
        mark_remote(&L, &e);
        settle(&L, 2000, 1);
    }
    progress(&L, 1);
    rc_save = save_local(&L, 1, &e);
    if (rc_save < 0) {
        rp_log(RP_LOG_ERROR, "%s", e.msg);
        if (!failure) {
            failure = e.code;
            *err = e;
        }
    } else if (rc_save > 0) {
        rp_sink_frontier(L.sink, &f);
        rp_log(RP_LOG_INFO, "checkpoint saved: store version %" PRIu64 " (%s)",
               f.store_version, L.ckpt_path);
    }
done:
    loop_free(&L);
    close_signals();
    return failure;
}
