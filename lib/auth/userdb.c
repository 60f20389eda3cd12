/*
 * The user database (format in userdb.h): parsing the text source into
 * lines (users, and comments kept verbatim), edits, writing the source
 * back atomically, and compiling users.lmdb and vmailbox.lmdb. The parser
 * is a pure function over bytes; hashes are cleared from memory when the
 * database is freed.
 */
#include "auth/userdb.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/params.h"
#include "util/alloc.h"
#include "util/file_replace.h"

#define USERDB_SOURCE_MODE 0640
#define USERDB_TABLE_MODE 0640
#define USERDB_VMAILBOX_MODE 0644

/* One line of the source: a user, or text kept as it was (comments, blanks). */
struct userdb_line {
	bool is_user;
	char *raw;
	struct userdb_user user;
};

struct userdb {
	struct userdb_line *lines;
	size_t count, cap;
	size_t users;
};

static char userdb_error[512];

static const char *set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(userdb_error, sizeof(userdb_error), fmt, ap);
	va_end(ap);
	return userdb_error;
}

struct userdb *userdb_new(void)
{
	return xcalloc(1, sizeof(struct userdb));
}

static void user_clear(struct userdb_user *u)
{
	free(u->address);
	if (u->hash) {
		explicit_bzero(u->hash, strlen(u->hash));
		free(u->hash);
	}
	free(u->quota_text);
	memset(u, 0, sizeof(*u));
}

static void line_clear(struct userdb_line *l)
{
	free(l->raw);
	if (l->is_user)
		user_clear(&l->user);
}

void userdb_free(struct userdb *db)
{
	if (db == NULL)
		return;
	for (size_t i = 0; i < db->count; i++)
		line_clear(&db->lines[i]);
	free(db->lines);
	free(db);
}

static struct userdb_line *add_line(struct userdb *db)
{
	if (db->count == db->cap) {
		db->cap = db->cap ? db->cap * 2 : 32;
		db->lines = xreallocarray(db->lines, db->cap, sizeof(*db->lines));
	}
	struct userdb_line *l = &db->lines[db->count++];
	memset(l, 0, sizeof(*l));
	return l;
}

/* ---- addresses ---- */

static bool dot_atom_ok(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 1; i < len; i++)
		if (s[i] == '.' && s[i - 1] == '.')
			return false;
	return true;
}

int userdb_normalize_address(const char *address, char **normalized_r, const char **error_r)
{
	size_t len = strlen(address);
	if (len == 0) {
		*error_r = "empty address";
		return -1;
	}
	if (len > USERDB_MAX_ADDRESS) {
		*error_r = set_error("address longer than %d bytes", USERDB_MAX_ADDRESS);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)address[i];
		if (c <= ' ' || c == 0x7f || c == ':' || c == '/' || c == '\\') {
			*error_r = "address contains white space, a control character, ':', '/' or "
			           "'\\'";
			return -1;
		}
	}
	const char *at = strchr(address, '@');
	if (at == NULL || strchr(at + 1, '@') != NULL) {
		*error_r = "address must have the form local-part@domain";
		return -1;
	}
	if (!dot_atom_ok(address, (size_t)(at - address)) || !dot_atom_ok(at + 1, strlen(at + 1))) {
		*error_r = "empty local part or domain, or misplaced '.' in the address";
		return -1;
	}
	if (address[0] == '#') {
		*error_r = "address must not start with '#'";
		return -1;
	}
	char *copy = xstrdup(address);
	for (char *p = copy; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	*normalized_r = copy;
	return 0;
}

