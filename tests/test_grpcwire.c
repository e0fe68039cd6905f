/* Tests of gRPC on the wire: length-prefixed messages across any cut, the
** status of a call from its headers and trailers, and the sink's
** operations as requests, byte for byte against the protocol
** specification's worked exchanges where it has them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "grpcwire.h"
#include "log.h"
#include "sink.h"
#include "streams.pb-c.h"
#include "testutil.h"

static struct rp_sink *sink;
static struct rp_grpc_enc enc;
static struct rp_buf out;
static struct rp_error err;

static void
setup(void)
{
    rp_log_set_level(RP_LOG_ERROR);
    memset(&err, 0, sizeof(err));
    rp_grpc_enc_init(&enc);
    rp_buf_init(&out, 0);
}

static void
teardown(void)
{
    rp_sink_free(sink);
    sink = NULL;
    rp_grpc_enc_dispose(&enc);
    rp_buf_dispose(&out);
}

/* A sink holding record 1 with the events 'n' events of 'types' (with the
** ids 'ids', data 'datas', no metadata) for stream 'stream'. */
static void
make_sink(const char *stream, size_t n, const char *const *ids,
          const char *const *types, const char *const *datas)
{
    struct rp_sink_options o;
    struct rp_record rec;

    memset(&o, 0, sizeof(o));
    o.source_id = "src";
    o.batch_events = 100;
    o.batch_bytes = 1 << 20;
    o.max_in_flight = 4;
    ck_assert_int_eq(rp_sink_new(&sink, &o, NULL, &err), 0);
    memset(&rec, 0, sizeof(rec));
    rec.store_version = 1;
    rec.stream_version = 1;
    rec.key = "k";
    rec.key_len = 1;
    rec.file = "0.dat";
    ck_assert_int_eq(rp_sink_add_record(sink, &rec, &err), 0);
    for (size_t i = 0; i < n; i++) {
        struct rp_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.stream = stream;
        ev.stream_len = strlen(stream);
        ev.type = types[i];
        ev.type_len = strlen(types[i]);
        ev.data = datas[i];
        ev.data_len = strlen(datas[i]);
        ev.store_version = 1;
        ev.index = (uint32_t)i;
        ck_assert_int_eq(rp_event_parse_id(ev.id, ids[i], 36), 0);
        ck_assert_int_eq(rp_sink_add_event(sink, &ev, &err), 0);
    }
}

/* Check that 'out' holds, from 'off', one frame carrying exactly 'text'
** (rp_test_bytes form).  Returns the offset after it. */
static size_t
expect_frame(size_t off, const char *text)
{
    unsigned char want[512];
    size_t n = rp_test_bytes(want, sizeof(want), text);
    const unsigned char *p = (const unsigned char *)out.data + off;

    ck_assert_uint_ge(out.len - off, n + 5);
    ck_assert_uint_eq(p[0], 0);
    ck_assert_uint_eq(
        (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4], n);
    ck_assert_mem_eq(p + 5, want, n);
    return off + 5 + n;
}

static const char *const spec_ids[] = {"3f1a2b4c-5d6e-4f70-8192-a3b4c5d6e7f8",
                                       "0b7e4c2a-1d3f-4a5b-9c8d-7e6f5a4b3c2d"};
static const char *const spec_types[] = {"OrderPlaced", "OrderPaid"};
static const char *const spec_datas[] = {"{\"n\":1}", "{\"n\":2}"};

