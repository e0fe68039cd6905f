/* Tests of the shared plumbing: buffers, base64, UTF-8, SHA-1 and JSON. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "sha1.h"
#include "util.h"
#include "testutil.h"

static void
hex(char *out, const unsigned char *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

START_TEST(test_util_sha1_vectors)
{
    unsigned char d[RP_SHA1_LEN];
    char h[41];
    struct rp_sha1 s;
    static const unsigned char frame[] = {
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x63, 0x75, 0x73,
        0x74, 0x6F, 0x6D, 0x65, 0x72, 0x2D, 0x31, 0x03, 0x01, 0x02, 0x03};

    rp_sha1("abc", 3, d);
    hex(h, d, sizeof(d));
    ck_assert_str_eq(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    rp_sha1("", 0, d);
    hex(h, d, sizeof(d));
    ck_assert_str_eq(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    /* Spec section 6: the worked V2 frame. */
    rp_sha1(frame, sizeof(frame), d);
    hex(h, d, sizeof(d));
    ck_assert_str_eq(h, "2e1da4cee020c8e37a49ee17d8cb9ce8e3215cc1");
    /* A million 'a', fed in odd-sized pieces. */
    rp_sha1_init(&s);
    for (int i = 0; i < 1000000; i += 7)
        rp_sha1_update(&s, "aaaaaaa", 1000000 - i < 7 ? 1000000 - i : 7);
    rp_sha1_final(&s, d);
    hex(h, d, sizeof(d));
    ck_assert_str_eq(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}
END_TEST

/* The CPU's SHA instructions (when present) and the portable code give the
** same digests, and the right ones, at every length around block edges. */
START_TEST(test_util_sha1_both_paths)
{
    static unsigned char data[100000];
    unsigned char a[RP_SHA1_LEN], b[RP_SHA1_LEN];
    char h[41];
    int hw;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 31 + 7);
    hw = rp_sha1_hardware(1);
    for (int pass = 0; pass < 2; pass++) {
        rp_sha1_hardware(pass == 0);
        rp_sha1(data, 1000, a);
        hex(h, a, sizeof(a));
        ck_assert_str_eq(h, "414475341017ec91703435a6f290324818f983e9");
        rp_sha1(data, 100000, a);
        hex(h, a, sizeof(a));
        ck_assert_str_eq(h, "35ab00c96f47c268b087d40d0dcd7245809f0d5c");
    }
    for (size_t n = 0; n < 300; n++) {
        rp_sha1_hardware(0);
        rp_sha1(data + n, n * 7, a);
        rp_sha1_hardware(1);
        rp_sha1(data + n, n * 7, b);
        ck_assert_mem_eq(a, b, sizeof(a));
    }
    rp_sha1_hardware(hw);
}
END_TEST

START_TEST(test_util_base64_round_trip)
{
    struct rp_buf b, back;
    struct rp_error err = {0};
    static const char *plain[] = {"",     "f",     "fo",    "foo",
                                  "foob", "fooba", "foobar"};
    static const char *coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                  "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

    for (size_t i = 0; i < 7; i++) {
        rp_buf_init(&b, 0);
        rp_buf_init(&back, 0);
        ck_assert_int_eq(rp_base64_encode(&b, plain[i], strlen(plain[i])), 0);
        ck_assert_str_eq(b.data, coded[i]);
        ck_assert_int_eq(rp_base64_decode(&back, b.data, b.len, &err), 0);
        ck_assert_str_eq(back.data, plain[i]);
        rp_buf_dispose(&b);
        rp_buf_dispose(&back);
    }
    rp_buf_init(&back, 0);
    ck_assert_int_eq(rp_base64_decode(&back, "Zm9*", 4, &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "offset 3"));
    ck_assert_int_eq(rp_base64_decode(&back, "Zm9", 3, &err), RP_EFORMAT);
    ck_assert_int_eq(rp_base64_decode(&back, "Z===", 4, &err), RP_EFORMAT);
    rp_buf_dispose(&back);
}
END_TEST