/* ---- parsing ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int parse_quota(const char *text, long long *quota_r, const char **error_r)
{
	if (*text == '\0') {
		*error_r = "empty quota";
		return -1;
	}
	return param_parse_size(text, quota_r, error_r);
}

/* Parse the options after the hash ("quota=SIZE"); fields is modified. */
static int parse_options(char *fields, struct userdb_user *u, const char **error_r)
{
	char *next;
	for (char *opt = fields; opt != NULL; opt = next) {
		next = strchr(opt, ':');
		if (next)
			*next++ = '\0';
		if (strncmp(opt, "quota=", 6) != 0) {
			*error_r = set_error("unknown option \"%.60s\" (expected quota=SIZE)", opt);
			return -1;
		}
		if (u->quota_text != NULL) {
			*error_r = "quota given twice";
			return -1;
		}
		const char *error;
		if (parse_quota(opt + 6, &u->quota, &error) != 0) {
			*error_r = set_error("bad quota: %s", error);
			return -1;
		}
		u->quota_text = xstrdup(opt + 6);
	}
	return 0;
}

/* Parse one user line (no line end, trailing blanks removed) into u. */
static int parse_user_line(char *text, struct userdb_user *u, const char **error_r)
{
	memset(u, 0, sizeof(*u));
	u->quota = -1;
	char *colon = strchr(text, ':');
	if (colon == NULL) {
		*error_r = "expected address:hash[:quota=SIZE]";
		return -1;
	}
	*colon = '\0';
	char *hash = colon + 1;
	char *options = strchr(hash, ':');
	if (options)
		*options++ = '\0';
	int rc = userdb_normalize_address(text, &u->address, error_r);
	if (rc == 0 && *hash == '\0') {
		*error_r = "empty password hash (lock an account with '!' before the hash)";
		rc = -1;
	}
	if (rc == 0 && strpbrk(hash, " \t") != NULL) {
		*error_r = "white space in the password hash";
		rc = -1;
	}
	if (rc == 0 && options != NULL)
		rc = parse_options(options, u, error_r);
	if (rc != 0) {
		user_clear(u);
		return -1;
	}
	u->hash = xstrdup(hash);
	return 0;
}

static int compare_users(const void *a, const void *b)
{
	const struct userdb_user *ua = *(const struct userdb_user *const *)a;
	const struct userdb_user *ub = *(const struct userdb_user *const *)b;
	int c = strcmp(ua->address, ub->address);
	return c != 0 ? c : (ua->line > ub->line) - (ua->line < ub->line);
}

/* Report every user listed more than once. Returns the number found. */
static size_t check_duplicates(const struct userdb *db, const char *filename,
                               struct diag_list *diags)
{
	const struct userdb_user **users = xcalloc(db->users + 1, sizeof(*users));
	size_t n = 0, found = 0;
	for (size_t i = 0; i < db->count; i++)
		if (db->lines[i].is_user)
			users[n++] = &db->lines[i].user;
	qsort(users, n, sizeof(*users), compare_users);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(users[i]->address, users[i - 1]->address) != 0)
			continue;
		diag_add(diags, DIAG_ERROR, filename, users[i]->line,
		         "user %s is listed more than once (also at line %d)", users[i]->address,
		         users[i - 1]->line);
		found++;
	}
	free(users);
	return found;
}

int userdb_parse(struct userdb *db, const char *filename, const char *text, size_t len,
                 struct diag_list *diags)
{
	bool failed = false;
	const char *pos = text, *end = text + len;
	int number = 0;
	struct str line = STR_INIT;
	while (pos < end) {
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		size_t n = nl ? (size_t)(nl - pos) : (size_t)(end - pos);
		number++;
		str_clear(&line);
		str_append(&line, pos, n);
		pos += n + (nl ? 1 : 0);
		while (line.len > 0 &&
		       (is_blank(line.data[line.len - 1]) || line.data[line.len - 1] == '\r'))
			str_truncate(&line, line.len - 1);
		const char *first = str_cstr(&line);
		while (is_blank(*first))
			first++;
		const char *error = NULL;
		if (memchr(str_cstr(&line), '\0', line.len) != NULL)
			error = "NUL character in line";
		else if (*first == '\0' || *first == '#')
			add_line(db)->raw = xstrdup(str_cstr(&line));
		else if (first != str_cstr(&line))
			error = "line starts with white space";
		else {
			struct userdb_user u;
			if (parse_user_line(line.data, &u, &error) == 0) {
				u.line = number;
				struct userdb_line *l = add_line(db);
				l->is_user = true;
				l->user = u;
				db->users++;
			}
		}
		if (error != NULL) {
			diag_add(diags, DIAG_ERROR, filename, number, "%s", error);
			failed = true;
		}
	}
	if (line.data)
		explicit_bzero(line.data, line.cap);
	str_free(&line);
	if (check_duplicates(db, filename, diags) > 0)
		failed = true;
	return failed ? -1 : 0;
}

