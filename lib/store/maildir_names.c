/*
 * Maildir file names (see maildir.h): making the unique part of a new
 * message's name, and reading a file name back into its base, its flags
 * (":2,FLAGS", kept as sorted letters) and the sizes it carries (",S=",
 * ",W="). Reading a name is a pure function; a new name takes the clock,
 * the pid and the host name.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "store/maildir_internal.h"
#include "util/alloc.h"
#include "util/self_pid.h"
#include "util/str.h"

static bool is_flag_letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int maildir_flags_normalize(const char *flags, char *out)
{
	bool seen[128] = {false};
	for (const char *p = flags; *p != '\0'; p++) {
		if (!is_flag_letter(*p))
			return -1;
		seen[(unsigned char)*p] = true;
	}
	size_t n = 0;
	for (int c = 0; c < 128; c++)
		if (seen[c])
			out[n++] = (char)c;
	out[n] = '\0';
	return 0;
}

/* The number from ",S=digits" (key "S") or ",W=digits" in a base name, or -1. */
static int64_t number_from_name(const char *base, const char *key)
{
	for (const char *p = strstr(base, key); p != NULL; p = strstr(p + 1, key)) {
		const char *d = p + 3;
		int64_t size = 0;
		bool any = false;
		while (*d >= '0' && *d <= '9' && size < INT64_MAX / 10 - 10) {
			size = size * 10 + (*d++ - '0');
			any = true;
		}
		if (any && (*d == '\0' || *d == ','))
			return size;
	}
	return -1;
}

void maildir_entry_parse(const char *name, struct maildir_entry *entry)
{
	memset(entry, 0, sizeof(*entry));
	entry->name = xstrdup(name);
	const char *colon = strchr(name, ':');
	entry->base = colon ? xstrndup(name, (size_t)(colon - name)) : xstrdup(name);
	if (colon != NULL && strncmp(colon, ":2,", 3) == 0) {
		/* Keep only letters (other tools' info is ignored, not fatal). */
		char letters[MAILDIR_MAX_FLAGS + 1];
		size_t n = 0;
		for (const char *p = colon + 3; *p != '\0' && n < MAILDIR_MAX_FLAGS; p++)
			if (is_flag_letter(*p))
				letters[n++] = *p;
		letters[n] = '\0';
		maildir_flags_normalize(letters, entry->flags);
	}
	entry->size = number_from_name(entry->base, ",S=");
}

int64_t maildir_crlf_size_from_name(const char *base)
{
	return number_from_name(base, ",W=");
}

void maildir_entry_free(struct maildir_entry *entry)
{
	free(entry->base);
	free(entry->name);
	entry->base = entry->name = NULL;
}

/* ---- New names ---- */

/* The host name with the characters Maildir reserves escaped, looked up
 * once per process (a long-lived delivery process names many files). */
static const char *escaped_host(void)
{
	static struct str escaped = STR_INIT;
	static bool known;
	if (known)
		return str_cstr(&escaped);
	known = true;
	char host[256];
	if (gethostname(host, sizeof(host) - 1) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	for (const char *p = host; *p != '\0'; p++) {
		if (*p == '/')
			str_append_cstr(&escaped, "\\057");
		else if (*p == ':')
			str_append_cstr(&escaped, "\\072");
		else
			str_append_char(&escaped, *p);
	}
	return str_cstr(&escaped);
}

char *maildir_unique_name(void)
{
	static unsigned int seq;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct str s = STR_INIT;
	str_printf(&s, "%lld.M%06ldP%ldQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
	           (long)self_pid(), ++seq, escaped_host());
	return str_steal(&s);
}
