/* Fuzz target: the store reader (V1 and V2 frames, torn and corrupt tails,
** a live file that grows, seeking to a saved position).
**
** Input: a flags byte (bit 0: RP_STORE_V1_NO_HASH; bit 1: two data files),
** two bytes (little-endian) where the last file is cut, with bit 1 two
** more where the bytes split into the two files, then the files' bytes.
**
** Promises checked: every record's key is UTF-8 and its frame lies in its
** file; a reader that first sees the last file cut, then whole (a write in
** progress), returns the same records as one that sees it whole; every
** position either reader saved is sought in the whole store, and reading
** goes on there with the record that follows it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzzutil.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define MAX_RECORDS 64 /* records compared; a store may hold more */
#define MAX_SEEKS 24   /* positions sought per input */

static const char *const names[2] = {"00000001-2013-03-15-093012.dat",
                                     "00000002-2013-03-15-093013.dat"};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rp_log_set_level(RP_LOG_ERROR);
    rp_fuzz_dir();
    return 0;
}

/* What is compared of a record. */
struct seen {
    uint64_t store_version, stream_version, offset, end;
    uint64_t key_hash, data_hash; /* FNV-1a of the bytes */
    size_t key_len, data_len;
    int file; /* index in names[] */
    struct rp_store_pos pos;
};

struct list {
    size_t n;
    int more; /* 1: records past MAX_RECORDS were not kept */
    struct seen r[MAX_RECORDS];
};

static uint64_t
fnv(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 14695981039346656037u;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211u;
    }
    return h;
}

/* Check 'rec' against its file and describe it into 's'. */
static void
note(struct seen *s, const struct rp_record *rec, struct rp_store *st,
     const size_t *sizes)
{
    int file = strcmp(rec->file, names[0]) == 0 ? 0 : 1;

    RP_FUZZ_CHECK(strcmp(rec->file, names[file]) == 0);
    RP_FUZZ_CHECK(rp_utf8_valid(rec->key, rec->key_len, NULL));
    RP_FUZZ_CHECK(rec->key[rec->key_len] == '\0');
    RP_FUZZ_CHECK(rec->offset < rec->end);
    RP_FUZZ_CHECK(rec->offset + 8 + rec->key_len + rec->data_len + 20 <=
                  rec->end);
    RP_FUZZ_CHECK(rec->offset + rec->key_len + rec->data_len <= sizes[file]);
    RP_FUZZ_CHECK(rec->stream_version >= 1 &&
                  rec->stream_version <= rec->store_version);
    s->store_version = rec->store_version;
    s->stream_version = rec->stream_version;
    s->offset = rec->offset;
    s->end = rec->end;
    s->key_hash = fnv(rec->key, rec->key_len);
    s->key_len = rec->key_len;
    s->data_hash = fnv(rec->data, rec->data_len);
    s->data_len = rec->data_len;
    s->file = file;
    rp_store_get_pos(st, &s->pos);
    RP_FUZZ_CHECK(s->pos.store_version == rec->store_version);
    RP_FUZZ_CHECK(s->pos.offset == rec->offset && s->pos.end == rec->end);
}

/* Read what 'st' has now into 'l' (appending).  'sizes' are the files'
** sizes now. */
static void
read_on(struct rp_store *st, struct list *l, const size_t *sizes)
{
    struct rp_record rec;
    struct rp_error err;
    int rc;

    while ((rc = rp_store_next(st, &rec, &err)) == 1) {
        struct seen s;

        note(&s, &rec, st, sizes);
        if (l->n == MAX_RECORDS) {
            l->more = 1;
            return;
        }
        RP_FUZZ_CHECK(s.store_version == l->n + 1);
        l->r[l->n++] = s;
    }
    RP_FUZZ_CHECK(rc == 0);
}

static int
same(const struct seen *a, const struct seen *b)
{
    return a->store_version == b->store_version &&
           a->stream_version == b->stream_version && a->offset == b->offset &&
           a->end == b->end && a->key_hash == b->key_hash &&
           a->key_len == b->key_len && a->data_hash == b->data_hash &&
           a->data_len == b->data_len && a->file == b->file;
}

