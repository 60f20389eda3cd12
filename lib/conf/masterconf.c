/*
 * master.conf: one service per logical line, eight or more white-space
 * separated fields (format in masterconf.h). Each bad line gets one error
 * naming file:line and is left out; good lines are still added.
 */
#include "conf/masterconf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/postfix_hints.h"
#include "util/alloc.h"
#include "util/logical_lines.h"
#include "util/str.h"

#define WHITESPACE " \t\r\v\f"
#define MIN_FIELDS 8

enum { F_NAME, F_TYPE, F_PRIVATE, F_UNPRIV, F_CHROOT, F_WAKEUP, F_MAXPROC, F_COMMAND };

void service_list_init(struct service_list *list)
{
	list->items = NULL;
	list->count = 0;
	list->cap = 0;
}

void service_list_free(struct service_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		service_def_free(&list->items[i]);
	free(list->items);
	service_list_init(list);
}

const char *service_type_name(enum service_type type)
{
	switch (type) {
	case SERVICE_INET:
		return "inet";
	case SERVICE_UNIX:
		return "unix";
	case SERVICE_PASS:
		return "pass";
	}
	return "unknown";
}

static bool str_eq_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool service_def_equal(const struct service_def *a, const struct service_def *b)
{
	if (strcmp(a->name, b->name) != 0 || a->type != b->type ||
	    a->private_socket != b->private_socket || a->privilege != b->privilege ||
	    !str_eq_null(a->user_spec, b->user_spec) || a->chroot_queue != b->chroot_queue ||
	    !str_eq_null(a->chroot_path, b->chroot_path) || a->wakeup != b->wakeup ||
	    a->max_proc != b->max_proc || a->argc != b->argc)
		return false;
	for (int i = 0; i < a->argc; i++)
		if (strcmp(a->argv[i], b->argv[i]) != 0)
			return false;
	return true;
}

static char *strdup_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void service_def_copy(struct service_def *dst, const struct service_def *src)
{
	*dst = *src;
	dst->name = xstrdup(src->name);
	dst->user_spec = strdup_null(src->user_spec);
	dst->chroot_path = strdup_null(src->chroot_path);
	dst->file = strdup_null(src->file);
	dst->argv = xcalloc((size_t)src->argc + 1, sizeof(char *));
	for (int i = 0; i < src->argc; i++)
		dst->argv[i] = xstrdup(src->argv[i]);
}

void service_def_free(struct service_def *def)
{
	free(def->name);
	free(def->user_spec);
	free(def->chroot_path);
	free(def->file);
	if (def->argv != NULL)
		for (int i = 0; i < def->argc; i++)
			free(def->argv[i]);
	free(def->argv);
	memset(def, 0, sizeof(*def));
}

/* --- field checks: each returns 0, or -1 with a message in *why --- */

static bool all_of(const char *s, const char *accept)
{
	return *s != '\0' && s[strspn(s, accept)] == '\0';
}

#define DIGITS "0123456789"
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS

/* A port number (1-65535) or a service name such as "smtp". */
static bool valid_port(const char *port)
{
	if (all_of(port, DIGITS))
		return strlen(port) <= 5 && atoi(port) >= 1 && atoi(port) <= 65535;
	return all_of(port, NAME_CHARS "_-");
}

/* "port", "host:port", "*:port" or "[v6addr]:port"; syntax only. */
static bool valid_inet_name(const char *name)
{
	const char *colon;
	if (name[0] == '[') {
		const char *close = strchr(name, ']');
		if (close == NULL || close[1] != ':' || close == name + 1)
			return false;
		char *addr = xstrndup(name + 1, (size_t)(close - name - 1));
		/* An optional %zone after the address. */
		char *zone = strchr(addr, '%');
		if (zone != NULL)
			*zone++ = '\0';
		bool ok = all_of(addr, "0123456789abcdefABCDEF:.") && strchr(addr, ':') != NULL &&
		          (zone == NULL || all_of(zone, NAME_CHARS "_.-"));
		free(addr);
		return ok && valid_port(close + 2);
	}
	colon = strchr(name, ':');
	if (colon == NULL)
		return valid_port(name);
	if (strchr(colon + 1, ':') != NULL)
		return false; /* a bare IPv6 address needs brackets */
	char *host = xstrndup(name, (size_t)(colon - name));
	bool ok = strcmp(host, "*") == 0 || all_of(host, NAME_CHARS "_.-");
	free(host);
	return ok && valid_port(colon + 1);
}

