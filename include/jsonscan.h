/*
 * A streaming JSON scanner for the collectors: it checks the syntax of a document that
 * arrives in pieces of any size, knows the line and column of every byte, and reports
 * where chosen values begin and end so that their bytes can be copied as they are. It
 * builds nothing: no tree, no copy of the document, bounded state (JSONSCAN_DEPTH_MAX
 * levels). UTF-8 and number limits are left to the strict reader (include/sjson.h),
 * which reads every chunk again.
 */
#ifndef ICTMON_JSONSCAN_H
#define ICTMON_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONSCAN_DEPTH_MAX	64
#define JSONSCAN_KEY_MAX	63	/* longer member names are reported, never matched */

enum jsonscan_event {
	JSONSCAN_MORE,		/* the piece is read whole: feed the next one */
	JSONSCAN_ERROR,		/* `error` says what and where */
	/*
	 * A member name of the outermost object is in `key`: call jsonscan_select before
	 * feeding on to say what to report of its value.
	 */
	JSONSCAN_KEY,
	JSONSCAN_BEGIN,		/* a reported value starts at `at` */
	JSONSCAN_END,		/* ... and its last byte is the one before `at` */
	JSONSCAN_DONE,		/* the outermost value is complete; white space may follow */
};

/* What to report of the value of the member just named by JSONSCAN_KEY. */
enum jsonscan_mark {
	JSONSCAN_SKIP,		/* nothing (the default) */
	JSONSCAN_VALUE,		/* the value itself, once */
	JSONSCAN_ELEMENTS,	/* each element of the value, which must be an array */
};

struct jsonscan {
	/* Set with the events. */
	size_t			 at;		/* BEGIN, END: offset in the piece being fed */
	char			 key[JSONSCAN_KEY_MAX + 1];	/* KEY: unescaped */
	bool			 key_long;	/* KEY: too long, or an escaped non-ASCII
					   character: matches no name */
	unsigned long		 line;		/* of the byte being read: BEGIN's first one */
	char			 error[200];	/* "line 3, column 17: expected ':', found 'x'" */

	/* The scanner's own. */
	const char		*unit;		/* "document" or "line", for messages */
	bool			 object_only;
	bool			 failed;
	bool			 begun;
	unsigned char		 state;
	int			 depth;
	uint64_t		 arrays;	/* bit d: level d is an array, not an object */
	bool			 in_key;
	bool			 key_capture;
	size_t			 keylen;
	unsigned char		 literal;	/* which of true, false, null */
	unsigned char		 literal_pos;
	unsigned char		 hex_digits;
	unsigned		 code_point;
	enum jsonscan_mark	 pending;	/* chosen for the next value */
	enum jsonscan_mark	 mark;		/* being reported */
	int			 mark_depth;
	/* Columns: where the current line starts, in this piece or before it. */
	bool			 in_piece;
	bool			 line_in_piece;
	size_t			 line_start;
	unsigned long		 column_base;	/* characters of the line before this piece */
};

/*
 * Starts a scan at line `first_line` of a document ("document" or "line": what error
 * messages call it). With `object_only`, the outermost value must be an object.
 */
void			 jsonscan_init(struct jsonscan *s, unsigned long first_line,
			    const char *unit, bool object_only);
/*
 * Reads `data` from *pos up to the next event, leaving *pos after it. Feed the same
 * piece again until JSONSCAN_MORE, then the next piece from offset 0. After
 * JSONSCAN_ERROR every call fails.
 */
enum jsonscan_event	 jsonscan_feed(struct jsonscan *s, const char *data, size_t len,
			    size_t *pos);
/* After JSONSCAN_KEY: what to report of that member's value. */
void			 jsonscan_select(struct jsonscan *s, enum jsonscan_mark mark);
/*
 * The document is over (every piece fed to JSONSCAN_MORE): JSONSCAN_DONE when it is
 * one complete value, else JSONSCAN_ERROR ("... the document ends inside an object").
 */
enum jsonscan_event	 jsonscan_finish(struct jsonscan *s);

#endif
