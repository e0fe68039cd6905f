/* KurrentDB's gRPC answers: status and messages to outcomes, gossip and
** server features. */
#include "grpcanswer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connstr.h"
#include "event.h"
#include "gossip.pb-c.h"
#include "serverfeatures.pb-c.h"
#include "shared.pb-c.h"
#include "streams.pb-c.h"
#include "google/rpc/status.pb-c.h"

/* The generated names, shortened. */
#define S(x) EVENT_STORE__CLIENT__STREAMS__##x
#define APPEND_RESP EventStore__Client__Streams__AppendResp
#define BATCH_RESP EventStore__Client__Streams__BatchAppendResp
#define READ_RESP EventStore__Client__Streams__ReadResp
#define RECORDED EventStore__Client__Streams__ReadResp__ReadEvent__RecordedEvent
#define UUID_MSG EventStore__Client__UUID

#define NO_REVISION UINT64_MAX /* "none" as a uint64 revision */

void
rp_grpc_dec_init(struct rp_grpc_dec *d)
{
    memset(d, 0, sizeof(*d));
}

void
rp_grpc_dec_reset(struct rp_grpc_dec *d)
{
    for (size_t i = 0; i < d->nmsgs; i++)
        protobuf_c_message_free_unpacked(d->msgs[i], NULL);
    d->nmsgs = 0;
}

void
rp_grpc_dec_dispose(struct rp_grpc_dec *d)
{
    rp_grpc_dec_reset(d);
    free(d->msgs);
    free(d->events);
    memset(d, 0, sizeof(*d));
}

/* Keep 'm' until the next reset. */
static void
keep(struct rp_grpc_dec *d, void *m)
{
    if (d->nmsgs == d->msgs_cap) {
        d->msgs_cap = d->msgs_cap ? d->msgs_cap * 2 : 8;
        d->msgs = rp_xrealloc(d->msgs, d->msgs_cap * sizeof(*d->msgs));
    }
    d->msgs[d->nmsgs++] = m;
}

/* The name of a gRPC status code. */
static const char *
code_name(int code)
{
    static const char *const names[] = {"OK",
                                        "CANCELLED",
                                        "UNKNOWN",
                                        "INVALID_ARGUMENT",
                                        "DEADLINE_EXCEEDED",
                                        "NOT_FOUND",
                                        "ALREADY_EXISTS",
                                        "PERMISSION_DENIED",
                                        "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION",
                                        "ABORTED",
                                        "OUT_OF_RANGE",
                                        "UNIMPLEMENTED",
                                        "INTERNAL",
                                        "UNAVAILABLE",
                                        "DATA_LOSS",
                                        "UNAUTHENTICATED"};

    return code >= 0 && code < (int)(sizeof(names) / sizeof(names[0]))
               ? names[code]
               : "?";
}

/* The server's words for a status: code, name, message, exception. */
static void
status_words(const struct rp_grpc_status *st, char *out, size_t size)
{
    int n =
        snprintf(out, size, "gRPC status %d %s", st->code, code_name(st->code));

    if (n > 0 && (size_t)n < size && st->message[0] != '\0')
        n += snprintf(out + n, size - (size_t)n, ": %s", st->message);
    if (n > 0 && (size_t)n < size && st->exception[0] != '\0')
        snprintf(out + n, size - (size_t)n, " (exception %s)", st->exception);
}

static const char hint_credentials[] =
    "check the credentials (REPLICATOR_USER and REPLICATOR_PASSWORD, or "
    "--credentials FILE); over tls=false the server takes none";
static const char hint_rights[] =
    "the user may not write to (or read) the stream: check its rights "
    "($acl) or use another user";
static const char hint_append_size[] =
    "one append is larger than the server's MaxAppendSize: lower "
    "batch_bytes (--batch-bytes) below it";
static const char hint_event_size[] =
    "an event is larger than the server's MaxAppendEventSize";
static const char hint_unimplemented[] =
    "the server lacks this call: it is not a KurrentDB or EventStoreDB "
    "20.6 or later, or the gRPC API is off";
