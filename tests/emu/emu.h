/* The EventStoreDB HTTP emulator (test equipment): the types shared by its
** event loop (server.c), its store (store.c), its request handlers (api.c,
** read.c) and its command line (main.c). */
#ifndef EMU_H
#define EMU_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Version profiles: which server generation the answers imitate. */
enum emu_profile { EMU_V5, EMU_V20, EMU_V23, EMU_V25 };

/* Event flags. */
#define EMU_EV_JSON 1     /* the event's isJson */
#define EMU_EV_DATA_FMT 2 /* data is JSON text shown re-indented */
#define EMU_EV_META_FMT 4 /* metadata is JSON text shown re-indented */

/* One stored event.  Strings live in the store's arena. */
struct emu_event {
    unsigned char id[16]; /* event id, bytes in text order */
    uint32_t flags;       /* EMU_EV_* */
    uint32_t type_len;    /* bytes in 'type' */
    uint32_t data_len;    /* bytes in 'data' */
    uint32_t meta_len;    /* bytes in 'meta' */
    const char *type;     /* event type */
    const char *data;     /* data as sent (see EMU_EV_DATA_FMT) */
    const char *meta;     /* metadata as sent, "" when none */
    int64_t created_us;   /* Unix time of the write, microseconds */
};

/* Stream states. */
#define EMU_LIVE 0
#define EMU_SOFT_DELETED 1
#define EMU_HARD_DELETED 2

/* One stream.  Event number n is ev[n]. */
struct emu_stream {
    char *name;             /* NUL-terminated */
    size_t name_len;        /* bytes in 'name' */
    struct emu_event *ev;   /* events, numbered from 0 */
    size_t count;           /* events written (last number + 1) */
    size_t cap;             /* slots in 'ev' */
    int state;              /* EMU_LIVE, EMU_SOFT_DELETED, EMU_HARD_DELETED */
    size_t first_visible;   /* events below this number are truncated */
    uint32_t *cache;        /* -2 idempotency cache: open addressing table
                               of event numbers + 1, 0 = empty */
    size_t cache_cap;       /* slots in 'cache' (a power of two or 0) */
    size_t cache_used;      /* filled slots */
    size_t cache_upto;      /* events from here on are cached but not yet
                               in the table; a clear moves it to the end */
    struct emu_stream *all; /* next stream in creation order */
};

/* An event of an append request before it is stored: pointers borrowed from
** the request. */
struct emu_new_event {
    unsigned char id[16];
    uint32_t flags;
    const char *type;
    size_t type_len;
    const char *data;
    size_t data_len;
    const char *meta;
    size_t meta_len;
};

struct emu_store;

/* Outcomes of an append check (spec 3.2). */
enum emu_decision {
    EMU_APPEND,     /* write the batch; *first = its first number */
    EMU_IDEMPOTENT, /* already there; *first = its original number */
    EMU_WEV,        /* wrong expected version; *current = last number */
    EMU_DELETED     /* 410 */
};

void emu_store_new(struct emu_store **out);
void emu_store_free(struct emu_store *st);
/* Open (create) the append-only log 'path', replay it, and log every later
** change there.  A torn last line is dropped with a message on stderr.
** Returns 0 or RP_EIO/RP_EFORMAT with the place in err. */
int emu_store_open_log(struct emu_store *st, const char *path,
                       struct rp_error *err);
struct emu_stream *emu_store_find(struct emu_store *st, const char *name,
                                  size_t len);
/* Decide what an append of 'n' events with expected version 'expected' to
** stream 'name' does (nothing is changed).  Sets *first and *current. */
enum emu_decision emu_store_check(struct emu_store *st, const char *name,
                                  size_t len, int64_t expected,
                                  const struct emu_new_event *evs, size_t n,
                                  int64_t *first, int64_t *current);
/* Append 'n' events to stream 'name' (created if needed); returns the number
** of the first one.  Logs the change when a log is open. */
int64_t emu_store_append(struct emu_store *st, const char *name, size_t len,
                         const struct emu_new_event *evs, size_t n);
