/* HTTP transport over libcurl multi: one thread, a pool of easy handles that
** are reused (so their connections stay open), redirects re-sent by hand
** with the same body, headers and credentials. */
#include "http.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* One easy handle and what a request needs while it runs. */
struct rp_http_slot {
    CURL *easy;                   /* reused from request to request */
    struct curl_slist *headers;   /* the request's headers as curl wants them */
    struct rp_http_req *req;      /* the request running here, or NULL */
    struct rp_buf body;           /* the answer's body, bounded */
    char url[1024];               /* where the request goes (after redirects) */
    char errbuf[CURL_ERROR_SIZE]; /* libcurl's words on a failure */
    int redirects;                /* redirects followed for this request */
    int running;                  /* 1 while added to the multi handle */
    struct rp_http_slot *next;    /* free list or done list */
    struct rp_http_slot *all_next; /* every slot of the transport */
};

struct rp_http {
    CURLM *multi;
    struct rp_http_options opt; /* strings below are copies */
    char *username, *password, *cacert;
    struct rp_http_slot *free_slots; /* idle handles, connections kept */
    struct rp_http_slot *done_head;  /* finished, not yet taken */
    struct rp_http_slot *done_tail;
    struct rp_http_slot *taken; /* last slot given out by next_done */
    struct rp_http_slot *sync;  /* handle of rp_http_perform */
    struct rp_http_slot *all;   /* every slot, for rp_http_free */
    int in_flight;
};

/* Free a slot and its handle.  Accepts NULL. */
static void
slot_free(struct rp_http_slot *s)
{
    if (s == NULL)
        return;
    if (s->easy != NULL)
        curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->headers);
    rp_buf_dispose(&s->body);
    free(s);
}

int
rp_http_new(struct rp_http **out, const struct rp_http_options *opt,
            struct rp_error *err)
{
    struct rp_http *h;

    *out = NULL;
    h = rp_xcalloc(1, sizeof(*h));
    h->opt = *opt;
    if (h->opt.connect_timeout_ms <= 0)
        h->opt.connect_timeout_ms = 5000;
    if (h->opt.request_timeout_ms <= 0)
        h->opt.request_timeout_ms = 30000;
    if (h->opt.max_response == 0)
        h->opt.max_response = 1 << 20;
    if (h->opt.max_redirects <= 0)
        h->opt.max_redirects = 5;
    h->username = opt->username ? rp_xstrdup(opt->username) : NULL;
    h->password = rp_xstrdup(opt->password ? opt->password : "");
    h->cacert = opt->cacert ? rp_xstrdup(opt->cacert) : NULL;
    h->opt.username = h->username;
    h->opt.password = h->password;
    h->opt.cacert = h->cacert;
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        rp_http_free(h);
        return rp_error_set(err, RP_EIO, "libcurl: cannot create a handle");
    }
    /* Keep a connection per request slot (and a few spare) open. */
    if (opt->max_connections > 0)
        curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS,
                          (long)opt->max_connections);
    *out = h;
    return 0;
}

void
rp_http_free(struct rp_http *h)
{
    struct rp_http_slot *s, *next;

    if (h == NULL)
        return;
    for (s = h->all; s != NULL; s = next) {
        next = s->all_next;
        if (s->running)
            curl_multi_remove_handle(h->multi, s->easy);
        if (s->req != NULL && s->req->slot == s)
            s->req->slot = NULL;
        slot_free(s);
    }
    if (h->multi != NULL)
        curl_multi_cleanup(h->multi);
    if (h->password != NULL)
        memset(h->password, 0, strlen(h->password));
    free(h->username);
    free(h->password);
    free(h->cacert);
    free(h);
}

void
rp_http_result_header(struct rp_http_result *r, const char *line, size_t len)
{
    size_t vlen;
    const char *colon, *v;

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        const char *p = memchr(line, ' ', len);
        const char *q;

        r->reason[0] = '\0';
        r->location[0] = '\0';
        r->has_current_version = 0;
        r->retry_after_s = 0;
        if (p != NULL &&
            (q = memchr(p + 1, ' ', len - (size_t)(p + 1 - line)))) {
            size_t rl = len - (size_t)(q + 1 - line);

            if (rl >= sizeof(r->reason))
                rl = sizeof(r->reason) - 1;
            memcpy(r->reason, q + 1, rl);
            r->reason[rl] = '\0';
        }
        return;
    }
    colon = memchr(line, ':', len);
    if (colon == NULL)
        return;
    v = colon + 1;
    while (v < line + len && (*v == ' ' || *v == '\t'))
        v++;
    vlen = len - (size_t)(v - line);
