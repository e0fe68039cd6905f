/* Tests of the HTTP transport against bin/esdb-emu on 127.0.0.1: answers
** with their headers, many requests in flight, redirects re-sent by hand,
** transport failures naming the URL, bounded bodies; and the URL helpers. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http.h"
#include "testutil.h"

static pid_t emu_pid = -1;
static char emu_urls[512];
static struct rp_http *h;

/* Size of the URL buffers of the tests. */
#define URL_CAP 700

/* Start bin/esdb-emu with 'extra' arguments; its first stdout line holds
** the node URLs. */
static void
start_emu(const char *extra)
{
    const char *dir = getenv("RP_BIN_DIR");
    char path[600];
    int fds[2];
    ssize_t n;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s/esdb-emu", dir ? dir : "bin");
    ck_assert_int_eq(pipe(fds), 0);
    emu_pid = fork();
    ck_assert_int_ge(emu_pid, 0);
    if (emu_pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (extra != NULL)
            execl(path, path, "--port", "0", extra, "3", (char *)NULL);
        else
            execl(path, path, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (len < sizeof(emu_urls) - 1 &&
           (n = read(fds[0], emu_urls + len, 1)) == 1 && emu_urls[len] != '\n')
        len++;
    emu_urls[len] = '\0';
    close(fds[0]);
    ck_assert_msg(len > 0, "esdb-emu did not start (%s)", path);
}

static void
setup(void)
{
    struct rp_http_options o;
    struct rp_error err = {0};

    curl_global_init(CURL_GLOBAL_ALL);
    memset(&o, 0, sizeof(o));
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 10000;
    o.max_response = 64 << 10;
    o.username = "admin";
    o.password = "changeit";
    ck_assert_int_eq(rp_http_new(&h, &o, &err), 0);
}

static void
teardown(void)
{
    rp_http_free(h);
    h = NULL;
    if (emu_pid > 0) {
        kill(emu_pid, SIGTERM);
        waitpid(emu_pid, NULL, 0);
        emu_pid = -1;
    }
}

/* Run 'req' through the multi interface until it is done. */
static void
run_one(struct rp_http_req *req)
{
    struct rp_error err = {0};
    unsigned ready;

    ck_assert_int_eq(rp_http_start(h, req, &err), 0);
    while (rp_http_in_flight(h) > 0) {
        struct rp_http_req *done;

        ck_assert_int_eq(rp_http_wait(h, NULL, 0, 100, &ready, &err), 0);
        if ((done = rp_http_next_done(h)) != NULL) {
            ck_assert_ptr_eq(done, req);
            break;
        }
    }
}

static const char *const post_headers[] = {
    "Content-Type: application/vnd.eventstore.events+json",
    "ES-ExpectedVersion: -1", NULL};
static const char *const post_headers_e5[] = {
    "Content-Type: application/vnd.eventstore.events+json",
    "ES-ExpectedVersion: 5", NULL};
static const char *const read_headers[] = {
    "Accept: application/vnd.eventstore.atom+json", NULL};
static const char body[] =
    "[{\"eventId\":\"8e3c2f4a-1b2c-4d5e-8f90-123456789abc\","
    "\"eventType\":\"T\",\"data\":{\"a\":1}}]";

/* Run 'req' afresh against 'base' followed by 'path', written into 'url'
** (URL_CAP bytes; req points to it): a POST of 'body' when 'post' is set,
** else a GET, with 'headers'. */
static void
run_at(struct rp_http_req *req, char *url, const char *base, const char *path,
       const char *const *headers, int post)
{
    memset(req, 0, sizeof(*req));
    snprintf(url, URL_CAP, "%s%s", base, path);
    req->post = post;
    req->url = url;
    req->headers = headers;
    if (post) {
        req->body = body;
        req->body_len = strlen(body);
    }
    run_one(req);
}

START_TEST(test_http_append_and_read)
{
    struct rp_http_req req;
    char url[URL_CAP];

    start_emu(NULL);
    run_at(&req, url, emu_urls, "/streams/s-1", post_headers, 1);
    ck_assert_int_eq(req.result.transport_error, 0);
    ck_assert_int_eq(req.result.status, 201);
    ck_assert_ptr_nonnull(strstr(req.result.location, "/streams/s-1/0"));
    /* The same batch with a wrong expected version: 400 and the current
    ** version in a header. */
    req.headers = post_headers_e5;
    run_one(&req);
    ck_assert_int_eq(req.result.status, 400);
    ck_assert_int_eq(req.result.has_current_version, 1);
    ck_assert_int_eq(req.result.current_version, 0);
    /* A read: the feed body comes back. */
    run_at(&req, url, emu_urls, "/streams/s-1/head/backward/1?embed=body",
           read_headers, 0);
    ck_assert_int_eq(req.result.status, 200);
    ck_assert_ptr_nonnull(strstr(req.result.body, "8e3c2f4a"));
    ck_assert_uint_eq(strlen(req.result.body), req.result.body_len);
}
END_TEST

START_TEST(test_http_many_in_flight)
{
    struct rp_http_req req[8];
    char url[8][700];
    struct rp_error err = {0};
    unsigned ready;
    int done = 0;

    start_emu(NULL);
    for (int i = 0; i < 8; i++) {
        memset(&req[i], 0, sizeof(req[i]));
        snprintf(url[i], sizeof(url[i]), "%s/streams/m-%d", emu_urls, i);
        req[i].post = 1;
        req[i].url = url[i];
        req[i].headers = post_headers;
        req[i].body = body;
        req[i].body_len = strlen(body);
        ck_assert_int_eq(rp_http_start(h, &req[i], &err), 0);
    }
    ck_assert_int_eq(rp_http_in_flight(h), 8);
    while (done < 8) {
        struct rp_http_req *r;

        ck_assert_int_eq(rp_http_wait(h, NULL, 0, 100, &ready, &err), 0);
        while ((r = rp_http_next_done(h)) != NULL) {
            ck_assert_int_eq(r->result.status, 201);
            done++;
        }
    }
    ck_assert_int_eq(rp_http_in_flight(h), 0);
}
END_TEST

START_TEST(test_http_redirect_resent_to_leader)
{
    static const char *const leader_headers[] = {
        "Content-Type: application/vnd.eventstore.events+json",
        "ES-ExpectedVersion: -1", "ES-RequireLeader: True", NULL};
    struct rp_http_req req;
    char url[URL_CAP], follower[256], *space;

    start_emu("--cluster");
    space = strchr(emu_urls, ' ');
    ck_assert_ptr_nonnull(space);
    snprintf(follower, sizeof(follower), "%.*s", (int)strcspn(space + 1, " "),
             space + 1);
    run_at(&req, url, follower, "/streams/r-1", leader_headers, 1);
    ck_assert_int_eq(req.result.status, 201);
    ck_assert_int_eq(req.result.redirected, 1);
    ck_assert_msg(
        strncmp(req.result.final_url, emu_urls, strcspn(emu_urls, " ")) == 0,
        "answered by %s, leader is %s", req.result.final_url, emu_urls);
}
END_TEST

START_TEST(test_http_connection_refused_names_url)
{
    struct rp_http_req req;

    memset(&req, 0, sizeof(req));
    /* Port 1 on the loopback: nothing listens there. */
    req.url = "http://127.0.0.1:1/streams/x";
    req.headers = read_headers;
    run_one(&req);
    ck_assert_int_eq(req.result.transport_error, 1);
    ck_assert_int_eq(req.result.status, 0);
    ck_assert_ptr_nonnull(strstr(req.result.error, "127.0.0.1:1/streams/x"));
}
END_TEST

START_TEST(test_http_body_is_bounded)
{
    struct rp_http_req req;
    char url[URL_CAP];

    start_emu(NULL);
    /* Write an event, then read its feed with a 16-byte limit. */
    rp_http_free(h);
    {
        struct rp_http_options o;
        struct rp_error err = {0};

        memset(&o, 0, sizeof(o));
        o.max_response = 16;
        ck_assert_int_eq(rp_http_new(&h, &o, &err), 0);
    }
    run_at(&req, url, emu_urls, "/streams/b-1", post_headers, 1);
    ck_assert_int_eq(req.result.status, 201);
    run_at(&req, url, emu_urls, "/streams/b-1/head/backward/1?embed=body",
           read_headers, 0);
    ck_assert_int_eq(req.result.status, 200);
    ck_assert_uint_eq(req.result.body_len, 16);
}
END_TEST

START_TEST(test_http_redact_and_segment)
{
    char out[128];
    struct rp_buf b;

    rp_http_redact(out, sizeof(out), "https://user:pw@host:2113/streams/a");
    ck_assert_str_eq(out, "https://host:2113/streams/a");
    rp_http_redact(out, sizeof(out), "http://host:2113/x@y");
    ck_assert_str_eq(out, "http://host:2113/x@y");
    rp_buf_init(&b, 0);
    ck_assert_int_eq(rp_http_add_segment(&b, "a b/c$d%\xc3\xa9~-._", 14), 0);
    ck_assert_str_eq(b.data, "a%20b%2Fc%24d%25%C3%A9~-._");
    rp_buf_dispose(&b);
}
END_TEST

/* Header lines as the transport hands them over: a status line starts
** afresh, Location and the current version are kept, the rest ignored;
** a current version that is not a whole int64_t is not one. */
START_TEST(test_http_result_headers)
{
    struct rp_http_result r;
    static const char *const lines[] = {
        "HTTP/1.1 307 Temporary Redirect\r\n",
        "Location: http://other:2113/streams/a\r\n",
        "ES-CurrentVersion: 4\r\n",
        "HTTP/1.1 400 Wrong expected EventNumber\r\n",
        "Content-Type: text/plain\r\n",
        "es-currentversion: 9223372036854775807\r\n",
        "\r\n",
    };

    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < 3; i++)
        rp_http_result_header(&r, lines[i], strlen(lines[i]));
    ck_assert_str_eq(r.reason, "Temporary Redirect");
    ck_assert_str_eq(r.location, "http://other:2113/streams/a");
    ck_assert_int_eq(r.has_current_version, 1);
    ck_assert_int_eq(r.current_version, 4);
    for (size_t i = 3; i < sizeof(lines) / sizeof(lines[0]); i++)
        rp_http_result_header(&r, lines[i], strlen(lines[i]));
    ck_assert_str_eq(r.reason, "Wrong expected EventNumber");
    ck_assert_str_eq(r.location, "");
    ck_assert_int_eq(r.has_current_version, 1);
    ck_assert_int_eq(r.current_version, INT64_MAX);
    memset(&r, 0, sizeof(r));
    rp_http_result_header(&r, "Kurrent-CurrentVersion: 9223372036854775808",
                          43);
    ck_assert_int_eq(r.has_current_version, 0);
    rp_http_result_header(&r, "ES-CurrentVersion: 5x", 21);
    ck_assert_int_eq(r.has_current_version, 0);
}
END_TEST

Suite *http_suite(void);

Suite *
http_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s = rp_test_suite("http", &core, &limits, &errors, setup, teardown);

    tcase_set_timeout(core, 30);
    tcase_set_timeout(limits, 30);
    tcase_set_timeout(errors, 30);
    tcase_add_test(core, test_http_append_and_read);
    tcase_add_test(core, test_http_many_in_flight);
    tcase_add_test(core, test_http_redirect_resent_to_leader);
    tcase_add_test(core, test_http_redact_and_segment);
    tcase_add_test(core, test_http_result_headers);
    tcase_add_test(limits, test_http_body_is_bounded);
    tcase_add_test(errors, test_http_connection_refused_names_url);
    return s;
}
