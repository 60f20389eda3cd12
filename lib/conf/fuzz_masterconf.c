/* Fuzz target: master.conf parsing, and copying and comparing what it
 * yields, as master does on reload. */
#include <stdint.h>
#include <stdlib.h>

#include "conf/masterconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct service_list list;
	struct diag_list diags;
	service_list_init(&list);
	diag_list_init(&diags);
	int rc = masterconf_parse_text("master.conf", (const char *)data, size, &list, &diags);
	if ((rc == 0) == diag_has_errors(&diags))
		abort();
	for (size_t i = 0; i < list.count; i++) {
		const struct service_def *def = &list.items[i];
		if (def->argc < 1 || def->argv[def->argc] != NULL || def->line < 1)
			abort();
		(void)service_type_name(def->type);
		struct service_def copy;
		service_def_copy(&copy, def);
		if (!service_def_equal(&copy, def))
			abort();
		service_def_free(&copy);
	}
	service_list_free(&list);
	diag_list_free(&diags);
	return 0;
}
