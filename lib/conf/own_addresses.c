/*
 * This host's addresses from inet_interfaces and proxy_interfaces (see
 * own_addresses.h).
 */
#include "conf/own_addresses.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct addr_set *own_addresses(const struct conf *conf, const char **error_r)
{
	static char why[512];
	struct addr_set *own = addr_set_new();
	const char *error = "";
	const char *param = "inet_interfaces";
	char *const *ifaces = conf_get_list(conf, "inet_interfaces");
	bool all = ifaces == NULL || ifaces[0] == NULL;
	for (size_t i = 0; ifaces && ifaces[i]; i++) {
		if (strcmp(ifaces[i], "all") == 0)
			all = true;
		else if (addr_set_add_host(own, ifaces[i], &error) != 0)
			goto fail;
	}
	if (all && addr_set_add_interfaces(own, &error) != 0)
		goto fail;
	param = "proxy_interfaces";
	char *const *proxies = conf_get_list(conf, "proxy_interfaces");
	for (size_t i = 0; proxies && proxies[i]; i++)
		if (addr_set_add_host(own, proxies[i], &error) != 0)
			goto fail;
	return own;
fail:
	snprintf(why, sizeof(why), "%s: %s", param, error);
	*error_r = why;
	addr_set_free(own);
	return NULL;
}
