/* Fixtures the Check suites share (testutil.h): the suite skeleton, scratch
** folders and files. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const unsigned char rp_test_spec_frame[43] = {
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x63, 0x75,
    0x73, 0x74, 0x6F, 0x6D, 0x65, 0x72, 0x2D, 0x31, 0x03, 0x01, 0x02,
    0x03, 0x2E, 0x1D, 0xA4, 0xCE, 0xE0, 0x20, 0xC8, 0xE3, 0x7A, 0x49,
    0xEE, 0x17, 0xD8, 0xCB, 0x9C, 0xE8, 0xE3, 0x21, 0x5C, 0xC1};

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

size_t
rp_test_bytes(unsigned char *out, size_t cap, const char *text)
{
    size_t n = 0;
    const char *p = text;

    while (*p != '\0') {
        if (*p == ' ' || *p == '\n') {
            p++;
        } else if (*p == '"') {
            for (p++; *p != '"'; p++) {
                ck_assert_msg(*p != '\0' && n < cap, "bad byte text");
                out[n++] = (unsigned char)*p;
            }
            p++;
        } else {
            char two[3] = {p[0], p[0] ? p[1] : '\0', '\0'};
            char *end;
            unsigned long v = strtoul(two, &end, 16);

            ck_assert_msg(end == two + 2 && n < cap, "bad hex at '%s'", p);
            out[n++] = (unsigned char)v;
            p += 2;
        }
    }
    return n;
}
