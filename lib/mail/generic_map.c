/*
 * generic(5) address mapping: the keys of one address in Postfix's
 * order, and the result made an address (see generic_map.h).
 */
#include "mail/generic_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/addr_list.h"
#include "mail/extension.h"
#include "smtp/address.h"
#include "table/table.h"
#include "util/alloc.h"

struct open_table {
	struct table *table; /* NULL until opened */
	bool pattern;        /* regexp: or cidr: asked the whole address only */
};

struct generic_map {
	struct generic_map_settings settings;
	struct open_table *tables; /* one per settings.maps entry */
	size_t count;
	char error[1024];
};

/* A table that matches patterns rather than keys (Postfix's
 * DICT_FLAG_PATTERN tables). */
static bool is_pattern_spec(const char *spec)
{
	if (strncmp(spec, "proxy:", 6) == 0)
		spec += 6;
	return strncmp(spec, "regexp:", 7) == 0 || strncmp(spec, "pcre:", 5) == 0 ||
	       strncmp(spec, "cidr:", 5) == 0;
}

struct generic_map *generic_map_new(const struct generic_map_settings *settings)
{
	struct generic_map *gm = xcalloc(1, sizeof(*gm));
	gm->settings = *settings;
	while (settings->maps && settings->maps[gm->count])
		gm->count++;
	gm->tables = xcalloc(gm->count ? gm->count : 1, sizeof(*gm->tables));
	for (size_t i = 0; i < gm->count; i++)
		gm->tables[i].pattern = is_pattern_spec(settings->maps[i]);
	return gm;
}

void generic_map_free(struct generic_map *gm)
{
	if (gm == NULL)
		return;
	for (size_t i = 0; i < gm->count; i++)
		if (gm->tables[i].table)
			table_close(gm->tables[i].table);
	free(gm->tables);
	free(gm);
}

bool generic_map_enabled(const struct generic_map *gm)
{
	return gm != NULL && gm->count > 0;
}

/* Open the tables not open yet: 0, or -1 with gm->error. */
static int open_tables(struct generic_map *gm)
{
	for (size_t i = 0; i < gm->count; i++) {
		if (gm->tables[i].table != NULL)
			continue;
		const char *error = "";
		gm->tables[i].table = table_open(gm->settings.maps[i], &error);
		if (gm->tables[i].table == NULL) {
			snprintf(gm->error, sizeof(gm->error), "%s", error);
			return -1;
		}
	}
	return 0;
}

/* key in each table in order: 1 found (value), 0 not, -1 with
 * gm->error. Pattern tables get whole (NULL: they are skipped). */
