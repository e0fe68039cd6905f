/* gRPC calls over libcurl multi (HTTP/2): the calls, the operations they
** carry, BatchAppend answers matched by correlation id, the probe of what
** the server is and has, gossip, and the leader. */
#include "grpc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "connstr.h"
#include "grpcanswer.h"
#include "grpcwire.h"
#include "http.h"
#include "log.h"

#define PATH_APPEND "/event_store.client.streams.Streams/Append"
#define PATH_BATCH "/event_store.client.streams.Streams/BatchAppend"
#define PATH_READ "/event_store.client.streams.Streams/Read"
#define PATH_GOSSIP "/event_store.client.gossip.Gossip/Read"
#define PATH_FEATURES                                                          \
    "/event_store.client.server_features.ServerFeatures/GetSupportedMethods"

#define MAX_CONNECTIONS                                                        \
    4                          /* to one node over TLS: calls are              \
                                  multiplexed */
#define BATCH_OPS 256          /* appends in one BatchAppend call */
#define BATCH_BYTES (8u << 20) /* request bytes of one BatchAppend call */
#define BATCH_CHUNK (3u << 20) /* one BatchAppendReq message, at most */
#define READ_COUNT 100         /* events of one read, at most */
#define PROBE_EVERY_MS 1000    /* a failed probe is tried again after */
#define PROBE_TRIES 8          /* answers lost in a row (see probe()) */
#define PROBE_WAIT_MS 2000     /* a node's answer to the probe, at most */
#define PROBE_CLOSED 5         /* probes closed without an answer in a row */
#define GOSSIP_EVERY_MS 1000   /* re-ask the cluster at most this often */

enum call_kind {
    CALL_ONE,  /* one operation: Append or Read */
    CALL_BATCH /* BatchAppend: many appends */
};

/* One gRPC call (an HTTP/2 stream) and the operations it carries. */
struct call {
    struct grpc *g;
    CURL *easy;                 /* reused from call to call */
    struct curl_slist *headers; /* the request's headers */
    int kind;                   /* an enum call_kind */
    struct rp_buf body;         /* the request messages */
    struct rp_buf resp;         /* CALL_ONE: the response bytes */
    struct rp_grpc_reader rd;   /* CALL_BATCH: the response, read as it
                                   comes */
    struct rp_grpc_status st;   /* headers and trailers */
    struct rp_sink_req **ops;   /* what it carries (CALL_ONE: one) */
    unsigned char *answered;    /* CALL_BATCH: 1 per answered operation */
    size_t nops, ops_cap;
    uint32_t seq;     /* CALL_BATCH: in its correlation ids */
    char bad[200];    /* CALL_BATCH: an answer that could not be
                         read, or "" */
    const char *path; /* the method's path */
    int pk;           /* tls=false: opened its own connection
                         with prior knowledge */
    char url[600];    /* where it went */
    char errbuf[CURL_ERROR_SIZE];
    CURLcode result;       /* the transfer's end */
    int running;           /* added to the multi handle */
    struct call *next;     /* free list */
    struct call *all_next; /* every call of the protocol */
};

/* An operation carried out, waiting to be given back. */
struct done {
    struct rp_sink_req *op;
    struct call *call; /* CALL_ONE: decode its answer when given
                          out; NULL: 'out' is the outcome */
    struct rp_sink_outcome out;
    struct done *next;
};

struct grpc {
    struct rp_connstr cs;
    CURLM *multi;
    char *username, *password, *cacert;
    int insecure; /* do not verify certificates */
    long connect_timeout_ms;
    long timeout_ms; /* a call's deadline */
    const volatile sig_atomic_t *stop;
    char base[600];  /* scheme://host:port of the node called now */
    int need_gossip; /* the leader may have changed */
    uint64_t next_gossip_ms;
    int probed; /* 1: the server's calls are known */
    uint64_t next_probe_ms;
    int batch;                /* 1: appends go through BatchAppend */
    int duration;             /* 1: BatchAppend takes a Duration deadline */
    unsigned char session[8]; /* the first half of correlation ids */
    uint32_t seq;             /* of the last BatchAppend call */
    struct call *pending;     /* a BatchAppend call being filled */
    struct call *held;        /* tls=false: calls waiting for a connection */
    int h2c_ready;            /* tls=false: an HTTP/2 connection is open */
    int h2c_opening;          /* tls=false: a call is opening one */
    struct call *free_calls;
    struct call *all;         /* every call, for close_grpc() */
    struct done *head, *tail; /* carried out, not given back yet */
    struct done *free_done;
    struct call *taken; /* CALL_ONE call of the last outcome given out */
    size_t max_ops;     /* operations out at once */
    size_t out;         /* operations started and not given back */
    struct rp_grpc_enc enc;
    struct rp_grpc_dec dec;
    int warned_credentials;
};

/* ---- calls ---- */

static void
call_free(struct call *c)
{
    if (c == NULL)
        return;
    if (c->easy != NULL)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    rp_buf_dispose(&c->body);
    rp_buf_dispose(&c->resp);
    rp_grpc_reader_dispose(&c->rd);
    free(c->ops);
    free(c->answered);
    free(c);
}

