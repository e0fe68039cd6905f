/* The gRPC message definitions (the .proto files, compiled by protoc-c) against
** the bytes of the protocol specification's worked exchanges: the field
** numbers, the oneof cases that are sent even when zero, and the 2^64-1
** "no stream" revision. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared.pb-c.h"
#include "streams.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "testutil.h"

/* Bytes written as in the specification: hex pairs separated by spaces, and
** "quoted" runs of ASCII.  Returns the number of bytes put in 'out'. */
static size_t
spec_bytes(unsigned char *out, size_t cap, const char *text)
{
    size_t n = 0;
    const char *p = text;

    while (*p != '\0') {
        if (*p == ' ' || *p == '\n') {
            p++;
        } else if (*p == '"') {
            for (p++; *p != '"'; p++) {
                ck_assert_msg(*p != '\0' && n < cap, "bad spec text");
                out[n++] = (unsigned char)*p;
            }
            p++;
        } else {
            char two[3] = {p[0], p[1], '\0'};
            char *end;
            unsigned long v = strtoul(two, &end, 16);

            ck_assert_msg(end == two + 2 && n < cap, "bad hex at '%s'", p);
            out[n++] = (unsigned char)v;
            p += 2;
        }
    }
    return n;
}

/* Pack 'm' and check that it gives exactly the bytes of 'text'. */
static void
check_packs_to(const ProtobufCMessage *m, const char *text)
{
    unsigned char want[1024], got[1024];
    size_t n = spec_bytes(want, sizeof(want), text);
    size_t len = protobuf_c_message_get_packed_size(m);

    ck_assert_uint_eq(len, n);
    ck_assert_uint_le(len, sizeof(got));
    ck_assert_uint_eq(protobuf_c_message_pack(m, got), n);
    ck_assert_mem_eq(got, want, n);
}

/* Spec 10.1, first message: options with stream "orders" and no_stream;
** the Empty case is sent as 1a 00. */
START_TEST(test_proto_append_options)
{
    unsigned char b[64];
    size_t n =
        spec_bytes(b, sizeof(b), "0a 0c 0a 08 1a 06 6f 72 64 65 72 73 1a 00");
    EventStore__Client__Streams__AppendReq *req;
    EventStore__Client__Streams__AppendReq__Options opt;
    EventStore__Client__Streams__AppendReq r;
    EventStore__Client__StreamIdentifier sid;
    EventStore__Client__Empty empty;

    req = event_store__client__streams__append_req__unpack(NULL, n, b);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(req->content_case,
                     EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__CONTENT_OPTIONS);
    ck_assert_uint_eq(req->options->stream_identifier->stream_name.len, 6);
    ck_assert_mem_eq(req->options->stream_identifier->stream_name.data,
                     "orders", 6);
    ck_assert_int_eq(
        req->options->expected_stream_revision_case,
        EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__OPTIONS__EXPECTED_STREAM_REVISION_NO_STREAM);
    event_store__client__streams__append_req__free_unpacked(req, NULL);

    /* Revision 0 is a oneof case: sent as 10 00. */
    event_store__client__streams__append_req__init(&r);
    event_store__client__streams__append_req__options__init(&opt);
    event_store__client__stream_identifier__init(&sid);
    event_store__client__empty__init(&empty);
    sid.stream_name.data = (uint8_t *)(uintptr_t) "orders";
    sid.stream_name.len = 6;
    opt.stream_identifier = &sid;
    opt.expected_stream_revision_case =
        EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__OPTIONS__EXPECTED_STREAM_REVISION_REVISION;
    opt.revision = 0;
    r.content_case = EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__CONTENT_OPTIONS;
    r.options = &opt;
    check_packs_to(&r.base, "0a 0c 0a 08 1a 06 \"orders\" 10 00");
    opt.expected_stream_revision_case =
        EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__OPTIONS__EXPECTED_STREAM_REVISION_ANY;
    opt.any = &empty;
    check_packs_to(&r.base, "0a 0c 0a 08 1a 06 \"orders\" 22 00");
}
END_TEST