static const char hint_not_grpc[] =
    "the target does not answer as a KurrentDB gRPC server: check the host "
    "and port of --target (the node's HTTP port, 2113 by default) and tls=";

/* The outcome of a call's non-zero status, or of a call with no usable
** answer (HTTP level, transport).  'op' is the sink's operation, or -1
** for a whole call. */
static void
status_outcome(const struct rp_grpc_answer *a, int op,
               struct rp_sink_outcome *out)
{
    const struct rp_grpc_status *st = a->st;
    const char *x = st->exception;

    if (a->transport_error) {
        out->kind = RP_SINK_UNKNOWN;
        out->no_answer = 1;
        snprintf(out->words, sizeof(out->words), "%s", a->error);
        return;
    }
    if (st->http_version == 1) {
        out->kind = RP_SINK_REFUSED;
        snprintf(out->words, sizeof(out->words),
                 "HTTP/1.1 %ld (the server does not speak HTTP/2, which gRPC "
                 "needs)",
                 st->http_status);
        out->hint = hint_not_grpc;
        return;
    }
    if (st->http_status != 200 && st->code < 0) {
        long h = st->http_status;

        snprintf(out->words, sizeof(out->words), "HTTP %ld, not a gRPC answer",
                 h);
        if (h == 0 || h == 408 || h == 500 || h == 502 || h == 503 ||
            h == 504) {
            out->kind = RP_SINK_UNKNOWN;
        } else {
            out->kind = RP_SINK_REFUSED;
            out->hint = hint_not_grpc;
        }
        return;
    }
    if (st->code < 0) {
        if (!st->grpc_content) {
            out->kind = RP_SINK_REFUSED;
            snprintf(out->words, sizeof(out->words),
                     "HTTP %ld with content-type '%s', not a gRPC answer",
                     st->http_status, st->content_type);
            out->hint = hint_not_grpc;
        } else {
            out->kind = RP_SINK_UNKNOWN;
            snprintf(out->words, sizeof(out->words),
                     "the call ended without a gRPC status");
        }
        return;
    }
    status_words(st, out->words, sizeof(out->words));
    if (strcmp(x, "not-leader") == 0) {
        out->kind = RP_SINK_LEADER;
        return;
    }
    if (strcmp(x, "stream-deleted") == 0) {
        out->kind = RP_SINK_DELETED;
        return;
    }
    if (strcmp(x, "stream-not-found") == 0 &&
        (op == RP_SINK_READ_HEAD || op == RP_SINK_READ_FORWARD)) {
        out->kind = RP_SINK_NOT_FOUND;
        return;
    }
    out->kind = RP_SINK_REFUSED;
    if (strcmp(x, "access-denied") == 0) {
        out->hint = hint_rights;
        return;
    }
    if (strcmp(x, "maximum-append-size-exceeded") == 0) {
        out->hint = hint_append_size;
        return;
    }
    if (strcmp(x, "maximum-append-event-size-exceeded") == 0) {
        out->hint = hint_event_size;
        return;
    }
    if (x[0] != '\0')
        return;
    switch (st->code) {
    case RP_GRPC_OK:
        /* A status 0 without the answer the operation needs. */
        out->kind = RP_SINK_UNKNOWN;
        snprintf(out->words, sizeof(out->words),
                 "the call ended (gRPC status 0) without an answer");
        break;
    case RP_GRPC_CANCELLED:
    case RP_GRPC_UNKNOWN:
    case RP_GRPC_DEADLINE_EXCEEDED:
    case RP_GRPC_ABORTED:
    case RP_GRPC_INTERNAL:
    case RP_GRPC_UNAVAILABLE:
        out->kind = RP_SINK_UNKNOWN;
        if (st->pushback_ms > 0)
            out->retry_after_ms = (uint64_t)st->pushback_ms;
        break;
    case RP_GRPC_UNAUTHENTICATED:
        out->hint = hint_credentials;
        break;
    case RP_GRPC_PERMISSION_DENIED:
        out->hint = hint_rights;
        break;
    case RP_GRPC_UNIMPLEMENTED:
        out->hint = hint_unimplemented;
        break;
    default:
        break;
    }
}