/* A call from the free list, or a new one, with nothing in it. */
static struct call *
call_get(struct grpc *g, int kind)
{
    struct call *c = g->free_calls;

    if (c != NULL) {
        g->free_calls = c->next;
    } else {
        c = rp_xcalloc(1, sizeof(*c));
        c->g = g;
        rp_buf_init(&c->body, 0);
        rp_buf_init(&c->resp, RP_GRPC_MAX_MESSAGE + 5);
        rp_grpc_reader_init(&c->rd);
        c->easy = curl_easy_init();
        if (c->easy == NULL) {
            call_free(c);
            return NULL;
        }
        c->all_next = g->all;
        g->all = c;
    }
    c->next = NULL;
    c->kind = kind;
    c->nops = 0;
    c->bad[0] = '\0';
    c->result = CURLE_OK;
    rp_buf_reset(&c->body);
    rp_buf_reset(&c->resp);
    rp_grpc_reader_reset(&c->rd);
    rp_grpc_status_init(&c->st);
    return c;
}

static void
call_put(struct grpc *g, struct call *c)
{
    if (c->running) {
        curl_multi_remove_handle(g->multi, c->easy);
        c->running = 0;
    }
    c->next = g->free_calls;
    g->free_calls = c;
}

/* Add operation 'op' to the call. */
static void
call_add(struct call *c, struct rp_sink_req *op)
{
    if (c->nops == c->ops_cap) {
        c->ops_cap = c->ops_cap ? c->ops_cap * 2 : 8;
        c->ops = rp_xrealloc(c->ops, c->ops_cap * sizeof(*c->ops));
        c->answered = rp_xrealloc(c->answered, c->ops_cap);
    }
    c->answered[c->nops] = 0;
    c->ops[c->nops++] = op;
}

/* Queue 'op' as carried out: with its call (decoded when given out) or
** with its outcome. */
static void
push_done(struct grpc *g, struct rp_sink_req *op, struct call *c,
          const struct rp_sink_outcome *out)
{
    struct done *d = g->free_done;

    if (d != NULL)
        g->free_done = d->next;
    else
        d = rp_xcalloc(1, sizeof(*d));
    d->op = op;
    d->call = c;
    if (out != NULL)
        d->out = *out;
    d->next = NULL;
    if (g->tail != NULL)
        g->tail->next = d;
    else
        g->head = d;
    g->tail = d;
}

/* The 16-byte correlation id of operation 'i' of BatchAppend call 'seq'. */
static void
correlation(const struct grpc *g, uint32_t seq, uint32_t i,
            unsigned char out[16])
{
    memcpy(out, g->session, 8);
    out[8] = (unsigned char)(seq >> 24);
    out[9] = (unsigned char)(seq >> 16);
    out[10] = (unsigned char)(seq >> 8);
    out[11] = (unsigned char)seq;
    out[12] = (unsigned char)(i >> 24);
    out[13] = (unsigned char)(i >> 16);
    out[14] = (unsigned char)(i >> 8);
    out[15] = (unsigned char)i;
}

/* A leader named by a not-leader answer: call it from now on. */
static void
follow_leader(struct grpc *g, const struct rp_grpc_status *st)
{
    char next[sizeof(g->base)];

    if (st->leader_host[0] == '\0' || st->leader_port == 0) {
        g->need_gossip = g->cs.discover;
        return;
    }
    snprintf(next, sizeof(next), "%s://%s:%d", g->cs.tls ? "https" : "http",
             st->leader_host, st->leader_port);
    if (strcmp(next, g->base) != 0) {
        rp_log(RP_LOG_INFO, "not the leader: calls go to %s, which it names",
               next);
        snprintf(g->base, sizeof(g->base), "%s", next);
        g->h2c_ready = 0;
    }
}

/* One BatchAppendResp: the outcome of the append it names. */
static void
batch_message(struct call *c, const unsigned char *msg, size_t len)
{
    struct grpc *g = c->g;
    struct rp_sink_outcome out;
    unsigned char corr[16], want[16];
    uint32_t i;

    if (rp_grpc_decode_batch(msg, len, corr, &out) < 0) {
        snprintf(c->bad, sizeof(c->bad),
                 "a BatchAppendResp that cannot be "
                 "read");
        return;
    }
    i = (uint32_t)corr[12] << 24 | (uint32_t)corr[13] << 16 |
        (uint32_t)corr[14] << 8 | corr[15];
    if (i >= c->nops)
        return;
    correlation(g, c->seq, i, want);
    if (memcmp(corr, want, 16) != 0 || c->answered[i])
        return;
    c->answered[i] = 1;
    if (out.kind == RP_SINK_UNKNOWN && g->cs.discover)
        g->need_gossip = 1;
    push_done(g, c->ops[i], NULL, &out);
}

