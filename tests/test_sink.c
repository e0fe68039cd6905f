/* Tests of the sink: batches and expected versions, the answer table,
** learning a stream's position, reconciling after a wrong expected version,
** and the acknowledged frontier.  Outcomes are built by hand: no protocol,
** no network. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
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

static struct rp_sink_outcome
outcome(int kind)
{
    struct rp_sink_outcome r;

    memset(&r, 0, sizeof(r));
    r.kind = kind;
    r.number = RP_SINK_NO_NUMBER;
    return r;
}

/* The events are written; the last one got number 'last'. */
static struct rp_sink_outcome
written(int64_t last)
{
    struct rp_sink_outcome r = outcome(RP_SINK_WRITTEN);

    r.number = last;
    return r;
}

static struct rp_sink_outcome
wrong_version(int64_t current)
{
    struct rp_sink_outcome r = outcome(RP_SINK_WRONG_VERSION);

    r.number = current;
    return r;
}

/* No definitive answer, with the server's 'words'. */
static struct rp_sink_outcome
unknown(const char *words)
{
    struct rp_sink_outcome r = outcome(RP_SINK_UNKNOWN);

    snprintf(r.words, sizeof(r.words), "%s", words);
    return r;
}

/* The number of events of an append. */
static size_t
body_events(const struct rp_sink_req *req)
{
    ck_assert_int_eq(req->op, RP_SINK_APPEND);
    return req->nevents;
}

/* Events read back, oldest first: up to 8, with the metadata text each
** needs kept here. */
struct feed {
    struct rp_sink_read_event ev[8];
    char meta[8][200];
    size_t n;
};

/* Add the event number 'number' written from record 'sv', event 'index',
** of source 'source' as the target shows it, after the ones added before
** (oldest first). */
static void
entry(struct feed *f, int number, uint64_t sv, uint32_t index,
      const char *source)
{
    struct rp_sink_read_event *e = &f->ev[f->n];

    ck_assert_uint_lt(f->n, 8);
    memset(e, 0, sizeof(*e));
    e->number = number;
    e->has_id = 1;
    make_id(e->id, sv, index);
    e->type = "T";
    e->type_len = 1;
    snprintf(f->meta[f->n], sizeof(f->meta[f->n]),
             "{\"replicatedFrom\":{\"source\":\"%s\",\"storeVersion\":%d,"
             "\"index\":%d}}",
             source, (int)sv, (int)index);
    e->metadata = f->meta[f->n];
    e->metadata_len = strlen(f->meta[f->n]);
    f->n++;
}

/* The outcome of a read that found the events of 'f'. */
static struct rp_sink_outcome
feed(struct feed *f)
{
    struct rp_sink_outcome r = outcome(RP_SINK_EVENTS);

    r.events = f->ev;
    r.nevents = f->n;
    return r;
}

/* Give 'req' the outcome 'r', which the sink must accept. */
static void
answered(struct rp_sink_req *req, struct rp_sink_outcome r)
{
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), 0);
}

/* answered(), then return the next request. */
static struct rp_sink_req *
reply(struct rp_sink_req *req, struct rp_sink_outcome r)
{
    answered(req, r);
    return rp_sink_next(sink, 0, 1);
}

/* 1 when 'req' is an append of 'n' events to 'stream' after 'expected'. */
static int
is_append(const struct rp_sink_req *req, const char *stream, int64_t expected,
          size_t n)
{
    return req != NULL && req->op == RP_SINK_APPEND &&
           strcmp(req->stream, stream) == 0 && req->expected == expected &&
           req->nevents == n;
}

