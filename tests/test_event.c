/* Tests of the event list and the deterministic ids. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "util.h"
#include "testutil.h"

static void
fill(struct rp_event *e, const char *stream, const char *type, const char *data,
     const char *meta)
{
    memset(e, 0, sizeof(*e));
    e->stream = stream;
    e->stream_len = strlen(stream);
    e->type = type;
    e->type_len = strlen(type);
    e->data = data;
    e->data_len = strlen(data);
    e->metadata = meta;
    e->metadata_len = meta ? strlen(meta) : 0;
}

START_TEST(test_event_list_grows_and_keeps_strings)
{
    struct rp_events *l;
    struct rp_event e;
    char stream[32], data[64];

    rp_events_new(&l);
    for (int i = 0; i < 1000; i++) {
        snprintf(stream, sizeof(stream), "s-%d", i);
        snprintf(data, sizeof(data), "{\"n\":%d}", i);
        fill(&e, stream, "T", data, i % 2 ? "{}" : NULL);
        e.index = (uint32_t)i;
        rp_events_add(l, &e);
    }
    ck_assert_uint_eq(rp_events_count(l), 1000);
    for (int i = 0; i < 1000; i++) {
        const struct rp_event *g = rp_events_get(l, (size_t)i);

        snprintf(stream, sizeof(stream), "s-%d", i);
        snprintf(data, sizeof(data), "{\"n\":%d}", i);
        ck_assert_str_eq(g->stream, stream);
        ck_assert_uint_eq(g->stream_len, strlen(stream));
        ck_assert_str_eq(g->data, data);
        ck_assert_uint_eq(g->index, (unsigned)i);
        if (i % 2)
            ck_assert_str_eq(g->metadata, "{}");
        else
            ck_assert_ptr_null(g->metadata);
    }
    rp_events_truncate(l, 10);
    ck_assert_uint_eq(rp_events_count(l), 10);
    fill(&e, "after", "T2", "\"x\"", NULL);
    rp_events_add(l, &e);
    ck_assert_str_eq(rp_events_get(l, 10)->stream, "after");
    ck_assert_str_eq(rp_events_get(l, 9)->stream, "s-9");
    rp_events_reset(l);
    ck_assert_uint_eq(rp_events_count(l), 0);
    ck_assert_uint_eq(rp_events_text_bytes(l), 0);
    rp_events_free(l);
}
END_TEST

START_TEST(test_event_ids_match_uuid5)
{
    struct rp_idgen g, o;
    unsigned char a[16], b[16], c[16], again[16];
    char text[37];

    /* Expected values computed independently with Python's uuid.uuid5 in
    ** the namespace 3822e085-220c-4544-9f46-076565025288. */
    rp_idgen_init(&g, "sample-tapes", 12);
    rp_idgen_make(&g, 1, 0, a);
    rp_event_format_id(text, a);
    ck_assert_str_eq(text, "6d61517b-187f-5499-875d-cb4d1fa69976");
    rp_idgen_make(&g, 1, 1, b);
    rp_event_format_id(text, b);
    ck_assert_str_eq(text, "41ca9a4f-3844-55f2-8203-27b2787d0099");
    rp_idgen_init(&o, "other", 5);
    rp_idgen_make(&o, 1, 0, c);
    rp_event_format_id(text, c);
    ck_assert_str_eq(text, "3c190d44-85ab-54df-bcbe-a03fa81927a8");
    rp_idgen_make(&g, 1, 0, again);
    ck_assert_mem_eq(a, again, 16);
    ck_assert_int_ne(memcmp(a, b, 16), 0);
}
END_TEST

START_TEST(test_event_parse_id)
{
    unsigned char id[16];
    char text[37];

    ck_assert_int_eq(
        rp_event_parse_id(id, "6D61517B-187F-5499-875D-CB4D1FA69976", 36), 0);
    rp_event_format_id(text, id);
    ck_assert_str_eq(text, "6d61517b-187f-5499-875d-cb4d1fa69976");
    ck_assert_int_eq(
        rp_event_parse_id(id, "00000000-0000-0000-0000-000000000000", 36),
        RP_EINVAL);
    ck_assert_int_eq(
        rp_event_parse_id(id, "6d61517b187f-5499-875d-cb4d1fa699761", 36),
        RP_EINVAL);
    ck_assert_int_eq(
        rp_event_parse_id(id, "6d61517b-187f-5499-875d-cb4d1fa6997g", 36),
        RP_EINVAL);
    ck_assert_int_eq(rp_event_parse_id(id, "6d61517b", 8), RP_EINVAL);
}
END_TEST

Suite *event_suite(void);

Suite *
event_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s = rp_test_suite("event", &core, &limits, &errors, NULL, NULL);

    tcase_add_test(core, test_event_list_grows_and_keeps_strings);
    tcase_add_test(core, test_event_ids_match_uuid5);
    tcase_add_test(errors, test_event_parse_id);
    return s;
}
