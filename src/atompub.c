/* EventStoreDB's HTTP API (AtomPub): requests, the answer table, gossip
** and redirects to the leader. */
#include "atompub.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"

#define MAX_NODES 16         /* node URLs and gossip seeds, each */
#define GOSSIP_EVERY_MS 1000 /* re-ask the cluster at most this often */
#define GOSSIP_WAIT_MS 2000  /* a node's answer to /gossip, at most */

/* ---- requests ---- */

void
rp_atompub_msg_init(struct rp_atompub_msg *m)
{
    memset(m, 0, sizeof(*m));
    rp_buf_init(&m->path, 0);
    rp_buf_init(&m->body, 0);
}

void
rp_atompub_msg_dispose(struct rp_atompub_msg *m)
{
    rp_buf_dispose(&m->path);
    rp_buf_dispose(&m->body);
}

int
rp_atompub_add_event(struct rp_buf *body, const struct rp_sink_event *ev)
{
    char id[37];
    int rc = 0;

    rp_event_format_id(id, ev->id);
    rc |= rp_buf_adds(body, "{\"eventId\":\"");
    rc |= rp_buf_add(body, id, 36);
    rc |= rp_buf_adds(body, "\",\"eventType\":");
    rc |= rp_json_add_string(body, ev->type, ev->type_len);
    rc |= rp_buf_adds(body, ",\"data\":");
    if (ev->data_json)
        rc |= rp_buf_add(body, ev->data, ev->data_len);
    else
        rc |= rp_json_add_string(body, ev->data, ev->data_len);
    if (ev->metadata != NULL) {
        rc |= rp_buf_adds(body, ",\"metadata\":");
        rc |= rp_buf_add(body, ev->metadata, ev->metadata_len);
    }
    rc |= rp_buf_addc(body, '}');
    return rc ? RP_ELIMIT : 0;
}

/* The events of 'req' as an events+json array. */
static int
add_events(struct rp_buf *body, const struct rp_sink_req *req)
{
    int rc = rp_buf_addc(body, '[');

    for (size_t i = 0; i < req->nevents && rc == 0; i++) {
        struct rp_sink_event ev;

        rp_sink_req_event(req, i, &ev);
        if (i > 0)
            rc = rp_buf_addc(body, ',');
        if (rc == 0)
            rc = rp_atompub_add_event(body, &ev);
    }
    return rc == 0 ? rp_buf_addc(body, ']') : rc;
}

int
rp_atompub_encode(struct rp_atompub_msg *m, const struct rp_sink_req *req)
{
    size_t n = 0;
    int rc = 0;

    rp_buf_reset(&m->path);
    rp_buf_reset(&m->body);
    rc |= rp_buf_adds(&m->path, "/streams/");
    rc |= rp_http_add_segment(&m->path, req->stream, req->stream_len);
    switch (req->op) {
    case RP_SINK_APPEND:
    case RP_SINK_SET_METADATA:
        m->post = 1;
        if (req->op == RP_SINK_SET_METADATA)
            rc |= rp_buf_adds(&m->path, "/metadata");
        rc |= add_events(&m->body, req);
        m->headers[n++] =
            "Content-Type: application/vnd.eventstore.events+json";
        if (req->op == RP_SINK_APPEND) {
            snprintf(m->version_header, sizeof(m->version_header),
                     "ES-ExpectedVersion: %" PRId64, req->expected);
            m->headers[n++] = m->version_header;
        }
        break;
    default:
        m->post = 0;
        if (req->op == RP_SINK_READ_HEAD)
            rc |= rp_buf_adds(&m->path, "/head/backward/1?embed=body");
        else
            rc |= rp_buf_printf(&m->path, "/%" PRId64 "/forward/%zu?embed=body",
                                req->from, req->count);
        m->headers[n++] = "Accept: application/vnd.eventstore.atom+json";
        m->headers[n++] = "ES-ResolveLinkTos: false";
        break;
    }
    if (req->require_leader) {
        m->headers[n++] = "ES-RequireLeader: True";
        m->headers[n++] = "ES-RequireMaster: True";
    }
    m->headers[n] = NULL;
    return rc ? RP_ELIMIT : 0;
}

