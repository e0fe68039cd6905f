/* gRPC on the wire, without I/O: length-prefixed messages, the status of a
** call from its headers and trailers, and the sink's operations as
** KurrentDB's protobuf requests (protobuf-c).  grpcanswer.h reads the
** answers. */
#ifndef RP_GRPCWIRE_H
#define RP_GRPCWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "sink.h"
#include "util.h"

/* gRPC status codes the answer table names. */
enum rp_grpc_code {
    RP_GRPC_OK = 0,
    RP_GRPC_CANCELLED = 1,
    RP_GRPC_UNKNOWN = 2,
    RP_GRPC_INVALID_ARGUMENT = 3,
    RP_GRPC_DEADLINE_EXCEEDED = 4,
    RP_GRPC_NOT_FOUND = 5,
    RP_GRPC_ALREADY_EXISTS = 6,
    RP_GRPC_PERMISSION_DENIED = 7,
    RP_GRPC_RESOURCE_EXHAUSTED = 8,
    RP_GRPC_FAILED_PRECONDITION = 9,
    RP_GRPC_ABORTED = 10,
    RP_GRPC_UNIMPLEMENTED = 12,
    RP_GRPC_INTERNAL = 13,
    RP_GRPC_UNAVAILABLE = 14,
    RP_GRPC_UNAUTHENTICATED = 16
};

/* The most bytes of one message read from the server. */
#define RP_GRPC_MAX_MESSAGE (64u << 20)

/* ---- framing ---- */

/* Append the length-prefixed form of 'n' bytes (flag 0, not compressed). */
int rp_grpc_frame(struct rp_buf *out, const void *msg, size_t n);

/* Splits the bytes of a response into messages, across any cut. */
struct rp_grpc_reader {
    struct rp_buf buf; /* bytes not yet given out */
    size_t off;        /* start of the next message in buf */
};

void rp_grpc_reader_init(struct rp_grpc_reader *r);
void rp_grpc_reader_dispose(struct rp_grpc_reader *r);
/* Forget everything (a new call). */
void rp_grpc_reader_reset(struct rp_grpc_reader *r);
/* Add 'n' bytes of the response. */
void rp_grpc_reader_feed(struct rp_grpc_reader *r, const void *data, size_t n);
/* The next whole message: 1 with *msg and *len set (valid until the next
** feed or reset), 0 when more bytes are needed, RP_EFORMAT (compressed, or
** longer than RP_GRPC_MAX_MESSAGE) with err set. */
int rp_grpc_reader_next(struct rp_grpc_reader *r, const unsigned char **msg,
                        size_t *len, struct rp_error *err);
/* 1 when bytes of an unfinished message are left. */
int rp_grpc_reader_partial(const struct rp_grpc_reader *r);

/* ---- the status of a call ---- */

struct rp_grpc_status {
    long http_status;      /* the HTTP status, 0 before one came */
    int http_version;      /* 2 when the answer came over HTTP/2, 1 if not,
                              0 unknown */
    int grpc_content;      /* 1: content-type application/grpc[+...] */
    char content_type[64]; /* as sent, for messages */
    int code;              /* grpc-status, -1 when none came */
    char message[256];     /* grpc-message, percent-decoded */
    char exception[64];    /* the server's "exception" */
    char leader_host[256]; /* leader-endpoint-host */
    int leader_port;       /* leader-endpoint-port, 0 when none */
    char limit[32];        /* maximum-append-size or
                              maximum-append-event-size, for messages */
    long pushback_ms;      /* grpc-retry-pushback-ms, -1 when none */
};

void rp_grpc_status_init(struct rp_grpc_status *st);
/* Take one header or trailer line as libcurl gives it ("HTTP/2 200",
** "grpc-status: 14", with or without the line end). */
void rp_grpc_status_header(struct rp_grpc_status *st, const char *line,
                           size_t len);

/* ---- requests ---- */

/* Scratch space of the request builders, reused from call to call. */
struct rp_grpc_enc {
    void *mem;          /* per-event message structs */
    size_t cap;         /* bytes at mem */
    struct rp_buf text; /* NUL-terminated copies of event types */
    struct rp_buf msg;  /* one packed message */
};

void rp_grpc_enc_init(struct rp_grpc_enc *e);
void rp_grpc_enc_dispose(struct rp_grpc_enc *e);

/* The framed request messages of an APPEND or SET_METADATA operation for
** Streams/Append: the options (its stream, or the metastream "$$" + stream
** for metadata, with the exact expected revision or no_stream; any for
** metadata), then one message per event.  Appends to 'out'.  Returns 0 or
** RP_ELIMIT. */
int rp_grpc_append_request(struct rp_buf *out, struct rp_grpc_enc *e,
                           const struct rp_sink_req *req);

/* How BatchAppend says when a write must be done. */
struct rp_grpc_deadline {
    int duration;    /* 1: a relative Duration (22.6+), 0: a Timestamp */
    int64_t seconds; /* the Duration, or the Timestamp since the epoch */
    int32_t nanos;
};

/* The framed BatchAppendReq messages of an APPEND operation with the
** correlation id 'corr': options in the first, is_final in the last, and
** a new message before one would pass 'chunk' bytes.  Appends to 'out'.
** Returns 0 or RP_ELIMIT. */
int rp_grpc_batch_request(struct rp_buf *out, struct rp_grpc_enc *e,
                          const struct rp_sink_req *req,
                          const unsigned char corr[16],
                          const struct rp_grpc_deadline *deadline,
                          size_t chunk);

/* The framed ReadReq of a READ_HEAD or READ_FORWARD operation (at most
** 'max_count' events).  Returns 0 or RP_ELIMIT. */
int rp_grpc_read_request(struct rp_buf *out, struct rp_grpc_enc *e,
                         const struct rp_sink_req *req, size_t max_count);

/* The framed empty message (Gossip.Read, GetSupportedMethods). */
int rp_grpc_empty_request(struct rp_buf *out);

/* Event ids: the 16 bytes as UUID.Structured halves and back. */
void rp_grpc_uuid_halves(const unsigned char id[16], int64_t *msb,
                         int64_t *lsb);
void rp_grpc_uuid_bytes(unsigned char id[16], int64_t msb, int64_t lsb);

#endif
