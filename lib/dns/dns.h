/*
 * DNS look-ups through libunbound: MX, A, AAAA, TLSA, TXT and PTR, each
 * answer carrying its DNSSEC state (secure, bogus or neither). Queries run
 * asynchronously; a resolver can be attached to an event loop
 * (util/event.h) so answers arrive as callbacks, or a caller that serves
 * one peer at a time can wait for one answer (or several sent together)
 * with a time limit.
 *
 * The resolver forwards to the given addresses ("addr" or "addr@port"), or
 * follows /etc/resolv.conf when none are given; a hosts file (normally
 * /etc/hosts) answers A/AAAA first; a trust anchor file (DS or DNSKEY
 * records in zone-file format) turns on validation.
 */
#ifndef POSTERN_DNS_DNS_H
#define POSTERN_DNS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/event.h"

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_TLSA = 52,
};

enum dns_status {
	DNS_FOUND,    /* records of the type exist */
	DNS_NODATA,   /* the name exists, with no records of this type */
	DNS_NXDOMAIN, /* the name does not exist */
	DNS_TEMPFAIL, /* SERVFAIL, timeout, bogus answer, resolver error: try later */
};

/* One record, parsed according to its type. */
struct dns_rr {
	int type;
	uint32_t ttl;
	int preference;      /* MX */
	char *name;          /* MX exchange, PTR target ("." for the root) */
	char *text;          /* A/AAAA printable address, TXT strings joined */
	uint8_t usage;       /* TLSA */
	uint8_t selector;    /* TLSA */
	uint8_t matching;    /* TLSA matching type */
	unsigned char *data; /* TLSA association data, A/AAAA address bytes */
	size_t data_len;
};

struct dns_answer {
	enum dns_status status;
	bool secure;     /* DNSSEC-validated (positive or negative) */
	bool bogus;      /* validation failed (status is DNS_TEMPFAIL) */
	bool timed_out;  /* not answered in the time allowed (status is DNS_TEMPFAIL) */
	char *error;     /* why, for DNS_TEMPFAIL and bogus answers; else NULL */
	char *canonname; /* the name after CNAMEs, or NULL */
	struct dns_rr *rrs;
	size_t count;
};

void dns_answer_free(struct dns_answer *a);

/* Parse one record's wire-format rdata (names uncompressed, as libunbound
 * gives them). 0, or -1 if it is malformed for its type. Pure; rr is
 * cleared first and must be freed with dns_rr_free. */
int dns_rr_parse(int type, const unsigned char *rdata, size_t len, struct dns_rr *rr);
void dns_rr_free(struct dns_rr *rr);

/* Wire-format domain name (uncompressed) to text without the final dot
 * ("." for the root). Returns bytes used, or -1 if malformed. */
int dns_name_to_text(const unsigned char *wire, size_t len, char **text_r);

struct dns_settings {
	char *const *forwarders;       /* NULL or empty: /etc/resolv.conf */
	const char *hosts_file;        /* NULL or "": none */
	const char *trust_anchor_file; /* NULL or "": no validation */
};

struct dns_resolver;

/* NULL with *error_r (static) if a setting is unusable. */
struct dns_resolver *dns_resolver_new(const struct dns_settings *s, const char **error_r);
void dns_resolver_free(struct dns_resolver *r);
/* True when a trust anchor is configured. */
bool dns_resolver_validates(const struct dns_resolver *r);

/* Asynchronous look-up; cb gets the answer (which it must free with
 * dns_answer_free) from dns_resolver_process, or from the event loop
 * after dns_resolver_attach. */
typedef void dns_callback(void *ctx, struct dns_answer *answer);
int dns_lookup_async(struct dns_resolver *r, const char *name, int type, dns_callback *cb,
                     void *ctx, const char **error_r);
/* Watch the resolver's descriptor on loop and deliver answers from it. */
void dns_resolver_attach(struct dns_resolver *r, struct event_loop *loop);
/* Deliver the answers that are ready now. */
void dns_resolver_process(struct dns_resolver *r);

/* Look up and wait up to timeout_ms for the answer (a timeout gives
 * DNS_TEMPFAIL). Fills answer, which the caller frees. */
void dns_lookup(struct dns_resolver *r, const char *name, int type, int timeout_ms,
                struct dns_answer *answer);
/* Look up count names of one type at once and wait up to timeout_ms for
 * all of them: answers[i] (freed by the caller) is for names[i]; one not
 * answered in time is DNS_TEMPFAIL with timed_out set. */
void dns_lookup_many(struct dns_resolver *r, const char *const *names, size_t count, int type,
                     int timeout_ms, struct dns_answer *answers);

/* One question of several asked together. */
struct dns_question {
	const char *name;
	int type;
};

/* As dns_lookup_many, for questions of any types (the A and AAAA records
 * of several hosts in one wait): answers[i] is for questions[i]. */
void dns_lookup_questions(struct dns_resolver *r, const struct dns_question *questions,
                          size_t count, int timeout_ms, struct dns_answer *answers);

/* A hosts file, read once (no file, or an empty path: no entries), for
 * the first name it gives a printable address, as the system resolver's
 * "files" source; NULL if none. */
struct dns_hosts;
struct dns_hosts *dns_hosts_load(const char *path);
const char *dns_hosts_name(const struct dns_hosts *h, const char *address);
void dns_hosts_free(struct dns_hosts *h);

/* "in-addr.arpa"/"ip6.arpa" name for a printable address; NULL if invalid. */
char *dns_reverse_name(const char *address);
/* The same labels (IPv4 octets or IPv6 nibbles, reversed) under another
 * domain, as DNS blocklists are queried (RFC 5782): "2.0.0.127.bl.example"
 * for 127.0.0.2 under bl.example. NULL if address is not an IP address. */
char *dns_reverse_name_under(const char *address, const char *domain);

#endif
