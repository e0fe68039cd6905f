/* The emulator's store: streams of events in memory (one arena for the
** bytes, one array per stream), the expected-version and idempotency rules
** of the API spec 3.2, the -2 "recent ids" cache, and an append-only log
** file that a restart replays. */
#include "emu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

#define CHUNK_SIZE (1u << 20)

/* Arena chunk holding event bytes. */
struct chunk {
    struct chunk *next;
    size_t used;
    size_t size;
    char mem[];
};

/* A place in the global log ($all). */
struct gpos {
    struct emu_stream *s;
    size_t num;
};

struct emu_store {
    struct chunk *chunks;      /* newest first */
    struct emu_stream **table; /* open addressing by name hash */
    size_t table_cap;
    size_t nstreams;
    struct emu_stream *first; /* creation order */
    struct emu_stream *last;
    uint64_t nevents;
    struct gpos *global; /* every event in commit order */
    size_t global_len;
    size_t global_cap;
    int log_fd; /* -1 when there is no log */
    char *log_path;
    struct rp_buf line; /* scratch for log lines */
    int replaying;      /* set while the log is read back */
};

static char *
arena_copy(struct emu_store *st, const void *p, size_t n)
{
    static char empty[1];
    struct chunk *c = st->chunks;

    if (n == 0)
        return empty;
    if (c == NULL || c->size - c->used < n) {
        size_t size = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;

        c = rp_xmalloc(sizeof(*c) + size);
        c->size = size;
        c->used = 0;
        if (size == n && st->chunks != NULL) {
            /* A big item: keep filling the current chunk afterwards. */
            c->next = st->chunks->next;
            st->chunks->next = c;
        } else {
            c->next = st->chunks;
            st->chunks = c;
        }
    }
    memcpy(c->mem + c->used, p, n);
    c->used += n;
    return c->mem + c->used - n;
}

static uint64_t
hash_name(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t
hash_id(const unsigned char id[16])
{
    uint64_t a, b;

    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    a ^= b * 0x9E3779B97F4A7C15ull;
    a ^= a >> 31;
    a *= 0xBF58476D1CE4E5B9ull;
    return a ^ (a >> 29);
}

void
emu_store_new(struct emu_store **out)
{
    struct emu_store *st = rp_xcalloc(1, sizeof(*st));

    st->log_fd = -1;
    st->table_cap = 64;
    st->table = rp_xcalloc(st->table_cap, sizeof(*st->table));
    rp_buf_init(&st->line, 0);
    *out = st;
}

void
emu_store_free(struct emu_store *st)
{
    struct emu_stream *s, *next;

    if (st == NULL)
        return;
    for (s = st->first; s != NULL; s = next) {
        next = s->all;
        free(s->name);
        free(s->ev);
        free(s->cache);
        free(s);
    }
    while (st->chunks != NULL) {
        struct chunk *c = st->chunks;

        st->chunks = c->next;
        free(c);
    }
    if (st->log_fd >= 0)
        close(st->log_fd);
    free(st->log_path);
    free(st->table);
    free(st->global);
    rp_buf_dispose(&st->line);
    free(st);
}

struct emu_stream *
emu_store_find(struct emu_store *st, const char *name, size_t len)
{
    size_t mask = st->table_cap - 1;
    size_t i = hash_name(name, len) & mask;

    for (;; i = (i + 1) & mask) {
        struct emu_stream *s = st->table[i];

        if (s == NULL)
            return NULL;
        if (s->name_len == len && memcmp(s->name, name, len) == 0)
            return s;
    }
}

static void
table_put(struct emu_stream **table, size_t cap, struct emu_stream *s)
{
    size_t mask = cap - 1;
    size_t i = hash_name(s->name, s->name_len) & mask;

    while (table[i] != NULL)
        i = (i + 1) & mask;
    table[i] = s;
}

static struct emu_stream *
get_stream(struct emu_store *st, const char *name, size_t len)
{
    struct emu_stream *s = emu_store_find(st, name, len);

    if (s != NULL)
        return s;
    if ((st->nstreams + 1) * 2 > st->table_cap) {
        size_t cap = st->table_cap * 2, i;
        struct emu_stream **t = rp_xcalloc(cap, sizeof(*t));

        for (i = 0; i < st->table_cap; i++)
            if (st->table[i] != NULL)
                table_put(t, cap, st->table[i]);
        free(st->table);
        st->table = t;
        st->table_cap = cap;
    }
    s = rp_xcalloc(1, sizeof(*s));
    s->name = rp_xstrndup(name, len);
    s->name_len = len;
    table_put(st->table, st->table_cap, s);
    st->nstreams++;
    if (st->last != NULL)
        st->last->all = s;
    else
        st->first = s;
    st->last = s;
    return s;
}

/* ---- the -2 cache: event numbers by id (see cache_get) ---- */

static void cache_put(struct emu_stream *s, size_t num);

static void
cache_grow(struct emu_stream *s)
{
    uint32_t *old = s->cache;
    size_t oldcap = s->cache_cap, i;

    s->cache_cap = oldcap ? oldcap * 2 : 64;
    s->cache = rp_xcalloc(s->cache_cap, sizeof(*s->cache));
    s->cache_used = 0;
    for (i = 0; i < oldcap; i++)
        if (old[i] != 0)
            cache_put(s, old[i] - 1);
    free(old);
}

static void
cache_put(struct emu_stream *s, size_t num)
{
    size_t mask, i;

    if ((s->cache_used + 1) * 2 > s->cache_cap)
        cache_grow(s);
    mask = s->cache_cap - 1;
    i = hash_id(s->ev[num].id) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t v = s->cache[i];

        if (v == 0) {
            s->cache[i] = (uint32_t)num + 1;
            s->cache_used++;
            return;
        }
        if (memcmp(s->ev[v - 1].id, s->ev[num].id, 16) == 0) {
            s->cache[i] = (uint32_t)num + 1; /* the newest write wins */
            return;
        }
    }
}

