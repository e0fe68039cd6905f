/* Message bodies pretty-printed by ServiceStack.Text's JsvFormatter (the
** Lokad reference app; spec/lokad-store-format.md 9.4) back to compact
** JSON.  The script library (lua/servicestack.lua) reaches these through the
** sandbox's built-in "jsv" module; they are in C because they run for every
** message of a migration. */
#ifndef RP_JSV_H
#define RP_JSV_H

#include <stddef.h>

#include "util.h"

/* Append 'n' bytes of 's' to 'out' without the whitespace outside JSON
** strings (space, tab, CR, LF).  Strings are copied as they are.  Returns 0,
** RP_ELIMIT (out is full), or RP_EFORMAT with the offset in err when a
** string is not closed or holds a raw newline or tab: the damage of the
** quote-blind 3.9.35 formatter, which rp_jsv_unformat() undoes. */
int rp_jsv_compact(struct rp_buf *out, const char *s, size_t n,
                   struct rp_error *err);

/* Append to 'out' the text the quote-blind formatter of ServiceStack.Text
** 3.9.35 was given, from its output 's' ('n' bytes): every CR/LF with the
** tabs after it goes, and so does the space after each ':' that the
** formatter added (the first ':' after a '{', '[', '}', ']' or ',', in or out
** of strings, as it tracked no quotes); a "{}" or "[]" keeps the state, as in
** the formatter.  Exact for that formatter's output, whatever the strings
** hold, because JSON strings cannot hold a raw newline or tab.  Returns 0 or
** RP_ELIMIT. */
int rp_jsv_unformat(struct rp_buf *out, const char *s, size_t n);

#endif
