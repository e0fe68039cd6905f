/* The replication loop.  One thread: read and convert records in order,
** queue their events in the sink, carry the sink's requests over HTTP
** (many in flight), give the answers back, save the acknowledged frontier,
** and wait on the store folder (inotify, with a poll fallback), the sockets
** and a signal pipe at once. */
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
#include "http.h"
#include "json.h"
#include "log.h"
#include "sink.h"
#include "store.h"

#define MAX_TARGETS 16
#define READ_CHUNK 64        /* records read between two looks at HTTP */
#define REMOTE_CKPT_MS 5000  /* checkpoint stream at most this often */
#define SETTLE_MS 5000       /* wait for answers at a stop */
#define DRAIN_MS 60000       /* flush what is queued at an input error */
#define GOSSIP_EVERY_MS 1000 /* re-ask the cluster at most this often */
#define GOSSIP_WAIT_MS 2000  /* a node's answer to /gossip, at most */
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

/* One HTTP request slot: a sink request on its way. */
struct slot {
    struct rp_http_req http;  /* what the transport carries */
    struct rp_sink_req *sreq; /* what the sink gave, NULL when free */
    char url[2048];           /* base + path */
};

struct loop {
    const struct rp_replicate_options *opt;
    const struct rp_config *cfg;
    struct rp_script *script;
    struct rp_store *store;
    struct rp_sink *sink;
    struct rp_http *http;
    struct rp_events *evs;
    struct slot *slots;
    size_t nslots;
    char *targets[MAX_TARGETS]; /* node URLs, without a trailing '/' */
    size_t ntargets;
    char *seeds[MAX_TARGETS]; /* gossip seeds */
    size_t nseeds;
    int cluster;             /* several nodes: find the leader */
    char base[512];          /* where requests go now */
    int need_gossip;         /* the leader may have changed */
    uint64_t next_gossip_ms; /* not before */
    const char *ckpt_path;
    char ckpt_default[512];
    char marker_stream[512];
    struct rp_idgen idgen;
    int inotify_fd;
    int resuming;          /* waiting for the target's checkpoint (to
                              confirm the local one when saved_sv > 0) */
    int reader_idle;       /* the store had nothing more at the last read */
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
split_urls(char **out, size_t *n, const char *list, struct rp_error *err)
{
    const char *p = list;

    *n = 0;
    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);

