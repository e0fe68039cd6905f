/* Tests of the HTTP API protocol: the sink's operations as requests (paths,
** headers, events+json bodies) and answers as outcomes (the answer table,
** feeds read oldest first).  No network: answers are built by hand. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atompub.h"
#include "event.h"
#include "json.h"
#include "log.h"
#include "sink.h"
#include "testutil.h"

static struct rp_sink *sink;
static struct rp_atompub_msg msg;
static struct rp_atompub_feed fd;
static struct rp_error err;

static void
setup(void)
{
    rp_log_set_level(RP_LOG_ERROR);
    memset(&err, 0, sizeof(err));
    memset(&fd, 0, sizeof(fd));
    rp_atompub_msg_init(&msg);
}

static void
teardown(void)
{
    rp_sink_free(sink);
    sink = NULL;
    rp_atompub_msg_dispose(&msg);
    rp_atompub_feed_dispose(&fd);
}

/* A sink with record 1 holding one event for each stream named in
** 'streams' (comma-separated), data {"n":<index>}, with metadata on every
** other one. */
static void
make_sink(int cluster, const char *streams)
{
    struct rp_sink_options o;
    struct rp_record rec;
    char list[128];
    uint32_t index = 0;

    memset(&o, 0, sizeof(o));
    o.source_id = "src";
    o.batch_events = 10;
    o.batch_bytes = 1 << 20;
    o.max_in_flight = 4;
    o.cluster = cluster;
    ck_assert_int_eq(rp_sink_new(&sink, &o, NULL, &err), 0);
    memset(&rec, 0, sizeof(rec));
    rec.store_version = 1;
    rec.stream_version = 1;
    rec.key = "k";
    rec.key_len = 1;
    rec.file = "0.dat";
    ck_assert_int_eq(rp_sink_add_record(sink, &rec, &err), 0);
    snprintf(list, sizeof(list), "%s", streams);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        struct rp_event ev;
        char data[32];

        memset(&ev, 0, sizeof(ev));
        ev.stream = name;
        ev.stream_len = strlen(name);
        ev.type = "Created \"x\"";
        ev.type_len = strlen(ev.type);
        snprintf(data, sizeof(data), "{\"n\":%d}", (int)index);
        ev.data = data;
        ev.data_len = strlen(data);
        if (index % 2 == 0) {
            ev.metadata = "{\"k\":\"v\"}";
            ev.metadata_len = strlen(ev.metadata);
        }
        ev.store_version = 1;
        ev.index = index;
        ck_assert_int_eq(rp_event_parse_id(
                             ev.id, "6d61517b-187f-5499-875d-cb4d1fa69976", 36),
                         0);
        ev.id[15] = (unsigned char)index;
        ck_assert_int_eq(rp_sink_add_event(sink, &ev, &err), 0);
        index++;
    }
}

/* 1 when the message has the header 'h'. */
static int
has_header(const char *h)
{
    for (const char *const *p = msg.headers; *p != NULL; p++)
        if (strcmp(*p, h) == 0)
            return 1;
    return 0;
}

