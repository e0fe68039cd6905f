/* KurrentDB's gRPC answers as the sink's outcomes, without I/O: the answer
** table (docs/protocols.md has it with the HTTP API's), and what Gossip and
** ServerFeatures say.
**
**   AppendResp.success, BatchAppendResp.success    written
**   AppendResp.wrong_expected_version,
**     BatchAppend error WrongExpectedVersion       wrong expected version
**   ReadResp events / stream_not_found             events / no such stream
**   exception stream-deleted, StreamDeleted        deleted for good
**   exception not-leader                           leader elsewhere
**   UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, CANCELLED, INTERNAL, UNKNOWN,
**     BatchAppend Timeout, a lost call, HTTP 408/500/502/503/504
**                                                  unknown: the same again
**   UNAUTHENTICATED, PERMISSION_DENIED, UNIMPLEMENTED, INVALID_ARGUMENT
**     (size limits, metadata), other statuses      refused: stop
**   not HTTP/2, not application/grpc, other HTTP statuses
**                                                  refused: not a gRPC server
*/
#ifndef RP_GRPCANSWER_H
#define RP_GRPCANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "grpcwire.h"
#include "sink.h"
#include "util.h"

/* What decoded answers hold on to: unpacked messages and read events. */
struct rp_grpc_dec {
    void **msgs; /* unpacked ReadResp/AppendResp messages */
    size_t nmsgs, msgs_cap;
    struct rp_sink_read_event *events;
    size_t events_cap;
};

void rp_grpc_dec_init(struct rp_grpc_dec *d);
/* Free what the last decode kept. */
void rp_grpc_dec_reset(struct rp_grpc_dec *d);
void rp_grpc_dec_dispose(struct rp_grpc_dec *d);

/* The end of a unary or server-streaming call. */
struct rp_grpc_answer {
    int transport_error;             /* 1: the call did not complete */
    char error[400];                 /* then the transport's words */
    const struct rp_grpc_status *st; /* headers and trailers */
    const unsigned char *body;       /* the response bytes (framed messages) */
    size_t body_len;
};

/* Turn the answer to an APPEND, SET_METADATA, READ_HEAD or READ_FORWARD
** operation into its outcome.  Pointers in 'out' point into 'a' and 'd'
** until 'd' is next used.  Cannot fail: an unreadable answer is an outcome
** too. */
void rp_grpc_decode(struct rp_grpc_dec *d, const struct rp_sink_req *req,
                    const struct rp_grpc_answer *a,
                    struct rp_sink_outcome *out);

/* The outcome of every operation of a call that ended without an answer of
** its own: from the transport's error or the call's status (for instance a
** BatchAppend call ended by not-leader).  A status 0 is an unknown outcome
** here: the server ended the call without answering the operation. */
void rp_grpc_call_outcome(const struct rp_grpc_answer *a,
                          struct rp_sink_outcome *out);

/* One BatchAppendResp: its correlation id into corr[] and the outcome of
** that append into 'out'.  Returns 0, or RP_EFORMAT when the message cannot
** be read or has no correlation id. */
int rp_grpc_decode_batch(const unsigned char *msg, size_t len,
                         unsigned char corr[16], struct rp_sink_outcome *out);

/* The leader named by a ClusterInfo (Gossip.Read) for a node preference
** (enum rp_node_preference): host into 'host', port into *port.  Returns
** 1 (found), 0 (no such alive member) or RP_EFORMAT. */
int rp_grpc_decode_gossip(const unsigned char *msg, size_t len, int preference,
                          char *host, size_t size, int *port);

/* What a SupportedMethods (ServerFeatures) says: *batch set when Streams
** has BatchAppend, *duration when it takes a Duration deadline; the
** server's version into 'version'.  Returns 0 or RP_EFORMAT. */
int rp_grpc_decode_features(const unsigned char *msg, size_t len, int *batch,
                            int *duration, char *version, size_t size);

#endif
