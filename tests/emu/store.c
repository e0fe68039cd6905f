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

/* Copy 'n' bytes into the arena; the copy lives as long as the store. */
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

/* FNV-1a of a stream name. */
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

/* A mix of the 16 id bytes, for the -2 cache table. */
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

/* Insert into the stream table (the caller made room). */
static void
table_put(struct emu_stream **table, size_t cap, struct emu_stream *s)
{
    size_t mask = cap - 1;
    size_t i = hash_name(s->name, s->name_len) & mask;

    while (table[i] != NULL)
        i = (i + 1) & mask;
    table[i] = s;
}

/* The stream named so, created (empty, live) when unknown. */
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

/* Double the -2 cache table of 's' and re-insert its entries. */
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

/* Record event 'num' of 's' in its -2 cache table. */
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

/* Log records: u32 payload length, the payload, u32 FNV-1a of the payload
** (host byte order: the log is read back on the machine that wrote it).
** Payload: u8 op, u32 stream name length, the name, then for LOG_APPEND
** u32 count and per event: id[16], u32 flags, i64 created_us, and u32
** length + bytes of type, data and metadata; for LOG_DELETE u8 hard. */
#define LOG_MAGIC "ESDBEMU1"
#define LOG_APPEND 1
#define LOG_DELETE 2

