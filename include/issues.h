/*
 * Problems found in a pushed batch, each naming its record and field by JSON pointer
 * ("/projects/17/planned_cost: must be a decimal amount"). A batch with any error is
 * refused whole with 422 and the list.
 */
#ifndef ICTMON_ISSUES_H
#define ICTMON_ISSUES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define ISSUES_MAX_LISTED	1000	/* beyond this only counted */
#define ISSUES_KEY_QUOTED_MAX	64	/* bytes of an unknown key quoted in a message */

struct issue {
	long	 record;		/* index in the batch, -1 for the batch as a whole */
	char	*pointer;		/* JSON pointer, or "line N" for CSV */
	char	*message;
};

struct issue_list {
	struct issue	*items;
	size_t		 count;		/* listed */
	size_t		 cap;
	size_t		 total;		/* listed and not listed */
};

void	 issues_add(struct issue_list *l, long record, const char *pointer,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * An issue at `base` + "/" + `field` (field NULL: at base itself; field is taken as
 * written, so a caller passes names without ~ or /). False when memory ran out.
 */
bool	 issues_add_fieldv(struct issue_list *l, long record, const char *base,
	    const char *field, const char *fmt, va_list ap)
	    __attribute__((format(printf, 5, 0)));
/*
 * "unknown field" at base + "/" + key (escaped), or at base quoting a key longer than
 * ISSUES_KEY_QUOTED_MAX cut short. False when memory ran out.
 */
bool	 issues_unknown_field(struct issue_list *l, long record, const char *base,
	    const char *key);
/* A pointer below `base` for key or index: "/projects/17" + "planned_cost". */
char	*issues_pointer(const char *base, const char *key);
char	*issues_pointer_index(const char *base, size_t index);
/* [{"record": 17, "pointer": "/projects/17/planned_cost", "message": "..."}, ...] */
json_t	*issues_to_json(const struct issue_list *l);
void	 issues_clear(struct issue_list *l);

#endif
