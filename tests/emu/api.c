/* Request handling of the emulator: authentication, routing, appends (every
** body form, expected versions, idempotency, faults), deletes, cluster
** routing, /info, /ping, /gossip and the /_emu control endpoint.  Reads are
** in read.c. */
#include "emu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

#define MAX_EVENT_SIZE (4u << 20)

static const char *const fault_names[EMU_F_COUNT] = {
    "",
    "not-ready",
    "timeout-committed",
    "timeout-uncommitted",
    "drop-before-commit",
    "drop-after-commit",
    "slow",
    "request-timeout",
    "idempotent-not-ready",
};

int
emu_fault_kind(const char *s, size_t n)
{
    int k;

    for (k = 1; k < EMU_F_COUNT; k++)
        if (strlen(fault_names[k]) == n && memcmp(fault_names[k], s, n) == 0)
            return k;
    return -1;
}

/* ---- small request and reply helpers ---- */

const struct emu_header *
emu_header_get(const struct emu_request *req, const char *name)
{
    size_t n = strlen(name), i;

    for (i = 0; i < req->nheaders; i++)
        if (req->headers[i].name_len == n &&
            strncasecmp(req->headers[i].name, name, n) == 0)
            return &req->headers[i];
    return NULL;
}

const struct emu_header *
emu_es_header(const struct emu_server *srv, const struct emu_request *req,
              const char *suffix)
{
    char name[64];
    const struct emu_header *h;

    if (srv->profile == EMU_V25) {
        snprintf(name, sizeof(name), "Kurrent-%s", suffix);
        if ((h = emu_header_get(req, name)) != NULL)
            return h;
    }
    snprintf(name, sizeof(name), "ES-%s", suffix);
    return emu_header_get(req, name);
}

const char *
emu_query_get(const struct emu_request *req, const char *key, size_t *len)
{
    size_t kl = strlen(key), i = 0;

    while (req->query != NULL && i < req->query_len) {
        const char *p = req->query + i;
        const char *amp = memchr(p, '&', req->query_len - i);
        size_t n = amp ? (size_t)(amp - p) : req->query_len - i;

        if (n > kl && p[kl] == '=' && strncasecmp(p, key, kl) == 0) {
            *len = n - kl - 1;
            return p + kl + 1;
        }
        if (n == kl && strncasecmp(p, key, kl) == 0) {
            *len = 0;
            return p + kl;
        }
        i += n + 1;
    }
    return NULL;
}

void
emu_reply_status(struct emu_reply *rep, int status, const char *reason)
{
    rep->status = status;
    snprintf(rep->reason, sizeof(rep->reason), "%s", reason);
}

void
emu_reply_header(struct emu_reply *rep, const char *name, const char *fmt, ...)
{
    va_list ap;
    char value[2048];

    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    rp_buf_printf(&rep->headers, "%s: %s\r\n", name, value);
}

void
emu_reply_bad(const struct emu_server *srv, struct emu_reply *rep,
              const char *msg)
{
    if (srv->profile == EMU_V5 || srv->profile == EMU_V20) {
        emu_reply_status(rep, 400, msg);
        emu_reply_header(rep, "Content-Type", "text/plain; charset=utf-8");
        return;
    }
    emu_reply_status(rep, 400, "Bad Request");
    emu_reply_header(rep, "Content-Type", "text/plain; charset=utf-8");
    rp_buf_reset(&rep->body);
    rp_buf_adds(&rep->body, msg);
}

/* Set the status and a JSON Content-Type; the caller writes the body. */
static void
reply_json(struct emu_reply *rep, int status, const char *reason)
{
    emu_reply_status(rep, status, reason);
    emu_reply_header(rep, "Content-Type", "application/json; charset=utf-8");
}

/* Append "http://127.0.0.1:PORT" of cluster node 'node'. */
static void
node_base(const struct emu_server *srv, int node, struct rp_buf *out)
{
    rp_buf_printf(out, "http://127.0.0.1:%d", srv->ports[node]);
}

void
emu_base_url(const struct emu_server *srv, const struct emu_request *req,
             struct rp_buf *out)
{
    const struct emu_header *host = emu_header_get(req, "Host");

    if (host != NULL && host->value_len > 0 && host->value_len < 256) {
        rp_buf_adds(out, "http://");
        rp_buf_add(out, host->value, host->value_len);
        return;
    }
    node_base(srv, req->node, out);
}

/* Percent-decode 'n' bytes.  Returns 0, or -1 on a bad escape. */
static int
url_decode(struct rp_buf *out, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi, lo;

            if (n - i < 3)
                return -1;
            hi = s[i + 1] <= '9' ? s[i + 1] - '0' : (s[i + 1] | 32) - 'a' + 10;
            lo = s[i + 2] <= '9' ? s[i + 2] - '0' : (s[i + 2] | 32) - 'a' + 10;
            if (hi < 0 || hi > 15 || lo < 0 || lo > 15)
                return -1;
            rp_buf_addc(out, (char)(hi << 4 | lo));
            i += 2;
        } else {
            rp_buf_addc(out, s[i]);
        }
    }
    return 0;
}

int
emu_header_bool(const struct emu_header *h, int dflt)
{
    if (h == NULL)
        return dflt;
    if (h->value_len == 4 && strncasecmp(h->value, "true", 4) == 0)
        return 1;
    if (h->value_len == 5 && strncasecmp(h->value, "false", 5) == 0)
        return 0;
    return -1;
}

/* The prefix of header names in messages: "Kurrent" in v25, else "ES". */
static const char *
hname(const struct emu_server *srv)
{
    return srv->profile == EMU_V25 ? "Kurrent" : "ES";
}

/* Require-leader headers: 1, 0, or -1 when one is malformed (then *bad
** names it). */
static int
require_leader(const struct emu_server *srv, const struct emu_request *req,
               char *bad, size_t badlen)
{
    static const char *const v25[] = {"Kurrent-RequireLeader",
                                      "ES-RequireLeader", "ES-RequireMaster"};
    const char *const *names = v25;
    size_t n = 3, i;
    int any = 0;

    if (srv->profile == EMU_V5) {
        names = v25 + 2;
        n = 1;
    } else if (srv->profile != EMU_V25) {
        names = v25 + 1;
        n = 2;
    }
    for (i = 0; i < n; i++) {
        int v = emu_header_bool(emu_header_get(req, names[i]), 0);

        if (v < 0) {
            snprintf(bad, badlen, "%s header in wrong format.",
                     srv->profile == EMU_V5    ? "ES-RequireMaster"
                     : srv->profile == EMU_V25 ? "Kurrent-RequireLeader"
                                               : "ES-RequireLeader");
            return -1;
        }
        any |= v;
    }
    return any;
}

