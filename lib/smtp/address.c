/*
 * RFC 5321 / RFC 6531 mailbox parsing, canonical form and HELO checks.
 * See address.h for the grammar and the limits.
 */
#include "smtp/address.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/utf8.h"

#define HOST_UTF8 0x1        /* U-labels allowed */
#define HOST_UNDERSCORE 0x2  /* '_' allowed in labels */
#define HOST_NOT_NUMERIC 0x4 /* the last label must not be all digits */

/* atext of RFC 5322, as RFC 5321 uses it. */
static bool is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* qtextSMTP: printable ASCII and space, except '"' and '\'. */
static bool is_qtext(unsigned char c)
{
	return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

static bool is_let_dig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Length of the UTF-8 character at p if non-ASCII input is allowed and it
 * is well-formed; 0 with *error_r otherwise. */
static size_t non_ascii_char(const char *p, size_t len, bool utf8, const char **error_r)
{
	if (!utf8) {
		*error_r = "non-ASCII character in address";
		return 0;
	}
	size_t n = utf8_char_len(p, len, NULL);
	if (n == 0)
		*error_r = "invalid UTF-8 in address";
	return n;
}

/* A Dot-string at the start of text, up to the first byte that cannot be
 * part of one; its length goes to *used_r. */
static int parse_dot_string(const char *text, size_t len, bool utf8, struct str *out,
                            size_t *used_r, const char **error_r)
{
	size_t i = 0;
	bool atom_empty = true;
	while (i < len) {
		unsigned char c = (unsigned char)text[i];
		size_t n = 1;
		if (c == '.') {
			if (atom_empty) {
				*error_r = i == 0 ? "local part starts with a dot"
				                  : "consecutive dots in local part";
				return -1;
			}
			atom_empty = true;
		} else if (c >= 0x80) {
			if ((n = non_ascii_char(text + i, len - i, utf8, error_r)) == 0)
				return -1;
			atom_empty = false;
		} else if (is_atext(c)) {
			atom_empty = false;
		} else {
			break;
		}
		str_append(out, text + i, n);
		i += n;
	}
	if (i == 0) {
		*error_r = "empty local part";
		return -1;
	}
	if (atom_empty) {
		*error_r = "local part ends with a dot";
		return -1;
	}
	*used_r = i;
	return 0;
}

/* A Quoted-string at the start of text (text[0] == '"'). */
static int parse_quoted_string(const char *text, size_t len, bool utf8, struct str *out,
                               size_t *used_r, const char **error_r)
{
	size_t i = 1;
	while (i < len) {
		unsigned char c = (unsigned char)text[i];
		if (c == '"') {
			*used_r = i + 1;
			return 0;
		}
		if (c == '\\') {
			if (i + 1 >= len || (unsigned char)text[i + 1] < 32 ||
			    (unsigned char)text[i + 1] > 126) {
				*error_r = "bad quoted pair in local part";
				return -1;
			}
			str_append_char(out, text[i + 1]);
			i += 2;
		} else if (c >= 0x80) {
			size_t n = non_ascii_char(text + i, len - i, utf8, error_r);
			if (n == 0)
				return -1;
			str_append(out, text + i, n);
			i += n;
		} else if (is_qtext(c)) {
			str_append_char(out, (char)c);
			i++;
		} else {
			*error_r = "invalid character in quoted local part";
			return -1;
		}
	}
	*error_r = "unterminated quoted local part";
	return -1;
}

static int parse_local(const char *text, size_t len, bool utf8, struct str *out, size_t *used_r,
                       const char **error_r)
{
	if (len > 0 && text[0] == '"')
		return parse_quoted_string(text, len, utf8, out, used_r, error_r);
	return parse_dot_string(text, len, utf8, out, used_r, error_r);
}

int address_unquote_local(const char *text, size_t len, bool smtputf8_allowed, struct str *out,
                          const char **error_r)
{
	size_t used;
	if (parse_local(text, len, smtputf8_allowed, out, &used, error_r) != 0)
		return -1;
	if (used != len) {
		*error_r = "invalid character in local part";
		return -1;
	}
	return 0;
}

/* One label of a host name: LDH (plus what flags allow), not starting or
 * ending with '-'. *numeric_r says whether it is all digits. */
static int check_label(const char *p, size_t len, unsigned flags, bool *numeric_r,
                       const char **error_r)
{
	if (len == 0) {
		*error_r = "empty label in domain";
		return -1;
	}
	if (len > 63) {
		*error_r = "domain label too long";
		return -1;
	}
	if (p[0] == '-' || p[len - 1] == '-') {
		*error_r = "domain label starts or ends with a hyphen";
		return -1;
	}
	bool numeric = true;
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)p[i];
		size_t n = 1;
		if (c >= 0x80) {
			if ((n = non_ascii_char(p + i, len - i, flags & HOST_UTF8, error_r)) == 0)
				return -1;
		} else if (!is_let_dig(c) && c != '-' && !(c == '_' && (flags & HOST_UNDERSCORE))) {
			*error_r = "invalid character in domain";
			return -1;
		}
		if (c < '0' || c > '9')
			numeric = false;
		i += n;
	}
	*numeric_r = numeric;
	return 0;
}

