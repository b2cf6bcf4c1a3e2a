/* tui.c - see tui.h. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <histedit.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text.h"
#include "tui.h"

#define PROMPT_MAX 300
#define HISTORY_SIZE 500
/* Keys handled per readable event before the loop gets a turn (a paste
 * of a long text must not starve the network). */
#define KEYS_PER_TURN 512

struct tui {
    EditLine *el;
    History *hist;
    uv_poll_t *poll;        /* heap: freed by its close callback */
    uv_signal_t *winch;
    tui_line_cb on_line;
    tui_eof_cb on_eof;
    void *arg;
    char prompt[PROMPT_MAX];
    /* our getc: bytes of an incomplete UTF-8 sequence, and why it stopped */
    uint8_t mb[4];
    size_t mblen;
    bool would_block, eof, stopped;
};

void tui_setlocale(void)
{
    const char *cs = setlocale(LC_CTYPE, "") ? nl_langinfo(CODESET) : "";
    if (strcmp(cs, "UTF-8") != 0) setlocale(LC_CTYPE, "C.UTF-8");
}

static char *prompt_fn(EditLine *el)
{
    struct tui *t;
    el_get(el, EL_CLIENTDATA, &t);
    return t->prompt;
}

static size_t utf8_len(uint8_t lead)
{
    return lead < 0x80 ? 1 : lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3
                       : lead >= 0xF0 && lead <= 0xF4 ? 4 : 1;
}

/* libedit's input: one character from stdin if one is ready. "Nothing
 * ready" is returned as end of input (0), which makes el_gets return
 * with the line as it is; would_block tells us it was not a real end. */
static int tui_getc(EditLine *el, wchar_t *out)
{
    struct tui *t;
    el_get(el, EL_CLIENTDATA, &t);
    for (;;) {
        struct pollfd p = { .fd = 0, .events = POLLIN };
        if (poll(&p, 1, 0) <= 0) {
            t->would_block = true;
            return 0;
        }
        uint8_t c;
        ssize_t r = read(0, &c, 1);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
            t->would_block = true;
            return 0;
        }
        if (r <= 0) {
            t->eof = true;
            return 0;
        }
        t->mb[t->mblen++] = c;
        if (t->mblen < utf8_len(t->mb[0])) {
            uint32_t cp;
            /* still a valid prefix: wait for the rest */
            if (text_utf8_next(t->mb, t->mblen, &cp) == t->mblen) continue;
        }
        uint32_t cp;
        size_t n = text_utf8_next(t->mb, t->mblen, &cp);
        memmove(t->mb, t->mb + n, t->mblen - n);
        t->mblen -= n;
        *out = (wchar_t)cp;
        return 1;
    }
}

/* Rows between the prompt's first row and the cursor. */
static unsigned cursor_row(struct tui *t)
{
    int cols = 0;
    if (el_get(t->el, EL_GETTC, "co", &cols) != 0 || cols <= 0) cols = 80;
    const LineInfo *li = el_line(t->el);
    size_t w = text_width(t->prompt, strlen(t->prompt)) + text_width(li->buffer, (size_t)(li->cursor - li->buffer));
    return (unsigned)(w / (size_t)cols);
}

/* Erase the prompt and the line being typed: to the prompt's first
 * column, then clear to the end of the screen. */
static void erase_input(struct tui *t)
{
    unsigned row = cursor_row(t);
    fflush(stdout);
    if (row) fprintf(stdout, "\r\033[%uA\033[J", row);
    else fputs("\r\033[J", stdout);
    fflush(stdout);
}

void tui_print(struct tui *t, FILE *f, const char *line)
{
    erase_input(t);
    fputs(line, f);
    fputs("\r\n", f);
    fflush(f);
    el_set(t->el, EL_REFRESH);   /* prompt and line again, below */
}