/* The current-version header(s) of a WEV answer (both names in v25). */
static void
set_current_version(const struct emu_server *srv, struct emu_reply *rep,
                    int64_t current)
{
    if (srv->profile == EMU_V25)
        emu_reply_header(rep, "Kurrent-CurrentVersion", "%lld",
                         (long long)current);
    emu_reply_header(rep, "ES-CurrentVersion", "%lld", (long long)current);
}

/* 400 Wrong expected EventNumber with the stream's last number. */
static void
reply_wev(const struct emu_server *srv, struct emu_reply *rep, int64_t current)
{
    emu_reply_status(rep, 400, "Wrong expected EventNumber");
    emu_reply_header(rep, "Content-Type", "text/plain; charset=utf-8");
    set_current_version(srv, rep, current);
}

/* 401 for a request whose stream access is denied (authorization). */
static void
reply_denied(const struct emu_server *srv, struct emu_reply *rep)
{
    emu_reply_status(rep, 401, "Unauthorized");
    if (srv->profile == EMU_V5)
        emu_reply_header(rep, "WWW-Authenticate", "BasicCustom realm=\"ES\"");
}

/* ---- authentication ---- */

#define AUTH_ANON 0
#define AUTH_USER 1
#define AUTH_ADMIN 2
#define AUTH_BAD (-1)

/* Check the Authorization header.  Returns AUTH_ANON when there is none,
** AUTH_USER or AUTH_ADMIN for known credentials, AUTH_BAD otherwise. */
static int
authenticate(const struct emu_server *srv, const struct emu_request *req)
{
    const struct emu_header *h = NULL;
    struct rp_buf dec;
    size_t i, count = 0;
    int rc = AUTH_BAD;

    for (i = 0; i < req->nheaders; i++) {
        if (req->headers[i].name_len == 13 &&
            strncasecmp(req->headers[i].name, "Authorization", 13) == 0) {
            h = &req->headers[i];
            count++;
        }
    }
    if (h == NULL)
        return AUTH_ANON;
    if (count != 1 || h->value_len < 6 || memcmp(h->value, "Basic ", 6) != 0)
        return AUTH_BAD;
    rp_buf_init(&dec, 4096);
    if (rp_base64_decode(&dec, h->value + 6, h->value_len - 6, NULL) == 0 &&
        dec.data != NULL) {
        const char *colon = memchr(dec.data, ':', dec.len);

        for (i = 0; colon != NULL && i < srv->nusers; i++) {
            const struct emu_user *u = &srv->users[i];
            size_t nl = (size_t)(colon - dec.data);

            if (strlen(u->name) == nl && memcmp(u->name, dec.data, nl) == 0 &&
                strlen(u->pass) == dec.len - nl - 1 &&
                memcmp(u->pass, colon + 1, dec.len - nl - 1) == 0) {
                rc = u->admin ? AUTH_ADMIN : AUTH_USER;
                break;
            }
        }
    }
    rp_buf_dispose(&dec);
    return rc;
}

/* May this caller use stream 'name'?  '$' streams need an admin; user
** streams (and their metadata streams) need a user, or anonymous access. */
static int
allowed(const struct emu_server *srv, int who, const char *name, size_t len)
{
    int system = len > 0 && name[0] == '$';

    if (len > 2 && name[0] == '$' && name[1] == '$' && name[2] != '$')
        system = 0;
    if (system)
        return who == AUTH_ADMIN;
    return who != AUTH_ANON || srv->anonymous;
}

/* ---- faults ---- */

/* Choose the fault for an append to 'stream' whose decision is 'dec'; an
** armed fault is used up. */
static int
take_fault(struct emu_server *srv, const char *stream, size_t len,
           enum emu_decision dec, uint64_t *ms)
{
    struct emu_fault **pp, *f;
    int kind;

    for (pp = &srv->faults; (f = *pp) != NULL; pp = &f->next) {
        if (f->stream != NULL &&
            (strlen(f->stream) != len || memcmp(f->stream, stream, len) != 0))
            continue;
        if (f->kind == EMU_F_IDEMPOTENT_NOT_READY && dec != EMU_IDEMPOTENT)
            continue;
        kind = f->kind;
        *ms = f->ms;
        if (--f->count == 0) {
            *pp = f->next;
            free(f->stream);
            free(f);
        }
        srv->n_faults++;
        return kind;
    }
    if (srv->fault_rate > 0.0) {
        double r = (double)(emu_rand(&srv->rng) >> 11) / 9007199254740992.0;
        int kinds[EMU_F_COUNT], n = 0, k;

        if (r >= srv->fault_rate)
            return EMU_F_NONE;
        for (k = 1; k < EMU_F_COUNT; k++)
            if (srv->fault_kinds & (1u << k))
                kinds[n++] = k;
        if (n == 0)
            return EMU_F_NONE;
        kind = kinds[emu_rand(&srv->rng) % (uint64_t)n];
        *ms = 1 + emu_rand(&srv->rng) %
                      (srv->write_timeout_ms > 0 ? srv->write_timeout_ms : 1);
        if (kind == EMU_F_IDEMPOTENT_NOT_READY && dec != EMU_IDEMPOTENT)
            return EMU_F_NONE;
        srv->n_faults++;
        return kind;
    }
    return EMU_F_NONE;
}

/* ---- appends ---- */

enum media { M_NONE, M_EVENTS_JSON, M_JSON, M_OCTET, M_OTHER };

/* Classify the Content-Type.  Returns M_OTHER for anything refused (415). */
static enum media
request_media(const struct emu_server *srv, const struct emu_request *req)
{
    const struct emu_header *h = emu_header_get(req, "Content-Type");
    const char *v, *semi, *end;
    size_t n;
    enum media m;

    if (h == NULL)
        return M_NONE;
    v = h->value;
    end = v + h->value_len;
    semi = memchr(v, ';', h->value_len);
    n = semi ? (size_t)(semi - v) : h->value_len;
#define IS(s) (n == sizeof(s) - 1 && memcmp(v, s, n) == 0)
    if (IS("application/vnd.eventstore.events+json") ||
        (srv->profile == EMU_V25 && IS("application/vnd.kurrent.events+json")))
        m = M_EVENTS_JSON;
    else if (IS("application/json"))
        m = M_JSON;
    else if (IS("application/octet-stream"))
        m = M_OCTET;
    else
        return M_OTHER;
#undef IS
    while (semi != NULL && semi < end) {
        const char *p = semi + 1, *q, *eq;

        semi = memchr(p, ';', (size_t)(end - p));
        q = semi ? semi : end;
        while (p < q && (*p == ' ' || *p == '\t'))
            p++;
        eq = memchr(p, '=', (size_t)(q - p));
        if (eq != NULL && eq - p == 7 && strncasecmp(p, "charset", 7) == 0) {
            const char *cv = eq + 1;
            size_t cl = (size_t)(q - cv);

            while (cl > 0 && (cv[cl - 1] == ' ' || cv[cl - 1] == '\t'))
                cl--;
            if (cl >= 2 && cv[0] == '"' && cv[cl - 1] == '"') {
                cv++;
                cl -= 2;
            }
            if (m == M_OCTET || cl != 5 || strncasecmp(cv, "utf-8", 5) != 0)
                return M_OTHER;
        }
    }
    return m;
}