/* libcurl's body callback: keep (one operation) or read (BatchAppend) the
** answer. */
static size_t
on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct call *c = ctx;
    size_t len = size * n;

    if (c->kind == CALL_ONE) {
        if (rp_buf_add(&c->resp, data, len) == 0)
            return len;
        snprintf(c->bad, sizeof(c->bad), "an answer of more than %zu bytes",
                 c->resp.max);
        return 0;
    }
    {
        const unsigned char *msg;
        size_t mlen;
        struct rp_error err;
        int rc;

        rp_grpc_reader_feed(&c->rd, data, len);
        while ((rc = rp_grpc_reader_next(&c->rd, &msg, &mlen, &err)) == 1)
            batch_message(c, msg, mlen);
        if (rc < 0) {
            snprintf(c->bad, sizeof(c->bad), "%.190s", err.msg);
            return 0;
        }
    }
    return len;
}

/* libcurl's header callback: status, headers and trailers. */
static size_t
on_header(char *line, size_t size, size_t n, void *ctx)
{
    struct call *c = ctx;

    rp_grpc_status_header(&c->st, line, size * n);
    if (c->pk && c->st.http_version == 2)
        c->g->h2c_ready = 1;
    /* A call that was to share an HTTP/2 connection (tls=false) and got a
    ** new HTTP/1.1 one: end it, so that the connection is closed rather
    ** than kept for the next call. */
    if (!c->g->cs.tls && !c->pk && c->st.http_version == 1)
        return 0;
    return size * n;
}

/* "grpc-timeout" for 'ms' milliseconds (at most 8 digits). */
static void
timeout_header(char *out, size_t size, long ms)
{
    if (ms <= 99999999)
        snprintf(out, size, "grpc-timeout: %ldm", ms);
    else
        snprintf(out, size, "grpc-timeout: %ldS", ms / 1000);
}

/* Set the options of 'c' for a call of 'path' to the current node, with
** the request in c->body.  Returns 0 or RP_EIO. */
static int
call_setup(struct grpc *g, struct call *c, const char *path,
           struct rp_error *err)
{
    CURL *e = c->easy;
    CURLcode rc = CURLE_OK;
    char tmo[48], name[200];
    const char *lines[8];
    size_t nl = 0;

    snprintf(c->url, sizeof(c->url), "%s%s", g->base, path);
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    timeout_header(tmo, sizeof(tmo), g->timeout_ms);
    lines[nl++] = "content-type: application/grpc";
    lines[nl++] = "te: trailers";
    lines[nl++] = tmo;
    lines[nl++] = g->cs.node_preference == RP_PREFER_LEADER
                      ? "requires-leader: true"
                      : "requires-leader: false";
    lines[nl++] = "Accept:";
    lines[nl++] = "Expect:";
    if (g->cs.connection_name != NULL) {
        snprintf(name, sizeof(name), "connection-name: %.150s",
                 g->cs.connection_name);
        lines[nl++] = name;
    }
    for (size_t i = 0; i < nl; i++) {
        struct curl_slist *l = curl_slist_append(c->headers, lines[i]);

        if (l == NULL)
            return rp_error_set(err, RP_EIO, "libcurl: out of memory");
        c->headers = l;
    }
    curl_easy_reset(e);
    c->errbuf[0] = '\0';
#define SET(opt, val)                                                          \
    if (rc == CURLE_OK)                                                        \
    rc = curl_easy_setopt(e, opt, val)
    SET(CURLOPT_URL, c->url);
    SET(CURLOPT_PRIVATE, (void *)c);
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    /* Without TLS: HTTP/2 with prior knowledge opens a connection, and the
    ** calls that share it ask for HTTP/2 without it.  (libcurl 7.88, that of
    ** Debian 12, breaks a connection opened with prior knowledge when
    ** another transfer asking for prior knowledge is put on it, curl issue
    ** 10634.) */
    if (g->cs.tls) {
        SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    } else if (c->pk) {
        SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        SET(CURLOPT_FRESH_CONNECT, 1L);
    } else {
        SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_0);
    }
    SET(CURLOPT_PIPEWAIT, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, g->connect_timeout_ms);
    /* The server's DEADLINE_EXCEEDED comes first; this ends a call whose
    ** server went silent. */
    SET(CURLOPT_TIMEOUT_MS, g->timeout_ms + 2000);
    SET(CURLOPT_HTTPHEADER, c->headers);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, (void *)c);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, (void *)c);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, c->body.data);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body.len);
    if (g->cs.tls && g->username != NULL) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, g->username);
        SET(CURLOPT_PASSWORD, g->password);
    }
    if (g->cacert != NULL)
        SET(CURLOPT_CAINFO, g->cacert);
    if (g->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (g->cs.user_cert_file != NULL) {
        SET(CURLOPT_SSLCERT, g->cs.user_cert_file);
        SET(CURLOPT_SSLKEY, g->cs.user_key_file);
    }
#undef SET
    if (rc != CURLE_OK)
        return rp_error_set(err, RP_EIO, "libcurl: %s", curl_easy_strerror(rc));
    return 0;
}

