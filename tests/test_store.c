/* Tests of the store reader: the spec's worked examples and every edge case
** of spec section 13, on stores written byte by byte here from the spec's
** frame layout (not with the project's writer), plus live tailing and
** resume. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sha1.h"
#include "store.h"
#include "testutil.h"

/* ---- building stores by hand ---- */

struct bytes {
    unsigned char *p;
    size_t n, cap;
};

static void
put(struct bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    if (n > 0)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void
put_byte(struct bytes *b, unsigned char c)
{
    put(b, &c, 1);
}

static void
put_le(struct bytes *b, uint64_t v, int width)
{
    for (int i = 0; i < width; i++)
        put_byte(b, (unsigned char)(v >> (8 * i)));
}

/* The .NET 7-bit encoded int, shortest form (spec 2). */
static void
put_7bit(struct bytes *b, uint32_t v)
{
    while (v >= 0x80) {
        put_byte(b, (unsigned char)(v | 0x80));
        v >>= 7;
    }
    put_byte(b, (unsigned char)v);
}

/* Append one frame: V2 (v1 == 0) or V1 (i32 data length), hash over the
** bytes as laid out. */
static void
put_frame_fmt(struct bytes *b, int v1, int64_t stamp, const char *key,
              size_t klen, const void *data, size_t dlen)
{
    size_t start = b->n;
    unsigned char h[RP_SHA1_LEN];

    put_le(b, (uint64_t)stamp, 8);
    put_7bit(b, (uint32_t)klen);
    put(b, key, klen);
    if (v1)
        put_le(b, dlen, 4);
    else
        put_7bit(b, (uint32_t)dlen);
    put(b, data, dlen);
    rp_sha1(b->p + start, b->n - start, h);
    put(b, h, sizeof(h));
}

static void
put_frame(struct bytes *b, int64_t stamp, const char *key, const char *data)
{
    put_frame_fmt(b, 0, stamp, key, strlen(key), data, strlen(data));
}

/* Finish a frame whose fields 1-5 were put from 'start': append the SHA-1
** of the raw bytes. */
static void
put_hash(struct bytes *b, size_t start)
{
    unsigned char h[RP_SHA1_LEN];

    rp_sha1(b->p + start, b->n - start, h);
    put(b, h, sizeof(h));
}

static char tmpdir[256];

static void
setup(void)
{
    rp_test_tmpdir(tmpdir, sizeof(tmpdir), "rp-store");
    rp_log_set_level(RP_LOG_ERROR);
}

static void
teardown(void)
{
    rp_test_rmtree(tmpdir);
}

/* Write the file 'name' in the test's folder. */
static void
write_file(const char *name, const void *p, size_t n, const char *mode)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    rp_test_write_file(path, p, n, mode);
}

static void
write_bytes(const char *name, struct bytes *b)
{
    write_file(name, b->p, b->n, "wb");
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* Read the whole store; describe each record as "key:store.stream" joined
** by spaces.  Returns the reader's warning count. */
static uint64_t
read_store(char *out, size_t cap, int options)
{
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    uint64_t warnings;
    size_t len = 0;
    int rc;

    out[0] = '\0';
    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    rp_store_set_options(st, options);
    while ((rc = rp_store_next(st, &rec, &err)) == 1) {
        len += (size_t)snprintf(out + len, cap - len, "%s%s:%llu.%llu",
                                len ? " " : "", rec.key,
                                (unsigned long long)rec.store_version,
                                (unsigned long long)rec.stream_version);
        ck_assert_uint_lt(len, cap);
        ck_assert_uint_eq(strlen(rec.key), rec.key_len);
    }
    ck_assert_msg(rc == 0, "rp_store_next: %s", err.msg);
    warnings = rp_store_warnings(st);
    rp_store_close(st);
    return warnings;
}

#define F1 "00000001-2013-03-15-093012.dat"
#define F2 "00000004-2013-03-15-093013.dat"
#define F3 "00000005-2013-03-15-093014.dat"

/* ---- spec worked examples ---- */

/* Spec 6: the same record in V1. */
static const unsigned char spec_frame_v1[46] = {
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x63, 0x75, 0x73,
    0x74, 0x6F, 0x6D, 0x65, 0x72, 0x2D, 0x31, 0x03, 0x00, 0x00, 0x00, 0x01,
    0x02, 0x03, 0x40, 0x37, 0x7E, 0xBC, 0x44, 0xAE, 0x60, 0xB4, 0xE0, 0x1E,
    0xFD, 0x67, 0xE1, 0xD0, 0xAA, 0x58, 0x67, 0x6C, 0xC8, 0x69};

static void
check_spec_record(const unsigned char *file, size_t n, size_t end)
{
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    struct rp_store_pos pos;

    write_file(F1, file, n, "wb");
    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_str_eq(rec.key, "customer-1");
    ck_assert_uint_eq(rec.key_len, 10);
    ck_assert_uint_eq(rec.data_len, 3);
    ck_assert_mem_eq(rec.data, "\1\2\3", 3);
    ck_assert_uint_eq(rec.store_version, 1);
    ck_assert_uint_eq(rec.stream_version, 1);
    ck_assert_int_eq(rec.stamp, 1);
    ck_assert_str_eq(rec.file, F1);
    ck_assert_uint_eq(rec.offset, 0);
    ck_assert_uint_eq(rec.end, end);
    ck_assert_mem_eq(rec.sha1, file + end - 20, 20);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 0);
    rp_store_get_pos(st, &pos);
    ck_assert_uint_eq(pos.store_version, 1);
    ck_assert_str_eq(pos.file, F1);
    ck_assert_uint_eq(pos.end, end);
    ck_assert_uint_eq(rp_store_warnings(st), 0);
    rp_store_close(st);
}

