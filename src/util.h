/* Shared plumbing: error codes and messages, aborting allocators, bounded
** byte buffers, base64 and UTF-8 checks.  Everything here is plain C with no
** dependency beyond libc, so the emulator links it too. */
#ifndef RP_UTIL_H
#define RP_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Error codes: 0 is success, every failure is negative. */
#define RP_OK 0
#define RP_ENOENT (-1)    /* a thing looked for does not exist (yet) */
#define RP_EIO (-2)       /* a system call failed */
#define RP_EFORMAT (-3)   /* input bytes do not follow their format */
#define RP_EINVAL (-4)    /* a caller or user passed a bad value */
#define RP_ESCRIPT (-5)   /* the Lua script failed or returned nonsense */
#define RP_ELIMIT (-6)    /* a configured limit was reached */
#define RP_ENET (-7)      /* the target could not be reached */
#define RP_ECONFLICT (-8) /* the target holds events that are not ours */
#define RP_EREFUSED (-9)  /* the target refused a request for good */
#define RP_EAGAIN (-10)   /* try again later: nothing is wrong yet */
#define RP_ESTOP (-11)    /* a stop was requested (signal) */

/* The details of a failure: set by the function that failed, read by the
** caller that decides what to do.  'msg' names the place (file and offset,
** key, script line) so that it can be shown as it is. */
struct rp_error {
    int code;      /* one of RP_E*, 0 when no error was set */
    char msg[512]; /* human-readable, one line, no trailing newline */
};

/* Set 'err' (may be NULL) to 'code' and the printf-style message.
** Returns 'code' so that callers can write 'return rp_error_set(...)'. */
int rp_error_set(struct rp_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefix the message already in 'err' with the printf-style text and ": ".
** Returns err->code. */
int rp_error_prefix(struct rp_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Allocators that abort the process with a message when memory runs out:
** memory is bounded by configuration, and a restart resumes from the
** checkpoint.  rp_xmalloc(0) returns a unique non-NULL pointer. */
void *rp_xmalloc(size_t n);
void *rp_xcalloc(size_t count, size_t size);
void *rp_xrealloc(void *p, size_t n);
char *rp_xstrdup(const char *s);
char *rp_xstrndup(const char *s, size_t n);

/* A growable byte buffer with a hard maximum set at init.  'data' is always
** NUL-terminated (not counted in 'len') once anything was appended. */
struct rp_buf {
    char *data; /* the bytes; NULL until the first append */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated, terminator included */
    size_t max; /* appends that would pass this length fail with RP_ELIMIT */
};

/* Initialise an empty buffer that may grow to 'max' bytes (0: SIZE_MAX/2). */
void rp_buf_init(struct rp_buf *b, size_t max);
/* Free the bytes; the buffer is then empty and may be reused. */
void rp_buf_dispose(struct rp_buf *b);
/* Forget the contents, keep the allocation. */
void rp_buf_reset(struct rp_buf *b);
/* Append 'n' bytes.  Returns 0 or RP_ELIMIT (nothing appended). */
int rp_buf_add(struct rp_buf *b, const void *p, size_t n);
/* Append a NUL-terminated string.  Returns 0 or RP_ELIMIT. */
int rp_buf_adds(struct rp_buf *b, const char *s);
/* Append one byte.  Returns 0 or RP_ELIMIT. */
int rp_buf_addc(struct rp_buf *b, char c);
/* Append printf-style text.  Returns 0 or RP_ELIMIT. */
int rp_buf_printf(struct rp_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Append 'v' in decimal (no printf: this is on hot paths).  Returns 0 or
** RP_ELIMIT. */
int rp_buf_add_u64(struct rp_buf *b, uint64_t v);
/* Make room for 'n' more bytes; returns a pointer to them (the caller then
** adds 'n' to b->len itself) or NULL when 'max' forbids it. */
char *rp_buf_reserve(struct rp_buf *b, size_t n);
/* Take the bytes out of the buffer: the caller owns and frees the returned
** string (never NULL), and the buffer is left empty. */
char *rp_buf_detach(struct rp_buf *b, size_t *len);

/* Standard base64 (RFC 4648, with padding).  Encoding appends to 'out'.
** Decoding accepts only canonical input (padding required, no whitespace)
** and returns 0, RP_EFORMAT (with the offending offset in err) or
** RP_ELIMIT. */
int rp_base64_encode(struct rp_buf *out, const void *data, size_t n);
int rp_base64_decode(struct rp_buf *out, const char *text, size_t n,
                     struct rp_error *err);

/* Returns 1 when the 'n' bytes are well-formed UTF-8 (no overlong forms, no
** encoded surrogates, nothing above U+10FFFF, no truncated sequence), else 0
** with the offset of the first bad byte in *bad (may be NULL). */
int rp_utf8_valid(const void *s, size_t n, size_t *bad);

/* Monotonic time in milliseconds and in nanoseconds. */
uint64_t rp_now_ms(void);
uint64_t rp_now_ns(void);

/* Parse the unsigned decimal number that starts 's' (a digit first: no
** sign, no space) into *out.  With 'rest' NULL the number must be the
** whole string; else *rest is set to the first byte after its digits.
** Returns 0, or -1 (not a digit first, out of range, or more text). */
int rp_parse_u64(const char *s, uint64_t *out, const char **rest);

/* FNV-1a (64 bits) of the 'n' bytes at 'p': a fast hash for tables and
** for spreading keys. */
uint64_t rp_fnv1a(const void *p, size_t n);

/* Read a whole file into 'out' (at most out->max bytes).  Returns 0,
** RP_ENOENT, RP_EIO or RP_ELIMIT, with the path in err. */
int rp_read_file(struct rp_buf *out, const char *path, struct rp_error *err);

#endif