/* Does a JSON string's text look like an object or array and parse? */
static int
string_is_json(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n &&
           (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i == n || (s[i] != '{' && s[i] != '['))
        return 0;
    return rp_json_validate(s, n, NULL) == 0;
}

/* Classify one data/metadata value of an events+json body (spec 4.1).
** Returns 1 when it counts as JSON. */
static int
body_field(const struct rp_json *v, const char **out, size_t *len)
{
    *out = "";
    *len = 0;
    if (v == NULL)
        return 0;
    if (v->type == RP_JSON_OBJECT || v->type == RP_JSON_ARRAY) {
        *out = v->raw;
        *len = v->raw_len;
        return 1;
    }
    if (v->type == RP_JSON_STRING) {
        *out = v->str;
        *len = v->len;
        return string_is_json(v->str, v->len);
    }
    return 0;
}

/* The bytes a client will see for 'n' bytes of JSON text (re-indented). */
static size_t
shown_len(const char *s, size_t n, int fmt)
{
    struct rp_buf tmp;
    size_t len = n;

    if (!fmt || n < MAX_EVENT_SIZE / 4)
        return n;
    rp_buf_init(&tmp, 0);
    if (emu_json_indent(&tmp, s, n) == 0)
        len = tmp.len;
    rp_buf_dispose(&tmp);
    return len;
}

/* The members of one event that the server reads (the last of each name,
** as rp_json_get() finds it), in one walk over the members. */
struct event_members {
    const struct rp_json *id, *type, *data, *meta;
};

static void
event_members(const struct rp_json *e, struct event_members *m)
{
    const struct rp_json *c;

    memset(m, 0, sizeof(*m));
    if (e->type != RP_JSON_OBJECT)
        return;
    for (c = e->child; c != NULL; c = c->next) {
        if (c->key_len == 7 && memcmp(c->key, "eventId", 7) == 0)
            m->id = c;
        else if (c->key_len == 9 && memcmp(c->key, "eventType", 9) == 0)
            m->type = c;
        else if (c->key_len == 4 && memcmp(c->key, "data", 4) == 0)
            m->data = c;
        else if (c->key_len == 8 && memcmp(c->key, "metadata", 8) == 0)
            m->meta = c;
    }
}

/* Parse an events+json body into 'evs'.  Returns NULL, or the 400 message. */
static const char *
parse_events(const struct emu_server *srv, const struct emu_request *req,
             struct rp_json_doc **doc, struct emu_new_event **evs, size_t *n)
{
    const struct rp_json *root, *e;
    size_t i;

    *evs = NULL;
    *n = 0;
    /* Objects and arrays in the events (data, metadata) are used as text:
    ** checked, not built. */
    if (rp_json_parse_shallow(doc, req->body, req->body_len, 2, NULL) != 0)
        return "Write request body invalid.";
    root = rp_json_root(*doc);
    if (root->type != RP_JSON_ARRAY || root->len == 0)
        return "Write request body invalid.";
    for (e = root->child; e != NULL; e = e->next) {
        struct event_members m;

        if (e->type != RP_JSON_OBJECT)
            return "Write request body invalid.";
        event_members(e, &m);
        if ((m.id != NULL && m.id->type != RP_JSON_STRING &&
             m.id->type != RP_JSON_NULL) ||
            (m.type != NULL && m.type->type != RP_JSON_STRING &&
             m.type->type != RP_JSON_NULL))
            return "Write request body invalid.";
    }
    *evs = rp_xcalloc(root->len, sizeof(**evs));
    for (i = 0, e = root->child; e != NULL; e = e->next, i++) {
        struct emu_new_event *ne = &(*evs)[i];
        struct event_members m;
        static const unsigned char zero[16];
        int dj, mj;

        event_members(e, &m);
        if (m.id != NULL && m.id->type == RP_JSON_STRING &&
            emu_uuid_parse(ne->id, m.id->str, m.id->len) != 0)
            return "Write request body invalid.";
        if (m.id == NULL || m.id->type != RP_JSON_STRING ||
            memcmp(ne->id, zero, 16) == 0)
            return srv->profile == EMU_V5
                       ? "Empty eventId provided."
                       : "Empty eventId provided. (Parameter 'eventId')";
        if (m.type == NULL || m.type->type != RP_JSON_STRING ||
            m.type->len == 0)
            return srv->profile == EMU_V5
                       ? "Empty eventType provided."
                       : "Empty eventType provided. (Parameter 'eventType')";
        ne->type = m.type->str;
        ne->type_len = m.type->len;
        dj = body_field(m.data, &ne->data, &ne->data_len);
        mj = body_field(m.meta, &ne->meta, &ne->meta_len);
        ne->flags = (dj || mj ? EMU_EV_JSON : 0) | (dj ? EMU_EV_DATA_FMT : 0) |
                    (mj ? EMU_EV_META_FMT : 0);
    }
    *n = root->len;
    return NULL;
}

/* 201 with the Location of event 'first' of the stream. */
static void
reply_created(const struct emu_server *srv, const struct emu_request *req,
              struct emu_reply *rep, const char *stream, size_t len,
              int64_t first)
{
    struct rp_buf loc;

    rp_buf_init(&loc, 0);
    emu_base_url(srv, req, &loc);
    rp_buf_adds(&loc, "/streams/");
    emu_escape(&loc, stream, len);
    rp_buf_printf(&loc, "/%lld", (long long)first);
    emu_reply_status(rep, 201, "Created");
    emu_reply_header(rep, "Location", "%s", loc.data);
    emu_reply_header(rep, "Content-Type", "text/plain; charset=utf-8");
    rp_buf_dispose(&loc);
}

/* Leader routing for writes.  Returns 1 when 'rep' is already the answer. */
static int
route_write(struct emu_server *srv, const struct emu_request *req,
            struct emu_reply *rep, int need_leader)
{
    struct rp_buf loc;

