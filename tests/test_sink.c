/* Tests of the sink: batches and expected versions, the answer table,
** learning a stream's position, reconciling after a wrong expected version,
** and the acknowledged frontier.  Answers are built by hand: no network. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "json.h"
#include "log.h"
#include "sink.h"
#include "testutil.h"

static struct rp_sink *sink;
static struct rp_error err;
static char keybuf[64];

static void
setup(void)
{
    struct rp_sink_options o;

    memset(&o, 0, sizeof(o));
    o.source_id = "src";
    o.source_metadata = 1;
    o.batch_events = 3;
    o.batch_bytes = 1 << 20;
    o.max_in_flight = 4;
    o.seed = 7;
    o.backoff_min_ms = 100;
    o.backoff_max_ms = 1000;
    memset(&err, 0, sizeof(err));
    rp_log_set_level(RP_LOG_ERROR);
    ck_assert_int_eq(rp_sink_new(&sink, &o, NULL, &err), 0);
}

static void
teardown(void)
{
    rp_sink_free(sink);
    sink = NULL;
}

/* Id of event 'index' of record 'sv': distinct and predictable. */
static void
make_id(unsigned char id[16], uint64_t sv, uint32_t index)
{
    memset(id, 0, 16);
    id[0] = 0xab;
    id[6] = 0x50;
    id[8] = 0x80;
    id[10] = (unsigned char)(sv >> 8);
    id[11] = (unsigned char)sv;
    id[12] = (unsigned char)index;
}

/* Add record 'sv' (key "k<sv % 2>") with one event per stream name given. */
static void
add(uint64_t sv, const char *streams)
{
    struct rp_record rec;
    char list[128];
    uint32_t index = 0;

    memset(&rec, 0, sizeof(rec));
    snprintf(keybuf, sizeof(keybuf), "k%d", (int)(sv % 2));
    rec.store_version = sv;
    rec.stream_version = (sv + 1) / 2;
    rec.key = keybuf;
    rec.key_len = strlen(keybuf);
    rec.file = "0.dat";
    rec.offset = sv * 100;
    rec.end = sv * 100 + 100;
    rec.sha1[0] = (unsigned char)sv;
    ck_assert_int_eq(rp_sink_add_record(sink, &rec, &err), 0);
    snprintf(list, sizeof(list), "%s", streams);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        struct rp_event ev;
        char meta[160];

        memset(&ev, 0, sizeof(ev));
        ev.stream = name;
        ev.stream_len = strlen(name);
        ev.type = "T";
        ev.type_len = 1;
        ev.data = "{\"a\":1}";
        ev.data_len = strlen(ev.data);
        snprintf(meta, sizeof(meta),
                 "{\"replicatedFrom\":{\"source\":\"src\",\"storeVersion\":%d,"
                 "\"index\":%d}}",
                 (int)sv, (int)index);
        ev.metadata = meta;
        ev.metadata_len = strlen(meta);
        ev.store_version = sv;
        ev.index = index;
        make_id(ev.id, sv, index);
        ck_assert_int_eq(rp_sink_add_event(sink, &ev, &err), 0);
        index++;
    }
}

static struct rp_http_result
answer(long status)
{
    struct rp_http_result r;

    memset(&r, 0, sizeof(r));
    r.status = status;
    r.body = "";
    return r;
}

static struct rp_http_result
created(int64_t first)
{
    struct rp_http_result r = answer(201);

    snprintf(r.location, sizeof(r.location),
             "http://127.0.0.1:2113/streams/x/%lld", (long long)first);
    return r;
}

static struct rp_http_result
wrong_version(int64_t current)
{
    struct rp_http_result r = answer(400);

    snprintf(r.reason, sizeof(r.reason), "Wrong expected EventNumber");
    r.has_current_version = 1;
    r.current_version = current;
    return r;
}

/* The expected version header of a request, or -99 for none. */
static long long
expected(const struct rp_sink_req *req)
{
    for (const char *const *h = req->headers; *h; h++)
        if (strncmp(*h, "ES-ExpectedVersion: ", 20) == 0)
            return atoll(*h + 20);
    return -99;
}