/* Spec 10.1: two events to a new stream "orders". */
START_TEST(test_grpcwire_append_as_the_spec_shows)
{
    struct rp_sink_req *req;
    size_t off;

    make_sink("orders", 2, spec_ids, spec_types, spec_datas);
    req = rp_sink_next(sink, 0, 1);
    ck_assert_int_eq(rp_grpc_append_request(&out, &enc, req), 0);
    off = expect_frame(0, "0a 0c 0a 08 1a 06 6f 72 64 65 72 73 1a 00");
    off = expect_frame(
        off, "12 59 0a 17 0a 15 08 f0 9e b9 eb c5 e9 8a 8d 3f"
             " 10 f8 cf db ae cc f6 a8 c9 81 01"
             " 12 13 0a 04 \"type\" 12 0b \"OrderPlaced\""
             " 12 20 0a 0c \"content-type\" 12 10 \"application/json\""
             " 22 07 7b 22 6e 22 3a 31 7d");
    off = expect_frame(
        off, "12 57 0a 17 0a 15 08 db 94 fd e9 a1 85 93 bf 0b 10 ad f8 ac d2 "
             "f5 cd df c6 9c 01"
             " 12 11 0a 04 74 79 70 65 12 09 4f 72 64 65 72 50 61 69 64"
             " 12 20 0a 0c 63 6f 6e 74 65 6e 74 2d 74 79 70 65 12 10 61 70 "
             "70 6c 69 63 61 74 69 6f 6e 2f 6a 73 6f 6e"
             " 22 07 7b 22 6e 22 3a 32 7d");
    ck_assert_uint_eq(off, out.len);
}
END_TEST

/* An exact expected revision, 0 included (a oneof case, sent as 10 00),
** and the metadata write to the metastream with "any". */
START_TEST(test_grpcwire_append_revisions)
{
    struct rp_sink_req *req;
    static const unsigned char id[16] = {9, 0, 0, 0, 0, 0, 0x50, 0, 0x80};
    EventStore__Client__Streams__AppendReq *m;
    const unsigned char *msg;
    size_t len;
    struct rp_grpc_reader rd;

    make_sink("orders", 1, spec_ids, spec_types, spec_datas);
    req = rp_sink_next(sink, 0, 1);
    req->expected = 0;
    ck_assert_int_eq(rp_grpc_append_request(&out, &enc, req), 0);
    expect_frame(0, "0a 0c 0a 08 1a 06 \"orders\" 10 00");
    rp_buf_reset(&out);
    req->expected = 300;
    ck_assert_int_eq(rp_grpc_append_request(&out, &enc, req), 0);
    expect_frame(0, "0a 0d 0a 08 1a 06 \"orders\" 10 ac 02");
    /* The checkpoint stream's $maxCount. */
    rp_sink_free(sink);
    make_sink("s", 0, spec_ids, spec_types, spec_datas);
    rp_sink_cap_markers(sink, "ckpt", 50, id);
    req = rp_sink_next(sink, 0, 1);
    rp_buf_reset(&out);
    ck_assert_int_eq(rp_grpc_append_request(&out, &enc, req), 0);
    expect_frame(0, "0a 0c 0a 08 1a 06 \"$$ckpt\" 22 00");
    rp_grpc_reader_init(&rd);
    rp_grpc_reader_feed(&rd, out.data, out.len);
    ck_assert_int_eq(rp_grpc_reader_next(&rd, &msg, &len, &err), 1);
    ck_assert_int_eq(rp_grpc_reader_next(&rd, &msg, &len, &err), 1);
    m = event_store__client__streams__append_req__unpack(NULL, len, msg);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(m->proposed_message);
    ck_assert_int_eq(m->proposed_message->n_metadata, 2);
    ck_assert_str_eq(m->proposed_message->metadata[0]->value, "$metadata");
    ck_assert_str_eq(m->proposed_message->metadata[1]->value,
                     "application/json");
    ck_assert_uint_eq(m->proposed_message->data.len, 16);
    ck_assert_mem_eq(m->proposed_message->data.data, "{\"$maxCount\":50}", 16);
    event_store__client__streams__append_req__free_unpacked(m, NULL);
    ck_assert_int_eq(rp_grpc_reader_next(&rd, &msg, &len, &err), 0);
    rp_grpc_reader_dispose(&rd);
}
END_TEST