START_TEST(test_sink_batches_in_order_with_exact_versions)
{
    struct rp_sink_req *req;
    struct rp_store_pos pos;

    for (uint64_t sv = 1; sv <= 5; sv++)
        add(sv, "s");
    /* Full batch of 3 goes without flush; one request per stream. */
    req = rp_sink_next(sink, 0, 0);
    ck_assert(is_append(req, "s", RP_SINK_NO_STREAM, 3));
    ck_assert_int_eq(req->require_leader, 0);
    ck_assert_ptr_null(rp_sink_next(sink, 0, 1));
    answered(req, written(2));
    rp_sink_frontier(sink, &pos);
    ck_assert_int_eq(pos.store_version, 3);
    ck_assert_int_eq(pos.offset, 300);
    /* The rest (2 events) is a partial batch: only with flush. */
    ck_assert_ptr_null(rp_sink_next(sink, 0, 0));
    req = rp_sink_next(sink, 0, 1);
    ck_assert(is_append(req, "s", 2, 2));
    answered(req, written(4));
    rp_sink_frontier(sink, &pos);
    ck_assert_int_eq(pos.store_version, 5);
    ck_assert_int_eq(rp_sink_idle(sink), 1);
}
END_TEST

/* The events of an append as the protocol sees them: id, type, data (JSON
** text), metadata, in queue order. */
START_TEST(test_sink_events_in_neutral_form)
{
    struct rp_sink_req *req;
    struct rp_sink_event ev;
    unsigned char id[16];
    char meta[160];

    add(1, "s,s");
    req = rp_sink_next(sink, 0, 1);
    ck_assert(is_append(req, "s", RP_SINK_NO_STREAM, 2));
    for (size_t i = 0; i < 2; i++) {
        rp_sink_req_event(req, i, &ev);
        make_id(id, 1, (uint32_t)i);
        ck_assert(memcmp(ev.id, id, 16) == 0);
        ck_assert_int_eq(ev.type_len, 1);
        ck_assert(memcmp(ev.type, "T", 1) == 0);
        ck_assert_int_eq(ev.data_len, 7);
        ck_assert(memcmp(ev.data, "{\"a\":1}", 7) == 0);
        ck_assert_int_eq(ev.data_json, 1);
        snprintf(meta, sizeof(meta),
                 "{\"replicatedFrom\":{\"source\":\"src\","
                 "\"storeVersion\":1,\"index\":%d}}",
                 (int)i);
        ck_assert_ptr_nonnull(ev.metadata);
        ck_assert_uint_eq(ev.metadata_len, strlen(meta));
        ck_assert(memcmp(ev.metadata, meta, ev.metadata_len) == 0);
    }
}
END_TEST

START_TEST(test_sink_frontier_waits_for_every_stream)
{
    struct rp_sink_req *a, *b;
    struct rp_sink_outcome r = written(0);
    struct rp_store_pos pos;

    add(1, "a,b");
    add(2, "");
    a = rp_sink_next(sink, 0, 1);
    b = rp_sink_next(sink, 0, 1);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(a->stream, "a");
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
    struct rp_sink_outcome r;

    add(1, "s");
    req = rp_sink_next(sink, 1000, 1);
    ck_assert(is_append(req, "s", RP_SINK_NO_STREAM, 1));
    r = unknown("Connection refused");
    r.no_answer = 1;
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 1000, &err), 0);
    ck_assert_int_eq(rp_sink_outage(sink, NULL), 1);
    /* Backed off: nothing now, something after the delay. */
    ck_assert_ptr_null(rp_sink_next(sink, 1000, 1));
    ck_assert_uint_gt(rp_sink_wait_ms(sink, 1000), 0);
    req = rp_sink_next(sink, 1000 + rp_sink_wait_ms(sink, 1000), 1);
    ck_assert(is_append(req, "s", RP_SINK_NO_STREAM, 1));
    /* The server's pause is honoured. */
    r = unknown("503 Service Unavailable");
    r.retry_after_ms = 5000;
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 2000, &err), 0);
    ck_assert_uint_ge(rp_sink_wait_ms(sink, 2000), 5000);
    req = rp_sink_next(sink, 7000, 1);
    ck_assert(is_append(req, "s", RP_SINK_NO_STREAM, 1));
    r = written(0);
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 7000, &err), 0);
    ck_assert_int_eq(rp_sink_outage(sink, NULL), 0);
    ck_assert_int_eq(rp_sink_idle(sink), 1);
}
END_TEST

