/* Tests of the JSON parser's strings: rp_json_parse() against a model that
** reads them one byte at a time, on strings placed at every alignment and
** distance from the end of the input (the parser steps over sixteen bytes
** at a time where it can), and the errors with their offsets; and of
** rp_json_parse_shallow(). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"
#include "testutil.h"

/* What the model says of one input. */
struct outcome {
    int ok;         /* 1: parsed */
    char str[1024]; /* the decoded string (ok) */
    size_t len;     /* its bytes */
    char msg[256];  /* the error message (not ok) */
};

static size_t
model_utf8(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | cp >> 12);
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | cp >> 18);
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Four hex digits at s[at] of the n bytes into *v; else the error. */
static const char *
model_hex(const unsigned char *s, size_t n, size_t at, uint32_t *v)
{
    *v = 0;
    if (n - at < 4)
        return "short \\u escape";
    for (size_t k = at; k < at + 4; k++) {
        unsigned char c = s[k];
        uint32_t d;

        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return "bad hex digit in \\u escape";
        *v = *v << 4 | d;
    }
    return NULL;
}

/* The documented rules, one byte at a time, for 'n' bytes that are white
** space, one string and white space: the first control character in the
** string (the byte after a backslash is the escape's), then a missing
** closing quote, then the first invalid UTF-8 byte, then the first bad
** escape, then trailing characters. */
static void
model(const unsigned char *s, size_t n, struct outcome *o)
{
    size_t q = 0, i, end, bad, k = 0;
    const char *why = NULL;
    size_t at = 0;
    uint32_t cp, lo;

    memset(o, 0, sizeof(*o));
    while (q < n && s[q] == ' ')
        q++;
    for (i = q + 1; i < n && s[i] != '"'; i++) {
        if (s[i] < 0x20) {
            why = "control character in string";
            at = i;
            goto fail;
        }
        if (s[i] == '\\')
            i++;
    }
    if (i >= n) {
        why = "unterminated string";
        at = q;
        goto fail;
    }
    end = i;
    if (!rp_utf8_valid(s + q + 1, end - q - 1, &bad)) {
        why = "string is not valid UTF-8";
        at = q + 1 + bad;
        goto fail;
    }
    for (i = q + 1; i < end;) {
        const char *esc = "\"\\/bfnrt", *dec = "\"\\/\b\f\n\r\t";
        const char *e;

        if (s[i] != '\\') {
            o->str[k++] = (char)s[i++];
            continue;
        }
        e = s[i + 1] != 0 ? strchr(esc, s[i + 1]) : NULL;
        if (e != NULL) {
            o->str[k++] = dec[e - esc];
            i += 2;
            continue;
        }
        if (s[i + 1] != 'u') {
            why = "bad escape in string";
            at = i + 1;
            goto fail;
        }
        if ((why = model_hex(s, n, i + 2, &cp)) != NULL) {
            at = i + 2;
            goto fail;
        }
        i += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            why = "lone low surrogate in \\u escape";
            at = i;
            goto fail;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (n - i < 2 || s[i] != '\\' || s[i + 1] != 'u') {
                why = "lone high surrogate in \\u escape";
                at = i;
                goto fail;
            }
            if ((why = model_hex(s, n, i + 2, &lo)) != NULL) {
                at = i + 2;
                goto fail;
            }
            i += 6;
            if (lo < 0xDC00 || lo > 0xDFFF) {
                why = "bad low surrogate in \\u escape";
                at = i;
                goto fail;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        k += model_utf8(o->str + k, cp);
    }
    for (i = end + 1; i < n && s[i] == ' '; i++)
        ;
    if (i < n) {
        why = "trailing characters after the value";
        at = i;
        goto fail;
    }
    o->ok = 1;
    o->len = k;
    return;
fail:
    snprintf(o->msg, sizeof(o->msg), "invalid JSON at offset %zu: %s", at, why);
}

/* Parse the 'n' bytes at 's' (copied to a buffer of exactly that size, so
** that a read past the end is caught by the sanitizers) and compare with
** the model. */
static void
check_input(const unsigned char *s, size_t n)
{
    struct outcome want;
    struct rp_json_doc *doc = NULL;
    struct rp_error err = {0};
    char *in = malloc(n > 0 ? n : 1), shown[200];
    int rc;

    memcpy(in, s, n);
    model(s, n, &want);
    rc = rp_json_parse(&doc, in, n, &err);
    for (size_t i = 0, w = 0; i < n && w + 5 < sizeof(shown); i++)
        w += (size_t)snprintf(shown + w, sizeof(shown) - w, "%02x",
                              (unsigned char)in[i]);
    if (want.ok) {
        const struct rp_json *v;

        ck_assert_msg(rc == 0, "input %s: %s", shown, err.msg);
        v = rp_json_root(doc);
        ck_assert_int_eq(v->type, RP_JSON_STRING);
        ck_assert_msg(v->len == want.len &&
                          memcmp(v->str, want.str, want.len) == 0,
                      "input %s: wrong bytes", shown);
        ck_assert_int_eq(v->str[v->len], '\0');
    } else {
        ck_assert_msg(rc == RP_EFORMAT, "input %s: accepted, want %s", shown,
                      want.msg);
        ck_assert_msg(strcmp(err.msg, want.msg) == 0, "input %s: %s, want %s",
                      shown, err.msg, want.msg);
        ck_assert_ptr_null(doc);
    }
    rp_json_free(doc);
    free(in);
}

/* Put 'body' (n bytes) in quotes after 'pad' spaces and before 'tail'
** spaces, optionally without the closing quote, and check that input. */
static void
check_string(const char *body, size_t n, size_t pad, size_t tail, int close)
{
    unsigned char buf[1200];
    size_t len = 0;

    ck_assert_uint_lt(pad + n + tail + 2, sizeof(buf));
    memset(buf, ' ', pad);
    len = pad;
    buf[len++] = '"';
    memcpy(buf + len, body, n);
    len += n;
    if (close)
        buf[len++] = '"';
    memset(buf + len, ' ', tail);
    check_input(buf, len + tail);
}

/* Bytes that matter to a string: quote, backslash, escape letters, hex
** digits, surrogate halves, control characters, UTF-8 lead and
** continuation bytes, and a plain letter. */
static const char alphabet[] = {'a',    '"',    '\\',   'n',    'u',    'd',
                                '8',    'c',    '0',    '\x01', '\x1f', '\x7f',
                                '\x80', '\xc3', '\xa9', '\xff'};
#define ALPHABET_LEN (sizeof(alphabet) / sizeof(alphabet[0]))

/* Pieces of strings for the longer random strings: the first VALID_PIECES
** are valid anywhere, the others not. */
#define VALID_PIECES 16
static const char *const pieces[] = {"a",
                                     "abcdefghijklmnopq",
                                     "\\\"",
                                     "\\\\",
                                     "\\/",
                                     "\\b\\f\\n\\r\\t",
                                     "\\r\\n\\t\\t",
                                     "\\u00e9",
                                     "\\u20AC",
                                     "\\ud83d\\ude00",
                                     "\\uDBFF\\uDFFF",
                                     "\\u0000",
                                     "\xc3\xa9",
                                     "\xe2\x82\xac",
                                     "\xf0\x9f\x98\x80",
                                     " ",
                                     "\\",
                                     "\"",
                                     "\\x",
                                     "\\u12",
                                     "\\ud800",
                                     "\\udc00",
                                     "\x01",
                                     "\xff",
                                     "\xe2\x82",
                                     "\\\\\\\"",
                                     "\\\\\\\\\"",
                                     "0123456789abcdef"};
#define PIECES_LEN (sizeof(pieces) / sizeof(pieces[0]))

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;

static unsigned
rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

START_TEST(test_json_string_short_every_byte_mix)
{
    /* Every string of up to three bytes from the alphabet, at alignments
    ** and distances from the end that put it in the fast path, in its
    ** byte-by-byte tail, or across both. */
    static const size_t pads[] = {0, 13, 30};
    static const size_t tails[] = {0, 3, 20};
    char body[3];

    for (size_t len = 0; len <= 3; len++) {
        size_t total = 1;

        for (size_t k = 0; k < len; k++)
            total *= ALPHABET_LEN;
        for (size_t code = 0; code < total; code++) {
            size_t c = code;

            for (size_t k = 0; k < len; k++) {
                body[k] = alphabet[c % ALPHABET_LEN];
                c /= ALPHABET_LEN;
            }
            for (size_t p = 0; p < 3; p++)
                check_string(body, len, pads[p], tails[(code + p) % 3],
                             (code + p) % 7 != 0);
        }
    }
}
END_TEST

START_TEST(test_json_string_random_pieces)
{
    /* Longer strings of escapes, UTF-8 and plain runs, valid or not, at
    ** every alignment: the model decides. */
    char body[600];

    for (int iter = 0; iter < 6000; iter++) {
        size_t n = 0, parts = rnd(40);
        int valid_only = iter % 2;

        for (size_t k = 0; k < parts; k++) {
            const char *p = pieces[rnd(valid_only ? VALID_PIECES : PIECES_LEN)];
            size_t l = strlen(p);

            if (n + l > sizeof(body))
                break;
            memcpy(body + n, p, l);
            n += l;
        }
        check_string(body, n, rnd(17), rnd(20), rnd(10) != 0);
    }
}
END_TEST

START_TEST(test_json_string_escapes_decoded)
{
    /* Every escape at every offset of a 40-byte string: the decoded bytes
    ** are the plain letters around the escape's meaning. */
    static const struct {
        const char *esc;
        const char *means;
    } table[] = {{"\\\"", "\""},
                 {"\\\\", "\\"},
                 {"\\/", "/"},
                 {"\\b", "\b"},
                 {"\\f", "\f"},
                 {"\\n", "\n"},
                 {"\\r", "\r"},
                 {"\\t", "\t"},
                 {"\\u0041", "A"},
                 {"\\u00e9", "\xc3\xa9"},
                 {"\\u20ac", "\xe2\x82\xac"},
                 {"\\uD83D\\uDE00", "\xf0\x9f\x98\x80"},
                 {"\\u0000", "\0"}};

    for (size_t t = 0; t < sizeof(table) / sizeof(table[0]); t++) {
        size_t el = strlen(table[t].esc);
        size_t ml = strlen(table[t].means) + (table[t].means[0] == '\0');

        for (size_t at = 0; at < 40; at++) {
            char text[80], want[80];
            struct rp_json_doc *doc = NULL;
            struct rp_error err = {0};
            const struct rp_json *v;
            size_t n = 0;

            text[n++] = '"';
            memset(text + n, 'x', at);
            n += at;
            memcpy(text + n, table[t].esc, el);
            n += el;
            memset(text + n, 'y', 40 - at);
            n += 40 - at;
            text[n++] = '"';
            memset(want, 'x', at);
            memcpy(want + at, table[t].means, ml);
            memset(want + at + ml, 'y', 40 - at);
            ck_assert_int_eq(rp_json_parse(&doc, text, n, &err), 0);
            v = rp_json_root(doc);
            ck_assert_uint_eq(v->len, 40 + ml);
            ck_assert_int_eq(memcmp(v->str, want, v->len), 0);
            ck_assert_int_eq(v->str[v->len], '\0');
            rp_json_free(doc);
        }
    }
}
END_TEST

START_TEST(test_json_string_members_and_keys)
{
    /* Keys and values in a document full of escapes, as a pretty-printed
    ** body sent as a string looks. */
    const char text[] =
        "{\"d\\u0061ta\":\"\\r\\n{\\r\\n\\t\\\"Id\\\": 1,\\r\\n\\t\\\"Utc\\\": "
        "\\\"\\\\/Date(1)\\\\/\\\"\\r\\n}\\r\\n\",\"k\":\"\\\\\"}";
    const char want[] = "\r\n{\r\n\t\"Id\": 1,\r\n\t\"Utc\": "
                        "\"\\/Date(1)\\/\"\r\n}\r\n";
    struct rp_json_doc *doc = NULL;
    struct rp_error err = {0};
    const struct rp_json *v;

    ck_assert_int_eq(rp_json_parse(&doc, text, sizeof(text) - 1, &err), 0);
    v = rp_json_get(rp_json_root(doc), "data");
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(v->len, sizeof(want) - 1);
    ck_assert_str_eq(v->str, want);
    ck_assert_str_eq(rp_json_string(rp_json_get(rp_json_root(doc), "k")), "\\");
    rp_json_free(doc);
}
END_TEST

START_TEST(test_json_string_long)
{
    /* Strings far longer than a block: plain, escape after escape, and a
    ** backslash run ending at every position of a block before a quote. */
    static char body[40000];
    size_t n;

    memset(body, 'q', sizeof(body));
    check_string(body, 1000, 0, 0, 1);
    for (n = 0; n + 2 <= 1000; n += 2)
        memcpy(body + n, n % 6 ? "\\t" : "\\\"", 2);
    check_string(body, 1000, 1, 5, 1);
    check_string(body, 1000, 1, 0, 0);
    /* A backslash ending a block, its escape byte (bad UTF-8 here) in the
    ** bytes after the last whole block. */
    for (size_t at = 0; at < 40; at++) {
        for (size_t rest = 0; rest < 20; rest++) {
            memset(body, 'q', 60);
            body[at] = '\\';
            body[at + 1] = '\xff';
            check_string(body, at + 2 + rest, 0, 0, 1);
        }
    }
    for (size_t run = 1; run <= 5; run++) {
        for (size_t at = 0; at < 40; at++) {
            memset(body, 'q', 60);
            memset(body + at, '\\', run);
            body[at + run] = '"';
            check_string(body, at + run + 1, 0, 0, 1);
            check_string(body, 60, 3, 2, 1);
        }
    }
}
END_TEST

START_TEST(test_json_string_error_offsets)
{
    /* The errors name the offset of the byte at fault, and come in a fixed
    ** order whatever their places. */
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"\"ab\x01\"", "offset 3: control character in string"},
        {"  \"abc", "offset 2: unterminated string"},
        {"\"abc\\", "offset 0: unterminated string"},
        {"\"ab\xc3(\"", "offset 3: string is not valid UTF-8"},
        {"\"ab\\x\"", "offset 4: bad escape in string"},
        {"\"\\u12\"  ", "offset 3: bad hex digit in \\u escape"},
        {"\"\\u12\"", "offset 3: short \\u escape"},
        {"\"\\u12", "offset 0: unterminated string"},
        {"\"\\udc00\"", "offset 7: lone low surrogate in \\u escape"},
        {"\"\\ud800x\"", "offset 7: lone high surrogate in \\u escape"},
        {"\"\\ud800\\u0041\"", "offset 13: bad low surrogate in \\u escape"},
        /* a bad escape comes before a control character, which wins */
        {"\"\\x..............................\x02\"",
         "offset 33: control character in string"},
        /* a bad escape before bad UTF-8: UTF-8 wins */
        {"\"\\x..............................\xff\"",
         "offset 33: string is not valid UTF-8"},
        /* a control character after an escape's backslash is a bad escape */
        {"\"...............................\\\x01\"",
         "offset 33: bad escape in string"},
        /* an escaped quote does not end the string; an escaped backslash
        ** before a quote does not escape it */
        {"\"................\\\"", "offset 0: unterminated string"},
        {"\"...............\\\\\" x",
         "offset 20: trailing characters after the value"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rp_json_doc *doc = NULL;
        struct rp_error err = {0};
        const char *t = cases[i].text;

        ck_assert_int_eq(rp_json_parse(&doc, t, strlen(t), &err), RP_EFORMAT);
        ck_assert_ptr_null(doc);
        ck_assert_msg(strstr(err.msg, cases[i].msg) != NULL, "%s: got %s",
                      cases[i].msg, err.msg);
        check_input((const unsigned char *)t, strlen(t));
    }
}
END_TEST

