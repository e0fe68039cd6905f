/* The Lokad.CQRS store reader: lists the data files, parses frames out of a
** bounded read buffer, numbers the accepted ones as .NET LATEST does, and
** follows a live store as it grows (spec sections 3.4, 4, 5, 7.1 and 12). */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sha1.h"

#define CHUNK ((size_t)1 << 20) /* read-ahead (a larger frame: all of it) */
#define NAME_MAX_LEN 255        /* longest data file name kept */
#define STAMP_WARN_MAX 10       /* stamp differences reported one by one */

enum { FMT_UNKNOWN, FMT_V1, FMT_V2 };

/* What parsing a frame found (spec 4.1). */
enum frame_kind {
    FR_OK,         /* an accepted frame */
    FR_INCOMPLETE, /* the file ends inside the frame: torn or being written */
    FR_BAD,        /* the frame fails a check: the rest of the file is lost */
    FR_ZERO,       /* zero bytes: the file's data ends here (step 5) */
    FR_EMPTY       /* stamp 0, empty key and data, good hash (step 7) */
};

/* A parsed frame; the pointers are into the read buffer. */
struct frame {
    enum frame_kind kind;
    const char *why; /* FR_BAD: what is wrong */
    int64_t stamp;
    const unsigned char *key;
    size_t key_len;
    const unsigned char *data;
    size_t data_len;
    const unsigned char *hash;
    size_t hash_len; /* 20, or fewer for a torn V1 hash (RP_STORE_V1_NO_HASH) */
    uint64_t end;    /* file offset just after the frame */
};

/* The frame's stored hash, zero-filled when torn. */
static void
frame_hash(const struct frame *f, unsigned char out[RP_SHA1_LEN])
{
    memset(out, 0, RP_SHA1_LEN);
    memcpy(out, f->hash, f->hash_len);
}

/* One key of the per-key count map. */
struct count_entry {
    char *key;     /* owned copy, NULL for a free slot */
    size_t len;    /* bytes in 'key' */
    uint64_t hash; /* FNV-1a of the key */
    uint64_t count;
};

struct rp_store {
    char *dir;     /* the folder, as given */
    char **names;  /* data file names of the last listing, sorted */
    size_t nnames; /* entries in 'names' */
    char cur[NAME_MAX_LEN + 1]; /* current file ("" before the first) */
    int cur_done;               /* 1 when 'cur' was read to its end for good */
    int fd;                     /* the open current file, or -1 */
    uint64_t size;              /* its size at the last look */
    uint64_t off;               /* offset of its next frame */
    int fmt;                    /* FMT_* of the current file */
    int options;                /* RP_STORE_* bits */
    unsigned char *buf;         /* read buffer */
    size_t cap;                 /* bytes allocated in 'buf' */
    uint64_t bstart;            /* file offset of buf[0] */
    size_t blen;                /* valid bytes in 'buf' */
    char *key;                  /* NUL-terminated copy of the last key */
    size_t key_cap;             /* bytes allocated in 'key' */
    struct count_entry *tab;    /* open addressing, linear probing */
    size_t tab_cap;             /* slots, a power of two (0: no table yet) */
    size_t tab_used;            /* keys in the table */
    uint64_t store_version;     /* accepted frames so far */
    struct rp_store_pos pos;    /* after the last record */
    int pending;                /* last next() waited on an incomplete frame */
    uint64_t warnings;          /* warnings reported */
    uint64_t stamp_diffs;       /* stamps that differed from the count */
    int digits_warned;          /* mixed digit counts reported */
};

/* Little-endian integers, as BinaryWriter writes them. */
static uint64_t
le64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t
le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void warn(struct rp_store *st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Report a warning about the store, counting it. */
static void
warn(struct rp_store *st, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    st->warnings++;
    rp_log(RP_LOG_WARN, "store %s: %s", st->dir, msg);
}

/* ---- the per-key count map (keys hashed with rp_fnv1a) ---- */

/* The slot of 'key', or the free slot where it would go. */
static struct count_entry *
find_slot(const struct rp_store *st, const char *key, size_t n, uint64_t h)
{
    size_t mask = st->tab_cap - 1;

    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct count_entry *e = &st->tab[i];

        if (e->key == NULL ||
            (e->hash == h && e->len == n && memcmp(e->key, key, n) == 0))
            return e;
    }
}