void
rp_grpc_call_outcome(const struct rp_grpc_answer *a,
                     struct rp_sink_outcome *out)
{
    memset(out, 0, sizeof(*out));
    out->number = RP_SINK_NO_NUMBER;
    status_outcome(a, -1, out);
}

/* Revision 'r' as an event number: -1 for "none" (2^64-1); -2 when out of
** range. */
static int64_t
revision(uint64_t r)
{
    if (r == NO_REVISION)
        return -1;
    return r <= (uint64_t)INT64_MAX ? (int64_t)r : -2;
}

/* The Append answer: success or wrong expected version. */
static void
decode_append(const APPEND_RESP *m, struct rp_sink_outcome *out)
{
    const EventStore__Client__Streams__AppendResp__WrongExpectedVersion *w;
    int64_t cur = -2;

    if (m->result_case == S(APPEND_RESP__RESULT_SUCCESS) &&
        m->success != NULL) {
        out->kind = RP_SINK_WRITTEN;
        if (m->success->current_revision_option_case ==
            S(APPEND_RESP__SUCCESS__CURRENT_REVISION_OPTION_CURRENT_REVISION)) {
            int64_t r = revision(m->success->current_revision);

            if (r >= 0)
                out->number = r;
        }
        snprintf(out->words, sizeof(out->words), "appended");
        return;
    }
    w = m->result_case == S(APPEND_RESP__RESULT_WRONG_EXPECTED_VERSION)
            ? m->wrong_expected_version
            : NULL;
    if (w != NULL) {
        if (w->current_revision_option_case ==
            S(APPEND_RESP__WRONG_EXPECTED_VERSION__CURRENT_REVISION_OPTION_CURRENT_REVISION))
            cur = revision(w->current_revision);
        else if (
            w->current_revision_option_case ==
            S(APPEND_RESP__WRONG_EXPECTED_VERSION__CURRENT_REVISION_OPTION_CURRENT_NO_STREAM))
            cur = -1;
        else if (
            w->current_revision_option_20_6_0_case ==
            S(APPEND_RESP__WRONG_EXPECTED_VERSION__CURRENT_REVISION_OPTION_20_6_0_CURRENT_REVISION_20_6_0))
            cur = revision(w->current_revision_20_6_0);
        else if (
            w->current_revision_option_20_6_0_case ==
            S(APPEND_RESP__WRONG_EXPECTED_VERSION__CURRENT_REVISION_OPTION_20_6_0_NO_STREAM_20_6_0))
            cur = -1;
    }
    if (cur >= -1) {
        out->kind = RP_SINK_WRONG_VERSION;
        out->number = cur;
        snprintf(out->words, sizeof(out->words),
                 "wrong expected version (current %" PRId64 ")", cur);
        return;
    }
    out->kind = RP_SINK_BAD_ANSWER;
    snprintf(out->words, sizeof(out->words),
             "an AppendResp with neither success nor a current revision");
}

/* A UUID message as 16 bytes.  Returns 0 or -1. */
static int
uuid_of(const UUID_MSG *u, unsigned char id[16])
{
    if (u == NULL)
        return -1;
    if (u->value_case == EVENT_STORE__CLIENT__UUID__VALUE_STRUCTURED &&
        u->structured != NULL) {
        rp_grpc_uuid_bytes(id, u->structured->most_significant_bits,
                           u->structured->least_significant_bits);
        return 0;
    }
    if (u->value_case == EVENT_STORE__CLIENT__UUID__VALUE_STRING &&
        u->string != NULL)
        return rp_event_parse_id(id, u->string, strlen(u->string)) == 0 ? 0
                                                                        : -1;
    return -1;
}