/* Number of events in an append body (a JSON array). */
static size_t
body_events(const struct rp_sink_req *req)
{
    struct rp_json_doc *doc = NULL;
    size_t n;

    ck_assert_int_eq(rp_json_parse(&doc, req->body, req->body_len, NULL), 0);
    ck_assert_int_eq(rp_json_root(doc)->type, RP_JSON_ARRAY);
    n = rp_json_root(doc)->len;
    rp_json_free(doc);
    return n;
}

/* Add a feed entry as the target shows it with embed=body to the feed 'b'
** (empty: this is its first entry); feed() closes it. */
static void
entry(struct rp_buf *b, int number, uint64_t sv, uint32_t index,
      const char *source)
{
    unsigned char id[16];
    char ids[37], meta[200];

    make_id(id, sv, index);
    rp_event_format_id(ids, id);
    snprintf(meta, sizeof(meta),
             "{\"replicatedFrom\":{\"source\":\"%s\",\"storeVersion\":%d,"
             "\"index\":%d}}",
             source, (int)sv, (int)index);
    if (b->len == 0)
        rp_buf_adds(b, "{\"entries\":[");
    else
        rp_buf_addc(b, ',');
    rp_buf_printf(b,
                  "{\"eventId\":\"%s\",\"eventType\":\"T\",\"eventNumber\":%d,"
                  "\"metaData\":",
                  ids, number);
    rp_json_add_string(b, meta, strlen(meta));
    rp_buf_addc(b, '}');
}

/* The 200 answer carrying the feed 'b' made by entry(). */
static struct rp_http_result
feed(struct rp_buf *b)
{
    struct rp_http_result r = answer(200);

    rp_buf_adds(b, "]}");
    r.body = b->data;
    r.body_len = b->len;
    return r;
}

/* Give 'req' the answer 'r', which the sink must accept. */
static void
answered(struct rp_sink_req *req, struct rp_http_result r)
{
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), 0);
}

/* answered(), then return the next request. */
static struct rp_sink_req *
reply(struct rp_sink_req *req, struct rp_http_result r)
{
    answered(req, r);
    return rp_sink_next(sink, 0, 1);
}

START_TEST(test_sink_batches_in_order_with_exact_versions)
{
    struct rp_sink_req *req;
    struct rp_store_pos pos;

    for (uint64_t sv = 1; sv <= 5; sv++)
        add(sv, "s");
    /* Full batch of 3 goes without flush; one request per stream. */
    req = rp_sink_next(sink, 0, 0);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(req->post, 1);
    ck_assert_str_eq(req->path, "/streams/s");
    ck_assert_int_eq(expected(req), -1);
    ck_assert_int_eq(body_events(req), 3);
    ck_assert_ptr_null(rp_sink_next(sink, 0, 1));
    answered(req, created(0));
    rp_sink_frontier(sink, &pos);
    ck_assert_int_eq(pos.store_version, 3);
    ck_assert_int_eq(pos.offset, 300);
    /* The rest (2 events) is a partial batch: only with flush. */
    ck_assert_ptr_null(rp_sink_next(sink, 0, 0));
    req = rp_sink_next(sink, 0, 1);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(expected(req), 2);
    ck_assert_int_eq(body_events(req), 2);
    answered(req, created(3));
    rp_sink_frontier(sink, &pos);
    ck_assert_int_eq(pos.store_version, 5);
    ck_assert_int_eq(rp_sink_idle(sink), 1);
}
END_TEST

START_TEST(test_sink_frontier_waits_for_every_stream)
{
    struct rp_sink_req *a, *b;
    struct rp_http_result r = created(0);
    struct rp_store_pos pos;

    add(1, "a,b");
    add(2, "");
    a = rp_sink_next(sink, 0, 1);
    b = rp_sink_next(sink, 0, 1);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(a->path, "/streams/a");
    ck_assert_int_eq(rp_sink_done(sink, a, &r, 0, &err), 0);
    rp_sink_frontier(sink, &pos);
    ck_assert_int_eq(pos.store_version, 0);
    ck_assert_int_eq(rp_sink_done(sink, b, &r, 0, &err), 0);
    rp_sink_frontier(sink, &pos);
    /* Record 2 has no event: acknowledged with record 1. */
    ck_assert_int_eq(pos.store_version, 2);
}
END_TEST