/* Double the count map (1024 slots at first) and rehash. */
static void
grow_table(struct rp_store *st)
{
    struct count_entry *old = st->tab;
    size_t old_cap = st->tab_cap;

    st->tab_cap = old_cap ? 2 * old_cap : 1024;
    st->tab = rp_xcalloc(st->tab_cap, sizeof(*st->tab));
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key != NULL)
            *find_slot(st, old[i].key, old[i].len, old[i].hash) = old[i];
    free(old);
}

/* The entry of 'key', created with count 0 when missing. */
static struct count_entry *
count_entry(struct rp_store *st, const char *key, size_t n)
{
    uint64_t h = rp_fnv1a(key, n);
    struct count_entry *e;

    if (2 * (st->tab_used + 1) > st->tab_cap)
        grow_table(st);
    e = find_slot(st, key, n, h);
    if (e->key == NULL) {
        e->key = rp_xmalloc(n + 1);
        memcpy(e->key, key, n);
        e->key[n] = '\0';
        e->len = n;
        e->hash = h;
        e->count = 0;
        st->tab_used++;
    }
    return e;
}

/* Empty the count map. */
static void
clear_counts(struct rp_store *st)
{
    for (size_t i = 0; i < st->tab_cap; i++)
        free(st->tab[i].key);
    free(st->tab);
    st->tab = NULL;
    st->tab_cap = 0;
    st->tab_used = 0;
}

void
rp_store_set_stream_version(struct rp_store *st, const char *key,
                            size_t key_len, uint64_t count)
{
    count_entry(st, key, key_len)->count = count;
}

uint64_t
rp_store_stream_version(const struct rp_store *st, const char *key,
                        size_t key_len)
{
    const struct count_entry *e;

    if (st->tab_cap == 0)
        return 0;
    e = find_slot(st, key, key_len, rp_fnv1a(key, key_len));
    return e->key ? e->count : 0;
}

int
rp_store_foreach_count(const struct rp_store *st, rp_store_count_fn fn,
                       void *ctx)
{
    for (size_t i = 0; i < st->tab_cap; i++) {
        const struct count_entry *e = &st->tab[i];
        int rc;

        if (e->key != NULL && (rc = fn(ctx, e->key, e->len, e->count)) != 0)
            return rc;
    }
    return 0;
}

size_t
rp_store_key_count(const struct rp_store *st)
{
    return st->tab_used;
}

/* ---- the file list ---- */

/* Byte-wise order of names (strcmp compares as unsigned char). */
static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 when the name ends in ".dat", compared without case (spec 3.4). */
static int
is_data_name(const char *name)
{
    size_t n = strlen(name);

    return n >= 4 && strcasecmp(name + n - 4, ".dat") == 0;
}

/* Free a name list.  Accepts NULL. */
static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* 1 when the sorted list holds 'name'. */
static int
has_name(char **names, size_t n, const char *name)
{
    return n > 0 && bsearch(&name, names, n, sizeof(*names), cmp_names) != NULL;
}