/* ---- answers ---- */

/* The server's words: status, reason phrase and the start of the body. */
static void
words(const struct rp_http_result *res, char *out, size_t size)
{
    size_t n = res->body_len < 200 ? res->body_len : 200;
    char body[201];

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)res->body[i];

        body[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    body[n] = '\0';
    while (n > 0 && body[n - 1] == ' ')
        body[--n] = '\0';
    if (n > 0 && res->reason[0] != '\0')
        snprintf(out, size, "%ld %s: %s", res->status, res->reason, body);
    else if (n > 0)
        snprintf(out, size, "%ld: %s", res->status, body);
    else
        snprintf(out, size, "%ld %s", res->status,
                 res->reason[0] ? res->reason : "(no reason given)");
}

/* What the user can do about a refusal with HTTP status 'code'. */
static const char *
hint(long code)
{
    switch (code) {
    case 401:
        return "check the credentials (REPLICATOR_USER and "
               "REPLICATOR_PASSWORD, or --credentials FILE) and the user's "
               "rights on the stream";
    case 404:
        return "the HTTP (AtomPub) API may be disabled on the server: start "
               "it with --enable-atom-pub-over-http (env "
               "EVENTSTORE_ENABLE_ATOM_PUB_OVER_HTTP=true; KurrentDB: "
               "KURRENTDB_ENABLE_ATOM_PUB_OVER_HTTP=true)";
    case 413:
        return "an event is larger than the server accepts (it may have been "
               "written nevertheless: check the stream)";
    default:
        return NULL;
    }
}

/* Parse the trailing event number of a 201's Location.  Returns 0,
** RP_ENOENT when there is none, or RP_EFORMAT when it is out of range. */
static int
location_number(const char *loc, int64_t *out)
{
    const char *p = strrchr(loc, '/');
    char *end;
    long long x;

    if (p == NULL || p[1] < '0' || p[1] > '9')
        return RP_ENOENT;
    errno = 0;
    x = strtoll(p + 1, &end, 10);
    if (*end != '\0' && *end != '?')
        return RP_ENOENT;
    if (errno == ERANGE)
        return RP_EFORMAT;
    *out = x;
    return 0;
}

void
rp_atompub_feed_dispose(struct rp_atompub_feed *feed)
{
    rp_json_free(feed->doc);
    free(feed->events);
    memset(feed, 0, sizeof(*feed));
}

/* One feed entry as a read event.  Returns 0, or -1 when it has no event
** number. */
static int
read_entry(const struct rp_json *e, struct rp_sink_read_event *out)
{
    const struct rp_json *v;

    memset(out, 0, sizeof(*out));
    if (rp_json_int64(rp_json_get(e, "eventNumber"), &out->number) < 0)
        return -1;
    v = rp_json_get(e, "eventId");
    if (v != NULL && v->type == RP_JSON_STRING &&
        rp_event_parse_id(out->id, v->str, v->len) == 0)
        out->has_id = 1;
    if ((v = rp_json_get(e, "eventType")) != NULL &&
        v->type == RP_JSON_STRING) {
        out->type = v->str;
        out->type_len = v->len;
    }
    if ((v = rp_json_get(e, "data")) != NULL && v->type == RP_JSON_STRING) {
        out->data = v->str;
        out->data_len = v->len;
    }
    if ((v = rp_json_get(e, "metaData")) != NULL && v->type == RP_JSON_STRING) {
        out->metadata = v->str;
        out->metadata_len = v->len;
    }
    return 0;
}

/* A 200 answer to a read: its feed's entries (newest first) as events,
** oldest first. */
static void
decode_feed(struct rp_atompub_feed *feed, const struct rp_http_result *res,
            struct rp_sink_outcome *out)
{
    const struct rp_json *entries, *e;
    struct rp_error perr;
    size_t n = 0;

