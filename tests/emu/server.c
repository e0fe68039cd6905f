/* The emulator's event loop: one thread, non-blocking sockets under epoll,
** HTTP/1.1 with keep-alive and pipelining, and a timer heap that delays
** answers (latency, slow and timeout faults) without holding up other
** connections, and answers 408 to requests that do not arrive in time. */
#include "emu.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 65536    /* request line and headers */
#define BODY_MAX 30000000 /* like Kestrel's MaxRequestBodySize */
#define IDLE_MS 130000    /* Kestrel's keep-alive timeout */
#define KIND_LISTENER 1
#define KIND_CONN 2

enum { ST_READ, ST_WAIT, ST_WRITE, ST_PARK, ST_DEAD };

struct listener {
    int kind; /* KIND_LISTENER */
    int fd;
    int node;
};

struct conn {
    int kind; /* KIND_CONN */
    int fd;
    int node;
    int state; /* ST_* */
    char *in;  /* bytes received and not yet consumed */
    size_t in_len;
    size_t in_cap;
    struct rp_buf body;  /* a chunked body, decoded */
    struct rp_buf out;   /* the answer being sent */
    size_t out_off;      /* bytes of 'out' already sent */
    uint64_t deadline;   /* ms (monotonic) of the next timer, 0: none */
    size_t heap_pos;     /* index in the timer heap, or SIZE_MAX */
    uint64_t req_start;  /* when the current request began, 0: idle */
    int close_after;     /* close once 'out' is sent */
    int action;          /* EMU_SEND or EMU_DROP when the wait ends */
    int cont_sent;       /* "100 Continue" sent for this request */
    int peer_closed;     /* the client has shut down its sending side */
    uint64_t park_until; /* end of the current long poll, 0: none */
    int no_park;         /* the long poll is over: answer now */
    struct conn *next_parked;
    uint32_t events; /* epoll interest */
    char method[16];
    struct conn *next_dead;
};

struct loop {
    struct emu_server *srv;
    int ep;
    struct conn **heap;
    size_t heap_len;
    size_t heap_cap;
    struct conn *dead;
    struct conn *parked; /* long polls waiting for a write */
    int wake;            /* a write happened: re-run the long polls */
    int spare;           /* a descriptor kept for refusing connections when
                            the process has no other left */
};

static volatile sig_atomic_t stop_flag;

/* SIGTERM/SIGINT: the loop ends at its next turn. */
static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* ---- timer heap ---- */

static void
heap_swap(struct loop *lp, size_t a, size_t b)
{
    struct conn *t = lp->heap[a];

    lp->heap[a] = lp->heap[b];
    lp->heap[b] = t;
    lp->heap[a]->heap_pos = a;
    lp->heap[b]->heap_pos = b;
}

static void
heap_up(struct loop *lp, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;

        if (lp->heap[p]->deadline <= lp->heap[i]->deadline)
            break;
        heap_swap(lp, i, p);
        i = p;
    }
}

static void
heap_down(struct loop *lp, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < lp->heap_len && lp->heap[l]->deadline < lp->heap[m]->deadline)
            m = l;
        if (r < lp->heap_len && lp->heap[r]->deadline < lp->heap[m]->deadline)
            m = r;
        if (m == i)
            return;
        heap_swap(lp, i, m);
        i = m;
    }
}

/* Remove the connection's timer, if any. */
static void
timer_del(struct loop *lp, struct conn *c)
{
    size_t i = c->heap_pos;

    if (i == SIZE_MAX)
        return;
    lp->heap_len--;
    if (i != lp->heap_len) {
        lp->heap[i] = lp->heap[lp->heap_len];
        lp->heap[i]->heap_pos = i;
        heap_down(lp, i);
        heap_up(lp, i);
    }
    c->heap_pos = SIZE_MAX;
    c->deadline = 0;
}