/* The number of digits a file name starts with. */
static size_t
leading_digits(const char *s)
{
    size_t n = 0;

    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

/* List the data files of the folder (top level, regular files, names ending
** in .dat in any case), sorted byte-wise.  Reports names added before the
** current file and mixed digit counts; fails when the current file, not yet
** finished, has vanished. */
static int
list_files(struct rp_store *st, struct rp_error *err)
{
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;

    if ((d = opendir(st->dir)) == NULL)
        return rp_error_set(err, errno == ENOENT ? RP_ENOENT : RP_EIO,
                            "store folder %s: %s", st->dir, strerror(errno));
    while ((errno = 0, de = readdir(d)) != NULL) {
        struct stat sb;

        if (!is_data_name(de->d_name))
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, 0) < 0 || !S_ISREG(sb.st_mode))
            continue;
        if (strlen(de->d_name) > NAME_MAX_LEN)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = rp_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = rp_xstrdup(de->d_name);
    }
    if (errno != 0) {
        int e = errno;

        closedir(d);
        free_names(names, n);
        return rp_error_set(err, RP_EIO, "store folder %s: %s", st->dir,
                            strerror(e));
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    if (st->cur[0] != '\0' && !st->cur_done && !has_name(names, n, st->cur)) {
        free_names(names, n);
        return rp_error_set(err, RP_ENOENT,
                            "store %s: file %s vanished while being read",
                            st->dir, st->cur);
    }
    for (size_t i = 0; i < n && st->cur[0] != '\0'; i++)
        if (strcmp(names[i], st->cur) < 0 &&
            !has_name(st->names, st->nnames, names[i]))
            warn(st,
                 "new file %s sorts before %s, which was already read: "
                 "it is ignored",
                 names[i], st->cur);
    if (!st->digits_warned && n > 1)
        for (size_t i = 1; i < n; i++)
            if (leading_digits(names[i]) != leading_digits(names[0])) {
                warn(st,
                     "file names have different digit counts (%s, %s): "
                     "files are read in byte-wise name order, which .NET "
                     "may not follow",
                     names[0], names[i]);
                st->digits_warned = 1;
                break;
            }
    free_names(st->names, st->nnames);
    st->names = names;
    st->nnames = n;
    return 0;
}

size_t
rp_store_file_count(const struct rp_store *st)
{
    return st->nnames;
}

/* ---- reading ---- */

/* Close the current file and forget the buffered bytes. */
static void
close_file(struct rp_store *st)
{
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
    st->blen = 0;
    st->bstart = 0;
}

/* Make file bytes [off, off + n) available at *p.  The caller ensures that
** off + n <= st->size.  Reads as much as fits, to keep system calls few. */
static int
ensure(struct rp_store *st, uint64_t off, size_t n, const unsigned char **p,
       struct rp_error *err)
{
    size_t want, grow;

    if (off >= st->bstart && off + n <= st->bstart + st->blen) {
        *p = st->buf + (off - st->bstart);
        return 0;
    }
    if (off >= st->bstart && off < st->bstart + st->blen) {
        size_t keep = (size_t)(st->bstart + st->blen - off);

        memmove(st->buf, st->buf + (off - st->bstart), keep);
        st->blen = keep;
    } else {
        st->blen = 0;
    }
    st->bstart = off;
    /* The buffer grows to what the file holds past 'off', up to CHUNK (at
    ** least doubling), and to 'n': a reader of small files stays small. */
    grow = st->size - off < CHUNK ? (size_t)(st->size - off) : CHUNK;
    if (grow > st->cap && grow < 2 * st->cap)
        grow = 2 * st->cap < CHUNK ? 2 * st->cap : CHUNK;
    if (grow < n)
        grow = n;
    if (grow > st->cap) {
        st->cap = grow;
        st->buf = rp_xrealloc(st->buf, st->cap);
    }
    want = st->cap - st->blen;
    if (want > st->size - (off + st->blen))
        want = (size_t)(st->size - (off + st->blen));
    while (st->blen < n) {
        ssize_t r =
            pread(st->fd, st->buf + st->blen, want, (off_t)(off + st->blen));

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return rp_error_set(err, RP_EIO,
                                "store %s: read %s at %" PRIu64 ": %s", st->dir,
                                st->cur, off + st->blen, strerror(errno));
        if (r == 0)
            return rp_error_set(err, RP_EIO,
                                "store %s: file %s shrank under the reader "
                                "(it held %" PRIu64
                                " bytes, now ends at %" PRIu64 ")",
                                st->dir, st->cur, st->size, off + st->blen);
        st->blen += (size_t)r;
        want -= (size_t)r;
    }
    *p = st->buf + (off - st->bstart);
    return 0;
}

