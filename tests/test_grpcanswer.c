/* Tests of KurrentDB's gRPC answers as the sink's outcomes: the answer
** table (every status and exception), the protocol specification's worked
** answers byte for byte, BatchAppend answers, gossip and server features.
** No network: answers are built by hand. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "connstr.h"
#include "event.h"
#include "gossip.pb-c.h"
#include "grpcanswer.h"
#include "serverfeatures.pb-c.h"
#include "streams.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "testutil.h"

static struct rp_grpc_dec dec;
static struct rp_grpc_status st;
static unsigned char body[1024];
static struct rp_sink_outcome out;

static void
setup(void)
{
    rp_grpc_dec_init(&dec);
    rp_grpc_status_init(&st);
    st.http_version = 2;
    st.http_status = 200;
    st.grpc_content = 1;
    st.code = 0;
}

static void
teardown(void)
{
    rp_grpc_dec_dispose(&dec);
}

/* Decode the answer whose body is 'text' (rp_test_bytes form) to operation
** 'op'. */
static void
decode(int op, const char *text)
{
    struct rp_sink_req req;
    struct rp_grpc_answer a;

    memset(&req, 0, sizeof(req));
    req.op = op;
    req.stream = "orders";
    req.stream_len = 6;
    req.nevents = 2;
    memset(&a, 0, sizeof(a));
    a.st = &st;
    a.body = body;
    a.body_len = rp_test_bytes(body, sizeof(body), text);
    rp_grpc_decode(&dec, &req, &a, &out);
}

/* Spec 10.1: success, current revision 1. */
START_TEST(test_grpcanswer_append_success)
{
    decode(RP_SINK_APPEND,
           "00 00 00 00 0c 0a 0a 08 01 1a 06 08 92 21 10 92 21");
    ck_assert_int_eq(out.kind, RP_SINK_WRITTEN);
    ck_assert_int_eq(out.number, 1);
    /* The metadata write gets the same answer. */
    decode(RP_SINK_SET_METADATA, "00 00 00 00 04 0a 02 08 00");
    ck_assert_int_eq(out.kind, RP_SINK_WRITTEN);
    ck_assert_int_eq(out.number, 0);
}
END_TEST

/* Spec 10.3 and the shapes of older servers: the current revision from
** fields 6/7, else from the 20.6.0 fields 1/2. */
static const struct {
    const char *body;
    int64_t current;
} wev[] = {
    {"00 00 00 00 0a 12 08 08 01 18 00 30 01 40 00", 1},
    {"00 00 00 00 13 12 11 08 01 18 ff ff ff ff ff ff ff ff ff 01 30 01 5a "
     "00",
     1},
    {"00 00 00 00 06 12 04 12 00 3a 00", -1},
    {"00 00 00 00 04 12 02 08 05", 5},
    {"00 00 00 00 04 12 02 12 00", -1},
};

START_TEST(test_grpcanswer_append_wrong_version)
{
    decode(RP_SINK_APPEND, wev[_i].body);
    ck_assert_int_eq(out.kind, RP_SINK_WRONG_VERSION);
    ck_assert_int_eq(out.number, wev[_i].current);
}
END_TEST

/* Spec 10.2: the last event of "orders", then last_stream_position. */
START_TEST(test_grpcanswer_read_event)
{
    char id[37];

    decode(RP_SINK_READ_HEAD,
           "00 00 00 00 90"
           " 0a 8d 01 0a 87 01"
           " 0a 17 0a 15 08 db 94 fd e9 a1 85 93 bf 0b 10 ad f8 ac d2 f5 cd df"
           " c6 9c 01"
           " 12 08 1a 06 \"orders\" 18 01 20 92 21 28 92 21"
           " 32 11 0a 04 \"type\" 12 09 \"OrderPaid\""
           " 32 1c 0a 07 \"created\" 12 11 \"17534016000000000\""
           " 32 20 0a 0c \"content-type\" 12 10 \"application/json\""
           " 42 07 7b 22 6e 22 3a 32 7d"
           " 18 92 21"
           " 00 00 00 00 02 30 01");
    ck_assert_int_eq(out.kind, RP_SINK_EVENTS);
    ck_assert_int_eq(out.nevents, 1);
    ck_assert_int_eq(out.events[0].number, 1);
    ck_assert_int_eq(out.events[0].has_id, 1);
    rp_event_format_id(id, out.events[0].id);
    ck_assert_str_eq(id, "0b7e4c2a-1d3f-4a5b-9c8d-7e6f5a4b3c2d");
    ck_assert_uint_eq(out.events[0].type_len, 9);
    ck_assert_mem_eq(out.events[0].type, "OrderPaid", 9);
    ck_assert_uint_eq(out.events[0].data_len, 7);
    ck_assert_mem_eq(out.events[0].data, "{\"n\":2}", 7);
    ck_assert_ptr_null(out.events[0].metadata);
}
END_TEST