/* Arm (or move) the connection's single timer to 'when'. */
static void
timer_set(struct loop *lp, struct conn *c, uint64_t when)
{
    timer_del(lp, c);
    if (lp->heap_len == lp->heap_cap) {
        lp->heap_cap = lp->heap_cap ? lp->heap_cap * 2 : 64;
        lp->heap = rp_xrealloc(lp->heap, lp->heap_cap * sizeof(*lp->heap));
    }
    c->deadline = when;
    c->heap_pos = lp->heap_len;
    lp->heap[lp->heap_len++] = c;
    heap_up(lp, c->heap_pos);
}

/* ---- connections ---- */

static void
set_interest(struct loop *lp, struct conn *c, uint32_t events)
{
    struct epoll_event ev;

    if (c->events == events)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = c;
    epoll_ctl(lp->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

/* Close the socket now; the memory is freed at the end of the loop
** turn, since later events of the same turn may still point at it. */
static void
conn_close(struct loop *lp, struct conn *c)
{
    if (c->state == ST_DEAD)
        return;
    if (c->state == ST_PARK) {
        struct conn **pp = &lp->parked;

        while (*pp != NULL && *pp != c)
            pp = &(*pp)->next_parked;
        if (*pp == c)
            *pp = c->next_parked;
    }
    timer_del(lp, c);
    close(c->fd);
    c->fd = -1;
    c->state = ST_DEAD;
    c->next_dead = lp->dead;
    lp->dead = c;
}

/* Free a closed connection. */
static void
conn_free(struct conn *c)
{
    free(c->in);
    rp_buf_dispose(&c->body);
    rp_buf_dispose(&c->out);
    free(c);
}

static void conn_process(struct loop *lp, struct conn *c);

/* Send what is in c->out; then go back to reading, or close. */
static void
conn_flush(struct loop *lp, struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.data + c->out_off,
                         c->out.len - c->out_off, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->state = ST_WRITE;
            set_interest(lp, c, EPOLLOUT);
            timer_set(lp, c, rp_now_ms() + IDLE_MS);
            return;
        }
        if (w < 0) {
            conn_close(lp, c);
            return;
        }
        c->out_off += (size_t)w;
    }
    if (c->out.cap > (4u << 20))
        rp_buf_dispose(&c->out); /* a big answer (a dump): give it back */
    rp_buf_reset(&c->out);
    c->out_off = 0;
    if (c->close_after) {
        conn_close(lp, c);
        return;
    }
    c->state = ST_READ;
    set_interest(lp, c, EPOLLIN);
    conn_process(lp, c);
}

/* Put the reply's bytes into c->out. */
static void
format_reply(struct conn *c, const struct emu_reply *rep)
{
    struct rp_buf *o = &c->out;

    rp_buf_printf(o, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n", rep->status,
                  rep->reason, rep->body.len);
    rp_buf_adds(o, "Server: esdb-emu\r\n");
    if (c->close_after)
        rp_buf_adds(o, "Connection: close\r\n");
    if (rep->headers.len > 0)
        rp_buf_add(o, rep->headers.data, rep->headers.len);
    rp_buf_adds(o, "\r\n");
    if (rep->body.len > 0)
        rp_buf_add(o, rep->body.data, rep->body.len);
}

/* Answer with a bare status and close (bad framing, 408, 413). */
static void
conn_fail(struct loop *lp, struct conn *c, int status, const char *reason)
{
    struct emu_reply rep;

    memset(&rep, 0, sizeof(rep));
    rp_buf_init(&rep.headers, 0);
    rp_buf_init(&rep.body, 0);
    rep.status = status;
    snprintf(rep.reason, sizeof(rep.reason), "%s", reason);
    c->close_after = 1;
    rp_buf_reset(&c->out);
    c->out_off = 0;
    format_reply(c, &rep);
    rp_buf_dispose(&rep.headers);
    rp_buf_dispose(&rep.body);
    timer_del(lp, c);
    conn_flush(lp, c);
}

