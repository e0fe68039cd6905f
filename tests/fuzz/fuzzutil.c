/* Helpers of the fuzz targets: input pieces, the scratch folder, the
** check. */
#include "fuzzutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char dir[512];

/* The default: logs quiet but for errors.  Weak, so that a target's own
** definition wins. */
__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rp_log_set_level(RP_LOG_ERROR);
    return 0;
}

unsigned
rp_fuzz_byte(struct rp_fuzz_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

const uint8_t *
rp_fuzz_until(struct rp_fuzz_in *in, uint8_t sep, size_t *len)
{
    const uint8_t *start = in->p;
    const uint8_t *end;

    *len = 0;
    if (in->n == 0)
        return NULL;
    end = memchr(in->p, sep, in->n);
    if (end == NULL) {
        *len = in->n;
        in->p += in->n;
        in->n = 0;
        return start;
    }
    *len = (size_t)(end - start);
    in->n -= *len + 1;
    in->p = end + 1;
    return start;
}

void
rp_fuzz_clear(void)
{
    DIR *d;
    struct dirent *de;
    char path[1024];

    if (dir[0] == '\0' || (d = opendir(dir)) == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
}

/* At exit: the scratch folder goes. */
static void
remove_dir(void)
{
    rp_fuzz_clear();
    rmdir(dir);
}

const char *
rp_fuzz_dir(void)
{
    const char *tmp = getenv("TMPDIR");

    if (dir[0] != '\0')
        return dir;
    /* A memory file system, when there is one, makes the targets that
    ** write files (and fsync them) fast. */
    if (tmp == NULL || tmp[0] == '\0')
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/rp-fuzz-XXXXXX", tmp);
    if (mkdtemp(dir) == NULL) {
        perror(dir);
        abort();
    }
    atexit(remove_dir);
    return dir;
}

void
rp_fuzz_write(const char *name, const void *p, size_t n, const char *mode,
              char *path)
{
    char buf[512];
    FILE *f;

    snprintf(buf, sizeof(buf), "%s/%s", rp_fuzz_dir(), name);
    if (path != NULL)
        memcpy(path, buf, sizeof(buf));
    f = fopen(buf, mode);
    if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        perror(buf);
        abort();
    }
}

void
rp_fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    abort();
}
