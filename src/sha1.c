/* SHA-1 as FIPS 180-4 section 6.1 defines it, written for clarity and a
** reasonable speed (unrolled, no table), and with the x86-64 SHA extensions
** when the CPU has them: the store reader hashes every frame. */
#include "sha1.h"

#include <stdatomic.h>
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

/* ---- x86-64 SHA extensions, used when the CPU has them ---- */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHA_NI 1

/* One group of four rounds with round function 'f' (0-3, an immediate),
** the message words first extended when k >= 4 (W[k] from W[k-4..k-1],
** kept in a ring of four vectors). */
#define GROUP4(f)                                                              \
    do {                                                                       \
        if (k >= 4)                                                            \
            w[k & 3] = _mm_sha1msg2_epu32(                                     \
                _mm_xor_si128(_mm_sha1msg1_epu32(w[k & 3], w[(k + 1) & 3]),    \
                              w[(k + 2) & 3]),                                 \
                w[(k + 3) & 3]);                                               \
        e = k == 0 ? _mm_add_epi32(e0, w[0])                                   \
                   : _mm_sha1nexte_epu32(prev, w[k & 3]);                      \
        prev = abcd;                                                           \
        abcd = _mm_sha1rnds4_epu32(abcd, e, f);                                \
        k++;                                                                   \
    } while (0)

/* Process 'n' 64-byte blocks with SHA1RNDS4 and friends. */
__attribute__((target("sha,sse4.1"))) static void
blocks_sha_ni(uint32_t h[5], const unsigned char *p, size_t n)
{
    const __m128i swap =
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m128i abcd, e0;

    /* A in the top lane, as the instructions want it. */
    abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(void *)h), 0x1B);
    e0 = _mm_set_epi32((int)h[4], 0, 0, 0);
    for (; n > 0; n--, p += 64) {
        __m128i w[4], abcd_save = abcd, prev = abcd, e;
        int k = 0;

        for (int i = 0; i < 4; i++)
            w[i] = _mm_shuffle_epi8(
                _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)),
                swap);
        for (int j = 0; j < 5; j++)
            GROUP4(0);
        for (int j = 0; j < 5; j++)
            GROUP4(1);
        for (int j = 0; j < 5; j++)
            GROUP4(2);
        for (int j = 0; j < 5; j++)
            GROUP4(3);
        /* E after 80 rounds is A of round 76 rotated: add the saved E. */
        e0 = _mm_sha1nexte_epu32(prev, e0);
        abcd = _mm_add_epi32(abcd, abcd_save);
    }
    _mm_storeu_si128((__m128i *)(void *)h, _mm_shuffle_epi32(abcd, 0x1B));
    h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

/* 1 when the CPU has the SHA extensions, SSSE3 and SSE4.1. */
static int
cpu_has_sha(void)
{
    unsigned a, b, c, d;

    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) ||
        !(c & (1u << 19)))
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1;
}
#endif

/* -1: not decided yet; 0: portable code; 1: SHA extensions.  Atomic:
** threads that hash at once may both decide, and decide the same. */
static atomic_int use_hw = -1;

int
rp_sha1_hardware(int allow)
{
    int hw = 0;

#ifdef HAVE_SHA_NI
    hw = allow ? cpu_has_sha() : 0;
#else
    (void)allow;
#endif
    atomic_store_explicit(&use_hw, hw, memory_order_relaxed);
    return hw;
}

/* Process 'n' whole 64-byte blocks. */
static void
blocks(uint32_t h[5], const unsigned char *p, size_t n)
{
    int hw = atomic_load_explicit(&use_hw, memory_order_relaxed);

    if (hw < 0)
        hw = rp_sha1_hardware(1);
#ifdef HAVE_SHA_NI
    if (hw) {
        blocks_sha_ni(h, p, n);
        return;
    }
#endif
    for (; n > 0; n--, p += 64)
        compress(h, p);
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
        blocks(s->h, s->blk, 1);
        s->used = 0;
    }
    if (n >= 64) {
        blocks(s->h, p, n / 64);
        p += n / 64 * 64;
        n %= 64;
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
        blocks(s->h, s->blk, 1);
        s->used = 0;
    }
    memset(s->blk + s->used, 0, 56 - s->used);
    for (i = 0; i < 8; i++)
        s->blk[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    blocks(s->h, s->blk, 1);
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