/* An HTTP token character (RFC 9110)? */
static int
is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Parse the request line and headers in c->in[0..head_len) (head_len
** includes the blank line) into 'req'.  Returns 0 or -1 when malformed. */
static int
parse_head(struct conn *c, size_t head_len, struct emu_request *req,
           int *http10)
{
    const char *p = c->in, *end = c->in + head_len - 2, *sp, *eol;
    size_t mlen;

    while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
        p += 2; /* empty lines before the request line are allowed */
    eol = memchr(p, '\r', (size_t)(end - p));
    if (eol == NULL || eol[1] != '\n')
        return -1;
    sp = memchr(p, ' ', (size_t)(eol - p));
    if (sp == NULL || sp == p || (mlen = (size_t)(sp - p)) >= sizeof(c->method))
        return -1;
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)p[i]))
            return -1;
    memcpy(c->method, p, mlen);
    c->method[mlen] = '\0';
    req->method = c->method;
    req->target = sp + 1;
    sp = memchr(req->target, ' ', (size_t)(eol - req->target));
    if (sp == NULL || sp == req->target)
        return -1;
    req->target_len = (size_t)(sp - req->target);
    if (req->target[0] != '/')
        return -1;
    for (size_t i = 0; i < req->target_len; i++) {
        unsigned char ch = (unsigned char)req->target[i];

        if (ch <= 0x20 || ch == 0x7F)
            return -1;
    }
    if ((size_t)(eol - sp - 1) != 8 || memcmp(sp + 1, "HTTP/1.", 7) != 0 ||
        (sp[8] != '0' && sp[8] != '1'))
        return -1;
    *http10 = sp[8] == '0';
    req->path = req->target;
    {
        const char *q = memchr(req->target, '?', req->target_len);

        req->path_len = q ? (size_t)(q - req->target) : req->target_len;
        req->query = q ? q + 1 : NULL;
        req->query_len = q ? req->target_len - req->path_len - 1 : 0;
    }
    req->nheaders = 0;
    p = eol + 2;
    while (p < end) {
        const char *colon, *v, *ve;
        struct emu_header *h;

        eol = memchr(p, '\r', (size_t)(end - p + 2));
        if (eol == NULL || eol[1] != '\n')
            return -1;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL || colon == p)
            return -1;
        for (const char *k = p; k < colon; k++)
            if (!is_tchar((unsigned char)*k))
                return -1;
        for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
            ;
        for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
            ;
        for (const char *k = v; k < ve; k++)
            if ((unsigned char)*k < 0x20 && *k != '\t')
                return -1;
        if (req->nheaders == EMU_MAX_HEADERS)
            return -1;
        h = &req->headers[req->nheaders++];
        h->name = p;
        h->name_len = (size_t)(colon - p);
        h->value = v;
        h->value_len = (size_t)(ve - v);
        p = eol + 2;
    }
    return 0;
}

/* Is the header present with exactly 'value' (any case)? */
static int
header_is(const struct emu_header *h, const char *value)
{
    return h != NULL && h->value_len == strlen(value) &&
           strncasecmp(h->value, value, h->value_len) == 0;
}

/* Does a comma-separated header value list contain 'token'? */
static int
header_has(const struct emu_header *h, const char *token)
{
    size_t n = strlen(token), i = 0;

    if (h == NULL)
        return 0;
    while (i < h->value_len) {
        size_t j = i, k;

        while (j < h->value_len && h->value[j] != ',')
            j++;
        k = j;
        while (i < k && (h->value[i] == ' ' || h->value[i] == '\t'))
            i++;
        while (k > i && (h->value[k - 1] == ' ' || h->value[k - 1] == '\t'))
            k--;
        if (k - i == n && strncasecmp(h->value + i, token, n) == 0)
            return 1;
        i = j + 1;
    }
    return 0;
}