/* Send the call to the node called now. */
static int
call_send(struct grpc *g, struct call *c, struct rp_error *err)
{
    CURLMcode mc;
    int rc;

    c->pk = !g->cs.tls && !g->h2c_ready;
    if (c->pk)
        g->h2c_opening = 1;
    rc = call_setup(g, c, c->path, err);
    if (rc < 0)
        return rc;
    mc = curl_multi_add_handle(g->multi, c->easy);
    if (mc != CURLM_OK)
        return rp_error_set(err, RP_EIO, "libcurl: %s",
                            curl_multi_strerror(mc));
    c->running = 1;
    return 0;
}

/* Send the call of 'path', or hold it while (tls=false) another call opens
** the connection that it is to share. */
static int
call_start(struct grpc *g, struct call *c, const char *path,
           struct rp_error *err)
{
    c->path = path;
    if (!g->cs.tls && !g->h2c_ready && g->h2c_opening) {
        struct call **pp = &g->held;

        while (*pp != NULL)
            pp = &(*pp)->next;
        c->next = NULL;
        *pp = c;
        return 0;
    }
    return call_send(g, c, err);
}

/* The answer of a finished call, for the decoders. */
static void
answer_of(const struct call *c, struct rp_grpc_answer *a)
{
    memset(a, 0, sizeof(*a));
    a->st = &c->st;
    a->body = (const unsigned char *)c->resp.data;
    a->body_len = c->resp.len;
    /* A status that came is final, even when the server reset the stream
    ** before the upload ended (it may answer before reading it all). */
    if (c->result != CURLE_OK && c->st.code < 0 && c->bad[0] == '\0') {
        a->transport_error = 1;
        snprintf(a->error, sizeof(a->error), "%.200s: %.190s", c->url,
                 c->errbuf[0] ? c->errbuf : curl_easy_strerror(c->result));
    }
}

/* A BatchAppend call ended: every append it did not answer gets the
** call's outcome. */
static void
batch_done(struct grpc *g, struct call *c)
{
    struct rp_grpc_answer a;
    struct rp_sink_outcome out;

    answer_of(c, &a);
    rp_grpc_call_outcome(&a, &out);
    if (c->bad[0] != '\0') {
        out.kind = RP_SINK_BAD_ANSWER;
        snprintf(out.words, sizeof(out.words), "%s", c->bad);
    }
    if (out.kind == RP_SINK_LEADER)
        follow_leader(g, &c->st);
    if (out.kind == RP_SINK_UNKNOWN && g->cs.discover)
        g->need_gossip = 1;
    for (size_t i = 0; i < c->nops; i++)
        if (!c->answered[i])
            push_done(g, c->ops[i], NULL, &out);
    call_put(g, c);
}

/* Take the finished calls off the multi handle. */
static void
collect(struct grpc *g)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(g->multi, &left)) != NULL) {
        struct call *c = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        if (c == NULL)
            continue;
        c->result = m->data.result;
        curl_multi_remove_handle(g->multi, c->easy);
        c->running = 0;
        if (c->pk)
            g->h2c_opening = 0;
        if (!g->cs.tls && !c->pk && c->st.http_version == 1) {
            /* Its connection was gone, and a new one without prior
            ** knowledge is not HTTP/2: nothing was carried out. */
            c->result = CURLE_RECV_ERROR;
            snprintf(c->errbuf, sizeof(c->errbuf),
                     "the HTTP/2 connection was closed");
        }
        if ((c->result != CURLE_OK && c->st.code < 0) ||
            c->st.http_version != 2)
            g->h2c_ready = 0;
        if (rp_log_enabled(RP_LOG_DEBUG))
            rp_log(RP_LOG_DEBUG, "%s: %zu operations, HTTP %ld, gRPC %d%s%s",
                   c->url, c->nops, c->st.http_status, c->st.code,
                   c->result != CURLE_OK ? ", " : "",
                   c->result != CURLE_OK ? curl_easy_strerror(c->result) : "");
        if (c->kind == CALL_BATCH)
            batch_done(g, c);
        else
            push_done(g, c->ops[0], c, NULL);
    }
}

/* A call that could not be sent: its operations have an unknown outcome,
** tried again after a back-off. */
static void
fail_call(struct grpc *g, struct call *c, const char *why)
{
    struct rp_sink_outcome out;

    memset(&out, 0, sizeof(out));
    out.kind = RP_SINK_UNKNOWN;
    out.no_answer = 1;
    out.number = RP_SINK_NO_NUMBER;
    snprintf(out.words, sizeof(out.words), "%.300s", why);
    for (size_t i = 0; i < c->nops; i++)
        push_done(g, c->ops[i], NULL, &out);
    call_put(g, c);
}

/* Send the BatchAppend call being filled, if any. */
static int
flush(struct grpc *g, struct rp_error *err)
{
    struct call *c = g->pending;
    int rc;

    if (c == NULL)
        return 0;
    g->pending = NULL;
    rc = call_start(g, c, PATH_BATCH, err);
    if (rc < 0)
        fail_call(g, c, err->msg);
    return 0;
}

