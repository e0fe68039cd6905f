/* EventStoreDB's HTTP API (AtomPub) as a protocol of the target: the sink's
** operations as HTTP requests, HTTP answers as the sink's outcomes (the
** answer table below), the cluster's leader from /gossip and from
** redirects.
**
**   201                                   written (Location: first number)
**   400 with ES-CurrentVersion            wrong expected version
**   200 (reads)                           events of the feed
**   404 (reads)                           no such stream
**   410                                   deleted for good
**   connection error, timeout, 408, 500, 502, 503, 504
**                                         unknown: the same request again
**   307/308                               followed by the transport
**   401, 404, 406, 413, 415, other        refused: stop
*/
#ifndef RP_ATOMPUB_H
#define RP_ATOMPUB_H

#include <stddef.h>

#include "http.h"
#include "json.h"
#include "sink.h"
#include "target.h"
#include "util.h"

/* One operation as an HTTP request. */
struct rp_atompub_msg {
    int post;                /* 1: POST 'body', 0: GET */
    struct rp_buf path;      /* path and query after the node's URL */
    struct rp_buf body;      /* the POST body */
    char version_header[48]; /* "ES-ExpectedVersion: N" */
    const char *headers[8];  /* NULL-terminated; point into the message */
};

void rp_atompub_msg_init(struct rp_atompub_msg *m);
void rp_atompub_msg_dispose(struct rp_atompub_msg *m);

/* Encode 'req' into 'm' (replacing what it held).  Returns 0 or
** RP_ELIMIT. */
int rp_atompub_encode(struct rp_atompub_msg *m, const struct rp_sink_req *req);

/* Append event 'ev' as an events+json body carries it:
** {"eventId":..,"eventType":..,"data":..,"metadata":..}; data that is not
** JSON goes as a JSON string (the server then stores its bytes).  Returns 0
** or RP_ELIMIT. */
int rp_atompub_add_event(struct rp_buf *body, const struct rp_sink_event *ev);

/* What a decoded read answer holds on to: the parsed feed and its events. */
struct rp_atompub_feed {
    struct rp_json_doc *doc;           /* the parsed answer */
    struct rp_sink_read_event *events; /* its entries, oldest first */
    size_t cap;                        /* room in 'events' */
};

/* Turn the HTTP answer 'res' to 'req' into the outcome 'out'.  The
** outcome's pointers point into 'res' and 'feed', and live until 'feed' is
** next used or disposed.  Cannot fail: an unreadable answer is an outcome
** too. */
void rp_atompub_decode(struct rp_atompub_feed *feed,
                       const struct rp_sink_req *req,
                       const struct rp_http_result *res,
                       struct rp_sink_outcome *out);
void rp_atompub_feed_dispose(struct rp_atompub_feed *feed);

/* The protocol for target.c. */
extern const struct rp_target_proto rp_atompub_proto;

#endif