static int check_hostname(const char *text, size_t len, unsigned flags, const char **error_r)
{
	if (len == 0) {
		*error_r = "empty domain";
		return -1;
	}
	if (len > ADDRESS_DOMAIN_MAX) {
		*error_r = "domain too long";
		return -1;
	}
	bool numeric = false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] != '.')
			continue;
		if (check_label(text + start, i - start, flags, &numeric, error_r) != 0)
			return -1;
		start = i + 1;
	}
	if (numeric && (flags & HOST_NOT_NUMERIC)) {
		*error_r = "numeric host name";
		return -1;
	}
	return 0;
}

/* Snum "." Snum "." Snum "." Snum, each 1..3 digits up to 255. */
static bool ipv4_literal_ok(const char *p, size_t len)
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || p[i] != '.')
				return false;
			i++;
		}
		unsigned value = 0;
		size_t digits = 0;
		while (i < len && p[i] >= '0' && p[i] <= '9' && digits < 3) {
			value = value * 10 + (unsigned)(p[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || value > 255)
			return false;
	}
	return i == len;
}

static bool ipv6_literal_ok(const char *p, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	if (len == 0 || len >= sizeof(buf))
		return false;
	for (size_t i = 0; i < len; i++)
		if (strchr("0123456789abcdefABCDEF:.", p[i]) == NULL || p[i] == '\0')
			return false;
	memcpy(buf, p, len);
	buf[len] = '\0';
	struct in6_addr addr;
	return inet_pton(AF_INET6, buf, &addr) == 1;
}

static bool has_ipv6_tag(const char *p, size_t len)
{
	return len >= 5 && strncasecmp(p, "IPv6:", 5) == 0;
}

/* "[...]" with an IPv4 or "IPv6:" address inside. */
static int check_literal(const char *text, size_t len, const char **error_r)
{
	if (len < 2 || text[len - 1] != ']') {
		*error_r = "bad address literal";
		return -1;
	}
	const char *p = text + 1;
	size_t n = len - 2;
	bool ok = has_ipv6_tag(p, n) ? ipv6_literal_ok(p + 5, n - 5) : ipv4_literal_ok(p, n);
	if (!ok) {
		*error_r = "bad address literal";
		return -1;
	}
	return 0;
}

int address_check_domain(const char *text, size_t len, bool smtputf8_allowed, const char **error_r)
{
	if (len > 0 && text[0] == '[')
		return check_literal(text, len, error_r);
	return check_hostname(text, len, smtputf8_allowed ? HOST_UTF8 : 0, error_r);
}