/* One recorded event as a read event.  Returns 0 or -1 (no usable
** number). */
static int
read_event(const RECORDED *r, struct rp_sink_read_event *out)
{
    int64_t n = revision(r->stream_revision);

    memset(out, 0, sizeof(*out));
    if (n < 0)
        return -1;
    out->number = n;
    out->has_id = uuid_of(r->id, out->id) == 0;
    for (size_t i = 0; i < r->n_metadata; i++)
        if (r->metadata[i] != NULL && r->metadata[i]->key != NULL &&
            strcmp(r->metadata[i]->key, "type") == 0 &&
            r->metadata[i]->value != NULL) {
            out->type = r->metadata[i]->value;
            out->type_len = strlen(out->type);
        }
    out->data = r->data.len > 0 ? (const char *)r->data.data : "";
    out->data_len = r->data.len;
    if (r->custom_metadata.len > 0) {
        out->metadata = (const char *)r->custom_metadata.data;
        out->metadata_len = r->custom_metadata.len;
    }
    return 0;
}

/* A read's answer: its events, or no such stream. */
static void
decode_read(struct rp_grpc_dec *d, const struct rp_grpc_answer *a,
            struct rp_grpc_reader *rd, struct rp_sink_outcome *out)
{
    const unsigned char *msg;
    size_t len, n = 0;
    struct rp_error err;
    int rc, not_found = 0;

    out->kind = RP_SINK_EVENTS;
    while ((rc = rp_grpc_reader_next(rd, &msg, &len, &err)) == 1) {
        READ_RESP *m =
            event_store__client__streams__read_resp__unpack(NULL, len, msg);

        if (m == NULL) {
            out->kind = RP_SINK_BAD_ANSWER;
            snprintf(out->words, sizeof(out->words),
                     "a ReadResp that cannot be read");
            return;
        }
        keep(d, m);
        if (m->content_case == S(READ_RESP__CONTENT_STREAM_NOT_FOUND)) {
            not_found = 1;
        } else if (m->content_case == S(READ_RESP__CONTENT_EVENT) &&
                   m->event != NULL) {
            const RECORDED *r =
                m->event->event != NULL ? m->event->event : m->event->link;

            if (r == NULL)
                continue;
            if (n == d->events_cap) {
                d->events_cap = d->events_cap ? d->events_cap * 2 : 16;
                d->events =
                    rp_xrealloc(d->events, d->events_cap * sizeof(*d->events));
            }
            if (read_event(r, &d->events[n]) < 0) {
                out->kind = RP_SINK_BAD_ANSWER;
                snprintf(out->words, sizeof(out->words),
                         "an event with revision %" PRIu64 ", out of range",
                         r->stream_revision);
                return;
            }
            n++;
        }
    }
    if (rc < 0 || rp_grpc_reader_partial(rd)) {
        out->kind = RP_SINK_BAD_ANSWER;
        snprintf(out->words, sizeof(out->words), "%.390s",
                 rc < 0 ? err.msg : "the answer ends inside a message");
        return;
    }
    (void)a;
    if (not_found) {
        out->kind = RP_SINK_NOT_FOUND;
        snprintf(out->words, sizeof(out->words), "stream not found");
        return;
    }
    out->events = d->events;
    out->nevents = n;
    snprintf(out->words, sizeof(out->words), "%zu events", n);
}

void
rp_grpc_decode(struct rp_grpc_dec *d, const struct rp_sink_req *req,
               const struct rp_grpc_answer *a, struct rp_sink_outcome *out)
{
    struct rp_grpc_reader rd;
    const unsigned char *msg;
    size_t len;
    struct rp_error err;
    int rc;

    rp_grpc_dec_reset(d);
    memset(out, 0, sizeof(*out));
    out->number = RP_SINK_NO_NUMBER;
    if (a->transport_error || a->st->code != RP_GRPC_OK ||
        a->st->http_version == 1 || a->st->http_status != 200) {
        status_outcome(a, req->op, out);
        return;
    }
    /* The answer's bytes are read in place. */
    rd.buf.data = (char *)(uintptr_t)a->body;
    rd.buf.len = a->body_len;
    rd.off = 0;
    if (req->op == RP_SINK_READ_HEAD || req->op == RP_SINK_READ_FORWARD) {
        decode_read(d, a, &rd, out);
        return;
    }
    rc = rp_grpc_reader_next(&rd, &msg, &len, &err);
    if (rc == 1) {
        APPEND_RESP *m =
            event_store__client__streams__append_resp__unpack(NULL, len, msg);

        if (m == NULL) {
            out->kind = RP_SINK_BAD_ANSWER;
            snprintf(out->words, sizeof(out->words),
                     "an AppendResp that cannot be read");
            return;
        }
        keep(d, m);
        decode_append(m, out);
        return;
    }
    if (rc < 0) {
        out->kind = RP_SINK_BAD_ANSWER;
        snprintf(out->words, sizeof(out->words), "%.390s", err.msg);
        return;
    }
    status_outcome(a, req->op, out); /* status 0 and no AppendResp */
}