#define IS(name)                                                               \
    ((size_t)(colon - line) == sizeof(name) - 1 &&                             \
     strncasecmp(line, name, sizeof(name) - 1) == 0)
    if (IS("Location")) {
        if (vlen >= sizeof(r->location))
            vlen = sizeof(r->location) - 1;
        memcpy(r->location, v, vlen);
        r->location[vlen] = '\0';
    } else if (IS("ES-CurrentVersion") || IS("Kurrent-CurrentVersion")) {
        char num[32];
        char *end;
        long long x;

        if (vlen > 0 && vlen < sizeof(num)) {
            memcpy(num, v, vlen);
            num[vlen] = '\0';
            errno = 0;
            x = strtoll(num, &end, 10);
            if (errno == 0 && *end == '\0') {
                r->has_current_version = 1;
                r->current_version = x;
            }
        }
    }
#undef IS
}

/* Header callback: each line goes to rp_http_result_header(). */
static size_t
on_header(char *line, size_t size, size_t n, void *ctx)
{
    struct rp_http_slot *s = ctx;

    rp_http_result_header(&s->req->result, line, size * n);
    return size * n;
}

/* Body callback: keep at most max_response bytes, drop the rest quietly
** (answers the loop reads are small; a huge one is cut, not an error). */
static size_t
on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct rp_http_slot *s = ctx;
    size_t len = size * n;
    size_t room = s->body.max - s->body.len;

    rp_buf_add(&s->body, data, len < room ? len : room);
    return len;
}

/* A new slot with its own easy handle, or NULL when libcurl fails. */
static struct rp_http_slot *
slot_new(struct rp_http *h)
{
    struct rp_http_slot *s = rp_xcalloc(1, sizeof(*s));

    rp_buf_init(&s->body, h->opt.max_response);
    s->easy = curl_easy_init();
    if (s->easy == NULL) {
        slot_free(s);
        return NULL;
    }
    s->all_next = h->all;
    h->all = s;
    return s;
}

/* Set every option of the slot's handle for its request at s->url. */
static int
slot_setup(struct rp_http *h, struct rp_http_slot *s, struct rp_error *err)
{
    struct rp_http_req *req = s->req;
    CURL *e = s->easy;
    CURLcode rc = CURLE_OK;

    curl_slist_free_all(s->headers);
    s->headers = NULL;
    for (const char *const *p = req->headers; p != NULL && *p != NULL; p++) {
        struct curl_slist *l = curl_slist_append(s->headers, *p);

        if (l == NULL)
            return rp_error_set(err, RP_EIO, "libcurl: out of memory");
        s->headers = l;
    }
    /* No "Expect: 100-continue" round trip for large bodies. */
    if (req->post) {
        struct curl_slist *l = curl_slist_append(s->headers, "Expect:");

        if (l == NULL)
            return rp_error_set(err, RP_EIO, "libcurl: out of memory");
        s->headers = l;
    }
    rp_buf_reset(&s->body);
    s->errbuf[0] = '\0';
    memset(&req->result, 0, sizeof(req->result));
    req->result.body = "";
    curl_easy_reset(e);
#define SET(opt, val)                                                          \
    if (rc == CURLE_OK)                                                        \
    rc = curl_easy_setopt(e, opt, val)
    SET(CURLOPT_URL, s->url);
    SET(CURLOPT_PRIVATE, (void *)s);
    SET(CURLOPT_ERRORBUFFER, s->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, h->opt.connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS,
        req->timeout_ms > 0 ? req->timeout_ms : h->opt.request_timeout_ms);
    SET(CURLOPT_HTTPHEADER, s->headers);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, (void *)s);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, (void *)s);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    if (req->post) {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDS, req->body);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else {
        SET(CURLOPT_HTTPGET, 1L);
    }
    if (h->username != NULL) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, h->username);
        SET(CURLOPT_PASSWORD, h->password);
    }
    if (h->cacert != NULL)
        SET(CURLOPT_CAINFO, h->cacert);
    if (h->opt.insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
#undef SET
    if (rc != CURLE_OK)
        return rp_error_set(err, RP_EIO, "libcurl: %s", curl_easy_strerror(rc));
    return 0;
}

/* Copy 'url' into a slot's buffer.  Returns 0 or RP_EINVAL. */
static int
copy_url(char *dst, size_t size, const char *url, struct rp_error *err)
{
    size_t n = strlen(url);

    if (n >= size)
        return rp_error_set(err, RP_EINVAL, "URL too long (%zu bytes)", n);
    memcpy(dst, url, n + 1);
    return 0;
}

