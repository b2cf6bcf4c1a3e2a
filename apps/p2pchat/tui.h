/* tui.h - the interactive terminal: line editing and history (libedit)
 * driven by the libuv loop, and printing above the prompt.
 *
 * Used when stdin and stdout are terminals. libedit runs unbuffered: each
 * time stdin is readable, it handles the keys available and returns, so
 * the loop never blocks on the keyboard. A line printed with tui_print
 * erases the prompt and the half-typed line, prints, and redraws them
 * below, so incoming messages never corrupt what is being typed. */
#ifndef P2PCHAT_TUI_H
#define P2PCHAT_TUI_H

#include <stdio.h>
#include <uv.h>

struct tui;

/* A complete line (without newline, NUL-terminated, writable; valid
 * during the call). */
typedef void (*tui_line_cb)(char *line, size_t len, void *arg);
/* Ctrl-D on an empty line, or the terminal went away. */
typedef void (*tui_eof_cb)(void *arg);

/* Take over the terminal (raw mode) and show the prompt (copied). NULL
 * with a sentence in err when libedit cannot start. */
struct tui *tui_start(uv_loop_t *loop, const char *prompt, tui_line_cb on_line, tui_eof_cb on_eof, void *arg,
                      char *err, size_t errlen);
void tui_set_prompt(struct tui *t, const char *prompt);
/* Print one line (no trailing newline; may contain colour sequences)
 * above the prompt, on f (stdout or stderr, both the terminal). */
void tui_print(struct tui *t, FILE *f, const char *line);
/* Give the terminal back (cooked mode) and free; the handles close on
 * the loop. */
void tui_stop(struct tui *t);

/* Make the C library's character functions (and libedit) use UTF-8: the
 * user's locale if it is UTF-8, else C.UTF-8. */
void tui_setlocale(void);

#endif