/* Leader elsewhere: the same request goes again at once (the protocol
** follows the leader), a few times; then it backs off like an outage. */
START_TEST(test_sink_leader_elsewhere_resends_at_once)
{
    struct rp_sink_req *req;
    struct rp_sink_outcome r = outcome(RP_SINK_LEADER);
    struct rp_sink_options o;
    int hops = 0;

    rp_sink_free(sink);
    memset(&o, 0, sizeof(o));
    o.source_id = "src";
    o.batch_events = 10;
    o.batch_bytes = 1 << 20;
    o.max_in_flight = 4;
    o.cluster = 1;
    ck_assert_int_eq(rp_sink_new(&sink, &o, NULL, &err), 0);
    add(1, "s");
    req = rp_sink_next(sink, 0, 1);
    ck_assert_int_eq(req->require_leader, 1);
    snprintf(r.words, sizeof(r.words), "not the leader");
    for (;;) {
        ck_assert(is_append(req, "s", RP_SINK_NO_STREAM, 1));
        ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), 0);
        req = rp_sink_next(sink, 0, 1);
        if (req == NULL)
            break;
        hops++;
    }
    ck_assert_int_ge(hops, 1);
    ck_assert_int_le(hops, 5);
    ck_assert_int_eq(rp_sink_outage(sink, NULL), 1);
    ck_assert_uint_gt(rp_sink_wait_ms(sink, 0), 0);
}
END_TEST

START_TEST(test_sink_learns_existing_stream_from_head)
{
    struct rp_sink_req *req;
    struct feed f = {0};
    struct rp_sink_stats st;

    for (uint64_t sv = 1; sv <= 4; sv++)
        add(sv, "s");
    req = rp_sink_next(sink, 0, 1);
    ck_assert(is_append(req, "s", RP_SINK_NO_STREAM, 3));
    req = reply(req, wrong_version(6));
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(req->op, RP_SINK_READ_HEAD);
    ck_assert_str_eq(req->stream, "s");
    ck_assert_int_eq(req->count, 1);
    /* The target's last event came from record 2: records 1-2 are there. */
    entry(&f, 6, 2, 0, "src");
    req = reply(req, feed(&f));
    ck_assert(is_append(req, "s", 6, 2));
    answered(req, written(8));
    rp_sink_get_stats(sink, &st);
    ck_assert_int_eq(st.events_acked, 4);
    ck_assert_int_eq(st.events_skipped, 2);
    ck_assert_int_eq(rp_sink_idle(sink), 1);
}
END_TEST

/* A written outcome that does not say where the events went: after the
** expected version. */
START_TEST(test_sink_written_without_number)
{
    struct rp_sink_req *req;

    for (uint64_t sv = 1; sv <= 4; sv++)
        add(sv, "s");
    req = rp_sink_next(sink, 0, 1);
    req = reply(req, outcome(RP_SINK_WRITTEN));
    ck_assert(is_append(req, "s", 2, 1));
}
END_TEST