START_TEST(test_store_spec_one_frame)
{
    struct bytes b = {0};

    /* The test's own frame writer gives the spec's bytes. */
    put_frame_fmt(&b, 0, 1, "customer-1", 10, "\1\2\3", 3);
    ck_assert_uint_eq(b.n, sizeof(rp_test_spec_frame));
    ck_assert_mem_eq(b.p, rp_test_spec_frame, sizeof(rp_test_spec_frame));
    free(b.p);
    check_spec_record(rp_test_spec_frame, sizeof(rp_test_spec_frame), 43);
}
END_TEST

START_TEST(test_store_spec_v1_frame)
{
    struct bytes b = {0};

    put_frame_fmt(&b, 1, 1, "customer-1", 10, "\1\2\3", 3);
    ck_assert_mem_eq(b.p, spec_frame_v1, sizeof(spec_frame_v1));
    free(b.p);
    check_spec_record(spec_frame_v1, sizeof(spec_frame_v1), 46);
}
END_TEST

/* Spec 6, end marker: 30 zero bytes end the file without a warning. */
START_TEST(test_store_spec_end_marker)
{
    struct bytes b = {0};
    unsigned char zero[30] = {0};
    char out[256];

    put(&b, rp_test_spec_frame, sizeof(rp_test_spec_frame));
    put(&b, zero, sizeof(zero));
    put_frame(&b, 2, "customer-1", "lost");
    write_bytes(F1, &b);
    put_frame(&b, 1, "next", "x");
    write_bytes(F2, &b);
    /* the frame after the zeros is lost (and reported), the next file not */
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 1);
    ck_assert_str_eq(out, "customer-1:1.1 next:2.1");
}
END_TEST

/* Spec 6: version assignment across three files. */
START_TEST(test_store_spec_versions_across_files)
{
    struct bytes b = {0};
    size_t torn;
    char out[256];

    put_frame(&b, 1, "a", "1");
    put_frame(&b, 1, "b", "2");
    put_frame(&b, 2, "a", "3");
    write_bytes(F1, &b);
    put_frame(&b, 2, "b", "4");
    torn = b.n;
    put_frame(&b, 3, "a", "torn");
    b.n = torn + 12; /* cut inside the torn frame... */
    put_frame(&b, 3, "a", "5");
    write_bytes(F2, &b); /* ...and a good-looking frame after it */
    put_frame(&b, 1, "c", "6");
    write_bytes(F3, &b);
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 1);
    ck_assert_str_eq(out, "a:1.1 b:2.1 a:3.2 b:4.2 c:5.1");
}
END_TEST

/* ---- section 13 edge cases ---- */

/* A frame with a 200-byte key and 300 bytes of data (two-byte varints),
** cut at every byte position, as the last frame of an older file and of the
** newest file. */
START_TEST(test_store_torn_every_position)
{
    struct bytes full = {0}, b = {0};
    char key[201], data[301], out[256];
    size_t start;

    memset(key, 'k', 200);
    key[200] = '\0';
    memset(data, 'd', 300);
    data[300] = '\0';
    put_frame(&full, 1, "a", "x");
    start = full.n;
    put_frame(&full, 1, key, data);
    ck_assert_uint_eq(full.n - start, 8 + 2 + 200 + 2 + 300 + 20);
    for (size_t cut = start + 1; cut < full.n; cut++) {
        struct rp_store *st = NULL;
        struct rp_error err = {0};
        struct rp_record rec;
        char file[600];
        uint64_t off;

        write_file(F1, full.p, cut, "wb");
        /* newest file: a write in progress, no warning yet */
        ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
        ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
        ck_assert_int_eq(rp_store_next(st, &rec, &err), 0);
        ck_assert_int_eq(rp_store_pending(st, file, &off), 1);
        ck_assert_str_eq(file, F1);
        ck_assert_uint_eq(off, start);
        ck_assert_uint_eq(rp_store_warnings(st), 0);
        rp_store_close(st);
        /* an older file: torn for good */
        put_frame(&b, 1, "b", "y");
        write_bytes(F2, &b);
        ck_assert_uint_eq(read_store(out, sizeof(out), 0), 1);
        ck_assert_msg(strcmp(out, "a:1.1 b:2.1") == 0, "cut %zu: %s", cut, out);
        snprintf(file, sizeof(file), "%s/%s", tmpdir, F2);
        ck_assert_int_eq(unlink(file), 0);
    }
    free(full.p);
}
END_TEST

