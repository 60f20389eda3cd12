/*
 * notify_classes (see notify_classes.h).
 */
#include "mail/notify_classes.h"

#include <stddef.h>
#include <strings.h>

static const struct {
	const char *name;
	unsigned flag;
} classes[] = {
    {"bounce", NOTIFY_BOUNCE},     {"2bounce", NOTIFY_2BOUNCE},   {"delay", NOTIFY_DELAY},
    {"policy", NOTIFY_POLICY},     {"protocol", NOTIFY_PROTOCOL}, {"resource", NOTIFY_RESOURCE},
    {"software", NOTIFY_SOFTWARE}, {"data", NOTIFY_DATA},
};

int notify_classes_parse(char *const *list, unsigned *flags_r, const char **bad_r)
{
	unsigned flags = 0;
	for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
		size_t k = 0;
		while (k < sizeof(classes) / sizeof(classes[0]) &&
		       strcasecmp(classes[k].name, list[i]) != 0)
			k++;
		if (k == sizeof(classes) / sizeof(classes[0])) {
			*bad_r = list[i];
			return -1;
		}
		flags |= classes[k].flag;
	}
	*flags_r = flags;
	return 0;
}