START_TEST(test_sink_retries_identical_request)
{
    struct rp_sink_req *req;
    struct rp_http_result r;
    char body[256];
    long long e;

    add(1, "s");
    req = rp_sink_next(sink, 1000, 1);
    ck_assert_ptr_nonnull(req);
    snprintf(body, sizeof(body), "%.*s", (int)req->body_len, req->body);
    e = expected(req);
    r = answer(0);
    r.transport_error = 1;
    snprintf(r.error, sizeof(r.error), "Connection refused");
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 1000, &err), 0);
    ck_assert_int_eq(rp_sink_outage(sink, NULL), 1);
    /* Backed off: nothing now, something after the delay. */
    ck_assert_ptr_null(rp_sink_next(sink, 1000, 1));
    ck_assert_uint_gt(rp_sink_wait_ms(sink, 1000), 0);
    req = rp_sink_next(sink, 1000 + rp_sink_wait_ms(sink, 1000), 1);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(expected(req), e);
    ck_assert_int_eq(req->body_len, strlen(body));
    ck_assert(memcmp(req->body, body, req->body_len) == 0);
    /* 500, 503, 408: the same again; Retry-After is honoured. */
    r = answer(503);
    r.retry_after_s = 5;
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 2000, &err), 0);
    ck_assert_uint_ge(rp_sink_wait_ms(sink, 2000), 5000);
    req = rp_sink_next(sink, 7000, 1);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(expected(req), e);
    r = created(0);
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 7000, &err), 0);
    ck_assert_int_eq(rp_sink_outage(sink, NULL), 0);
    ck_assert_int_eq(rp_sink_idle(sink), 1);
}
END_TEST

START_TEST(test_sink_learns_existing_stream_from_head)
{
    struct rp_sink_req *req;
    struct rp_buf b;
    struct rp_sink_stats st;

    for (uint64_t sv = 1; sv <= 4; sv++)
        add(sv, "s");
    req = rp_sink_next(sink, 0, 1);
    ck_assert_int_eq(expected(req), -1);
    req = reply(req, wrong_version(6));
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(req->post, 0);
    ck_assert_str_eq(req->path, "/streams/s/head/backward/1?embed=body");
    /* The target's last event came from record 2: records 1-2 are there. */
    rp_buf_init(&b, 0);
    entry(&b, 6, 2, 0, "src");
    req = reply(req, feed(&b));
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(req->post, 1);
    ck_assert_int_eq(expected(req), 6);
    ck_assert_int_eq(body_events(req), 2);
    answered(req, created(7));
    rp_sink_get_stats(sink, &st);
    ck_assert_int_eq(st.events_acked, 4);
    ck_assert_int_eq(st.events_skipped, 2);
    ck_assert_int_eq(rp_sink_idle(sink), 1);
    /* Events at or before what the target holds are dropped on arrival. */
    rp_buf_dispose(&b);
}
END_TEST

START_TEST(test_sink_reconciles_partial_overlap)
{
    struct rp_sink_req *req;
    struct rp_buf b;

    add(1, "s");
    req = rp_sink_next(sink, 0, 1);
    answered(req, created(0));
    for (uint64_t sv = 2; sv <= 4; sv++)
        add(sv, "s");
    req = rp_sink_next(sink, 0, 1);
    ck_assert_int_eq(expected(req), 0);
    /* The target holds records 2 and 3 already (a lost answer before a
    ** restart, say): the whole batch is refused. */
    req = reply(req, wrong_version(2));
    ck_assert_int_eq(req->post, 0);
    ck_assert_str_eq(req->path, "/streams/s/1/forward/2?embed=body");
    rp_buf_init(&b, 0);
    entry(&b, 2, 3, 0, "src"); /* newest first */
    entry(&b, 1, 2, 0, "src");
    req = reply(req, feed(&b));
    ck_assert_int_eq(req->post, 1);
    ck_assert_int_eq(expected(req), 2);
    ck_assert_int_eq(body_events(req), 1);
    rp_buf_dispose(&b);
}
END_TEST

START_TEST(test_sink_url_encodes_stream)
{
    struct rp_sink_req *req;

    add(1, "a b/c$d");
    req = rp_sink_next(sink, 0, 1);
    ck_assert_str_eq(req->path, "/streams/a%20b%2Fc%24d");
}
END_TEST