    if (srv->leader < 0) {
        emu_reply_status(rep, 503, "Server Is Not Ready");
        return 1;
    }
    if (req->node == srv->leader || !need_leader)
        return 0;
    rp_buf_init(&loc, 0);
    node_base(srv, srv->leader, &loc);
    rp_buf_add(&loc, req->target, req->target_len);
    emu_reply_status(rep, 307, "Temporary Redirect");
    emu_reply_header(rep, "Location", "%s", loc.data);
    emu_reply_header(rep, "Content-Type", "text/plain; charset=utf-8");
    rp_buf_dispose(&loc);
    return 1;
}

/* POST /streams/{stream}[/incoming/{id}] and /streams/{s}/metadata. */
static void
append(struct emu_server *srv, const struct emu_request *req,
       struct emu_reply *rep, int who, const char *stream, size_t len,
       const unsigned char *incoming, int metadata)
{
    enum media m = request_media(srv, req);
    const struct emu_header *ty, *idh, *evh;
    struct rp_json_doc *doc = NULL;
    struct emu_new_event *evs = NULL, one;
    size_t n = 0, i;
    int64_t expected = -2, first, current;
    enum emu_decision dec;
    const char *msg;
    char buf[128];
    int rl, kind, too_big = 0;
    uint64_t ms = 0;

    srv->n_appends++;
    if (m == M_NONE || m == M_OTHER || (incoming != NULL && m != M_JSON)) {
        emu_reply_status(rep, 415, "Invalid or missing Content-Type");
        return;
    }
    if (!allowed(srv, who, stream, len)) {
        reply_denied(srv, rep);
        return;
    }
    memset(&one, 0, sizeof(one));
    idh = emu_es_header(srv, req, "EventId");
    if (m == M_EVENTS_JSON && idh != NULL &&
        emu_uuid_parse(one.id, idh->value, idh->value_len) != 0) {
        snprintf(buf, sizeof(buf), "%s-EventId header in wrong format.",
                 hname(srv));
        emu_reply_bad(srv, rep, buf);
        return;
    }
    if (m != M_EVENTS_JSON) {
        ty = emu_es_header(srv, req, "EventType");
        if (metadata && ty != NULL &&
            (ty->value_len != 9 || memcmp(ty->value, "$metadata", 9) != 0)) {
            emu_reply_bad(srv, rep,
                          "Bad Request. You should not include an event "
                          "type for metadata.");
            return;
        }
        if (!metadata && (ty == NULL || ty->value_len == 0 ||
                          !rp_utf8_valid(ty->value, ty->value_len, NULL))) {
            snprintf(buf, sizeof(buf),
                     "Must include an event type with the request either in "
                     "body or as %s-EventType header.",
                     hname(srv));
            emu_reply_bad(srv, rep, buf);
            return;
        }
        one.type = metadata ? "$metadata" : ty->value;
        one.type_len = metadata ? 9 : ty->value_len;
        if (incoming != NULL) {
            memcpy(one.id, incoming, 16);
        } else if (idh != NULL) {
            static const unsigned char zero[16];

            if (emu_uuid_parse(one.id, idh->value, idh->value_len) != 0 ||
                memcmp(one.id, zero, 16) == 0) {
                snprintf(buf, sizeof(buf), "%s-EventId header in wrong format.",
                         hname(srv));
                emu_reply_bad(srv, rep, buf);
                return;
            }
        } else {
            struct rp_buf loc;
            unsigned char id[16];
            char text[37];
            uint64_t a = emu_rand(&srv->rng), b = emu_rand(&srv->rng);

            memcpy(id, &a, 8);
            memcpy(id + 8, &b, 8);
            id[6] = (unsigned char)((id[6] & 0x0F) | 0x40);
            id[8] = (unsigned char)((id[8] & 0x3F) | 0x80);
            emu_uuid_format(text, id);
            rp_buf_init(&loc, 0);
            emu_base_url(srv, req, &loc);
            rp_buf_add(&loc, req->path, req->path_len);
            rp_buf_printf(&loc, "/incoming/%s", text);
            emu_reply_status(rep, 307, "Temporary Redirect");
            emu_reply_header(rep, "Location", "%s", loc.data);
            emu_reply_header(rep, "Content-Type", "text/plain; charset=utf-8");
            rp_buf_adds(&rep->body, "Forwarding to idempotent URI");
            rp_buf_dispose(&loc);
            return;
        }
        one.data = req->body;
        one.data_len = req->body_len;
        one.meta = "";
        one.flags = m == M_JSON ? EMU_EV_JSON : 0;
    }
    evh = emu_es_header(srv, req, "ExpectedVersion");
    if (evh != NULL) {
        char num[32];
        char *end;

        if (evh->value_len == 0 || evh->value_len >= sizeof(num))
            goto bad_ev;
        memcpy(num, evh->value, evh->value_len);
        num[evh->value_len] = '\0';
        errno = 0;
        expected = strtoll(num, &end, 10);
        if (*end != '\0' || expected < -4 || errno != 0 ||
            (num[0] != '-' && (num[0] < '0' || num[0] > '9')))
            goto bad_ev;
    }
    rl = require_leader(srv, req, buf, sizeof(buf));
    if (rl < 0) {
        emu_reply_bad(srv, rep, buf);
        return;
    }
    if (m == M_EVENTS_JSON) {
        msg = parse_events(srv, req, &doc, &evs, &n);
        if (msg != NULL) {
            emu_reply_bad(srv, rep, msg);
            goto done;
        }
    } else {
        evs = rp_xmalloc(sizeof(*evs));
        evs[0] = one;
        n = 1;
    }
    for (i = 0; i < n; i++) {
        if (evs[i].type_len > 0 &&
            !rp_utf8_valid(evs[i].type, evs[i].type_len, NULL)) {
            emu_reply_bad(srv, rep, "Write request body invalid.");
            goto done;
        }
        if (shown_len(evs[i].data, evs[i].data_len,
                      evs[i].flags & EMU_EV_DATA_FMT) +
                shown_len(evs[i].meta, evs[i].meta_len,
                          evs[i].flags & EMU_EV_META_FMT) >
            MAX_EVENT_SIZE)
            too_big = 1;
    }
    if (route_write(srv, req, rep, rl))
        goto done;
    if (too_big) {
        if (srv->profile == EMU_V25)
            snprintf(buf, sizeof(buf),
                     "Too large events received. Limit is %u bytes.",
                     MAX_EVENT_SIZE);
        else
            snprintf(buf, sizeof(buf),
                     "Too large events received. Limit is 4mb");
        emu_reply_status(rep, 413, buf);
        if (!srv->write_on_413)
            goto done;
    }
    if (expected == -3) {
        /* Passes the header check, then no answer comes (spec 2.3). */
        emu_reply_status(rep, 408,
                         "Server was unable to handle request in "
                         "time");
        rep->delay_ms = srv->request_timeout_ms;
        goto done;
    }
    dec = emu_store_check(srv->store, stream, len, expected, evs, n, &first,
                          &current);
    kind = take_fault(srv, stream, len, dec, &ms);
    switch (kind) {
    case EMU_F_NOT_READY:
        emu_reply_status(rep, 503, "Server Is Not Ready");
        goto done;
    case EMU_F_TIMEOUT_UNCOMMITTED:
        emu_reply_status(rep, 500, "Write timeout");
        rep->delay_ms = srv->write_timeout_ms;
        goto done;
    case EMU_F_DROP_BEFORE:
        rep->action = EMU_DROP;
        goto done;
    case EMU_F_REQUEST_TIMEOUT: {
        uint64_t now = rp_now_ms(),
                 end = req->start_ms + srv->request_timeout_ms;

        emu_reply_status(rep, 408,
                         "Server was unable to handle request in "
                         "time");
        rep->delay_ms = end > now ? end - now : 0;
        goto done;
    }
    default:
        break;
    }
    if (dec == EMU_APPEND) {
        first = emu_store_append(srv->store, stream, len, evs, n);
        srv->n_writes++;
    } else if (dec == EMU_IDEMPOTENT) {
        srv->n_idempotent++;
    }
    if (too_big)
        goto done; /* the 413 stays the answer; the write happened */
    switch (dec) {
    case EMU_APPEND:
    case EMU_IDEMPOTENT:
        reply_created(srv, req, rep, stream, len, first);
        break;
    case EMU_DELETED:
        emu_reply_status(rep, 410, "Stream deleted");
        break;
    default:
        reply_wev(srv, rep, current);
        break;
    }
    switch (kind) {
    case EMU_F_TIMEOUT_COMMITTED:
    case EMU_F_IDEMPOTENT_NOT_READY:
        rp_buf_reset(&rep->headers);
        rp_buf_reset(&rep->body);
        emu_reply_status(rep, 500, "Write timeout");
        rep->delay_ms = srv->write_timeout_ms;
        break;
    case EMU_F_DROP_AFTER:
        rep->action = EMU_DROP;
        break;
    case EMU_F_SLOW:
        rep->delay_ms = ms;
        break;
    default:
        break;
    }
done:
    free(evs);
    rp_json_free(doc);
    return;
bad_ev:
    snprintf(buf, sizeof(buf), "%s-ExpectedVersion header in wrong format.",
             hname(srv));
    emu_reply_bad(srv, rep, buf);
}