/* "user" or "user:group", with login-name characters. */
static bool valid_user_spec(const char *spec)
{
	const char *colon = strchr(spec, ':');
	char *user = xstrndup(spec, colon ? (size_t)(colon - spec) : strlen(spec));
	bool ok = all_of(user, NAME_CHARS "_.-") && user[0] != '-' && user[0] != '.';
	if (ok && colon != NULL)
		ok = all_of(colon + 1, NAME_CHARS "_.-") && colon[1] != '-' && colon[1] != '.';
	free(user);
	return ok;
}

/* "-" (dash_value), or a non-negative decimal number that fits an int. */
static int parse_count(const char *field, int dash_value, int *out, const char **why)
{
	if (strcmp(field, "-") == 0) {
		*out = dash_value;
		return 0;
	}
	if (field[0] == '-' && all_of(field + 1, DIGITS)) {
		*why = "must not be negative";
		return -1;
	}
	if (!all_of(field, DIGITS)) {
		*why = "must be a number or -";
		return -1;
	}
	errno = 0;
	long n = strtol(field, NULL, 10);
	if (errno != 0 || n > INT_MAX) {
		*why = "is too large";
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int parse_type(const char *field, enum service_type *type)
{
	if (strcmp(field, "inet") == 0)
		*type = SERVICE_INET;
	else if (strcmp(field, "unix") == 0)
		*type = SERVICE_UNIX;
	else if (strcmp(field, "pass") == 0)
		*type = SERVICE_PASS;
	else
		return -1;
	return 0;
}

/* y, n or - ('-' is dash_value). */
static int parse_yes_no(const char *field, bool dash_value, bool *out)
{
	if (strcmp(field, "y") == 0)
		*out = true;
	else if (strcmp(field, "n") == 0)
		*out = false;
	else if (strcmp(field, "-") == 0)
		*out = dash_value;
	else
		return -1;
	return 0;
}

/* Fill def from the fields of one line; 0, or -1 with an error in *error
 * (a fresh string). */
static int parse_fields(char **fields, int count, struct service_def *def, char **error)
{
	const char *name = fields[F_NAME];
	const char *why;
	def->name = xstrdup(name);
	if (parse_type(fields[F_TYPE], &def->type) != 0) {
		/* Postfix's unix-dgram (postlogd) and fifo (old pickup and
		 * qmgr lines): say what to do with the line. */
		const char *hint = postfix_program_hint(fields[F_COMMAND]);
		if (hint == NULL && strcmp(fields[F_TYPE], "fifo") == 0)
			hint = "a fifo service is a unix service in Postern: write unix";
		*error = xasprintf("service %s: unknown service type \"%s\" (use inet, unix or "
		                   "pass)%s%s%s",
		                   name, fields[F_TYPE], hint ? " (Postfix's: " : "",
		                   hint ? hint : "", hint ? ")" : "");
		return -1;
	}
	if (def->type == SERVICE_INET && !valid_inet_name(name)) {
		*error = xasprintf("service %s: an inet service name must be port, host:port or "
		                   "[address]:port",
		                   name);
		return -1;
	}
	if (def->type != SERVICE_INET &&
	    (strchr(name, '/') != NULL || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)) {
		*error = xasprintf("service %s: a %s service name is a socket name and must not "
		                   "contain '/'",
		                   name, fields[F_TYPE]);
		return -1;
	}
	if (parse_yes_no(fields[F_PRIVATE], def->type != SERVICE_INET, &def->private_socket) != 0) {
		*error = xasprintf("service %s: private column must be y, n or -, not \"%s\"", name,
		                   fields[F_PRIVATE]);
		return -1;
	}
	if (def->type == SERVICE_INET && def->private_socket) {
		*error = xasprintf("service %s: an inet service cannot be private (use n or - in "
		                   "the private column)",
		                   name);
		return -1;
	}
	const char *unpriv = fields[F_UNPRIV];
	if (strcmp(unpriv, "y") == 0 || strcmp(unpriv, "-") == 0) {
		def->privilege = SERVICE_UNPRIV_DEFAULT;
	} else if (strcmp(unpriv, "n") == 0) {
		def->privilege = SERVICE_ROOT;
	} else if (valid_user_spec(unpriv)) {
		def->privilege = SERVICE_USER;
		def->user_spec = xstrdup(unpriv);
	} else {
		*error = xasprintf("service %s: unpriv column must be y, n, - or user[:group], not "
		                   "\"%s\"",
		                   name, unpriv);
		return -1;
	}
	const char *chroot_field = fields[F_CHROOT];
	if (chroot_field[0] == '/') {
		def->chroot_path = xstrdup(chroot_field);
	} else if (parse_yes_no(chroot_field, false, &def->chroot_queue) != 0) {
		*error = xasprintf("service %s: chroot column must be y, n, - or an absolute path, "
		                   "not \"%s\"",
		                   name, chroot_field);
		return -1;
	}
	/* Postfix's "N?" (wake the service only once it is used) wakes it
	 * every N seconds here: harmless, as a wake-up finds nothing to do. */
	char *wakeup = xstrdup(fields[F_WAKEUP]);
	size_t wakeup_len = strlen(wakeup);
	if (wakeup_len > 1 && wakeup[wakeup_len - 1] == '?')
		wakeup[wakeup_len - 1] = '\0';
	int wakeup_rc = parse_count(wakeup, 0, &def->wakeup, &why);
	free(wakeup);
	if (wakeup_rc != 0) {
		*error = xasprintf("service %s: wakeup \"%s\" %s", name, fields[F_WAKEUP], why);
		return -1;
	}
	if (parse_count(fields[F_MAXPROC], -1, &def->max_proc, &why) != 0) {
		*error = xasprintf("service %s: maxproc \"%s\" %s", name, fields[F_MAXPROC], why);
		return -1;
	}
	def->argc = count - F_COMMAND;
	def->argv = xcalloc((size_t)def->argc + 1, sizeof(char *));
	for (int i = 0; i < def->argc; i++)
		def->argv[i] = xstrdup(fields[F_COMMAND + i]);
	if (strcmp(def->argv[def->argc - 1], "-o") == 0) {
		*error =
		    xasprintf("service %s: -o at the end of the command needs name=value", name);
		return -1;
	}
	return 0;
}

static const struct service_def *find_service(const struct service_list *list, const char *name,
                                              enum service_type type)
{
	for (size_t i = 0; i < list->count; i++)
		if (list->items[i].type == type && strcmp(list->items[i].name, name) == 0)
			return &list->items[i];
	return NULL;
}

static void add_service(struct service_list *list, struct service_def *def)
{
	if (list->count == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 16;
		list->items = xreallocarray(list->items, list->cap, sizeof(*list->items));
	}
	list->items[list->count++] = *def;
}

/* One logical line: split into fields, check, add. */
static void parse_service_line(const char *filename, int line, char *text,
                               struct service_list *list, struct diag_list *diags)
{
	char **fields = NULL;
	int count = 0;
	for (char *save = NULL, *word = strtok_r(text, WHITESPACE, &save); word != NULL;
	     word = strtok_r(NULL, WHITESPACE, &save)) {
		fields = xreallocarray(fields, (size_t)count + 1, sizeof(*fields));
		fields[count++] = word;
	}
	if (count < MIN_FIELDS) {
		diag_add(
		    diags, DIAG_ERROR, filename, line,
		    "too few fields (%d): expected name, type, private, unpriv, chroot, wakeup, "
		    "maxproc and command",
		    count);
		free(fields);
		return;
	}
	struct service_def def;
	memset(&def, 0, sizeof(def));
	char *error = NULL;
	const struct service_def *first;
	if (parse_fields(fields, count, &def, &error) != 0) {
		diag_add(diags, DIAG_ERROR, filename, line, "%s", error);
		service_def_free(&def);
	} else if ((first = find_service(list, def.name, def.type)) != NULL) {
		diag_add(diags, DIAG_ERROR, filename, line,
		         "service %s/%s: duplicate (first defined at %s:%d)", def.name,
		         service_type_name(def.type), first->file ? first->file : "?", first->line);
		service_def_free(&def);
	} else {
		def.file = xstrdup(filename);
		def.line = line;
		add_service(list, &def);
	}
	free(error);
	free(fields);
}

int masterconf_parse_text(const char *filename, const char *text, size_t len,
                          struct service_list *list, struct diag_list *diags)
{
	size_t errors_before = diag_count(diags, DIAG_ERROR);
	struct logical_lines r;
	logical_lines_init(&r, text, len);
	while (logical_lines_next(&r)) {
		if (diag_logical_line_ok(diags, filename, &r))
			parse_service_line(filename, r.line, r.text.data, list, diags);
	}
	logical_lines_free(&r);
	return diag_count(diags, DIAG_ERROR) > errors_before ? -1 : 0;
}

int masterconf_load_file(const char *path, struct service_list *list, struct diag_list *diags)
{
	struct str text = STR_INIT;
	int rc = diag_read_file(path, &text, diags) != 0
	             ? -1
	             : masterconf_parse_text(path, str_cstr(&text), text.len, list, diags);
	str_free(&text);
	return rc;
}