/* A flipped bit anywhere in a frame: that frame and the good ones after it
** in the same file are dropped, the next file is kept. */
START_TEST(test_store_flipped_bit)
{
    struct bytes b = {0}, c = {0};
    size_t start, end;
    char out[256];

    put_frame(&b, 1, "a", "one");
    start = b.n;
    put_frame(&b, 1, "b", "two, with some data");
    end = b.n;
    put_frame(&b, 2, "a", "three");
    put_frame(&c, 2, "b", "four");
    write_bytes(F2, &c);
    for (size_t i = start; i < end; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            b.p[i] ^= (unsigned char)(1 << bit);
            write_file(F1, b.p, b.n, "wb");
            ck_assert_uint_ge(read_store(out, sizeof(out), 0), 1);
            ck_assert_msg(strcmp(out, "a:1.1 b:2.1") == 0,
                          "byte %zu bit %d: %s", i, bit, out);
            b.p[i] ^= (unsigned char)(1 << bit);
        }
    }
    write_file(F1, b.p, b.n, "wb");
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 0);
    ck_assert_str_eq(out, "a:1.1 b:2.1 a:3.2 b:4.2");
    free(b.p);
}
END_TEST

START_TEST(test_store_zero_tails)
{
    static const size_t sizes[] = {1, 7, 8, 9, 10, 29, 30, 31, 45, 4096};
    unsigned char zero[4096] = {0};
    char out[256];

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct bytes b = {0};

        put_frame(&b, 1, "a", "x");
        put(&b, zero, sizes[i]);
        write_bytes(F1, &b);
        put_frame(&b, 1, "b", "y");
        write_bytes(F2, &b);
        /* a zero tail ends the file quietly, whatever its length */
        ck_assert_uint_eq(read_store(out, sizeof(out), 0), 0);
        ck_assert_msg(strcmp(out, "a:1.1 b:2.1") == 0, "%zu zeros: %s",
                      sizes[i], out);
    }
}
END_TEST

START_TEST(test_store_zero_length_file)
{
    struct bytes b = {0};
    char out[256];

    write_file(F1, "", 0, "wb");
    put_frame(&b, 1, "a", "x");
    write_bytes(F2, &b);
    write_file(F3, "", 0, "wb");
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 0);
    ck_assert_str_eq(out, "a:1.1");
}
END_TEST

/* Spec 8: downloaded 512 KiB page blobs, zero-padded after the frames. */
START_TEST(test_store_blob_image)
{
    struct bytes b = {0};
    char out[256];
    static unsigned char zero[524288];

    put_frame(&b, 1, "a", "one");
    put_frame(&b, 1, "b", "two");
    put(&b, zero, 524288 - b.n);
    ck_assert_uint_eq(b.n, 524288);
    write_bytes("00000001-2013-03-15-093012.dat", &b);
    put_frame(&b, 2, "a", "three");
    put(&b, zero, 524288 - b.n);
    write_bytes("00000003-2013-03-15-093013.dat", &b);
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 0);
    ck_assert_str_eq(out, "a:1.1 b:2.1 a:3.2");
}
END_TEST

START_TEST(test_store_keys_case_and_unicode)
{
    struct bytes b = {0};
    char out[256];

    put_frame(&b, 1, "Customer:1", "x");
    put_frame(&b, 1, "customer:1", "x");
    put_frame(&b, 2, "Customer:1", "x");
    put_frame(&b, 1, "CUSTOMER:1", "x");
    put_frame(&b, 1, "caf\xc3\xa9:\xe2\x82\xac", "x");
    put_frame(&b, 1, "\xf0\x9f\x98\x80", "x");
    put_frame(&b, 2, "caf\xc3\xa9:\xe2\x82\xac", "x");
    put_frame(&b, 1, "", "empty key");
    put_frame(&b, 2, "", "empty key");
    write_bytes(F1, &b);
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 0);
    ck_assert_str_eq(out, "Customer:1:1.1 customer:1:2.1 Customer:1:3.2 "
                          "CUSTOMER:1:4.1 caf\xc3\xa9:\xe2\x82\xac:5.1 "
                          "\xf0\x9f\x98\x80:6.1 caf\xc3\xa9:\xe2\x82\xac:7.2 "
                          ":8.1 :9.2");
}
END_TEST