/* Events in order, with their metadata; ids in string form too. */
START_TEST(test_grpcanswer_read_events_forward)
{
    char id[37];

    decode(RP_SINK_READ_FORWARD,
           "00 00 00 00 3b 0a 39 0a 37"
           " 0a 26 12 24 \"6d61517b-187f-5499-875d-cb4d1fa69976\""
           " 18 04 32 08 0a 04 \"type\" 12 00 3a 01 \"m\""
           "00 00 00 00 0c 0a 0a 0a 08 0a 02 12 00 18 05 42 00");
    ck_assert_int_eq(out.kind, RP_SINK_EVENTS);
    ck_assert_int_eq(out.nevents, 2);
    ck_assert_int_eq(out.events[0].number, 4);
    rp_event_format_id(id, out.events[0].id);
    ck_assert_str_eq(id, "6d61517b-187f-5499-875d-cb4d1fa69976");
    ck_assert_uint_eq(out.events[0].metadata_len, 1);
    ck_assert_mem_eq(out.events[0].metadata, "m", 1);
    ck_assert_int_eq(out.events[1].number, 5);
    ck_assert_int_eq(out.events[1].has_id, 0);
    /* Nothing found: no events. */
    decode(RP_SINK_READ_FORWARD, "");
    ck_assert_int_eq(out.kind, RP_SINK_EVENTS);
    ck_assert_int_eq(out.nevents, 0);
}
END_TEST

START_TEST(test_grpcanswer_read_not_found)
{
    decode(RP_SINK_READ_HEAD, "00 00 00 00 0c 22 0a 0a 08 1a 06 \"orders\"");
    ck_assert_int_eq(out.kind, RP_SINK_NOT_FOUND);
}
END_TEST

/* Answers that cannot be read. */
static const struct {
    int op;
    const char *body;
} unreadable[] = {
    {RP_SINK_APPEND, "00 00 00 00 02 0a ff"},
    {RP_SINK_APPEND, "00 00 00 00 00"},
    {RP_SINK_APPEND, "01 00 00 00 01 00"},
    {RP_SINK_READ_HEAD, "00 00 00 00 05 0a 03"},
    {RP_SINK_READ_HEAD, "00 00 00 00 03 0a"},
    {RP_SINK_READ_FORWARD,
     "00 00 00 00 10 0a 0e 0a 0c 18 ff ff ff ff ff ff ff ff ff 01 32 00"},
};

START_TEST(test_grpcanswer_unreadable)
{
    decode(unreadable[_i].op, unreadable[_i].body);
    ck_assert_msg(out.kind == RP_SINK_BAD_ANSWER, "answer %d: kind %d (%s)", _i,
                  out.kind, out.words);
    ck_assert_uint_gt(strlen(out.words), 0);
}
END_TEST

