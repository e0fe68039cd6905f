/* Writing a Lokad.CQRS store as the .NET writer does (spec sections 3.3 and
** 4): one new data file per session, V2 frames with minimal varints and a
** SHA-1 each.  The file appears under its final name only when committed. */
#ifndef RP_STOREWRITE_H
#define RP_STOREWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* One writing session; opaque. */
struct rp_storewrite;

/* Append one V2 frame (stamp, key, data, SHA-1 of the rest) to 'out'.
** Returns 0, RP_EINVAL (a length above 2^31-1) or RP_ELIMIT. */
int rp_frame_encode(struct rp_buf *out, int64_t stamp, const char *key,
                    size_t key_len, const void *data, size_t data_len);

/* Start a session on store folder 'dir', which holds 'count' records: the
** frames go to a temporary file in 'dir' whose name does not end in .dat.
** Returns 0 with *out set, or RP_EIO naming the folder. */
int rp_storewrite_open(struct rp_storewrite **out, const char *dir,
                       uint64_t count, struct rp_error *err);

/* Append one frame.  Returns 0, RP_EINVAL (too long) or RP_EIO. */
int rp_storewrite_append(struct rp_storewrite *w, int64_t stamp,
                         const char *key, size_t key_len, const void *data,
                         size_t data_len, struct rp_error *err);

/* Frames appended so far. */
uint64_t rp_storewrite_count(const struct rp_storewrite *w);

/* Flush, fsync and give the file its final name
** NNNNNNNN-yyyy-MM-dd-HHmmss.dat (the store version of its first record,
** at least 8 digits; the UTC time the session started, moved on by a second
** while the name exists: an existing file is never replaced), then fsync
** the folder.  Writes 'name' (at least 256 bytes; "" when no frame was
** appended, and then no file is made).  Returns 0 or RP_EIO. */
int rp_storewrite_commit(struct rp_storewrite *w, char *name,
                         struct rp_error *err);

/* End the session; an uncommitted temporary file is removed.  Accepts
** NULL. */
void rp_storewrite_free(struct rp_storewrite *w);

#endif