/* Spec 10.2: the last event of "orders"; a forward read from 5. */
START_TEST(test_grpcwire_read_as_the_spec_shows)
{
    struct rp_sink_req req;

    memset(&req, 0, sizeof(req));
    req.op = RP_SINK_READ_HEAD;
    req.stream = "orders";
    req.stream_len = 6;
    req.count = 1;
    ck_assert_int_eq(rp_grpc_read_request(&out, &enc, &req, 100), 0);
    expect_frame(0, "0a 1c 0a 0c 0a 08 1a 06 \"orders\" 22 00 18 01 28 01"
                    " 42 00 4a 02 0a 00 52 02 08 01");
    rp_buf_reset(&out);
    req.op = RP_SINK_READ_FORWARD;
    req.from = 5;
    req.count = 250; /* at most 100 */
    ck_assert_int_eq(rp_grpc_read_request(&out, &enc, &req, 100), 0);
    expect_frame(0, "0a 1a 0a 0c 0a 08 1a 06 \"orders\" 10 05 28 64"
                    " 42 00 4a 02 0a 00 52 02 08 01");
}
END_TEST

/* BatchAppend: options in the first message, is_final in the last, a new
** message before one passes the chunk size; the deadline as asked. */
START_TEST(test_grpcwire_batch_chunks)
{
    static const char *const ids[] = {"00000000-0000-4000-8000-000000000001",
                                      "00000000-0000-4000-8000-000000000002",
                                      "00000000-0000-4000-8000-000000000003"};
    static const char *const types[] = {"A", "B", "C"};
    static const char *const datas[] = {"[1]", "[22]", "[333]"};
    static const unsigned char corr[16] = {1, 2,  3,  4,  5,  6,  7,  8,
                                           9, 10, 11, 12, 13, 14, 15, 16};
    struct rp_grpc_deadline dl = {1, 5, 0};
    struct rp_sink_req *req;
    struct rp_grpc_reader rd;
    const unsigned char *msg;
    size_t len, events = 0;
    int n = 0;

    make_sink("orders", 3, ids, types, datas);
    req = rp_sink_next(sink, 0, 1);
    req->expected = 1;
    /* Each event is about 90 bytes: two chunks of at most 200. */
    ck_assert_int_eq(rp_grpc_batch_request(&out, &enc, req, corr, &dl, 200), 0);
    rp_grpc_reader_init(&rd);
    rp_grpc_reader_feed(&rd, out.data, out.len);
    while (rp_grpc_reader_next(&rd, &msg, &len, &err) == 1) {
        EventStore__Client__Streams__BatchAppendReq *m =
            event_store__client__streams__batch_append_req__unpack(NULL, len,
                                                                   msg);
        unsigned char got[16];

        ck_assert_ptr_nonnull(m);
        ck_assert_ptr_nonnull(m->correlation_id);
        rp_grpc_uuid_bytes(
            got, m->correlation_id->structured->most_significant_bits,
            m->correlation_id->structured->least_significant_bits);
        ck_assert_mem_eq(got, corr, 16);
        if (n == 0) {
            ck_assert_ptr_nonnull(m->options);
            ck_assert_uint_eq(m->options->stream_position, 1);
            ck_assert_int_eq(
                m->options->deadline_option_case,
                EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__OPTIONS__DEADLINE_OPTION_DEADLINE);
            ck_assert_int_eq(m->options->deadline->seconds, 5);
        } else {
            ck_assert_ptr_null(m->options);
        }
        for (size_t i = 0; i < m->n_proposed_messages; i++, events++) {
            ck_assert_str_eq(m->proposed_messages[i]->metadata[0]->value,
                             types[events]);
            ck_assert_uint_eq(m->proposed_messages[i]->data.len,
                              strlen(datas[events]));
        }
        ck_assert_int_eq(m->is_final, events == 3);
        event_store__client__streams__batch_append_req__free_unpacked(m, NULL);
        n++;
    }
    ck_assert_int_eq(n, 2);
    ck_assert_uint_eq(events, 3);
    rp_grpc_reader_dispose(&rd);
    /* One message when the chunk is large; a Timestamp deadline. */
    rp_buf_reset(&out);
    dl.duration = 0;
    dl.seconds = 1700000000;
    ck_assert_int_eq(rp_grpc_batch_request(&out, &enc, req, corr, &dl, 1 << 20),
                     0);
    {
        EventStore__Client__Streams__BatchAppendReq *m =
            event_store__client__streams__batch_append_req__unpack(
                NULL, out.len - 5, (const uint8_t *)out.data + 5);

        ck_assert_ptr_nonnull(m);
        ck_assert_int_eq(m->n_proposed_messages, 3);
        ck_assert_int_eq(m->is_final, 1);
        ck_assert_int_eq(
            m->options->deadline_option_case,
            EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__OPTIONS__DEADLINE_OPTION_DEADLINE_21_10_0);
        ck_assert_int_eq(m->options->deadline_21_10_0->seconds, 1700000000);
        event_store__client__streams__batch_append_req__free_unpacked(m, NULL);
    }
}
END_TEST

