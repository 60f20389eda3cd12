/*
 * A scratch file that has no name and is gone when closed: O_TMPFILE in a
 * directory, or, where the file system has no O_TMPFILE, a mkostemp file
 * unlinked at once. For content held outside memory (smtpd's milter
 * spill, the smtp client's checked content).
 */
#ifndef POSTERN_UTIL_UNNAMED_FILE_H
#define POSTERN_UTIL_UNNAMED_FILE_H

/* An unnamed read-write file in dir (prefix names the mkostemp fallback's
 * short-lived file): its descriptor, or -1 with errno. */
int unnamed_file(const char *dir, const char *prefix);

#endif