START_TEST(test_util_base64_long)
{
    static unsigned char raw[3000];
    struct rp_buf b, back;
    struct rp_error err = {0};

    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(i * 131 + 7);
    for (size_t n = 2990; n <= sizeof(raw); n++) {
        rp_buf_init(&b, 0);
        rp_buf_init(&back, 0);
        ck_assert_int_eq(rp_base64_encode(&b, raw, n), 0);
        ck_assert_int_eq(rp_base64_decode(&back, b.data, b.len, &err), 0);
        ck_assert_uint_eq(back.len, n);
        ck_assert_mem_eq(back.data, raw, n);
        /* a bad digit in the middle is named by its offset */
        b.data[1001] = '*';
        rp_buf_reset(&back);
        ck_assert_int_eq(rp_base64_decode(&back, b.data, b.len, &err),
                         RP_EFORMAT);
        ck_assert_ptr_nonnull(strstr(err.msg, "offset 1001"));
        b.data[1001] = '=';
        ck_assert_int_eq(rp_base64_decode(&back, b.data, b.len, &err),
                         RP_EFORMAT);
        rp_buf_dispose(&b);
        rp_buf_dispose(&back);
    }
}
END_TEST

START_TEST(test_util_buf_limit)
{
    struct rp_buf b;

    rp_buf_init(&b, 4);
    ck_assert_int_eq(rp_buf_adds(&b, "abc"), 0);
    ck_assert_int_eq(rp_buf_adds(&b, "de"), RP_ELIMIT);
    ck_assert_str_eq(b.data, "abc");
    ck_assert_int_eq(rp_buf_printf(&b, "%d", 7), 0);
    ck_assert_int_eq(rp_buf_printf(&b, "%d", 8), RP_ELIMIT);
    ck_assert_str_eq(b.data, "abc7");
    rp_buf_dispose(&b);
}
END_TEST

START_TEST(test_util_buf_add_u64)
{
    struct rp_buf b;

    rp_buf_init(&b, 0);
    ck_assert_int_eq(rp_buf_add_u64(&b, 0), 0);
    rp_buf_addc(&b, ' ');
    ck_assert_int_eq(rp_buf_add_u64(&b, 1234567890), 0);
    rp_buf_addc(&b, ' ');
    ck_assert_int_eq(rp_buf_add_u64(&b, UINT64_MAX), 0);
    ck_assert_str_eq(b.data, "0 1234567890 18446744073709551615");
    rp_buf_dispose(&b);
    rp_buf_init(&b, 2);
    ck_assert_int_eq(rp_buf_add_u64(&b, 123), RP_ELIMIT);
    rp_buf_dispose(&b);
}
END_TEST

START_TEST(test_util_json_add_string_escapes)
{
    struct rp_buf b;
    static const char in[] = "a\"b\\c\n\r\t\b\f\x01\x1f\xc3\xa9/";
    static const char want[] =
        "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\xc3\xa9/\"";

    rp_buf_init(&b, 0);
    ck_assert_int_eq(rp_json_add_string(&b, in, sizeof(in) - 1), 0);
    ck_assert_str_eq(b.data, want);
    ck_assert_uint_eq(b.len, sizeof(want) - 1);
    rp_buf_dispose(&b);
    /* Exactly the room needed fits; one byte less is refused whole. */
    rp_buf_init(&b, sizeof(want) - 1);
    ck_assert_int_eq(rp_json_add_string(&b, in, sizeof(in) - 1), 0);
    rp_buf_dispose(&b);
    rp_buf_init(&b, sizeof(want) - 2);
    ck_assert_int_eq(rp_json_add_string(&b, in, sizeof(in) - 1), RP_ELIMIT);
    ck_assert_uint_eq(b.len, 0);
    rp_buf_dispose(&b);
}
END_TEST