/* DELETE /streams/{stream}. */
static void
delete_stream(struct emu_server *srv, const struct emu_request *req,
              struct emu_reply *rep, int who, const char *stream, size_t len)
{
    const struct emu_header *evh = emu_es_header(srv, req, "ExpectedVersion");
    struct emu_stream *s;
    int64_t expected = -2, c;
    int hard, rl, nothing = 0;
    char buf[128];

    if (!allowed(srv, who, stream, len)) {
        reply_denied(srv, rep);
        return;
    }
    if (evh != NULL) {
        char num[32];
        char *end;

        if (evh->value_len == 0 || evh->value_len >= sizeof(num))
            goto bad_ev;
        memcpy(num, evh->value, evh->value_len);
        num[evh->value_len] = '\0';
        errno = 0;
        expected = strtoll(num, &end, 10);
        if (*end != '\0' || expected < -4 || errno != 0 ||
            (num[0] != '-' && (num[0] < '0' || num[0] > '9')))
            goto bad_ev;
    }
    hard = emu_header_bool(emu_es_header(srv, req, "HardDelete"), 0);
    if (hard < 0) {
        snprintf(buf, sizeof(buf), "%s-HardDelete header in wrong format.",
                 hname(srv));
        emu_reply_bad(srv, rep, buf);
        return;
    }
    rl = require_leader(srv, req, buf, sizeof(buf));
    if (rl < 0) {
        emu_reply_bad(srv, rep, buf);
        return;
    }
    if (route_write(srv, req, rep, rl))
        return;
    s = emu_store_find(srv->store, stream, len);
    c = s != NULL ? (int64_t)s->count - 1 : -1;
    if (s != NULL && s->state == EMU_HARD_DELETED) {
        emu_reply_status(rep, 410, "Stream deleted");
        return;
    }
    if (!hard && c < 0) {
        /* Nothing to soft-delete unless the stream has metadata. */
        struct rp_buf meta;
        struct emu_stream *m;

        rp_buf_init(&meta, 0);
        rp_buf_adds(&meta, "$$");
        rp_buf_add(&meta, stream, len);
        m = emu_store_find(srv->store, meta.data, meta.len);
        rp_buf_dispose(&meta);
        nothing = m == NULL || m->count == 0;
    }
    if ((expected >= -1 && expected != c) || (expected == -4 && c < 0) ||
        nothing) {
        emu_reply_status(rep, 400, "Wrong expected EventNumber");
        emu_reply_header(rep, "Content-Type", "text/plain; charset=utf-8");
        if (srv->profile >= EMU_V23)
            set_current_version(srv, rep, c);
        return;
    }
    emu_store_delete(srv->store, stream, len, hard);
    emu_reply_status(rep, 204, "Stream deleted");
    return;
bad_ev:
    snprintf(buf, sizeof(buf), "%s-ExpectedVersion header in wrong format.",
             hname(srv));
    emu_reply_bad(srv, rep, buf);
}

/* ---- /info, /ping, /gossip ---- */

static const char *
node_state(const struct emu_server *srv, int node)
{
    int v5 = srv->profile == EMU_V5;

    if (srv->leader < 0)
        return "Unknown";
    if (node == srv->leader)
        return v5 ? "Master" : "Leader";
    return v5 ? "Slave" : "Follower";
}

/* GET /info: version, node state and (20.6+) the feature flags. */
static void
info(struct emu_server *srv, const struct emu_request *req,
     struct emu_reply *rep)
{
    static const char *const versions[] = {"5.0.12.0", "20.10.6.0", "23.10.6.0",
                                           "25.0.0.0"};
    struct rp_buf *b = &rep->body;
    char state[32];
    size_t i;

    snprintf(state, sizeof(state), "%s", node_state(srv, req->node));
    for (i = 0; state[i] != '\0'; i++)
        if (state[i] >= 'A' && state[i] <= 'Z')
            state[i] = (char)(state[i] + 32);
    reply_json(rep, 200, "OK");
    rp_buf_printf(b, "{\"esVersion\":\"%s\",", versions[srv->profile]);
    if (srv->profile == EMU_V25)
        rp_buf_adds(b, "\"dbVersion\":\"25.0.0\",");
    rp_buf_printf(b, "\"state\":\"%s\",\"projectionsMode\":\"None\"", state);
    /* v5 has no feature flags (and no way to turn AtomPub off: when the
    ** emulator does, it says so in the 20.6+ shape). */
    if (srv->profile != EMU_V5 || !srv->atompub)
        rp_buf_printf(b,
                      ",\"features\":{\"projections\":false,"
                      "\"userManagement\":true,\"atomPub\":%s}",
                      srv->atompub ? "true" : "false");
    rp_buf_adds(b, "}");
}

