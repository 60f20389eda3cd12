/*
 * Hints for Postfix parameters that Postern does not have (see
 * postfix_hints.c).
 */
#ifndef POSTERN_CONF_POSTFIX_HINTS_H
#define POSTERN_CONF_POSTFIX_HINTS_H

/* What takes the place of Postfix's parameter name in Postern, or that
 * it has no effect; NULL for a name with no hint. */
const char *postfix_hint(const char *name);

/* The same for a master.cf program (a name or path: its last part) that
 * Postern has not, such as cleanup or tlsmgr; NULL for any other. */
const char *postfix_program_hint(const char *command);

#endif
