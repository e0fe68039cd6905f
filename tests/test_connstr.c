/* Tests of connection strings: schemes, nodes, options as the official
** clients read them, and what is refused (credentials, unknown or repeated
** options, bad values). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "connstr.h"
#include "testutil.h"

static struct rp_connstr cs;
static struct rp_error err;

static void
setup(void)
{
    memset(&cs, 0, sizeof(cs));
    memset(&err, 0, sizeof(err));
}

static void
teardown(void)
{
    rp_connstr_dispose(&cs);
}

START_TEST(test_connstr_single_node_defaults)
{
    ck_assert_int_eq(rp_connstr_parse(&cs, "kurrentdb://db.example", &err), 0);
    ck_assert_int_eq(cs.nnodes, 1);
    ck_assert_str_eq(cs.nodes[0].host, "db.example");
    ck_assert_int_eq(cs.nodes[0].port, 2113);
    ck_assert_int_eq(cs.discover, 0);
    ck_assert_int_eq(cs.tls, 1);
    ck_assert_int_eq(cs.tls_verify_cert, 1);
    ck_assert_ptr_null(cs.tls_ca_file);
    ck_assert_int_eq(cs.node_preference, RP_PREFER_LEADER);
    ck_assert_int_eq(cs.max_discover_attempts, 10);
    ck_assert_int_eq(cs.discovery_interval_ms, 100);
    ck_assert_int_eq(cs.gossip_timeout_ms, 5000);
    ck_assert_str_eq(cs.ignored, "");
}
END_TEST

START_TEST(test_connstr_options)
{
    ck_assert_int_eq(
        rp_connstr_parse(&cs,
                         "esdb://127.0.0.1:1113/?TLS=False&tlsVerifyCert=false"
                         "&tls-ca-file=/etc/ca%20bundle.pem"
                         "&node_preference=Follower&connectionName=repl"
                         "&defaultDeadline=2500&maxDiscoverAttempts=3"
                         "&discoveryInterval=0&gossipTimeout=700",
                         &err),
        0);
    ck_assert_str_eq(cs.nodes[0].host, "127.0.0.1");
    ck_assert_int_eq(cs.nodes[0].port, 1113);
    ck_assert_int_eq(cs.tls, 0);
    ck_assert_int_eq(cs.tls_verify_cert, 0);
    ck_assert_str_eq(cs.tls_ca_file, "/etc/ca bundle.pem");
    ck_assert_int_eq(cs.node_preference, RP_PREFER_FOLLOWER);
    ck_assert_str_eq(cs.connection_name, "repl");
    ck_assert_int_eq(cs.default_deadline_ms, 2500);
    ck_assert_int_eq(cs.max_discover_attempts, 3);
    ck_assert_int_eq(cs.discovery_interval_ms, 0);
    ck_assert_int_eq(cs.gossip_timeout_ms, 700);
}
END_TEST

/* Several nodes, or "+discover": gossip seeds. */
static const struct {
    const char *s;
    size_t nodes;
    int discover;
} clusters[] = {
    {"kurrentdb+discover://cluster.example:2113", 1, 1},
    {"esdb://a:2113,b:2114,c", 3, 1},
    {"kdb://a,b", 2, 1},
    {"kurrent://a?dnsDiscover=true", 1, 1},
    {"KurrentDB://a?dnsDiscover=false", 1, 0},
    {"esdb+discover://a,b/", 2, 1},
};

START_TEST(test_connstr_cluster_forms)
{
    ck_assert_int_eq(rp_connstr_parse(&cs, clusters[_i].s, &err), 0);
    ck_assert_int_eq(cs.nnodes, clusters[_i].nodes);
    ck_assert_int_eq(cs.discover, clusters[_i].discover);
    ck_assert_int_eq(rp_connstr_is(clusters[_i].s), 1);
}
END_TEST

/* Options the official clients take that mean nothing here are accepted,
** and named for a warning. */
START_TEST(test_connstr_ignored_options)
{
    ck_assert_int_eq(rp_connstr_parse(&cs,
                                      "kurrentdb://h?keepAliveInterval=-1&"
                                      "keepAliveTimeout=10000&"
                                      "throwOnAppendFailure=false",
                                      &err),
                     0);
    ck_assert_str_eq(cs.ignored, "keepAliveInterval, keepAliveTimeout, "
                                 "throwOnAppendFailure");
}
END_TEST

