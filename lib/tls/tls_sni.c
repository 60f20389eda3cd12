/*
 * Server certificates by SNI name (see tls_sni.h): the host name check,
 * the table read at start into a sorted list of names, each pointing at
 * one loaded certificate, key and chain (shared by entries with the same
 * value), and the OpenSSL servername callback that installs the chosen
 * one on the connection. Only the certificate changes: everything else
 * (protocols, ciphers, session tickets, client certificates) stays the
 * context's.
 */
#include "tls/tls_sni.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table/table.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/str.h"

/* One certificate with its key and chain, as one table value names them. */
struct sni_identity {
	char *value; /* the table value, to share it between keys */
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) * chain;
};

struct sni_name {
	char *key; /* lower case: "host" or ".domain" */
	size_t identity;
};

struct tls_sni {
	struct sni_name *names; /* sorted by key */
	size_t name_count, name_cap;
	struct sni_identity *identities;
	size_t identity_count, identity_cap;
};

static char sni_error[512];

/* ASCII only, whatever the locale. */
static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_letter(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool tls_sni_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > TLS_SNI_NAME_MAX)
		return false;
	size_t label = 0;
	bool non_numeric = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		bool last = i + 1 == len;
		if (is_letter(c) || is_digit(c) || c == '_') {
			if (++label > TLS_SNI_LABEL_MAX)
				return false;
			if (!is_digit(c))
				non_numeric = true;
		} else if (c == '.') {
			if (label == 0 || last)
				return false;
			label = 0;
		} else if (c == '-') {
			non_numeric = true;
			if (++label == 1 || last || name[i + 1] == '.')
				return false;
		} else {
			return false; /* also NUL, space, controls and 8-bit bytes */
		}
	}
	return non_numeric;
}

const char *tls_sni_parent(const char *key)
{
	if (*key == '\0')
		return NULL;
	const char *dot = strchr(key + 1, '.');
	return dot != NULL && dot[1] != '\0' ? dot : NULL;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(((const struct sni_name *)a)->key, ((const struct sni_name *)b)->key);
}

static const struct sni_name *find_key(const struct tls_sni *sni, const char *key)
{
	struct sni_name probe = {.key = (char *)key};
	return bsearch(&probe, sni->names, sni->name_count, sizeof(*sni->names), compare_names);
}

static const struct sni_name *find_name(const struct tls_sni *sni, const char *name)
{
	char folded[TLS_SNI_NAME_MAX + 1];
	size_t len = strlen(name);
	if (len > TLS_SNI_NAME_MAX)
		return NULL;
	for (size_t i = 0; i <= len; i++)
		folded[i] = lower(name[i]);
	for (const char *key = folded; key != NULL; key = tls_sni_parent(key)) {
		const struct sni_name *n = find_key(sni, key);
		if (n != NULL)
			return n;
	}
	return NULL;
}

size_t tls_sni_count(const struct tls_sni *sni)
{
	return sni->name_count;
}

const char *tls_sni_match(const struct tls_sni *sni, const char *name)
{
	const struct sni_name *n = find_name(sni, name);
	return n != NULL ? n->key : NULL;
}

/* ---- Loading ---- */

/* Never ask for a pass phrase on a terminal: an encrypted key fails. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* The reason OpenSSL (or errno) gives for the last failure. */
static const char *failure_reason(void)
{
	static char reason[256];
	unsigned long e = ERR_peek_last_error();
	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "%s", errno ? strerror(errno) : "unknown error");
	ERR_clear_error();
	return reason;
}

static void identity_free(struct sni_identity *id)
{
	free(id->value);
	X509_free(id->cert);
	EVP_PKEY_free(id->key);
	sk_X509_pop_free(id->chain, X509_free);
	memset(id, 0, sizeof(*id));
}

/* The private key at the start of the list, then every certificate of
 * every file in order (the first is the server's). 0, or -1 with the
 * reason in *why (naming the file). */