/* Send the calls held while a connection was opened, once it is open (or
** the call opening it is over). */
static void
release_held(struct grpc *g)
{
    while (g->held != NULL && (g->h2c_ready || !g->h2c_opening)) {
        struct call *c = g->held;
        struct rp_error e;

        g->held = c->next;
        c->next = NULL;
        if (call_send(g, c, &e) < 0)
            fail_call(g, c, e.msg);
    }
}

/* ---- blocking calls: probe and gossip ---- */

/* Run one unary call to the end on its own handle (start-up, gossip):
** the request is in c->body.  Sets c->result. */
static void
call_perform(struct grpc *g, struct call *c, const char *base, const char *path,
             long timeout_ms)
{
    struct rp_error e;
    char saved[sizeof(g->base)];
    long saved_timeout = g->timeout_ms;
    int ready = g->h2c_ready;

    snprintf(saved, sizeof(saved), "%s", g->base);
    if (base != g->base)
        snprintf(g->base, sizeof(g->base), "%s", base);
    g->timeout_ms = timeout_ms;
    c->pk = !g->cs.tls; /* a connection of its own, not shared */
    if (call_setup(g, c, path, &e) < 0 ||
        curl_easy_setopt(c->easy, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK) {
        c->result = CURLE_OUT_OF_MEMORY;
        snprintf(c->errbuf, sizeof(c->errbuf), "%.200s", e.msg);
    } else {
        c->result = curl_easy_perform(c->easy);
    }
    c->pk = 0;
    g->h2c_ready = ready;
    snprintf(g->base, sizeof(g->base), "%s", saved);
    g->timeout_ms = saved_timeout;
}

/* 1 when a TCP connection to the node called now opens within a second. */
static int
tcp_open(const struct grpc *g)
{
    CURL *e = curl_easy_init();
    const char *hostport = strstr(g->base, "://");
    char url[sizeof(g->base) + 8];
    CURLcode rc = CURLE_FAILED_INIT;

    if (e == NULL || hostport == NULL) {
        curl_easy_cleanup(e);
        return 0;
    }
    snprintf(url, sizeof(url), "http%s", hostport);
    if (curl_easy_setopt(e, CURLOPT_URL, url) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 1000L) == CURLE_OK)
        rc = curl_easy_perform(e);
    curl_easy_cleanup(e);
    return rc == CURLE_OK;
}

/* When the failed call 'c' of the probe means that this client and the
** server do not fit (TLS, HTTP/2), so that waiting will not help: what to
** change.  Else NULL. */
static const char *
misfit(const struct grpc *g, const struct call *c)
{
    switch (c->result) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return "check the certificate (tlsCaFile=, --cacert; tlsVerifyCert="
               "false does not verify it)";
    case CURLE_SSL_CONNECT_ERROR:
        return "the TLS handshake failed: the server may run without TLS "
               "(--insecure; then give tls=false)";
    case CURLE_OPERATION_TIMEDOUT:
        /* The port takes connections, but no TLS handshake came back. */
        return g->cs.tls && tcp_open(g)
                   ? "no TLS handshake came back: the server may run without "
                     "TLS (--insecure; then give tls=false)"
                   : NULL;
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return g->cs.tls ? NULL
                         : "the server does not speak HTTP/2 without TLS: it "
                           "may run with TLS (leave out tls=false), or be an "
                           "EventStoreDB older than 20.6, which has no gRPC "
                           "(give an http:// target)";
    default:
        return NULL;
    }
}