/* Multi-byte varints: keys of 128+ bytes, data of 128+ and 16384+ bytes,
** empty data, and a frame larger than the read buffer. */
START_TEST(test_store_long_keys_and_data)
{
    static const size_t klens[] = {127, 128, 300, 16384};
    static const size_t dlens[] = {0,     1,     127,   128,
                                   16383, 16384, 70000, 3u << 20};
    struct bytes b = {0};
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    char *key = malloc(16384);
    unsigned char *data = malloc(3u << 20);
    uint64_t sv = 0;

    ck_assert_ptr_nonnull(key);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < 16384; i++)
        key[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < (3u << 20); i++)
        data[i] = (unsigned char)(i * 7);
    for (size_t k = 0; k < 4; k++)
        for (size_t d = 0; d < 8; d++)
            put_frame_fmt(&b, 0, (int64_t)d + 1, key, klens[k], data, dlens[d]);
    write_bytes(F1, &b);
    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    for (size_t k = 0; k < 4; k++)
        for (size_t d = 0; d < 8; d++) {
            ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
            ck_assert_uint_eq(rec.store_version, ++sv);
            ck_assert_uint_eq(rec.stream_version, d + 1);
            ck_assert_uint_eq(rec.key_len, klens[k]);
            ck_assert_mem_eq(rec.key, key, klens[k]);
            ck_assert_uint_eq(rec.data_len, dlens[d]);
            if (dlens[d] > 0)
                ck_assert_mem_eq(rec.data, data, dlens[d]);
        }
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 0);
    ck_assert_uint_eq(rp_store_warnings(st), 0);
    rp_store_close(st);
    free(key);
    free(data);
}
END_TEST

/* The first frame of a file settles its format: a bad first frame (neither
** V2 nor V1) loses the file; zeros alone are padding. */
START_TEST(test_store_first_frame_bad)
{
    struct bytes b = {0};
    unsigned char zero[40] = {0};
    char out[256];

    put_frame(&b, 1, "a", "one");
    b.p[b.n - 1] ^= 0x40;
    put_frame(&b, 2, "a", "lost");
    write_bytes(F1, &b);
    put(&b, zero, 30 + (size_t)_i);
    write_bytes(F2, &b);
    put_frame(&b, 1, "c", "kept");
    write_bytes(F3, &b);
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 1);
    ck_assert_str_eq(out, "c:1.1");
}
END_TEST

/* Spec 4.1 step 7: stamp 0, empty key and data, good hash: ends the file. */
START_TEST(test_store_empty_frame)
{
    struct bytes b = {0};
    char out[256];

    put_frame(&b, 1, "a", "x");
    put_frame(&b, 0, "", "");
    put_frame(&b, 2, "a", "lost");
    write_bytes(F1, &b);
    put_frame(&b, 2, "a", "kept");
    write_bytes(F2, &b);
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 1);
    ck_assert_str_eq(out, "a:1.1 a:2.2");
}
END_TEST

/* R2: a non-minimal varint or an invalid UTF-8 key, hashed over the raw
** bytes, is a bad frame. */
static const char *const bad_keys[] = {
    "\xc0\x80",         /* overlong NUL */
    "\xe0\x80\xaf",     /* overlong '/' */
    "\xed\xa0\x80",     /* encoded surrogate */
    "\xf4\x90\x80\x80", /* above U+10FFFF */
    "ab\xe2\x82",       /* truncated */
    "\xff",             /* never valid */
};

START_TEST(test_store_r2_bad_frames)
{
    char out[256];
    int variant = _i;
    struct bytes b = {0};
    size_t start;

    put_frame(&b, 1, "a", "x");
    start = b.n;
    put_le(&b, 1, 8);
    if (variant < 6) {
        const char *k = bad_keys[variant];

        put_7bit(&b, (uint32_t)strlen(k));
        put(&b, k, strlen(k));
        put_7bit(&b, 1);
        put_byte(&b, 'z');
    } else if (variant == 6) { /* key length 1 as 81 00 */
        put_byte(&b, 0x81);
        put_byte(&b, 0x00);
        put_byte(&b, 'k');
        put_7bit(&b, 1);
        put_byte(&b, 'z');
    } else if (variant == 7) { /* data length 3 as 83 80 00 */
        put_7bit(&b, 1);
        put_byte(&b, 'k');
        put_byte(&b, 0x83);
        put_byte(&b, 0x80);
        put_byte(&b, 0x00);
        put(&b, "zzz", 3);
    } else { /* key length with six bytes */
        put(&b, "\x81\x80\x80\x80\x80\x00", 6);
    }
    put_hash(&b, start);
    put_frame(&b, 2, "a", "lost");
    write_bytes(F1, &b);
    put_frame(&b, 2, "a", "kept");
    write_bytes(F2, &b);
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 1);
    ck_assert_msg(strcmp(out, "a:1.1 a:2.2") == 0, "variant %d: %s", variant,
                  out);
}
END_TEST

/* R4: lengths larger than the file are torn frames, nothing allocated. */
START_TEST(test_store_huge_lengths)
{
    struct bytes b = {0};
    char out[256];

    put_frame(&b, 1, "a", "x");
    put_le(&b, 1, 8);
    put_7bit(&b, 0x7FFFFFFF); /* key of 2 GiB - 1 */
    put(&b, "abcdefghijklmnopqrstuvwxyz0123456789", 36);
    write_bytes(F1, &b);
    put_frame(&b, 2, "a", "y");
    put_le(&b, 1, 8);
    put_7bit(&b, 1);
    put_byte(&b, 'k');
    put_7bit(&b, 0x7FFFFFFF); /* data of 2 GiB - 1 */
    put(&b, "abcdefghijklmnopqrstuvwxyz0123456789", 36);
    write_bytes(F2, &b);
    put_frame(&b, 3, "a", "z");
    write_bytes(F3, &b);
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 2);
    ck_assert_str_eq(out, "a:1.1 a:2.2 a:3.3");
}
END_TEST