START_TEST(test_sink_reconciles_partial_overlap)
{
    struct rp_sink_req *req;
    struct feed f = {0};

    add(1, "s");
    req = rp_sink_next(sink, 0, 1);
    answered(req, written(0));
    for (uint64_t sv = 2; sv <= 4; sv++)
        add(sv, "s");
    req = rp_sink_next(sink, 0, 1);
    ck_assert(is_append(req, "s", 0, 3));
    /* The target holds records 2 and 3 already (a lost answer before a
    ** restart, say): the whole batch is refused. */
    req = reply(req, wrong_version(2));
    ck_assert_int_eq(req->op, RP_SINK_READ_FORWARD);
    ck_assert_int_eq(req->from, 1);
    ck_assert_int_eq(req->count, 2);
    entry(&f, 1, 2, 0, "src");
    entry(&f, 2, 3, 0, "src");
    req = reply(req, feed(&f));
    ck_assert(is_append(req, "s", 2, 1));
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
    struct rp_sink_outcome r = written(0);
    char seen[256] = "";

    add(1, "a"); /* key k1, stream version 1 */
    add(2, "b"); /* k0 1 */
    add(3, "c"); /* k1 2 */
    add(4, "b"); /* k0 2 */
    req = rp_sink_next(sink, 0, 1);
    ck_assert_str_eq(req->stream, "a");
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

/* batch_bytes counts type, data and metadata and RP_SINK_EVENT_OVERHEAD
** per event; one event always goes. */
START_TEST(test_sink_batch_bytes_limit)
{
    struct rp_sink_req *req;
    struct rp_sink_options o;
    struct rp_sink_event ev;
    size_t one;

    rp_sink_free(sink);
    memset(&o, 0, sizeof(o));
    o.source_id = "src";
    o.batch_events = 100;
    o.batch_bytes = 1000;
    o.max_in_flight = 1;
    ck_assert_int_eq(rp_sink_new(&sink, &o, NULL, &err), 0);
    for (uint64_t sv = 1; sv <= 20; sv++)
        add(sv, "s");
    req = rp_sink_next(sink, 0, 0);
    ck_assert_ptr_nonnull(req);
    rp_sink_req_event(req, 0, &ev);
    one = ev.type_len + ev.data_len + ev.metadata_len + RP_SINK_EVENT_OVERHEAD;
    ck_assert_int_eq(body_events(req), 1000 / one);
    rp_sink_free(sink);
    o.batch_bytes = 10; /* less than one event */
    ck_assert_int_eq(rp_sink_new(&sink, &o, NULL, &err), 0);
    add(1, "s");
    add(2, "s");
    req = rp_sink_next(sink, 0, 0);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(body_events(req), 1);
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

/* Outcomes that stop the run, the error code, and what the message must
** name besides the place. */
static const struct {
    int kind;
    const char *hint;
    int code;
    const char *needle;
} stops[] = {
    {RP_SINK_REFUSED, "check the credentials", RP_EREFUSED, "credentials"},
    {RP_SINK_REFUSED, NULL, RP_EREFUSED, "Bad things"},
    {RP_SINK_DELETED, NULL, RP_EREFUSED, "deleted for good"},
    {RP_SINK_BAD_ANSWER, NULL, RP_EFORMAT, "Bad things"},
    {RP_SINK_EVENTS, NULL, RP_EFORMAT, "does not fit"},
};

START_TEST(test_sink_stops_on_refusal)
{
    struct rp_sink_req *req;
    struct rp_sink_outcome r = outcome(stops[_i].kind);

    add(1, "s");
    add(2, "s");
    req = rp_sink_next(sink, 0, 1);
    snprintf(r.words, sizeof(r.words), "Bad things");
    r.hint = stops[_i].hint;
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), stops[_i].code);
    ck_assert_ptr_nonnull(strstr(err.msg, stops[_i].needle));
    ck_assert_ptr_nonnull(strstr(err.msg, "Bad things"));
    ck_assert_ptr_nonnull(strstr(err.msg, "record 1 (key 'k1')"));
    ck_assert_ptr_nonnull(strstr(err.msg, "stream 's'"));
    ck_assert_int_eq(rp_sink_idle(sink), 0);
}
END_TEST

/* A read that cannot be read stops the run, naming the stream. */
START_TEST(test_sink_stops_on_unreadable_read)
{
    struct rp_sink_req *req;
    struct rp_sink_outcome r = outcome(RP_SINK_BAD_ANSWER);

    add(1, "s");
    req = rp_sink_next(sink, 0, 1);
    req = reply(req, wrong_version(3));
    ck_assert_int_eq(req->op, RP_SINK_READ_HEAD);
    snprintf(r.words, sizeof(r.words), "the feed is not JSON");
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "stream 's'"));
    ck_assert_ptr_nonnull(strstr(err.msg, "not JSON"));
}
END_TEST

/* An event number no stream can have (above RP_SINK_MAX_NUMBER, below -1,
** a negative event) stops the run: the sums that follow would overflow. */
START_TEST(test_sink_stops_on_number_out_of_range)
{
    struct rp_sink_req *req;
    struct rp_sink_outcome r;
    struct feed f = {0};

    add(1, "s");
    add(2, "s");
    req = rp_sink_next(sink, 0, 1);
    switch (_i) {
    case 0:
        r = wrong_version(INT64_MAX);
        break;
    case 1:
        r = wrong_version(-2);
        break;
    case 2:
        r = written(RP_SINK_MAX_NUMBER + 1);
        break;
    default:
        req = reply(req, wrong_version(3));
        ck_assert_int_eq(req->op, RP_SINK_READ_HEAD);
        entry(&f, 3, 1, 0, "src");
        f.ev[0].number = _i == 3 ? INT64_MAX : -1;
        r = feed(&f);
        break;
    }
    snprintf(r.words, sizeof(r.words), "Reason");
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    ck_assert_ptr_nonnull(strstr(err.msg, "stream 's'"));
    ck_assert_int_eq(rp_sink_idle(sink), 0);
}
END_TEST