/* Ask the node at g->base what it is and which calls it has
** (ServerFeatures).  Returns 0 (known, or not reachable now: asked again
** later), or RP_EREFUSED when the target cannot be what --target says
** (TLS, not HTTP/2, not gRPC, no Streams calls, bad credentials). */
static int
probe(struct grpc *g, struct rp_error *err)
{
    struct call *c = call_get(g, CALL_ONE);
    struct rp_grpc_answer a;
    struct rp_sink_outcome out;
    const unsigned char *msg = NULL;
    size_t len = 0;
    char version[64] = "";
    int rc = 0;

    if (c == NULL)
        return 0;
    if (g->stop != NULL && *g->stop) {
        call_put(g, c);
        return 0;
    }
    g->next_probe_ms = rp_now_ms() + PROBE_EVERY_MS;
    rp_grpc_empty_request(&c->body);
    /* libcurl 7.88 loses an answer that comes before the request is all
    ** sent (a server may answer at once, UNIMPLEMENTED for one): ask
    ** again. */
    for (int tries = 0; tries < PROBE_TRIES; tries++) {
        rp_grpc_status_init(&c->st);
        rp_buf_reset(&c->resp);
        /* The loop waits for this answer: a node that hangs must not hold
        ** it (or a stop signal) for a whole request timeout. */
        call_perform(g, c, g->base, PATH_FEATURES,
                     g->timeout_ms < PROBE_WAIT_MS ? g->timeout_ms
                                                   : PROBE_WAIT_MS);
        /* A server that closes the connection at once may be starting
        ** or stopping: it has to do it a few times to be a misfit. */
        if ((c->result == CURLE_GOT_NOTHING || c->result == CURLE_SEND_ERROR ||
             c->result == CURLE_RECV_ERROR) &&
            tries < PROBE_CLOSED) {
            struct timespec ts = {0, 200 * 1000000L};

            nanosleep(&ts, NULL);
            continue;
        }
        if (c->result != CURLE_HTTP2_STREAM || c->st.code >= 0)
            break;
    }
    answer_of(c, &a);
    if (rp_log_enabled(RP_LOG_DEBUG))
        rp_log(RP_LOG_DEBUG, "%s: HTTP %ld, gRPC %d, libcurl %d (%s)", c->url,
               c->st.http_status, c->st.code, (int)c->result,
               c->errbuf[0] ? c->errbuf : curl_easy_strerror(c->result));
    if (a.transport_error) {
        const char *why = misfit(g, c);

        if (why != NULL)
            rc = rp_error_set(err, RP_EREFUSED, "%s; %s", a.error, why);
        goto done;
    }
    if (c->st.code == RP_GRPC_UNIMPLEMENTED && c->st.grpc_content) {
        /* Older than 21.10: Append only. */
        g->probed = 1;
        g->batch = 0;
        rp_log(RP_LOG_INFO,
               "%s: a server older than 21.10 (no "
               "ServerFeatures): appends go one by one",
               g->base);
        goto done;
    }
    if (c->st.code == RP_GRPC_OK && c->st.http_status == 200) {
        struct rp_grpc_reader rd;
        struct rp_error e;
        int batch = 0, duration = 0;

        rd.buf.data = c->resp.data;
        rd.buf.len = c->resp.len;
        rd.off = 0;
        if (rp_grpc_reader_next(&rd, &msg, &len, &e) == 1 &&
            rp_grpc_decode_features(msg, len, &batch, &duration, version,
                                    sizeof(version)) == 0) {
            g->probed = 1;
            g->batch = batch;
            g->duration = duration;
            rp_log(RP_LOG_INFO, "%s: KurrentDB %s, appends through %s", g->base,
                   version[0] ? version : "(version not given)",
                   batch ? "BatchAppend" : "Append");
            goto done;
        }
        rc = rp_error_set(err, RP_EREFUSED,
                          "%s: the answer to ServerFeatures cannot be read: "
                          "not a KurrentDB?",
                          g->base);
        goto done;
    }
    rp_grpc_call_outcome(&a, &out);
    if (out.kind == RP_SINK_REFUSED)
        rc = rp_error_set(err, RP_EREFUSED, "%s: the target answered %s%s%s",
                          g->base, out.words, out.hint ? "; " : "",
                          out.hint ? out.hint : "");
done:
    call_put(g, c);
    return rc;
}

/* Ask each seed for the cluster's members, up to maxDiscoverAttempts
** rounds, and call the member the node preference picks from now on. */
static void
discover(void *impl)
{
    struct grpc *g = impl;

    g->need_gossip = 0;
    g->next_gossip_ms = rp_now_ms() + GOSSIP_EVERY_MS;
    if (!g->cs.discover)
        return;
    for (long round = 0; round < g->cs.max_discover_attempts; round++) {
        for (size_t i = 0; i < g->cs.nnodes; i++) {
            struct call *c;
            char seed[sizeof(g->base)], host[256];
            const unsigned char *msg;
            size_t len;
            struct rp_grpc_reader rd;
            struct rp_error e;
            int port = 0, found = 0;

            if (g->stop != NULL && *g->stop)
                return;
            if ((c = call_get(g, CALL_ONE)) == NULL)
                return;
            snprintf(seed, sizeof(seed), "%s://%s:%d",
                     g->cs.tls ? "https" : "http", g->cs.nodes[i].host,
                     g->cs.nodes[i].port);
            rp_grpc_empty_request(&c->body);
            call_perform(g, c, seed, PATH_GOSSIP, g->cs.gossip_timeout_ms);
            rd.buf.data = c->resp.data;
            rd.buf.len = c->resp.len;
            rd.off = 0;
            if (c->result == CURLE_OK && c->st.code == RP_GRPC_OK &&
                rp_grpc_reader_next(&rd, &msg, &len, &e) == 1)
                found = rp_grpc_decode_gossip(msg, len, g->cs.node_preference,
                                              host, sizeof(host), &port);
            call_put(g, c);
            if (found == 1) {
                char next[sizeof(g->base)];

                snprintf(next, sizeof(next), "%s://%s:%d",
                         g->cs.tls ? "https" : "http", host, port);
                if (strcmp(next, g->base) != 0) {
                    rp_log(RP_LOG_INFO, "cluster: calls go to %s", next);
                    snprintf(g->base, sizeof(g->base), "%s", next);
                    g->h2c_ready = 0;
                    g->probed = 0; /* another node: ask it what it has */
                }
                return;
            }
        }
        if (g->cs.discovery_interval_ms > 0 &&
            round + 1 < g->cs.max_discover_attempts) {
            struct timespec ts;

            ts.tv_sec = g->cs.discovery_interval_ms / 1000;
            ts.tv_nsec = (g->cs.discovery_interval_ms % 1000) * 1000000L;
            nanosleep(&ts, NULL);
        }
    }
}

