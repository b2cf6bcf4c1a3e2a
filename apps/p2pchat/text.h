/* text.h - untrusted text from the network (message bodies, nicknames):
 * UTF-8 decoding that never fails, and cleaning for a terminal. No I/O. */
#ifndef P2PCHAT_TEXT_H
#define P2PCHAT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEXT_REPLACEMENT 0xFFFDu

/* Decode one code point from s[0..len) (len > 0). Returns the number of
 * bytes used (>= 1) and the code point in *cp; a malformed sequence
 * (overlong, surrogate, > U+10FFFF, truncated) gives U+FFFD and consumes
 * its maximal valid prefix, at least one byte, as Unicode recommends. */
size_t text_utf8_next(const uint8_t *s, size_t len, uint32_t *cp);
/* The same, but 0 for a malformed sequence (an encoded U+FFFD is fine). */
size_t text_utf8_check(const uint8_t *s, size_t len, uint32_t *cp);
/* Encode cp (<= U+10FFFF) into out (4 bytes); returns the length. */
size_t text_utf8_put(uint32_t cp, uint8_t out[4]);
/* Whether s[0..len) is valid UTF-8. */
bool text_utf8_valid(const uint8_t *s, size_t len);
/* Whether cp would move the cursor or change the terminal's state: C0
 * and C1 controls, DEL, and the bidirectional overrides/isolates
 * (U+202A-202E, U+2066-2069) that can disguise a line. */
bool text_is_control(uint32_t cp);

/* Text for a terminal: valid UTF-8, controls replaced by '?', malformed
 * sequences by U+FFFD. Writes at most cap-1 bytes and a NUL (cutting at a
 * code point boundary); returns the length written. */
size_t text_sanitize(const uint8_t *in, size_t len, char *out, size_t cap);

/* Display width of a sanitized UTF-8 string in terminal columns
 * (wcwidth per code point; unknown widths count 1). */
size_t text_width(const char *s, size_t len);



/* A name (room, nickname): 1..max bytes of valid UTF-8 without controls
 * and without blanks at either end. */
bool text_valid_name(const uint8_t *s, size_t len, size_t max);
#endif