/* The escape of one byte as the JSON grammar spells it (the reference the
** word-at-a-time writer is checked against). */
static void
ref_escape(struct rp_buf *b, unsigned char c)
{
    char tmp[8];

    switch (c) {
    case '"':
        rp_buf_adds(b, "\\\"");
        break;
    case '\\':
        rp_buf_adds(b, "\\\\");
        break;
    case '\n':
        rp_buf_adds(b, "\\n");
        break;
    case '\r':
        rp_buf_adds(b, "\\r");
        break;
    case '\t':
        rp_buf_adds(b, "\\t");
        break;
    case '\b':
        rp_buf_adds(b, "\\b");
        break;
    case '\f':
        rp_buf_adds(b, "\\f");
        break;
    default:
        if (c < 0x20) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", c);
            rp_buf_adds(b, tmp);
        } else {
            rp_buf_addc(b, (char)c);
        }
    }
}

START_TEST(test_util_json_add_string_every_position)
{
    /* Each special byte at each offset of strings of 0 to 40 bytes (plain
    ** runs cross the eight-byte words at every alignment), then long runs
    ** of escapes that outgrow the first reservation. */
    static const unsigned char special[] = {'"', '\\', '\n', '\r', '\t',
                                            0,   0x1f, 0x7f, 0xc3, 0x20};
    struct rp_buf got, want;
    char in[4096];

    rp_buf_init(&got, 0);
    rp_buf_init(&want, 0);
    for (size_t n = 0; n <= 40; n++) {
        for (size_t at = 0; at < n; at++) {
            for (size_t k = 0; k < sizeof(special); k++) {
                for (size_t i = 0; i < n; i++)
                    in[i] = (char)('a' + i % 26);
                in[at] = (char)special[k];
                if (at + 3 < n)
                    in[at + 3] = '"';
                rp_buf_reset(&got);
                rp_buf_reset(&want);
                rp_buf_adds(&got, "x");
                rp_buf_adds(&want, "x\"");
                for (size_t i = 0; i < n; i++)
                    ref_escape(&want, (unsigned char)in[i]);
                rp_buf_addc(&want, '"');
                ck_assert_int_eq(rp_json_add_string(&got, in, n), 0);
                ck_assert_uint_eq(got.len, want.len);
                ck_assert_mem_eq(got.data, want.data, want.len);
            }
        }
    }
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (char)(i % 3 == 0 ? 1 : i % 3 == 1 ? '"' : 'z');
    rp_buf_reset(&got);
    rp_buf_reset(&want);
    rp_buf_addc(&want, '"');
    for (size_t i = 0; i < sizeof(in); i++)
        ref_escape(&want, (unsigned char)in[i]);
    rp_buf_addc(&want, '"');
    ck_assert_int_eq(rp_json_add_string(&got, in, sizeof(in)), 0);
    ck_assert_uint_eq(got.len, want.len);
    ck_assert_mem_eq(got.data, want.data, want.len);
    ck_assert_int_eq(got.data[got.len], '\0');
    rp_buf_dispose(&got);
    rp_buf_dispose(&want);
}
END_TEST

START_TEST(test_util_utf8_long_runs)
{
    /* Long ASCII runs are stepped over many bytes at a time: a bad byte
    ** or a good sequence at any offset is still seen there. */
    char s[80];
    size_t bad;

    for (size_t at = 0; at + 2 <= sizeof(s); at++) {
        memset(s, 'a', sizeof(s));
        s[at] = '\xff';
        bad = 999;
        ck_assert_int_eq(rp_utf8_valid(s, sizeof(s), &bad), 0);
        ck_assert_uint_eq(bad, at);
        s[at] = '\xc3';
        s[at + 1] = '\xa9';
        ck_assert_int_eq(rp_utf8_valid(s, sizeof(s), NULL), 1);
        s[at + 1] = 'a';
        ck_assert_int_eq(rp_utf8_valid(s, sizeof(s), &bad), 0);
        ck_assert_uint_eq(bad, at);
    }
}
END_TEST

START_TEST(test_util_utf8_rules)
{
    size_t bad = 99;

    ck_assert_int_eq(rp_utf8_valid("h\xc3\xa9llo \xf0\x9f\x98\x80", 11, NULL),
                     1);
    ck_assert_int_eq(rp_utf8_valid("ab\xc0\xaf", 4, &bad), 0); /* overlong */
    ck_assert_uint_eq(bad, 2);
    ck_assert_int_eq(rp_utf8_valid("\xed\xa0\x80", 3, NULL), 0); /* D800 */
    ck_assert_int_eq(rp_utf8_valid("\xf4\x90\x80\x80", 4, NULL), 0);
    ck_assert_int_eq(rp_utf8_valid("a\xe2\x82", 3, &bad), 0); /* truncated */
    ck_assert_uint_eq(bad, 1);
}
END_TEST

