/*
 * Email messages as RFC 5322 text: headers folded and, where they hold more than
 * ASCII, written as RFC 2047 encoded words; a multipart/alternative body of plain
 * text and HTML in quoted-printable; CRLF line ends, no line over 998 octets. Pure
 * formatting: nothing here talks to a server.
 */
#ifndef ICTMON_MAIL_H
#define ICTMON_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Lines of a header we write stay under this (RFC 5322 recommends 78). */
#define MAIL_LINE_SOFT	78
/* The hard limit of RFC 5322 for any line, CRLF excluded. */
#define MAIL_LINE_HARD	998

struct mail_address {
	const char	*name;		/* display name, UTF-8; NULL or "" for none */
	const char	*addr;		/* addr-spec: local@domain, ASCII */
};

struct mail_message {
	struct mail_address	 from;
	struct mail_address	 to;
	const char		*subject;	/* UTF-8, any length; folded as needed */
	time_t			 date;		/* written as an RFC 5322 date in UTC */
	const char		*message_id;	/* "<...@...>", angle brackets included */
	const char		*in_reply_to;	/* "<...>" or NULL */
	const char		*references;	/* "<a> <b> ...", oldest first, or NULL */
	const char		*text;		/* UTF-8 plain text; LF or CRLF line ends */
	const char		*html;		/* UTF-8 HTML document; NULL: text only */
	/*
	 * Makes the MIME boundary (with a fixed prefix that cannot occur in
	 * quoted-printable text); the message id will do. Same seed, same bytes.
	 */
	const char		*boundary_seed;
};

/*
 * The whole message, NUL-terminated, its length in *len. NULL when out of memory or
 * when the message is malformed: an address that is not a plausible addr-spec, a
 * header value with a CR or LF, a message id without its angle brackets, text that
 * is not UTF-8.
 */
char	*mail_format(const struct mail_message *m, size_t *len);

/*
 * A plausible addr-spec for sending: printable ASCII, one '@' with a non-empty local
 * part and a domain with a dot or "localhost", no spaces, quotes, angle brackets,
 * commas or semicolons, at most 254 octets.
 */
bool	 mail_address_ok(const char *addr);

/*
 * One header field, "Name: value" with CRLF after each line: folded at white space
 * before MAIL_LINE_SOFT where possible; a value with non-ASCII (or "=?") becomes
 * RFC 2047 encoded words (UTF-8, B or Q, each at most 75 octets, never splitting a
 * character). NULL when out of memory or the value has a CR or LF or is not UTF-8.
 */
char	*mail_header(const char *name, const char *value);

/*
 * An address for From or To: "Display Name" <addr>, the name encoded as needed. NULL
 * as mail_header, or when addr is not mail_address_ok().
 */
char	*mail_header_address(const char *name, const struct mail_address *a);

/* Text for HTML: & < > " ' escaped. NULL when out of memory. */
char	*mail_html_escape(const char *text);

#endif
