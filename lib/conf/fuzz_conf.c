/* Fuzz target: main.conf parsing, then every look-up and expansion the
 * programs make, over the names the input sets and the whole table. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void get_typed(const struct conf *conf, const struct param_def *p)
{
	switch (p->type) {
	case PARAM_INT:
		(void)conf_get_int(conf, p->name);
		break;
	case PARAM_BOOL:
		(void)conf_get_bool(conf, p->name);
		break;
	case PARAM_TIME:
		(void)conf_get_time(conf, p->name);
		break;
	case PARAM_SIZE:
		(void)conf_get_size(conf, p->name);
		break;
	case PARAM_STR:
	case PARAM_LIST:
		(void)conf_get_list(conf, p->name);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *conf = conf_new("/etc/postern");
	struct diag_list diags;
	diag_list_init(&diags);
	conf_parse_text(conf, "main.conf", (const char *)data, size, &diags);
	for (const char *const *name = conf_set_names(conf); *name; name++) {
		const char *file;
		int line;
		if (!conf_is_set(conf, *name) || !conf_origin(conf, *name, &file, &line))
			abort();
		(void)conf_get(conf, *name);
		(void)conf_get_list(conf, *name);
		free(conf_expand(conf, conf_get_raw(conf, *name)));
	}
	for (size_t i = 0; i < param_table_count; i++) {
		(void)conf_get(conf, param_table[i].name);
		get_typed(conf, &param_table[i]);
	}
	/* The input as one value, set over a parameter and expanded. */
	char *text = strndup((const char *)data, size);
	const char *error;
	(void)conf_set(conf, "myorigin", text, &error);
	(void)conf_get(conf, "myorigin");
	free(conf_expand(conf, text));
	free(text);
	diag_list_free(&diags);
	conf_free(conf);
	return 0;
}