/* The details of a BatchAppend error as an outcome. */
static void
batch_error(const Google__Rpc__Status *e, struct rp_sink_outcome *out)
{
    const char *type = e->details != NULL && e->details->type_url != NULL
                           ? e->details->type_url
                           : "";
    const char *name = strrchr(type, '.');
    const char *msg = e->message != NULL ? e->message : "";

    name = name != NULL ? name + 1 : type;
    snprintf(out->words, sizeof(out->words),
             "BatchAppend error, code %d %s: %s", (int)e->code,
             code_name(e->code), msg);
    if (strcmp(name, "WrongExpectedVersion") == 0 && e->details != NULL) {
        EventStore__Client__WrongExpectedVersion *w =
            event_store__client__wrong_expected_version__unpack(
                NULL, e->details->value.len, e->details->value.data);
        int64_t cur = -2;

        if (w != NULL) {
            if (w->current_stream_revision_option_case ==
                EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__CURRENT_STREAM_REVISION_OPTION_CURRENT_STREAM_REVISION)
                cur = revision(w->current_stream_revision);
            else if (
                w->current_stream_revision_option_case ==
                EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__CURRENT_STREAM_REVISION_OPTION_CURRENT_NO_STREAM)
                cur = -1;
            protobuf_c_message_free_unpacked(&w->base, NULL);
        }
        if (cur >= -1) {
            out->kind = RP_SINK_WRONG_VERSION;
            out->number = cur;
        } else {
            out->kind = RP_SINK_BAD_ANSWER;
        }
        return;
    }
    if (strcmp(name, "StreamDeleted") == 0) {
        out->kind = RP_SINK_DELETED;
        return;
    }
    /* Timeouts, and the per-append "not ready" / "busy" (code 0), may have
    ** written or may write: unknown. */
    if (strcmp(name, "Timeout") == 0 || e->code == RP_GRPC_OK ||
        e->code == RP_GRPC_DEADLINE_EXCEEDED ||
        e->code == RP_GRPC_UNAVAILABLE || e->code == RP_GRPC_INTERNAL ||
        strcmp(name, "Unknown") == 0) {
        out->kind = RP_SINK_UNKNOWN;
        return;
    }
    out->kind = RP_SINK_REFUSED;
    if (strcmp(name, "AccessDenied") == 0)
        out->hint = hint_rights;
    else if (strcmp(name, "MaximumAppendSizeExceeded") == 0)
        out->hint = hint_append_size;
    else if (strcmp(name, "MaximumAppendEventSizeExceeded") == 0)
        out->hint = hint_event_size;
}

