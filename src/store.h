/* The Lokad.CQRS append-only store reader: frames of the *.dat files of one
** folder, numbered exactly as the .NET library numbers them, streamed in
** bounded memory, tailing a live store and resuming from a saved position.
** The format and the rules are in spec/lokad-store-format.md (sections 4, 5,
** 7 and 12). */
#ifndef RP_STORE_H
#define RP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* One accepted frame.  Pointers are borrowed: valid until the next
** rp_store_next(), rp_store_seek() or rp_store_close() on the same
** reader. */
struct rp_record {
    uint64_t store_version;    /* 1-based rank among accepted frames (5.1) */
    uint64_t stream_version;   /* 1-based rank among accepted frames of this
                                  key */
    int64_t stamp;             /* as stored on disk */
    const char *key;           /* NUL-terminated, key_len bytes, valid UTF-8
                                  (may hold NUL bytes) */
    size_t key_len;            /* bytes in 'key' */
    const unsigned char *data; /* the payload (spec 9), data_len bytes */
    size_t data_len;           /* bytes in 'data' */
    const char *file;          /* data file name, without the folder */
    uint64_t offset;           /* byte offset of the frame in that file */
    uint64_t end;              /* byte offset just after the frame */
    unsigned char sha1[20];    /* the frame's stored hash */
};

/* Where a reader stands: just after record 'store_version' (0: before the
** first).  Plain data: save it with a checkpoint, give it to
** rp_store_seek() to resume without rescanning. */
struct rp_store_pos {
    uint64_t store_version; /* records before the position */
    char file[256];         /* file of that record, "" when store_version is
                               0 */
    uint64_t offset;        /* that record's frame offset */
    uint64_t end;           /* just after it: reading resumes here */
    unsigned char sha1[20]; /* its stored hash: verifies the hint on seek */
};

/* A reader of one store folder; opaque. */
struct rp_store;

/* Reader options, set with rp_store_set_options() before the first read.
** RP_STORE_V1_NO_HASH: V1 files are read as the .NET V1 file reader reads
** them (spec 7.1): no hash check, only an all-zero hash is refused, and a
** last frame whose hash is torn is accepted. */
#define RP_STORE_V1_NO_HASH 1

/* Called for each per-key count by rp_store_foreach_count(); a non-zero
** return stops the walk and is returned by it. */
typedef int (*rp_store_count_fn)(void *ctx, const char *key, size_t key_len,
                                 uint64_t count);

/* Open the store in folder 'dir' positioned before its first record.  The
** folder must exist and be readable; it may hold no data file yet (a live
** store that has not been written to).  Returns 0 with *out set, or RP_ENOENT
** / RP_EIO / RP_EINVAL (not a folder) naming the folder. */
int rp_store_open(struct rp_store **out, const char *dir, struct rp_error *err);

/* Set RP_STORE_* option bits (default 0). */
void rp_store_set_options(struct rp_store *st, int options);

/* The number of data files (names ending in .dat, any case) in the folder
** at the last listing; rp_store_open() lists once. */
size_t rp_store_file_count(const struct rp_store *st);

/* Read the next accepted record into *rec.  Returns 1 (a record), 0
** (nothing more now: a live store may grow, call again later) or <0 on error
** (a file shrank or vanished, I/O), with the file named in err.  Corrupt
** frames are not errors: each is reported once with rp_log(RP_LOG_WARN)
** naming the file, the offset and the fault, and the rest of its file is
** skipped, as the .NET loader does. */
int rp_store_next(struct rp_store *st, struct rp_record *rec,
                  struct rp_error *err);

/* Jump to just after 'pos' without decoding what comes before it.  The
** frame at pos->offset in pos->file must parse, end at pos->end and carry
** pos->sha1 (with RP_STORE_V1_NO_HASH, a hash saved torn, its missing bytes
** as zeros, matches the whole hash it began).  Returns 0, RP_ENOENT (the
** file is gone) or RP_EFORMAT (the hint does not match), naming the file
** and the offset.  The per-key counts are cleared: set them with
** rp_store_set_stream_version(). */
int rp_store_seek(struct rp_store *st, const struct rp_store_pos *pos,
                  struct rp_error *err);

/* Read and count records until just after store version 'after' (for
** --from).  Returns 1 when there, 0 when the store currently ends before it
** (the reader then stands at that end), or <0 as rp_store_next(). */
int rp_store_skip(struct rp_store *st, uint64_t after, struct rp_error *err);

/* Set the number of records of 'key' (its stream version) known at the
** current position; the next record of that key gets count + 1. */
void rp_store_set_stream_version(struct rp_store *st, const char *key,
                                 size_t key_len, uint64_t count);

/* The number of records of 'key' read so far (0 for an unknown key). */
uint64_t rp_store_stream_version(const struct rp_store *st, const char *key,
                                 size_t key_len);

/* Call fn for every key with its count, in no particular order.  Returns
** 0, or the first non-zero value fn returned. */
int rp_store_foreach_count(const struct rp_store *st, rp_store_count_fn fn,
                           void *ctx);

/* The number of keys in the count map. */
size_t rp_store_key_count(const struct rp_store *st);

/* Where the reader stands (after the last record returned or sought). */
void rp_store_get_pos(const struct rp_store *st, struct rp_store_pos *out);

/* When the last rp_store_next() returned 0 while waiting on an incomplete
** frame at the end of the newest file (a write in progress, or a torn
** write), fill 'file' (at least 256 bytes) and *offset and return 1; else
** return 0.  Lets a one-shot reader (dump) report a torn end. */
int rp_store_pending(const struct rp_store *st, char *file, uint64_t *offset);

/* The number of warnings (corrupt frames, odd names, stamp differences)
** reported so far. */
uint64_t rp_store_warnings(const struct rp_store *st);

/* Close the reader and free everything.  Accepts NULL. */
void rp_store_close(struct rp_store *st);

#endif
