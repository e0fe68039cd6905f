/* Tests of the JsvFormatter body compaction and the 3.9.35 repair.  (The
** randomised round trip through a model of the formatter is in
** tests/lua/test_servicestack.lua.) */
#include <check.h>
#include <string.h>

#include "jsv.h"
#include "util.h"
#include "testutil.h"

/* Bodies as the formatter writes them, and the compact JSON it was given. */
static const struct {
    const char *body;
    const char *json;
} cases[] = {
    /* spec 9.5 */
    {"\r\n{\r\n\t\"Id\": 1\r\n}\r\n", "{\"Id\":1}"},
    /* a nested object moves to its own line; "{}" and "[]" stay */
    {"\n{\n\t\"Id\": \n\t{\n\t\t\"Id\": 7\n\t},\n\t\"E\": {},\n\t\"L\": "
     "[]\n}\n",
     "{\"Id\":{\"Id\":7},\"E\":{},\"L\":[]}"},
    /* arrays of objects */
    {"\r\n[\r\n\t{\r\n\t\t\"A\": 1\r\n\t},\r\n\t{\r\n\t\t\"A\": 2\r\n\t}\r\n]"
     "\r\n",
     "[{\"A\":1},{\"A\":2}]"},
};

/* Bodies of the quote-blind 3.9.35 formatter, with damaged strings. */
static const struct {
    const char *body;
    const char *json;
    int raw_newline; /* a string holds a newline: plain compaction refuses */
} damaged[] = {
    {"\r\n{\r\n\t\"N\": \"Acme,\r\n\t Inc.\"\r\n}\r\n",
     "{\"N\":\"Acme, Inc.\"}", 1},
    /* ":" after a "," inside the string got a space too */
    {"\n{\n\t\"R\": \"a,\n\tb: c\"\n}\n", "{\"R\":\"a,b:c\"}", 1},
    /* braces inside a string change the indentation of what follows */
    {"\n{\n\t\"P\": \"x {\n\t\tgold\n\t}\",\n\t\"Q\": 1\n}\n",
     "{\"P\":\"x {gold}\",\"Q\":1}", 1},
    /* a string holding "[]": written as a pair, no newline */
    {"\n{\n\t\"S\": \"[]\"\n}\n", "{\"S\":\"[]\"}", 0},
};

START_TEST(test_jsv_compact_and_unformat)
{
    struct rp_buf b;
    struct rp_error err = {0};

    rp_buf_init(&b, 0);
    ck_assert_int_eq(
        rp_jsv_compact(&b, cases[_i].body, strlen(cases[_i].body), &err), 0);
    ck_assert_str_eq(b.data, cases[_i].json);
    rp_buf_reset(&b);
    ck_assert_int_eq(
        rp_jsv_unformat(&b, cases[_i].body, strlen(cases[_i].body)), 0);
    ck_assert_str_eq(b.data, cases[_i].json);
    rp_buf_dispose(&b);
}
END_TEST

START_TEST(test_jsv_repairs_damage)
{
    struct rp_buf b;
    struct rp_error err = {0};
    const char *body = damaged[_i].body;

    rp_buf_init(&b, 0);
    ck_assert_int_eq(rp_jsv_unformat(&b, body, strlen(body)), 0);
    ck_assert_str_eq(b.data, damaged[_i].json);
    /* Without the repair the damage is refused, not passed on. */
    rp_buf_reset(&b);
    if (damaged[_i].raw_newline) {
        ck_assert_int_eq(rp_jsv_compact(&b, body, strlen(body), &err),
                         RP_EFORMAT);
        ck_assert_ptr_nonnull(strstr(err.msg, "3.9.35"));
    } else {
        ck_assert_int_eq(rp_jsv_compact(&b, body, strlen(body), &err), 0);
        ck_assert_str_eq(b.data, damaged[_i].json);
    }
    rp_buf_dispose(&b);
}
END_TEST