START_TEST(test_util_json_parse_and_write)
{
    const char *text =
        " {\"a\": [1, -2.5e3, true, null], \"b\\n\": "
        "\"x\\u00e9\\ud83d\\ude00\\\"\", \"n\": 9007199254740993}";
    struct rp_json_doc *doc = NULL;
    struct rp_error err = {0};
    struct rp_buf out;
    int64_t n;

    ck_assert_int_eq(rp_json_validate(text, strlen(text), &err), 0);
    {
        static const char *const good[] = {"\"\\/\\b\\f\\n\\r\\t\"",
                                           " [ { } , [ ] , 0 , -0.5E+2 ] ",
                                           "\"\\ud83d\\ude00\"", "null"};

        for (size_t i = 0; i < 4; i++)
            ck_assert_msg(rp_json_validate(good[i], strlen(good[i]), &err) == 0,
                          "%s: %s", good[i], err.msg);
    }
    ck_assert_int_eq(rp_json_parse(&doc, text, strlen(text), &err), 0);
    ck_assert_int_eq(rp_json_root(doc)->type, RP_JSON_OBJECT);
    ck_assert_uint_eq(rp_json_get(rp_json_root(doc), "a")->len, 4);
    ck_assert_str_eq(rp_json_string(rp_json_get(rp_json_root(doc), "b\n")),
                     "x\xc3\xa9\xf0\x9f\x98\x80\"");
    ck_assert_int_eq(rp_json_int64(rp_json_get(rp_json_root(doc), "n"), &n), 0);
    ck_assert(n == 9007199254740993LL);
    rp_buf_init(&out, 0);
    ck_assert_int_eq(rp_json_add_value(&out, rp_json_root(doc)), 0);
    ck_assert_str_eq(out.data, "{\"a\":[1,-2.5e3,true,null],\"b\\n\":"
                               "\"x\xc3\xa9\xf0\x9f\x98\x80\\\"\","
                               "\"n\":9007199254740993}");
    rp_buf_dispose(&out);
    rp_json_free(doc);
}
END_TEST

static const char *const bad_json[] = {
    "",    "{",       "[1,]",        "{\"a\" 1}", "01",
    "1.",  "\"\\x\"", "\"\\ud800\"", "[1] 2",     "\"a\x01\"",
    "tru", "-",       "\"\xc3\"",    "{\"a\":1,}"};

START_TEST(test_util_json_refuses_malformed)
{
    struct rp_json_doc *doc = NULL;
    struct rp_error err = {0};
    const char *t = bad_json[_i];

    ck_assert_int_eq(rp_json_parse(&doc, t, strlen(t), &err), RP_EFORMAT);
    ck_assert_ptr_null(doc);
    ck_assert_ptr_nonnull(strstr(err.msg, "offset"));
    err.msg[0] = '\0';
    ck_assert_int_eq(rp_json_validate(t, strlen(t), &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "offset"));
}
END_TEST