/* V1 stores (IDDD sample): i32 data length, detected per file. */
START_TEST(test_store_v1_store)
{
    struct bytes b = {0};
    char out[256];
    size_t start;

    put_frame_fmt(&b, 1, 1, "customer-1", 10, "abc", 3);
    put_frame_fmt(&b, 1, 1, "customer-2", 10, "", 0);
    put_frame_fmt(&b, 1, 2, "customer-1", 10, "defg", 4);
    start = b.n;
    put_frame_fmt(&b, 1, 3, "customer-1", 10, "torn", 4);
    b.n = start + 30;
    write_bytes(F1, &b);
    put_frame(&b, 3, "customer-1", "v2 file");
    write_bytes(F2, &b);
    put_frame_fmt(&b, 1, 2, "customer-2", 10, "v1 again", 8);
    put_frame_fmt(&b, 1, 1, "k", 1, "", 0);
    write_bytes(F3, &b);
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 1);
    ck_assert_str_eq(out, "customer-1:1.1 customer-2:2.1 customer-1:3.2 "
                          "customer-1:4.3 customer-2:5.2 k:6.1");
}
END_TEST

/* V1 without the hash check (.NET V1 file reader): a wrong hash passes, an
** all-zero hash does not. */
START_TEST(test_store_v1_no_hash)
{
    struct bytes b = {0};
    char out[256];
    size_t start;

    put_frame_fmt(&b, 1, 1, "a", 1, "abc", 3);
    start = b.n;
    put_frame_fmt(&b, 1, 2, "a", 1, "def", 3);
    b.p[b.n - 1] ^= 1;
    put_frame_fmt(&b, 1, 3, "a", 1, "ghi", 3);
    memset(b.p + b.n - 20, 0, 20);
    put_frame_fmt(&b, 1, 4, "a", 1, "lost", 4);
    write_bytes(F1, &b);
    (void)start;
    ck_assert_uint_eq(read_store(out, sizeof(out), RP_STORE_V1_NO_HASH), 1);
    ck_assert_str_eq(out, "a:1.1 a:2.2");
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 1);
    ck_assert_str_eq(out, "a:1.1");
}
END_TEST

/* .NET V1 accepts a last frame whose hash is torn (spec 7.1 b); reading
** goes on at the frame's true end when the rest arrives, and a position
** saved on that frame is sought once it is whole. */
START_TEST(test_store_v1_torn_hash)
{
    struct bytes b = {0}, more = {0};
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    struct rp_store_pos torn;
    size_t cut;

    put_frame_fmt(&b, 1, 1, "a", 1, "abc", 3);
    put_frame_fmt(&b, 1, 2, "a", 1, "def", 3);
    cut = b.n - 13;
    write_file(F1, b.p, cut, "wb");
    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    rp_store_set_options(st, RP_STORE_V1_NO_HASH);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_uint_eq(rec.store_version, 2);
    ck_assert_uint_eq(rec.end, b.n);
    ck_assert_mem_eq(rec.sha1, b.p + b.n - 20, 7);
    ck_assert_mem_eq(rec.sha1 + 7, "\0\0\0\0\0\0\0\0\0\0\0\0\0", 13);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 0);
    rp_store_get_pos(st, &torn);
    put(&more, b.p + cut, 13);
    put_frame_fmt(&more, 1, 3, "a", 1, "ghi", 3);
    write_file(F1, more.p, more.n, "ab");
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_uint_eq(rec.store_version, 3);
    ck_assert_uint_eq(rec.offset, b.n);
    ck_assert_mem_eq(rec.data, "ghi", 3);
    ck_assert_uint_eq(rp_store_warnings(st), 0);
    ck_assert_msg(rp_store_seek(st, &torn, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_uint_eq(rec.store_version, 3);
    torn.sha1[0] ^= 1;
    ck_assert_int_eq(rp_store_seek(st, &torn, &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "hash"));
    rp_store_close(st);
    free(b.p);
    free(more.p);
}
END_TEST

/* A torn-hash frame is accepted only with a UTF-8 key, and the empty frame
** (stamp 0, empty key and data) ends the file, as for a whole frame. */
START_TEST(test_store_v1_torn_hash_key_not_utf8)
{
    struct bytes b = {0};
    char out[256];

    put_frame_fmt(&b, 1, 1, "a", 1, "abc", 3);
    put_frame_fmt(&b, 1, 1, "k\xff", 2, "def", 3);
    b.n -= 7;
    write_bytes(F1, &b);
    ck_assert_uint_eq(read_store(out, sizeof(out), RP_STORE_V1_NO_HASH), 1);
    ck_assert_str_eq(out, "a:1.1");
    for (size_t cut = 1; cut < 20; cut++) {
        put_frame_fmt(&b, 1, 1, "a", 1, "abc", 3);
        put_frame_fmt(&b, 1, 0, "", 0, "", 0);
        if (b.p[b.n - 20] == 0)
            b.p[b.n - 20] = 1; /* a torn hash that is all zero is padding */
        b.n -= cut;
        write_bytes(F1, &b);
        ck_assert_uint_eq(read_store(out, sizeof(out), RP_STORE_V1_NO_HASH), 1);
        ck_assert_msg(strcmp(out, "a:1.1") == 0, "cut %zu: %s", cut, out);
    }
}
END_TEST

/* Names: .dat in any case, byte-wise order, top level only, no other
** files; mixed digit counts are reported. */
START_TEST(test_store_file_names)
{
    struct bytes b = {0};
    char out[256], path[600];

    put_frame(&b, 1, "d", "x");
    write_bytes("00000003-2013-03-15-093012.DAT", &b);
    put_frame(&b, 1, "b", "x");
    write_bytes("00000002-2013-03-15-093012.Dat", &b);
    put_frame(&b, 1, "a", "x");
    write_bytes("00000001-2013-03-15-093012.dat", &b);
    put_frame(&b, 1, "x", "x");
    write_bytes("00000000-2013-03-15-093012.data", &b);
    put_frame(&b, 1, "y", "x");
    write_bytes("lock", &b);
    put_frame(&b, 1, "z", "x");
    write_bytes("00000009.dat.bak", &b);
    snprintf(path, sizeof(path), "%s/00000005-sub.dat", tmpdir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 0);
    ck_assert_str_eq(out, "a:1.1 b:2.1 d:3.1");
    put_frame(&b, 1, "e", "x");
    write_bytes("100000000-2013-03-15-093012.dat", &b);
    /* byte-wise order: "00000003-..." < "100000000-..."; reported */
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 1);
    ck_assert_str_eq(out, "a:1.1 b:2.1 d:3.1 e:4.1");
}
END_TEST

