/* The one Check runner: every tests/test_<module>.c suite, listed in the
** generated suites.h.  CK_RUN_SUITE=<module> runs one; exits non-zero on
** any failure. */
#include <check.h>
#include <stdlib.h>

#define RP_SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef RP_SUITE

int
main(void)
{
    SRunner *sr = srunner_create(NULL);
    int failed;

#define RP_SUITE(name) srunner_add_suite(sr, name##_suite());
#include "suites.h"
#undef RP_SUITE
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