START_TEST(test_jsv_unformat_long_runs)
{
    /* Long plain runs between the bytes the formatter touched, at every
    ** alignment (the tabs after the first newline are dropped, so each
    ** extra tab shifts the rest of the body by one byte). */
    static const char tail[] =
        "{\r\n\t\"CustomerName\": \"Delta Cobalt Ltd 867, a long name "
        "[x] {y}: z\",\r\n\t\"Id\": \r\n\t{\r\n\t\t\"Id\": "
        "12345678901234567890\r\n\t},\r\n\t\"Tags\": [],\r\n\t\"Note\": "
        "\"abcdefghijklmnopqrstuvwxyz0123456789\"\r\n}\r\n";
    static const char want[] =
        "{\"CustomerName\":\"Delta Cobalt Ltd 867, a long name [x] {y}:z\","
        "\"Id\":{\"Id\":12345678901234567890},\"Tags\":[],"
        "\"Note\":\"abcdefghijklmnopqrstuvwxyz0123456789\"}";
    struct rp_buf in, out;

    rp_buf_init(&in, 0);
    rp_buf_init(&out, 0);
    for (int shift = 0; shift < 20; shift++) {
        rp_buf_reset(&in);
        rp_buf_adds(&in, "\r\n");
        for (int k = 0; k < shift; k++)
            rp_buf_addc(&in, '\t');
        rp_buf_adds(&in, tail);
        rp_buf_reset(&out);
        rp_buf_adds(&out, "x");
        ck_assert_int_eq(rp_jsv_unformat(&out, in.data, in.len), 0);
        ck_assert_str_eq(out.data + 1, want);
    }
    rp_buf_dispose(&in);
    rp_buf_dispose(&out);
}
END_TEST

START_TEST(test_jsv_compact_keeps_strings)
{
    struct rp_buf b;
    struct rp_error err = {0};
    static const char body[] =
        "{ \"a b\" : \"x: y, z\\\" \\\\\" , \"c\":[ 1 , 2 ] }";

    rp_buf_init(&b, 0);
    ck_assert_int_eq(rp_jsv_compact(&b, body, strlen(body), &err), 0);
    ck_assert_str_eq(b.data, "{\"a b\":\"x: y, z\\\" \\\\\",\"c\":[1,2]}");
    rp_buf_dispose(&b);
}
END_TEST

START_TEST(test_jsv_errors)
{
    struct rp_buf b;
    struct rp_error err = {0};

    rp_buf_init(&b, 0);
    ck_assert_int_eq(rp_jsv_compact(&b, "{\"a\": \"open}", 12, &err),
                     RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "offset 6 is not closed"));
    ck_assert_int_eq(rp_jsv_compact(&b, "\"a\\\"", 4, &err), RP_EFORMAT);
    rp_buf_dispose(&b);
}
END_TEST

START_TEST(test_jsv_limit)
{
    struct rp_buf b;
    struct rp_error err = {0};

    rp_buf_init(&b, 4);
    ck_assert_int_eq(rp_jsv_compact(&b, "{\"Id\":1}", 8, &err), RP_ELIMIT);
    ck_assert_int_eq(rp_jsv_unformat(&b, "{\"Id\":1}", 8), RP_ELIMIT);
    rp_buf_dispose(&b);
}
END_TEST

Suite *jsv_suite(void);

Suite *
jsv_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s = rp_test_suite("jsv", &core, &limits, &errors, NULL, NULL);

    tcase_add_loop_test(core, test_jsv_compact_and_unformat, 0,
                        (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_loop_test(core, test_jsv_repairs_damage, 0,
                        (int)(sizeof(damaged) / sizeof(damaged[0])));
    tcase_add_test(core, test_jsv_compact_keeps_strings);
    tcase_add_test(core, test_jsv_unformat_long_runs);
    tcase_add_test(limits, test_jsv_limit);
    tcase_add_test(errors, test_jsv_errors);
    return s;
}
