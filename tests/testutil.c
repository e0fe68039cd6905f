/* Fixtures the Check suites share (testutil.h): the suite skeleton, scratch
** folders and files. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

Suite *
rp_test_suite(const char *name, TCase **core, TCase **limits, TCase **errors,
              SFun setup, SFun teardown)
{
    Suite *s = suite_create(name);

    *core = tcase_create("core");
    *limits = tcase_create("limits");
    *errors = tcase_create("errors");
    if (setup != NULL || teardown != NULL) {
        tcase_add_checked_fixture(*core, setup, teardown);
        tcase_add_checked_fixture(*limits, setup, teardown);
        tcase_add_checked_fixture(*errors, setup, teardown);
    }
    suite_add_tcase(s, *core);
    suite_add_tcase(s, *limits);
    suite_add_tcase(s, *errors);
    return s;
}

void
rp_test_tmpdir(char *dir, size_t cap, const char *prefix)
{
    const char *t = getenv("TMPDIR");
    int n;

    n = snprintf(dir, cap, "%s/%s-XXXXXX", t != NULL && t[0] ? t : "/tmp",
                 prefix);
    ck_assert(n > 0 && (size_t)n < cap);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

void
rp_test_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct stat st;
    char *path;
    size_t cap;

    if (d == NULL) {
        unlink(dir);
        return;
    }
    cap = strlen(dir) + 258;
    path = malloc(cap);
    ck_assert_ptr_nonnull(path);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, cap, "%s/%s", dir, de->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            rp_test_rmtree(path);
        else
            unlink(path);
    }
    closedir(d);
    free(path);
    rmdir(dir);
}

void
rp_test_write_file(const char *path, const void *p, size_t n, const char *mode)
{
    FILE *f = fopen(path, mode);

    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}
