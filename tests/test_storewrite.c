/* Tests of the store writer: frame bytes against the spec's worked examples,
** sessions that name their file as .NET does, never replace a file, and
** leave nothing behind when abandoned; the reader reads back what was
** written. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "storewrite.h"
#include "testutil.h"

static char tmpdir[256];

static void
setup(void)
{
    rp_test_tmpdir(tmpdir, sizeof(tmpdir), "rp-sw");
    rp_log_set_level(RP_LOG_ERROR);
}

/* The names in the folder, sorted, joined by spaces; removes them when
** 'remove' is set. */
static void
list_dir(char *out, size_t cap, int remove)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    char *names[64];
    size_t n = 0, len = 0;
    char path[600];

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && n < 64)
            names[n++] = strdup(de->d_name);
    closedir(d);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char *t = names[i];

                names[i] = names[j];
                names[j] = t;
            }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "",
                                names[i]);
        if (remove) {
            snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
            unlink(path);
        }
        free(names[i]);
    }
}

static void
teardown(void)
{
    rp_test_rmtree(tmpdir);
}

/* Spec 9.5: the whole 88-byte frame. */
static const unsigned char spec_record[88] = {
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x63, 0x75,
    0x73, 0x74, 0x6F, 0x6D, 0x65, 0x72, 0x3A, 0x31, 0x30, 0x00, 0x01,
    0x1A, 0x4C, 0x6F, 0x6B, 0x61, 0x64, 0x2E, 0x53, 0x61, 0x61, 0x53,
    0x2F, 0x43, 0x75, 0x73, 0x74, 0x6F, 0x6D, 0x65, 0x72, 0x43, 0x72,
    0x65, 0x61, 0x74, 0x65, 0x64, 0x12, 0x0D, 0x0A, 0x7B, 0x0D, 0x0A,
    0x09, 0x22, 0x49, 0x64, 0x22, 0x3A, 0x20, 0x31, 0x0D, 0x0A, 0x7D,
    0x0D, 0x0A, 0xA1, 0xCB, 0x41, 0xAD, 0x72, 0xC0, 0xCD, 0xE9, 0x50,
    0xAF, 0xB5, 0xB2, 0x3D, 0x9B, 0xDC, 0xA1, 0xFF, 0x37, 0x7A, 0xD5};

START_TEST(test_storewrite_spec_frames)
{
    struct rp_buf b;

    rp_buf_init(&b, 0);
    ck_assert_int_eq(rp_frame_encode(&b, 1, "customer-1", 10, "\1\2\3", 3), 0);
    ck_assert_uint_eq(b.len, sizeof(rp_test_spec_frame));
    ck_assert_mem_eq(b.data, rp_test_spec_frame, sizeof(rp_test_spec_frame));
    rp_buf_reset(&b);
    ck_assert_int_eq(
        rp_frame_encode(&b, 1, "customer:1", 10, spec_record + 20, 48), 0);
    ck_assert_uint_eq(b.len, sizeof(spec_record));
    ck_assert_mem_eq(b.data, spec_record, sizeof(spec_record));
    rp_buf_dispose(&b);
}
END_TEST

/* Multi-byte varints are minimal: 128 -> 80 01, 16384 -> 80 80 01. */
START_TEST(test_storewrite_minimal_varints)
{
    static char data[16384];
    struct rp_buf b;

    rp_buf_init(&b, 0);
    ck_assert_int_eq(rp_frame_encode(&b, 2, data, 128, data, 16384), 0);
    ck_assert_uint_eq(b.len, 8 + 2 + 128 + 3 + 16384 + 20);
    ck_assert_mem_eq(b.data + 8, "\x80\x01", 2);
    ck_assert_mem_eq(b.data + 8 + 2 + 128, "\x80\x80\x01", 3);
    rp_buf_dispose(&b);
}
END_TEST

