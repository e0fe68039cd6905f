/* The checkpoint: where reading resumes (a store position whose records,
** and all before them, are acknowledged by the target) and the per-key
** record counts at that position, so a restart seeks without rescanning.
** Written atomically to a local file; the position alone also goes to a
** stream on the target (as JSON) so that losing the file costs time only. */
#ifndef RP_CHECKPOINT_H
#define RP_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "util.h"

/* A checkpoint file being written; opaque. */
struct rp_checkpoint_writer;

/* Start writing the checkpoint for 'source_id' at 'pos' next to 'path' (in
** a temporary file: 'path' keeps the previous checkpoint until commit).
** Returns 0 or RP_EIO naming the file. */
int rp_checkpoint_begin(struct rp_checkpoint_writer **out, const char *path,
                        const char *source_id, const struct rp_store_pos *pos,
                        struct rp_error *err);
/* Add the count of one key (rp_store_count_fn shape; ctx is the writer).
** A key may be given again: the last count given wins on load.  Errors are
** kept for commit.  Returns 0. */
int rp_checkpoint_add_count(void *ctx, const char *key, size_t key_len,
                            uint64_t count);
/* Finish: flush, fsync, rename over 'path', fsync the folder; frees the
** writer.  Returns 0 or RP_EIO (the previous checkpoint is then intact). */
int rp_checkpoint_commit(struct rp_checkpoint_writer *w, struct rp_error *err);
/* Drop an unfinished checkpoint and free the writer.  Accepts NULL. */
void rp_checkpoint_abort(struct rp_checkpoint_writer *w);

/* Read the checkpoint at 'path': its source id (into 'source', 'size'
** bytes), its position, and each key count through fn(ctx, ...) in the
** order written (a later count of a key replaces an earlier one).  Returns 0,
** RP_ENOENT when there is no file, RP_EFORMAT naming the file and line when
** it is damaged, RP_EIO, or fn's non-zero value. */
int rp_checkpoint_load(const char *path, char *source, size_t size,
                       struct rp_store_pos *pos, rp_store_count_fn fn,
                       void *ctx, struct rp_error *err);

/* The position as the JSON data of a checkpoint event:
** {"source":..,"storeVersion":N,"file":..,"offset":N,"end":N,"sha1":".."}.
** Returns 0 or RP_ELIMIT. */
int rp_checkpoint_to_json(struct rp_buf *out, const char *source_id,
                          const struct rp_store_pos *pos);
/* Parse such JSON ('len' bytes).  Returns 0, or RP_EFORMAT when it is not a
** checkpoint or names another source than 'source_id'. */
int rp_checkpoint_from_json(const char *text, size_t len, const char *source_id,
                            struct rp_store_pos *pos, struct rp_error *err);

#endif
