/* Fixtures the Check suites share: the suite with its three TCases, a
** scratch folder per test, writing a file, the spec's example frame. */
#ifndef RP_TESTUTIL_H
#define RP_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* Spec 6: the one-frame example of a store file (key "customer-1", data
** 01 02 03), byte for byte. */
extern const unsigned char rp_test_spec_frame[43];

/* Create the suite 'name' with its TCases "core", "limits" and "errors"
** (added in that order) into *core, *limits and *errors.  When 'setup' or
** 'teardown' is not NULL, each TCase gets them as a checked fixture, so
** each test runs them in its own fork. */
Suite *rp_test_suite(const char *name, TCase **core, TCase **limits,
                     TCase **errors, SFun setup, SFun teardown);

/* Make a new folder "$TMPDIR/<prefix>-XXXXXX" (/tmp without TMPDIR) and
** write its path into 'dir' (of 'cap' bytes).  Fails the test when it
** cannot. */
void rp_test_tmpdir(char *dir, size_t cap, const char *prefix);

/* Remove the folder 'dir' and everything below it (links are removed, not
** followed).  Quiet when it does not exist. */
void rp_test_rmtree(const char *dir);

/* Write 'n' bytes at 'p' to 'path', opened with fopen 'mode' ("wb" to
** replace, "ab" to append).  Fails the test when it cannot. */
void rp_test_write_file(const char *path, const void *p, size_t n,
                        const char *mode);

/* Bytes written as a protocol specification writes them: hex pairs
** separated by spaces or line ends, and "quoted" runs of ASCII, into 'out'
** (of 'cap' bytes).  Returns how many; fails the test on bad text. */
size_t rp_test_bytes(unsigned char *out, size_t cap, const char *text);

#endif