/* FNV-1a, 32 bits: the log records' checksum. */
static uint32_t
fnv32(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

/* Append a u32 in host byte order. */
static void
put_u32(struct rp_buf *b, uint32_t v)
{
    rp_buf_add(b, &v, 4);
}

/* Append a u32 length and the bytes. */
static void
put_bytes(struct rp_buf *b, const char *p, size_t n)
{
    put_u32(b, (uint32_t)n);
    rp_buf_add(b, p, n);
}

/* Start a record in st->line (its length is filled in by log_end). */
static void
log_begin(struct emu_store *st, int op, const char *name, size_t len)
{
    char o = (char)op;

    rp_buf_reset(&st->line);
    put_u32(&st->line, 0);
    rp_buf_add(&st->line, &o, 1);
    put_bytes(&st->line, name, len);
}

static void
log_end(struct emu_store *st)
{
    uint32_t n = (uint32_t)(st->line.len - 4);

    memcpy(st->line.data, &n, 4);
    put_u32(&st->line, fnv32(st->line.data + 4, n));
    log_write(st);
}

/* Log events from number 'from' to the end of 's'. */
static void
log_append(struct emu_store *st, struct emu_stream *s, size_t from)
{
    struct rp_buf *b = &st->line;
    size_t i;

    log_begin(st, LOG_APPEND, s->name, s->name_len);
    put_u32(b, (uint32_t)(s->count - from));
    for (i = from; i < s->count; i++) {
        const struct emu_event *e = &s->ev[i];

        rp_buf_add(b, e->id, 16);
        put_u32(b, e->flags);
        rp_buf_add(b, &e->created_us, 8);
        put_bytes(b, e->type, e->type_len);
        put_bytes(b, e->data, e->data_len);
        put_bytes(b, e->meta, e->meta_len);
    }
    log_end(st);
}

/* Append 'n' events to 's' with their commit times (now when 'created'
** is NULL); a soft-deleted stream comes back, truncated before them.
** Returns the first new number. */
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
        char h = (char)(hard != 0);

        log_begin(st, LOG_DELETE, name, len);
        rp_buf_add(&st->line, &h, 1);
        log_end(st);
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

/* A cursor over one record's payload. */
struct cur {
    const char *p;
    size_t left;
};

/* Take 'n' bytes from the cursor.  Returns 0 or -1 when short. */
static int
get(struct cur *c, void *out, size_t n)
{
    if (c->left < n)
        return -1;
    memcpy(out, c->p, n);
    c->p += n;
    c->left -= n;
    return 0;
}

/* Take a u32 length and that many bytes (borrowed). */
static int
get_bytes(struct cur *c, const char **out, size_t *n)
{
    uint32_t len;

    if (get(c, &len, 4) != 0 || c->left < len)
        return -1;
    *out = c->p;
    *n = len;
    c->p += len;
    c->left -= len;
    return 0;
}

/* Apply one record's payload.  Returns 0 or -1 when it is malformed. */
static int
replay_record(struct emu_store *st, const char *payload, size_t len)
{
    struct cur c = {payload, len};
    struct emu_new_event *ne = NULL;
    int64_t *created = NULL;
    const char *name;
    size_t name_len, i;
    uint32_t n;
    char op;
    int rc = -1;

    if (get(&c, &op, 1) != 0 || get_bytes(&c, &name, &name_len) != 0)
        return -1;
    if (op == LOG_DELETE) {
        char hard;

        if (get(&c, &hard, 1) != 0 || c.left != 0)
            return -1;
        emu_store_delete(st, name, name_len, hard != 0);
        return 0;
    }
    if (op != LOG_APPEND || get(&c, &n, 4) != 0 || n == 0 || n > c.left / 40)
        return -1;
    ne = rp_xcalloc(n, sizeof(*ne));
    created = rp_xcalloc(n, sizeof(*created));
    for (i = 0; i < n; i++) {
        if (get(&c, ne[i].id, 16) != 0 || get(&c, &ne[i].flags, 4) != 0 ||
            get(&c, &created[i], 8) != 0 ||
            get_bytes(&c, &ne[i].type, &ne[i].type_len) != 0 ||
            get_bytes(&c, &ne[i].data, &ne[i].data_len) != 0 ||
            get_bytes(&c, &ne[i].meta, &ne[i].meta_len) != 0)
            goto done;
    }
    if (c.left != 0)
        goto done;
    append_at(st, get_stream(st, name, name_len), ne, n, created);
    rc = 0;
done:
    free(ne);
    free(created);
    return rc;
}

int
emu_store_open_log(struct emu_store *st, const char *path, struct rp_error *err)
{
    struct rp_buf file;
    size_t off, good;
    int rc;

    rp_buf_init(&file, 0);
    rc = rp_read_file(&file, path, err);
    if (rc != 0 && rc != RP_ENOENT)
        goto done;
    rc = 0;
    if (file.len > 0 && file.len < 8 &&
        memcmp(file.data, LOG_MAGIC, file.len) == 0) {
        fprintf(stderr, "esdb-emu: %s: torn header dropped\n", path);
        file.len = 0; /* a crash while the file was being created */
    }
    if (file.len > 0 && (file.len < 8 || memcmp(file.data, LOG_MAGIC, 8))) {
        rc = rp_error_set(err, RP_EFORMAT,
                          "%s: not an esdb-emu log (no %s at offset 0)", path,
                          LOG_MAGIC);
        goto done;
    }
    off = good = file.len > 0 ? 8 : 0;
    st->replaying = 1;
    while (off < file.len) {
        size_t left = file.len - off;
        uint32_t len, sum;

        if (emu_loop_stopping()) {
            /* Stop without truncating: what is left was not read. */
            rc = rp_error_set(err, RP_ESTOP, "%s: replay stopped by a signal",
                              path);
            goto done;
        }
        if (left >= 4)
            memcpy(&len, file.data + off, 4);
        if (left < 8 || len > left - 8) {
            fprintf(stderr,
                    "esdb-emu: %s: torn last record at offset %zu (%zu "
                    "bytes) dropped\n",
                    path, off, left);
            break;
        }
        memcpy(&sum, file.data + off + 4 + len, 4);
        if (sum != fnv32(file.data + off + 4, len) ||
            replay_record(st, file.data + off + 4, len) != 0) {
            if (off + 8 + len == file.len) {
                fprintf(stderr,
                        "esdb-emu: %s: torn last record at offset %zu "
                        "(%zu bytes) dropped\n",
                        path, off, left);
                break;
            }
            rc = rp_error_set(err, RP_EFORMAT,
                              "%s: offset %zu: corrupt log record", path, off);
            goto done;
        }
        off += 8 + len;
        good = off;
    }
    st->replaying = 0;
    st->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (st->log_fd < 0) {
        rc = rp_error_set(err, RP_EIO, "open %s: %s", path, strerror(errno));
        goto done;
    }
    if (ftruncate(st->log_fd, (off_t)good) != 0) {
        rc =
            rp_error_set(err, RP_EIO, "truncate %s: %s", path, strerror(errno));
        goto done;
    }
    st->log_path = rp_xstrdup(path);
    if (good == 0) {
        rp_buf_reset(&st->line);
        rp_buf_add(&st->line, LOG_MAGIC, 8);
        log_write(st);
    }
    /* A restart forgets the -2 cache, like a real server. */
    emu_store_clear_cache(st);
done:
    st->replaying = 0;
    rp_buf_dispose(&file);
    return rc;
}