/* Spec 10.1, second message: one event with a structured id (the low half
** negative, a 10-byte varint), its metadata map and data. */
START_TEST(test_proto_proposed_message)
{
    unsigned char b[128];
    size_t n =
        spec_bytes(b, sizeof(b),
                   "12 59 0a 17 0a 15 08 f0 9e b9 eb c5 e9 8a 8d 3f"
                   " 10 f8 cf db ae cc f6 a8 c9 81 01"
                   " 12 13 0a 04 \"type\" 12 0b \"OrderPlaced\""
                   " 12 20 0a 0c \"content-type\" 12 10 \"application/json\""
                   " 22 07 7b 22 6e 22 3a 31 7d");
    EventStore__Client__Streams__AppendReq *req;
    EventStore__Client__Streams__AppendReq__ProposedMessage *pm;

    req = event_store__client__streams__append_req__unpack(NULL, n, b);
    ck_assert_ptr_nonnull(req);
    pm = req->proposed_message;
    ck_assert_ptr_nonnull(pm);
    ck_assert_int_eq(pm->id->value_case,
                     EVENT_STORE__CLIENT__UUID__VALUE_STRUCTURED);
    ck_assert_uint_eq((uint64_t)pm->id->structured->most_significant_bits,
                      UINT64_C(0x3f1a2b4c5d6e4f70));
    ck_assert_uint_eq((uint64_t)pm->id->structured->least_significant_bits,
                      UINT64_C(0x8192a3b4c5d6e7f8));
    ck_assert_uint_eq(pm->n_metadata, 2);
    ck_assert_str_eq(pm->metadata[0]->key, "type");
    ck_assert_str_eq(pm->metadata[0]->value, "OrderPlaced");
    ck_assert_str_eq(pm->metadata[1]->key, "content-type");
    ck_assert_str_eq(pm->metadata[1]->value, "application/json");
    ck_assert_uint_eq(pm->data.len, 7);
    ck_assert_mem_eq(pm->data.data, "{\"n\":1}", 7);
    ck_assert_uint_eq(pm->custom_metadata.len, 0);
    event_store__client__streams__append_req__free_unpacked(req, NULL);
}
END_TEST

/* Spec 10.1 and 10.3: the success answer, and a wrong expected version with
** both the 20.6.0 fields and the later ones, for a revision and for
** no_stream (2^64-1 in field 3). */
START_TEST(test_proto_append_resp)
{
    EventStore__Client__Streams__AppendResp r;
    EventStore__Client__Streams__AppendResp__Success ok;
    EventStore__Client__Streams__AppendResp__Position pos;
    EventStore__Client__Streams__AppendResp__WrongExpectedVersion w;
    Google__Protobuf__Empty empty;

    event_store__client__streams__append_resp__init(&r);
    event_store__client__streams__append_resp__success__init(&ok);
    event_store__client__streams__append_resp__position__init(&pos);
    pos.commit_position = pos.prepare_position = 4242;
    ok.current_revision_option_case =
        EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__SUCCESS__CURRENT_REVISION_OPTION_CURRENT_REVISION;
    ok.current_revision = 1;
    ok.position_option_case =
        EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__SUCCESS__POSITION_OPTION_POSITION;
    ok.position = &pos;
    r.result_case = EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__RESULT_SUCCESS;
    r.success = &ok;
    check_packs_to(&r.base, "0a 0a 08 01 1a 06 08 92 21 10 92 21");

    event_store__client__streams__append_resp__wrong_expected_version__init(&w);
    google__protobuf__empty__init(&empty);
    w.current_revision_option_20_6_0_case =
        EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__CURRENT_REVISION_OPTION_20_6_0_CURRENT_REVISION_20_6_0;
    w.current_revision_20_6_0 = 1;
    w.expected_revision_option_20_6_0_case =
        EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__EXPECTED_REVISION_OPTION_20_6_0_EXPECTED_REVISION_20_6_0;
    w.expected_revision_20_6_0 = 0;
    w.current_revision_option_case =
        EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__CURRENT_REVISION_OPTION_CURRENT_REVISION;
    w.current_revision = 1;
    w.expected_revision_option_case =
        EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__EXPECTED_REVISION_OPTION_EXPECTED_REVISION;
    w.expected_revision = 0;
    r.result_case =
        EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__RESULT_WRONG_EXPECTED_VERSION;
    r.wrong_expected_version = &w;
    check_packs_to(&r.base, "12 08 08 01 18 00 30 01 40 00");

    w.expected_revision_20_6_0 = UINT64_MAX;
    w.expected_revision_option_case =
        EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__EXPECTED_REVISION_OPTION_EXPECTED_NO_STREAM;
    w.expected_no_stream = &empty;
    check_packs_to(&r.base,
                   "12 11 08 01 18 ff ff ff ff ff ff ff ff ff 01 30 01 5a 00");
}
END_TEST