START_TEST(test_connstr_is)
{
    ck_assert_int_eq(rp_connstr_is("http://127.0.0.1:2113"), 0);
    ck_assert_int_eq(rp_connstr_is("kurrentdb:/h"), 0);
    ck_assert_int_eq(rp_connstr_is("esdb+discovery://h"), 0);
    ck_assert_int_eq(rp_connstr_is(NULL), 0);
    ck_assert_int_eq(rp_connstr_is("esdb://h"), 1);
}
END_TEST

START_TEST(test_connstr_sixteen_nodes)
{
    char s[400] = "esdb://";

    for (int i = 0; i < 16; i++)
        snprintf(s + strlen(s), sizeof(s) - strlen(s), "%sn%d", i ? "," : "",
                 i);
    ck_assert_int_eq(rp_connstr_parse(&cs, s, &err), 0);
    ck_assert_int_eq(cs.nnodes, 16);
    rp_connstr_dispose(&cs);
    strcat(s, ",n16");
    ck_assert_int_eq(rp_connstr_parse(&cs, s, &err), RP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "more than 16"));
}
END_TEST

/* Refused, with what the message must say. */
static const struct {
    const char *s;
    const char *needle;
} bad[] = {
    {"kurrentdb://admin:changeit@h", "credentials are never taken"},
    {"kurrentdb://h?foo=1", "unknown option 'foo'"},
    {"kurrentdb://h?tls=yes", "'tls' has a bad value 'yes'"},
    {"kurrentdb://h?tls=true&TLS=false", "'tls' is given twice"},
    {"kurrentdb://h?tls", "has no value"},
    {"kurrentdb://", "no host"},
    {"kurrentdb://a,,b", "a node without a host"},
    {"kurrentdb://a,", "a node without a host"},
    {"kurrentdb://[::1]:2113", "IPv6"},
    {"kurrentdb://h:0", "bad port"},
    {"kurrentdb://h:65536", "bad port"},
    {"kurrentdb://h:", "bad port"},
    {"kurrentdb://h:21x3", "bad port"},
    {"kurrentdb://h/streams", "a path is not allowed"},
    {"kurrentdb://h#x", "fragment"},
    {"kurrentdb://h%20x", "is not a host name"},
    {"kurrentdb://h?nodePreference=nearest", "'nodePreference' has a bad"},
    {"kurrentdb://h?userCertFile=/c.pem", "go together"},
    {"kurrentdb://h?tlsCaFile=", "'tlsCaFile' has a bad value"},
    {"kurrentdb://h?tlsCaFile=%00x", "'tlsCaFile' has a bad value"},
    {"kurrentdb://h?tlsCaFile=%4", "'tlsCaFile' has a bad value"},
    {"kurrentdb://h?defaultDeadline=0", "'defaultDeadline' has a bad"},
    {"kurrentdb://h?gossipTimeout=-5", "'gossipTimeout' has a bad"},
    {"kurrentdb://h?connectionName=a%0Ab", "'connectionName' has a bad"},
    {"http://h:2113", "not a connection string"},
};

START_TEST(test_connstr_refused)
{
    ck_assert_int_eq(rp_connstr_parse(&cs, bad[_i].s, &err), RP_EINVAL);
    ck_assert_msg(strstr(err.msg, bad[_i].needle) != NULL,
                  "'%s': message '%s' lacks '%s'", bad[_i].s, err.msg,
                  bad[_i].needle);
    ck_assert_ptr_null(cs.tls_ca_file);
    ck_assert_ptr_null(cs.user_cert_file);
}
END_TEST

Suite *connstr_suite(void);

Suite *
connstr_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s =
        rp_test_suite("connstr", &core, &limits, &errors, setup, teardown);

    tcase_add_test(core, test_connstr_single_node_defaults);
    tcase_add_test(core, test_connstr_options);
    tcase_add_loop_test(core, test_connstr_cluster_forms, 0,
                        (int)(sizeof(clusters) / sizeof(clusters[0])));
    tcase_add_test(core, test_connstr_ignored_options);
    tcase_add_test(core, test_connstr_is);
    tcase_add_test(limits, test_connstr_sixteen_nodes);
    tcase_add_loop_test(errors, test_connstr_refused, 0,
                        (int)(sizeof(bad) / sizeof(bad[0])));
    return s;
}
