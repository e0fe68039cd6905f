/* Logging: one line per event worth knowing, on stderr, with a level.
** Messages never carry credentials: callers pass URLs without user info. */
#ifndef RP_LOG_H
#define RP_LOG_H

enum rp_log_level {
    RP_LOG_ERROR, /* the run stops, or data could be at risk */
    RP_LOG_WARN,  /* something is wrong but handled (corrupt frame, outage) */
    RP_LOG_INFO,  /* start, resume point, outage end, stop */
    RP_LOG_DEBUG  /* per request detail */
};

/* Set the most detailed level printed (default RP_LOG_INFO). */
void rp_log_set_level(enum rp_log_level level);
/* Parse "error", "warn", "info" or "debug".  Returns 0 or RP_EINVAL. */
int rp_log_parse_level(const char *name, enum rp_log_level *out);
/* 1 when 'level' would be printed. */
int rp_log_enabled(enum rp_log_level level);
/* Print "replicator: <level>: <message>\n" to stderr when enabled. */
void rp_log(enum rp_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Show 'text' (one line, no newline) as a status line at the bottom of a
** terminal, redrawn after each log line; NULL or "" removes it.  For
** terminals only: the caller checks isatty(2). */
void rp_log_status(const char *text);

#endif
