/* Fuzz target: the checkpoint parsers, the local file and the JSON of a
** checkpoint event.  The first byte chooses: even, the rest is a
** checkpoint file; odd, the rest is the JSON of an event for the source
** "fuzz-src".  Promises checked: what was read is written back by the
** writers and read again unchanged (source, position, key counts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "fuzzutil.h"
#include "util.h"

#define SOURCE "fuzz-src"
#define MAX_COUNTS 256 /* key counts compared; more are only read */

/* The key counts a load reported, in order. */
struct counts {
    size_t n;
    size_t total; /* all reported, kept or not */
    char *key[MAX_COUNTS];
    size_t len[MAX_COUNTS];
    uint64_t count[MAX_COUNTS];
};

static int
collect(void *ctx, const char *key, size_t key_len, uint64_t count)
{
    struct counts *c = ctx;

    c->total++;
    if (c->n == MAX_COUNTS)
        return 0;
    c->key[c->n] = rp_xmalloc(key_len + 1);
    memcpy(c->key[c->n], key, key_len);
    c->key[c->n][key_len] = '\0';
    c->len[c->n] = key_len;
    c->count[c->n] = count;
    c->n++;
    return 0;
}

static void
counts_free(struct counts *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->key[i]);
    c->n = 0;
}

static int
same_pos(const struct rp_store_pos *a, const struct rp_store_pos *b)
{
    return a->store_version == b->store_version && a->offset == b->offset &&
           a->end == b->end && strcmp(a->file, b->file) == 0 &&
           memcmp(a->sha1, b->sha1, sizeof(a->sha1)) == 0;
}

/* The local file: load, write back, load again. */
static void
file_round_trip(const uint8_t *data, size_t size)
{
    char path[512], path2[512], source[256], source2[256];
    struct rp_store_pos pos, pos2;
    struct rp_checkpoint_writer *w = NULL;
    struct counts c = {0}, c2 = {0};

    rp_fuzz_write("checkpoint", data, size, "wb", path);
    snprintf(path2, sizeof(path2), "%s/again", rp_fuzz_dir());
    if (rp_checkpoint_load(path, source, sizeof(source), &pos, collect, &c,
                           NULL) != 0)
        goto done;
    RP_FUZZ_CHECK(rp_checkpoint_begin(&w, path2, source, &pos, NULL) == 0);
    for (size_t i = 0; i < c.n; i++)
        rp_checkpoint_add_count(w, c.key[i], c.len[i], c.count[i]);
    RP_FUZZ_CHECK(rp_checkpoint_commit(w, NULL) == 0);
    if (c.total > c.n)
        goto done; /* the copy holds fewer counts: an "end" mismatch */
    RP_FUZZ_CHECK(rp_checkpoint_load(path2, source2, sizeof(source2), &pos2,
                                     collect, &c2, NULL) == 0);
    RP_FUZZ_CHECK(strcmp(source, source2) == 0);
    RP_FUZZ_CHECK(same_pos(&pos, &pos2));
    RP_FUZZ_CHECK(c.n == c2.n);
    for (size_t i = 0; i < c.n; i++) {
        RP_FUZZ_CHECK(c.len[i] == c2.len[i]);
        RP_FUZZ_CHECK(memcmp(c.key[i], c2.key[i], c.len[i]) == 0);
        RP_FUZZ_CHECK(c.count[i] == c2.count[i]);
    }
done:
    counts_free(&c);
    counts_free(&c2);
    rp_fuzz_clear();
}

/* The checkpoint event: parse, write, parse again. */
static void
json_round_trip(const uint8_t *data, size_t size)
{
    struct rp_store_pos pos, pos2;
    struct rp_buf out;

    if (rp_checkpoint_from_json((const char *)data, size, SOURCE, &pos, NULL) !=
        0)
        return;
    rp_buf_init(&out, 0);
    RP_FUZZ_CHECK(rp_checkpoint_to_json(&out, SOURCE, &pos) == 0);
    RP_FUZZ_CHECK(
        rp_checkpoint_from_json(out.data, out.len, SOURCE, &pos2, NULL) == 0);
    RP_FUZZ_CHECK(same_pos(&pos, &pos2));
    rp_buf_dispose(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] % 2 == 0)
        file_round_trip(data + 1, size - 1);
    else
        json_round_trip(data + 1, size - 1);
    return 0;
}
