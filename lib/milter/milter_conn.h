/*
 * One filter connection (internal to lib/milter): connecting over unix:
 * or inet:, sending packets and reading replies with deadlines. Every
 * function returns 0 or -1 with a static *error_r; the caller then drops
 * the filter.
 */
#ifndef POSTERN_MILTER_MILTER_CONN_H
#define POSTERN_MILTER_MILTER_CONN_H

#include "milter/milter_proto.h"
#include "util/str.h"

struct milter_conn {
	int fd;
	struct str in;   /* bytes read and not yet parsed */
	size_t consumed; /* bytes of in used by the last packet returned */
};

int milter_conn_open(struct milter_conn *c, const char *address, long long timeout_ms,
                     const char **error_r);
void milter_conn_close(struct milter_conn *c);
/* Send a prepared buffer of packets. */
int milter_conn_send(struct milter_conn *c, const struct str *packets, long long timeout_ms,
                     const char **error_r);
/* Read the next packet; p->data stays valid until the next read. */
int milter_conn_read(struct milter_conn *c, struct milter_packet *p, long long timeout_ms,
                     const char **error_r);

#endif
