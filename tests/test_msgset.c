/* Tests of the message-set codec against spec section 9.5. */
#include <check.h>
#include <string.h>

#include "msgset.h"
#include "testutil.h"

/* Spec 9.5: the 48-byte payload of a CustomerCreated record. */
static const unsigned char payload[48] = {
    0x00, 0x01, 0x1A, 0x4C, 0x6F, 0x6B, 0x61, 0x64, 0x2E, 0x53, 0x61, 0x61,
    0x53, 0x2F, 0x43, 0x75, 0x73, 0x74, 0x6F, 0x6D, 0x65, 0x72, 0x43, 0x72,
    0x65, 0x61, 0x74, 0x65, 0x64, 0x12, 0x0D, 0x0A, 0x7B, 0x0D, 0x0A, 0x09,
    0x22, 0x49, 0x64, 0x22, 0x3A, 0x20, 0x31, 0x0D, 0x0A, 0x7D, 0x0D, 0x0A};

static const char body[] = "\r\n{\r\n\t\"Id\": 1\r\n}\r\n";

/* Spec 9.5: the audit attribute block. */
static const char audit_block[] = "\x02\x02id\x04"
                                  "a1b2\x03utc\x1c"
                                  "2013-03-15T12:00:00.0000000Z";

START_TEST(test_msgset_spec_payload)
{
    struct rp_msgset ms;
    struct rp_error err = {0};
    struct rp_buf out;

    rp_msgset_init(&ms);
    ck_assert_int_eq(rp_msgset_decode(&ms, payload, sizeof(payload), &err), 0);
    ck_assert_uint_eq(ms.attr_count, 0);
    ck_assert_uint_eq(ms.msg_count, 1);
    ck_assert_uint_eq(ms.msgs[0].contract_len, 26);
    ck_assert_mem_eq(ms.msgs[0].contract, "Lokad.SaaS/CustomerCreated", 26);
    ck_assert_uint_eq(ms.msgs[0].body_len, 18);
    ck_assert_mem_eq(ms.msgs[0].body, body, 18);
    /* encoding gives the same bytes back */
    rp_buf_init(&out, 0);
    ck_assert_int_eq(rp_msgset_encode(&out, &ms), 0);
    ck_assert_uint_eq(out.len, sizeof(payload));
    ck_assert_mem_eq(out.data, payload, sizeof(payload));
    rp_buf_dispose(&out);
    rp_msgset_dispose(&ms);
}
END_TEST

START_TEST(test_msgset_audit_attributes)
{
    struct rp_msgset ms;
    struct rp_error err = {0};
    struct rp_buf out;
    size_t blen = sizeof(audit_block) - 1;

    ck_assert_uint_eq(blen, 42);
    rp_msgset_init(&ms);
    rp_msgset_add_attr(&ms, "id", 2, "a1b2", 4);
    rp_msgset_add_attr(&ms, "utc", 3, "2013-03-15T12:00:00.0000000Z", 28);
    rp_msgset_add_msg(&ms, "X/Cmd", 5, (const unsigned char *)"{}", 2);
    rp_buf_init(&out, 0);
    ck_assert_int_eq(rp_msgset_encode(&out, &ms), 0);
    ck_assert_mem_eq(out.data, audit_block, blen);
    ck_assert_mem_eq(out.data + blen, "\x01\x05X/Cmd\x02{}", 10);
    ck_assert_uint_eq(out.len, blen + 10);
    /* and back, into the same (reused) set */
    ck_assert_int_eq(
        rp_msgset_decode(&ms, (unsigned char *)out.data, out.len, &err), 0);
    ck_assert_uint_eq(ms.attr_count, 2);
    ck_assert_mem_eq(ms.attrs[1].key, "utc", 3);
    ck_assert_uint_eq(ms.attrs[1].value_len, 28);
    ck_assert_uint_eq(ms.msg_count, 1);
    ck_assert_mem_eq(ms.msgs[0].body, "{}", 2);
    rp_buf_dispose(&out);
    rp_msgset_dispose(&ms);
}
END_TEST

