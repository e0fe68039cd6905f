/* Events as the target will receive them: a reusable list that holds the
** events of one or more records without a malloc per event, and the
** deterministic event ids. */
#ifndef RP_EVENT_H
#define RP_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "sha1.h"
#include "util.h"

/* One event to send.  Every pointer points into the rp_events list that
** holds the event and stays valid until that list is next changed
** (rp_events_add, rp_events_truncate, rp_events_reset, rp_events_free). */
struct rp_event {
    const char *stream;     /* target stream name, valid UTF-8, not empty */
    size_t stream_len;      /* bytes in 'stream' */
    const char *type;       /* event type, valid UTF-8, not empty */
    size_t type_len;        /* bytes in 'type' */
    const char *data;       /* JSON text exactly as in the body: a JSON string
                               literal, or an object or array */
    size_t data_len;        /* bytes in 'data' */
    const char *metadata;   /* JSON text as in the body, or NULL for none */
    size_t metadata_len;    /* bytes in 'metadata' */
    unsigned char id[16];   /* event id (deterministic by default) */
    uint64_t store_version; /* source record */
    uint32_t index;         /* position of the event in its record */
};

/* A reusable list of events; the strings live in one buffer owned by the
** list, so a reset list refills without allocating. */
struct rp_events;

/* Create an empty list.  Cannot fail (aborts when memory runs out). */
void rp_events_new(struct rp_events **out);
/* Free the list and its events.  Accepts NULL. */
void rp_events_free(struct rp_events *l);
/* Forget every event; keeps the memory for the next ones. */
void rp_events_reset(struct rp_events *l);
/* Forget the events from index 'n' on (n <= count). */
void rp_events_truncate(struct rp_events *l, size_t n);
/* Number of events in the list. */
size_t rp_events_count(const struct rp_events *l);
/* Event 'i' (< count).  The pointer and the strings it points to are
** borrowed: valid until the list is next changed. */
const struct rp_event *rp_events_get(const struct rp_events *l, size_t i);
/* Append a copy of 'ev' (its strings are copied; metadata may be NULL).
** Cannot fail. */
void rp_events_add(struct rp_events *l, const struct rp_event *ev);
/* Bytes of text held by the list (stream, type, data and metadata of all
** its events): what a batch limit in bytes measures. */
size_t rp_events_text_bytes(const struct rp_events *l);

/* Deterministic ids: a version 5 UUID (RFC 9562) in a namespace of this
** program, named by the text "<source id>/<store version>/<index>" (decimal
** numbers).  The same source, record and index always give the same id;
** different ones give different ids.  The generator keeps the SHA-1 state
** of the namespace and source id, so an id costs one short hash. */
struct rp_idgen {
    struct rp_sha1 base; /* SHA-1 state after the namespace and source */
};

/* Prepare ids for the source 'source_id' ('len' bytes). */
void rp_idgen_init(struct rp_idgen *g, const char *source_id, size_t len);
/* Write the id of event 'index' of record 'store_version' into 'id'. */
void rp_idgen_make(const struct rp_idgen *g, uint64_t store_version,
                   uint32_t index, unsigned char id[16]);

/* Format 'id' as 36 lower-case characters 8-4-4-4-12 plus a NUL. */
void rp_event_format_id(char out[37], const unsigned char id[16]);
/* Parse a UUID written 8-4-4-4-12 in hex (either case).  Returns 0, or
** RP_EINVAL when 'n' bytes of 's' are not such a UUID or the UUID is all
** zero (the API refuses it). */
int rp_event_parse_id(unsigned char id[16], const char *s, size_t n);

#endif