/* The cached number of 'id' in stream 's', or -1.  The index is brought up
** to date here, not at each write: writes with an exact expected version
** (the common case) never pay for it. */
static int64_t
cache_get(struct emu_stream *s, const unsigned char id[16])
{
    size_t mask, i;

    if (s == NULL)
        return -1;
    while (s->cache_upto < s->count)
        cache_put(s, s->cache_upto++);
    if (s->cache_cap == 0)
        return -1;
    mask = s->cache_cap - 1;
    i = hash_id(id) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t v = s->cache[i];

        if (v == 0)
            return -1;
        if (memcmp(s->ev[v - 1].id, id, 16) == 0)
            return (int64_t)v - 1;
    }
}

void
emu_store_clear_cache(struct emu_store *st)
{
    struct emu_stream *s;

    for (s = st->first; s != NULL; s = s->all) {
        free(s->cache);
        s->cache = NULL;
        s->cache_cap = 0;
        s->cache_used = 0;
        s->cache_upto = s->count;
    }
}

/* ---- the rules ---- */

enum emu_decision
emu_store_check(struct emu_store *st, const char *name, size_t len,
                int64_t expected, const struct emu_new_event *evs, size_t n,
                int64_t *first, int64_t *current)
{
    struct emu_stream *s = emu_store_find(st, name, len);
    int64_t c = s != NULL ? (int64_t)s->count - 1 : -1;
    size_t p;

    *current = c;
    *first = c + 1;
    if (s != NULL && s->state == EMU_HARD_DELETED)
        return EMU_DELETED;
    if (expected == -4 && s != NULL && s->state == EMU_SOFT_DELETED)
        return EMU_DELETED;
    if (expected == -4 && c < 0) {
        struct rp_buf meta;
        struct emu_stream *m;

        rp_buf_init(&meta, 0);
        rp_buf_adds(&meta, "$$");
        rp_buf_add(&meta, name, len);
        m = emu_store_find(st, meta.data, meta.len);
        rp_buf_dispose(&meta);
        if (m == NULL || m->count == 0)
            return EMU_WEV;
    }
    if (expected == -2 || expected == -4) {
        int64_t n0;

        if (n == 0 || (n0 = cache_get(s, evs[0].id)) < 0)
            return EMU_APPEND;
        for (p = 1; p < n; p++)
            if (cache_get(s, evs[p].id) < 0)
                return EMU_WEV; /* corrupted idempotency */
        *first = n0;
        return EMU_IDEMPOTENT;
    }
    if (expected == c)
        return EMU_APPEND;
    if (expected > c)
        return EMU_WEV;
    for (p = 0; p < n; p++) {
        int64_t num = expected + 1 + (int64_t)p;

        if (num > c)
            return EMU_WEV; /* partial overlap */
        if (memcmp(s->ev[num].id, evs[p].id, 16) != 0) {
            if (p == 0 && expected == -1 && s->state == EMU_SOFT_DELETED)
                return EMU_APPEND;
            return EMU_WEV;
        }
    }
    *first = expected + 1;
    return EMU_IDEMPOTENT;
}

