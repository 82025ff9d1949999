/*
 * text - making network text safe for the places it goes.
 *
 * Everything that came from the SMTP client (addresses, HELO, header
 * values) passes through one of these before it reaches a log line,
 * an SMTP reply or a header we add.
 */
#ifndef TG_TEXT_H
#define TG_TEXT_H

#include <stddef.h>

struct tg_strbuf;

/* tg_text_log - printable ASCII kept, '\\' and '"' and anything else as
   \xNN; at most max input bytes, then "..." */
void tg_text_log(struct tg_strbuf *out, const char *in, size_t max);
/* tg_text_line - the same, but '"' kept: free text that is not inside
   a quoted field */
void tg_text_line(struct tg_strbuf *out, const char *in, size_t max);
/* tg_text_reply - for smfi_setreply(): printable ASCII, '%' doubled,
   everything else (CR, LF, 8-bit) as '?'; at most max input bytes */
void tg_text_reply(struct tg_strbuf *out, const char *in, size_t max);
/* tg_text_header - for a header value we add: printable ASCII, other
   bytes as '?', at most max input bytes */
void tg_text_header(struct tg_strbuf *out, const char *in, size_t max);
/* tg_text_json - a JSON string body (no quotes), \uXXXX for controls
   and for bytes >= 0x80 */
void tg_text_json(struct tg_strbuf *out, const char *in);

#endif