/* Decode a frame varint at p (n bytes available) as .NET would, and refuse
** what .NET's re-encoding would not reproduce (spec 4.2 R2).  Returns the
** bytes used (1-5), 0 when the bytes end first, or -1 with *why. */
static int
frame_varint(const unsigned char *p, size_t n, uint32_t *out, const char **why)
{
    uint32_t v = 0;

    for (size_t i = 0; i < 5; i++) {
        if (i >= n)
            return 0;
        if (i == 4 && p[i] > 0x07) {
            *why = p[i] & 0x80 ? "varint longer than 5 bytes"
                               : "varint above 2^31-1";
            return -1;
        }
        v |= (uint32_t)(p[i] & 0x7F) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (i > 0 && p[i] == 0) {
                *why = "non-minimal varint (the hash .NET recomputes "
                       "differs)";
                return -1;
            }
            *out = v;
            return (int)i + 1;
        }
    }
    return -1; /* not reached */
}

/* 1 when all 'n' bytes are zero. */
static int
all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* Parse the frame at 'off' of the current file in format 'fmt' (V1 or V2)
** into *f.  Returns 0 (f->kind says what was found) or <0 on I/O error. */
static int
parse_frame(struct rp_store *st, uint64_t off, int fmt, struct frame *f,
            struct rp_error *err)
{
    uint64_t left = st->size - off;
    const unsigned char *p;
    size_t head, at, total, hlen;
    uint32_t klen, dlen;
    int v, rc, zero;

    memset(f, 0, sizeof(*f));
    f->kind = FR_INCOMPLETE;
    if (left < 8)
        return 0;
    head = left < 13 ? (size_t)left : 13;
    if ((rc = ensure(st, off, head, &p, err)) < 0)
        return rc;
    f->stamp = (int64_t)le64(p);
    if ((v = frame_varint(p + 8, head - 8, &klen, &f->why)) <= 0) {
        f->kind = v < 0 ? FR_BAD : FR_INCOMPLETE;
        return 0;
    }
    at = 8 + (size_t)v;
    if (klen > left - at) /* R4: no allocation from an unchecked length */
        return 0;
    at += klen;
    head = left - at < 5 ? (size_t)(left - at) : 5;
    if ((rc = ensure(st, off, at + head, &p, err)) < 0)
        return rc;
    if (fmt == FMT_V2) {
        if ((v = frame_varint(p + at, head, &dlen, &f->why)) <= 0) {
            f->kind = v < 0 ? FR_BAD : FR_INCOMPLETE;
            return 0;
        }
    } else {
        if (head < 4)
            return 0;
        dlen = le32(p + at);
        if (dlen > 0x7FFFFFFFu) {
            f->kind = FR_BAD;
            f->why = "negative data length";
            return 0;
        }
        v = 4;
    }
    at += (size_t)v;
    zero = f->stamp == 0 && klen == 0 && dlen == 0;
    if (dlen > left - at)
        return 0;
    total = at + dlen + 20;
    if (total > left) {
        /* Step 5 with a short hash: the bytes there are all zero. */
        hlen = (size_t)(left - (at + dlen));
        if ((rc = ensure(st, off, (size_t)left, &p, err)) < 0)
            return rc;
        if (zero && all_zero(p + at, hlen))
            f->kind = FR_ZERO;
        else if (fmt == FMT_V1 && (st->options & RP_STORE_V1_NO_HASH) &&
                 hlen > 0 && !all_zero(p + at + dlen, hlen)) {
            /* The .NET V1 file reader accepts a torn hash (spec 7.1 b);
            ** the key and the empty-frame rule are as for a whole frame. */
            if (!rp_utf8_valid(p + at - v - klen, klen, NULL)) {
                f->kind = FR_BAD;
                f->why = "key is not valid UTF-8";
                return 0;
            }
            if (zero) {
                f->kind = FR_EMPTY;
                return 0;
            }
            f->kind = FR_OK;
            f->key = p + at - v - klen;
            f->key_len = klen;
            f->data = p + at;
            f->data_len = dlen;
            f->hash = p + at + dlen;
            f->hash_len = hlen;
            /* The frame's true end, past the file's end for now: reading
            ** goes on from there if the rest of the hash arrives. */
            f->end = off + total;
        }
        return 0;
    }
    if ((rc = ensure(st, off, total, &p, err)) < 0)
        return rc;
    f->key = p + at - v - klen;
    f->key_len = klen;
    f->data = p + at;
    f->data_len = dlen;
    f->hash = p + at + dlen;
    f->hash_len = RP_SHA1_LEN;
    f->end = off + total;
    if (zero && all_zero(f->hash, 20)) {
        f->kind = FR_ZERO;
        return 0;
    }
    f->kind = FR_BAD;
    if (!rp_utf8_valid(f->key, klen, NULL)) {
        f->why = "key is not valid UTF-8 (the hash .NET recomputes differs)";
        return 0;
    }
    if (fmt == FMT_V1 && (st->options & RP_STORE_V1_NO_HASH)) {
        if (all_zero(f->hash, 20)) {
            f->why = "zero hash";
            return 0;
        }
    } else {
        unsigned char h[RP_SHA1_LEN];

        rp_sha1(p, total - 20, h);
        if (memcmp(h, f->hash, RP_SHA1_LEN) != 0) {
            f->why = "hash mismatch";
            return 0;
        }
    }
    f->kind = zero ? FR_EMPTY : FR_OK;
    return 0;
}