/* The answer table: how a call ended, and the outcome. */
static const struct {
    int op;
    int version;     /* HTTP version */
    long http;       /* HTTP status */
    int grpc;        /* content-type application/grpc */
    int code;        /* grpc-status, -1 none */
    const char *exc; /* "exception" */
    int kind;
    const char *hint; /* part of the hint, or NULL */
} table[] = {
    {RP_SINK_APPEND, 2, 200, 1, 14, "", RP_SINK_UNKNOWN, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 4, "", RP_SINK_UNKNOWN, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 10, "", RP_SINK_UNKNOWN, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 1, "", RP_SINK_UNKNOWN, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 2, "", RP_SINK_UNKNOWN, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 13, "", RP_SINK_UNKNOWN, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 0, "", RP_SINK_UNKNOWN, NULL},
    {RP_SINK_APPEND, 2, 200, 1, -1, "", RP_SINK_UNKNOWN, NULL},
    {RP_SINK_APPEND, 2, 503, 0, -1, "", RP_SINK_UNKNOWN, NULL},
    {RP_SINK_APPEND, 2, 502, 0, -1, "", RP_SINK_UNKNOWN, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 5, "not-leader", RP_SINK_LEADER, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 9, "stream-deleted", RP_SINK_DELETED, NULL},
    {RP_SINK_READ_HEAD, 2, 200, 1, 9, "stream-deleted", RP_SINK_DELETED, NULL},
    {RP_SINK_READ_HEAD, 2, 200, 1, 5, "stream-not-found", RP_SINK_NOT_FOUND,
     NULL},
    {RP_SINK_APPEND, 2, 200, 1, 5, "stream-not-found", RP_SINK_REFUSED, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 7, "access-denied", RP_SINK_REFUSED, "rights"},
    {RP_SINK_APPEND, 2, 200, 1, 16, "", RP_SINK_REFUSED, "credentials"},
    {RP_SINK_APPEND, 2, 200, 1, 7, "", RP_SINK_REFUSED, "rights"},
    {RP_SINK_APPEND, 2, 200, 1, 3, "maximum-append-size-exceeded",
     RP_SINK_REFUSED, "batch_bytes"},
    {RP_SINK_APPEND, 2, 200, 1, 3, "maximum-append-event-size-exceeded",
     RP_SINK_REFUSED, "MaxAppendEventSize"},
    {RP_SINK_APPEND, 2, 200, 1, 3, "missing-required-metadata-property",
     RP_SINK_REFUSED, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 3, "invalid-transaction", RP_SINK_REFUSED,
     NULL},
    {RP_SINK_APPEND, 2, 200, 1, 3, "", RP_SINK_REFUSED, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 8, "", RP_SINK_REFUSED, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 9, "", RP_SINK_REFUSED, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 6, "", RP_SINK_REFUSED, NULL},
    {RP_SINK_APPEND, 2, 200, 1, 12, "", RP_SINK_REFUSED, "lacks this call"},
    {RP_SINK_APPEND, 1, 404, 0, -1, "", RP_SINK_REFUSED, "HTTP port"},
    {RP_SINK_APPEND, 1, 200, 0, -1, "", RP_SINK_REFUSED, "HTTP port"},
    {RP_SINK_APPEND, 2, 404, 0, -1, "", RP_SINK_REFUSED, "HTTP port"},
    {RP_SINK_APPEND, 2, 200, 0, -1, "", RP_SINK_REFUSED, "HTTP port"},
    {RP_SINK_READ_FORWARD, 2, 200, 1, 14, "", RP_SINK_UNKNOWN, NULL},
    {RP_SINK_READ_FORWARD, 2, 200, 1, 16, "", RP_SINK_REFUSED, "credentials"},
};

START_TEST(test_grpcanswer_table)
{
    st.http_version = table[_i].version;
    st.http_status = table[_i].http;
    st.grpc_content = table[_i].grpc;
    st.code = table[_i].code;
    snprintf(st.exception, sizeof(st.exception), "%s", table[_i].exc);
    snprintf(st.message, sizeof(st.message), "the server's words");
    decode(table[_i].op, "");
    ck_assert_msg(out.kind == table[_i].kind, "row %d: kind %d, not %d (%s)",
                  _i, out.kind, table[_i].kind, out.words);
    if (table[_i].hint != NULL)
        ck_assert_msg(out.hint != NULL && strstr(out.hint, table[_i].hint),
                      "row %d: hint '%s'", _i, out.hint ? out.hint : "");
    if (table[_i].code > 0)
        ck_assert_ptr_nonnull(strstr(out.words, "the server's words"));
}
END_TEST