START_TEST(test_json_parse_shallow_keeps_deep_text)
{
    /* Containers from the given level down are checked and kept as text;
    ** what is above is the tree rp_json_parse() builds. */
    const char text[] = "[{\"a\": {\"b\": [1, \"\\u00e9\"]}, \"s\": \"x\\n\"},"
                        " [3], 4]";
    struct rp_json_doc *doc = NULL, *full = NULL;
    struct rp_error err = {0};
    const struct rp_json *root, *a;
    struct rp_buf x, y;

    ck_assert_int_eq(
        rp_json_parse_shallow(&doc, text, sizeof(text) - 1, 2, &err), 0);
    root = rp_json_root(doc);
    ck_assert_int_eq(root->type, RP_JSON_ARRAY);
    ck_assert_uint_eq(root->len, 3);
    ck_assert_uint_eq(root->child->len, 2);
    a = rp_json_get(root->child, "a");
    ck_assert_int_eq(a->type, RP_JSON_OBJECT);
    ck_assert_uint_eq(a->len, 0);
    ck_assert_ptr_null(a->child);
    ck_assert_uint_eq(a->raw_len, strlen("{\"b\": [1, \"\\u00e9\"]}"));
    ck_assert_int_eq(memcmp(a->raw, "{\"b\": [1, \"\\u00e9\"]}", a->raw_len),
                     0);
    ck_assert_str_eq(rp_json_string(rp_json_get(root->child, "s")), "x\n");
    ck_assert_uint_eq(root->child->next->len, 1); /* [3], level 1 */
    ck_assert_uint_eq(root->child->next->child->len, 1);
    rp_json_free(doc);
    /* Level 0: the root itself is only checked. */
    ck_assert_int_eq(
        rp_json_parse_shallow(&doc, text, sizeof(text) - 1, 0, &err), 0);
    ck_assert_ptr_null(rp_json_root(doc)->child);
    ck_assert_uint_eq(rp_json_root(doc)->raw_len, sizeof(text) - 1);
    rp_json_free(doc);
    /* Deep enough: the same tree as rp_json_parse(). */
    ck_assert_int_eq(
        rp_json_parse_shallow(&doc, text, sizeof(text) - 1, 4, &err), 0);
    ck_assert_int_eq(rp_json_parse(&full, text, sizeof(text) - 1, &err), 0);
    rp_buf_init(&x, 0);
    rp_buf_init(&y, 0);
    ck_assert_int_eq(rp_json_add_value(&x, rp_json_root(doc)), 0);
    ck_assert_int_eq(rp_json_add_value(&y, rp_json_root(full)), 0);
    ck_assert_str_eq(x.data, y.data);
    rp_buf_dispose(&x);
    rp_buf_dispose(&y);
    rp_json_free(doc);
    rp_json_free(full);
}
END_TEST