/* Parse the frame at 'off', settling the file's format on its first frame
** (spec 7.1: V2 first, then V1). */
static int
parse_detect(struct rp_store *st, uint64_t off, struct frame *f,
             struct rp_error *err)
{
    struct frame f1;
    int rc;

    if (st->fmt != FMT_UNKNOWN)
        return parse_frame(st, off, st->fmt, f, err);
    if ((rc = parse_frame(st, off, FMT_V2, f, err)) < 0)
        return rc;
    if (f->kind == FR_OK) {
        st->fmt = FMT_V2;
        return 0;
    }
    if ((rc = parse_frame(st, off, FMT_V1, &f1, err)) < 0)
        return rc;
    if (f1.kind == FR_OK) {
        st->fmt = FMT_V1;
        *f = f1;
        return 0;
    }
    if (f1.kind == FR_INCOMPLETE && f->kind == FR_BAD) {
        /* Not V2, maybe a V1 frame still being written: wait, as for any
        ** torn frame, but keep the V2 verdict for the report. */
        f->why = f->why ? f->why : "not a V2 frame";
        f->kind = FR_INCOMPLETE;
        return 0;
    }
    /* Re-parse as V2 so that f's pointers are valid again. */
    if (f->kind != FR_INCOMPLETE)
        return parse_frame(st, off, FMT_V2, f, err);
    return 0;
}

/* Report how the current file ended early, then leave it for good. */
static void
finish_file(struct rp_store *st, const struct frame *f)
{
    uint64_t rest = st->off < st->size ? st->size - st->off : 0;

    if (f != NULL && f->kind == FR_INCOMPLETE && rest < 30) {
        const unsigned char *p;
        struct rp_error e;

        /* A short zero tail is padding too (fewer than 30 zero bytes never
        ** make a whole frame). */
        if (ensure(st, st->off, (size_t)rest, &p, &e) == 0 &&
            all_zero(p, (size_t)rest)) {
            rp_log(RP_LOG_DEBUG,
                   "store %s: file %s: zero padding from offset %" PRIu64
                   " to the end",
                   st->dir, st->cur, st->off);
            f = NULL;
        }
    }
    if (f == NULL) {
        /* a clean end */
    } else if (f->kind == FR_INCOMPLETE && f->why != NULL) {
        warn(st,
             "file %s offset %" PRIu64 ": %s as a V2 frame, and torn as a "
             "V1 frame: the rest of the file (%" PRIu64 " bytes) is ignored, "
             "as .NET does",
             st->cur, st->off, f->why, rest);
    } else if (f->kind == FR_INCOMPLETE) {
        warn(st,
             "file %s offset %" PRIu64 ": torn frame (the file ends inside "
             "it): the rest of the file (%" PRIu64 " bytes) is ignored, as "
             ".NET does",
             st->cur, st->off, rest);
    } else if (f->kind == FR_BAD) {
        warn(st,
             "file %s offset %" PRIu64 ": %s: the rest of the file (%" PRIu64
             " bytes) is ignored, as .NET does",
             st->cur, st->off, f->why, rest);
    } else if (f->kind == FR_EMPTY) {
        warn(st,
             "file %s offset %" PRIu64 ": empty frame (stamp 0, empty key "
             "and data): it ends the file, as in .NET; %" PRIu64
             " bytes ignored",
             st->cur, st->off, rest);
    } else if (f->kind == FR_ZERO) {
        uint64_t at = st->off;
        const unsigned char *p;
        struct rp_error e;

        /* Zero padding is normal (blobs, zeroed tails); data after it is
        ** not, and .NET loses it. */
        while (at < st->size) {
            size_t n = st->size - at < CHUNK ? (size_t)(st->size - at) : CHUNK;

            if (ensure(st, at, n, &p, &e) < 0)
                break;
            if (!all_zero(p, n)) {
                while (*p == 0)
                    p++, at++;
                warn(st,
                     "file %s offset %" PRIu64 ": zero bytes end the "
                     "file's data, but non-zero bytes follow at offset "
                     "%" PRIu64 ": ignored, as .NET does",
                     st->cur, st->off, at);
                break;
            }
            at += n;
        }
        if (at >= st->size)
            rp_log(RP_LOG_DEBUG,
                   "store %s: file %s: zero padding from offset %" PRIu64
                   " to the end",
                   st->dir, st->cur, st->off);
    }
    close_file(st);
    st->cur_done = 1;
}