int
rp_grpc_decode_batch(const unsigned char *msg, size_t len,
                     unsigned char corr[16], struct rp_sink_outcome *out)
{
    BATCH_RESP *m =
        event_store__client__streams__batch_append_resp__unpack(NULL, len, msg);
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->number = RP_SINK_NO_NUMBER;
    if (m == NULL)
        return RP_EFORMAT;
    if (uuid_of(m->correlation_id, corr) < 0) {
        rc = RP_EFORMAT;
    } else if (m->result_case == S(BATCH_APPEND_RESP__RESULT_SUCCESS) &&
               m->success != NULL) {
        out->kind = RP_SINK_WRITTEN;
        if (m->success->current_revision_option_case ==
            S(BATCH_APPEND_RESP__SUCCESS__CURRENT_REVISION_OPTION_CURRENT_REVISION)) {
            int64_t r = revision(m->success->current_revision);

            if (r >= 0)
                out->number = r;
        }
        snprintf(out->words, sizeof(out->words), "appended");
    } else if (m->result_case == S(BATCH_APPEND_RESP__RESULT_ERROR) &&
               m->error != NULL) {
        batch_error(m->error, out);
    } else {
        out->kind = RP_SINK_BAD_ANSWER;
        snprintf(out->words, sizeof(out->words),
                 "a BatchAppendResp with neither success nor error");
    }
    protobuf_c_message_free_unpacked(&m->base, NULL);
    return rc;
}

/* 1 when a member in 'state' may take calls for 'preference' (2: the best
** kind, 1: acceptable). */
static int
member_rank(int state, int preference)
{
    enum { FOLLOWER = 6, LEADER = 8, RO_LEADERLESS = 12, RO_PRE = 13, RO = 14 };
    int ro = state == RO || state == RO_PRE || state == RO_LEADERLESS;

    if (state != LEADER && state != FOLLOWER && !ro)
        return 0;
    switch (preference) {
    case RP_PREFER_LEADER:
        return state == LEADER ? 2 : 0;
    case RP_PREFER_FOLLOWER:
        return state == FOLLOWER ? 2 : state == LEADER ? 1 : 0;
    case RP_PREFER_READ_ONLY:
        return ro ? 2 : state == LEADER ? 1 : 0;
    default:
        return state == LEADER ? 2 : 1;
    }
}

int
rp_grpc_decode_gossip(const unsigned char *msg, size_t len, int preference,
                      char *host, size_t size, int *port)
{
    EventStore__Client__Gossip__ClusterInfo *m =
        event_store__client__gossip__cluster_info__unpack(NULL, len, msg);
    const EventStore__Client__Gossip__EndPoint *best = NULL;
    int best_rank = 0;

    if (m == NULL)
        return RP_EFORMAT;
    for (size_t i = 0; i < m->n_members; i++) {
        const EventStore__Client__Gossip__MemberInfo *mi = m->members[i];
        int r;

        if (mi == NULL || !mi->is_alive || mi->http_end_point == NULL ||
            mi->http_end_point->address == NULL ||
            mi->http_end_point->address[0] == '\0' ||
            mi->http_end_point->port == 0 || mi->http_end_point->port > 65535)
            continue;
        r = member_rank((int)mi->state, preference);
        if (r > best_rank) {
            best = mi->http_end_point;
            best_rank = r;
        }
    }
    if (best != NULL) {
        snprintf(host, size, "%s", best->address);
        *port = (int)best->port;
    }
    protobuf_c_message_free_unpacked(&m->base, NULL);
    return best != NULL;
}

int
rp_grpc_decode_features(const unsigned char *msg, size_t len, int *batch,
                        int *duration, char *version, size_t size)
{
    EventStore__Client__ServerFeatures__SupportedMethods *m =
        event_store__client__server_features__supported_methods__unpack(
            NULL, len, msg);

    *batch = *duration = 0;
    if (m == NULL)
        return RP_EFORMAT;
    for (size_t i = 0; i < m->n_methods; i++) {
        const EventStore__Client__ServerFeatures__SupportedMethod *sm =
            m->methods[i];

        if (sm == NULL || sm->service_name == NULL || sm->method_name == NULL ||
            strcmp(sm->service_name, "event_store.client.streams.streams") !=
                0 ||
            strcmp(sm->method_name, "batchappend") != 0)
            continue;
        *batch = 1;
        for (size_t k = 0; k < sm->n_features; k++)
            if (sm->features[k] != NULL &&
                strcmp(sm->features[k], "deadline_duration") == 0)
                *duration = 1;
    }
    snprintf(version, size, "%s",
             m->event_store_server_version != NULL
                 ? m->event_store_server_version
                 : "");
    protobuf_c_message_free_unpacked(&m->base, NULL);
    return 0;
}