/* A retry pushback is honoured; a transport failure is unknown. */
START_TEST(test_grpcanswer_call_outcome)
{
    struct rp_grpc_answer a;

    memset(&a, 0, sizeof(a));
    a.st = &st;
    st.code = RP_GRPC_UNAVAILABLE;
    st.pushback_ms = 1500;
    rp_grpc_call_outcome(&a, &out);
    ck_assert_int_eq(out.kind, RP_SINK_UNKNOWN);
    ck_assert_int_eq(out.retry_after_ms, 1500);
    ck_assert_ptr_nonnull(strstr(out.words, "gRPC status 14 UNAVAILABLE"));
    a.transport_error = 1;
    snprintf(a.error, sizeof(a.error), "http://h:2113: Connection refused");
    rp_grpc_call_outcome(&a, &out);
    ck_assert_int_eq(out.kind, RP_SINK_UNKNOWN);
    ck_assert_int_eq(out.no_answer, 1);
    ck_assert_str_eq(out.words, "http://h:2113: Connection refused");
    /* A BatchAppend call that ended well without answering an append. */
    a.transport_error = 0;
    st.code = RP_GRPC_OK;
    rp_grpc_call_outcome(&a, &out);
    ck_assert_int_eq(out.kind, RP_SINK_UNKNOWN);
}
END_TEST

/* Spec 10.4: BatchAppend success and wrong expected version. */
START_TEST(test_grpcanswer_batch_spec)
{
    unsigned char corr[16], want[16];
    size_t n;

    ck_assert_int_eq(
        rp_event_parse_id(want, "a1b2c3d4-0000-4000-8000-000000000001", 36), 0);
    n = rp_test_bytes(body, sizeof(body),
                      "0a 26 12 24 \"a1b2c3d4-0000-4000-8000-000000000001\""
                      " 1a 0a 08 02 1a 06 08 88 27 10 88 27"
                      " 22 08 1a 06 \"orders\"");
    ck_assert_int_eq(rp_grpc_decode_batch(body, n, corr, &out), 0);
    ck_assert_mem_eq(corr, want, 16);
    ck_assert_int_eq(out.kind, RP_SINK_WRITTEN);
    ck_assert_int_eq(out.number, 2);
    n = rp_test_bytes(body, sizeof(body),
                      "0a 26 12 24 \"a1b2c3d4-0000-4000-8000-000000000001\""
                      " 12 5d 08 06 12 14 \"WrongExpectedVersion\""
                      " 1a 43 0a 3b \"type.googleapis.com/event_store.client."
                      "WrongExpectedVersion\" 12 04 08 02 18 01"
                      " 22 08 1a 06 \"orders\"");
    ck_assert_int_eq(rp_grpc_decode_batch(body, n, corr, &out), 0);
    ck_assert_mem_eq(corr, want, 16);
    ck_assert_int_eq(out.kind, RP_SINK_WRONG_VERSION);
    ck_assert_int_eq(out.number, 2);
}
END_TEST

/* BatchAppend errors by their detail type. */
static const struct {
    int code;
    const char *message;
    const char *type; /* after type.googleapis.com/ */
    int kind;
    const char *hint;
} batch_errors[] = {
    {5, "StreamDeleted", "event_store.client.StreamDeleted", RP_SINK_DELETED,
     NULL},
    {4, "Timeout", "event_store.client.Timeout", RP_SINK_UNKNOWN, NULL},
    {0, "Server Is Not Ready", "google.protobuf.Empty", RP_SINK_UNKNOWN, NULL},
    {2, "Unknown", "event_store.client.Unknown", RP_SINK_UNKNOWN, NULL},
    {13, "boom", "google.protobuf.Empty", RP_SINK_UNKNOWN, NULL},
    {7, "AccessDenied", "event_store.client.AccessDenied", RP_SINK_REFUSED,
     "rights"},
    {3, "MaximumAppendSizeExceeded",
     "event_store.client.MaximumAppendSizeExceeded", RP_SINK_REFUSED,
     "batch_bytes"},
    {3, "BadRequest", "event_store.client.BadRequest", RP_SINK_REFUSED, NULL},
};