/* Open the file that follows the current one (or the current one itself
** after a seek).  Returns 1, 0 when there is none, or <0. */
static int
open_next(struct rp_store *st, int *listed, struct rp_error *err)
{
    for (;;) {
        char path[4096 + NAME_MAX_LEN + 2];
        size_t i;
        struct stat sb;
        int rc;

        for (i = 0; i < st->nnames; i++) {
            int c = strcmp(st->names[i], st->cur);

            if (st->cur_done ? c > 0 : c == 0)
                break;
        }
        if (i == st->nnames) {
            if (*listed)
                return 0;
            *listed = 1;
            if ((rc = list_files(st, err)) < 0)
                return rc;
            continue;
        }
        if (st->cur_done) {
            snprintf(st->cur, sizeof(st->cur), "%s", st->names[i]);
            st->cur_done = 0;
            st->off = 0;
            st->fmt = FMT_UNKNOWN;
        }
        snprintf(path, sizeof(path), "%s/%s", st->dir, st->cur);
        st->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (st->fd < 0)
            return rp_error_set(err, errno == ENOENT ? RP_ENOENT : RP_EIO,
                                "store %s: open %s: %s", st->dir, st->cur,
                                strerror(errno));
        if (fstat(st->fd, &sb) < 0)
            return rp_error_set(err, RP_EIO, "store %s: stat %s: %s", st->dir,
                                st->cur, strerror(errno));
        st->size = (uint64_t)sb.st_size;
        st->blen = 0;
        st->bstart = 0;
        if (st->size < st->off)
            return rp_error_set(err, RP_EIO,
                                "store %s: file %s shrank under the reader "
                                "(%" PRIu64 " bytes, position %" PRIu64 ")",
                                st->dir, st->cur, st->size, st->off);
        return 1;
    }
}

/* 1 when the current file is the last of the listing. */
static int
is_newest(const struct rp_store *st)
{
    return st->nnames == 0 || strcmp(st->names[st->nnames - 1], st->cur) <= 0;
}