/* GET /gossip: every node, in the member shape of the profile. */
static void
gossip(struct emu_server *srv, const struct emu_request *req,
       struct emu_reply *rep)
{
    struct rp_buf *b = &rep->body;
    char now[40], id[37];
    int i;

    emu_format_time(now, emu_unix_us());
    reply_json(rep, 200, "OK");
    rp_buf_adds(b, "{\"members\":[");
    for (i = 0; i < srv->nnodes; i++) {
        emu_uuid_format(id, srv->instance[i]);
        rp_buf_printf(b,
                      "%s{\"instanceId\":\"%s\",\"timeStamp\":\"%s\","
                      "\"state\":\"%s\",\"isAlive\":true,",
                      i ? "," : "", id, now, node_state(srv, i));
        if (srv->profile == EMU_V5)
            rp_buf_printf(b,
                          "\"internalHttpIp\":\"127.0.0.1\","
                          "\"internalHttpPort\":%d,"
                          "\"externalHttpIp\":\"127.0.0.1\","
                          "\"externalHttpPort\":%d,",
                          srv->ports[i], srv->ports[i]);
        else
            rp_buf_printf(b,
                          "\"httpEndPointIp\":\"127.0.0.1\","
                          "\"httpEndPointPort\":%d,"
                          "\"isReadOnlyReplica\":false,",
                          srv->ports[i]);
        rp_buf_printf(b,
                      "\"internalTcpIp\":\"127.0.0.1\",\"internalTcpPort\":0,"
                      "\"externalTcpIp\":\"127.0.0.1\",\"externalTcpPort\":0,"
                      "\"lastCommitPosition\":%llu,\"writerCheckpoint\":%llu,"
                      "\"chaserCheckpoint\":%llu,\"epochPosition\":0,"
                      "\"epochNumber\":%d,\"nodePriority\":0}",
                      (unsigned long long)emu_store_global_count(srv->store),
                      (unsigned long long)emu_store_global_count(srv->store),
                      (unsigned long long)emu_store_global_count(srv->store),
                      srv->leader < 0 ? 0 : 1);
    }
    rp_buf_printf(b, "],\"serverIp\":\"127.0.0.1\",\"serverPort\":%d}",
                  srv->ports[req->node]);
}

/* ---- /_emu control endpoint ---- */

static void
control_bad(struct emu_reply *rep, const char *msg)
{
    emu_reply_status(rep, 400, "Bad Request");
    emu_reply_header(rep, "Content-Type", "text/plain; charset=utf-8");
    rp_buf_adds(&rep->body, msg);
}

/* 200 {"ok":true}. */
static void
control_ok(struct emu_reply *rep)
{
    reply_json(rep, 200, "OK");
    rp_buf_adds(&rep->body, "{\"ok\":true}");
}

/* Read boolean member 'key' into *out when present.  Returns 0, or -1
** when it is not a boolean. */
static int
get_bool(const struct rp_json *obj, const char *key, int *out)
{
    const struct rp_json *v = rp_json_get(obj, key);

    if (v == NULL)
        return 0;
    if (v->type != RP_JSON_TRUE && v->type != RP_JSON_FALSE)
        return -1;
    *out = v->type == RP_JSON_TRUE;
    return 0;
}

/* POST/GET /_emu/switches: set the switches given, answer all of them. */
static void
switches(struct emu_server *srv, const struct rp_json *root,
         struct emu_reply *rep)
{
    if (root != NULL &&
        (get_bool(root, "write_on_413", &srv->write_on_413) != 0 ||
         get_bool(root, "atompub", &srv->atompub) != 0 ||
         get_bool(root, "anonymous", &srv->anonymous) != 0)) {
        control_bad(rep, "switches are booleans");
        return;
    }
    reply_json(rep, 200, "OK");
    rp_buf_printf(
        &rep->body, "{\"write_on_413\":%s,\"atompub\":%s,\"anonymous\":%s}",
        srv->write_on_413 ? "true" : "false", srv->atompub ? "true" : "false",
        srv->anonymous ? "true" : "false");
}

/* POST /_emu/faults: arm a fault at the end of the list. */
static void
arm_fault(struct emu_server *srv, const struct rp_json *root,
          struct emu_reply *rep)
{
    const struct rp_json *kind = rp_json_get(root, "kind");
    const struct rp_json *stream = rp_json_get(root, "stream");
    const struct rp_json *count = rp_json_get(root, "count");
    const struct rp_json *ms = rp_json_get(root, "ms");
    struct emu_fault *f, **pp;
    int64_t cnt = 1, m = 1000;
    int k;

    if (kind == NULL || kind->type != RP_JSON_STRING ||
        (k = emu_fault_kind(kind->str, kind->len)) < 0) {
        control_bad(rep, "unknown fault kind");
        return;
    }
    if ((count != NULL && (rp_json_int64(count, &cnt) != 0 || cnt < 1)) ||
        (ms != NULL && (rp_json_int64(ms, &m) != 0 || m < 0)) ||
        (stream != NULL && stream->type != RP_JSON_STRING &&
         stream->type != RP_JSON_NULL)) {
        control_bad(rep, "count must be >= 1, ms >= 0, stream a string");
        return;
    }
    f = rp_xcalloc(1, sizeof(*f));
    f->kind = k;
    f->count = (uint64_t)cnt;
    f->ms = (uint64_t)m;
    if (stream != NULL && stream->type == RP_JSON_STRING)
        f->stream = rp_xstrndup(stream->str, stream->len);
    for (pp = &srv->faults; *pp != NULL; pp = &(*pp)->next)
        ;
    *pp = f;
    control_ok(rep);
}

/* qsort order of streams: by name bytes. */
static int
cmp_stream(const void *a, const void *b)
{
    const struct emu_stream *x = *(struct emu_stream *const *)a;
    const struct emu_stream *y = *(struct emu_stream *const *)b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);

    if (c != 0)
        return c;
    return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

/* GET /_emu/dump[?stream=S]: every readable event (of stream S) as one JSON
** line. */
static void
dump(struct emu_server *srv, const struct emu_request *req,
     struct emu_reply *rep)
{
    size_t ql;
    const char *q = emu_query_get(req, "stream", &ql);
    struct rp_buf only;
    size_t n = emu_store_stream_count(srv->store), k = 0, i, j;
    struct emu_stream **all = rp_xcalloc(n ? n : 1, sizeof(*all));
    struct emu_stream *s;
    struct rp_buf *b = &rep->body, tmp;

