/* Tests of the checkpoint: the local file round trip, atomic replacement,
** damaged files, and the JSON of the target's checkpoint events. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "checkpoint.h"
#include "testutil.h"

static char dir[256];
static char path[300];

static void
setup(void)
{
    rp_test_tmpdir(dir, sizeof(dir), "rp-ckpt");
    snprintf(path, sizeof(path), "%s/x.checkpoint", dir);
}

static void
teardown(void)
{
    rp_test_rmtree(dir);
}

static void
sample_pos(struct rp_store_pos *pos, uint64_t sv)
{
    memset(pos, 0, sizeof(*pos));
    pos->store_version = sv;
    snprintf(pos->file, sizeof(pos->file), "%s", "2024 \"odd\".dat");
    pos->offset = 123456789012ULL;
    pos->end = 123456789099ULL;
    for (int i = 0; i < 20; i++)
        pos->sha1[i] = (unsigned char)(i * 13 + 1);
}

/* Counts seen by load, as "key=count;" text (NUL bytes shown as '0'). */
static char seen[512];

static int
gather(void *ctx, const char *key, size_t key_len, uint64_t count)
{
    size_t n = strlen(seen);

    (void)ctx;
    for (size_t i = 0; i < key_len && n < sizeof(seen) - 1; i++)
        seen[n++] = key[i] ? key[i] : '0';
    snprintf(seen + n, sizeof(seen) - n, "=%llu;", (unsigned long long)count);
    return 0;
}

START_TEST(test_checkpoint_round_trip)
{
    struct rp_checkpoint_writer *w;
    struct rp_store_pos pos, got;
    struct rp_error err = {0};
    char source[64];

    sample_pos(&pos, 42);
    ck_assert_int_eq(rp_checkpoint_begin(&w, path, "store-a", &pos, &err), 0);
    rp_checkpoint_add_count(w, "customer:1", 10, 7);
    rp_checkpoint_add_count(w, "a\nb \"c\"", 7, 1);
    rp_checkpoint_add_count(w, "n\0l", 3, 3);
    rp_checkpoint_add_count(w, "none", 4, 0);
    rp_checkpoint_add_count(w, "customer:1", 10, 6); /* a correction */
    ck_assert_int_eq(rp_checkpoint_commit(w, &err), 0);
    seen[0] = '\0';
    ck_assert_int_eq(rp_checkpoint_load(path, source, sizeof(source), &got,
                                        gather, NULL, &err),
                     0);
    ck_assert_str_eq(source, "store-a");
    ck_assert_int_eq(got.store_version, 42);
    ck_assert_str_eq(got.file, pos.file);
    ck_assert(got.offset == pos.offset);
    ck_assert(got.end == pos.end);
    ck_assert(memcmp(got.sha1, pos.sha1, 20) == 0);
    ck_assert_str_eq(seen,
                     "customer:1=7;a\nb \"c\"=1;n0l=3;none=0;customer:1=6;");
}
END_TEST

START_TEST(test_checkpoint_replace_keeps_old_until_commit)
{
    struct rp_checkpoint_writer *w;
    struct rp_store_pos pos, got;
    struct rp_error err = {0};
    char source[64];

    sample_pos(&pos, 1);
    ck_assert_int_eq(rp_checkpoint_begin(&w, path, "s", &pos, &err), 0);
    ck_assert_int_eq(rp_checkpoint_commit(w, &err), 0);
    sample_pos(&pos, 2);
    ck_assert_int_eq(rp_checkpoint_begin(&w, path, "s", &pos, &err), 0);
    rp_checkpoint_add_count(w, "k", 1, 5);
    rp_checkpoint_abort(w);
    seen[0] = '\0';
    ck_assert_int_eq(rp_checkpoint_load(path, source, sizeof(source), &got,
                                        gather, NULL, &err),
                     0);
    ck_assert_int_eq(got.store_version, 1);
    ck_assert_str_eq(seen, "");
    sample_pos(&pos, 3);
    ck_assert_int_eq(rp_checkpoint_begin(&w, path, "s", &pos, &err), 0);
    ck_assert_int_eq(rp_checkpoint_commit(w, &err), 0);
    ck_assert_int_eq(rp_checkpoint_load(path, source, sizeof(source), &got,
                                        gather, NULL, &err),
                     0);
    ck_assert_int_eq(got.store_version, 3);
}
END_TEST