/* The largest number that may be is taken. */
START_TEST(test_sink_largest_number)
{
    struct rp_sink_req *req;

    add(1, "s");
    req = rp_sink_next(sink, 0, 1);
    answered(req, written(RP_SINK_MAX_NUMBER));
    add(2, "s");
    req = rp_sink_next(sink, 0, 1);
    ck_assert(is_append(req, "s", RP_SINK_MAX_NUMBER, 1));
}
END_TEST

START_TEST(test_sink_conflict_on_foreign_head)
{
    struct rp_sink_req *req;
    struct rp_sink_outcome r;
    struct feed f = {0};

    add(1, "s");
    req = rp_sink_next(sink, 0, 1);
    req = reply(req, wrong_version(0));
    entry(&f, 0, 9, 0, "another-store");
    r = feed(&f);
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), RP_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "conflict"));
    ck_assert_ptr_nonnull(strstr(err.msg, "stream 's'"));
    ck_assert_ptr_nonnull(strstr(err.msg, "record 1"));
    ck_assert_ptr_nonnull(strstr(err.msg, "type 'T'"));
    ck_assert_ptr_null(rp_sink_next(sink, 0, 1));
}
END_TEST

START_TEST(test_sink_conflict_on_foreign_event_after_version)
{
    struct rp_sink_req *req;
    struct rp_sink_outcome r;
    struct feed f = {0};

    add(1, "s");
    req = rp_sink_next(sink, 0, 1);
    answered(req, written(0));
    add(2, "s");
    req = rp_sink_next(sink, 0, 1);
    req = reply(req, wrong_version(1));
    ck_assert_int_eq(req->op, RP_SINK_READ_FORWARD);
    ck_assert_int_eq(req->from, 1);
    ck_assert_int_eq(req->count, 1);
    entry(&f, 1, 77, 0, "src"); /* ours by metadata, but not the next id */
    r = feed(&f);
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), RP_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "event 1"));
}
END_TEST

/* A stream that held events of this run now reports fewer (deleted, or
** the target was reset): the run stops instead of writing on. */
START_TEST(test_sink_stops_when_stream_lost_events)
{
    struct rp_sink_req *req;
    struct rp_sink_outcome r = wrong_version(-1);

    add(1, "s");
    req = rp_sink_next(sink, 0, 1);
    answered(req, written(0));
    add(2, "s");
    req = rp_sink_next(sink, 0, 1);
    ck_assert(is_append(req, "s", 0, 1));
    ck_assert_int_eq(rp_sink_done(sink, req, &r, 0, &err), RP_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "record 2"));
    ck_assert_ptr_nonnull(strstr(err.msg, "up to number 0"));
    ck_assert_ptr_nonnull(strstr(err.msg, "reports -1"));
    ck_assert_ptr_null(rp_sink_next(sink, 0, 1));
}
END_TEST