/* Read a whole file; 0, or -1 with errno. */
static int read_whole_file(const char *path, struct str *text)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[8192];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		str_append(text, buf, (size_t)n);
	int saved = n < 0 ? errno : 0;
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	errno = saved;
	return n < 0 ? -1 : 0;
}

int userdb_load(struct userdb *db, const char *path, struct diag_list *diags)
{
	struct str text = STR_INIT;
	int rc;
	if (read_whole_file(path, &text) != 0) {
		rc = errno == ENOENT ? 0 : -1;
		if (rc != 0)
			diag_add(diags, DIAG_ERROR, path, 0, "cannot read: %s", strerror(errno));
	} else {
		rc = userdb_parse(db, path, str_cstr(&text), text.len, diags);
	}
	if (text.data)
		explicit_bzero(text.data, text.cap);
	str_free(&text);
	return rc;
}

/* ---- access and edits ---- */

const struct userdb_user *userdb_next(const struct userdb *db, size_t *pos)
{
	while (*pos < db->count) {
		const struct userdb_line *l = &db->lines[(*pos)++];
		if (l->is_user)
			return &l->user;
	}
	return NULL;
}

size_t userdb_count(const struct userdb *db)
{
	return db->users;
}

static struct userdb_line *find_line(const struct userdb *db, const char *normalized)
{
	for (size_t i = 0; i < db->count; i++)
		if (db->lines[i].is_user && strcmp(db->lines[i].user.address, normalized) == 0)
			return &db->lines[i];
	return NULL;
}

const struct userdb_user *userdb_find(const struct userdb *db, const char *address)
{
	char *normalized;
	const char *error;
	if (userdb_normalize_address(address, &normalized, &error) != 0)
		return NULL;
	struct userdb_line *l = find_line(db, normalized);
	free(normalized);
	return l ? &l->user : NULL;
}

static int check_hash(const char *hash, const char **error_r)
{
	if (hash == NULL || *hash == '\0' || strpbrk(hash, " \t\r\n:") != NULL) {
		*error_r = "invalid password hash";
		return -1;
	}
	return 0;
}

int userdb_add(struct userdb *db, const char *address, const char *hash, const char *quota_text,
               const char **error_r)
{
	char *normalized;
	long long quota = -1;
	if (check_hash(hash, error_r) != 0)
		return -1;
	if (quota_text != NULL && parse_quota(quota_text, &quota, error_r) != 0)
		return -1;
	if (userdb_normalize_address(address, &normalized, error_r) != 0)
		return -1;
	if (find_line(db, normalized) != NULL) {
		*error_r = set_error("user %s already exists", normalized);
		free(normalized);
		return -1;
	}
	struct userdb_line *l = add_line(db);
	l->is_user = true;
	l->user.address = normalized;
	l->user.hash = xstrdup(hash);
	l->user.quota_text = quota_text ? xstrdup(quota_text) : NULL;
	l->user.quota = quota;
	db->users++;
	return 0;
}

/* The line of an existing user, or NULL with *error_r. */
static struct userdb_line *existing_line(const struct userdb *db, const char *address,
                                         const char **error_r)
{
	char *normalized;
	if (userdb_normalize_address(address, &normalized, error_r) != 0)
		return NULL;
	struct userdb_line *l = find_line(db, normalized);
	if (l == NULL)
		*error_r = set_error("no user %s", normalized);
	free(normalized);
	return l;
}

