/*
 * Hints for Postfix parameters that Postern does not have (see
 * postfix_hints.c).
 */
#ifndef POSTERN_CONF_POSTFIX_HINTS_H
#define POSTERN_CONF_POSTFIX_HINTS_H

/* What takes the place of Postfix's parameter name in Postern, or that
 * it has no effect; NULL for a name with no hint. */
const char *postfix_hint(const char *name);

#endif