static int
collect_count(void *ctx, const char *key, size_t key_len, uint64_t count)
{
    char *out = ctx;
    size_t n = strlen(out);

    snprintf(out + n, 256 - n, "%.*s=%d;", (int)key_len, key, (int)count);
    return 0;
}

START_TEST(test_sink_frontier_counts_of_unacked_keys)
{
    struct rp_sink_req *req;
    struct rp_http_result r = created(0);
    char seen[256] = "";

    add(1, "a"); /* key k1, stream version 1 */
    add(2, "b"); /* k0 1 */
    add(3, "c"); /* k1 2 */
    add(4, "b"); /* k0 2 */
    req = rp_sink_next(sink, 0, 1);
    ck_assert_str_eq(req->path, "/streams/a");
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), 0);
    /* Record 1 is acknowledged; 2-4 are not: at the frontier k0 had no
    ** record and k1 had one.  Each key once, oldest record first. */
    ck_assert_int_eq(rp_sink_frontier_counts(sink, collect_count, seen), 0);
    ck_assert_str_eq(seen, "k0=0;k1=1;");
}
END_TEST

START_TEST(test_sink_in_flight_limit_and_full)
{
    char name[8];
    int n = 0;

    for (uint64_t sv = 1; sv <= 6; sv++) {
        snprintf(name, sizeof(name), "s%d", (int)sv);
        add(sv, name);
    }
    while (rp_sink_next(sink, 0, 1) != NULL)
        n++;
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(rp_sink_full(sink), 0);
}
END_TEST

START_TEST(test_sink_buffer_bound_stops_reading)
{
    struct rp_sink_options o;
    char name[8];

    rp_sink_free(sink);
    memset(&o, 0, sizeof(o));
    o.source_id = "src";
    o.batch_events = 10;
    o.batch_bytes = 1000;
    o.max_in_flight = 1;
    o.max_buffer_events = 5;
    ck_assert_int_eq(rp_sink_new(&sink, &o, NULL, &err), 0);
    for (uint64_t sv = 1; sv <= 4; sv++) {
        snprintf(name, sizeof(name), "s%d", (int)sv);
        add(sv, name);
        ck_assert_int_eq(rp_sink_full(sink), 0);
    }
    add(5, "x");
    ck_assert_int_eq(rp_sink_full(sink), 1);
}
END_TEST

START_TEST(test_sink_batch_bytes_limit)
{
    struct rp_sink_req *req;
    struct rp_sink_options o;

    rp_sink_free(sink);
    memset(&o, 0, sizeof(o));
    o.source_id = "src";
    o.batch_events = 100;
    o.batch_bytes = 300; /* about one event of add()'s */
    o.max_in_flight = 1;
    ck_assert_int_eq(rp_sink_new(&sink, &o, NULL, &err), 0);
    add(1, "s");
    add(2, "s");
    req = rp_sink_next(sink, 0, 0);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(body_events(req), 1);
    ck_assert_uint_le(req->body_len, 300);
}
END_TEST

START_TEST(test_sink_refuses_oversized_event)
{
    struct rp_record rec;
    struct rp_event ev;
    static char big[(4 << 20) + 10];

    memset(&rec, 0, sizeof(rec));
    rec.store_version = 1;
    rec.stream_version = 1;
    rec.key = "big-key";
    rec.key_len = 7;
    rec.file = "0.dat";
    ck_assert_int_eq(rp_sink_add_record(sink, &rec, &err), 0);
    memset(&ev, 0, sizeof(ev));
    memset(big, 'a', sizeof(big));
    big[0] = '"';
    big[sizeof(big) - 1] = '"';
    ev.stream = "s";
    ev.stream_len = 1;
    ev.type = "T";
    ev.type_len = 1;
    ev.data = big;
    ev.data_len = sizeof(big);
    ev.store_version = 1;
    ck_assert_int_eq(rp_sink_add_event(sink, &ev, &err), RP_ELIMIT);
    ck_assert_ptr_nonnull(strstr(err.msg, "record 1"));
    ck_assert_ptr_nonnull(strstr(err.msg, "big-key"));
    ck_assert_ptr_nonnull(strstr(err.msg, "'s'"));
}
END_TEST

/* Answers that stop the run, and what their message must name. */
static const struct {
    long status;
    const char *needle;
} stops[] = {
    {401, "credentials"}, {404, "atom-pub"}, {406, "406"},
    {410, "deleted"},     {413, "larger"},   {415, "415"},
    {400, "Bad things"},
};