int userdb_set_hash(struct userdb *db, const char *address, const char *hash, const char **error_r)
{
	if (check_hash(hash, error_r) != 0)
		return -1;
	struct userdb_line *l = existing_line(db, address, error_r);
	if (l == NULL)
		return -1;
	explicit_bzero(l->user.hash, strlen(l->user.hash));
	free(l->user.hash);
	l->user.hash = xstrdup(hash);
	return 0;
}

int userdb_remove(struct userdb *db, const char *address, const char **error_r)
{
	struct userdb_line *l = existing_line(db, address, error_r);
	if (l == NULL)
		return -1;
	size_t i = (size_t)(l - db->lines);
	line_clear(l);
	memmove(&db->lines[i], &db->lines[i + 1], (db->count - i - 1) * sizeof(*db->lines));
	db->count--;
	db->users--;
	return 0;
}

/* ---- writing ---- */

static void format_user(const struct userdb_user *u, struct str *out)
{
	str_printf(out, "%s:%s", u->address, u->hash);
	if (u->quota_text != NULL)
		str_printf(out, ":quota=%s", u->quota_text);
}

void userdb_format(const struct userdb *db, struct str *out)
{
	for (size_t i = 0; i < db->count; i++) {
		if (db->lines[i].is_user)
			format_user(&db->lines[i].user, out);
		else
			str_append_cstr(out, db->lines[i].raw);
		str_append_char(out, '\n');
	}
}

/* The group of the secret files: postern-auth when root and it exists. */
static gid_t secret_group(void)
{
	if (geteuid() != 0)
		return (gid_t)-1;
	struct group *gr = getgrnam(USERDB_GROUP);
	return gr ? gr->gr_gid : (gid_t)-1;
}

int userdb_save(const struct userdb *db, const char *path, const char **error_r)
{
	struct str text = STR_INIT;
	userdb_format(db, &text);
	int rc =
	    file_replace(path, text.data, text.len, USERDB_SOURCE_MODE, secret_group(), error_r);
	if (text.data)
		explicit_bzero(text.data, text.cap);
	str_free(&text);
	return rc;
}

int userdb_compile(const struct userdb *db, const char *users_path, const char *vmailbox_path,
                   const char **error_r)
{
	struct table_builder *users = table_builder_new();
	struct table_builder *mailboxes = table_builder_new();
	struct str value = STR_INIT;
	size_t pos = 0;
	const struct userdb_user *u;
	while ((u = userdb_next(db, &pos)) != NULL) {
		size_t key_len = strlen(u->address);
		str_clear(&value);
		if (u->quota >= 0)
			str_printf(&value, "quota=%lld", u->quota);
		table_builder_add(mailboxes, u->address, key_len, str_cstr(&value), value.len);
		str_clear(&value);
		str_append_cstr(&value, u->hash);
		if (u->quota >= 0)
			str_printf(&value, ":quota=%lld", u->quota);
		table_builder_add(users, u->address, key_len, str_cstr(&value), value.len);
	}
	if (value.data)
		explicit_bzero(value.data, value.cap);
	str_free(&value);
	int rc =
	    table_builder_write_lmdb(users, users_path, USERDB_TABLE_MODE, secret_group(), error_r);
	if (rc == 0)
		rc = table_builder_write_lmdb(mailboxes, vmailbox_path, USERDB_VMAILBOX_MODE,
		                              (gid_t)-1, error_r);
	table_builder_free(users);
	table_builder_free(mailboxes);
	return rc;
}

int userdb_lookup_hash(struct table *users, const char *address, struct str *hash,
                       const char **error_r)
{
	int rc = table_lookup(users, address, hash, error_r);
	if (rc == 1 && hash->len > 0) {
		const char *colon = memchr(hash->data, ':', hash->len);
		if (colon != NULL) {
			size_t keep = (size_t)(colon - hash->data);
			explicit_bzero(hash->data + keep, hash->len - keep);
			str_truncate(hash, keep);
		}
	}
	return rc;
}
