/* Tests of the settings: defaults, text values, flags and derived values. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "util.h"
#include "testutil.h"

START_TEST(test_config_defaults)
{
    struct rp_config c;

    rp_config_init(&c);
    ck_assert_int_eq(c.source_metadata, 1);
    ck_assert_uint_eq(c.time_limit_ms, 1000);
    ck_assert_uint_eq(c.memory_limit_mb, 256);
    ck_assert_uint_eq(c.max_event_bytes, 4u * 1024 * 1024);
    ck_assert_uint_eq(c.batch_events, 500);
    ck_assert_uint_eq(c.batch_bytes, 1024u * 1024);
    ck_assert_uint_eq(c.poll_ms, 500);
    ck_assert_int_eq(c.log_level, RP_LOG_INFO);
    ck_assert_ptr_null(c.store);
    rp_config_dispose(&c);
}
END_TEST

START_TEST(test_config_set_values)
{
    struct rp_config c;
    struct rp_error err = {0};

    rp_config_init(&c);
    ck_assert_int_eq(rp_config_set(&c, "store", "/s", "t", &err), 0);
    ck_assert_int_eq(rp_config_set(&c, "store", "/other", "t", &err), 0);
    ck_assert_str_eq(c.store, "/other");
    ck_assert_int_eq(rp_config_set(&c, "batch_events", "20", "t", &err), 0);
    ck_assert_uint_eq(c.batch_events, 20);
    ck_assert_int_eq(rp_config_set(&c, "source_metadata", "false", "t", &err),
                     0);
    ck_assert_int_eq(c.source_metadata, 0);
    ck_assert_int_eq(rp_config_set(&c, "log_level", "debug", "t", &err), 0);
    ck_assert_int_eq(c.log_level, RP_LOG_DEBUG);
    ck_assert(rp_config_known("batch_bytes"));
    ck_assert(!rp_config_known("script"));
    ck_assert(!rp_config_known("nonsense"));
    rp_config_dispose(&c);
}
END_TEST

START_TEST(test_config_flags)
{
    struct rp_config c;
    struct rp_error err = {0};
    char a0[] = "x", a1[] = "--store", a2[] = "/data/tapes/",
         a3[] = "--poll-ms=7", a4[] = "--no-source-metadata", a5[] = "--from",
         a6[] = "3", a7[] = "--source-metadata", a8[] = "--target";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, NULL};
    int argc = 9, i;

    rp_config_init(&c);
    i = 1;
    ck_assert_int_eq(rp_config_flag(&c, argc, argv, &i, &err), 1);
    ck_assert_int_eq(i, 2);
    ck_assert_str_eq(c.store, "/data/tapes/");
    i = 3;
    ck_assert_int_eq(rp_config_flag(&c, argc, argv, &i, &err), 1);
    ck_assert_uint_eq(c.poll_ms, 7);
    i = 4;
    ck_assert_int_eq(rp_config_flag(&c, argc, argv, &i, &err), 1);
    ck_assert_int_eq(c.source_metadata, 0);
    i = 5; /* not a setting: the command's own */
    ck_assert_int_eq(rp_config_flag(&c, argc, argv, &i, &err), 0);
    i = 7;
    ck_assert_int_eq(rp_config_flag(&c, argc, argv, &i, &err), 1);
    ck_assert_int_eq(c.source_metadata, 1);
    i = 8; /* --target without a value */
    ck_assert_int_eq(rp_config_flag(&c, argc, argv, &i, &err), RP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "--target"));
    ck_assert_int_eq(rp_config_finish(&c, &err), 0);
    ck_assert_str_eq(c.source_id, "tapes");
    rp_config_dispose(&c);
}
END_TEST

START_TEST(test_config_bad_values)
{
    struct rp_config c;
    struct rp_error err = {0};
    char a0[] = "x", a1[] = "--batch-events", a2[] = "-1", a3[] = "--no-store",
         a4[] = "--batch_events";
    char *argv[] = {a0, a1, a2, a3, a4, NULL};
    int i;

    rp_config_init(&c);
    ck_assert_int_eq(rp_config_set(&c, "batch_events", "0", "here", &err),
                     RP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "here: batch_events"));
    ck_assert_int_eq(rp_config_set(&c, "time_limit_ms", "1.5", "t", &err),
                     RP_EINVAL);
    ck_assert_int_eq(
        rp_config_set(&c, "time_limit_ms", "99999999999999999999", "t", &err),
        RP_EINVAL);
    ck_assert_int_eq(rp_config_set(&c, "source_metadata", "yes", "t", &err),
                     RP_EINVAL);
    ck_assert_int_eq(rp_config_set(&c, "log_level", "loud", "t", &err),
                     RP_EINVAL);
    ck_assert_int_eq(rp_config_set(&c, "store", "", "t", &err), RP_EINVAL);
    ck_assert_int_eq(rp_config_set(&c, "source_id", "a\xff", "t", &err),
                     RP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "UTF-8"));
    ck_assert_int_eq(rp_config_set(&c, "nope", "1", "t", &err), RP_ENOENT);
    ck_assert_uint_eq(c.batch_events, 500);
    i = 1;
    ck_assert_int_eq(rp_config_flag(&c, 5, argv, &i, &err), RP_EINVAL);
    i = 3; /* --no- only for booleans */
    ck_assert_int_eq(rp_config_flag(&c, 5, argv, &i, &err), 0);
    i = 4; /* flags spell words with '-' */
    ck_assert_int_eq(rp_config_flag(&c, 5, argv, &i, &err), 0);
    rp_config_set(&c, "store", "/", "t", &err);
    ck_assert_int_eq(rp_config_finish(&c, &err), RP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "source_id"));
    rp_config_dispose(&c);
}
END_TEST