START_TEST(test_sink_stops_on_refusal)
{
    struct rp_sink_req *req;
    struct rp_http_result r = answer(stops[_i].status);

    add(1, "s");
    add(2, "s");
    req = rp_sink_next(sink, 0, 1);
    snprintf(r.reason, sizeof(r.reason), "Bad things");
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), RP_EREFUSED);
    ck_assert_ptr_nonnull(strstr(err.msg, stops[_i].needle));
    ck_assert_ptr_nonnull(strstr(err.msg, "record 1 (key 'k1')"));
    ck_assert_ptr_nonnull(strstr(err.msg, "stream 's'"));
    ck_assert_int_eq(rp_sink_idle(sink), 0);
}
END_TEST

START_TEST(test_sink_conflict_on_foreign_head)
{
    struct rp_sink_req *req;
    struct rp_http_result r;
    struct rp_buf b;

    add(1, "s");
    req = rp_sink_next(sink, 0, 1);
    req = reply(req, wrong_version(0));
    rp_buf_init(&b, 0);
    entry(&b, 0, 9, 0, "another-store");
    r = feed(&b);
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), RP_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "conflict"));
    ck_assert_ptr_nonnull(strstr(err.msg, "stream 's'"));
    ck_assert_ptr_nonnull(strstr(err.msg, "record 1"));
    ck_assert_ptr_null(rp_sink_next(sink, 0, 1));
    rp_buf_dispose(&b);
}
END_TEST

START_TEST(test_sink_conflict_on_foreign_event_after_version)
{
    struct rp_sink_req *req;
    struct rp_http_result r;
    struct rp_buf b;

    add(1, "s");
    req = rp_sink_next(sink, 0, 1);
    answered(req, created(0));
    add(2, "s");
    req = rp_sink_next(sink, 0, 1);
    req = reply(req, wrong_version(1));
    ck_assert_str_eq(req->path, "/streams/s/1/forward/1?embed=body");
    rp_buf_init(&b, 0);
    entry(&b, 1, 77, 0, "src"); /* ours by metadata, but not the next id */
    r = feed(&b);
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), RP_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "event 1"));
    rp_buf_dispose(&b);
}
END_TEST

/* A stream that held events of this run now reports fewer (deleted, or
** the target was reset): the run stops instead of writing on. */
START_TEST(test_sink_stops_when_stream_lost_events)
{
    struct rp_sink_req *req;
    struct rp_http_result r = wrong_version(-1);

    add(1, "s");
    req = rp_sink_next(sink, 0, 1);
    answered(req, created(0));
    add(2, "s");
    req = rp_sink_next(sink, 0, 1);
    ck_assert_int_eq(expected(req), 0);
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), RP_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "record 2"));
    ck_assert_ptr_nonnull(strstr(err.msg, "up to number 0"));
    ck_assert_ptr_nonnull(strstr(err.msg, "reports -1"));
    ck_assert_ptr_null(rp_sink_next(sink, 0, 1));
}
END_TEST