/* Delete stream 'name' (soft, or hard when 'hard'). */
void emu_store_delete(struct emu_store *st, const char *name, size_t len,
                      int hard);
/* Forget the -2 idempotency cache of every stream. */
void emu_store_clear_cache(struct emu_store *st);
/* The first stream in creation order (then s->all). */
struct emu_stream *emu_store_streams(struct emu_store *st);
/* Counters. */
size_t emu_store_stream_count(const struct emu_store *st);
uint64_t emu_store_event_count(const struct emu_store *st);
/* The global log: event 'pos' (0-based, in commit order) of every stream,
** for $all.  Returns 0 when pos is past the end. */
int emu_store_global(const struct emu_store *st, uint64_t pos,
                     struct emu_stream **s, size_t *num);
uint64_t emu_store_global_count(const struct emu_store *st);

/* Helpers shared by the handlers. */
/* Parse a GUID in the .NET formats D, N, B and P.  Returns 0 or -1. */
int emu_uuid_parse(unsigned char out[16], const char *s, size_t n);
/* Format as lower-case D (36 chars + NUL). */
void emu_uuid_format(char out[37], const unsigned char id[16]);
/* Append 'n' bytes as a JSON string; invalid UTF-8 becomes U+FFFD. */
void emu_json_add_lossy(struct rp_buf *b, const char *s, size_t n);
/* Append JSON text 's' re-indented the way the server stores it (two
** spaces, "key": value).  Returns 0, or -1 (then nothing is appended) when
** 's' is not valid JSON. */
int emu_json_indent(struct rp_buf *b, const char *s, size_t n);
/* The bytes of data or metadata as a client sees them: formatted into 'tmp'
** when needed.  Returns a pointer to them and their length in *len. */
const char *emu_event_data(const struct emu_event *e, struct rp_buf *tmp,
                           size_t *len);
const char *emu_event_meta(const struct emu_event *e, struct rp_buf *tmp,
                           size_t *len);
/* Wall-clock Unix time in microseconds. */
int64_t emu_unix_us(void);
/* ISO-8601 UTC with 7 fraction digits and Z. */
void emu_format_time(char out[40], int64_t us);

/* ---- HTTP requests and replies ---- */

#define EMU_MAX_HEADERS 100

struct emu_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct emu_request {
    int node;           /* cluster node that received it */
    const char *method; /* e.g. "POST" (NUL-terminated copy) */
    const char *target; /* raw request target: path and query */
    size_t target_len;
    const char *path; /* path part of target (not decoded) */
    size_t path_len;
    const char *query; /* after '?', or NULL */
    size_t query_len;
    size_t nheaders;
    struct emu_header headers[EMU_MAX_HEADERS];
    const char *body;
    size_t body_len;
    uint64_t start_ms; /* when its first byte arrived (monotonic) */
    int no_park;       /* a long poll is over: answer now */
};

/* What the loop does with a reply. */
#define EMU_SEND 0 /* send it */
#define EMU_DROP 1 /* close the connection without answering */

struct emu_reply {
    int status;
    char reason[256];
    struct rp_buf headers; /* extra "Name: value\r\n" lines */
    struct rp_buf body;
    int action;        /* EMU_SEND or EMU_DROP */
    uint64_t delay_ms; /* wait this long before acting */
    uint64_t park_ms;  /* > 0: a long poll; hold the request and handle it
                          again after the next write, or after this long
                          with no_park set */
    int close;         /* close after sending */
};

/* ---- the server ---- */

#define EMU_MAX_NODES 9

/* Fault kinds. */
enum emu_fault_kind {
    EMU_F_NONE,
    EMU_F_NOT_READY,
    EMU_F_TIMEOUT_COMMITTED,
    EMU_F_TIMEOUT_UNCOMMITTED,
    EMU_F_DROP_BEFORE,
    EMU_F_DROP_AFTER,
    EMU_F_SLOW,
    EMU_F_REQUEST_TIMEOUT,
    EMU_F_IDEMPOTENT_NOT_READY,
    EMU_F_COUNT
};