/* Trailing bytes are ignored, as MessageStore does. */
START_TEST(test_msgset_trailing_bytes)
{
    unsigned char buf[sizeof(payload) + 5];
    struct rp_msgset ms;

    memcpy(buf, payload, sizeof(payload));
    memcpy(buf + sizeof(payload), "junk!", 5);
    rp_msgset_init(&ms);
    ck_assert_int_eq(rp_msgset_decode(&ms, buf, sizeof(buf), NULL), 0);
    ck_assert_uint_eq(ms.msg_count, 1);
    ck_assert_uint_eq(ms.msgs[0].body_len, 18);
    rp_msgset_dispose(&ms);
}
END_TEST

/* Multi-byte lengths and many entries. */
START_TEST(test_msgset_large)
{
    static unsigned char big[20000];
    struct rp_msgset ms, back;
    struct rp_buf out;
    char key[300];

    memset(big, 'b', sizeof(big));
    memset(key, 'k', sizeof(key));
    rp_msgset_init(&ms);
    rp_msgset_init(&back);
    for (int i = 0; i < 200; i++)
        rp_msgset_add_attr(&ms, key, (size_t)i, key, 299);
    for (int i = 0; i < 300; i++)
        rp_msgset_add_msg(&ms, key, 1 + (size_t)i % 200, big,
                          (size_t)i * 61 % sizeof(big));
    rp_buf_init(&out, 0);
    ck_assert_int_eq(rp_msgset_encode(&out, &ms), 0);
    ck_assert_int_eq(
        rp_msgset_decode(&back, (unsigned char *)out.data, out.len, NULL), 0);
    ck_assert_uint_eq(back.attr_count, 200);
    ck_assert_uint_eq(back.msg_count, 300);
    for (int i = 0; i < 300; i++) {
        ck_assert_uint_eq(back.msgs[i].contract_len, 1 + (size_t)i % 200);
        ck_assert_uint_eq(back.msgs[i].body_len, (size_t)i * 61 % sizeof(big));
    }
    ck_assert_uint_eq(back.attrs[199].key_len, 199);
    rp_buf_dispose(&out);
    rp_msgset_dispose(&ms);
    rp_msgset_dispose(&back);
}
END_TEST

/* Payloads that are not message sets. */
static const struct {
    const char *bytes;
    size_t len;
    const char *why;
} not_sets[] = {
    {"", 0, "attribute count"},
    {"\x00", 1, "message count"},
    {"\x01\x02id", 4, "string length"},
    {"\x01\x05id", 3, "past the end"},
    {"\x00\x01\x00\x00\x00", 5, "empty contract"},
    {"\x00\x01\x01X\x05"
     "abc",
     8, "body runs past"},
    {"\x00\x01\x02\xc0\x80\x00", 6, "UTF-8"},
    {"\x00\xff\xff\xff\xff\x0f", 6, "message count"},
    {"\x7f", 1, "attribute count larger"},
    {"\x00\x80\x80\x80\x80\x80\x01", 7, "message count"},
    {"\x01\x00\x02\xff\xfe\x00", 6, "UTF-8"},
};

START_TEST(test_msgset_not_a_set)
{
    struct rp_msgset ms;
    struct rp_error err = {0};

    rp_msgset_init(&ms);
    ck_assert_int_eq(rp_msgset_decode(&ms,
                                      (const unsigned char *)not_sets[_i].bytes,
                                      not_sets[_i].len, &err),
                     RP_EFORMAT);
    ck_assert_msg(strstr(err.msg, not_sets[_i].why) != NULL, "%d: %s", _i,
                  err.msg);
    ck_assert_uint_eq(ms.msg_count, 0);
    ck_assert_uint_eq(ms.attr_count, 0);
    rp_msgset_dispose(&ms);
}
END_TEST

Suite *msgset_suite(void);

Suite *
msgset_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s = rp_test_suite("msgset", &core, &limits, &errors, NULL, NULL);

    tcase_add_test(core, test_msgset_spec_payload);
    tcase_add_test(core, test_msgset_audit_attributes);
    tcase_add_test(core, test_msgset_trailing_bytes);
    tcase_add_test(limits, test_msgset_large);
    tcase_add_loop_test(errors, test_msgset_not_a_set, 0,
                        (int)(sizeof(not_sets) / sizeof(not_sets[0])));
    return s;
}
