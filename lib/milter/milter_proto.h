/*
 * The Sendmail milter protocol, version 6, as the MTA speaks it: the wire
 * constants, packet framing, building MTA commands and parsing the
 * filter's replies. Pure functions over bytes (no I/O), so the parsers can
 * be fuzzed (fuzz_milter_reply.c).
 *
 * A packet is: u32 length (big-endian; counts the command byte and the
 * data), one command byte, then length - 1 bytes of data.
 */
#ifndef POSTERN_MILTER_MILTER_PROTO_H
#define POSTERN_MILTER_MILTER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/str.h"

#define MILTER_VERSION 6
/* Body chunks the MTA sends (libmilter's MILTER_CHUNK_SIZE). */
#define MILTER_CHUNK_SIZE 65535
/* Largest reply packet accepted (a body replacement chunk with SMFIP_MDS_1M). */
#define MILTER_MAX_PACKET (1024 * 1024 + 64)

/* MTA -> filter commands. */
#define SMFIC_ABORT 'A'
#define SMFIC_BODY 'B'
#define SMFIC_CONNECT 'C'
#define SMFIC_MACRO 'D'
#define SMFIC_BODYEOB 'E'
#define SMFIC_HELO 'H'
#define SMFIC_QUIT_NC 'K'
#define SMFIC_HEADER 'L'
#define SMFIC_MAIL 'M'
#define SMFIC_EOH 'N'
#define SMFIC_OPTNEG 'O'
#define SMFIC_QUIT 'Q'
#define SMFIC_RCPT 'R'
#define SMFIC_DATA 'T'
#define SMFIC_UNKNOWN 'U'

/* Filter -> MTA replies. */
#define SMFIR_ADDRCPT '+'
#define SMFIR_DELRCPT '-'
#define SMFIR_ADDRCPT_PAR '2'
#define SMFIR_SHUTDOWN '4'
#define SMFIR_ACCEPT 'a'
#define SMFIR_REPLBODY 'b'
#define SMFIR_CONTINUE 'c'
#define SMFIR_DISCARD 'd'
#define SMFIR_CHGFROM 'e'
#define SMFIR_CONN_FAIL 'f'
#define SMFIR_ADDHEADER 'h'
#define SMFIR_INSHEADER 'i'
#define SMFIR_SETSYMLIST 'l'
#define SMFIR_CHGHEADER 'm'
#define SMFIR_PROGRESS 'p'
#define SMFIR_QUARANTINE 'q'
#define SMFIR_REJECT 'r'
#define SMFIR_SKIP 's'
#define SMFIR_TEMPFAIL 't'
#define SMFIR_REPLYCODE 'y'
#define SMFIR_OPTNEG 'O'

/* Actions a filter may take at end of message. */
#define SMFIF_ADDHDRS 0x001u
#define SMFIF_CHGBODY 0x002u
#define SMFIF_ADDRCPT 0x004u
#define SMFIF_DELRCPT 0x008u
#define SMFIF_CHGHDRS 0x010u
#define SMFIF_QUARANTINE 0x020u
#define SMFIF_CHGFROM 0x040u
#define SMFIF_ADDRCPT_PAR 0x080u
#define SMFIF_SETSYMLIST 0x100u

/* Protocol steps: events to leave out, and events without a reply. */
#define SMFIP_NOCONNECT 0x000001u
#define SMFIP_NOHELO 0x000002u
#define SMFIP_NOMAIL 0x000004u
#define SMFIP_NORCPT 0x000008u
#define SMFIP_NOBODY 0x000010u
#define SMFIP_NOHDRS 0x000020u
#define SMFIP_NOEOH 0x000040u
#define SMFIP_NR_HDR 0x000080u
#define SMFIP_NOUNKNOWN 0x000100u
#define SMFIP_NODATA 0x000200u
#define SMFIP_SKIP 0x000400u
#define SMFIP_RCPT_REJ 0x000800u
#define SMFIP_NR_CONN 0x001000u
#define SMFIP_NR_HELO 0x002000u
#define SMFIP_NR_MAIL 0x004000u
#define SMFIP_NR_RCPT 0x008000u
#define SMFIP_NR_DATA 0x010000u
#define SMFIP_NR_UNKN 0x020000u
#define SMFIP_NR_EOH 0x040000u
#define SMFIP_NR_BODY 0x080000u
#define SMFIP_HDR_LEADSPC 0x100000u
#define SMFIP_MDS_256K 0x10000000u
#define SMFIP_MDS_1M 0x20000000u

/* Macro stages (SMFIR_SETSYMLIST and the configured lists). */
enum milter_stage {
	MILTER_STAGE_CONNECT,
	MILTER_STAGE_HELO,
	MILTER_STAGE_MAIL,
	MILTER_STAGE_RCPT,
	MILTER_STAGE_DATA,
	MILTER_STAGE_EOM,
	MILTER_STAGE_EOH,
	MILTER_STAGE_UNKNOWN, /* not a libmilter stage: Postfix's unknown-command list */
	MILTER_STAGE_COUNT
};

/* What the MTA offers for a protocol version (2, 3, 4 or 6). false if the
 * version is not one of those. */
bool milter_offer(int version, uint32_t *actions_r, uint32_t *protocol_r);

/* One packet split off the front of a buffer. data points into the buffer. */
struct milter_packet {
	char cmd;
	const char *data;
	size_t len;
};

/* 1 with *p and *used_r when a whole packet is there, 0 when more bytes
 * are needed, -1 with *error_r if the length is 0 or above max_len. */
int milter_packet_split(const void *buf, size_t len, size_t max_len, struct milter_packet *p,
                        size_t *used_r, const char **error_r);

/* Append a packet: cmd and data. */
void milter_packet_append(struct str *out, char cmd, const void *data, size_t len);

/* The filter's answer to SMFIC_OPTNEG. */
struct milter_optneg {
	uint32_t version;
	uint32_t actions;
	uint32_t protocol;
	/* Macro lists the filter asked for (SMFIF_SETSYMLIST), NULL if none;
	 * malloc'd, space-separated names. */
	char *symlist[MILTER_STAGE_COUNT];
};
int milter_optneg_parse(const struct milter_packet *p, struct milter_optneg *o,
                        const char **error_r);
void milter_optneg_free(struct milter_optneg *o);

/* One reply from a filter, decoded. Strings point into a private copy and
 * stay valid until milter_reply_free. */
struct milter_reply {
	char cmd;          /* SMFIR_* */
	uint32_t index;    /* INSHEADER (0-based position), CHGHEADER (1-based) */
	const char *name;  /* header name; ADDRCPT/DELRCPT/CHGFROM: the address */
	const char *value; /* header value; ADDRCPT_PAR/CHGFROM: ESMTP args or NULL */
	const char *text;  /* REPLYCODE: the SMTP reply; QUARANTINE: the reason */
	const char *body;  /* REPLBODY: the bytes */
	size_t body_len;
	int code; /* REPLYCODE: 400..599 */
	char *copy_;
};

/* Decode p. Rejects unknown commands, missing NUL terminators, header
 * names that are empty or not printable ASCII without ':', and a
 * REPLYCODE that is not a 4xx or 5xx reply (each line "NNN-" or "NNN ",
 * the same code on every line, the last with a space). */
int milter_reply_parse(const struct milter_packet *p, struct milter_reply *r, const char **error_r);
void milter_reply_free(struct milter_reply *r);

/* A short name of a reply command for log lines ("continue", "reject"...). */
const char *milter_reply_name(char cmd);

#endif