    rp_buf_init(&tmp, 0);
    rp_buf_init(&only, 0);
    if (q != NULL && url_decode(&only, q, ql) != 0) {
        control_bad(rep, "bad percent escape in stream");
        goto done;
    }
    for (s = emu_store_streams(srv->store); s != NULL; s = s->all)
        if (q == NULL ||
            (s->name_len == only.len &&
             (only.len == 0 || memcmp(s->name, only.data, only.len) == 0)))
            all[k++] = s;
    qsort(all, k, sizeof(*all), cmp_stream);
    emu_reply_status(rep, 200, "OK");
    emu_reply_header(rep, "Content-Type", "application/x-ndjson");
    for (i = 0; i < k; i++) {
        s = all[i];
        if (s->state != EMU_LIVE)
            continue;
        for (j = s->first_visible; j < s->count; j++) {
            const struct emu_event *e = &s->ev[j];
            const char *d;
            size_t dl;
            char id[37];

            emu_uuid_format(id, e->id);
            rp_buf_adds(b, "{\"stream\":");
            rp_json_add_string(b, s->name, s->name_len);
            rp_buf_printf(b,
                          ",\"eventNumber\":%zu,\"eventId\":\"%s\","
                          "\"eventType\":",
                          j, id);
            rp_json_add_string(b, e->type, e->type_len);
            rp_buf_printf(b, ",\"isJson\":%s,\"createdUs\":%lld,",
                          e->flags & EMU_EV_JSON ? "true" : "false",
                          (long long)e->created_us);
            d = emu_event_data(e, &tmp, &dl);
            if (rp_utf8_valid(d, dl, NULL)) {
                rp_buf_adds(b, "\"data\":");
                rp_json_add_string(b, d, dl);
            } else {
                rp_buf_adds(b, "\"dataBase64\":\"");
                rp_base64_encode(b, d, dl);
                rp_buf_addc(b, '"');
            }
            d = emu_event_meta(e, &tmp, &dl);
            rp_buf_adds(b, ",\"metadata\":");
            emu_json_add_lossy(b, d, dl);
            rp_buf_adds(b, "}\n");
        }
    }
done:
    rp_buf_dispose(&only);
    rp_buf_dispose(&tmp);
    free(all);
}

/* GET /_emu/stats: the counters. */
static void
stats(struct emu_server *srv, struct emu_reply *rep)
{
    reply_json(rep, 200, "OK");
    rp_buf_printf(
        &rep->body,
        "{\"requests\":%llu,\"appends\":%llu,\"writes\":%llu,"
        "\"idempotent\":%llu,\"faults\":%llu,\"events\":%llu,"
        "\"streams\":%zu,\"reads\":%llu,\"connections\":%llu,"
        "\"leader\":%d}",
        (unsigned long long)srv->n_requests, (unsigned long long)srv->n_appends,
        (unsigned long long)srv->n_writes,
        (unsigned long long)srv->n_idempotent,
        (unsigned long long)srv->n_faults,
        (unsigned long long)emu_store_event_count(srv->store),
        emu_store_stream_count(srv->store), (unsigned long long)srv->n_reads,
        (unsigned long long)srv->n_connections, srv->leader);
}

/* Requests under /_emu/ (never authenticated). */
static void
control(struct emu_server *srv, const struct emu_request *req,
        struct emu_reply *rep)
{
    const char *what = req->path + 6;
    size_t wl = req->path_len - 6;
    int post = strcmp(req->method, "POST") == 0;
    int get = strcmp(req->method, "GET") == 0;
    struct rp_json_doc *doc = NULL;
    const struct rp_json *root = NULL;
    struct rp_error err;

#define IS(s) (wl == sizeof(s) - 1 && memcmp(what, s, wl) == 0)
    if (post && req->body_len > 0) {
        if (rp_json_parse(&doc, req->body, req->body_len, &err) != 0) {
            control_bad(rep, err.msg);
            return;
        }
        root = rp_json_root(doc);
        if (root->type != RP_JSON_OBJECT) {
            control_bad(rep, "the body must be a JSON object");
            goto done;
        }
    }
    if (IS("faults") && post) {
        arm_fault(srv, root, rep);
    } else if (IS("faults") && strcmp(req->method, "DELETE") == 0) {
        while (srv->faults != NULL) {
            struct emu_fault *f = srv->faults;

            srv->faults = f->next;
            free(f->stream);
            free(f);
        }
        control_ok(rep);
    } else if (IS("faults") && get) {
        struct emu_fault *f;

        reply_json(rep, 200, "OK");
        rp_buf_addc(&rep->body, '[');
        for (f = srv->faults; f != NULL; f = f->next) {
            rp_buf_printf(&rep->body, "%s{\"kind\":\"%s\",\"count\":%llu,",
                          f == srv->faults ? "" : ",", fault_names[f->kind],
                          (unsigned long long)f->count);
            rp_buf_printf(&rep->body,
                          "\"ms\":%llu,\"stream\":", (unsigned long long)f->ms);
            if (f->stream != NULL)
                emu_json_add_lossy(&rep->body, f->stream, strlen(f->stream));
            else
                rp_buf_adds(&rep->body, "null");
            rp_buf_addc(&rep->body, '}');
        }
        rp_buf_addc(&rep->body, ']');
    } else if (IS("switches") && (post || get)) {
        switches(srv, root, rep);
    } else if (IS("clear-idempotency-cache") && post) {
        emu_store_clear_cache(srv->store);
        control_ok(rep);
    } else if (IS("leader") && post) {
        const struct rp_json *node = rp_json_get(root, "node");
        int64_t v;

        if (node != NULL && node->type == RP_JSON_NULL) {
            srv->leader = -1;
        } else if (rp_json_int64(node, &v) == 0 && v >= 0 && v < srv->nnodes) {
            srv->leader = (int)v;
        } else {
            control_bad(rep, "node must be a node index or null");
            goto done;
        }
        emu_store_clear_cache(srv->store);
        control_ok(rep);
    } else if (IS("stats") && get) {
        stats(srv, rep);
    } else if (IS("dump") && get) {
        dump(srv, req, rep);
    } else {
        emu_reply_status(rep, 404, "Not Found");
    }
#undef IS
done:
    rp_json_free(doc);
}

/* ---- routing ---- */

static void
reply_unauthenticated(const struct emu_server *srv, struct emu_reply *rep)
{
    emu_reply_status(rep, 401, "Unauthorized");
    if (srv->profile == EMU_V5)
        emu_reply_header(rep, "WWW-Authenticate", "BasicCustom realm=\"ES\"");
    else
        emu_reply_header(rep, "WWW-Authenticate", "X-Basic realm=\"ESDB\"");
}

