/* What the fuzz targets share: the libFuzzer entry points, taking pieces
** off an input, a scratch folder per process, and the check that turns a
** broken promise into a crash libFuzzer reports. */
#ifndef RP_FUZZUTIL_H
#define RP_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Every target defines LLVMFuzzerTestOneInput.  LLVMFuzzerInitialize runs
** once per process (libFuzzer, or tests/fuzz/replay.c), before the first
** input; fuzzutil.c has one that only quiets the logs (errors only), which
** a target that needs more replaces with its own. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The part of an input not taken yet. */
struct rp_fuzz_in {
    const uint8_t *p; /* next byte */
    size_t n;         /* bytes left */
};

/* Take one byte; 0 once the input is used up. */
unsigned rp_fuzz_byte(struct rp_fuzz_in *in);

/* Take the bytes up to the next 'sep' byte, or to the end; the separator
** is taken too but not counted in *len.  Returns NULL (and *len 0) once
** the input is used up. */
const uint8_t *rp_fuzz_until(struct rp_fuzz_in *in, uint8_t sep, size_t *len);

/* This process's scratch folder, made at the first call in $TMPDIR (else
** /dev/shm, else /tmp) and removed, with what it holds, at exit. */
const char *rp_fuzz_dir(void);

/* Write 'n' bytes to the file 'name' of the scratch folder, opened with
** fopen 'mode' ("wb" or "ab"); the path goes to 'path' (at least 512 bytes)
** when it is not NULL.  Aborts when it cannot. */
void rp_fuzz_write(const char *name, const void *p, size_t n, const char *mode,
                   char *path);

/* Remove every file of the scratch folder. */
void rp_fuzz_clear(void);

/* A promise of the code under test was broken: print where and what to
** stderr and abort, which libFuzzer reports as a crash with the input. */
void rp_fuzz_fail(const char *file, int line, const char *what);

#define RP_FUZZ_CHECK(cond)                                                    \
    ((cond) ? (void)0 : rp_fuzz_fail(__FILE__, __LINE__, #cond))

#endif