/* Seek to 'pos' in the whole store and check that the next record is
** record pos->store_version + 1 of 'whole'. */
static void
seek_check(struct rp_store *st, const struct rp_store_pos *pos,
           const struct list *whole)
{
    struct rp_record rec;
    struct rp_error err;
    uint64_t sv = pos->store_version;
    int rc;

    RP_FUZZ_CHECK(rp_store_seek(st, pos, &err) == 0);
    rc = rp_store_next(st, &rec, &err);
    RP_FUZZ_CHECK(rc >= 0);
    if (sv < whole->n) {
        const struct seen *want = &whole->r[sv];

        RP_FUZZ_CHECK(rc == 1);
        RP_FUZZ_CHECK(rec.store_version == want->store_version);
        RP_FUZZ_CHECK(rec.offset == want->offset && rec.end == want->end);
        RP_FUZZ_CHECK(rec.key_len == want->key_len &&
                      fnv(rec.key, rec.key_len) == want->key_hash);
        RP_FUZZ_CHECK(rec.data_len == want->data_len &&
                      fnv(rec.data, rec.data_len) == want->data_hash);
    } else if (!whole->more) {
        RP_FUZZ_CHECK(rc == 0);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_fuzz_in in = {data, size};
    static struct list whole, live;
    struct rp_store *st = NULL;
    const uint8_t *file[2];
    size_t len[2], cut, sizes[2] = {0, 0}, nfiles, last, seeks = 0;
    unsigned flags = rp_fuzz_byte(&in);
    int options = flags & 1 ? RP_STORE_V1_NO_HASH : 0;

    cut = rp_fuzz_byte(&in);
    cut |= (size_t)rp_fuzz_byte(&in) << 8;
    nfiles = flags & 2 ? 2 : 1;
    file[0] = in.p;
    len[0] = in.n;
    if (nfiles == 2) {
        size_t split = rp_fuzz_byte(&in);

        split |= (size_t)rp_fuzz_byte(&in) << 8;
        split %= in.n + 1;
        file[0] = in.p;
        len[0] = split;
        file[1] = in.p + split;
        len[1] = in.n - split;
    }
    last = nfiles - 1;
    cut %= len[last] + 1;

    /* The whole store. */
    rp_fuzz_clear();
    for (size_t i = 0; i < nfiles; i++) {
        rp_fuzz_write(names[i], file[i], len[i], "wb", NULL);
        sizes[i] = len[i];
    }
    memset(&whole, 0, sizeof(whole));
    RP_FUZZ_CHECK(rp_store_open(&st, rp_fuzz_dir(), NULL) == 0);
    rp_store_set_options(st, options);
    read_on(st, &whole, sizes);
    rp_store_close(st);

    /* The last file cut, read, then completed and read on. */
    rp_fuzz_write(names[last], file[last], cut, "wb", NULL);
    sizes[last] = cut;
    memset(&live, 0, sizeof(live));
    RP_FUZZ_CHECK(rp_store_open(&st, rp_fuzz_dir(), NULL) == 0);
    rp_store_set_options(st, options);
    read_on(st, &live, sizes);
    rp_fuzz_write(names[last], file[last] + cut, len[last] - cut, "ab", NULL);
    sizes[last] = len[last];
    if (!live.more)
        read_on(st, &live, sizes);
    if (!live.more && !whole.more) {
        RP_FUZZ_CHECK(live.n == whole.n);
    }
    for (size_t i = 0; i < live.n && i < whole.n; i++)
        RP_FUZZ_CHECK(same(&live.r[i], &whole.r[i]));

    /* Positions saved by either reader, sought in the whole store (the
    ** live reader's are the same records, saved while the frame may have
    ** been incomplete). */
    for (size_t i = 0; i < live.n && seeks < MAX_SEEKS; i++, seeks++)
        seek_check(st, &live.r[i].pos, &whole);
    for (size_t i = whole.n; i-- > 0 && seeks < MAX_SEEKS; seeks++)
        seek_check(st, &whole.r[i].pos, &whole);
    rp_store_close(st);
    return 0;
}