static int read_files(struct sni_identity *id, char *const *files, size_t count, struct str *why)
{
	const char *cert_file = NULL;
	for (size_t i = 0; i < count; i++) {
		errno = 0;
		FILE *f = fopen(files[i], "r");
		if (f == NULL) {
			str_printf(why, "file %s: %s", files[i], strerror(errno));
			return -1;
		}
		if (i == 0) {
			id->key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
			if (id->key == NULL) {
				str_printf(why, "file %s: no private key in it: %s", files[i],
				           failure_reason());
				fclose(f);
				return -1;
			}
			rewind(f);
		}
		X509 *x;
		while ((x = PEM_read_X509(f, NULL, no_passphrase, NULL)) != NULL) {
			if (id->cert == NULL) {
				id->cert = x;
				cert_file = files[i];
			} else if (sk_X509_push(id->chain, x) <= 0) {
				X509_free(x);
			}
		}
		ERR_clear_error(); /* the end of the file */
		fclose(f);
	}
	if (id->cert == NULL) {
		str_printf(why, "file %s: no certificate in %s", files[0],
		           count == 1 ? "it" : "it or the files after it");
		return -1;
	}
	if (X509_check_private_key(id->cert, id->key) != 1) {
		str_printf(why, "file %s: private key does not match the certificate in %s: %s",
		           files[0], cert_file, failure_reason());
		return -1;
	}
	return 0;
}

/* The identity a table value names: its index, or -1 with *why. */
static long load_identity(struct tls_sni *sni, const char *value, struct str *why)
{
	for (size_t i = 0; i < sni->identity_count; i++)
		if (strcmp(sni->identities[i].value, value) == 0)
			return (long)i;
	char *copy = xstrdup(value);
	char **files = NULL;
	size_t count = 0;
	for (char *save = NULL, *f = strtok_r(copy, ", \t\r\n", &save); f != NULL;
	     f = strtok_r(NULL, ", \t\r\n", &save)) {
		files = xreallocarray(files, count + 1, sizeof(*files));
		files[count++] = f;
	}
	struct sni_identity id = {.chain = sk_X509_new_null()};
	int rc = -1;
	if (count == 0)
		str_printf(why, "no PEM file names");
	else if (id.chain == NULL)
		str_printf(why, "out of memory");
	else
		rc = read_files(&id, files, count, why);
	free(files);
	free(copy);
	if (rc != 0) {
		identity_free(&id);
		return -1;
	}
	id.value = xstrdup(value);
	if (sni->identity_count == sni->identity_cap) {
		sni->identity_cap = sni->identity_cap ? 2 * sni->identity_cap : 8;
		sni->identities =
		    xreallocarray(sni->identities, sni->identity_cap, sizeof(*sni->identities));
	}
	sni->identities[sni->identity_count] = id;
	return (long)sni->identity_count++;
}

struct load_state {
	struct tls_sni *sni;
	const char *spec;
	tls_sni_report_fn *report;
	void *report_ctx;
	struct str why, message;
};

static void report(struct load_state *st, const char *key)
{
	str_clear(&st->message);
	str_printf(&st->message, "table \"%s\", key \"%s\": %s", st->spec, key, str_cstr(&st->why));
	if (st->report != NULL)
		st->report(str_cstr(&st->message), st->report_ctx);
}

/* One table entry (table_walk_fn). */
static int load_entry(const char *key, const char *value, void *ctx)
{
	struct load_state *st = ctx;
	struct tls_sni *sni = st->sni;
	str_clear(&st->why);
	const char *host = key[0] == '.' ? key + 1 : key;
	if (!tls_sni_name_valid(host, strlen(host))) {
		str_printf(&st->why, "not a host name or .domain");
		report(st, key);
		return 0;
	}
	long identity = load_identity(sni, value, &st->why);
	if (identity < 0) {
		report(st, key);
		return 0;
	}
	if (sni->name_count == sni->name_cap) {
		sni->name_cap = sni->name_cap ? 2 * sni->name_cap : 16;
		sni->names = xreallocarray(sni->names, sni->name_cap, sizeof(*sni->names));
	}
	sni->names[sni->name_count++] =
	    (struct sni_name){.key = str_lower_dup(key), .identity = (size_t)identity};
	return 0;
}

