/* Fuzz target: the XFORWARD command parser (smtpd's, for authorized
 * clients) and the client's command builder. What the parser accepts is
 * censored; sent back through the builder it parses again, each value
 * the same or unavailable (too long as xtext). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/xforward.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_censored(const char *value, bool login)
{
	for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
		if (*c < 0x20 || *c >= 0x7F)
			abort();
		if (!login && strchr(" <>()\\\";@", *c))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *arg = xstrndup((const char *)data, size);
	struct xforward_attrs a;
	char *error = NULL;
	if (xforward_parse(arg, &a, &error) != 0) {
		if (error == NULL || a.given != 0)
			abort();
		free(error);
		free(arg);
		return 0;
	}
	if (a.given == 0 || (a.given & ~XFORWARD_ALL))
		abort();
	const char *values[XFORWARD_ATTR_COUNT];
	for (unsigned i = 0; i < XFORWARD_ATTR_COUNT; i++) {
		values[i] = xforward_attrs_get(&a, 1u << i);
		if ((values[i] != NULL) != ((a.given >> i) & 1))
			abort();
		if (values[i] != NULL)
			check_censored(values[i], (1u << i) == XFORWARD_LOGIN);
	}
	char **lines = xforward_commands(values, a.given);
	struct xforward_attrs again, one;
	xforward_attrs_init(&again);
	for (char **l = lines; *l; l++) {
		if (strlen(*l) + 2 > XFORWARD_LINE_MAX || strncmp(*l, "XFORWARD ", 9) != 0)
			abort();
		if (xforward_parse(*l + 9, &one, &error) != 0)
			abort();
		xforward_attrs_merge(&again, &one);
	}
	if (again.given != a.given)
		abort();
	for (unsigned i = 0; i < XFORWARD_ATTR_COUNT; i++) {
		const char *v = xforward_attrs_get(&again, 1u << i);
		if (values[i] == NULL)
			continue;
		bool unavailable =
		    *v == '\0' || ((1u << i) == XFORWARD_SOURCE && *values[i] == '\0');
		if (strcmp(v, values[i]) != 0 && !unavailable)
			abort();
	}
	xforward_attrs_free(&again);
	xforward_commands_free(lines);
	xforward_attrs_free(&a);
	free(arg);
	return 0;
}