/* Decode a chunked body starting at c->in[off].  Returns the bytes of input
** it spans (> 0) when complete, 0 when more is needed, -1 when malformed,
** -2 when too large. */
static long
decode_chunked(struct conn *c, size_t off)
{
    size_t i = off;

    rp_buf_reset(&c->body);
    for (;;) {
        size_t size = 0, digits = 0;
        const char *eol;

        while (i < c->in_len && c->in[i] != '\r' && c->in[i] != ';' &&
               c->in[i] != '\n') {
            char ch = c->in[i];
            int v = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;

            if (v < 0 || digits > 8)
                return -1;
            size = size * 16 + (size_t)v;
            digits++;
            i++;
        }
        eol = memchr(c->in + i, '\n', c->in_len - i);
        if (eol == NULL)
            return c->in_len - i > 1024 ? -1 : 0;
        if (digits == 0 || eol == c->in + i || eol[-1] != '\r')
            return -1;
        i = (size_t)(eol - c->in) + 1;
        if (size > BODY_MAX || c->body.len + size > BODY_MAX)
            return -2;
        if (size == 0) {
            /* Trailer lines up to an empty line. */
            for (;;) {
                eol = memchr(c->in + i, '\n', c->in_len - i);
                if (eol == NULL)
                    return 0;
                if (eol == c->in + i + 1 && c->in[i] == '\r')
                    return (long)((size_t)(eol - c->in) + 1 - off);
                i = (size_t)(eol - c->in) + 1;
            }
        }
        if (c->in_len - i < size + 2)
            return 0;
        rp_buf_add(&c->body, c->in + i, size);
        i += size;
        if (c->in[i] != '\r' || c->in[i + 1] != '\n')
            return -1;
        i += 2;
    }
}

/* Handle the complete request that spans 'consumed' bytes of c->in:
** build the answer, then send it, delay it (latency, faults) or drop
** the connection. */
static void
dispatch(struct loop *lp, struct conn *c, struct emu_request *req, int http10,
         size_t consumed)
{
    struct emu_server *srv = lp->srv;
    const struct emu_header *conn_h = emu_header_get(req, "Connection");
    struct emu_reply rep;
    uint64_t delay;

    memset(&rep, 0, sizeof(rep));
    rp_buf_init(&rep.headers, 0);
    rp_buf_init(&rep.body, 0);
    uint64_t writes = srv->n_writes;

    req->node = c->node;
    req->start_ms = c->req_start;
    req->no_park = c->no_park;
    emu_handle(srv, req, &rep);
    if (srv->n_writes != writes)
        lp->wake = 1;
    if (rep.park_ms > 0) {
        /* A long poll: keep the request, wait for a write or the end. */
        rp_buf_dispose(&rep.headers);
        rp_buf_dispose(&rep.body);
        if (c->park_until == 0)
            c->park_until = rp_now_ms() + rep.park_ms;
        c->state = ST_PARK;
        c->next_parked = lp->parked;
        lp->parked = c;
        set_interest(lp, c, 0);
        timer_set(lp, c, c->park_until);
        return;
    }
    c->park_until = 0;
    c->no_park = 0;
    c->close_after = rep.close || c->peer_closed ||
                     header_has(conn_h, "close") ||
                     (http10 && !header_has(conn_h, "keep-alive"));
    delay = rep.delay_ms + srv->latency_ms;
    if (delay > 0 &&
        c->req_start + srv->request_timeout_ms < rp_now_ms() + delay) {
        /* Still unanswered at the request timeout: 408 then. */
        uint64_t now = rp_now_ms(),
                 end = c->req_start + srv->request_timeout_ms;

        delay = end > now ? end - now : 0;
        rp_buf_reset(&rep.headers);
        rp_buf_reset(&rep.body);
        emu_reply_status(&rep, 408,
                         "Server was unable to handle request in time");
        rep.action = EMU_SEND;
    }
    c->action = rep.action;
    rp_buf_reset(&c->out);
    c->out_off = 0;
    if (rep.action == EMU_SEND)
        format_reply(c, &rep);
    rp_buf_dispose(&rep.headers);
    rp_buf_dispose(&rep.body);
    /* The request's bytes are no longer needed. */
    memmove(c->in, c->in + consumed, c->in_len - consumed);
    c->in_len -= consumed;
    if (c->in_cap > (4u << 20) && c->in_len < 65536) {
        /* A big request is done: keep a small buffer for the next. */
        c->in = rp_xrealloc(c->in, 65536);
        c->in_cap = 65536;
    }
    c->req_start = 0;
    c->cont_sent = 0;
    if (delay > 0) {
        c->state = ST_WAIT;
        set_interest(lp, c, 0);
        timer_set(lp, c, rp_now_ms() + delay);
        return;
    }
    timer_del(lp, c);
    if (rep.action == EMU_DROP)
        conn_close(lp, c);
    else
        conn_flush(lp, c);
}