START_TEST(test_grpcanswer_batch_errors)
{
    EventStore__Client__Streams__BatchAppendResp r;
    EventStore__Client__UUID id;
    EventStore__Client__UUID__Structured half;
    Google__Rpc__Status e;
    Google__Protobuf__Any any;
    unsigned char corr[16];
    char url[200];
    size_t n;

    event_store__client__streams__batch_append_resp__init(&r);
    event_store__client__uuid__init(&id);
    event_store__client__uuid__structured__init(&half);
    google__rpc__status__init(&e);
    google__protobuf__any__init(&any);
    half.most_significant_bits = 1;
    half.least_significant_bits = 2;
    id.value_case = EVENT_STORE__CLIENT__UUID__VALUE_STRUCTURED;
    id.structured = &half;
    r.correlation_id = &id;
    e.code = batch_errors[_i].code;
    e.message = (char *)(uintptr_t)batch_errors[_i].message;
    snprintf(url, sizeof(url), "type.googleapis.com/%s", batch_errors[_i].type);
    any.type_url = url;
    e.details = &any;
    r.result_case =
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__RESULT_ERROR;
    r.error = &e;
    n = event_store__client__streams__batch_append_resp__pack(&r, body);
    ck_assert_int_eq(rp_grpc_decode_batch(body, n, corr, &out), 0);
    ck_assert_int_eq(corr[7], 1);
    ck_assert_int_eq(corr[15], 2);
    ck_assert_msg(out.kind == batch_errors[_i].kind, "%s: kind %d",
                  batch_errors[_i].message, out.kind);
    if (batch_errors[_i].hint != NULL)
        ck_assert_ptr_nonnull(strstr(out.hint, batch_errors[_i].hint));
    ck_assert_ptr_nonnull(strstr(out.words, batch_errors[_i].message));
    /* No result: cannot be used. */
    r.result_case =
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__RESULT__NOT_SET;
    n = event_store__client__streams__batch_append_resp__pack(&r, body);
    ck_assert_int_eq(rp_grpc_decode_batch(body, n, corr, &out), 0);
    ck_assert_int_eq(out.kind, RP_SINK_BAD_ANSWER);
    /* No correlation id, or not protobuf. */
    r.correlation_id = NULL;
    n = event_store__client__streams__batch_append_resp__pack(&r, body);
    ck_assert_int_eq(rp_grpc_decode_batch(body, n, corr, &out), RP_EFORMAT);
    ck_assert_int_eq(
        rp_grpc_decode_batch((const unsigned char *)"\x0a\x05", 2, corr, &out),
        RP_EFORMAT);
}
END_TEST

/* Gossip: the alive member the node preference picks. */
START_TEST(test_grpcanswer_gossip)
{
    EventStore__Client__Gossip__ClusterInfo ci;
    EventStore__Client__Gossip__MemberInfo m[4], *mp[4];
    EventStore__Client__Gossip__EndPoint ep[4];
    static const int states[4] = {6, 8, 8, 14}; /* follower, leaders, RO */
    static const int alive[4] = {1, 0, 1, 1};
    static const char *const hosts[4] = {"f", "dead", "l", "ro"};
    unsigned char buf[512];
    size_t n;
    char host[64];
    int port = 0;

    event_store__client__gossip__cluster_info__init(&ci);
    for (int i = 0; i < 4; i++) {
        event_store__client__gossip__member_info__init(&m[i]);
        event_store__client__gossip__end_point__init(&ep[i]);
        ep[i].address = (char *)(uintptr_t)hosts[i];
        ep[i].port = (uint32_t)(2110 + i);
        m[i].state =
            (EventStore__Client__Gossip__MemberInfo__VNodeState)states[i];
        m[i].is_alive = alive[i];
        m[i].http_end_point = &ep[i];
        mp[i] = &m[i];
    }
    ci.n_members = 4;
    ci.members = mp;
    n = event_store__client__gossip__cluster_info__pack(&ci, buf);
    ck_assert_int_eq(rp_grpc_decode_gossip(buf, n, RP_PREFER_LEADER, host,
                                           sizeof(host), &port),
                     1);
    ck_assert_str_eq(host, "l");
    ck_assert_int_eq(port, 2112);
    ck_assert_int_eq(rp_grpc_decode_gossip(buf, n, RP_PREFER_FOLLOWER, host,
                                           sizeof(host), &port),
                     1);
    ck_assert_str_eq(host, "f");
    ck_assert_int_eq(rp_grpc_decode_gossip(buf, n, RP_PREFER_READ_ONLY, host,
                                           sizeof(host), &port),
                     1);
    ck_assert_str_eq(host, "ro");
    /* No alive leader. */
    m[2].is_alive = 0;
    n = event_store__client__gossip__cluster_info__pack(&ci, buf);
    ck_assert_int_eq(rp_grpc_decode_gossip(buf, n, RP_PREFER_LEADER, host,
                                           sizeof(host), &port),
                     0);
    ck_assert_int_eq(rp_grpc_decode_gossip(buf, 2, RP_PREFER_LEADER, host,
                                           sizeof(host), &port),
                     RP_EFORMAT);
}
END_TEST

