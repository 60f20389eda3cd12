/*
 * Moving a file without replacing another (no_replace.h).
 */
#include "util/no_replace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int rename_no_replace_at(int from_dir, const char *from, int to_dir, const char *to)
{
	if (renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE: link() does not replace
	 * either; then the old name goes. */
	if (linkat(from_dir, from, to_dir, to, 0) != 0)
		return -1;
	unlinkat(from_dir, from, 0);
	return 0;
}

int rename_no_replace(const char *from, const char *to)
{
	return rename_no_replace_at(AT_FDCWD, from, AT_FDCWD, to);
}