/* Handle every complete request in c->in, one at a time. */
static void
conn_process(struct loop *lp, struct conn *c)
{
    while (c->state == ST_READ) {
        struct emu_request *req;
        const struct emu_header *te, *cl, *ex;
        char *hend;
        size_t head_len, body_len = 0, need;
        int http10 = 0, chunked = 0;

        if (c->in_len == 0) {
            c->req_start = 0;
            timer_set(lp, c, rp_now_ms() + IDLE_MS);
            return;
        }
        if (c->req_start == 0) {
            c->req_start = rp_now_ms();
            timer_set(lp, c, c->req_start + lp->srv->request_timeout_ms);
        }
        hend = NULL;
        if (c->in_len >= 4) {
            size_t lim = c->in_len < HEAD_MAX ? c->in_len : HEAD_MAX;

            for (size_t i = 0; i + 3 < lim; i++) {
                if (c->in[i] == '\r' && memcmp(c->in + i, "\r\n\r\n", 4) == 0) {
                    hend = c->in + i + 4;
                    break;
                }
            }
        }
        if (hend == NULL) {
            if (c->in_len >= HEAD_MAX)
                conn_fail(lp, c, 400, "Bad Request");
            return;
        }
        head_len = (size_t)(hend - c->in);
        req = rp_xcalloc(1, sizeof(*req));
        if (parse_head(c, head_len, req, &http10) != 0) {
            free(req);
            conn_fail(lp, c, 400, "Bad Request");
            return;
        }
        te = emu_header_get(req, "Transfer-Encoding");
        cl = emu_header_get(req, "Content-Length");
        if (te != NULL) {
            if (!header_is(te, "chunked") || cl != NULL) {
                free(req);
                conn_fail(lp, c, 400, "Bad Request");
                return;
            }
            chunked = 1;
        } else if (cl != NULL) {
            size_t i;

            if (cl->value_len == 0 || cl->value_len > 18) {
                int too_big = cl->value_len > 18; /* cl lives in req */

                free(req);
                if (too_big) {
                    conn_fail(lp, c, 413, "Payload Too Large");
                    return;
                }
                conn_fail(lp, c, 400, "Bad Request");
                return;
            }
            for (i = 0; i < cl->value_len; i++) {
                if (cl->value[i] < '0' || cl->value[i] > '9') {
                    free(req);
                    conn_fail(lp, c, 400, "Bad Request");
                    return;
                }
                body_len = body_len * 10 + (size_t)(cl->value[i] - '0');
            }
            for (i = 0; i < req->nheaders; i++) {
                const struct emu_header *h = &req->headers[i];

                if (h != cl && h->name_len == 14 &&
                    strncasecmp(h->name, "Content-Length", 14) == 0 &&
                    (h->value_len != cl->value_len ||
                     memcmp(h->value, cl->value, cl->value_len) != 0)) {
                    free(req);
                    conn_fail(lp, c, 400, "Bad Request");
                    return;
                }
            }
            if (body_len > BODY_MAX) {
                free(req);
                conn_fail(lp, c, 413, "Payload Too Large");
                return;
            }
        }
        ex = emu_header_get(req, "Expect");
        if (chunked) {
            long span = decode_chunked(c, head_len);

            if (span < 0) {
                free(req);
                conn_fail(lp, c, span == -2 ? 413 : 400,
                          span == -2 ? "Payload Too Large" : "Bad Request");
                return;
            }
            if (span == 0) {
                if (c->in_len - head_len > 2 * (size_t)BODY_MAX) {
                    free(req);
                    conn_fail(lp, c, 413, "Payload Too Large");
                    return;
                }
                need = 0;
            } else {
                need = head_len + (size_t)span;
            }
            req->body = c->body.data ? c->body.data : "";
            req->body_len = c->body.len;
        } else {
            need = head_len + body_len;
            req->body = c->in + head_len;
            req->body_len = body_len;
            if (c->in_cap < need) {
                /* Room for the whole body: one allocation. */
                free(req);
                c->in = rp_xrealloc(c->in, need + 1);
                c->in_cap = need + 1;
                continue;
            }
        }
        if (need == 0 || c->in_len < need) {
            if (header_is(ex, "100-continue") && !http10 && !c->cont_sent) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

                c->cont_sent = 1;
                if (send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL) < 0) {
                    free(req);
                    conn_close(lp, c);
                    return;
                }
            }
            free(req);
            return;
        }
        dispatch(lp, c, req, http10, need);
        free(req);
    }
}