        while (len > 0 && p[len - 1] == '/')
            len--;
        if (len > 0) {
            if (*n == MAX_TARGETS)
                return rp_error_set(err, RP_EINVAL, "more than %d URLs",
                                    MAX_TARGETS);
            if (len >= 400)
                return rp_error_set(err, RP_EINVAL, "URL too long");
            if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0)
                return rp_error_set(err, RP_EINVAL,
                                    "'%.*s' is not an http:// or https:// "
                                    "URL",
                                    (int)(len > 200 ? 200 : len), p);
            if (memchr(p, '@', len) != NULL)
                return rp_error_set(err, RP_EINVAL,
                                    "URLs must not carry credentials: use "
                                    "REPLICATOR_USER and REPLICATOR_PASSWORD "
                                    "or --credentials FILE");
            out[(*n)++] = rp_xstrndup(p, len);
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

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

/* ---- the cluster ---- */

/* Ask one node for the cluster's members and pick the alive leader. */
static int
gossip_one(struct loop *L, const char *seed, char *out, size_t size)
{
    static const char *const headers[] = {"Accept: application/json", NULL};
    struct rp_http_req req;
    struct rp_json_doc *doc = NULL;
    struct rp_error e;
    const struct rp_json *m;
    char url[600];
    const char *scheme = strncmp(seed, "https://", 8) == 0 ? "https" : "http";
    int found = 0;

    memset(&req, 0, sizeof(req));
    snprintf(url, sizeof(url), "%s/gossip", seed);
    req.url = url;
    req.headers = headers;
    /* The loop waits for this answer: a node that hangs must not hold it
    ** (or a stop signal) for a whole request timeout. */
    req.timeout_ms = L->cfg->request_timeout_ms < GOSSIP_WAIT_MS
                         ? (long)L->cfg->request_timeout_ms
                         : GOSSIP_WAIT_MS;
    if (rp_http_perform(L->http, &req, &e) < 0 || req.result.status != 200 ||
        rp_json_parse(&doc, req.result.body, req.result.body_len, NULL) < 0)
        return 0;
    m = rp_json_get(rp_json_root(doc), "members");
    for (m = m ? m->child : NULL; m != NULL && !found; m = m->next) {
        const char *state = rp_json_string(rp_json_get(m, "state"));
        const struct rp_json *alive = rp_json_get(m, "isAlive");
        const char *ip = rp_json_string(rp_json_get(m, "httpEndPointIp"));
        int64_t port = 0;

        if (state == NULL || alive == NULL || alive->type != RP_JSON_TRUE ||
            (strcmp(state, "Leader") != 0 && strcmp(state, "Master") != 0))
            continue;
        if (ip != NULL)
            rp_json_int64(rp_json_get(m, "httpEndPointPort"), &port);
        else {
            ip = rp_json_string(rp_json_get(m, "externalHttpIp"));
            rp_json_int64(rp_json_get(m, "externalHttpPort"), &port);
        }
        if (ip != NULL && port > 0 && port < 65536) {
            snprintf(out, size, "%s://%s:%d", scheme, ip, (int)port);
            found = 1;
        }
    }
    rp_json_free(doc);
    return found;
}

/* Find the leader; keeps the current base when no node answers. */
static void
gossip(struct loop *L)
{
    char leader[512];
    char **list = L->nseeds > 0 ? L->seeds : L->targets;
    size_t n = L->nseeds > 0 ? L->nseeds : L->ntargets;

    L->need_gossip = 0;
    L->next_gossip_ms = rp_now_ms() + GOSSIP_EVERY_MS;
    for (size_t i = 0; i < n && !stop_signal; i++)
        if (gossip_one(L, list[i], leader, sizeof(leader))) {
            if (strcmp(leader, L->base) != 0) {
                rp_log(RP_LOG_INFO, "cluster leader: %s", leader);
                snprintf(L->base, sizeof(L->base), "%s", leader);
            }
            return;
        }
}

/* After a redirect to the leader, send there from now on. */
static void
follow_redirect(struct loop *L, const struct rp_http_result *res)
{
    const char *p = strstr(res->final_url, "://");
    const char *end;
    char origin[512];

    if (!res->redirected || p == NULL)
        return;
    end = strchr(p + 3, '/');
    snprintf(origin, sizeof(origin), "%.*s",
             (int)(end ? end - res->final_url : (long)strlen(res->final_url)),
             res->final_url);
    if (strcmp(origin, L->base) != 0) {
        rp_log(RP_LOG_INFO, "redirected to the leader: %s", origin);
        snprintf(L->base, sizeof(L->base), "%s", origin);
    }
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
** The reader's counts come first, then the sink's corrections for keys
** with records after the frontier: the last count of a key wins. */
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
** ($maxCount in the stream's metadata).  One blocking request, sent just
** after the target answered; a refusal is logged and changes nothing else.
** The event id is that of "store version 0" (no record's) and the count. */
static void
cap_markers(struct loop *L)
{
    static const char *const plain[] = {
        "Content-Type: application/vnd.eventstore.events+json", NULL};
    static const char *const leader[] = {
        "Content-Type: application/vnd.eventstore.events+json",
        "ES-RequireLeader: True", "ES-RequireMaster: True", NULL};
    uint64_t n = L->cfg->checkpoint_max_count;
    struct rp_http_req req;
    struct rp_buf url, body;
    struct rp_error e = {0};
    unsigned char id[16];
    char ids[37];

    if (n == 0 || rp_sink_markers_off(L->sink))
        return;
    rp_idgen_make(&L->idgen, 0, (uint32_t)n, id);
    rp_event_format_id(ids, id);
    rp_buf_init(&url, 0);
    rp_buf_init(&body, 0);
    rp_buf_adds(&url, L->base);
    rp_buf_adds(&url, "/streams/");
    rp_http_add_segment(&url, L->marker_stream, strlen(L->marker_stream));
    rp_buf_adds(&url, "/metadata");
    rp_buf_printf(&body,
                  "[{\"eventId\":\"%s\",\"eventType\":\"$metadata\","
                  "\"data\":{\"$maxCount\":%" PRIu64 "}}]",
                  ids, n);
    memset(&req, 0, sizeof(req));
    req.post = 1;
    req.url = url.data;
    req.headers = L->cluster ? leader : plain;
    req.body = body.data;
    req.body_len = body.len;
    if (rp_http_perform(L->http, &req, &e) < 0)
        snprintf(req.result.error, sizeof(req.result.error), "%s", e.msg);
    else if (req.result.status != 0)
        snprintf(req.result.error, sizeof(req.result.error),
                 "the target answered %ld %s", req.result.status,
                 req.result.reason);
    if (req.result.status == 201)
        rp_log(RP_LOG_INFO,
               "checkpoint stream %s: the target keeps its last %" PRIu64
               " events ($maxCount)",
               L->marker_stream, n);
    else
        rp_log(RP_LOG_WARN,
               "checkpoint stream %s: $maxCount %" PRIu64
               " was not set (%s): the target keeps every checkpoint event",
               L->marker_stream, n, req.result.error);
    rp_buf_dispose(&url);
    rp_buf_dispose(&body);
}

/* Read the store again from its start, with fresh counts. */
static int
reread_store(struct loop *L, struct rp_error *err)
{
    struct rp_store *fresh = NULL;
    int rc = rp_store_open(&fresh, L->cfg->store, err);

    if (rc < 0)
        return rc;
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

/* Read and convert up to READ_CHUNK records.  Returns 0 or an error. */
static int
read_some(struct loop *L, struct rp_error *err)
{
    struct rp_record rec;

    for (int n = 0; n < READ_CHUNK && !rp_sink_full(L->sink); n++) {
        size_t count;
        int rc = rp_store_next(L->store, &rec, err);

        if (rc < 0)
            return rc;
        if (rc == 0) {
            L->reader_idle = 1;
            L->next_read_ms = rp_now_ms() + L->cfg->poll_ms;
            return 0;
        }
        L->reader_idle = 0;
        rp_events_reset(L->evs);
        rc = rp_script_convert(L->script, &rec, L->evs, err);
        count = rc < 0 ? 0 : rp_events_count(L->evs);
        for (size_t i = 0; i < count && rc >= 0; i++)
            rc = rp_sink_check_event(L->sink, &rec, rp_events_get(L->evs, i),
                                     err);
        if (rc < 0) {
            /* The run stops before this record: the checkpoint's count of
            ** its key must not include it. */
            rp_store_set_stream_version(L->store, rec.key, rec.key_len,
                                        rec.stream_version - 1);
            return rc;
        }
        if ((rc = rp_sink_add_record(L->sink, &rec, err)) < 0)
            return rc;
        for (size_t i = 0; i < count; i++)
            if ((rc = rp_sink_add_event(L->sink, rp_events_get(L->evs, i),
                                        err)) < 0)
                return rc;
    }
    return 0;
}

/* ---- requests ---- */

static struct slot *
free_slot(struct loop *L)
{
    for (size_t i = 0; i < L->nslots; i++)
        if (L->slots[i].sreq == NULL)
            return &L->slots[i];
    return NULL;
}

/* Send what the sink has ready ('marker_only': just the checkpoint). */
static int
dispatch(struct loop *L, int flush, int marker_only, struct rp_error *err)
{
    for (;;) {
        uint64_t now = rp_now_ms();
        struct slot *sl = free_slot(L);
        struct rp_sink_req *sreq;
        int rc;

        if (sl == NULL)
            return 0;
        sreq = marker_only ? rp_sink_next_marker(L->sink, now)
                           : rp_sink_next(L->sink, now, flush);
        if (sreq == NULL)
            return 0;
        if (L->cluster && L->need_gossip && now >= L->next_gossip_ms)
            gossip(L);
        snprintf(sl->url, sizeof(sl->url), "%s%s", L->base, sreq->path);
        memset(&sl->http, 0, sizeof(sl->http));
        sl->http.post = sreq->post;
        sl->http.url = sl->url;
        sl->http.headers = sreq->headers;
        sl->http.body = sreq->body;
        sl->http.body_len = sreq->body_len;
        sl->http.user = sl;
        sl->sreq = sreq;
        rc = rp_http_start(L->http, &sl->http, err);
        if (rc < 0) {
            sl->sreq = NULL;
            rp_sink_abandon(L->sink, sreq);
            return rc;
        }
    }
}

/* Give finished requests back to the sink.  Returns 0 or the first stop. */
static int
collect(struct loop *L, struct rp_error *err)
{
    struct rp_http_req *req;
    int first = 0;

    while ((req = rp_http_next_done(L->http)) != NULL) {
        struct slot *sl = req->user;
        struct rp_sink_req *sreq = sl->sreq;
        const struct rp_http_result *res = &req->result;
        struct rp_error e = {0};
        int rc;

        sl->sreq = NULL;
        if (rp_log_enabled(RP_LOG_DEBUG))
            rp_log(RP_LOG_DEBUG, "%s %s: %ld %s%s", sreq->post ? "POST" : "GET",
                   sl->url, res->status, res->reason, res->error);
        if (L->cluster && (res->transport_error || res->status == 503))
            L->need_gossip = 1;
        follow_redirect(L, res);
        rc = rp_sink_done(L->sink, sreq, res, rp_now_ms(), &e);
        if (rc < 0 && first == 0) {
            first = rc;
            *err = e;
        }
    }
    return first;
}

/* Wait for sockets, the store folder, a signal, or 'timeout_ms'. */
static int
wait_events(struct loop *L, int timeout_ms, struct rp_error *err)
{
    int fds[2];
    int n = 0;
    unsigned ready = 0;
    int rc;

    fds[n++] = signal_pipe[0];
    if (L->inotify_fd >= 0)
        fds[n++] = L->inotify_fd;
    rc = rp_http_wait(L->http, fds, n, timeout_ms, &ready, err);
    if (rc < 0)
        return rc;
    if (ready & 1)
        drain_fd(signal_pipe[0]);
    if (n > 1 && (ready & 2)) {
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

    while (rp_http_in_flight(L->http) > 0 ||
           (marker && rp_sink_marker_pending(L->sink) &&
            !rp_sink_outage(L->sink, NULL))) {
        uint64_t now = rp_now_ms();

        if (now >= end || signal_count > 1)
            break;
        if (marker && dispatch(L, 1, 1, &e) < 0)
            break;
        if (rp_http_in_flight(L->http) == 0 &&
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
    struct rp_http_options ho;
    int rc;

    if ((rc = split_urls(L->targets, &L->ntargets, o->targets, err)) < 0 ||
        (rc = split_urls(L->seeds, &L->nseeds, o->gossip_seeds, err)) < 0)
        return rc;
    if (L->ntargets == 0 && L->nseeds == 0)
        return rp_error_set(err, RP_EINVAL,
                            "no target: set config.target or give --target "
                            "URL");
    L->cluster = L->ntargets > 1 || L->nseeds > 0;
    snprintf(L->base, sizeof(L->base), "%s",
             L->ntargets > 0 ? L->targets[0] : L->seeds[0]);
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
    so.max_in_flight = o->max_in_flight ? o->max_in_flight : 16;
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
    so.cluster = L->cluster;
    if ((rc = rp_sink_new(&L->sink, &so, NULL, err)) < 0)
        return rc;
    memset(&ho, 0, sizeof(ho));
    ho.connect_timeout_ms = o->connect_timeout_ms;
    ho.request_timeout_ms = o->request_timeout_ms;
    ho.username = o->username;
    ho.password = o->password;
    ho.cacert = o->cacert;
    ho.insecure = o->insecure;
    ho.max_connections = (int)so.max_in_flight + 4;
    if ((rc = rp_http_new(&L->http, &ho, err)) < 0)
        return rc;
    L->nslots = so.max_in_flight;
    L->slots = rp_xcalloc(L->nslots, sizeof(*L->slots));
    rp_events_new(&L->evs);
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
    rp_http_free(L->http);
    rp_sink_free(L->sink);
    rp_store_close(L->store);
    rp_events_free(L->evs);
    free(L->slots);
    for (size_t i = 0; i < L->ntargets; i++)
        free(L->targets[i]);
    for (size_t i = 0; i < L->nseeds; i++)
        free(L->seeds[i]);
    if (L->inotify_fd >= 0)
        close(L->inotify_fd);
}

int
rp_replicate_run(struct rp_script *script,
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
    L.script = script;
    L.inotify_fd = -1;
    if ((failure = open_signals(err)) < 0)
        return failure;
    if ((failure = loop_setup(&L, err)) < 0) {
        rp_log(RP_LOG_ERROR, "%s", err->msg);
        goto done;
    }
    rp_http_redact(shown, sizeof(shown), L.base);
    rp_log(RP_LOG_INFO, "replicating store %s (source '%s') to %s%s",
           L.cfg->store, L.cfg->source_id, shown,
           L.cluster ? " (a cluster: writes go to the leader)" : "");
    if (L.cluster)
        gossip(&L);
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
        /* Read while there is room, unless an error stopped reading. */
        if (rc == 0 && !L.resuming && !input_error &&
            (!L.reader_idle || now >= L.next_read_ms))
            rc = read_some(&L, &e);
        if (rc < 0) {
            /* Send what came before the bad record, then stop. */
            rp_log(RP_LOG_ERROR, "%s", e.msg);
            failure = rc;
            *err = e;
            input_error = 1;
            drain_end = now + DRAIN_MS;
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
                             rp_http_in_flight(L.http) == 0,
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
            if (rp_sink_idle(L.sink) || now >= drain_end)
                break;
        } else if (opt->until_caught_up && !L.resuming && L.reader_idle &&
                   rp_sink_idle(L.sink)) {
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
        ** next look at the store, a retry or a checkpoint. */
        if (!L.resuming && !input_error && !L.reader_idle &&
            !rp_sink_full(L.sink)) {
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