int
rp_store_next(struct rp_store *st, struct rp_record *rec, struct rp_error *err)
{
    int listed = 0, rc;
    struct frame f;

    st->pending = 0;
    for (;;) {
        struct stat sb;
        int incomplete = 0;

        if (st->fd < 0 && (rc = open_next(st, &listed, err)) <= 0)
            return rc;
        if (st->off < st->size) {
            if ((rc = parse_detect(st, st->off, &f, err)) < 0)
                return rc;
            if (f.kind == FR_OK)
                break;
            if (f.kind != FR_INCOMPLETE) {
                finish_file(st, &f);
                continue;
            }
            incomplete = 1;
        }
        /* At the end of what the file held at the last look: it may have
        ** grown, and a newer file means it is final (spec 5.3). */
        if (is_newest(st) && !listed) {
            listed = 1;
            if ((rc = list_files(st, err)) < 0)
                return rc;
        }
        if (fstat(st->fd, &sb) < 0)
            return rp_error_set(err, RP_EIO, "store %s: stat %s: %s", st->dir,
                                st->cur, strerror(errno));
        if ((uint64_t)sb.st_size < st->size)
            return rp_error_set(err, RP_EIO,
                                "store %s: file %s shrank under the reader "
                                "(from %" PRIu64 " to %" PRIu64 " bytes)",
                                st->dir, st->cur, st->size,
                                (uint64_t)sb.st_size);
        if ((uint64_t)sb.st_size > st->size) {
            st->size = (uint64_t)sb.st_size;
            continue;
        }
        if (!is_newest(st)) {
            finish_file(st, incomplete ? &f : NULL);
            continue;
        }
        st->pending = incomplete;
        return 0;
    }

    {
        struct count_entry *e;
        uint64_t cnt;

        if (f.key_len + 1 > st->key_cap) {
            st->key_cap = f.key_len + 1 > 256 ? f.key_len + 1 : 256;
            free(st->key);
            st->key = rp_xmalloc(st->key_cap);
        }
        memcpy(st->key, f.key, f.key_len);
        st->key[f.key_len] = '\0';
        e = count_entry(st, st->key, f.key_len);
        cnt = ++e->count;
        st->store_version++;
        if (f.stamp < 0 || (uint64_t)f.stamp != cnt) {
            if (++st->stamp_diffs <= STAMP_WARN_MAX)
                warn(st,
                     "file %s offset %" PRIu64 ": stamp %" PRId64
                     " differs from the stream version %" PRIu64
                     " of key '%s' (store version %" PRIu64
                     "): the count is used, as .NET does%s",
                     st->cur, st->off, f.stamp, cnt, st->key, st->store_version,
                     st->stamp_diffs == STAMP_WARN_MAX
                         ? "; further differences are not reported"
                         : "");
        }
        rec->store_version = st->store_version;
        rec->stream_version = cnt;
        rec->stamp = f.stamp;
        rec->key = st->key;
        rec->key_len = f.key_len;
        rec->data = f.data;
        rec->data_len = f.data_len;
        rec->file = st->cur;
        rec->offset = st->off;
        rec->end = f.end;
        frame_hash(&f, rec->sha1);
        st->pos.store_version = st->store_version;
        memcpy(st->pos.file, st->cur, sizeof(st->pos.file));
        st->pos.offset = st->off;
        st->pos.end = f.end;
        memcpy(st->pos.sha1, rec->sha1, RP_SHA1_LEN);
        st->off = f.end;
    }
    return 1;
}