/* ---- the log ---- */

static void
log_write(struct emu_store *st)
{
    const char *p = st->line.data;
    size_t left = st->line.len;

    while (left > 0) {
        ssize_t w = write(st->log_fd, p, left);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            fprintf(stderr, "esdb-emu: write %s: %s\n", st->log_path,
                    strerror(errno));
            exit(1);
        }
        p += w;
        left -= (size_t)w;
    }
}

static void
log_bytes(struct rp_buf *b, const char *key, const char *s, size_t n)
{
    if (rp_utf8_valid(s, n, NULL)) {
        rp_buf_printf(b, ",\"%s\":", key);
        rp_json_add_string(b, s, n);
    } else {
        rp_buf_printf(b, ",\"%s64\":\"", key);
        rp_base64_encode(b, s, n);
        rp_buf_addc(b, '"');
    }
}

static void
log_append(struct emu_store *st, struct emu_stream *s, size_t from)
{
    struct rp_buf *b = &st->line;
    size_t i;

    rp_buf_reset(b);
    rp_buf_adds(b, "{\"op\":\"append\",\"stream\":");
    rp_json_add_string(b, s->name, s->name_len);
    rp_buf_adds(b, ",\"events\":[");
    for (i = from; i < s->count; i++) {
        const struct emu_event *e = &s->ev[i];
        char id[37];

        emu_uuid_format(id, e->id);
        rp_buf_printf(b, "%s{\"id\":\"%s\",\"flags\":%u,\"created\":%lld",
                      i > from ? "," : "", id, e->flags,
                      (long long)e->created_us);
        log_bytes(b, "type", e->type, e->type_len);
        log_bytes(b, "data", e->data, e->data_len);
        log_bytes(b, "meta", e->meta, e->meta_len);
        rp_buf_addc(b, '}');
    }
    rp_buf_adds(b, "]}\n");
    log_write(st);
}

static int64_t
append_at(struct emu_store *st, struct emu_stream *s,
          const struct emu_new_event *evs, size_t n, const int64_t *created)
{
    size_t i, from = s->count;
    int64_t now = created == NULL ? emu_unix_us() : 0;

    if (s->state == EMU_SOFT_DELETED) {
        s->state = EMU_LIVE;
        s->first_visible = s->count;
    }
    if (s->count + n > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;

        while (cap < s->count + n)
            cap *= 2;
        s->ev = rp_xrealloc(s->ev, cap * sizeof(*s->ev));
        s->cap = cap;
    }
    if (st->global_len + n > st->global_cap) {
        size_t cap = st->global_cap ? st->global_cap * 2 : 1024;

        while (cap < st->global_len + n)
            cap *= 2;
        st->global = rp_xrealloc(st->global, cap * sizeof(*st->global));
        st->global_cap = cap;
    }
    for (i = 0; i < n; i++) {
        struct emu_event *e = &s->ev[s->count];

        memcpy(e->id, evs[i].id, 16);
        e->flags = evs[i].flags;
        e->type = arena_copy(st, evs[i].type, evs[i].type_len);
        e->type_len = (uint32_t)evs[i].type_len;
        e->data = arena_copy(st, evs[i].data, evs[i].data_len);
        e->data_len = (uint32_t)evs[i].data_len;
        e->meta = arena_copy(st, evs[i].meta, evs[i].meta_len);
        e->meta_len = (uint32_t)evs[i].meta_len;
        e->created_us = created != NULL ? created[i] : now;
        st->global[st->global_len].s = s;
        st->global[st->global_len].num = s->count;
        st->global_len++;
        s->count++;
    }
    st->nevents += n;
    if (st->log_fd >= 0 && !st->replaying)
        log_append(st, s, from);
    return (int64_t)from;
}

