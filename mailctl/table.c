/*
 * mailctl table build FILE...: compile Postfix-style table sources
 * ("key value" lines, see table/table_source.h) into FILE.lmdb beside
 * them, as postmap does: transport_maps, smtp_tls_policy_maps,
 * smtp_sasl_password_maps and the like. A source with errors leaves the
 * old table in place. The result is mode 0644 unless the source is not
 * readable by others, then 0640 (credential tables).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mailctl/mailctl.h"
#include "table/table_source.h"
#include "util/alloc.h"

static int build_one(const char *source)
{
	struct stat st;
	if (stat(source, &st) != 0) {
		mailctl_error("cannot read %s: %m", source);
		return 1;
	}
	mode_t mode = (st.st_mode & S_IROTH) ? 0644 : 0640;
	char *dest = xasprintf("%s.lmdb", source);
	struct diag_list diags;
	diag_list_init(&diags);
	int rc = table_source_compile(source, dest, mode, st.st_gid, &diags);
	for (size_t i = 0; i < diags.count; i++)
		mailctl_error("%s%s", diags.items[i].severity == DIAG_WARNING ? "warning: " : "",
		              diags.items[i].text);
	diag_list_free(&diags);
	if (rc != 0)
		mailctl_error("%s not rebuilt", dest);
	free(dest);
	return rc == 0 ? 0 : 1;
}

int cmd_table(struct mailctl *m, int argc, char **argv)
{
	(void)m;
	if (argc < 3 || strcmp(argv[1], "build") != 0) {
		mailctl_error("usage: table build FILE...");
		return 2;
	}
	int status = 0;
	for (int i = 2; i < argc; i++)
		if (build_one(argv[i]) != 0)
			status = 1;
	return status;
}
