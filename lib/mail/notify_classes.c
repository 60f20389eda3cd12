/*
 * notify_classes (see notify_classes.h).
 */
#include "mail/notify_classes.h"

#include "util/word_flags.h"

static const struct word_flag classes[] = {
    {"bounce", NOTIFY_BOUNCE},     {"2bounce", NOTIFY_2BOUNCE},   {"delay", NOTIFY_DELAY},
    {"policy", NOTIFY_POLICY},     {"protocol", NOTIFY_PROTOCOL}, {"resource", NOTIFY_RESOURCE},
    {"software", NOTIFY_SOFTWARE}, {"data", NOTIFY_DATA},
};

int notify_classes_parse(char *const *list, unsigned *flags_r, const char **bad_r)
{
	return word_flags_parse(list, classes, sizeof(classes) / sizeof(classes[0]), flags_r,
	                        bad_r);
}