START_TEST(test_store_stamp_differs)
{
    struct bytes b = {0};
    char out[256];

    put_frame(&b, 1, "a", "x");
    put_frame(&b, 1, "a", "x"); /* SLAV-style stamp 1 */
    put_frame(&b, 7, "b", "x");
    put_frame(&b, 2, "b", "x");
    write_bytes(F1, &b);
    ck_assert_uint_eq(read_store(out, sizeof(out), 0), 2);
    ck_assert_str_eq(out, "a:1.1 a:2.2 b:3.1 b:4.2");
}
END_TEST

/* Many small frames: the read buffer is refilled with frames across its
** edge. */
START_TEST(test_store_many_frames)
{
    struct bytes b = {0};
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    char key[32];
    uint64_t n = 0;

    for (int i = 0; i < 40000; i++) {
        snprintf(key, sizeof(key), "k%d", i % 97);
        put_frame(&b, i / 97 + 1, key, "0123456789012345678901234567890");
    }
    write_bytes(F1, &b);
    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    while (rp_store_next(st, &rec, &err) == 1) {
        snprintf(key, sizeof(key), "k%d", (int)(n % 97));
        ck_assert_str_eq(rec.key, key);
        ck_assert_uint_eq(rec.stream_version, n / 97 + 1);
        ck_assert_uint_eq(rec.store_version, ++n);
    }
    ck_assert_uint_eq(n, 40000);
    ck_assert_uint_eq(rp_store_key_count(st), 97);
    ck_assert_uint_eq(rp_store_warnings(st), 0);
    rp_store_close(st);
}
END_TEST

/* ---- live stores ---- */

START_TEST(test_store_live_torn_tail_completed)
{
    struct bytes b = {0};
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    size_t start;

    put_frame(&b, 1, "a", "x");
    start = b.n;
    put_frame(&b, 2, "a", "second");
    write_file(F1, b.p, start + 15, "wb");
    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 0);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 0);
    /* the write completes */
    write_file(F1, b.p + start + 15, b.n - start - 15, "ab");
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_uint_eq(rec.store_version, 2);
    ck_assert_uint_eq(rec.stream_version, 2);
    ck_assert_uint_eq(rec.offset, start);
    ck_assert_mem_eq(rec.data, "second", 6);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 0);
    /* the file grows by a whole frame */
    free(b.p);
    memset(&b, 0, sizeof(b));
    put_frame(&b, 1, "b", "third");
    write_file(F1, b.p, b.n, "ab");
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_str_eq(rec.key, "b");
    ck_assert_uint_eq(rec.store_version, 3);
    ck_assert_uint_eq(rp_store_warnings(st), 0);
    rp_store_close(st);
    free(b.p);
}
END_TEST