    if (rp_json_parse(&feed->doc, res->body, res->body_len, &perr) < 0) {
        out->kind = RP_SINK_BAD_ANSWER;
        snprintf(out->words, sizeof(out->words), "the feed is not JSON: %.300s",
                 perr.msg);
        return;
    }
    entries = rp_json_get(rp_json_root(feed->doc), "entries");
    for (e = entries ? entries->child : NULL; e != NULL; e = e->next)
        n++;
    if (n > feed->cap) {
        feed->events = rp_xrealloc(feed->events, n * sizeof(*feed->events));
        feed->cap = n;
    }
    out->kind = RP_SINK_EVENTS;
    out->events = feed->events;
    out->nevents = n;
    for (e = entries ? entries->child : NULL; e != NULL; e = e->next)
        if (read_entry(e, &feed->events[--n]) < 0) {
            out->kind = RP_SINK_BAD_ANSWER;
            out->events = NULL;
            out->nevents = 0;
            snprintf(out->words, sizeof(out->words),
                     "an event without a number in the feed");
            return;
        }
}

void
rp_atompub_decode(struct rp_atompub_feed *feed, const struct rp_sink_req *req,
                  const struct rp_http_result *res, struct rp_sink_outcome *out)
{
    long code = res->status;
    int64_t first;

    rp_json_free(feed->doc);
    feed->doc = NULL;
    memset(out, 0, sizeof(*out));
    out->number = RP_SINK_NO_NUMBER;
    if (res->transport_error || code == 0) {
        out->kind = RP_SINK_UNKNOWN;
        out->no_answer = 1;
        snprintf(out->words, sizeof(out->words), "%.390s",
                 res->error[0] ? res->error : "no answer");
        return;
    }
    words(res, out->words, sizeof(out->words));
    out->hint = hint(code);
    if (code == 408 || code == 500 || code == 502 || code == 503 ||
        code == 504) {
        out->kind = RP_SINK_UNKNOWN;
        out->retry_after_ms =
            (uint64_t)(res->retry_after_s > 0 ? res->retry_after_s : 0) * 1000;
        return;
    }
    if (code == 410) {
        out->kind = RP_SINK_DELETED;
        return;
    }
    if (req->op == RP_SINK_APPEND || req->op == RP_SINK_SET_METADATA) {
        if (code == 201) {
            int rc = location_number(res->location, &first);

            out->kind = RP_SINK_WRITTEN;
            /* Event numbers stay below INT64_MAX (a tombstone's). */
            if (rc == RP_EFORMAT ||
                (rc == 0 && first > INT64_MAX - (int64_t)req->nevents)) {
                out->kind = RP_SINK_BAD_ANSWER;
                snprintf(out->words, sizeof(out->words),
                         "%ld with Location '%.300s', whose event number is "
                         "out of range for %zu events",
                         code, res->location, req->nevents);
            } else if (rc == 0) {
                out->number = first + (int64_t)req->nevents - 1;
            }
            return;
        }
        if (code == 400 && res->has_current_version) {
            out->kind = RP_SINK_WRONG_VERSION;
            out->number = res->current_version;
            return;
        }
    } else if (code == 404) {
        out->kind = RP_SINK_NOT_FOUND;
        return;
    } else if (code == 200) {
        decode_feed(feed, res, out);
        return;
    }
    out->kind = RP_SINK_REFUSED;
}

/* ---- the transport ---- */

/* One operation on its way. */
struct slot {
    struct rp_http_req http;   /* what the transport carries */
    struct rp_sink_req *sreq;  /* the sink's operation, NULL when free */
    struct rp_atompub_msg msg; /* its request */
    char url[2048];            /* base + path */
};

struct atompub {
    struct rp_http *http;
    struct slot *slots;
    size_t nslots;
    char *nodes[MAX_NODES]; /* node URLs, without a trailing '/' */
    size_t nnodes;
    char *seeds[MAX_NODES]; /* gossip seeds */
    size_t nseeds;
    int cluster;             /* several nodes: find the leader */
    char base[512];          /* where requests go now */
    int need_gossip;         /* the leader may have changed */
    uint64_t next_gossip_ms; /* not before */
    long request_timeout_ms;
    const volatile sig_atomic_t *stop;
    struct rp_atompub_feed feed; /* of the last answer given out */
};