static int find(struct generic_map *gm, const char *key, const char *whole, struct str *value)
{
	for (size_t i = 0; i < gm->count; i++) {
		const char *k = gm->tables[i].pattern ? whole : key;
		if (k == NULL)
			continue;
		const char *error = "";
		int rc = table_lookup(gm->tables[i].table, k, value, &error);
		if (rc < 0)
			snprintf(gm->error, sizeof(gm->error), "table %s: %s",
			         table_spec(gm->tables[i].table), error);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The '@' between local part and domain (the last one outside a quoted
 * local part), or NULL. */
static const char *domain_at(const char *address)
{
	const char *at = NULL;
	bool quoted = false;
	for (const char *p = address; *p; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '@')
			at = p;
	}
	return at;
}

/* Where the bare "user" keys apply: myorigin, mydestination, or an
 * address literal of this host. */
static bool is_local_domain(const struct generic_map *gm, const char *domain)
{
	const struct generic_map_settings *s = &gm->settings;
	if (s->myorigin && strcasecmp(domain, s->myorigin) == 0)
		return true;
	if (str_list_contains_nocase(s->mydestination, domain))
		return true;
	size_t len = strlen(domain);
	if (s->own_addrs == NULL || len < 3 || domain[0] != '[' || domain[len - 1] != ']')
		return false;
	const char *inner = domain + 1;
	if (strncasecmp(inner, "ipv6:", 5) == 0)
		inner += 5;
	char *literal = xstrndup(inner, (size_t)(domain + len - 1 - inner));
	bool own = addr_set_contains(s->own_addrs, literal);
	free(literal);
	return own;
}

/* The address of a table value for the address full (its local part
 * full[0..local_len), its base without the extension full[0..base_len)),
 * matched on a key without the extension when stripped. 0 with the
 * canonical address in out, or -1 with gm->error. */
static int make_result(struct generic_map *gm, const char *value, const char *full,
                       size_t local_len, size_t base_len, bool stripped, struct str *out)
{
	while (*value == ' ' || *value == '\t')
		value++;
	struct str res = STR_INIT;
	if (*value == '@') {
		/* @otherdomain: the same user there. */
		size_t n = strcspn(value, ", \t");
		str_append(&res, full, stripped ? base_len : local_len);
		str_append(&res, value, n);
	} else {
		struct addr_list_span *spans;
		size_t count;
		if (addr_list_parse(value, strlen(value), &spans, &count) == 0 && count > 0)
			addr_list_spec(value, &spans[0], &res);
		free(spans);
	}
	int rc = -1;
	if (res.len > 0) {
		const char *at = domain_at(str_cstr(&res));
		size_t at_pos = at ? (size_t)(at - res.data) : res.len;
		if (at == NULL && gm->settings.myorigin && *gm->settings.myorigin)
			str_printf(&res, "@%s", gm->settings.myorigin);
		if (stripped && gm->settings.propagate) {
			/* user@d + "+ext" -> user+ext@d */
			struct str ext = STR_INIT;
			str_append(&ext, full + base_len, local_len - base_len);
			str_append(&ext, res.data + at_pos, res.len - at_pos);
			str_truncate(&res, at_pos);
			str_append(&res, ext.data, ext.len);
			str_free(&ext);
		}
		struct address a;
		const char *why = "";
		if (address_parse(res.data, res.len, true, &a, &why) == 0) {
			if (!address_is_null(&a)) {
				str_clear(out);
				address_format(&a, out);
				rc = 0;
			}
			address_free(&a);
		}
	}
	if (rc != 0)
		snprintf(gm->error, sizeof(gm->error),
		         "the value \"%.200s\" for %.300s is not an address", value, full);
	str_free(&res);
	return rc;
}

int generic_map_lookup(struct generic_map *gm, const char *address, struct str *out,
                       const char **error_r)
{
	if (*address == '\0' || !generic_map_enabled(gm))
		return 0;
	if (open_tables(gm) != 0) {
		*error_r = gm->error;
		return -1;
	}
	const struct generic_map_settings *s = &gm->settings;
	char *full;
	if (domain_at(address) == NULL && s->myorigin && *s->myorigin)
		full = xasprintf("%s@%s", address, s->myorigin);
	else
		full = xstrdup(address);
	char *lower = str_lower_dup(full);
	const char *at = domain_at(lower);
	size_t local_len = at ? (size_t)(at - lower) : strlen(lower);
	const char *domain = at ? at + 1 : NULL;
	size_t base_len = extension_base_len(lower, local_len, s->delimiter);
	bool stripped = false;
	struct str value = STR_INIT;
	char *key;
	int rc = find(gm, lower, full, &value);
	if (rc == 0 && domain != NULL && base_len < local_len) {
		key = xasprintf("%.*s@%s", (int)base_len, lower, domain);
		rc = find(gm, key, NULL, &value);
		stripped = rc == 1;
		free(key);
	}
	if (rc == 0 && (domain == NULL || is_local_domain(gm, domain))) {
		key = xstrndup(lower, local_len);
		rc = find(gm, key, NULL, &value);
		free(key);
		if (rc == 0 && base_len < local_len) {
			key = xstrndup(lower, base_len);
			rc = find(gm, key, NULL, &value);
			stripped = rc == 1;
			free(key);
		}
	}
	if (rc == 0 && domain != NULL) {
		key = xasprintf("@%s", domain);
		rc = find(gm, key, NULL, &value);
		free(key);
	}
	if (rc == 1 &&
	    make_result(gm, str_cstr(&value), full, local_len, base_len, stripped, out) != 0)
		rc = -1;
	if (rc < 0)
		*error_r = gm->error;
	str_free(&value);
	free(lower);
	free(full);
	return rc;
}