START_TEST(test_json_parse_shallow_refuses_bad_deep_text)
{
    /* What is only checked is checked as strictly as the rest. */
    static const char *const bad[] = {
        "[{\"m\": {\"a\": tru}}]",     "[{\"m\": [1,]}]",
        "[{\"m\": {\"a\": \"\\x\"}}]", "[{\"m\": [\"\xc3\"]}]",
        "[{\"m\": {\"a\" 1}}]",        "[{\"m\": [1}]"};
    char deep[1200];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rp_json_doc *doc = NULL;
        struct rp_error err = {0};

        ck_assert_int_eq(
            rp_json_parse_shallow(&doc, bad[i], strlen(bad[i]), 2, &err),
            RP_EFORMAT);
        ck_assert_ptr_null(doc);
        ck_assert_msg(strstr(err.msg, "invalid JSON at offset") != NULL, "%s",
                      err.msg);
    }
    /* The nesting limit counts from the root as in rp_json_parse(). */
    memset(deep, '[', 600);
    memset(deep + 600, ']', 600);
    for (int level = 0; level < 3; level++) {
        struct rp_json_doc *doc = NULL;
        struct rp_error err = {0};

        ck_assert_int_eq(
            rp_json_parse_shallow(&doc, deep, sizeof(deep), level, &err),
            RP_EFORMAT);
        ck_assert_ptr_nonnull(strstr(err.msg, "nesting too deep"));
        ck_assert_int_eq(rp_json_parse_shallow(&doc, deep + 100,
                                               sizeof(deep) - 200, level, &err),
                         0);
        rp_json_free(doc);
    }
}
END_TEST

Suite *json_suite(void);

Suite *
json_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s = rp_test_suite("json", &core, &limits, &errors, NULL, NULL);

    tcase_add_test(core, test_json_string_escapes_decoded);
    tcase_add_test(core, test_json_string_members_and_keys);
    tcase_add_test(core, test_json_string_short_every_byte_mix);
    tcase_add_test(core, test_json_string_random_pieces);
    tcase_add_test(core, test_json_parse_shallow_keeps_deep_text);
    tcase_add_test(limits, test_json_string_long);
    tcase_add_test(errors, test_json_string_error_offsets);
    tcase_add_test(errors, test_json_parse_shallow_refuses_bad_deep_text);
    tcase_set_timeout(core, 60);
    return s;
}