/* ServerFeatures: BatchAppend, and its Duration deadline. */
START_TEST(test_grpcanswer_features)
{
    EventStore__Client__ServerFeatures__SupportedMethods sm;
    EventStore__Client__ServerFeatures__SupportedMethod m[2], *mp[2];
    char *features[] = {(char *)(uintptr_t) "deadline_duration"};
    unsigned char buf[512];
    size_t n;
    int batch, duration;
    char version[32];

    event_store__client__server_features__supported_methods__init(&sm);
    for (int i = 0; i < 2; i++) {
        event_store__client__server_features__supported_method__init(&m[i]);
        m[i].service_name =
            (char *)(uintptr_t) "event_store.client.streams.streams";
        mp[i] = &m[i];
    }
    m[0].method_name = (char *)(uintptr_t) "append";
    m[1].method_name = (char *)(uintptr_t) "batchappend";
    sm.n_methods = 2;
    sm.methods = mp;
    sm.event_store_server_version = (char *)(uintptr_t) "21.10.0";
    n = event_store__client__server_features__supported_methods__pack(&sm, buf);
    ck_assert_int_eq(rp_grpc_decode_features(buf, n, &batch, &duration, version,
                                             sizeof(version)),
                     0);
    ck_assert_int_eq(batch, 1);
    ck_assert_int_eq(duration, 0);
    ck_assert_str_eq(version, "21.10.0");
    m[1].n_features = 1;
    m[1].features = features;
    n = event_store__client__server_features__supported_methods__pack(&sm, buf);
    rp_grpc_decode_features(buf, n, &batch, &duration, version,
                            sizeof(version));
    ck_assert_int_eq(duration, 1);
    sm.n_methods = 1;
    n = event_store__client__server_features__supported_methods__pack(&sm, buf);
    rp_grpc_decode_features(buf, n, &batch, &duration, version,
                            sizeof(version));
    ck_assert_int_eq(batch, 0);
    ck_assert_int_eq(rp_grpc_decode_features((const unsigned char *)"\x0a", 1,
                                             &batch, &duration, version,
                                             sizeof(version)),
                     RP_EFORMAT);
}
END_TEST

Suite *grpcanswer_suite(void);

Suite *
grpcanswer_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s =
        rp_test_suite("grpcanswer", &core, &limits, &errors, setup, teardown);

    tcase_add_test(core, test_grpcanswer_append_success);
    tcase_add_loop_test(core, test_grpcanswer_append_wrong_version, 0,
                        (int)(sizeof(wev) / sizeof(wev[0])));
    tcase_add_test(core, test_grpcanswer_read_event);
    tcase_add_test(core, test_grpcanswer_read_events_forward);
    tcase_add_test(core, test_grpcanswer_read_not_found);
    tcase_add_loop_test(core, test_grpcanswer_table, 0,
                        (int)(sizeof(table) / sizeof(table[0])));
    tcase_add_test(core, test_grpcanswer_call_outcome);
    tcase_add_test(core, test_grpcanswer_batch_spec);
    tcase_add_loop_test(core, test_grpcanswer_batch_errors, 0,
                        (int)(sizeof(batch_errors) / sizeof(batch_errors[0])));
    tcase_add_test(core, test_grpcanswer_gossip);
    tcase_add_test(core, test_grpcanswer_features);
    tcase_add_loop_test(errors, test_grpcanswer_unreadable, 0,
                        (int)(sizeof(unreadable) / sizeof(unreadable[0])));
    return s;
}
