/*
 * Moving a file without replacing another (no_replace.h).
 */
#include "util/no_replace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int rename_no_replace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE: link() does not replace
	 * either; then the old name goes. */
	if (link(from, to) != 0)
		return -1;
	unlink(from);
	return 0;
}
