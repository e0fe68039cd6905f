/* SHA-1 (FIPS 180-4): the frame checksum of the Lokad store and the hash
** behind deterministic (version 5) event ids. */
#ifndef RP_SHA1_H
#define RP_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define RP_SHA1_LEN 20

/* Incremental state; plain data, lives in the caller's storage. */
struct rp_sha1 {
    uint32_t h[5];         /* chaining value */
    uint64_t total;        /* bytes hashed so far */
    unsigned char blk[64]; /* partial block */
    size_t used;           /* bytes in 'blk' */
};

void rp_sha1_init(struct rp_sha1 *s);
void rp_sha1_update(struct rp_sha1 *s, const void *data, size_t n);
void rp_sha1_final(struct rp_sha1 *s, unsigned char out[RP_SHA1_LEN]);
/* Allow (1) or forbid (0) the CPU's SHA instructions, which are used by
** default when present; returns 1 when they will be used.  For tests and
** measurements: both paths give the same digests. */
int rp_sha1_hardware(int allow);
/* One-shot digest of 'n' bytes. */
void rp_sha1(const void *data, size_t n, unsigned char out[RP_SHA1_LEN]);

#endif