START_TEST(test_store_live_new_file)
{
    struct bytes b = {0};
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    size_t start;

    /* an empty folder is a store not yet written to */
    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    ck_assert_uint_eq(rp_store_file_count(st), 0);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 0);
    put_frame(&b, 1, "a", "x");
    start = b.n;
    put_frame(&b, 2, "a", "torn");
    write_file(F1, b.p, start + 20, "wb");
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 0);
    ck_assert_uint_eq(rp_store_warnings(st), 0);
    /* a new writer session: the torn frame is final now */
    free(b.p);
    memset(&b, 0, sizeof(b));
    put_frame(&b, 2, "a", "y");
    write_bytes(F2, &b);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_str_eq(rec.file, F2);
    ck_assert_uint_eq(rec.store_version, 2);
    ck_assert_uint_eq(rec.stream_version, 2);
    ck_assert_uint_eq(rp_store_warnings(st), 1);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 0);
    put_frame(&b, 1, "c", "z");
    write_bytes(F3, &b);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_str_eq(rec.file, F3);
    ck_assert_uint_eq(rec.store_version, 3);
    rp_store_close(st);
}
END_TEST

START_TEST(test_store_live_shrink_and_vanish)
{
    struct bytes b = {0};
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    char path[600];

    put_frame(&b, 1, "a", "x");
    put_frame(&b, 2, "a", "y");
    write_bytes(F1, &b);
    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    snprintf(path, sizeof(path), "%s/%s", tmpdir, F1);
    ck_assert_int_eq(truncate(path, 10), 0);
    ck_assert_int_lt(rp_store_next(st, &rec, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, F1));
    ck_assert_ptr_nonnull(strstr(err.msg, "shrank"));
    rp_store_close(st);

    put_frame(&b, 1, "a", "x");
    write_bytes(F1, &b);
    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_lt(rp_store_next(st, &rec, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, F1));
    ck_assert_ptr_nonnull(strstr(err.msg, "vanished"));
    rp_store_close(st);

    /* a listed file removed before it is reached */
    put_frame(&b, 1, "a", "x");
    write_bytes(F1, &b);
    put_frame(&b, 1, "b", "x");
    write_bytes(F2, &b);
    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    snprintf(path, sizeof(path), "%s/%s", tmpdir, F2);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), RP_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.msg, F2));
    rp_store_close(st);
}
END_TEST

static int
stop_at_b(void *ctx, const char *key, size_t key_len, uint64_t count)
{
    (void)ctx;
    return key_len == 1 && key[0] == 'b' ? (int)count + 100 : 0;
}

/* The count map: set, read back, listed, and stopped by the callback. */
START_TEST(test_store_counts)
{
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    char key[32];

    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    ck_assert_uint_eq(rp_store_stream_version(st, "a", 1), 0);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        rp_store_set_stream_version(st, key, strlen(key), (uint64_t)i + 1);
    }
    rp_store_set_stream_version(st, "b", 1, 7);
    rp_store_set_stream_version(st, "b\0c", 3, 9);
    ck_assert_uint_eq(rp_store_key_count(st), 5002);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        ck_assert_uint_eq(rp_store_stream_version(st, key, strlen(key)),
                          (uint64_t)i + 1);
    }
    ck_assert_uint_eq(rp_store_stream_version(st, "b", 1), 7);
    ck_assert_uint_eq(rp_store_stream_version(st, "b\0c", 3), 9);
    ck_assert_uint_eq(rp_store_stream_version(st, "B", 1), 0);
    ck_assert_int_eq(rp_store_foreach_count(st, stop_at_b, NULL), 107);
    rp_store_close(st);
}
END_TEST

/* ---- resume ---- */

static void
make_three_files(void)
{
    struct bytes b = {0};

    put_frame(&b, 1, "a", "1");
    put_frame(&b, 1, "b", "2");
    write_bytes(F1, &b);
    put_frame(&b, 2, "a", "3");
    put_frame(&b, 3, "a", "4");
    write_bytes(F2, &b);
    put_frame(&b, 2, "b", "5");
    write_bytes(F3, &b);
}

static int
sum_counts(void *ctx, const char *key, size_t key_len, uint64_t count)
{
    uint64_t *sum = ctx;

    (void)key;
    (void)key_len;
    *sum += count;
    return 0;
}

START_TEST(test_store_seek_good_hint)
{
    struct rp_store *st = NULL, *st2 = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    struct rp_store_pos pos;
    uint64_t sum = 0;

    make_three_files();
    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    rp_store_get_pos(st, &pos);
    ck_assert_uint_eq(pos.store_version, 3);
    ck_assert_str_eq(pos.file, F2);
    ck_assert_uint_eq(pos.offset, 0);
    ck_assert_int_eq(rp_store_foreach_count(st, sum_counts, &sum), 0);
    ck_assert_uint_eq(sum, 3);

    ck_assert_int_eq(rp_store_open(&st2, tmpdir, &err), 0);
    ck_assert_int_eq(rp_store_seek(st2, &pos, &err), 0);
    rp_store_set_stream_version(st2, "a", 1, 2);
    rp_store_set_stream_version(st2, "b", 1, 1);
    ck_assert_int_eq(rp_store_next(st2, &rec, &err), 1);
    ck_assert_uint_eq(rec.store_version, 4);
    ck_assert_uint_eq(rec.stream_version, 3);
    ck_assert_str_eq(rec.key, "a");
    ck_assert_int_eq(rp_store_next(st2, &rec, &err), 1);
    ck_assert_uint_eq(rec.store_version, 5);
    ck_assert_uint_eq(rec.stream_version, 2);
    ck_assert_str_eq(rec.file, F3);
    ck_assert_int_eq(rp_store_next(st2, &rec, &err), 0);
    /* position 0 is the start */
    memset(&pos, 0, sizeof(pos));
    ck_assert_int_eq(rp_store_seek(st2, &pos, &err), 0);
    ck_assert_int_eq(rp_store_next(st2, &rec, &err), 1);
    ck_assert_uint_eq(rec.store_version, 1);
    /* skipping by scanning */
    ck_assert_int_eq(rp_store_skip(st2, 3, &err), 1);
    ck_assert_int_eq(rp_store_next(st2, &rec, &err), 1);
    ck_assert_uint_eq(rec.store_version, 4);
    ck_assert_uint_eq(rec.stream_version, 3);
    ck_assert_int_eq(rp_store_skip(st2, 9, &err), 0);
    rp_store_close(st);
    rp_store_close(st2);
}
END_TEST