int
rp_http_start(struct rp_http *h, struct rp_http_req *req, struct rp_error *err)
{
    struct rp_http_slot *s = h->free_slots;
    CURLMcode mc;
    int rc;

    if (s != NULL)
        h->free_slots = s->next;
    else if ((s = slot_new(h)) == NULL)
        return rp_error_set(err, RP_EIO, "libcurl: cannot create a handle");
    s->next = NULL;
    s->req = req;
    s->redirects = 0;
    req->slot = s;
    if ((rc = copy_url(s->url, sizeof(s->url), req->url, err)) < 0 ||
        (rc = slot_setup(h, s, err)) < 0)
        goto fail;
    mc = curl_multi_add_handle(h->multi, s->easy);
    if (mc != CURLM_OK) {
        rc = rp_error_set(err, RP_EIO, "libcurl: %s", curl_multi_strerror(mc));
        goto fail;
    }
    s->running = 1;
    h->in_flight++;
    return 0;
fail:
    req->slot = NULL;
    s->req = NULL;
    s->next = h->free_slots;
    h->free_slots = s;
    return rc;
}

/* Give a slot back to the pool (its connection stays open). */
static void
release(struct rp_http *h, struct rp_http_slot *s)
{
    if (s->req != NULL && s->req->slot == s)
        s->req->slot = NULL;
    s->req = NULL;
    s->next = h->free_slots;
    h->free_slots = s;
}

void
rp_http_cancel(struct rp_http *h, struct rp_http_req *req)
{
    struct rp_http_slot *s = req->slot;
    struct rp_http_slot **pp;

    if (s == NULL)
        return;
    /* Finished but not taken yet: unlink it from the done list. */
    for (pp = &h->done_head; *pp != NULL; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            if (h->done_tail == s) {
                h->done_tail = NULL;
                for (struct rp_http_slot *t = h->done_head; t; t = t->next)
                    h->done_tail = t;
            }
            h->in_flight--;
            release(h, s);
            return;
        }
    if (h->taken == s) {
        h->taken = NULL;
        release(h, s);
        return;
    }
    /* Still running: the connection may be mid-request, so close it rather
    ** than give it back to the pool. */
    curl_multi_remove_handle(h->multi, s->easy);
    s->running = 0;
    h->in_flight--;
    release(h, s);
}

/* Fill the request's result from a finished transfer. */
static void
finish(struct rp_http_slot *s, CURLcode code)
{
    struct rp_http_result *r = &s->req->result;
    long status = 0;
    curl_off_t retry = 0;

    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    r->body = s->body.data != NULL ? s->body.data : "";
    r->body_len = s->body.len;
    snprintf(r->final_url, sizeof(r->final_url), "%s", s->url);
    r->redirected = s->redirects > 0;
    if (code != CURLE_OK) {
        r->transport_error = 1;
        r->status = 0;
        char where[1024];

        rp_http_redact(where, sizeof(where), s->url);
        snprintf(r->error, sizeof(r->error), "%.180s: %.300s", where,
                 s->errbuf[0] ? s->errbuf : curl_easy_strerror(code));
        return;
    }
    r->status = status;
    if (curl_easy_getinfo(s->easy, CURLINFO_RETRY_AFTER, &retry) == CURLE_OK &&
        retry > 0)
        r->retry_after_s = (long)retry;
}

/* Resolve a Location (absolute, or absolute-path) against 'base'. */
static int
resolve_location(char *out, size_t size, const char *base, const char *loc)
{
    const char *p;
    int n;

    if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
        n = snprintf(out, size, "%s", loc);
    else if (loc[0] == '/' && (p = strstr(base, "://")) != NULL &&
             (p = strchr(p + 3, '/')) != NULL)
        n = snprintf(out, size, "%.*s%s", (int)(p - base), base, loc);
    else if (loc[0] == '/' && strstr(base, "://") != NULL)
        n = snprintf(out, size, "%s%s", base, loc);
    else
        return -1;
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* A transfer ended: re-send on a redirect, else queue it as done. */
static void
on_done(struct rp_http *h, struct rp_http_slot *s, CURLcode code)
{
    curl_multi_remove_handle(h->multi, s->easy);
    s->running = 0;
    finish(s, code);
    if (code == CURLE_OK &&
        (s->req->result.status == 307 || s->req->result.status == 308) &&
        s->req->result.location[0] != '\0' &&
        s->redirects < h->opt.max_redirects) {
        char next[sizeof(s->url)];

        if (resolve_location(next, sizeof(next), s->url,
                             s->req->result.location) == 0) {
            struct rp_error e;

            memcpy(s->url, next, sizeof(s->url));
            s->redirects++;
            if (slot_setup(h, s, &e) == 0 &&
                curl_multi_add_handle(h->multi, s->easy) == CURLM_OK) {
                s->running = 1;
                return;
            }
            finish(s, CURLE_OK);
        }
    }
    s->next = NULL;
    if (h->done_tail != NULL)
        h->done_tail->next = s;
    else
        h->done_head = s;
    h->done_tail = s;
}

/* Move every finished transfer to the done list (or re-send it). */
static void
collect(struct rp_http *h)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        struct rp_http_slot *s = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        if (s != NULL)
            on_done(h, s, m->data.result);
    }
}