/* Data that is not JSON goes as application/octet-stream. */
START_TEST(test_grpcwire_binary_content_type)
{
    struct rp_sink_req *req;
    struct rp_grpc_reader rd;
    const unsigned char *msg;
    size_t len;
    EventStore__Client__Streams__AppendReq *m;
    struct rp_sink_event ev;

    make_sink("orders", 1, spec_ids, spec_types, spec_datas);
    req = rp_sink_next(sink, 0, 1);
    rp_sink_req_event(req, 0, &ev);
    ck_assert_int_eq(ev.data_json, 1);
    ck_assert_int_eq(rp_grpc_append_request(&out, &enc, req), 0);
    rp_grpc_reader_init(&rd);
    rp_grpc_reader_feed(&rd, out.data, out.len);
    rp_grpc_reader_next(&rd, &msg, &len, &err);
    ck_assert_int_eq(rp_grpc_reader_next(&rd, &msg, &len, &err), 1);
    m = event_store__client__streams__append_req__unpack(NULL, len, msg);
    ck_assert_str_eq(m->proposed_message->metadata[1]->key, "content-type");
    ck_assert_str_eq(m->proposed_message->metadata[1]->value,
                     "application/json");
    event_store__client__streams__append_req__free_unpacked(m, NULL);
    rp_grpc_reader_dispose(&rd);
}
END_TEST

/* Messages split at every byte come out whole. */
START_TEST(test_grpcwire_reader_any_cut)
{
    struct rp_grpc_reader rd;
    const unsigned char *msg;
    size_t len;
    int got = 0;

    rp_grpc_frame(&out, "abc", 3);
    rp_grpc_frame(&out, "", 0);
    rp_grpc_frame(&out, "hello", 5);
    rp_grpc_reader_init(&rd);
    for (size_t i = 0; i < out.len; i++) {
        rp_grpc_reader_feed(&rd, out.data + i, 1);
        while (rp_grpc_reader_next(&rd, &msg, &len, &err) == 1) {
            if (got == 0)
                ck_assert(len == 3 && memcmp(msg, "abc", 3) == 0);
            else if (got == 1)
                ck_assert_uint_eq(len, 0);
            else
                ck_assert(len == 5 && memcmp(msg, "hello", 5) == 0);
            got++;
        }
    }
    ck_assert_int_eq(got, 3);
    ck_assert_int_eq(rp_grpc_reader_partial(&rd), 0);
    rp_grpc_reader_feed(&rd, "\0\0\0", 3);
    ck_assert_int_eq(rp_grpc_reader_next(&rd, &msg, &len, &err), 0);
    ck_assert_int_eq(rp_grpc_reader_partial(&rd), 1);
    rp_grpc_reader_dispose(&rd);
}
END_TEST

START_TEST(test_grpcwire_reader_refuses)
{
    struct rp_grpc_reader rd;
    const unsigned char *msg;
    size_t len;

    rp_grpc_reader_init(&rd);
    rp_grpc_reader_feed(&rd, "\1\0\0\0\1x", 6);
    ck_assert_int_eq(rp_grpc_reader_next(&rd, &msg, &len, &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "compressed"));
    rp_grpc_reader_reset(&rd);
    rp_grpc_reader_feed(&rd, "\0\x7f\xff\xff\xff", 5);
    ck_assert_int_eq(rp_grpc_reader_next(&rd, &msg, &len, &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "2147483647 bytes"));
    rp_grpc_reader_dispose(&rd);
}
END_TEST

