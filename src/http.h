/* HTTP transport: many requests in flight on one thread (libcurl multi), a
** pool of reused easy handles so connections are kept alive, and answers
** reduced to what the replication loop needs (status, reason, a few
** headers, a bounded body). */
#ifndef RP_HTTP_H
#define RP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Settings of a transport.  Strings are copied by rp_http_new(). */
struct rp_http_options {
    long connect_timeout_ms; /* TCP + TLS set-up limit (0: 5000) */
    long request_timeout_ms; /* whole request limit (0: 30000) */
    const char *username;    /* Basic auth user, or NULL for none */
    const char *password;    /* its password (NULL: empty) */
    const char *cacert;      /* CA bundle for https, or NULL: system's */
    int insecure;            /* 1: do not verify the server's certificate */
    size_t max_response;     /* bytes of body kept per answer (0: 1 MiB) */
    int max_redirects;       /* 307/308 followed per request (0: 5) */
    int max_connections;     /* connections kept open (0: libcurl's) */
};

/* What came back for one request.  Plain data: unit tests build these by
** hand to drive the code that interprets answers. */
struct rp_http_result {
    long status;             /* HTTP status; 0 when no answer came */
    int transport_error;     /* 1: no complete answer (connect, timeout, ..) */
    char error[512];         /* transport failure text, else "" */
    char reason[128];        /* reason phrase of the status line, or "" */
    char location[1024];     /* Location header, or "" */
    int has_current_version; /* 1 when ES-CurrentVersion (or Kurrent-) came */
    int64_t current_version; /* its value */
    long retry_after_s;      /* Retry-After seconds, 0 when absent */
    int redirected;          /* 1 when the answer came after a redirect */
    char final_url[1024];    /* URL that gave the answer */
    const char *body;        /* answer body (NUL-terminated), never NULL */
    size_t body_len;         /* its length (cut at max_response) */
};

/* Take one header line of an answer, 'len' bytes (the status line too; its
** CR LF may be included), into 'r': a status line forgets what an earlier
** one set (after 100 Continue, or a redirect answer read to its end) and
** gives the reason phrase; Location and ES-CurrentVersion (or
** Kurrent-CurrentVersion) are kept, other headers ignored.  The transport
** calls it for each line it receives; tests call it by hand. */
void rp_http_result_header(struct rp_http_result *r, const char *line,
                           size_t len);

/* One request.  The caller owns it, fills the request fields and keeps them
** (and the strings they point to) alive until the request is returned by
** rp_http_next_done() or cancelled. */
struct rp_http_req {
    int post;                     /* 1: POST 'body', 0: GET */
    const char *url;              /* absolute URL, without user info */
    const char *const *headers;   /* NULL-terminated "Name: value" list */
    const char *body;             /* POST body (may hold any bytes) */
    size_t body_len;              /* its length */
    void *user;                   /* for the caller */
    long timeout_ms;              /* limit of this request; 0: the usual */
    struct rp_http_result result; /* filled when done */
    /* private to http.c */
    struct rp_http_slot *slot;
};

struct rp_http;

/* Create a transport.  Returns 0 or RP_EINVAL/RP_EIO with err set. */
int rp_http_new(struct rp_http **out, const struct rp_http_options *opt,
                struct rp_error *err);
/* Abandon every request in flight and free the transport.  Accepts NULL. */
void rp_http_free(struct rp_http *h);

/* Start 'req'.  Returns 0, or RP_EIO when libcurl refuses (then nothing is
** in flight for it). */
int rp_http_start(struct rp_http *h, struct rp_http_req *req,
                  struct rp_error *err);
/* Abandon 'req' if it is in flight; it will not be returned as done. */
void rp_http_cancel(struct rp_http *h, struct rp_http_req *req);

/* Move transfers on and wait at most 'timeout_ms' for something to happen:
** a transfer finishing, or one of the 'nfds' descriptors in 'fds' becoming
** readable (its bit is then set in *ready, bit i for fds[i]).  A signal ends
** the wait early.  Returns 0 or RP_EIO. */
int rp_http_wait(struct rp_http *h, const int *fds, int nfds, int timeout_ms,
                 unsigned *ready, struct rp_error *err);

/* The waiting of rp_http_wait() for any libcurl multi handle 'multi' (a
** CURLM *): move its transfers on, call take(ctx) (which takes the
** finished ones off the handle and returns 1 when some wait to be given
** out: then the wait does not block), wait, move on and take again.
** Returns 0 or RP_EIO. */
int rp_http_multi_wait(void *multi, int (*take)(void *ctx), void *ctx,
                       const int *fds, int nfds, int timeout_ms,
                       unsigned *ready, struct rp_error *err);

/* The next finished request, with its result filled, or NULL.  The result's
** body stays valid until the request is started again or the transport is
** freed. */
struct rp_http_req *rp_http_next_done(struct rp_http *h);

/* Requests in flight (started, not yet returned by rp_http_next_done). */
int rp_http_in_flight(const struct rp_http *h);

/* Run one request to the end, blocking (start-up reads, gossip).  Other
** requests in flight are not moved on meanwhile.  Returns 0 (see
** req->result for the answer, which may be a transport error) or RP_EIO. */
int rp_http_perform(struct rp_http *h, struct rp_http_req *req,
                    struct rp_error *err);

/* Write the URL 'url' without any user info ("user:pass@") into 'out' for
** logs and messages. */
void rp_http_redact(char *out, size_t size, const char *url);

/* Percent-encode 'n' bytes of a stream name as one URL path segment
** (RFC 3986 unreserved characters kept).  Returns 0 or RP_ELIMIT. */
int rp_http_add_segment(struct rp_buf *b, const char *s, size_t n);

#endif