int
rp_http_multi_wait(void *multi, int (*take)(void *ctx), void *ctx,
                   const int *fds, int nfds, int timeout_ms, unsigned *ready,
                   struct rp_error *err)
{
    struct curl_waitfd extra[8];
    int running;
    CURLMcode mc;

    if (nfds > 8)
        nfds = 8;
    *ready = 0;
    mc = curl_multi_perform(multi, &running);
    if (mc != CURLM_OK)
        return rp_error_set(err, RP_EIO, "libcurl: %s",
                            curl_multi_strerror(mc));
    if (take(ctx))
        timeout_ms = 0;
    for (int i = 0; i < nfds; i++) {
        extra[i].fd = fds[i];
        extra[i].events = CURL_WAIT_POLLIN;
        extra[i].revents = 0;
    }
    mc = curl_multi_poll(multi, extra, (unsigned)nfds,
                         timeout_ms < 0 ? 0 : timeout_ms, NULL);
    if (mc != CURLM_OK)
        return rp_error_set(err, RP_EIO, "libcurl: %s",
                            curl_multi_strerror(mc));
    for (int i = 0; i < nfds; i++)
        if (extra[i].revents != 0)
            *ready |= 1u << i;
    mc = curl_multi_perform(multi, &running);
    if (mc != CURLM_OK)
        return rp_error_set(err, RP_EIO, "libcurl: %s",
                            curl_multi_strerror(mc));
    take(ctx);
    return 0;
}

/* rp_http_multi_wait()'s 'take' for a transport: collect, and say whether
** finished requests wait to be taken. */
static int
take_done(void *ctx)
{
    struct rp_http *h = ctx;

    collect(h);
    return h->done_head != NULL;
}

int
rp_http_wait(struct rp_http *h, const int *fds, int nfds, int timeout_ms,
             unsigned *ready, struct rp_error *err)
{
    return rp_http_multi_wait(h->multi, take_done, h, fds, nfds, timeout_ms,
                              ready, err);
}

struct rp_http_req *
rp_http_next_done(struct rp_http *h)
{
    struct rp_http_slot *s = h->done_head;
    struct rp_http_req *req;

    /* The slot given out last time goes back to the pool now: its body
    ** buffer was valid until this call. */
    if (h->taken != NULL) {
        struct rp_http_slot *t = h->taken;

        h->taken = NULL;
        if (t->req != NULL && t->req->slot == t)
            t->req->slot = NULL;
        t->req = NULL;
        t->next = h->free_slots;
        h->free_slots = t;
    }
    if (s == NULL)
        return NULL;
    h->done_head = s->next;
    if (h->done_head == NULL)
        h->done_tail = NULL;
    h->in_flight--;
    h->taken = s;
    req = s->req;
    /* The result's body points into the slot: keep the slot out of the pool
    ** until the next call, and detach the request from it now so that the
    ** caller may start it again at once. */
    req->slot = NULL;
    return req;
}

int
rp_http_in_flight(const struct rp_http *h)
{
    return h->in_flight;
}

int
rp_http_perform(struct rp_http *h, struct rp_http_req *req,
                struct rp_error *err)
{
    struct rp_http_slot *s = h->sync;
    CURLcode code;
    int rc;

    if (s == NULL && (s = h->sync = slot_new(h)) == NULL)
        return rp_error_set(err, RP_EIO, "libcurl: cannot create a handle");
    s->req = req;
    s->redirects = 0;
    rc = copy_url(s->url, sizeof(s->url), req->url, err);
    while (rc == 0) {
        if ((rc = slot_setup(h, s, err)) < 0)
            break;
        code = curl_easy_perform(s->easy);
        finish(s, code);
        if (code != CURLE_OK ||
            (req->result.status != 307 && req->result.status != 308) ||
            req->result.location[0] == '\0' ||
            s->redirects >= h->opt.max_redirects)
            break;
        {
            char next[sizeof(s->url)];

            if (resolve_location(next, sizeof(next), s->url,
                                 req->result.location) < 0)
                break;
            memcpy(s->url, next, sizeof(s->url));
            s->redirects++;
        }
    }
    /* 'req' is the caller's and may be gone after the return: the slot
    ** must not point at it (rp_http_free looks at s->req). */
    s->req = NULL;
    req->slot = NULL;
    return rc;
}

void
rp_http_redact(char *out, size_t size, const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *at = NULL;
    const char *end = host + strcspn(host, "/?#");

    for (const char *p = host; p < end; p++)
        if (*p == '@')
            at = p;
    if (at == NULL) {
        snprintf(out, size, "%s", url);
        return;
    }
    snprintf(out, size, "%.*s%s", (int)(host - url), url, at + 1);
}

int
rp_http_add_segment(struct rp_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            rc = rp_buf_addc(b, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

            rc = rp_buf_add(b, esc, 3);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}
