/* Fuzz target: bounce_template_file parsing, then the $name expansion of
 * whatever parsed, against the built-in defaults. */
#include <stdint.h>
#include <stdlib.h>

#include "conf/bounce_template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf *conf;
	if (conf == NULL)
		conf = conf_new("/nonexistent");
	struct bounce_templates t;
	struct diag_list d;
	diag_list_init(&d);
	if (bounce_templates_parse("fuzz", (const char *)data, size, &t, &d) == 0) {
		bounce_templates_expand(&t, conf);
		bounce_templates_free(&t);
	}
	diag_list_free(&d);
	return 0;
}
