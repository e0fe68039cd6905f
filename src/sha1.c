/* SHA-1 as FIPS 180-4 section 6.1 defines it, written for clarity and a
** reasonable speed (one 64-byte block at a time, unrolled, no table). */
#include "sha1.h"

#include <string.h>

static uint32_t
rol(uint32_t x, int n)
{
    return x << n | x >> (32 - n);
}

/* The round functions of FIPS 180-4 4.1.1, in forms with fewer
** operations. */
#define F_CH(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define F_PARITY(b, c, d) ((b) ^ (c) ^ (d))
#define F_MAJ(b, c, d) (((b) & (c)) | ((d) & ((b) | (c))))

/* Word t of the message schedule, kept in a 16-word ring. */
#define W(t)                                                                   \
    ((t) < 16 ? w[(t)&15]                                                      \
              : (w[(t)&15] = rol(w[((t) + 13) & 15] ^ w[((t) + 8) & 15] ^      \
                                     w[((t) + 2) & 15] ^ w[(t)&15],            \
                                 1)))

/* One step; the caller rotates the variable names instead of the values. */
#define STEP(a, b, c, d, e, f, k, t)                                           \
    do {                                                                       \
        e += rol(a, 5) + f(b, c, d) + (k) + W(t);                              \
        b = rol(b, 30);                                                        \
    } while (0)

#define FIVE(f, k, t)                                                          \
    do {                                                                       \
        STEP(a, b, c, d, e, f, k, (t));                                        \
        STEP(e, a, b, c, d, f, k, (t) + 1);                                    \
        STEP(d, e, a, b, c, f, k, (t) + 2);                                    \
        STEP(c, d, e, a, b, f, k, (t) + 3);                                    \
        STEP(b, c, d, e, a, f, k, (t) + 4);                                    \
    } while (0)

/* Process one 64-byte block, fully unrolled: the store reader hashes every
** frame, so this is on the hot path. */
static void
compress(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[16];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    FIVE(F_CH, 0x5A827999u, 0);
    FIVE(F_CH, 0x5A827999u, 5);
    FIVE(F_CH, 0x5A827999u, 10);
    FIVE(F_CH, 0x5A827999u, 15);
    FIVE(F_PARITY, 0x6ED9EBA1u, 20);
    FIVE(F_PARITY, 0x6ED9EBA1u, 25);
    FIVE(F_PARITY, 0x6ED9EBA1u, 30);
    FIVE(F_PARITY, 0x6ED9EBA1u, 35);
    FIVE(F_MAJ, 0x8F1BBCDCu, 40);
    FIVE(F_MAJ, 0x8F1BBCDCu, 45);
    FIVE(F_MAJ, 0x8F1BBCDCu, 50);
    FIVE(F_MAJ, 0x8F1BBCDCu, 55);
    FIVE(F_PARITY, 0xCA62C1D6u, 60);
    FIVE(F_PARITY, 0xCA62C1D6u, 65);
    FIVE(F_PARITY, 0xCA62C1D6u, 70);
    FIVE(F_PARITY, 0xCA62C1D6u, 75);
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void
rp_sha1_init(struct rp_sha1 *s)
{
    s->h[0] = 0x67452301u;
    s->h[1] = 0xEFCDAB89u;
    s->h[2] = 0x98BADCFEu;
    s->h[3] = 0x10325476u;
    s->h[4] = 0xC3D2E1F0u;
    s->total = 0;
    s->used = 0;
}

void
rp_sha1_update(struct rp_sha1 *s, const void *data, size_t n)
{
    const unsigned char *p = data;

    s->total += n;
    if (s->used > 0) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;

        memcpy(s->blk + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used < 64)
            return;
        compress(s->h, s->blk);
        s->used = 0;
    }
    while (n >= 64) {
        compress(s->h, p);
        p += 64;
        n -= 64;
    }
    memcpy(s->blk, p, n);
    s->used = n;
}

void
rp_sha1_final(struct rp_sha1 *s, unsigned char out[RP_SHA1_LEN])
{
    uint64_t bits = s->total * 8;
    int i;

    s->blk[s->used++] = 0x80;
    if (s->used > 56) {
        memset(s->blk + s->used, 0, 64 - s->used);
        compress(s->h, s->blk);
        s->used = 0;
    }
    memset(s->blk + s->used, 0, 56 - s->used);
    for (i = 0; i < 8; i++)
        s->blk[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    compress(s->h, s->blk);
    for (i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(s->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)s->h[i];
    }
}

void
rp_sha1(const void *data, size_t n, unsigned char out[RP_SHA1_LEN])
{
    struct rp_sha1 s;

    rp_sha1_init(&s);
    rp_sha1_update(&s, data, n);
    rp_sha1_final(&s, out);
}