/* Spec 10.2: a backwards read of one event from the end, as the official
** clients send it (no_filter, structured ids, compatibility 1). */
START_TEST(test_proto_read_req)
{
    EventStore__Client__Streams__ReadReq r;
    EventStore__Client__Streams__ReadReq__Options o;
    EventStore__Client__Streams__ReadReq__Options__StreamOptions so;
    EventStore__Client__Streams__ReadReq__Options__UUIDOption uo;
    EventStore__Client__Streams__ReadReq__Options__ControlOption co;
    EventStore__Client__StreamIdentifier sid;
    EventStore__Client__Empty empty;

    event_store__client__streams__read_req__init(&r);
    event_store__client__streams__read_req__options__init(&o);
    event_store__client__streams__read_req__options__stream_options__init(&so);
    event_store__client__streams__read_req__options__uuidoption__init(&uo);
    event_store__client__streams__read_req__options__control_option__init(&co);
    event_store__client__stream_identifier__init(&sid);
    event_store__client__empty__init(&empty);
    sid.stream_name.data = (uint8_t *)(uintptr_t) "orders";
    sid.stream_name.len = 6;
    so.stream_identifier = &sid;
    so.revision_option_case =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__STREAM_OPTIONS__REVISION_OPTION_END;
    so.end = &empty;
    uo.content_case =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__UUIDOPTION__CONTENT_STRUCTURED;
    uo.structured = &empty;
    co.compatibility = 1;
    o.stream_option_case =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__STREAM_OPTION_STREAM;
    o.stream = &so;
    o.read_direction =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__READ_DIRECTION__Backwards;
    o.count_option_case =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__COUNT_OPTION_COUNT;
    o.count = 1;
    o.filter_option_case =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTION_NO_FILTER;
    o.no_filter = &empty;
    o.uuid_option = &uo;
    o.control_option = &co;
    r.options = &o;
    check_packs_to(&r.base, "0a 1c 0a 0c 0a 08 1a 06 \"orders\" 22 00 18 01"
                            " 28 01 42 00 4a 02 0a 00 52 02 08 01");
}
END_TEST

/* Spec 10.2: the event of the answer, then last_stream_position, and the
** answer for a missing stream. */
START_TEST(test_proto_read_resp)
{
    unsigned char b[256];
    size_t n =
        spec_bytes(b, sizeof(b),
                   "0a 8d 01 0a 87 01"
                   " 0a 17 0a 15 08 db 94 fd e9 a1 85 93 bf 0b"
                   " 10 ad f8 ac d2 f5 cd df c6 9c 01"
                   " 12 08 1a 06 \"orders\" 18 01 20 92 21 28 92 21"
                   " 32 11 0a 04 \"type\" 12 09 \"OrderPaid\""
                   " 32 1c 0a 07 \"created\" 12 11 \"17534016000000000\""
                   " 32 20 0a 0c \"content-type\" 12 10 \"application/json\""
                   " 42 07 7b 22 6e 22 3a 32 7d 18 92 21");
    EventStore__Client__Streams__ReadResp *r;
    EventStore__Client__Streams__ReadResp__ReadEvent__RecordedEvent *e;

    r = event_store__client__streams__read_resp__unpack(NULL, n, b);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->content_case,
                     EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_EVENT);
    ck_assert_int_eq(
        r->event->position_case,
        EVENT_STORE__CLIENT__STREAMS__READ_RESP__READ_EVENT__POSITION_COMMIT_POSITION);
    ck_assert_uint_eq(r->event->commit_position, 4242);
    e = r->event->event;
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_null(r->event->link);
    ck_assert_uint_eq((uint64_t)e->id->structured->most_significant_bits,
                      UINT64_C(0x0b7e4c2a1d3f4a5b));
    ck_assert_uint_eq((uint64_t)e->id->structured->least_significant_bits,
                      UINT64_C(0x9c8d7e6f5a4b3c2d));
    ck_assert_uint_eq(e->stream_revision, 1);
    ck_assert_uint_eq(e->prepare_position, 4242);
    ck_assert_uint_eq(e->commit_position, 4242);
    ck_assert_uint_eq(e->n_metadata, 3);
    ck_assert_str_eq(e->metadata[1]->key, "created");
    ck_assert_str_eq(e->metadata[1]->value, "17534016000000000");
    ck_assert_mem_eq(e->data.data, "{\"n\":2}", 7);
    event_store__client__streams__read_resp__free_unpacked(r, NULL);

    n = spec_bytes(b, sizeof(b), "30 01");
    r = event_store__client__streams__read_resp__unpack(NULL, n, b);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(
        r->content_case,
        EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_LAST_STREAM_POSITION);
    ck_assert_uint_eq(r->last_stream_position, 1);
    event_store__client__streams__read_resp__free_unpacked(r, NULL);

    n = spec_bytes(b, sizeof(b), "22 0a 0a 08 1a 06 \"orders\"");
    r = event_store__client__streams__read_resp__unpack(NULL, n, b);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(
        r->content_case,
        EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_STREAM_NOT_FOUND);
    ck_assert_mem_eq(r->stream_not_found->stream_identifier->stream_name.data,
                     "orders", 6);
    event_store__client__streams__read_resp__free_unpacked(r, NULL);
}
END_TEST

