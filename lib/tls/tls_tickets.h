/*
 * TLS session ticket keys shared by the server processes of one instance.
 * master makes a key, replaces it once per ticket lifetime and keeps the
 * one before; it gives both to every network service it starts, and again
 * to those running whenever it replaces them. A server process encrypts
 * new tickets under the newest key and accepts tickets made under either,
 * so a client resumes its session with whichever smtpd or pop3d process
 * it reaches next. The keys are random, live in memory only and never
 * touch the disk.
 */
#ifndef POSTERN_TLS_TLS_TICKETS_H
#define POSTERN_TLS_TLS_TICKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_TICKET_NAME_SIZE 16
#define TLS_TICKET_HMAC_SIZE 32
#define TLS_TICKET_AES_SIZE 32
#define TLS_TICKET_KEY_SIZE (TLS_TICKET_NAME_SIZE + TLS_TICKET_HMAC_SIZE + TLS_TICKET_AES_SIZE)
/* The newest key and the one before it. */
#define TLS_TICKET_KEYS_MAX 2

struct tls_ticket_key {
	unsigned char name[TLS_TICKET_NAME_SIZE];
	unsigned char hmac[TLS_TICKET_HMAC_SIZE];
	unsigned char aes[TLS_TICKET_AES_SIZE];
};

struct tls_ticket_keys {
	struct tls_ticket_key key[TLS_TICKET_KEYS_MAX]; /* newest first */
	int count;
	int64_t made_ms; /* when the newest was made (the caller's clock) */
};

/* master: a fresh newest key, the previous newest kept as the older one;
 * 0, or -1 with errno when the system has no randomness to give. */
int tls_ticket_keys_rotate(struct tls_ticket_keys *keys, int64_t now_ms);
/* Forget every key (memory is cleared). */
void tls_ticket_keys_clear(struct tls_ticket_keys *keys);
/* The keys as bytes for the master protocol: count * TLS_TICKET_KEY_SIZE
 * bytes, newest first, written to out (TLS_TICKET_KEYS_MAX keys' room);
 * returns the length. */
size_t tls_ticket_keys_encode(const struct tls_ticket_keys *keys, unsigned char *out);

/* A server process: the keys it uses from now on (from master's record);
 * 0, or -1 when data is not a whole number of keys (1 or 2). Length 0
 * forgets them: no tickets are made or accepted. */
int tls_tickets_install(const void *data, size_t len);
/* Whether this process has keys. */
bool tls_tickets_available(void);

/* TLS 1.3 tickets live at most 7 days (RFC 8446 4.6.1). */
#define TLS_TICKET_LIFETIME_MAX (7 * 24 * 3600)

/* A *_tls_session_cache_timeout setting (seconds) as a ticket lifetime:
 * at most TLS_TICKET_LIFETIME_MAX, 0 for none (also for a negative one). */
int tls_ticket_lifetime(long long seconds);

struct ssl_ctx_st;
/* Let a server context make and accept tickets under the installed keys,
 * valid for lifetime_s seconds (also the session timeout). Without keys,
 * or with lifetime_s 0, the context makes none. 0 or -1. */
int tls_tickets_enable(struct ssl_ctx_st *ctx, int lifetime_s);

#endif