int
rp_store_open(struct rp_store **out, const char *dir, struct rp_error *err)
{
    struct rp_store *st = rp_xcalloc(1, sizeof(*st));
    struct stat sb;
    int rc;

    *out = NULL;
    st->dir = rp_xstrdup(dir);
    st->fd = -1;
    st->cur_done = 1;
    st->cap = 4096;
    st->buf = rp_xmalloc(st->cap);
    if (stat(dir, &sb) < 0) {
        rc = rp_error_set(err, errno == ENOENT ? RP_ENOENT : RP_EIO,
                          "store folder %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (!S_ISDIR(sb.st_mode)) {
        rc = rp_error_set(err, RP_EINVAL, "store folder %s: not a folder", dir);
        goto fail;
    }
    if ((rc = list_files(st, err)) < 0)
        goto fail;
    *out = st;
    return 0;
fail:
    rp_store_close(st);
    return rc;
}

void
rp_store_set_options(struct rp_store *st, int options)
{
    st->options = options;
}

/* 1 when 'saved' is what a torn hash gave of the whole hash 'h': the
** first bytes of 'h', the missing ones as zeros (RP_STORE_V1_NO_HASH
** accepts a last frame whose hash is torn, and a position may be saved
** there). */
static int
torn_hash_of(const unsigned char *saved, const unsigned char *h)
{
    size_t n = RP_SHA1_LEN;

    while (n > 0 && saved[n - 1] == 0)
        n--;
    return n > 0 && n < RP_SHA1_LEN && memcmp(saved, h, n) == 0;
}

int
rp_store_seek(struct rp_store *st, const struct rp_store_pos *pos,
              struct rp_error *err)
{
    struct frame f;
    unsigned char hash[RP_SHA1_LEN];
    int listed = 1, rc;
    size_t n = strnlen(pos->file, sizeof(pos->file));

    close_file(st);
    clear_counts(st);
    st->pending = 0;
    memset(&st->pos, 0, sizeof(st->pos));
    st->store_version = 0;
    st->cur[0] = '\0';
    st->cur_done = 1;
    st->fmt = FMT_UNKNOWN;
    st->off = 0;
    if (pos->store_version == 0)
        return 0;
    if (n == 0 || n >= sizeof(pos->file) || n > NAME_MAX_LEN)
        return rp_error_set(err, RP_EINVAL,
                            "store %s: saved position (store version %" PRIu64
                            ") names no file",
                            st->dir, pos->store_version);
    if ((rc = list_files(st, err)) < 0)
        return rc;
    if (!has_name(st->names, st->nnames, pos->file))
        return rp_error_set(
            err, RP_ENOENT,
            "store %s: file %s of the saved position (store "
            "version %" PRIu64 ", offset %" PRIu64 ") is not in the store",
            st->dir, pos->file, pos->store_version, pos->offset);
    memcpy(st->cur, pos->file, n + 1);
    st->cur_done = 0;
    st->off = pos->offset;
    if ((rc = open_next(st, &listed, err)) < 0)
        goto fail;
    if ((rc = parse_detect(st, pos->offset, &f, err)) < 0)
        goto fail;
    if (f.kind != FR_OK) {
        rc = rp_error_set(err, RP_EFORMAT,
                          "store %s: file %s offset %" PRIu64
                          ": the saved position (store version %" PRIu64
                          ") does not match: %s",
                          st->dir, pos->file, pos->offset, pos->store_version,
                          f.kind == FR_INCOMPLETE
                              ? "the file ends inside the frame"
                          : f.kind == FR_BAD ? f.why
                                             : "no frame there");
        goto fail;
    }
    frame_hash(&f, hash);
    if (f.end != pos->end ||
        (memcmp(hash, pos->sha1, RP_SHA1_LEN) != 0 &&
         !(st->fmt == FMT_V1 && (st->options & RP_STORE_V1_NO_HASH) &&
           torn_hash_of(pos->sha1, hash)))) {
        rc = rp_error_set(err, RP_EFORMAT,
                          "store %s: file %s offset %" PRIu64
                          ": the saved position (store version %" PRIu64
                          ") does not match: %s",
                          st->dir, pos->file, pos->offset, pos->store_version,
                          f.end != pos->end ? "the frame ends elsewhere"
                                            : "the frame's hash differs");
        goto fail;
    }
    st->off = pos->end;
    st->store_version = pos->store_version;
    st->pos = *pos;
    st->pos.file[n] = '\0';
    return 0;
fail:
    close_file(st);
    st->cur[0] = '\0';
    st->cur_done = 1;
    st->off = 0;
    st->fmt = FMT_UNKNOWN;
    return rc;
}

int
rp_store_skip(struct rp_store *st, uint64_t after, struct rp_error *err)
{
    struct rp_record rec;
    int rc;

    if (st->store_version > after)
        return rp_error_set(err, RP_EINVAL,
                            "store %s: already after store version %" PRIu64,
                            st->dir, after);
    while (st->store_version < after)
        if ((rc = rp_store_next(st, &rec, err)) <= 0)
            return rc;
    return 1;
}

void
rp_store_get_pos(const struct rp_store *st, struct rp_store_pos *out)
{
    *out = st->pos;
}

int
rp_store_pending(const struct rp_store *st, char *file, uint64_t *offset)
{
    if (!st->pending)
        return 0;
    snprintf(file, 256, "%s", st->cur);
    *offset = st->off;
    return 1;
}

uint64_t
rp_store_warnings(const struct rp_store *st)
{
    return st->warnings;
}

void
rp_store_close(struct rp_store *st)
{
    if (st == NULL)
        return;
    close_file(st);
    clear_counts(st);
    free_names(st->names, st->nnames);
    free(st->buf);
    free(st->key);
    free(st->dir);
    free(st);
}