static void handle_keys(struct tui *t)
{
    for (int i = 0; i < KEYS_PER_TURN && !t->stopped; i++) {
        int n = 0;
        t->would_block = false;
        const char *buf = el_gets(t->el, &n);
        if (t->eof || (buf && n == 1 && buf[0] == 4)) {   /* closed, or Ctrl-D on an empty line */
            uv_poll_stop(t->poll);
            t->on_eof(t->arg);
            return;
        }
        if (buf && n > 0 && buf[n - 1] == '\n') {
            size_t len = (size_t)n - 1;
            char *line = malloc(len + 1);
            if (line) {
                memcpy(line, buf, len);
                line[len] = 0;
                if (len) {
                    HistEvent ev;
                    history(t->hist, &ev, H_ENTER, line);
                }
            }
            /* Off and on again: libedit starts a new line and prompt. */
            el_set(t->el, EL_UNBUFFERED, 0);
            el_set(t->el, EL_UNBUFFERED, 1);
            if (line) t->on_line(line, len, t->arg);
            free(line);
        }
        if (t->would_block) return;
    }
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    struct tui *t = p->data;
    if (status < 0) {
        uv_poll_stop(p);
        t->on_eof(t->arg);
        return;
    }
    handle_keys(t);
}

static void on_winch(uv_signal_t *s, int sig)
{
    (void)sig;
    struct tui *t = s->data;
    el_resize(t->el);
    el_set(t->el, EL_REFRESH);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

struct tui *tui_start(uv_loop_t *loop, const char *prompt, tui_line_cb on_line, tui_eof_cb on_eof, void *arg,
                      char *err, size_t errlen)
{
    struct tui *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->on_line = on_line;
    t->on_eof = on_eof;
    t->arg = arg;
    snprintf(t->prompt, sizeof t->prompt, "%s", prompt);
    t->hist = history_init();
    t->el = el_init("p2pchat", stdin, stdout, stderr);
    t->poll = malloc(sizeof *t->poll);
    t->winch = malloc(sizeof *t->winch);
    if (!t->hist || !t->el || !t->poll || !t->winch || uv_poll_init(loop, t->poll, 0) != 0) {
        snprintf(err, errlen, "cannot set up line editing on the terminal");
        if (t->el) el_end(t->el);
        if (t->hist) history_end(t->hist);
        free(t->poll);
        free(t->winch);
        free(t);
        return NULL;
    }
    HistEvent ev;
    history(t->hist, &ev, H_SETSIZE, HISTORY_SIZE);
    history(t->hist, &ev, H_SETUNIQUE, 1);
    el_set(t->el, EL_CLIENTDATA, t);
    el_set(t->el, EL_EDITOR, "emacs");
    el_set(t->el, EL_SIGNAL, 0);           /* the loop handles signals */
    el_set(t->el, EL_HIST, history, t->hist);
    el_set(t->el, EL_PROMPT, prompt_fn);
    el_set(t->el, EL_GETCFN, tui_getc);
    el_source(t->el, NULL);                /* the user's ~/.editrc, if any */
    el_set(t->el, EL_UNBUFFERED, 1);       /* raw mode, prompt shown */
    t->poll->data = t;
    uv_poll_start(t->poll, UV_READABLE, on_readable);
    uv_signal_init(loop, t->winch);
    t->winch->data = t;
    uv_signal_start(t->winch, on_winch, SIGWINCH);
    return t;
}

void tui_set_prompt(struct tui *t, const char *prompt)
{
    erase_input(t);
    snprintf(t->prompt, sizeof t->prompt, "%s", prompt);
    el_set(t->el, EL_REFRESH);
}

void tui_stop(struct tui *t)
{
    if (!t) return;
    t->stopped = true;
    uv_poll_stop(t->poll);
    uv_close((uv_handle_t *)t->poll, free_handle);
    uv_signal_stop(t->winch);
    uv_close((uv_handle_t *)t->winch, free_handle);
    erase_input(t);
    el_set(t->el, EL_UNBUFFERED, 0);   /* cooked mode again */
    el_end(t->el);
    history_end(t->hist);
    free(t);
}
