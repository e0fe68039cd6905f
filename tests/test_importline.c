/* Tests of import's line parser: the two line shapes and the payload each
** gives, blank lines, and a message for each malformed line. */
#include <check.h>
#include <string.h>

#include "importline.h"
#include "msgset.h"
#include "testutil.h"

static struct rp_import_line line;
static struct rp_error err;

static void
setup(void)
{
    rp_import_line_init(&line);
    memset(&err, 0, sizeof(err));
}

static void
teardown(void)
{
    rp_import_line_dispose(&line);
}

static int
parse(const char *text)
{
    return rp_import_line_parse(&line, text, strlen(text), &err);
}

START_TEST(test_importline_data)
{
    ck_assert_int_eq(parse("{\"key\": \"customer:1\", \"data\": \"AQID\"}\n"),
                     1);
    ck_assert_uint_eq(line.key_len, 10);
    ck_assert_mem_eq(line.key, "customer:1", 10);
    ck_assert_uint_eq(line.data_len, 3);
    ck_assert_mem_eq(line.data, "\x01\x02\x03", 3);
    /* "data" wins over "messages"; an empty payload is one. */
    ck_assert_int_eq(parse("{\"key\": \"a\\u0000b\", \"data\": \"\", "
                           "\"messages\": 5}"),
                     1);
    ck_assert_uint_eq(line.key_len, 3);
    ck_assert_uint_eq(line.data_len, 0);
}
END_TEST

START_TEST(test_importline_messages)
{
    struct rp_msgset ms;

    ck_assert_int_eq(
        parse("{\"key\": \"audit\", \"attributes\": {\"id\": \"a1\"}, "
              "\"messages\": [{\"contract\": \"A/B\", \"body\": \"{}\"}, "
              "{\"contract\": \"A/C\", \"bodyBase64\": \"//4=\"}]}\r\n"),
        1);
    rp_msgset_init(&ms);
    ck_assert_int_eq(rp_msgset_decode(&ms, line.data, line.data_len, NULL), 0);
    ck_assert_uint_eq(ms.attr_count, 1);
    ck_assert_mem_eq(ms.attrs[0].value, "a1", 2);
    ck_assert_uint_eq(ms.msg_count, 2);
    ck_assert_mem_eq(ms.msgs[0].contract, "A/B", 3);
    ck_assert_mem_eq(ms.msgs[0].body, "{}", 2);
    ck_assert_uint_eq(ms.msgs[1].body_len, 2);
    ck_assert_mem_eq(ms.msgs[1].body, "\xff\xfe", 2);
    rp_msgset_dispose(&ms);
}
END_TEST

/* White space only is blank; a NUL byte is not white space. */
START_TEST(test_importline_blank)
{
    ck_assert_int_eq(parse(""), 0);
    ck_assert_int_eq(parse(" \t\r\n"), 0);
    ck_assert_int_eq(rp_import_line_parse(&line, "\0\0\0\n", 4, &err),
                     RP_EFORMAT);
    ck_assert_uint_gt(strlen(err.msg), 0);
    ck_assert_int_eq(rp_import_line_parse(&line, " \0\n", 3, &err), RP_EFORMAT);
}
END_TEST

static const struct {
    const char *line;
    const char *words;
} bad[] = {
    {"{not json", "offset"},
    {"[\"key\", \"a\"]", "not a JSON object"},
    {"{\"data\": \"AQ==\"}", "no \"key\""},
    {"{\"key\": 5, \"data\": \"AQ==\"}", "\"key\" must be a string"},
    {"{\"key\": \"a\", \"data\": \"AQ=\"}", "\"data\":"},
    {"{\"key\": \"a\", \"data\": 7}", "\"data\" must be a base64 string"},
    {"{\"key\": \"a\"}", "needs \"data\" or \"messages\""},
    {"{\"key\": \"a\", \"messages\": {}}", "\"messages\" must be an array"},
    {"{\"key\": \"a\", \"messages\": [], \"attributes\": []}",
     "\"attributes\" must be an object"},
    {"{\"key\": \"a\", \"messages\": [], \"attributes\": {\"id\": 1}}",
     "attribute \"id\" must be a string"},
    {"{\"key\": \"a\", \"messages\": [5]}", "message 0 must be an object"},
    {"{\"key\": \"a\", \"messages\": [{\"body\": \"x\"}]}",
     "message 0: \"contract\" must be a non-empty string"},
    {"{\"key\": \"a\", \"messages\": [{\"contract\": \"X\", \"body\": 1}]}",
     "message 0: needs \"body\""},
    {"{\"key\": \"a\", \"messages\": [{\"contract\": \"X\", "
     "\"bodyBase64\": \"!\"}]}",
     "message 0: \"bodyBase64\":"},
};

START_TEST(test_importline_malformed)
{
    ck_assert_int_eq(parse(bad[_i].line), RP_EFORMAT);
    ck_assert_msg(strstr(err.msg, bad[_i].words) != NULL, "%s: %s",
                  bad[_i].line, err.msg);
    ck_assert_ptr_null(line.key);
}
END_TEST

Suite *importline_suite(void);

Suite *
importline_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s =
        rp_test_suite("importline", &core, &limits, &errors, setup, teardown);

    tcase_add_test(core, test_importline_data);
    tcase_add_test(core, test_importline_messages);
    tcase_add_test(limits, test_importline_blank);
    tcase_add_loop_test(errors, test_importline_malformed, 0,
                        (int)(sizeof(bad) / sizeof(bad[0])));
    return s;
}