START_TEST(test_atompub_append_request)
{
    struct rp_sink_req *req;
    struct rp_json_doc *doc = NULL;
    const struct rp_json *root, *e;
    int64_t n;

    make_sink(0, "a b/c$d,a b/c$d");
    req = rp_sink_next(sink, 0, 1);
    ck_assert_int_eq(rp_atompub_encode(&msg, req), 0);
    ck_assert_int_eq(msg.post, 1);
    ck_assert_str_eq(msg.path.data, "/streams/a%20b%2Fc%24d");
    ck_assert(
        has_header("Content-Type: application/vnd.eventstore.events+json"));
    ck_assert(has_header("ES-ExpectedVersion: -1"));
    ck_assert(!has_header("ES-RequireLeader: True"));
    ck_assert_int_eq(rp_json_parse(&doc, msg.body.data, msg.body.len, &err), 0);
    root = rp_json_root(doc);
    ck_assert_int_eq(root->type, RP_JSON_ARRAY);
    ck_assert_int_eq(root->len, 2);
    e = root->child;
    ck_assert_str_eq(rp_json_string(rp_json_get(e, "eventId")),
                     "6d61517b-187f-5499-875d-cb4d1fa69900");
    ck_assert_str_eq(rp_json_string(rp_json_get(e, "eventType")),
                     "Created \"x\"");
    ck_assert_int_eq(rp_json_get(e, "data")->type, RP_JSON_OBJECT);
    ck_assert_int_eq(
        rp_json_int64(rp_json_get(rp_json_get(e, "data"), "n"), &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(
        rp_json_string(rp_json_get(rp_json_get(e, "metadata"), "k")), "v");
    e = e->next;
    ck_assert_str_eq(rp_json_string(rp_json_get(e, "eventId")),
                     "6d61517b-187f-5499-875d-cb4d1fa69901");
    ck_assert_ptr_null(rp_json_get(e, "metadata"));
    rp_json_free(doc);
    /* Re-encoding the same operation gives the same bytes. */
    {
        char *first = rp_xstrdup(msg.body.data);

        ck_assert_int_eq(rp_atompub_encode(&msg, req), 0);
        ck_assert_str_eq(msg.body.data, first);
        free(first);
    }
}
END_TEST

START_TEST(test_atompub_leader_and_read_requests)
{
    struct rp_sink_req *req;
    struct rp_sink_outcome out;

    make_sink(1, "s,s,s");
    req = rp_sink_next(sink, 0, 1);
    ck_assert_int_eq(rp_atompub_encode(&msg, req), 0);
    ck_assert(has_header("ES-RequireLeader: True"));
    ck_assert(has_header("ES-RequireMaster: True"));
    /* Wrong expected version: the sink reads the head. */
    memset(&out, 0, sizeof(out));
    out.kind = RP_SINK_WRONG_VERSION;
    out.number = 4;
    ck_assert_int_eq(rp_sink_done(sink, req, &out, 0, &err), 0);
    req = rp_sink_next(sink, 0, 1);
    ck_assert_int_eq(rp_atompub_encode(&msg, req), 0);
    ck_assert_int_eq(msg.post, 0);
    ck_assert_str_eq(msg.path.data, "/streams/s/head/backward/1?embed=body");
    ck_assert(has_header("Accept: application/vnd.eventstore.atom+json"));
    ck_assert(has_header("ES-ResolveLinkTos: false"));
    ck_assert(has_header("ES-RequireLeader: True"));
    /* A forward read, as the sink asks for it after a refused append. */
    req->op = RP_SINK_READ_FORWARD;
    req->from = 3;
    req->count = 2;
    ck_assert_int_eq(rp_atompub_encode(&msg, req), 0);
    ck_assert_str_eq(msg.path.data, "/streams/s/3/forward/2?embed=body");
}
END_TEST

START_TEST(test_atompub_metadata_request)
{
    static const unsigned char id[16] = {9, 0, 0, 0, 0, 0, 0x50, 0, 0x80};
    struct rp_sink_req *req;
    struct rp_json_doc *doc = NULL;
    const struct rp_json *e;
    int64_t n;

    make_sink(0, "");
    rp_sink_cap_markers(sink, "ckpt-src", 50, id);
    req = rp_sink_next(sink, 0, 1);
    ck_assert_int_eq(rp_atompub_encode(&msg, req), 0);
    ck_assert_int_eq(msg.post, 1);
    ck_assert_str_eq(msg.path.data, "/streams/ckpt-src/metadata");
    ck_assert(!has_header("ES-ExpectedVersion: -1"));
    ck_assert_int_eq(rp_json_parse(&doc, msg.body.data, msg.body.len, &err), 0);
    e = rp_json_root(doc)->child;
    ck_assert_str_eq(rp_json_string(rp_json_get(e, "eventType")), "$metadata");
    ck_assert_int_eq(
        rp_json_int64(rp_json_get(rp_json_get(e, "data"), "$maxCount"), &n), 0);
    ck_assert_int_eq(n, 50);
    rp_json_free(doc);
}
END_TEST

START_TEST(test_atompub_event_json)
{
    struct rp_sink_event ev;
    struct rp_buf b;
    struct rp_json_doc *doc = NULL;
    const struct rp_json *root;
    unsigned char id[16];

    ck_assert_int_eq(
        rp_event_parse_id(id, "6d61517b-187f-5499-875d-cb4d1fa69976", 36), 0);
    memset(&ev, 0, sizeof(ev));
    ev.id = id;
    ev.type = "$>";
    ev.type_len = 2;
    /* Data that is not JSON goes as a JSON string. */
    ev.data = "5@order-\"42\"";
    ev.data_len = strlen(ev.data);
    rp_buf_init(&b, 0);
    ck_assert_int_eq(rp_atompub_add_event(&b, &ev), 0);
    ck_assert_int_eq(rp_json_parse(&doc, b.data, b.len, &err), 0);
    root = rp_json_root(doc);
    ck_assert_str_eq(rp_json_string(rp_json_get(root, "eventId")),
                     "6d61517b-187f-5499-875d-cb4d1fa69976");
    ck_assert_str_eq(rp_json_string(rp_json_get(root, "data")),
                     "5@order-\"42\"");
    ck_assert_ptr_null(rp_json_get(root, "metadata"));
    rp_json_free(doc);
    /* JSON text goes as it is. */
    rp_buf_reset(&b);
    ev.data = "\"plain\"";
    ev.data_len = strlen(ev.data);
    ev.data_json = 1;
    ck_assert_int_eq(rp_atompub_add_event(&b, &ev), 0);
    ck_assert_ptr_nonnull(strstr(b.data, ",\"data\":\"plain\"}"));
    rp_buf_dispose(&b);
    /* Bounded. */
    rp_buf_init(&b, 40);
    ck_assert_int_eq(rp_atompub_add_event(&b, &ev), RP_ELIMIT);
    rp_buf_dispose(&b);
}
END_TEST

/* The answer table: an HTTP answer to an operation, and its outcome. */
static const struct {
    int op;
    long status;
    int has_cv;      /* ES-CurrentVersion: 7 */
    const char *loc; /* Location */
    int kind;
    int64_t number;
    const char *hint; /* part of the hint, or NULL for none */
} table[] = {
    {RP_SINK_APPEND, 201, 0, "http://h/streams/s/5", RP_SINK_WRITTEN, 6, NULL},
    {RP_SINK_APPEND, 201, 0, "", RP_SINK_WRITTEN, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_APPEND, 400, 1, "", RP_SINK_WRONG_VERSION, 7, NULL},
    {RP_SINK_APPEND, 400, 0, "", RP_SINK_REFUSED, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_APPEND, 401, 0, "", RP_SINK_REFUSED, RP_SINK_NO_NUMBER,
     "credentials"},
    {RP_SINK_APPEND, 404, 0, "", RP_SINK_REFUSED, RP_SINK_NO_NUMBER,
     "atom-pub"},
    {RP_SINK_APPEND, 406, 0, "", RP_SINK_REFUSED, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_APPEND, 410, 0, "", RP_SINK_DELETED, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_APPEND, 413, 0, "", RP_SINK_REFUSED, RP_SINK_NO_NUMBER, "larger"},
    {RP_SINK_APPEND, 415, 0, "", RP_SINK_REFUSED, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_APPEND, 307, 0, "", RP_SINK_REFUSED, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_APPEND, 408, 0, "", RP_SINK_UNKNOWN, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_APPEND, 500, 0, "", RP_SINK_UNKNOWN, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_APPEND, 502, 0, "", RP_SINK_UNKNOWN, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_APPEND, 503, 0, "", RP_SINK_UNKNOWN, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_APPEND, 504, 0, "", RP_SINK_UNKNOWN, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_APPEND, 0, 0, "", RP_SINK_UNKNOWN, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_SET_METADATA, 201, 0, "", RP_SINK_WRITTEN, RP_SINK_NO_NUMBER,
     NULL},
    {RP_SINK_READ_HEAD, 404, 0, "", RP_SINK_NOT_FOUND, RP_SINK_NO_NUMBER,
     "atom-pub"},
    {RP_SINK_READ_HEAD, 410, 0, "", RP_SINK_DELETED, RP_SINK_NO_NUMBER, NULL},
    {RP_SINK_READ_FORWARD, 401, 0, "", RP_SINK_REFUSED, RP_SINK_NO_NUMBER,
     "credentials"},
    {RP_SINK_READ_FORWARD, 503, 0, "", RP_SINK_UNKNOWN, RP_SINK_NO_NUMBER,
     NULL},
};

START_TEST(test_atompub_answer_table)
{
    struct rp_sink_req req;
    struct rp_http_result res;
    struct rp_sink_outcome out;

    memset(&req, 0, sizeof(req));
    req.op = table[_i].op;
    req.stream = "s";
    req.stream_len = 1;
    req.nevents = 2;
    memset(&res, 0, sizeof(res));
    res.status = table[_i].status;
    res.transport_error = table[_i].status == 0;
    snprintf(res.error, sizeof(res.error), "%s",
             res.transport_error ? "http://h/streams/s: Connection refused"
                                 : "");
    snprintf(res.reason, sizeof(res.reason), "Reason %ld", res.status);
    snprintf(res.location, sizeof(res.location), "%s", table[_i].loc);
    res.has_current_version = table[_i].has_cv;
    res.current_version = 7;
    res.body = "Server says no";
    res.body_len = strlen(res.body);
    rp_atompub_decode(&fd, &req, &res, &out);
    ck_assert_int_eq(out.kind, table[_i].kind);
    ck_assert_int_eq(out.number, table[_i].number);
    if (table[_i].hint != NULL)
        ck_assert_ptr_nonnull(strstr(out.hint, table[_i].hint));
    else if (out.kind == RP_SINK_REFUSED)
        ck_assert_ptr_null(out.hint);
    if (res.transport_error) {
        ck_assert_int_eq(out.no_answer, 1);
        ck_assert_ptr_nonnull(strstr(out.words, "Connection refused"));
    } else {
        char said[64];

        snprintf(said, sizeof(said), "%ld Reason %ld: Server says no",
                 res.status, res.status);
        ck_assert_str_eq(out.words, said);
    }
}
END_TEST

START_TEST(test_atompub_retry_after)
{
    struct rp_sink_req req;
    struct rp_http_result res;
    struct rp_sink_outcome out;

    memset(&req, 0, sizeof(req));
    req.op = RP_SINK_APPEND;
    memset(&res, 0, sizeof(res));
    res.status = 503;
    res.retry_after_s = 5;
    res.body = "";
    rp_atompub_decode(&fd, &req, &res, &out);
    ck_assert_int_eq(out.kind, RP_SINK_UNKNOWN);
    ck_assert_int_eq(out.retry_after_ms, 5000);
    ck_assert_str_eq(out.words, "503 (no reason given)");
}
END_TEST

/* A feed (newest first) read as events oldest first. */
START_TEST(test_atompub_feed_events)
{
    static const char body[] =
        "{\"entries\":["
        "{\"eventId\":\"6d61517b-187f-5499-875d-cb4d1fa69977\","
        "\"eventType\":\"B\",\"eventNumber\":4,\"data\":\"{\\\"n\\\":2}\","
        "\"metaData\":\"{\\\"m\\\":1}\"},"
        "{\"eventId\":\"not an id\",\"eventType\":\"A\",\"eventNumber\":3}"
        "]}";
    struct rp_sink_req req;
    struct rp_http_result res;
    struct rp_sink_outcome out;
    char id[37];

    memset(&req, 0, sizeof(req));
    req.op = RP_SINK_READ_FORWARD;
    memset(&res, 0, sizeof(res));
    res.status = 200;
    res.body = body;
    res.body_len = strlen(body);
    rp_atompub_decode(&fd, &req, &res, &out);
    ck_assert_int_eq(out.kind, RP_SINK_EVENTS);
    ck_assert_int_eq(out.nevents, 2);
    ck_assert_int_eq(out.events[0].number, 3);
    ck_assert_int_eq(out.events[0].has_id, 0);
    ck_assert_ptr_null(out.events[0].data);
    ck_assert_ptr_null(out.events[0].metadata);
    ck_assert_int_eq(out.events[1].number, 4);
    ck_assert_int_eq(out.events[1].has_id, 1);
    rp_event_format_id(id, out.events[1].id);
    ck_assert_str_eq(id, "6d61517b-187f-5499-875d-cb4d1fa69977");
    ck_assert_str_eq(out.events[1].type, "B");
    ck_assert_str_eq(out.events[1].data, "{\"n\":2}");
    ck_assert_str_eq(out.events[1].metadata, "{\"m\":1}");
    /* No entries: a read that found nothing. */
    res.body = "{\"entries\":[]}";
    res.body_len = strlen(res.body);
    rp_atompub_decode(&fd, &req, &res, &out);
    ck_assert_int_eq(out.kind, RP_SINK_EVENTS);
    ck_assert_int_eq(out.nevents, 0);
}
END_TEST

static const char *const bad_feeds[] = {
    "{\"entries\":[{\"eventId\":\"x\"",
    "{\"entries\":[{\"eventType\":\"A\",\"eventNumber\":\"3\"}]}",
    "<html>AtomPub is off</html>",
};

START_TEST(test_atompub_bad_feed)
{
    struct rp_sink_req req;
    struct rp_http_result res;
    struct rp_sink_outcome out;

    memset(&req, 0, sizeof(req));
    req.op = RP_SINK_READ_HEAD;
    memset(&res, 0, sizeof(res));
    res.status = 200;
    res.body = bad_feeds[_i];
    res.body_len = strlen(bad_feeds[_i]);
    rp_atompub_decode(&fd, &req, &res, &out);
    ck_assert_int_eq(out.kind, RP_SINK_BAD_ANSWER);
    ck_assert_int_eq(out.nevents, 0);
    ck_assert_uint_gt(strlen(out.words), 0);
}
END_TEST

/* A 201 whose Location names an event number out of range (beyond
** int64_t, or a last number of the batch at INT64_MAX or past it) is an
** answer that cannot be read; the highest that fits is written. */
static const struct {
    const char *loc;
    int kind;
    int64_t number;
} locations[] = {
    {"http://h/streams/s/9223372036854775807", RP_SINK_BAD_ANSWER,
     RP_SINK_NO_NUMBER},
    {"http://h/streams/s/9223372036854775806", RP_SINK_BAD_ANSWER,
     RP_SINK_NO_NUMBER},
    {"http://h/streams/s/99999999999999999999", RP_SINK_BAD_ANSWER,
     RP_SINK_NO_NUMBER},
    {"http://h/streams/s/9223372036854775805", RP_SINK_WRITTEN, INT64_MAX - 1},
};

START_TEST(test_atompub_location_out_of_range)
{
    struct rp_sink_req req;
    struct rp_http_result res;
    struct rp_sink_outcome out;

    memset(&req, 0, sizeof(req));
    req.op = RP_SINK_APPEND;
    req.nevents = 2;
    memset(&res, 0, sizeof(res));
    res.status = 201;
    res.body = "";
    snprintf(res.location, sizeof(res.location), "%s", locations[_i].loc);
    rp_atompub_decode(&fd, &req, &res, &out);
    ck_assert_int_eq(out.kind, locations[_i].kind);
    ck_assert_int_eq(out.number, locations[_i].number);
    if (out.kind == RP_SINK_BAD_ANSWER) {
        ck_assert_ptr_nonnull(strstr(out.words, locations[_i].loc));
        ck_assert_ptr_nonnull(strstr(out.words, "out of range"));
    }
}
END_TEST

Suite *atompub_suite(void);

Suite *
atompub_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s =
        rp_test_suite("atompub", &core, &limits, &errors, setup, teardown);

    tcase_add_test(core, test_atompub_append_request);
    tcase_add_test(core, test_atompub_leader_and_read_requests);
    tcase_add_test(core, test_atompub_metadata_request);
    tcase_add_test(core, test_atompub_event_json);
    tcase_add_loop_test(core, test_atompub_answer_table, 0,
                        (int)(sizeof(table) / sizeof(table[0])));
    tcase_add_test(core, test_atompub_feed_events);
    tcase_add_test(limits, test_atompub_retry_after);
    tcase_add_loop_test(errors, test_atompub_bad_feed, 0,
                        (int)(sizeof(bad_feeds) / sizeof(bad_feeds[0])));
    tcase_add_loop_test(errors, test_atompub_location_out_of_range, 0,
                        (int)(sizeof(locations) / sizeof(locations[0])));
    return s;
}
