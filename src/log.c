/* Logging to stderr with a level filter; one write per line so lines from
** several processes do not interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static enum rp_log_level max_level = RP_LOG_INFO;
/* The status line shown on a terminal, "" when none. */
static char status[256];
static const char *const names[] = {"error", "warn", "info", "debug"};

void
rp_log_set_level(enum rp_log_level level)
{
    max_level = level;
}

int
rp_log_parse_level(const char *name, enum rp_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (enum rp_log_level)i;
            return 0;
        }
    return RP_EINVAL;
}

int
rp_log_enabled(enum rp_log_level level)
{
    return level <= max_level;
}

void
rp_log(enum rp_log_level level, const char *fmt, ...)
{
    char line[1024];
    int n;
    va_list ap;

    if (!rp_log_enabled(level))
        return;
    n = snprintf(line, sizeof(line), "replicator: %s: ", names[level]);
    if (n < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    n = (int)strlen(line);
    line[n++] = '\n';
    if (status[0] != '\0') {
        /* Clear the status line, print, and draw it again below. */
        char out[sizeof(line) + sizeof(status) + 16];
        int m =
            snprintf(out, sizeof(out), "\r\033[K%.*s%s\033[K", n, line, status);

        if (m > 0 && write(STDERR_FILENO, out, (size_t)m) < 0)
            return;
        return;
    }
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}

void
rp_log_status(const char *text)
{
    char out[sizeof(status) + 16];
    int m;

    snprintf(status, sizeof(status), "%s", text ? text : "");
    m = snprintf(out, sizeof(out), "\r%s\033[K", status);
    if (m > 0 && write(STDERR_FILENO, out, (size_t)m) < 0)
        return;
}