int64_t
emu_store_append(struct emu_store *st, const char *name, size_t len,
                 const struct emu_new_event *evs, size_t n)
{
    return append_at(st, get_stream(st, name, len), evs, n, NULL);
}

void
emu_store_delete(struct emu_store *st, const char *name, size_t len, int hard)
{
    struct emu_stream *s = get_stream(st, name, len);

    s->state = hard ? EMU_HARD_DELETED : EMU_SOFT_DELETED;
    if (st->log_fd >= 0 && !st->replaying) {
        rp_buf_reset(&st->line);
        rp_buf_adds(&st->line, "{\"op\":\"delete\",\"stream\":");
        rp_json_add_string(&st->line, name, len);
        rp_buf_printf(&st->line, ",\"hard\":%s}\n", hard ? "true" : "false");
        log_write(st);
    }
}

struct emu_stream *
emu_store_streams(struct emu_store *st)
{
    return st->first;
}

size_t
emu_store_stream_count(const struct emu_store *st)
{
    return st->nstreams;
}

uint64_t
emu_store_event_count(const struct emu_store *st)
{
    return st->nevents;
}

int
emu_store_global(const struct emu_store *st, uint64_t pos,
                 struct emu_stream **s, size_t *num)
{
    if (pos >= st->global_len)
        return 0;
    *s = st->global[pos].s;
    *num = st->global[pos].num;
    return 1;
}

uint64_t
emu_store_global_count(const struct emu_store *st)
{
    return st->global_len;
}

/* ---- replay ---- */

/* Fetch the bytes of field 'key' (a string, or base64 in key+"64"). */
static int
field_bytes(const struct rp_json *obj, const char *key, struct rp_buf *out)
{
    char k64[32];
    const struct rp_json *v = rp_json_get(obj, key);

    rp_buf_reset(out);
    if (v != NULL && v->type == RP_JSON_STRING)
        return rp_buf_add(out, v->str, v->len) == 0 ? 0 : -1;
    snprintf(k64, sizeof(k64), "%s64", key);
    v = rp_json_get(obj, k64);
    if (v == NULL || v->type != RP_JSON_STRING)
        return -1;
    return rp_base64_decode(out, v->str, v->len, NULL) == 0 ? 0 : -1;
}