/* Sort the names; of keys that differ only in case the first stays. */
static void sort_names(struct tls_sni *sni)
{
	if (sni->name_count > 1)
		qsort(sni->names, sni->name_count, sizeof(*sni->names), compare_names);
	size_t n = 0;
	for (size_t i = 0; i < sni->name_count; i++) {
		if (n > 0 && strcmp(sni->names[n - 1].key, sni->names[i].key) == 0) {
			free(sni->names[i].key);
			continue;
		}
		sni->names[n++] = sni->names[i];
	}
	sni->name_count = n;
}

struct tls_sni *tls_sni_load(const char *spec, tls_sni_report_fn *report_fn, void *report_ctx,
                             const char **error_r)
{
	const char *error;
	struct table *t = table_open(spec, &error);
	if (t == NULL) {
		snprintf(sni_error, sizeof(sni_error), "%s", error);
		*error_r = sni_error;
		return NULL;
	}
	struct tls_sni *sni = xcalloc(1, sizeof(*sni));
	struct load_state st = {.sni = sni,
	                        .spec = spec,
	                        .report = report_fn,
	                        .report_ctx = report_ctx,
	                        .why = STR_INIT,
	                        .message = STR_INIT};
	int rc = table_walk(t, load_entry, &st, &error);
	if (rc < 0)
		snprintf(sni_error, sizeof(sni_error), "%s", error);
	table_close(t);
	str_free(&st.why);
	str_free(&st.message);
	if (rc < 0) {
		tls_sni_free(sni);
		*error_r = sni_error;
		return NULL;
	}
	sort_names(sni);
	return sni;
}

void tls_sni_free(struct tls_sni *sni)
{
	if (sni == NULL)
		return;
	for (size_t i = 0; i < sni->name_count; i++)
		free(sni->names[i].key);
	for (size_t i = 0; i < sni->identity_count; i++)
		identity_free(&sni->identities[i]);
	free(sni->names);
	free(sni->identities);
	free(sni);
}

/* ---- At the handshake ---- */

/* The name for a log line: at most 64 bytes, controls and 8-bit bytes as '?'. */
static void printable(const char *name, char *out, size_t size)
{
	size_t i = 0;
	for (; name[i] != '\0' && i + 1 < size && i < 64; i++) {
		unsigned char c = (unsigned char)name[i];
		out[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	out[i] = '\0';
}

/* OpenSSL's servername callback, in the ClientHello before the server
 * chooses its certificate (for every ClientHello: also after a
 * HelloRetryRequest, and on resumption, where no certificate is sent).
 * A rejected name leaves its reason in the OpenSSL error queue for the
 * handshake's error message. */
static int servername(SSL *ssl, int *alert, void *arg)
{
	const struct tls_sni *sni = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	if (!tls_sni_name_valid(name, strlen(name))) {
		char shown[80];
		printable(name, shown, sizeof(shown));
		ERR_raise_data(ERR_LIB_USER, SSL_AD_UNRECOGNIZED_NAME,
		               "malformed SNI name \"%s\" refused", shown);
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	const struct sni_name *n = find_name(sni, name);
	if (n == NULL)
		return SSL_TLSEXT_ERR_NOACK; /* the default certificate */
	const struct sni_identity *id = &sni->identities[n->identity];
	/* Not the default certificate beside it (one of another key type
	 * could still be chosen). */
	SSL_certs_clear(ssl);
	if (SSL_use_cert_and_key(ssl, id->cert, id->key, id->chain, 1) != 1) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

void tls_sni_attach(struct tls_sni *sni, struct tls_context *ctx)
{
	SSL_CTX *ssl_ctx = tls_context_ssl_ctx(ctx);
	SSL_CTX_set_tlsext_servername_callback(ssl_ctx, servername);
	SSL_CTX_set_tlsext_servername_arg(ssl_ctx, sni);
}

static void log_unusable(const char *message, void *ctx)
{
	(void)ctx;
	log_error("tls_server_sni_maps: %s (entry ignored)", message);
}

void tls_sni_setup(struct tls_context *ctx, const char *spec)
{
	if (*spec == '\0')
		return;
	const char *error;
	struct tls_sni *sni = tls_sni_load(spec, log_unusable, NULL, &error);
	if (sni == NULL) {
		log_error("tls_server_sni_maps: %s: every client gets the default certificate",
		          error);
		return;
	}
	tls_sni_attach(sni, ctx); /* kept as long as the process */
}