START_TEST(test_storewrite_session_and_read_back)
{
    struct rp_storewrite *w = NULL;
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    char name[256], names[4096], name2[256];

    ck_assert_int_eq(rp_storewrite_open(&w, tmpdir, 0, &err), 0);
    ck_assert_int_eq(rp_storewrite_append(w, 1, "a", 1, "x", 1, &err), 0);
    ck_assert_int_eq(rp_storewrite_append(w, 1, "b", 1, "", 0, &err), 0);
    ck_assert_int_eq(rp_storewrite_append(w, 2, "a", 1, "yy", 2, &err), 0);
    /* nothing under a .dat name before the commit */
    list_dir(names, sizeof(names), 0);
    ck_assert_ptr_null(strstr(names, ".dat"));
    ck_assert_int_eq(rp_storewrite_commit(w, name, &err), 0);
    rp_storewrite_free(w);
    ck_assert_uint_eq(strlen(name), strlen("00000001-2013-03-15-093012.dat"));
    ck_assert_int_eq(strncmp(name, "00000001-20", 11), 0);
    list_dir(names, sizeof(names), 0);
    ck_assert_str_eq(names, name);

    /* a second session numbered after the first, never on its name */
    ck_assert_int_eq(rp_storewrite_open(&w, tmpdir, 3, &err), 0);
    ck_assert_int_eq(rp_storewrite_append(w, 1, "c", 1, "z", 1, &err), 0);
    ck_assert_int_eq(rp_storewrite_commit(w, name2, &err), 0);
    rp_storewrite_free(w);
    ck_assert_int_eq(strncmp(name2, "00000004-20", 11), 0);

    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_str_eq(rec.key, "a");
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_uint_eq(rec.data_len, 0);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_uint_eq(rec.stream_version, 2);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_str_eq(rec.file, name2);
    ck_assert_uint_eq(rec.store_version, 4);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 0);
    ck_assert_uint_eq(rp_store_warnings(st), 0);
    rp_store_close(st);
}
END_TEST

/* Same number, same second: the next second is taken. */
START_TEST(test_storewrite_never_replaces)
{
    struct rp_storewrite *w1 = NULL, *w2 = NULL;
    struct rp_error err = {0};
    char n1[256], n2[256];

    ck_assert_int_eq(rp_storewrite_open(&w1, tmpdir, 0, &err), 0);
    ck_assert_int_eq(rp_storewrite_open(&w2, tmpdir, 0, &err), 0);
    ck_assert_int_eq(rp_storewrite_append(w1, 1, "a", 1, "1", 1, &err), 0);
    ck_assert_int_eq(rp_storewrite_append(w2, 1, "a", 1, "2", 1, &err), 0);
    ck_assert_int_eq(rp_storewrite_commit(w1, n1, &err), 0);
    ck_assert_int_eq(rp_storewrite_commit(w2, n2, &err), 0);
    ck_assert_str_ne(n1, n2);
    rp_storewrite_free(w1);
    rp_storewrite_free(w2);
}
END_TEST

/* 100,000,000 and up: the number grows past 8 digits. */
START_TEST(test_storewrite_wide_number)
{
    struct rp_storewrite *w = NULL;
    struct rp_error err = {0};
    char name[256];

    ck_assert_int_eq(rp_storewrite_open(&w, tmpdir, 99999999, &err), 0);
    ck_assert_int_eq(rp_storewrite_append(w, 1, "a", 1, "1", 1, &err), 0);
    ck_assert_int_eq(rp_storewrite_commit(w, name, &err), 0);
    ck_assert_int_eq(strncmp(name, "100000000-", 10), 0);
    rp_storewrite_free(w);
}
END_TEST

START_TEST(test_storewrite_abandon_leaves_nothing)
{
    struct rp_storewrite *w = NULL;
    struct rp_error err = {0};
    char names[4096], name[256];

    ck_assert_int_eq(rp_storewrite_open(&w, tmpdir, 0, &err), 0);
    ck_assert_int_eq(rp_storewrite_append(w, 1, "a", 1, "1", 1, &err), 0);
    rp_storewrite_free(w);
    list_dir(names, sizeof(names), 0);
    ck_assert_str_eq(names, "");
    /* an empty session makes no file */
    ck_assert_int_eq(rp_storewrite_open(&w, tmpdir, 0, &err), 0);
    ck_assert_int_eq(rp_storewrite_commit(w, name, &err), 0);
    ck_assert_str_eq(name, "");
    rp_storewrite_free(w);
    list_dir(names, sizeof(names), 0);
    ck_assert_str_eq(names, "");
}
END_TEST

START_TEST(test_storewrite_errors)
{
    struct rp_storewrite *w = NULL;
    struct rp_error err = {0};
    char path[600];

    snprintf(path, sizeof(path), "%s/missing", tmpdir);
    ck_assert_int_eq(rp_storewrite_open(&w, path, 0, &err), RP_EIO);
    ck_assert_ptr_null(w);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
}
END_TEST

Suite *storewrite_suite(void);

Suite *
storewrite_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s =
        rp_test_suite("storewrite", &core, &limits, &errors, setup, teardown);

    tcase_add_test(core, test_storewrite_spec_frames);
    tcase_add_test(core, test_storewrite_session_and_read_back);
    tcase_add_test(core, test_storewrite_never_replaces);
    tcase_add_test(limits, test_storewrite_minimal_varints);
    tcase_add_test(limits, test_storewrite_wide_number);
    tcase_add_test(errors, test_storewrite_abandon_leaves_nothing);
    tcase_add_test(errors, test_storewrite_errors);
    return s;
}