/* Spec 10.4: a BatchAppend wrong expected version, a google.rpc.Status
** whose one detail is an Any holding a WrongExpectedVersion. */
START_TEST(test_proto_batch_append_error)
{
    static const char corr[] = "a1b2c3d4-0000-4000-8000-000000000001";
    static const char url[] =
        "type.googleapis.com/event_store.client.WrongExpectedVersion";
    EventStore__Client__Streams__BatchAppendResp r;
    EventStore__Client__UUID id;
    EventStore__Client__StreamIdentifier sid;
    EventStore__Client__WrongExpectedVersion w;
    Google__Rpc__Status st;
    Google__Protobuf__Any any;
    uint8_t detail[16];

    event_store__client__wrong_expected_version__init(&w);
    w.current_stream_revision_option_case =
        EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__CURRENT_STREAM_REVISION_OPTION_CURRENT_STREAM_REVISION;
    w.current_stream_revision = 2;
    w.expected_stream_position_option_case =
        EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__EXPECTED_STREAM_POSITION_OPTION_EXPECTED_STREAM_POSITION;
    w.expected_stream_position = 1;
    ck_assert_uint_eq(
        event_store__client__wrong_expected_version__pack(&w, detail), 4);
    google__protobuf__any__init(&any);
    any.type_url = (char *)(uintptr_t)url;
    any.value.data = detail;
    any.value.len = 4;
    google__rpc__status__init(&st);
    st.code = 6;
    st.message = (char *)(uintptr_t) "WrongExpectedVersion";
    st.details = &any;
    event_store__client__uuid__init(&id);
    id.value_case = EVENT_STORE__CLIENT__UUID__VALUE_STRING;
    id.string = (char *)(uintptr_t)corr;
    event_store__client__stream_identifier__init(&sid);
    sid.stream_name.data = (uint8_t *)(uintptr_t) "orders";
    sid.stream_name.len = 6;
    event_store__client__streams__batch_append_resp__init(&r);
    r.correlation_id = &id;
    r.result_case =
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__RESULT_ERROR;
    r.error = &st;
    r.stream_identifier = &sid;
    check_packs_to(
        &r.base,
        "0a 26 12 24 \"a1b2c3d4-0000-4000-8000-000000000001\""
        " 12 5d 08 06 12 14 \"WrongExpectedVersion\""
        " 1a 43 0a 3b "
        "\"type.googleapis.com/event_store.client.WrongExpectedVersion\""
        " 12 04 08 02 18 01 22 08 1a 06 \"orders\"");
}
END_TEST

/* Cut short or with a wrong wire type, a message does not parse. */
START_TEST(test_proto_truncated)
{
    unsigned char b[64];
    size_t n =
        spec_bytes(b, sizeof(b), "0a 0c 0a 08 1a 06 6f 72 64 65 72 73 1a 00");

    /* The options field spans the whole message: every cut breaks it. */
    for (size_t cut = 1; cut < n; cut++)
        ck_assert_ptr_null(
            event_store__client__streams__append_req__unpack(NULL, cut, b));
    /* Field 1 as a varint instead of a message. */
    n = spec_bytes(b, sizeof(b), "08 01");
    ck_assert_ptr_null(
        event_store__client__streams__append_req__unpack(NULL, n, b));
}
END_TEST

Suite *proto_suite(void);

Suite *
proto_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s = rp_test_suite("proto", &core, &limits, &errors, NULL, NULL);

    tcase_add_test(core, test_proto_append_options);
    tcase_add_test(core, test_proto_proposed_message);
    tcase_add_test(core, test_proto_append_resp);
    tcase_add_test(core, test_proto_read_req);
    tcase_add_test(core, test_proto_read_resp);
    tcase_add_test(limits, test_proto_batch_append_error);
    tcase_add_test(errors, test_proto_truncated);
    return s;
}
