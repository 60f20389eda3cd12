/*
 * TLS session ticket keys (see tls_tickets.h): made and replaced by master,
 * installed in each server process, and used by OpenSSL through a ticket
 * key callback: AES-256-CBC for the ticket, HMAC-SHA256 over it.
 */
#include "tls/tls_tickets.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

/* This process's keys (a server process has one set). */
static struct tls_ticket_keys installed;

static int fill_random(void *buf, size_t len)
{
	unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tls_ticket_keys_rotate(struct tls_ticket_keys *keys, int64_t now_ms)
{
	struct tls_ticket_key fresh;
	if (fill_random(&fresh, sizeof(fresh)) != 0)
		return -1;
	keys->key[1] = keys->key[0];
	keys->key[0] = fresh;
	explicit_bzero(&fresh, sizeof(fresh));
	if (keys->count < TLS_TICKET_KEYS_MAX)
		keys->count++;
	keys->made_ms = now_ms;
	return 0;
}

void tls_ticket_keys_clear(struct tls_ticket_keys *keys)
{
	explicit_bzero(keys, sizeof(*keys));
}

size_t tls_ticket_keys_encode(const struct tls_ticket_keys *keys, unsigned char *out)
{
	size_t len = 0;
	for (int i = 0; i < keys->count && i < TLS_TICKET_KEYS_MAX; i++) {
		const struct tls_ticket_key *k = &keys->key[i];
		memcpy(out + len, k->name, TLS_TICKET_NAME_SIZE);
		memcpy(out + len + TLS_TICKET_NAME_SIZE, k->hmac, TLS_TICKET_HMAC_SIZE);
		memcpy(out + len + TLS_TICKET_NAME_SIZE + TLS_TICKET_HMAC_SIZE, k->aes,
		       TLS_TICKET_AES_SIZE);
		len += TLS_TICKET_KEY_SIZE;
	}
	return len;
}

int tls_tickets_install(const void *data, size_t len)
{
	if (len % TLS_TICKET_KEY_SIZE != 0 || len / TLS_TICKET_KEY_SIZE > TLS_TICKET_KEYS_MAX)
		return -1;
	struct tls_ticket_keys keys = {.count = (int)(len / TLS_TICKET_KEY_SIZE)};
	const unsigned char *p = data;
	for (int i = 0; i < keys.count; i++, p += TLS_TICKET_KEY_SIZE) {
		struct tls_ticket_key *k = &keys.key[i];
		memcpy(k->name, p, TLS_TICKET_NAME_SIZE);
		memcpy(k->hmac, p + TLS_TICKET_NAME_SIZE, TLS_TICKET_HMAC_SIZE);
		memcpy(k->aes, p + TLS_TICKET_NAME_SIZE + TLS_TICKET_HMAC_SIZE,
		       TLS_TICKET_AES_SIZE);
	}
	tls_ticket_keys_clear(&installed);
	installed = keys;
	tls_ticket_keys_clear(&keys);
	return 0;
}

bool tls_tickets_available(void)
{
	return installed.count > 0;
}

static int set_mac_key(EVP_MAC_CTX *hctx, const struct tls_ticket_key *k)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac,
	                                      TLS_TICKET_HMAC_SIZE),
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	    OSSL_PARAM_construct_end(),
	};
	return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/* OpenSSL's ticket key callback. Encrypting: 1 with the newest key set up,
 * 0 for no ticket. Decrypting: 1 (newest key) or 2 (older key: the client
 * gets a ticket under the newest), 0 for a name no key has (a full
 * handshake follows), -1 on error. */
static int ticket_key_cb(SSL *ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	(void)ssl;
	const EVP_CIPHER *cipher = EVP_aes_256_cbc();
	if (enc) {
		if (installed.count == 0)
			return 0;
		const struct tls_ticket_key *k = &installed.key[0];
		int iv_len = EVP_CIPHER_get_iv_length(cipher);
		if (iv_len <= 0 || iv_len > EVP_MAX_IV_LENGTH || RAND_bytes(iv, iv_len) != 1)
			return -1;
		memcpy(name, k->name, TLS_TICKET_NAME_SIZE);
		if (EVP_EncryptInit_ex(cctx, cipher, NULL, k->aes, iv) != 1 ||
		    set_mac_key(hctx, k) != 0)
			return -1;
		return 1;
	}
	for (int i = 0; i < installed.count; i++) {
		const struct tls_ticket_key *k = &installed.key[i];
		if (memcmp(name, k->name, TLS_TICKET_NAME_SIZE) != 0)
			continue;
		if (EVP_DecryptInit_ex(cctx, cipher, NULL, k->aes, iv) != 1 ||
		    set_mac_key(hctx, k) != 0)
			return -1;
		return i == 0 ? 1 : 2;
	}
	return 0;
}

int tls_ticket_lifetime(long long seconds)
{
	if (seconds <= 0)
		return 0;
	return seconds > TLS_TICKET_LIFETIME_MAX ? TLS_TICKET_LIFETIME_MAX : (int)seconds;
}

int tls_tickets_enable(SSL_CTX *ctx, int lifetime_s)
{
	if (lifetime_s <= 0 || installed.count == 0) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
		return 0;
	}
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_timeout(ctx, (long)lifetime_s);
	/* TLS 1.3: one ticket a handshake, none more on resumption. */
	SSL_CTX_set_num_tickets(ctx, 1);
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb) != 1)
		return -1;
	return 0;
}
