/*
 * notify_classes, as Postfix reads it: which problems the postmaster
 * hears about by mail. qmgr sends the bounce, 2bounce and delay
 * notices; the other classes are Postfix's names for problems Postern
 * reports in its log only, accepted so that a Postfix main.cf carries
 * over.
 */
#ifndef POSTERN_MAIL_NOTIFY_CLASSES_H
#define POSTERN_MAIL_NOTIFY_CLASSES_H

enum notify_class {
	NOTIFY_BOUNCE = 1 << 0,   /* copies of bounces (headers) to bounce_notice_recipient */
	NOTIFY_2BOUNCE = 1 << 1,  /* undeliverable bounces to 2bounce_notice_recipient */
	NOTIFY_DELAY = 1 << 2,    /* copies of delay notices (headers) to delay_notice_recipient */
	NOTIFY_POLICY = 1 << 3,   /* log only in Postern */
	NOTIFY_PROTOCOL = 1 << 4, /* log only in Postern */
	NOTIFY_RESOURCE = 1 << 5, /* log only in Postern */
	NOTIFY_SOFTWARE = 1 << 6, /* log only in Postern */
	NOTIFY_DATA = 1 << 7,     /* log only in Postern */
};

/* The classes of list (NULL-terminated words); 0 with the flags, or -1
 * with *bad_r the first unknown word. */
int notify_classes_parse(char *const *list, unsigned *flags_r, const char **bad_r);

#endif