START_TEST(test_checkpoint_json_round_trip)
{
    struct rp_store_pos pos, got;
    struct rp_buf b;
    struct rp_error err = {0};

    sample_pos(&pos, 99);
    rp_buf_init(&b, 0);
    ck_assert_int_eq(rp_checkpoint_to_json(&b, "src", &pos), 0);
    ck_assert_int_eq(rp_checkpoint_from_json(b.data, b.len, "src", &got, &err),
                     0);
    ck_assert_int_eq(got.store_version, 99);
    ck_assert_str_eq(got.file, pos.file);
    ck_assert(memcmp(got.sha1, pos.sha1, 20) == 0);
    ck_assert_int_eq(
        rp_checkpoint_from_json(b.data, b.len, "other", &got, &err),
        RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "'src'"));
    rp_buf_dispose(&b);
}
END_TEST

START_TEST(test_checkpoint_missing_file)
{
    struct rp_store_pos got;
    struct rp_error err = {0};
    char source[64];

    ck_assert_int_eq(rp_checkpoint_load(path, source, sizeof(source), &got,
                                        gather, NULL, &err),
                     RP_ENOENT);
}
END_TEST

/* Damaged files: each must be refused with the file and line named. */
static const char *const damaged[] = {
    "",
    "replicator-checkpoint 2\n",
    "replicator-checkpoint 1\nsource \"s\"\n",
    "replicator-checkpoint 1\nsource \"s\"\nposition 1 2 3 zz \"f\"\nend 0\n",
    "replicator-checkpoint 1\nsource \"s\"\nposition 1 0 9 "
    "0000000000000000000000000000000000000000 \"f\"\ncount 3 \"k\"\nend 2\n",
    "replicator-checkpoint 1\nsource \"s\"\nposition 1 0 9 "
    "0000000000000000000000000000000000000000 \"f\"\ncount 3 \"k",
    "replicator-checkpoint 1\nsource \"s\"\nposition 1 0 9 "
    "0000000000000000000000000000000000000000 \"f\"\nend 0\nextra\n",
};

START_TEST(test_checkpoint_damaged_refused)
{
    FILE *f = fopen(path, "w");
    struct rp_store_pos got;
    struct rp_error err = {0};
    char source[64];

    ck_assert_ptr_nonnull(f);
    fputs(damaged[_i], f);
    fclose(f);
    ck_assert_int_eq(rp_checkpoint_load(path, source, sizeof(source), &got,
                                        gather, NULL, &err),
                     RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_nonnull(strstr(err.msg, "line"));
}
END_TEST

START_TEST(test_checkpoint_unwritable_folder)
{
    struct rp_checkpoint_writer *w;
    struct rp_store_pos pos;
    struct rp_error err = {0};

    sample_pos(&pos, 1);
    ck_assert_int_eq(
        rp_checkpoint_begin(&w, "/nonexistent-dir/x.ckpt", "s", &pos, &err),
        RP_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/x.ckpt"));
}
END_TEST

Suite *checkpoint_suite(void);

Suite *
checkpoint_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s =
        rp_test_suite("checkpoint", &core, &limits, &errors, setup, teardown);

    tcase_add_test(core, test_checkpoint_round_trip);
    tcase_add_test(core, test_checkpoint_replace_keeps_old_until_commit);
    tcase_add_test(core, test_checkpoint_json_round_trip);
    tcase_add_test(limits, test_checkpoint_missing_file);
    tcase_add_loop_test(errors, test_checkpoint_damaged_refused, 0,
                        (int)(sizeof(damaged) / sizeof(damaged[0])));
    tcase_add_test(errors, test_checkpoint_unwritable_folder);
    return s;
}