static void
stop_all(struct atompub *a)
{
    if (a == NULL)
        return;
    rp_http_free(a->http);
    for (size_t i = 0; i < a->nslots; i++)
        rp_atompub_msg_dispose(&a->slots[i].msg);
    free(a->slots);
    for (size_t i = 0; i < a->nnodes; i++)
        free(a->nodes[i]);
    for (size_t i = 0; i < a->nseeds; i++)
        free(a->seeds[i]);
    rp_atompub_feed_dispose(&a->feed);
    free(a);
}

static int
open_atompub(void **impl, const struct rp_target_options *opt,
             struct rp_error *err)
{
    struct atompub *a = rp_xcalloc(1, sizeof(*a));
    struct rp_http_options ho;
    int rc;

    *impl = NULL;
    if ((rc = rp_target_split_urls(a->nodes, MAX_NODES, &a->nnodes,
                                   opt->targets, err)) < 0 ||
        (rc = rp_target_split_urls(a->seeds, MAX_NODES, &a->nseeds,
                                   opt->gossip_seeds, err)) < 0)
        goto fail;
    if (a->nnodes == 0 && a->nseeds == 0) {
        rc = rp_error_set(err, RP_EINVAL,
                          "no target: set config.target or give --target "
                          "URL");
        goto fail;
    }
    a->cluster = a->nnodes > 1 || a->nseeds > 0;
    snprintf(a->base, sizeof(a->base), "%s",
             a->nnodes > 0 ? a->nodes[0] : a->seeds[0]);
    a->request_timeout_ms =
        opt->request_timeout_ms > 0 ? opt->request_timeout_ms : 30000;
    a->stop = opt->stop;
    memset(&ho, 0, sizeof(ho));
    ho.connect_timeout_ms = opt->connect_timeout_ms;
    ho.request_timeout_ms = opt->request_timeout_ms;
    ho.username = opt->username;
    ho.password = opt->password;
    ho.cacert = opt->cacert;
    ho.insecure = opt->insecure;
    ho.max_connections = (int)opt->max_in_flight + 4;
    if ((rc = rp_http_new(&a->http, &ho, err)) < 0)
        goto fail;
    /* The sink's operations and its one metadata write. */
    a->nslots = opt->max_in_flight + 1;
    a->slots = rp_xcalloc(a->nslots, sizeof(*a->slots));
    for (size_t i = 0; i < a->nslots; i++)
        rp_atompub_msg_init(&a->slots[i].msg);
    *impl = a;
    return 0;
fail:
    stop_all(a);
    return rc;
}

static void
close_atompub(void *impl)
{
    stop_all(impl);
}

static int
cluster(const void *impl)
{
    const struct atompub *a = impl;

    return a->cluster;
}

static void
describe(const void *impl, char *out, size_t size)
{
    const struct atompub *a = impl;

    rp_http_redact(out, size, a->base);
}

static int
stopping(const struct atompub *a)
{
    return a->stop != NULL && *a->stop != 0;
}

/* Ask one node for the cluster's members and pick the alive leader. */
static int
gossip_one(struct atompub *a, const char *seed, char *out, size_t size)
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
    req.timeout_ms = a->request_timeout_ms < GOSSIP_WAIT_MS
                         ? a->request_timeout_ms
                         : GOSSIP_WAIT_MS;
    if (rp_http_perform(a->http, &req, &e) < 0 || req.result.status != 200 ||
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
discover(void *impl)
{
    struct atompub *a = impl;
    char leader[512];
    char **list = a->nseeds > 0 ? a->seeds : a->nodes;
    size_t n = a->nseeds > 0 ? a->nseeds : a->nnodes;

    if (!a->cluster)
        return;
    a->need_gossip = 0;
    a->next_gossip_ms = rp_now_ms() + GOSSIP_EVERY_MS;
    for (size_t i = 0; i < n && !stopping(a); i++)
        if (gossip_one(a, list[i], leader, sizeof(leader))) {
            if (strcmp(leader, a->base) != 0) {
                rp_log(RP_LOG_INFO, "cluster leader: %s", leader);
                snprintf(a->base, sizeof(a->base), "%s", leader);
            }
            return;
        }
}

/* After a redirect to the leader, send there from now on. */
static void
follow_redirect(struct atompub *a, const struct rp_http_result *res)
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
    if (strcmp(origin, a->base) != 0) {
        rp_log(RP_LOG_INFO, "redirected to the leader: %s", origin);
        snprintf(a->base, sizeof(a->base), "%s", origin);
    }
}

