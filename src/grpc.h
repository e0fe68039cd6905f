/* KurrentDB's gRPC API as a protocol of the target (--target given as a
** connection string, connstr.h): calls over HTTP/2 through libcurl multi
** (h2c with prior knowledge when tls=false, TLS with ALPN otherwise), many
** multiplexed on few connections.  Appends go as Streams.Append with the
** exact expected revision, or many at once in one Streams.BatchAppend call
** where ServerFeatures says the server has it; reads as Streams.Read; the
** checkpoint stream's metadata as an Append to its metastream.  The leader
** is found through Gossip.Read and followed when a node answers
** not-leader.  Requests and answers are built and read by grpcwire.c and
** grpcanswer.c. */
#ifndef RP_GRPC_H
#define RP_GRPC_H

#include "target.h"

/* The protocol for target.c. */
extern const struct rp_target_proto rp_grpc_proto;

#endif