/* 1 when event 'i' of 'req' has the data 'data'. */
static int
event_data_is(const struct rp_sink_req *req, size_t i, const char *data)
{
    struct rp_sink_event ev;

    rp_sink_req_event(req, i, &ev);
    return ev.data_len == strlen(data) &&
           memcmp(ev.data, data, ev.data_len) == 0 && ev.type_len == 20 &&
           memcmp(ev.type, "ReplicatorCheckpoint", 20) == 0 &&
           ev.metadata == NULL;
}

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
    ck_assert_int_eq(req->op, RP_SINK_READ_HEAD);
    ck_assert_str_eq(req->stream, "ckpt-src");
    answered(req, outcome(RP_SINK_NOT_FOUND));
    ck_assert_int_eq(rp_sink_marker_fetched(sink, &data, &len), RP_ENOENT);
    /* An unsent checkpoint is replaced by a newer one. */
    ck_assert_int_eq(
        rp_sink_put_marker(sink, "ckpt-src", "{\"n\":1}", 7, id1, &err), 0);
    ck_assert_int_eq(
        rp_sink_put_marker(sink, "ckpt-src", "{\"n\":2}", 7, id2, &err), 0);
    ck_assert_int_eq(rp_sink_marker_pending(sink), 1);
    req = rp_sink_next_marker(sink, 0);
    ck_assert(is_append(req, "ckpt-src", RP_SINK_NO_STREAM, 1));
    ck_assert(event_data_is(req, 0, "{\"n\":2}"));
    /* Someone (an earlier run) wrote checkpoints: append after them. */
    ck_assert_int_eq(
        rp_sink_put_marker(sink, "ckpt-src", "{\"n\":3}", 7, id3, &err), 0);
    answered(req, wrong_version(4));
    /* The refused batch is rebuilt with what is queued now. */
    req = rp_sink_next_marker(sink, 0);
    ck_assert(is_append(req, "ckpt-src", 4, 2));
    ck_assert(event_data_is(req, 1, "{\"n\":3}"));
    answered(req, written(6));
    ck_assert_int_eq(rp_sink_marker_pending(sink), 0);
    ck_assert_int_eq(rp_sink_idle(sink), 1);
}
END_TEST

/* The checkpoint stream's last event is read back, with its data. */
START_TEST(test_sink_checkpoint_fetched)
{
    struct rp_sink_req *req;
    struct rp_sink_read_event e;
    struct rp_sink_outcome r = outcome(RP_SINK_EVENTS);
    const char *data;
    size_t len;

    rp_sink_fetch_marker(sink, "ckpt-src");
    req = rp_sink_next(sink, 0, 1);
    memset(&e, 0, sizeof(e));
    e.number = 7;
    e.data = "{\"storeVersion\":3}";
    e.data_len = strlen(e.data);
    r.events = &e;
    r.nevents = 1;
    answered(req, r);
    ck_assert_int_eq(rp_sink_marker_fetched(sink, &data, &len), 1);
    ck_assert_int_eq(len, e.data_len);
    ck_assert(memcmp(data, e.data, len) == 0);
    /* The next checkpoint goes after it. */
    ck_assert_int_eq(
        rp_sink_put_marker(sink, "ckpt-src", "{}", 2,
                           (const unsigned char *)"0123456789abcdef", &err),
        0);
    req = rp_sink_next_marker(sink, 0);
    ck_assert(is_append(req, "ckpt-src", 7, 1));
}
END_TEST

/* A checkpoint stream deleted for good: no more checkpoint events, no
** stop. */
START_TEST(test_sink_checkpoint_stream_deleted)
{
    static const unsigned char id1[16] = {1, 0, 0, 0, 0, 0, 0x50, 0, 0x80};
    struct rp_sink_req *req;

    ck_assert_int_eq(
        rp_sink_put_marker(sink, "ckpt-src", "{\"n\":1}", 7, id1, &err), 0);
    req = rp_sink_next_marker(sink, 0);
    answered(req, outcome(RP_SINK_DELETED));
    ck_assert_int_eq(rp_sink_markers_off(sink), 1);
    ck_assert_int_eq(rp_sink_marker_pending(sink), 0);
    ck_assert_int_eq(rp_sink_idle(sink), 1);
}
END_TEST