START_TEST(test_util_json_validate_long_strings)
{
    /* Strings long enough to be stepped over many bytes at a time: a
    ** control character, a bad escape or a bad UTF-8 byte at any offset is
    ** found at that offset; escapes and UTF-8 anywhere are accepted. */
    struct rp_error err = {0};
    char text[64], want[64];

    for (size_t at = 1; at < 40; at++) {
        memset(text, 'a', 41);
        text[0] = '"';
        text[41] = '"';
        text[42] = '\0';
        text[at] = '\x01';
        ck_assert_int_eq(rp_json_validate(text, 42, &err), RP_EFORMAT);
        snprintf(want, sizeof(want), "offset %zu:", at);
        ck_assert_msg(strstr(err.msg, want) != NULL, "%s", err.msg);
        text[at] = '\\';
        text[at + 1] = 'x';
        ck_assert_int_eq(rp_json_validate(text, 42, &err), RP_EFORMAT);
        snprintf(want, sizeof(want), "offset %zu:", at + 1); /* the 'x' */
        ck_assert_msg(strstr(err.msg, want) != NULL, "%s", err.msg);
        snprintf(want, sizeof(want), "offset %zu:", at);
        text[at + 1] = 'n';
        ck_assert_int_eq(rp_json_validate(text, 42, &err), 0);
        text[at] = '\xc3';
        text[at + 1] = '\xa9';
        ck_assert_int_eq(rp_json_validate(text, 42, &err), 0);
        text[at + 1] = 'a';
        ck_assert_int_eq(rp_json_validate(text, 42, &err), RP_EFORMAT);
        ck_assert_msg(strstr(err.msg, want) != NULL, "%s", err.msg);
        text[at] = '"'; /* the string ends there: the rest is left over */
        ck_assert_int_eq(rp_json_validate(text, 42, &err), RP_EFORMAT);
        ck_assert_int_eq(rp_json_validate(text, (size_t)at + 1, &err), 0);
    }
    memset(text, 'a', 41);
    text[0] = '"';
    ck_assert_int_eq(rp_json_validate(text, 41, &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "unterminated"));
}
END_TEST

START_TEST(test_util_json_depth_limit)
{
    char deep[2001];
    struct rp_json_doc *doc = NULL;
    struct rp_error err = {0};

    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = '\0';
    ck_assert_int_eq(rp_json_parse(&doc, deep, 2000, &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "nesting"));
    ck_assert_int_eq(rp_json_validate(deep, 2000, &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "nesting"));
}
END_TEST

START_TEST(test_util_parse_u64)
{
    uint64_t v = 7;
    const char *rest;

    ck_assert_int_eq(rp_parse_u64("0", &v, NULL), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(rp_parse_u64("18446744073709551615", &v, NULL), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_int_eq(rp_parse_u64("42 7", &v, &rest), 0);
    ck_assert_uint_eq(v, 42);
    ck_assert_str_eq(rest, " 7");
    v = 7; /* a failure leaves *out alone */
    ck_assert_int_eq(rp_parse_u64("18446744073709551616", &v, NULL), -1);
    ck_assert_int_eq(rp_parse_u64("42 7", &v, NULL), -1);
    ck_assert_int_eq(rp_parse_u64("-1", &v, NULL), -1);
    ck_assert_int_eq(rp_parse_u64("+1", &v, NULL), -1);
    ck_assert_int_eq(rp_parse_u64(" 1", &v, NULL), -1);
    ck_assert_int_eq(rp_parse_u64("", &v, NULL), -1);
    ck_assert_int_eq(rp_parse_u64("1.5", &v, NULL), -1);
    ck_assert_uint_eq(v, 7);
}
END_TEST

Suite *util_suite(void);

Suite *
util_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s = rp_test_suite("util", &core, &limits, &errors, NULL, NULL);

    tcase_add_test(core, test_util_sha1_vectors);
    tcase_add_test(core, test_util_sha1_both_paths);
    tcase_add_test(core, test_util_base64_round_trip);
    tcase_add_test(core, test_util_base64_long);
    tcase_add_test(core, test_util_utf8_rules);
    tcase_add_test(core, test_util_buf_add_u64);
    tcase_add_test(core, test_util_parse_u64);
    tcase_add_test(core, test_util_json_add_string_escapes);
    tcase_add_test(core, test_util_json_add_string_every_position);
    tcase_add_test(core, test_util_json_validate_long_strings);
    tcase_add_test(core, test_util_utf8_long_runs);
    tcase_add_test(core, test_util_json_parse_and_write);
    tcase_add_test(limits, test_util_buf_limit);
    tcase_add_test(limits, test_util_json_depth_limit);
    tcase_add_loop_test(errors, test_util_json_refuses_malformed, 0,
                        (int)(sizeof(bad_json) / sizeof(bad_json[0])));
    return s;
}
