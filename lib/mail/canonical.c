/*
 * canonical(5) mapping and masquerading at receipt (see canonical.h): the
 * table sets through lib/mail/generic_map.h, asked again with their own
 * results; masquerading as Postfix's cleanup_masquerade; the header
 * section through lib/mail/addr_header.h, its incomplete addresses
 * completed first when a domain is given for them.
 */
#include "mail/canonical.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/own_addresses.h"
#include "mail/addr_header.h"
#include "mail/generic_map.h"
#include "smtp/address.h"
#include "table/table_cache.h"
#include "util/alloc.h"
#include "util/word_flags.h"

struct canonical {
	struct canonical_settings settings;
	struct generic_map *sender;    /* sender_canonical_maps */
	struct generic_map *recipient; /* recipient_canonical_maps */
	struct generic_map *common;    /* canonical_maps */
	struct addr_set *own_addrs;    /* made by canonical_from_conf, else NULL */
	struct str work;
	struct str mapped;
	char error[1024];
};

#define SENDER_CLASSES (CANONICAL_ENVELOPE_SENDER | CANONICAL_HEADER_SENDER)
#define RECIPIENT_CLASSES (CANONICAL_ENVELOPE_RECIPIENT | CANONICAL_HEADER_RECIPIENT)

static const struct word_flag class_words[] = {
    {"envelope_sender", CANONICAL_ENVELOPE_SENDER},
    {"envelope_recipient", CANONICAL_ENVELOPE_RECIPIENT},
    {"header_sender", CANONICAL_HEADER_SENDER},
    {"header_recipient", CANONICAL_HEADER_RECIPIENT},
};