/* The checkpoint stream's $maxCount: one metadata write that goes first,
** is not retried, and whatever its outcome stops nothing. */
START_TEST(test_sink_cap_markers_once)
{
    static const unsigned char id[16] = {9, 0, 0, 0, 0, 0, 0x50, 0, 0x80};
    struct rp_sink_req *req;
    struct rp_sink_event ev;

    add(1, "s");
    rp_sink_cap_markers(sink, "ckpt-src", 50, id);
    ck_assert_int_eq(rp_sink_idle(sink), 0);
    req = rp_sink_next(sink, 0, 1);
    ck_assert_int_eq(req->op, RP_SINK_SET_METADATA);
    ck_assert_str_eq(req->stream, "ckpt-src");
    ck_assert_int_eq(req->nevents, 1);
    rp_sink_req_event(req, 0, &ev);
    ck_assert(memcmp(ev.id, id, 16) == 0);
    ck_assert_int_eq(ev.type_len, 9);
    ck_assert(memcmp(ev.type, "$metadata", 9) == 0);
    ck_assert_int_eq(ev.data_json, 1);
    ck_assert_int_eq(ev.data_len, strlen("{\"$maxCount\":50}"));
    ck_assert(memcmp(ev.data, "{\"$maxCount\":50}", ev.data_len) == 0);
    answered(req, unknown("503 Service Unavailable"));
    ck_assert_int_eq(rp_sink_outage(sink, NULL), 0);
    req = rp_sink_next(sink, 0, 1);
    ck_assert(is_append(req, "s", RP_SINK_NO_STREAM, 1));
    answered(req, written(0));
    ck_assert_ptr_null(rp_sink_next(sink, 0, 1));
    ck_assert_int_eq(rp_sink_idle(sink), 1);
    /* Asked once per run. */
    rp_sink_cap_markers(sink, "ckpt-src", 50, id);
    ck_assert_ptr_null(rp_sink_next(sink, 0, 1));
}
END_TEST

START_TEST(test_sink_forgotten_stream_is_learned_again)
{
    struct rp_sink_options o;
    struct rp_sink_req *req;
    struct feed f = {0};

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
    answered(req, written(0));
    add(2, "b"); /* 'a' is idle and beyond the bound: forgotten */
    req = rp_sink_next(sink, 0, 1);
    ck_assert(is_append(req, "b", RP_SINK_NO_STREAM, 1));
    answered(req, written(0));
    add(3, "a");
    req = rp_sink_next(sink, 0, 1);
    ck_assert(is_append(req, "a", RP_SINK_NO_STREAM, 1));
    req = reply(req, wrong_version(0));
    ck_assert_int_eq(req->op, RP_SINK_READ_HEAD);
    ck_assert_str_eq(req->stream, "a");
    entry(&f, 0, 1, 0, "src");
    req = reply(req, feed(&f));
    ck_assert(is_append(req, "a", 0, 1));
}
END_TEST

Suite *sink_suite(void);

Suite *
sink_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s = rp_test_suite("sink", &core, &limits, &errors, setup, teardown);

    tcase_add_test(core, test_sink_batches_in_order_with_exact_versions);
    tcase_add_test(core, test_sink_events_in_neutral_form);
    tcase_add_test(core, test_sink_frontier_waits_for_every_stream);
    tcase_add_test(core, test_sink_retries_identical_request);
    tcase_add_test(core, test_sink_leader_elsewhere_resends_at_once);
    tcase_add_test(core, test_sink_learns_existing_stream_from_head);
    tcase_add_test(core, test_sink_written_without_number);
    tcase_add_test(core, test_sink_reconciles_partial_overlap);
    tcase_add_test(core, test_sink_frontier_counts_of_unacked_keys);
    tcase_add_test(core, test_sink_checkpoint_events);
    tcase_add_test(core, test_sink_checkpoint_fetched);
    tcase_add_test(core, test_sink_checkpoint_stream_deleted);
    tcase_add_test(core, test_sink_cap_markers_once);
    tcase_add_test(limits, test_sink_forgotten_stream_is_learned_again);
    tcase_add_test(limits, test_sink_in_flight_limit_and_full);
    tcase_add_test(limits, test_sink_buffer_bound_stops_reading);
    tcase_add_test(limits, test_sink_batch_bytes_limit);
    tcase_add_test(limits, test_sink_refuses_oversized_event);
    tcase_add_loop_test(errors, test_sink_stops_on_refusal, 0,
                        (int)(sizeof(stops) / sizeof(stops[0])));
    tcase_add_test(errors, test_sink_stops_on_unreadable_read);
    tcase_add_loop_test(errors, test_sink_stops_on_number_out_of_range, 0, 5);
    tcase_add_test(limits, test_sink_largest_number);
    tcase_add_test(errors, test_sink_conflict_on_foreign_head);
    tcase_add_test(errors, test_sink_conflict_on_foreign_event_after_version);
    tcase_add_test(errors, test_sink_stops_when_stream_lost_events);
    return s;
}