/* ---- the protocol ---- */

static void
close_grpc(void *impl)
{
    struct grpc *g = impl;
    struct call *c, *next;
    struct done *d, *dn;

    if (g == NULL)
        return;
    for (d = g->head; d != NULL; d = dn) {
        dn = d->next;
        free(d);
    }
    for (d = g->free_done; d != NULL; d = dn) {
        dn = d->next;
        free(d);
    }
    for (c = g->all; c != NULL; c = next) {
        next = c->all_next;
        if (c->running)
            curl_multi_remove_handle(g->multi, c->easy);
        call_free(c);
    }
    if (g->multi != NULL)
        curl_multi_cleanup(g->multi);
    if (g->password != NULL)
        memset(g->password, 0, strlen(g->password));
    free(g->username);
    free(g->password);
    free(g->cacert);
    rp_grpc_enc_dispose(&g->enc);
    rp_grpc_dec_dispose(&g->dec);
    rp_connstr_dispose(&g->cs);
    free(g);
}

static int
open_grpc(void **impl, const struct rp_target_options *opt,
          struct rp_error *err)
{
    struct grpc *g = rp_xcalloc(1, sizeof(*g));
    uint64_t seed = rp_now_ns() ^ ((uint64_t)getpid() << 32);
    int rc;

    *impl = NULL;
    rp_grpc_enc_init(&g->enc);
    rp_grpc_dec_init(&g->dec);
    if ((rc = rp_connstr_parse(&g->cs, opt->targets, err)) < 0) {
        free(g);
        return rc;
    }
    if (opt->gossip_seeds != NULL && opt->gossip_seeds[0] != '\0') {
        rc = rp_error_set(err, RP_EINVAL,
                          "--gossip-seed goes with http:// targets; with a "
                          "connection string, name the seeds in it "
                          "(kurrentdb+discover://host1,host2)");
        goto fail;
    }
    if (g->cs.ignored[0] != '\0')
        rp_log(RP_LOG_WARN,
               "connection string: %s accepted without effect here",
               g->cs.ignored);
    g->username = opt->username ? rp_xstrdup(opt->username) : NULL;
    g->password = rp_xstrdup(opt->password ? opt->password : "");
    g->cacert = g->cs.tls_ca_file != NULL ? rp_xstrdup(g->cs.tls_ca_file)
                : opt->cacert != NULL     ? rp_xstrdup(opt->cacert)
                                          : NULL;
    g->insecure = opt->insecure || !g->cs.tls_verify_cert;
    if (g->cs.tls && !g->cs.tls_verify_cert && !opt->insecure)
        rp_log(RP_LOG_WARN, "TLS certificates of the target are not verified "
                            "(tlsVerifyCert=false)");
    if (!g->cs.tls && g->username != NULL)
        rp_log(RP_LOG_WARN,
               "tls=false: the credentials are not sent (a server without "
               "TLS takes none)");
    g->connect_timeout_ms =
        opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms : 5000;
    g->timeout_ms = g->cs.default_deadline_ms > 0 ? g->cs.default_deadline_ms
                    : opt->request_timeout_ms > 0 ? opt->request_timeout_ms
                                                  : 30000;
    g->stop = opt->stop;
    g->max_ops = (opt->max_in_flight ? opt->max_in_flight : 16) + 1;
    for (int i = 0; i < 8; i++)
        g->session[i] = (unsigned char)(seed >> (8 * i));
    snprintf(g->base, sizeof(g->base), "%s://%s:%d",
             g->cs.tls ? "https" : "http", g->cs.nodes[0].host,
             g->cs.nodes[0].port);
    g->multi = curl_multi_init();
    if (g->multi == NULL) {
        rc = rp_error_set(err, RP_EIO, "libcurl: cannot create a handle");
        goto fail;
    }
    curl_multi_setopt(g->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(g->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)MAX_CONNECTIONS);
    curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS,
                      (long)(MAX_CONNECTIONS * 2));
    *impl = g;
    return 0;
fail:
    close_grpc(g);
    return rc;
}

static int
cluster(const void *impl)
{
    const struct grpc *g = impl;

    return g->cs.discover;
}

static void
describe(const void *impl, char *out, size_t size)
{
    const struct grpc *g = impl;

    snprintf(out, size, "%s (gRPC%s)", g->base,
             g->cs.tls ? " over TLS" : ", tls=false");
}

static int
connect_grpc(void *impl, struct rp_error *err)
{
    struct grpc *g = impl;

    discover(g);
    return probe(g, err);
}

static int
room(const void *impl)
{
    const struct grpc *g = impl;

    return g->out < g->max_ops;
}