/* Read what the socket has, then handle the complete requests. */
static void
conn_read(struct loop *lp, struct conn *c)
{
    size_t got = 0;

    /* At most 1 MiB per turn: the head of a request is looked at before
    ** the rest of a huge body has been read. */
    while (got < (1u << 20)) {
        ssize_t r;

        if (c->in_cap - c->in_len < 16384) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 65536;

            c->in = rp_xrealloc(c->in, cap);
            c->in_cap = cap;
        }
        r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r < 0) {
            conn_close(lp, c);
            return;
        }
        if (r == 0) {
            /* The client half-closed: answer what came, then close. */
            c->peer_closed = 1;
            conn_process(lp, c);
            if (c->state == ST_READ)
                conn_close(lp, c);
            return;
        }
        c->in_len += (size_t)r;
        got += (size_t)r;
    }
    conn_process(lp, c);
}

/* A connection's deadline passed: 408 for a request that did not
** arrive in time, close an idle one, or act on a delayed answer. */
/* Take 'c' off the long-poll list and make it a request being handled
** again (the request timeout counts afresh). */
static void
unpark(struct loop *lp, struct conn *c)
{
    struct conn **pp = &lp->parked;

    while (*pp != NULL && *pp != c)
        pp = &(*pp)->next_parked;
    if (*pp == c)
        *pp = c->next_parked;
    c->state = ST_READ;
    c->req_start = rp_now_ms();
}

/* A write happened: every long poll looks at its stream again. */
static void
wake_parked(struct loop *lp)
{
    struct conn *list = lp->parked, *c, *next;

    lp->parked = NULL;
    lp->wake = 0;
    for (c = list; c != NULL; c = next) {
        next = c->next_parked;
        if (c->state != ST_PARK)
            continue;
        c->state = ST_READ;
        c->req_start = rp_now_ms();
        conn_process(lp, c);
    }
}

static void
on_timer(struct loop *lp, struct conn *c)
{
    timer_del(lp, c);
    switch (c->state) {
    case ST_READ:
        if (c->req_start != 0)
            conn_fail(lp, c, 408, "Request Timeout");
        else
            conn_close(lp, c);
        break;
    case ST_PARK:
        unpark(lp, c);
        c->no_park = 1;
        conn_process(lp, c);
        break;
    case ST_WAIT:
        if (c->action == EMU_DROP)
            conn_close(lp, c);
        else
            conn_flush(lp, c);
        break;
    default:
        conn_close(lp, c);
        break;
    }
}

