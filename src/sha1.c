/* SHA-1 as FIPS 180-4 section 6.1 defines it, written for clarity and a
** reasonable speed (one 64-byte block at a time, no table). */
#include "sha1.h"

#include <string.h>

static uint32_t
rol(uint32_t x, int n)
{
    return x << n | x >> (32 - n);
}

static void
compress(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    int t;

    for (t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (t = 16; t < 80; t++)
        w[t] = rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    for (t = 0; t < 80; t++) {
        uint32_t f, k, tmp;

        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999u;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1u;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6u;
        }
        tmp = rol(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = tmp;
    }
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