START_TEST(test_store_seek_bad_hints)
{
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    struct rp_record rec;
    struct rp_store_pos pos, bad;

    make_three_files();
    ck_assert_int_eq(rp_store_open(&st, tmpdir, &err), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    rp_store_get_pos(st, &pos);
    ck_assert_uint_gt(pos.offset, 0);

    bad = pos;
    bad.sha1[3] ^= 1;
    ck_assert_int_eq(rp_store_seek(st, &bad, &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, F2));
    ck_assert_ptr_nonnull(strstr(err.msg, "hash"));

    bad = pos;
    bad.end++;
    ck_assert_int_eq(rp_store_seek(st, &bad, &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "ends elsewhere"));

    bad = pos;
    bad.offset--;
    ck_assert_int_eq(rp_store_seek(st, &bad, &err), RP_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "offset"));

    bad = pos;
    snprintf(bad.file, sizeof(bad.file), "00000009-2013-03-15-093012.dat");
    ck_assert_int_eq(rp_store_seek(st, &bad, &err), RP_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.msg, "00000009-2013-03-15-093012.dat"));

    ck_assert_int_eq(rp_store_seek(st, &pos, &err), 0);
    ck_assert_int_eq(rp_store_next(st, &rec, &err), 1);
    ck_assert_uint_eq(rec.store_version, 5);
    rp_store_close(st);
}
END_TEST

START_TEST(test_store_open_errors)
{
    struct rp_store *st = NULL;
    struct rp_error err = {0};
    char path[600];

    snprintf(path, sizeof(path), "%s/missing", tmpdir);
    ck_assert_int_eq(rp_store_open(&st, path, &err), RP_ENOENT);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    write_file("plain", "x", 1, "wb");
    snprintf(path, sizeof(path), "%s/plain", tmpdir);
    ck_assert_int_eq(rp_store_open(&st, path, &err), RP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a folder"));
}
END_TEST

Suite *store_suite(void);

Suite *
store_suite(void)
{
    TCase *core, *limits, *errors;
    Suite *s = rp_test_suite("store", &core, &limits, &errors, setup, teardown);

    tcase_add_test(core, test_store_spec_one_frame);
    tcase_add_test(core, test_store_spec_v1_frame);
    tcase_add_test(core, test_store_spec_end_marker);
    tcase_add_test(core, test_store_spec_versions_across_files);
    tcase_add_test(core, test_store_keys_case_and_unicode);
    tcase_add_test(core, test_store_v1_store);
    tcase_add_test(core, test_store_file_names);
    tcase_add_test(core, test_store_stamp_differs);
    tcase_add_test(core, test_store_live_torn_tail_completed);
    tcase_add_test(core, test_store_live_new_file);
    tcase_add_test(core, test_store_seek_good_hint);
    tcase_add_test(core, test_store_counts);
    /* The limits loops write and read the store hundreds of times: several
    ** seconds with sanitizers on a busy machine. */
    tcase_set_timeout(limits, 60);
    tcase_set_timeout(errors, 60); /* as slow, for the same reasons */
    tcase_add_test(limits, test_store_torn_every_position);
    tcase_add_test(limits, test_store_zero_tails);
    tcase_add_test(limits, test_store_zero_length_file);
    tcase_add_test(limits, test_store_blob_image);
    tcase_add_test(limits, test_store_long_keys_and_data);
    tcase_add_test(limits, test_store_huge_lengths);
    tcase_add_test(limits, test_store_many_frames);
    tcase_add_test(errors, test_store_flipped_bit);
    tcase_add_test(errors, test_store_empty_frame);
    tcase_add_loop_test(errors, test_store_first_frame_bad, 0, 4);
    tcase_add_loop_test(errors, test_store_r2_bad_frames, 0, 9);
    tcase_add_test(errors, test_store_v1_no_hash);
    tcase_add_test(errors, test_store_v1_torn_hash);
    tcase_add_test(errors, test_store_v1_torn_hash_key_not_utf8);
    tcase_add_test(errors, test_store_live_shrink_and_vanish);
    tcase_add_test(errors, test_store_seek_bad_hints);
    tcase_add_test(errors, test_store_open_errors);
    return s;
}