struct emu_fault {
    int kind;       /* enum emu_fault_kind */
    uint64_t count; /* matching appends still to hit */
    char *stream;   /* only appends to this stream, or NULL */
    uint64_t ms;    /* for slow */
    struct emu_fault *next;
};

struct emu_user {
    char *name;
    char *pass;
    int admin;
};

struct emu_server {
    int profile;         /* enum emu_profile */
    int atompub;         /* AtomPub routes on */
    int anonymous;       /* anonymous access to user streams */
    int write_on_413;    /* a 413 still writes the batch */
    uint64_t latency_ms; /* added to every answer */
    uint64_t write_timeout_ms;
    uint64_t request_timeout_ms;
    double fault_rate;    /* probability of a random fault per append */
    unsigned fault_kinds; /* bit mask of kinds drawn at random */
    uint64_t rng;         /* xorshift state */
    size_t nusers;
    struct emu_user users[8];
    struct emu_fault *faults; /* armed faults, in arming order */
    int nnodes;               /* 1, or the cluster size */
    int ports[EMU_MAX_NODES]; /* HTTP port of each node */
    unsigned char instance[EMU_MAX_NODES][16];
    int leader; /* node index, or -1 during an election */
    struct emu_store *store;
    /* statistics */
    uint64_t n_requests, n_appends, n_writes, n_idempotent, n_faults;
    uint64_t n_reads;
    uint64_t n_connections;
};

/* The fault kind named by the 'n' bytes of 's', or -1. */
int emu_fault_kind(const char *s, size_t n);
/* The next number of a splitmix64 sequence. */
uint64_t emu_rand(uint64_t *state);

/* Handle one complete request, filling 'rep' (initialised by the caller). */
void emu_handle(struct emu_server *srv, const struct emu_request *req,
                struct emu_reply *rep);
/* Read handlers (read.c): GET on /streams/... */
void emu_read(struct emu_server *srv, const struct emu_request *req,
              struct emu_reply *rep, const char *stream, size_t stream_len,
              char **segs, size_t nsegs, int admin);

/* May a caller of access level 'level' (0 anonymous, 1 user, 2 admin) use
** stream 'name'? */
int emu_read_allowed(const struct emu_server *srv, int level, const char *name,
                     size_t len);
/* Header lookup, case-insensitive; NULL when absent. */
const struct emu_header *emu_header_get(const struct emu_request *req,
                                        const char *name);
/* A profile-aware header: in v25 Kurrent-<name> first, then ES-<name>. */
const struct emu_header *emu_es_header(const struct emu_server *srv,
                                       const struct emu_request *req,
                                       const char *suffix);
/* "true"/"false" in any case: 1/0; absent: 'dflt'; otherwise -1. */
int emu_header_bool(const struct emu_header *h, int dflt);
/* The value of query parameter 'key' (not decoded) or NULL. */
const char *emu_query_get(const struct emu_request *req, const char *key,
                          size_t *len);
void emu_reply_status(struct emu_reply *rep, int status, const char *reason);
void emu_reply_header(struct emu_reply *rep, const char *name, const char *fmt,
                      ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* 400 with the message in the reason phrase (v5, v20) or the body. */
void emu_reply_bad(const struct emu_server *srv, struct emu_reply *rep,
                   const char *msg);
/* "http://host:port" for this request (Host header, else the node). */
void emu_base_url(const struct emu_server *srv, const struct emu_request *req,
                  struct rp_buf *out);
/* Append 'n' bytes percent-escaped like .NET Uri.EscapeDataString. */
void emu_escape(struct rp_buf *b, const char *s, size_t n);

/* Catch SIGTERM/SIGINT from now on: call it first, so that a signal at any
** time, even before the ready line, means a prompt exit 0. */
void emu_loop_signals(void);
/* Whether SIGTERM/SIGINT has come (a long start-up step checks it). */
int emu_loop_stopping(void);
/* Run the event loop until SIGTERM/SIGINT (returns at once when one came
** before).  'fds' are listening sockets, one per node.  Returns 0. */
int emu_loop_run(struct emu_server *srv, const int *fds, int n);

#endif