/* A command's own option for the parse_args tests: "--own" counts. */
static int
own_option(void *ctx, int argc, char **argv, int *i, struct rp_error *err)
{
    (void)argc;
    (void)err;
    if (strcmp(argv[*i], "--own") != 0)
        return 0;
    ++*(int *)ctx;
    return 1;
}

START_TEST(test_config_parse_args)
{
    struct rp_config c;
    struct rp_error err = {0};
    char a0[] = "cmd", a1[] = "--own", a2[] = "--store", a3[] = "/d/s",
         a4[] = "-h", a5[] = "--own";
    char *argv[] = {a0, a1, a2, a3, a4, a5, NULL};
    int own = 0, help = 0;

    rp_config_init(&c);
    ck_assert_int_eq(
        rp_config_parse_args(&c, 6, argv, own_option, &own, &help, &err), 0);
    ck_assert_int_eq(own, 2);
    ck_assert_int_eq(help, 1);
    ck_assert_str_eq(c.store, "/d/s");
    ck_assert_ptr_null(c.source_id);
    ck_assert_int_eq(rp_config_complete(&c, 6, argv, own_option, &own, &err),
                     0);
    ck_assert_int_eq(own, 4);
    ck_assert_str_eq(c.source_id, "s");
    rp_config_dispose(&c);
}
END_TEST

START_TEST(test_config_parse_args_errors)
{
    struct rp_config c;
    struct rp_error err = {0};
    char a0[] = "cmd", a1[] = "--own", a2[] = "--poll-ms=5", a3[] = "--nope";
    char *argv[] = {a0, a1, a2, a3, NULL};
    int own = 0, help = 0;

    rp_config_init(&c);
    /* without the command's option, --own is unknown */
    ck_assert_int_eq(rp_config_parse_args(&c, 4, argv, NULL, NULL, &help, &err),
                     RP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown option '--own'"));
    ck_assert_int_eq(
        rp_config_parse_args(&c, 4, argv, own_option, &own, &help, &err),
        RP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown option '--nope'"));
    ck_assert_uint_eq(c.poll_ms, 5);
    /* no store anywhere: complete names where to set one */
    ck_assert_int_eq(rp_config_set(&c, "script", "x.lua", "t", &err), 0);
    ck_assert_int_eq(rp_config_complete(&c, 3, argv, own_option, &own, &err),
                     RP_EINVAL);
    ck_assert_ptr_nonnull(
        strstr(err.msg, "no store: set config.store in x.lua"));
    ck_assert_int_eq(help, 0);
    rp_config_dispose(&c);
}
END_TEST

static int usage_calls; /* how often fake_usage ran */

static void
fake_usage(FILE *out)
{
    (void)out;
    usage_calls++;
}

START_TEST(test_config_start)
{
    struct rp_config c;
    struct rp_error err = {0};
    char a0[] = "cmd", a1[] = "--own", a2[] = "--help", a3[] = "--script",
         a4[] = "s.lua", a5[] = "--nope";
    char *help_argv[] = {a0, a1, a2, NULL};
    char *bare_argv[] = {a0, a1, NULL};
    char *script_argv[] = {a0, a3, a4, NULL};
    char *bad_argv[] = {a0, a2, a5, NULL};
    int own = 0;

    rp_config_init(&c);
    usage_calls = 0;
    ck_assert_int_eq(
        rp_config_start(&c, 3, help_argv, own_option, &own, fake_usage, &err),
        1);
    ck_assert_int_eq(usage_calls, 1);
    ck_assert_int_eq(own, 1);
    ck_assert_int_eq(
        rp_config_start(&c, 2, bare_argv, own_option, &own, fake_usage, &err),
        RP_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.msg, "--script FILE is required"));
    /* a bad argument wins over --help */
    ck_assert_int_eq(
        rp_config_start(&c, 3, bad_argv, own_option, &own, fake_usage, &err),
        RP_EINVAL);
    ck_assert_int_eq(usage_calls, 1);
    ck_assert_int_eq(
        rp_config_start(&c, 3, script_argv, own_option, &own, fake_usage, &err),
        0);
    ck_assert_str_eq(c.script, "s.lua");
    rp_config_dispose(&c);
}
END_TEST

START_TEST(test_config_usage_lists_flags)
{
    char text[8192];
    FILE *f = tmpfile();
    size_t n;

    ck_assert_ptr_nonnull(f);
    rp_config_usage(f);
    rewind(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    ck_assert_ptr_nonnull(strstr(text, "  --batch-events N "));
    ck_assert_ptr_nonnull(strstr(text, "  --[no-]source-metadata "));
    ck_assert_ptr_nonnull(strstr(text, "  --store DIR "));
    ck_assert_ptr_null(strstr(text, "batch_events"));
}
END_TEST

Suite *config_suite(void);

Suite *
config_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s = rp_test_suite("config", &core, &limits, &errors, NULL, NULL);

    tcase_add_test(core, test_config_defaults);
    tcase_add_test(core, test_config_set_values);
    tcase_add_test(core, test_config_flags);
    tcase_add_test(core, test_config_usage_lists_flags);
    tcase_add_test(core, test_config_parse_args);
    tcase_add_test(core, test_config_start);
    tcase_add_test(errors, test_config_parse_args_errors);
    tcase_add_test(errors, test_config_bad_values);
    return s;
}