START_TEST(test_grpcwire_status_lines)
{
    struct rp_grpc_status st;
    static const char *const lines[] = {
        "HTTP/2 200 \r\n",
        "content-type: application/grpc\r\n",
        "Grpc-Status: 5\r\n",
        "grpc-message: Leader info available%0A 100%25\r\n",
        "exception: not-leader\r\n",
        "leader-endpoint-host: node2.example\r\n",
        "leader-endpoint-port: 2114\r\n",
        "maximum-append-size: 1048576\r\n",
        "grpc-retry-pushback-ms: 250\r\n",
    };

    rp_grpc_status_init(&st);
    ck_assert_int_eq(st.code, -1);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        rp_grpc_status_header(&st, lines[i], strlen(lines[i]));
    ck_assert_int_eq(st.http_version, 2);
    ck_assert_int_eq(st.http_status, 200);
    ck_assert_int_eq(st.grpc_content, 1);
    ck_assert_int_eq(st.code, 5);
    ck_assert_str_eq(st.message, "Leader info available  100%");
    ck_assert_str_eq(st.exception, "not-leader");
    ck_assert_str_eq(st.leader_host, "node2.example");
    ck_assert_int_eq(st.leader_port, 2114);
    ck_assert_str_eq(st.limit, "1048576");
    ck_assert_int_eq(st.pushback_ms, 250);
    /* An HTTP/1.1 answer, another content type, a bad status number. */
    rp_grpc_status_init(&st);
    rp_grpc_status_header(&st, "HTTP/1.1 404 Not Found", 22);
    rp_grpc_status_header(&st, "Content-Type: text/html", 23);
    rp_grpc_status_header(&st, "grpc-status: x", 14);
    rp_grpc_status_header(&st, "leader-endpoint-port: 70000", 27);
    ck_assert_int_eq(st.http_version, 1);
    ck_assert_int_eq(st.http_status, 404);
    ck_assert_int_eq(st.grpc_content, 0);
    ck_assert_str_eq(st.content_type, "text/html");
    ck_assert_int_eq(st.code, 2);
    ck_assert_int_eq(st.leader_port, 0);
    rp_grpc_status_header(&st, "content-type: application/grpc+proto", 36);
    ck_assert_int_eq(st.grpc_content, 1);
}
END_TEST

/* Spec 4.1: the structured halves of a UUID, the low one negative. */
START_TEST(test_grpcwire_uuid_halves)
{
    unsigned char id[16], back[16];
    int64_t msb, lsb;

    ck_assert_int_eq(rp_event_parse_id(id, spec_ids[0], 36), 0);
    rp_grpc_uuid_halves(id, &msb, &lsb);
    ck_assert(msb == INT64_C(4546994380768956272));
    ck_assert(lsb == INT64_C(-9110039099408455688));
    rp_grpc_uuid_bytes(back, msb, lsb);
    ck_assert_mem_eq(back, id, 16);
    memset(id, 0xff, 16);
    rp_grpc_uuid_halves(id, &msb, &lsb);
    ck_assert(msb == -1 && lsb == -1);
    memset(id, 0, 16);
    id[0] = 0x80;
    rp_grpc_uuid_halves(id, &msb, &lsb);
    ck_assert(msb == INT64_MIN && lsb == 0);
}
END_TEST

Suite *grpcwire_suite(void);

Suite *
grpcwire_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s =
        rp_test_suite("grpcwire", &core, &limits, &errors, setup, teardown);

    tcase_add_test(core, test_grpcwire_append_as_the_spec_shows);
    tcase_add_test(core, test_grpcwire_append_revisions);
    tcase_add_test(core, test_grpcwire_read_as_the_spec_shows);
    tcase_add_test(core, test_grpcwire_batch_chunks);
    tcase_add_test(core, test_grpcwire_binary_content_type);
    tcase_add_test(core, test_grpcwire_status_lines);
    tcase_add_test(core, test_grpcwire_uuid_halves);
    tcase_add_test(limits, test_grpcwire_reader_any_cut);
    tcase_add_test(errors, test_grpcwire_reader_refuses);
    return s;
}