/* Append the canonical form of a checked domain. */
static void canonical_domain(const char *text, size_t len, struct str *out)
{
	size_t i = 0;
	if (len > 6 && text[0] == '[' && has_ipv6_tag(text + 1, len - 1)) {
		str_append(out, "[IPv6:", 6);
		i = 6;
	}
	for (; i < len; i++) {
		char c = text[i];
		str_append_char(out, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
	}
}

int address_parse(const char *text, size_t len, bool smtputf8_allowed, struct address *out,
                  const char **error_r)
{
	out->local = NULL;
	out->domain = NULL;
	if (len == 0) {
		out->local = xstrdup("");
		out->domain = xstrdup("");
		return 0;
	}
	if (len > ADDRESS_MAILBOX_MAX) {
		*error_r = "address too long";
		return -1;
	}
	struct str local = STR_INIT, domain = STR_INIT;
	size_t used;
	if (parse_local(text, len, smtputf8_allowed, &local, &used, error_r) != 0)
		goto fail;
	if (used == len) {
		*error_r = "missing domain";
		goto fail;
	}
	if (text[used] != '@') {
		*error_r = "invalid character in local part";
		goto fail;
	}
	if (used > ADDRESS_LOCAL_MAX) {
		*error_r = "local part too long";
		goto fail;
	}
	const char *dom = text + used + 1;
	size_t dom_len = len - used - 1;
	if (address_check_domain(dom, dom_len, smtputf8_allowed, error_r) != 0)
		goto fail;
	canonical_domain(dom, dom_len, &domain);
	out->local = str_steal(&local);
	out->domain = str_steal(&domain);
	return 0;
fail:
	str_free(&local);
	str_free(&domain);
	return -1;
}

void address_free(struct address *addr)
{
	free(addr->local);
	free(addr->domain);
	addr->local = NULL;
	addr->domain = NULL;
}

bool address_is_null(const struct address *addr)
{
	return addr->local[0] == '\0' && addr->domain[0] == '\0';
}

bool address_domain_is_ascii(const struct address *addr)
{
	return !utf8_has_non_ascii(addr->domain, strlen(addr->domain));
}

bool address_is_ascii(const struct address *addr)
{
	return address_domain_is_ascii(addr) &&
	       !utf8_has_non_ascii(addr->local, strlen(addr->local));
}

bool address_local_needs_quoting(const char *local, size_t len)
{
	if (len == 0 || local[0] == '.' || local[len - 1] == '.')
		return true;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)local[i];
		if (c == '.' ? local[i + 1] == '.' : !(is_atext(c) || c >= 0x80))
			return true;
	}
	return false;
}

void address_quote_local(const char *local, size_t len, struct str *out)
{
	if (!address_local_needs_quoting(local, len)) {
		str_append(out, local, len);
		return;
	}
	str_append_char(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (local[i] == '"' || local[i] == '\\')
			str_append_char(out, '\\');
		str_append_char(out, local[i]);
	}
	str_append_char(out, '"');
}

void address_format(const struct address *addr, struct str *out)
{
	if (address_is_null(addr))
		return;
	address_quote_local(addr->local, strlen(addr->local), out);
	str_append_char(out, '@');
	str_append_cstr(out, addr->domain);
}

char *address_to_string(const struct address *addr)
{
	struct str s = STR_INIT;
	address_format(addr, &s);
	return str_steal(&s);
}

int address_header_canonical(const char *spec, char **canonical_r)
{
	*canonical_r = NULL;
	if (strchr(spec, '@') == NULL)
		return 0;
	struct address a;
	const char *why = "";
	if (address_parse(spec, strlen(spec), true, &a, &why) != 0)
		return -1;
	*canonical_r = address_to_string(&a);
	address_free(&a);
	return 0;
}

static bool helo_lenient_ok(const char *text, size_t len)
{
	bool blank = true;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c < 0x20 || c == 0x7F)
			return false;
		if (c != ' ')
			blank = false;
	}
	return !blank;
}

bool helo_syntax_ok(const char *text, size_t len, bool strict)
{
	const char *error;
	if (!strict)
		return helo_lenient_ok(text, len);
	if (len > 0 && text[0] == '[')
		return check_literal(text, len, &error) == 0;
	return check_hostname(text, len, HOST_UNDERSCORE | HOST_NOT_NUMERIC, &error) == 0;
}

bool address_has_at(const char *text, size_t len)
{
	bool quoted = false;
	for (size_t i = 0; i < len; i++) {
		if (quoted && text[i] == '\\' && i + 1 < len)
			i++;
		else if (text[i] == '"')
			quoted = !quoted;
		else if (!quoted && text[i] == '@')
			return true;
	}
	return false;
}