static int
start(void *impl, struct rp_sink_req *req, struct rp_error *err)
{
    struct grpc *g = impl;
    struct call *c;
    int rc;

    if (g->out >= g->max_ops)
        return rp_error_set(err, RP_ELIMIT, "no room for another call");
    if (g->need_gossip && rp_now_ms() >= g->next_gossip_ms) {
        if ((rc = flush(g, err)) < 0)
            return rc;
        discover(g);
    }
    if (!g->probed && rp_now_ms() >= g->next_probe_ms &&
        (rc = probe(g, err)) < 0)
        return rc;
    if (req->op == RP_SINK_APPEND && g->batch) {
        struct rp_grpc_deadline dl;
        unsigned char corr[16];

        if (g->pending == NULL) {
            if ((g->pending = call_get(g, CALL_BATCH)) == NULL)
                return rp_error_set(err, RP_EIO,
                                    "libcurl: cannot create a handle");
            g->pending->seq = ++g->seq;
        }
        c = g->pending;
        correlation(g, c->seq, (uint32_t)c->nops, corr);
        memset(&dl, 0, sizeof(dl));
        dl.duration = g->duration;
        if (dl.duration) {
            dl.seconds = g->timeout_ms / 1000;
            dl.nanos = (int32_t)(g->timeout_ms % 1000) * 1000000;
        } else {
            struct timespec now;

            clock_gettime(CLOCK_REALTIME, &now);
            dl.seconds = (int64_t)now.tv_sec + g->timeout_ms / 1000;
            dl.nanos = (int32_t)now.tv_nsec;
        }
        if (rp_grpc_batch_request(&c->body, &g->enc, req, corr, &dl,
                                  BATCH_CHUNK) < 0)
            return rp_error_set(err, RP_ELIMIT,
                                "stream '%s': request too large", req->stream);
        call_add(c, req);
        g->out++;
        if (c->nops >= BATCH_OPS || c->body.len >= BATCH_BYTES)
            return flush(g, err);
        return 0;
    }
    if ((c = call_get(g, CALL_ONE)) == NULL)
        return rp_error_set(err, RP_EIO, "libcurl: cannot create a handle");
    if (req->op == RP_SINK_READ_HEAD || req->op == RP_SINK_READ_FORWARD)
        rc = rp_grpc_read_request(&c->body, &g->enc, req, READ_COUNT);
    else
        rc = rp_grpc_append_request(&c->body, &g->enc, req);
    if (rc < 0) {
        call_put(g, c);
        return rp_error_set(err, RP_ELIMIT, "stream '%s': request too large",
                            req->stream);
    }
    call_add(c, req);
    rc = call_start(g, c,
                    req->op == RP_SINK_READ_HEAD ||
                            req->op == RP_SINK_READ_FORWARD
                        ? PATH_READ
                        : PATH_APPEND,
                    err);
    if (rc < 0) {
        call_put(g, c);
        return rc;
    }
    g->out++;
    return 0;
}

/* rp_http_multi_wait()'s 'take': the finished calls, the held ones sent;
** 1 when operations wait to be given back. */
static int
take_done(void *ctx)
{
    struct grpc *g = ctx;

    collect(g);
    release_held(g);
    return g->head != NULL;
}

static int
wait_grpc(void *impl, const int *fds, int nfds, int timeout_ms, unsigned *ready,
          struct rp_error *err)
{
    struct grpc *g = impl;

    flush(g, err);
    return rp_http_multi_wait(g->multi, take_done, g, fds, nfds, timeout_ms,
                              ready, err);
}

static struct rp_sink_req *
next_done(void *impl, struct rp_sink_outcome *out)
{
    struct grpc *g = impl;
    struct done *d = g->head;
    struct rp_sink_req *op;

    /* The call of the outcome given out last: its bytes were valid until
    ** now. */
    if (g->taken != NULL) {
        call_put(g, g->taken);
        g->taken = NULL;
    }
    if (d == NULL)
        return NULL;
    g->head = d->next;
    if (g->head == NULL)
        g->tail = NULL;
    op = d->op;
    if (d->call != NULL) {
        struct rp_grpc_answer a;

        answer_of(d->call, &a);
        rp_grpc_decode(&g->dec, op, &a, out);
        if (d->call->bad[0] != '\0') {
            out->kind = RP_SINK_BAD_ANSWER;
            snprintf(out->words, sizeof(out->words), "%s", d->call->bad);
        }
        if (out->kind == RP_SINK_LEADER)
            follow_leader(g, &d->call->st);
        if (out->kind == RP_SINK_UNKNOWN && g->cs.discover)
            g->need_gossip = 1;
        g->taken = d->call;
    } else {
        *out = d->out;
    }
    d->next = g->free_done;
    g->free_done = d;
    g->out--;
    return op;
}

static int
in_flight(const void *impl)
{
    const struct grpc *g = impl;

    return (int)g->out;
}

const struct rp_target_proto rp_grpc_proto = {
    "gRPC", open_grpc, close_grpc, cluster,   describe,  connect_grpc,
    room,   start,     wait_grpc,  next_done, in_flight,
};