#define MAX_SEGS 8

/* Requests under /streams/: the trailing-slash redirect, then the route by
** method and path segments (percent-decoded). */
static void
streams(struct emu_server *srv, const struct emu_request *req,
        struct emu_reply *rep, int who)
{
    const char *p = req->path + 9; /* after "/streams/" */
    size_t left = req->path_len - 9, nsegs = 0, i;
    struct rp_buf segbuf[MAX_SEGS];
    char *segs[MAX_SEGS];
    const char *m = req->method;
    unsigned char id[16];

    if (req->path[req->path_len - 1] == '/') {
        struct rp_buf loc;

        rp_buf_init(&loc, 0);
        emu_base_url(srv, req, &loc);
        rp_buf_add(&loc, req->path, req->path_len - 1);
        if (req->query != NULL) {
            rp_buf_addc(&loc, '?');
            rp_buf_add(&loc, req->query, req->query_len);
        }
        emu_reply_status(rep, 307, "Temporary Redirect");
        emu_reply_header(rep, "Location", "%s", loc.data);
        emu_reply_header(rep, "Cache-Control", "max-age=31536000, public");
        rp_buf_dispose(&loc);
        return;
    }
    while (left > 0) {
        const char *slash = memchr(p, '/', left);
        size_t n = slash ? (size_t)(slash - p) : left;

        if (nsegs == MAX_SEGS) {
            emu_reply_status(rep, 404, "Not Found");
            goto done;
        }
        rp_buf_init(&segbuf[nsegs], 0);
        if (url_decode(&segbuf[nsegs], p, n) != 0 ||
            !rp_utf8_valid(segbuf[nsegs].data ? segbuf[nsegs].data : "",
                           segbuf[nsegs].len, NULL)) {
            nsegs++;
            emu_reply_status(rep, 400, "Bad Request");
            goto done;
        }
        rp_buf_addc(&segbuf[nsegs], '\0');
        segbuf[nsegs].len--;
        segs[nsegs] = segbuf[nsegs].data;
        nsegs++;
        p += n + (slash != NULL);
        left -= n + (slash != NULL);
    }
    if (nsegs == 0 || segbuf[0].len == 0) {
        emu_reply_status(rep, 404, "Not Found");
        goto done;
    }
    if (strcmp(m, "POST") == 0) {
        if (nsegs == 1)
            append(srv, req, rep, who, segs[0], segbuf[0].len, NULL, 0);
        else if (nsegs == 3 && strcmp(segs[1], "incoming") == 0 &&
                 emu_uuid_parse(id, segs[2], segbuf[2].len) == 0)
            append(srv, req, rep, who, segs[0], segbuf[0].len, id, 0);
        else if ((nsegs == 2 && strcmp(segs[1], "metadata") == 0) ||
                 (nsegs == 4 && strcmp(segs[1], "metadata") == 0 &&
                  strcmp(segs[2], "incoming") == 0 &&
                  emu_uuid_parse(id, segs[3], segbuf[3].len) == 0)) {
            struct rp_buf meta;

            if (segs[0][0] == '$' && segs[0][1] == '$') {
                emu_reply_bad(srv, rep,
                              "Invalid request. Stream must be non-empty "
                              "string and should not be metastream");
                goto done;
            }
            rp_buf_init(&meta, 0);
            rp_buf_adds(&meta, "$$");
            rp_buf_add(&meta, segs[0], segbuf[0].len);
            append(srv, req, rep, who, meta.data, meta.len,
                   nsegs == 4 ? id : NULL, 1);
            rp_buf_dispose(&meta);
        } else if (nsegs == 3 && strcmp(segs[1], "incoming") == 0)
            emu_reply_status(rep, 404, "Not Found");
        else
            emu_reply_status(rep, 405, "Method Not Allowed");
    } else if (strcmp(m, "DELETE") == 0) {
        if (nsegs == 1)
            delete_stream(srv, req, rep, who, segs[0], segbuf[0].len);
        else
            emu_reply_status(rep, 405, "Method Not Allowed");
    } else if (strcmp(m, "GET") == 0) {
        srv->n_reads++;
        emu_read(srv, req, rep, segs[0], segbuf[0].len, segs, nsegs,
                 who == AUTH_ADMIN  ? 2
                 : who == AUTH_USER ? 1
                                    : 0);
    } else if (strcmp(m, "OPTIONS") == 0) {
        emu_reply_status(rep, 200, "OK");
        emu_reply_header(rep, "Access-Control-Allow-Origin", "*");
        emu_reply_header(rep, "Access-Control-Allow-Methods",
                         "POST, DELETE, GET, OPTIONS");
    } else {
        emu_reply_status(rep, 405, "Method Not Allowed");
    }
done:
    for (i = 0; i < nsegs; i++)
        rp_buf_dispose(&segbuf[i]);
}

/* Read access for read.c: level 0 anonymous, 1 user, 2 admin. */
int
emu_read_allowed(const struct emu_server *srv, int level, const char *name,
                 size_t len)
{
    return allowed(srv,
                   level == 2   ? AUTH_ADMIN
                   : level == 1 ? AUTH_USER
                                : AUTH_ANON,
                   name, len);
}

void
emu_handle(struct emu_server *srv, const struct emu_request *req,
           struct emu_reply *rep)
{
    int who;

#define PATH_IS(s)                                                             \
    (req->path_len == sizeof(s) - 1 && memcmp(req->path, s, req->path_len) == 0)
    emu_reply_status(rep, 200, "OK");
    rep->action = EMU_SEND;
    if (req->path_len >= 6 && memcmp(req->path, "/_emu/", 6) == 0) {
        control(srv, req, rep);
        return;
    }
    srv->n_requests++;
    who = authenticate(srv, req);
    if (who == AUTH_BAD) {
        reply_unauthenticated(srv, rep);
        return;
    }
    if (PATH_IS("/ping")) {
        reply_json(rep, 200, "OK");
        rp_buf_adds(&rep->body, "{\"msgTypeId\":70,\"text\":\"Ping request "
                                "successfully handled\"}");
    } else if (PATH_IS("/info")) {
        info(srv, req, rep);
    } else if (PATH_IS("/gossip")) {
        gossip(srv, req, rep);
    } else if (PATH_IS("/health/live") && srv->profile != EMU_V5) {
        emu_reply_status(rep, 204, "No Content");
    } else if (req->path_len > 9 && memcmp(req->path, "/streams/", 9) == 0 &&
               srv->atompub) {
        streams(srv, req, rep, who);
    } else {
        emu_reply_status(rep, 404, "Not Found");
    }
#undef PATH_IS
}