static struct slot *
free_slot(const struct atompub *a)
{
    for (size_t i = 0; i < a->nslots; i++)
        if (a->slots[i].sreq == NULL)
            return &a->slots[i];
    return NULL;
}

static int
connect_atompub(void *impl, struct rp_error *err)
{
    (void)err;
    discover(impl);
    return 0;
}

static int
room(const void *impl)
{
    return free_slot(impl) != NULL;
}

static int
start(void *impl, struct rp_sink_req *req, struct rp_error *err)
{
    struct atompub *a = impl;
    struct slot *sl = free_slot(a);
    int rc;

    if (sl == NULL)
        return rp_error_set(err, RP_ELIMIT, "no room for another request");
    if (a->cluster && a->need_gossip && rp_now_ms() >= a->next_gossip_ms)
        discover(a);
    if (rp_atompub_encode(&sl->msg, req) < 0)
        return rp_error_set(err, RP_ELIMIT, "stream '%s': request too large",
                            req->stream);
    if (snprintf(sl->url, sizeof(sl->url), "%s%s", a->base,
                 sl->msg.path.data) >= (int)sizeof(sl->url))
        return rp_error_set(err, RP_ELIMIT, "stream '%s': URL too long",
                            req->stream);
    memset(&sl->http, 0, sizeof(sl->http));
    sl->http.post = sl->msg.post;
    sl->http.url = sl->url;
    sl->http.headers = sl->msg.headers;
    sl->http.body = sl->msg.body.data;
    sl->http.body_len = sl->msg.body.len;
    sl->http.user = sl;
    rc = rp_http_start(a->http, &sl->http, err);
    if (rc < 0)
        return rc;
    sl->sreq = req;
    return 0;
}

static int
wait_atompub(void *impl, const int *fds, int nfds, int timeout_ms,
             unsigned *ready, struct rp_error *err)
{
    struct atompub *a = impl;

    return rp_http_wait(a->http, fds, nfds, timeout_ms, ready, err);
}

static struct rp_sink_req *
next_done(void *impl, struct rp_sink_outcome *out)
{
    struct atompub *a = impl;
    struct rp_http_req *req = rp_http_next_done(a->http);
    struct slot *sl;
    struct rp_sink_req *sreq;
    const struct rp_http_result *res;

    if (req == NULL)
        return NULL;
    sl = req->user;
    sreq = sl->sreq;
    res = &req->result;
    sl->sreq = NULL;
    if (rp_log_enabled(RP_LOG_DEBUG))
        rp_log(RP_LOG_DEBUG, "%s %s: %ld %s%s", req->post ? "POST" : "GET",
               sl->url, res->status, res->reason, res->error);
    rp_atompub_decode(&a->feed, sreq, res, out);
    if (a->cluster && (res->transport_error || res->status == 503))
        a->need_gossip = 1;
    follow_redirect(a, res);
    return sreq;
}

static int
in_flight(const void *impl)
{
    const struct atompub *a = impl;

    return rp_http_in_flight(a->http);
}

const struct rp_target_proto rp_atompub_proto = {
    "HTTP (AtomPub)", open_atompub,    close_atompub, cluster,
    describe,         connect_atompub, room,          start,
    wait_atompub,     next_done,       in_flight,
};