static int
replay_append(struct emu_store *st, const struct rp_json *root)
{
    const struct rp_json *name = rp_json_get(root, "stream");
    const struct rp_json *evs = rp_json_get(root, "events");
    const struct rp_json *e;
    struct emu_new_event *ne = NULL;
    struct rp_buf *bufs = NULL;
    int64_t *created = NULL;
    size_t n, i;
    int rc = -1;

    if (name == NULL || name->type != RP_JSON_STRING || evs == NULL ||
        evs->type != RP_JSON_ARRAY || evs->len == 0)
        return -1;
    n = evs->len;
    ne = rp_xcalloc(n, sizeof(*ne));
    bufs = rp_xcalloc(n * 3, sizeof(*bufs));
    created = rp_xcalloc(n, sizeof(*created));
    for (i = 0; i < n * 3; i++)
        rp_buf_init(&bufs[i], 0);
    for (i = 0, e = evs->child; e != NULL; e = e->next, i++) {
        const char *id = rp_json_string(rp_json_get(e, "id"));
        int64_t flags, ms;

        if (id == NULL || emu_uuid_parse(ne[i].id, id, strlen(id)) != 0 ||
            rp_json_int64(rp_json_get(e, "flags"), &flags) != 0 ||
            rp_json_int64(rp_json_get(e, "created"), &ms) != 0 ||
            field_bytes(e, "type", &bufs[3 * i]) != 0 ||
            field_bytes(e, "data", &bufs[3 * i + 1]) != 0 ||
            field_bytes(e, "meta", &bufs[3 * i + 2]) != 0)
            goto done;
        ne[i].flags = (uint32_t)flags;
        created[i] = ms;
        ne[i].type = bufs[3 * i].data ? bufs[3 * i].data : "";
        ne[i].type_len = bufs[3 * i].len;
        ne[i].data = bufs[3 * i + 1].data ? bufs[3 * i + 1].data : "";
        ne[i].data_len = bufs[3 * i + 1].len;
        ne[i].meta = bufs[3 * i + 2].data ? bufs[3 * i + 2].data : "";
        ne[i].meta_len = bufs[3 * i + 2].len;
    }
    append_at(st, get_stream(st, name->str, name->len), ne, n, created);
    rc = 0;
done:
    for (i = 0; i < n * 3; i++)
        rp_buf_dispose(&bufs[i]);
    free(bufs);
    free(ne);
    free(created);
    return rc;
}

static int
replay_line(struct emu_store *st, const char *line, size_t len)
{
    struct rp_json_doc *doc = NULL;
    const struct rp_json *root, *name;
    const char *op;
    int rc = -1;

    if (rp_json_parse(&doc, line, len, NULL) != 0)
        return -1;
    root = rp_json_root(doc);
    op = rp_json_string(rp_json_get(root, "op"));
    name = rp_json_get(root, "stream");
    if (op != NULL && strcmp(op, "append") == 0) {
        rc = replay_append(st, root);
    } else if (op != NULL && strcmp(op, "delete") == 0 && name != NULL &&
               name->type == RP_JSON_STRING) {
        const struct rp_json *h = rp_json_get(root, "hard");

        emu_store_delete(st, name->str, name->len,
                         h != NULL && h->type == RP_JSON_TRUE);
        rc = 0;
    }
    rp_json_free(doc);
    return rc;
}

int
emu_store_open_log(struct emu_store *st, const char *path, struct rp_error *err)
{
    struct rp_buf file;
    size_t off = 0, good = 0;
    int rc;

    rp_buf_init(&file, 0);
    rc = rp_read_file(&file, path, err);
    if (rc != 0 && rc != RP_ENOENT)
        goto done;
    rc = 0;
    st->replaying = 1;
    while (off < file.len) {
        const char *nl = memchr(file.data + off, '\n', file.len - off);
        size_t len =
            nl != NULL ? (size_t)(nl - (file.data + off)) : file.len - off;

        if (nl == NULL || replay_line(st, file.data + off, len) != 0) {
            if (nl == NULL || off + len + 1 == file.len) {
                fprintf(stderr,
                        "esdb-emu: %s: torn last line at offset %zu "
                        "(%zu bytes) dropped\n",
                        path, off, file.len - off);
                break;
            }
            rc = rp_error_set(err, RP_EFORMAT, "%s: offset %zu: not a log line",
                              path, off);
            goto done;
        }
        off += len + 1;
        good = off;
    }
    st->replaying = 0;
    st->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (st->log_fd < 0) {
        rc = rp_error_set(err, RP_EIO, "open %s: %s", path, strerror(errno));
        goto done;
    }
    if (good < file.len && ftruncate(st->log_fd, (off_t)good) != 0) {
        rc =
            rp_error_set(err, RP_EIO, "truncate %s: %s", path, strerror(errno));
        goto done;
    }
    st->log_path = rp_xstrdup(path);
    /* A restart forgets the -2 cache, like a real server. */
    emu_store_clear_cache(st);
done:
    st->replaying = 0;
    rp_buf_dispose(&file);
    return rc;
}