/* Accept every pending connection of a listener. */
static void
accept_all(struct loop *lp, struct listener *l)
{
    for (;;) {
        int fd = accept(l->fd, NULL, NULL), one = 1;
        struct conn *c;
        struct epoll_event ev;

        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && lp->spare >= 0) {
                /* Out of descriptors: refuse this one (close it at once)
                ** rather than spin on a listener that stays readable. */
                close(lp->spare);
                fd = accept(l->fd, NULL, NULL);
                if (fd >= 0)
                    close(fd);
                lp->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (fd >= 0)
                    continue;
            }
            return; /* EAGAIN: all taken */
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = rp_xcalloc(1, sizeof(*c));
        c->kind = KIND_CONN;
        c->fd = fd;
        c->node = l->node;
        c->state = ST_READ;
        c->heap_pos = SIZE_MAX;
        c->events = EPOLLIN;
        rp_buf_init(&c->body, 0);
        rp_buf_init(&c->out, 0);
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            conn_free(c);
            continue;
        }
        lp->srv->n_connections++;
        timer_set(lp, c, rp_now_ms() + IDLE_MS);
    }
}

void
emu_loop_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* startup reads and writes carry on */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int
emu_loop_stopping(void)
{
    return stop_flag != 0;
}

int
emu_loop_run(struct emu_server *srv, const int *fds, int n)
{
    struct loop lp;
    struct listener ls[EMU_MAX_NODES];
    sigset_t block, old;
    int i;

    memset(&lp, 0, sizeof(lp));
    lp.srv = srv;
    lp.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    lp.ep = epoll_create1(EPOLL_CLOEXEC);
    if (lp.ep < 0) {
        perror("esdb-emu: epoll_create1");
        return 1;
    }
    for (i = 0; i < n; i++) {
        struct epoll_event ev;

        ls[i].kind = KIND_LISTENER;
        ls[i].fd = fds[i];
        ls[i].node = i;
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.ptr = &ls[i];
        epoll_ctl(lp.ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    /* Signals stay blocked except while waiting for events, so that one
    ** that comes while a turn runs is seen by the next wait, and one that
    ** came before (while starting) has set stop_flag already. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    sigdelset(&old, SIGTERM);
    sigdelset(&old, SIGINT);
    while (!stop_flag) {
        struct epoll_event evs[256];
        int timeout = -1, k;
        uint64_t now = rp_now_ms();

        if (lp.heap_len > 0) {
            uint64_t d = lp.heap[0]->deadline;

            timeout = d <= now ? 0 : d - now > 60000 ? 60000 : (int)(d - now);
        }
        k = epoll_pwait(lp.ep, evs, 256, timeout, &old);
        if (k < 0 && errno != EINTR)
            break;
        for (i = 0; i < k; i++) {
            int *kind = evs[i].data.ptr;

            if (*kind == KIND_LISTENER) {
                accept_all(&lp, (struct listener *)(void *)kind);
                continue;
            }
            {
                struct conn *c = (struct conn *)(void *)kind;

                if (c->state == ST_READ &&
                    (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                    conn_read(&lp, c);
                else if ((c->state == ST_WAIT || c->state == ST_PARK) &&
                         (evs[i].events & (EPOLLERR | EPOLLHUP)))
                    conn_close(&lp, c);
                else if (c->state == ST_WRITE &&
                         (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                    conn_flush(&lp, c);
            }
        }
        now = rp_now_ms();
        while (lp.heap_len > 0 && lp.heap[0]->deadline <= now)
            on_timer(&lp, lp.heap[0]);
        if (lp.wake)
            wake_parked(&lp);
        while (lp.dead != NULL) {
            struct conn *c = lp.dead;

            lp.dead = c->next_dead;
            conn_free(c);
        }
    }
    /* Free whatever is still open so that leak checkers stay quiet. */
    while (lp.heap_len > 0) {
        struct conn *c = lp.heap[0];

        conn_close(&lp, c);
    }
    while (lp.dead != NULL) {
        struct conn *c = lp.dead;

        lp.dead = c->next_dead;
        conn_free(c);
    }
    free(lp.heap);
    close(lp.ep);
    if (lp.spare >= 0)
        close(lp.spare);
    return 0;
}