static const struct word_flag client_words[] = {
    {"permit_inet_interfaces", CANONICAL_CLIENTS_INET_INTERFACES},
    {"permit_mynetworks", CANONICAL_CLIENTS_MYNETWORKS},
    {"permit_sasl_authenticated", CANONICAL_CLIENTS_SASL},
    {"static:all", CANONICAL_CLIENTS_ALL},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int canonical_classes_parse(char *const *words, unsigned *classes_r, const char **bad_r)
{
	return word_flags_parse(words, class_words, COUNT(class_words), classes_r, bad_r);
}

int canonical_header_clients_parse(char *const *words, unsigned *clients_r, const char **bad_r)
{
	return word_flags_parse(words, client_words, COUNT(client_words), clients_r, bad_r);
}

static struct generic_map *map_new(const struct canonical_settings *s, char *const *maps)
{
	/* An extension that no key held goes into the result: Postfix's
	 * propagate_unmatched_extensions has "canonical" by default. */
	struct generic_map_settings gs = {
	    .maps = maps,
	    .mydestination = s->mydestination,
	    .myorigin = s->myorigin,
	    .delimiter = s->delimiter,
	    .propagate = true,
	    .own_addrs = s->own_addrs,
	};
	return generic_map_new(&gs);
}

struct canonical *canonical_new(const struct canonical_settings *settings)
{
	struct canonical *c = xcalloc(1, sizeof(*c));
	c->settings = *settings;
	c->sender = map_new(settings, settings->sender_maps);
	c->recipient = map_new(settings, settings->recipient_maps);
	c->common = map_new(settings, settings->canonical_maps);
	str_init(&c->work);
	str_init(&c->mapped);
	return c;
}

static bool has_items(char *const *list)
{
	return list != NULL && list[0] != NULL;
}

struct canonical *canonical_from_conf(const struct conf *conf, const char **error_r)
{
	static char why[256];
	struct canonical_settings s = {
	    .canonical_maps = conf_get_list(conf, "canonical_maps"),
	    .sender_maps = conf_get_list(conf, "sender_canonical_maps"),
	    .recipient_maps = conf_get_list(conf, "recipient_canonical_maps"),
	    .masquerade_domains = conf_get_list(conf, "masquerade_domains"),
	    .masquerade_exceptions = conf_get_list(conf, "masquerade_exceptions"),
	    .mydestination = conf_get_list(conf, "mydestination"),
	    .myorigin = conf_get(conf, "myorigin"),
	    .delimiter = conf_get(conf, "recipient_delimiter"),
	};
	static const char *const class_params[] = {"canonical_classes", "sender_canonical_classes",
	                                           "recipient_canonical_classes",
	                                           "masquerade_classes"};
	unsigned *classes[] = {&s.canonical_classes, &s.sender_classes, &s.recipient_classes,
	                       &s.masquerade_classes};
	for (size_t i = 0; i < COUNT(class_params); i++) {
		const char *bad;
		if (canonical_classes_parse(conf_get_list(conf, class_params[i]), classes[i],
		                            &bad) != 0) {
			snprintf(why, sizeof(why), "%s: \"%.100s\" is not a class of address",
			         class_params[i], bad);
			*error_r = why;
			return NULL;
		}
	}
	struct addr_set *own = NULL;
	if (has_items(s.canonical_maps) || has_items(s.sender_maps) ||
	    has_items(s.recipient_maps) || has_items(s.masquerade_domains)) {
		own = own_addresses(conf, error_r);
		if (own == NULL)
			return NULL;
	}
	s.own_addrs = own;
	struct canonical *c = canonical_new(&s);
	c->own_addrs = own;
	return c;
}

const struct addr_set *canonical_own_addrs(const struct canonical *c)
{
	return c ? c->settings.own_addrs : NULL;
}

void canonical_free(struct canonical *c)
{
	if (c == NULL)
		return;
	generic_map_free(c->sender);
	generic_map_free(c->recipient);
	generic_map_free(c->common);
	addr_set_free(c->own_addrs);
	str_free(&c->work);
	str_free(&c->mapped);
	free(c);
}

bool canonical_wanted(const struct canonical *c, unsigned classes)
{
	if (c == NULL)
		return false;
	const struct canonical_settings *s = &c->settings;
	return (generic_map_enabled(c->sender) && (s->sender_classes & classes & SENDER_CLASSES)) ||
	       (generic_map_enabled(c->recipient) &&
	        (s->recipient_classes & classes & RECIPIENT_CLASSES)) ||
	       (generic_map_enabled(c->common) && (s->canonical_classes & classes)) ||
	       (has_items(s->masquerade_domains) && (s->masquerade_classes & classes));
}

/* addr through one table set, asked again with its result until that is
 * the address asked (in any case) or no key matches. 1 when addr
 * changed, 0 when not, -1 with c->error. */
static int map_nested(struct canonical *c, struct generic_map *gm, const char *param,
                      struct str *addr)
{
	int changed = 0;
	for (int n = 0; n < CANONICAL_NESTING_MAX; n++) {
		const char *error = "";
		int rc = generic_map_lookup(gm, str_cstr(addr), &c->mapped, &error);
		if (rc < 0) {
			snprintf(c->error, sizeof(c->error), "%s: %s", param, error);
			return -1;
		}
		if (rc == 0)
			break;
		bool same = strcasecmp(str_cstr(&c->mapped), str_cstr(addr)) == 0;
		if (strcmp(str_cstr(&c->mapped), str_cstr(addr)) != 0) {
			str_set(addr, str_cstr(&c->mapped));
			changed = 1;
		}
		if (same)
			break;
	}
	return changed;
}

/* Whether the local part name (lower-cased) is in masquerade_exceptions:
 * 1, 0, or -1 with c->error. */
static int masquerade_excepted(struct canonical *c, const char *name)
{
	char *const *list = c->settings.masquerade_exceptions;
	int found = 0;
	struct str value = STR_INIT;
	for (size_t i = 0; found == 0 && list && list[i]; i++) {
		if (strchr(list[i], ':') == NULL) {
			found = strcasecmp(list[i], name) == 0;
			continue;
		}
		const char *error = "";
		found = table_cache_lookup(list[i], name, false, &value, &error);
		if (found < 0)
			snprintf(c->error, sizeof(c->error), "masquerade_exceptions: %s", error);
	}
	str_free(&value);
	return found;
}

/* Masquerade addr in place: 1 when it changed, 0 when not, -1 with
 * c->error. */
static int masquerade(struct canonical *c, struct str *addr)
{
	const char *a = str_cstr(addr);
	const char *at = strrchr(a, '@');
	if (at == NULL || strchr(at, '"') != NULL)
		return 0; /* no domain (the '@' is in a quoted local part) */
	const char *domain = at + 1;
	size_t domain_len = strlen(domain);
	if (has_items(c->settings.masquerade_exceptions)) {
		char *name = xstrndup(a, (size_t)(at - a));
		for (char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		int rc = masquerade_excepted(c, name);
		free(name);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
	}
	/* The first entry that is the domain or a parent of it decides. */
	char *const *list = c->settings.masquerade_domains;
	for (size_t i = 0; list && list[i]; i++) {
		const char *masq = list[i];
		bool strip = true;
		for (; *masq == '!'; masq++)
			strip = !strip;
		size_t masq_len = strlen(masq);
		if (masq_len == 0 || masq_len > domain_len)
			continue;
		if (masq_len == domain_len) {
			if (strcasecmp(masq, domain) == 0)
				return 0;
			continue;
		}
		const char *parent = domain + domain_len - masq_len;
		if (parent[-1] != '.' || strcasecmp(masq, parent) != 0)
			continue;
		if (!strip)
			return 0;
		size_t keep = (size_t)(domain - a);
		char *lower = xstrdup(masq);
		for (char *p = lower; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		str_truncate(addr, keep);
		str_append_cstr(addr, lower);
		free(lower);
		return 1;
	}
	return 0;
}

int canonical_rewrite(struct canonical *c, enum canonical_class cls, const char *address,
                      struct str *out, const char **error_r)
{
	if (c == NULL || *address == '\0')
		return 0;
	const struct canonical_settings *s = &c->settings;
	str_set(&c->work, address);
	int changed = 0, rc = 0;
	if ((cls & SENDER_CLASSES) && (s->sender_classes & cls))
		rc = map_nested(c, c->sender, "sender_canonical_maps", &c->work);
	else if ((cls & RECIPIENT_CLASSES) && (s->recipient_classes & cls))
		rc = map_nested(c, c->recipient, "recipient_canonical_maps", &c->work);
	changed |= rc > 0;
	if (rc >= 0 && (s->canonical_classes & cls)) {
		rc = map_nested(c, c->common, "canonical_maps", &c->work);
		changed |= rc > 0;
	}
	if (rc >= 0 && (s->masquerade_classes & cls) && has_items(s->masquerade_domains)) {
		rc = masquerade(c, &c->work);
		changed |= rc > 0;
	}
	if (rc < 0) {
		*error_r = c->error;
		return -1;
	}
	if (!changed || strcmp(str_cstr(&c->work), address) == 0)
		return 0;
	str_set(out, str_cstr(&c->work));
	return 1;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

int canonical_rewrite_envelope(struct canonical *c, const struct queue_envelope *in,
                               struct queue_envelope *out, const char **error_r)
{
	queue_envelope_copy_fields(out, in);
	struct str mapped = STR_INIT;
	int rc = canonical_rewrite(c, CANONICAL_ENVELOPE_SENDER, in->sender ? in->sender : "",
	                           &mapped, error_r);
	if (rc == 1) {
		free(out->sender);
		out->sender = xstrdup(str_cstr(&mapped));
	}
	for (size_t i = 0; rc >= 0 && i < in->rcpt_count; i++) {
		const struct queue_rcpt *r = &in->rcpts[i];
		rc = canonical_rewrite(c, CANONICAL_ENVELOPE_RECIPIENT, r->address, &mapped,
		                       error_r);
		if (rc == 1) {
			/* The recipient as it came is its original recipient. */
			char *orcpt =
			    r->orcpt && r->orcpt[0]
			        ? xstrdup(r->orcpt)
			        : xasprintf("%s;%s", is_ascii(r->address) ? "rfc822" : "utf-8",
			                    r->address);
			queue_envelope_add_rcpt(out, str_cstr(&mapped), orcpt, r->notify);
			free(orcpt);
		} else if (rc == 0) {
			queue_envelope_add_rcpt(out, r->address, r->orcpt, r->notify);
		}
		if (rc >= 0)
			out->rcpts[out->rcpt_count - 1].valias_pending = r->valias_pending;
	}
	str_free(&mapped);
	if (rc < 0) {
		queue_envelope_free(out);
		return -1;
	}
	return 0;
}

struct header_ctx {
	struct canonical *c;
	const char *domain; /* for addresses without one, or NULL */
	const char *error;
};

/* addr_header_map_fn: the addr-spec as written is made canonical (one
 * that is not a valid mailbox stays as it is; one without a domain gets
 * hc->domain when there is one), then rewritten as an address of the
 * field's class. */
static int map_header_address(void *ctx, enum addr_header_kind kind, const char *spec,
                              struct str *replacement)
{
	struct header_ctx *hc = ctx;
	char *canonical;
	bool qualified = false;
	if (*spec == '\0')
		return 0;
	if (hc->domain != NULL && strchr(spec, '@') == NULL) {
		char *full = xasprintf("%s@%s", spec, hc->domain);
		int rc = address_header_canonical(full, &canonical);
		free(full);
		if (rc != 0)
			return 0;
		qualified = true;
	} else if (address_header_canonical(spec, &canonical) != 0) {
		return 0;
	}
	const char *key = canonical ? canonical : spec;
	struct str mapped = STR_INIT;
	enum canonical_class cls =
	    kind == ADDR_HEADER_SENDER ? CANONICAL_HEADER_SENDER : CANONICAL_HEADER_RECIPIENT;
	int rc = canonical_rewrite(hc->c, cls, key, &mapped, &hc->error);
	if (rc == 1) {
		str_append(replacement, mapped.data, mapped.len);
	} else if (rc == 0 && qualified) {
		str_append_cstr(replacement, key);
		rc = 1;
	}
	str_free(&mapped);
	free(canonical);
	return rc;
}

/* The header section through map_header_address: the fields of the
 * classes the tables or masquerading apply to, and all sender and
 * recipient fields when addresses are to be completed with domain. */
int canonical_rewrite_header(struct canonical *c, const char *domain, const char *in, size_t len,
                             bool at_end, struct str *out, size_t *used_r, const char **error_r)
{
	unsigned kinds = 0;
	if (domain != NULL || canonical_wanted(c, CANONICAL_HEADER_SENDER))
		kinds |= ADDR_HEADER_SENDER;
	if (domain != NULL || canonical_wanted(c, CANONICAL_HEADER_RECIPIENT))
		kinds |= ADDR_HEADER_RECIPIENT;
	struct header_ctx hc = {c, domain, NULL};
	int rc =
	    addr_header_rewrite_kinds(in, len, at_end, kinds, map_header_address, &hc, out, used_r);
	if (rc < 0)
		*error_r = hc.error ? hc.error : "address rewriting failed";
	return rc;
}