START_TEST(test_sink_checkpoint_events)
{
    static const unsigned char id1[16] = {1, 0, 0, 0, 0, 0, 0x50, 0, 0x80};
    static const unsigned char id2[16] = {2, 0, 0, 0, 0, 0, 0x50, 0, 0x80};
    static const unsigned char id3[16] = {3, 0, 0, 0, 0, 0, 0x50, 0, 0x80};
    struct rp_sink_req *req;
    const char *data;
    size_t len;

    /* Fetch: no such stream yet. */
    rp_sink_fetch_marker(sink, "ckpt-src");
    ck_assert_int_eq(rp_sink_marker_fetched(sink, &data, &len), 0);
    req = rp_sink_next(sink, 0, 1);
    ck_assert_str_eq(req->path, "/streams/ckpt-src/head/backward/1?embed=body");
    answered(req, answer(404));
    ck_assert_int_eq(rp_sink_marker_fetched(sink, &data, &len), RP_ENOENT);
    /* An unsent checkpoint is replaced by a newer one. */
    ck_assert_int_eq(
        rp_sink_put_marker(sink, "ckpt-src", "{\"n\":1}", 7, id1, &err), 0);
    ck_assert_int_eq(
        rp_sink_put_marker(sink, "ckpt-src", "{\"n\":2}", 7, id2, &err), 0);
    ck_assert_int_eq(rp_sink_marker_pending(sink), 1);
    req = rp_sink_next_marker(sink, 0);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(body_events(req), 1);
    ck_assert_ptr_nonnull(strstr(req->body, "\"n\":2"));
    ck_assert_int_eq(expected(req), -1);
    /* Someone (an earlier run) wrote checkpoints: append after them. */
    ck_assert_int_eq(
        rp_sink_put_marker(sink, "ckpt-src", "{\"n\":3}", 7, id3, &err), 0);
    answered(req, wrong_version(4));
    /* The refused batch is rebuilt with what is queued now. */
    req = rp_sink_next_marker(sink, 0);
    ck_assert_int_eq(expected(req), 4);
    ck_assert_int_eq(body_events(req), 2);
    ck_assert_ptr_nonnull(strstr(req->body, "\"n\":3"));
    answered(req, created(5));
    ck_assert_int_eq(rp_sink_marker_pending(sink), 0);
    ck_assert_int_eq(rp_sink_idle(sink), 1);
}
END_TEST

START_TEST(test_sink_forgotten_stream_is_learned_again)
{
    struct rp_sink_options o;
    struct rp_sink_req *req;
    struct rp_buf b;

    rp_sink_free(sink);
    memset(&o, 0, sizeof(o));
    o.source_id = "src";
    o.source_metadata = 1;
    o.batch_events = 10;
    o.batch_bytes = 1 << 20;
    o.max_in_flight = 1;
    o.max_streams = 1;
    ck_assert_int_eq(rp_sink_new(&sink, &o, NULL, &err), 0);
    add(1, "a");
    req = rp_sink_next(sink, 0, 1);
    answered(req, created(0));
    add(2, "b"); /* 'a' is idle and beyond the bound: forgotten */
    req = rp_sink_next(sink, 0, 1);
    ck_assert_str_eq(req->path, "/streams/b");
    answered(req, created(0));
    add(3, "a");
    req = rp_sink_next(sink, 0, 1);
    ck_assert_str_eq(req->path, "/streams/a");
    ck_assert_int_eq(expected(req), -1);
    req = reply(req, wrong_version(0));
    ck_assert_str_eq(req->path, "/streams/a/head/backward/1?embed=body");
    rp_buf_init(&b, 0);
    entry(&b, 0, 1, 0, "src");
    req = reply(req, feed(&b));
    ck_assert_int_eq(req->post, 1);
    ck_assert_int_eq(expected(req), 0);
    ck_assert_int_eq(body_events(req), 1);
    rp_buf_dispose(&b);
}
END_TEST

Suite *sink_suite(void);

Suite *
sink_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s = rp_test_suite("sink", &core, &limits, &errors, setup, teardown);

    tcase_add_test(core, test_sink_batches_in_order_with_exact_versions);
    tcase_add_test(core, test_sink_frontier_waits_for_every_stream);
    tcase_add_test(core, test_sink_retries_identical_request);
    tcase_add_test(core, test_sink_learns_existing_stream_from_head);
    tcase_add_test(core, test_sink_reconciles_partial_overlap);
    tcase_add_test(core, test_sink_url_encodes_stream);
    tcase_add_test(core, test_sink_frontier_counts_of_unacked_keys);
    tcase_add_test(core, test_sink_checkpoint_events);
    tcase_add_test(limits, test_sink_forgotten_stream_is_learned_again);
    tcase_add_test(limits, test_sink_in_flight_limit_and_full);
    tcase_add_test(limits, test_sink_buffer_bound_stops_reading);
    tcase_add_test(limits, test_sink_batch_bytes_limit);
    tcase_add_test(limits, test_sink_refuses_oversized_event);
    tcase_add_loop_test(errors, test_sink_stops_on_refusal, 0,
                        (int)(sizeof(stops) / sizeof(stops[0])));
    tcase_add_test(errors, test_sink_conflict_on_foreign_head);
    tcase_add_test(errors, test_sink_conflict_on_foreign_event_after_version);
    tcase_add_test(errors, test_sink_stops_when_stream_lost_events);
    return s;
}
