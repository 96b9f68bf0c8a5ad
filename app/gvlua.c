/*
** gvlua.c - the gvlua stand-alone interpreter.
**
** A Lua 5.4 interpreter with the options, messages, exit status and
** interactive mode of the standard `lua` program, whose main chunk runs as
** the main greenlet of gvlua's hub: a script can `require "gevent"` and
** block cooperatively at top level, and in interactive mode (-i) the
** greenlets it spawned keep running while the prompt waits for input.
**
** The command-line handling mirrors lua.c from Lua 5.4 (Copyright (C)
** 1994-2022 Lua.org, PUC-Rio, MIT license); this file was written for gvlua
** after studying it, and keeps its structure and its messages so that the
** behaviour matches `lua5.4` (Lua's own testes/main.lua passes, see
** tests/cli/).
**
** Where gevent's modules are found: gvlua carries them. Every module of
** the source tree's lua/ directory is built in (gvlua_preload) and put in
** package.preload, so `gvlua script.lua` works from any directory with no
** environment variable and no install, and the Lua modules always match
** the C code linked in. The C module `gvlua` is linked in and preloaded too.
** If the environment variable GVLUA_PATH is set (and -E is not given), the
** built-in modules are left out and "$GVLUA_PATH/?.lua;$GVLUA_PATH/?/init.lua;"
** is put at the front of package.path instead: this runs gevent from a
** source tree being edited (the test runner sets GVLUA_PATH to lua/).
*/

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "gvlua.h"

#if defined(GVLUA_USE_READLINE)
#include <termios.h>
#include <readline/readline.h>
#include <readline/history.h>
#endif

#if !defined(GVLUA_PROGNAME)
#define GVLUA_PROGNAME "gvlua"
#endif

#if !defined(LUA_PROMPT)
#define LUA_PROMPT "> "
#define LUA_PROMPT2 ">> "
#endif

/* names of the environment variables read at start-up */
#define INIT_VAR "LUA_INIT"
#define INIT_VAR_VERSIONED \
  INIT_VAR "_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR
#define GVLUA_PATH_VAR "GVLUA_PATH"

/* the end of a syntax error message for a chunk that is not finished */
#define EOF_MARK "<eof>"

static const char *progname = GVLUA_PROGNAME;  /* prefix of messages */


/*
** {==================================================================
** Messages and protected calls
** ===================================================================
*/

/* Prints 'msg' on stderr, prefixed by 'pname' and ": " when there is one. */
static void l_message (const char *pname, const char *msg) {
  if (pname != NULL)
    fprintf(stderr, "%s: ", pname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}

/* If 'status' is an error, prints the message on the top and pops it. */
static int report (lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL) msg = "(error object is not a string)";
    l_message(progname, msg);
    lua_pop(L, 1);
  }
  return status;
}

/*
** Message handler of the calls below: turns the error value into a string
** (through __tostring when it has one) and appends a traceback.
*/
static int msghandler (lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;  /* the string from __tostring is the message */
    msg = lua_pushfstring(L, "(error object is a %s value)",
                          luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}


/* Sets a signal's action (the readline guard below). */
static void set_signal (int sig, void (*handler) (int)) {
  struct sigaction sa;
  sa.sa_handler = handler;
  sa.sa_flags = 0;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}


/*
** Calls the function below its 'narg' arguments in protected mode, with a
** traceback on errors and Ctrl-C turned into an error meanwhile.
*/
static int docall (lua_State *L, int narg, int nres) {
  int status;
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  /* Ctrl-C raises "interrupted!" in whatever greenlet runs Lua code */
  gvlua_catch_sigint(L, 1);
  status = lua_pcall(L, narg, nres, base);
  gvlua_catch_sigint(L, 0);
  lua_remove(L, base);
  return status;
}


/* "gvlua X.Y.Z", then Lua's line as `lua -v` prints it. */
static void print_version (void) {
  fputs(GVLUA_PROGNAME " " GVLUA_VERSION "\n", stdout);
  fwrite(LUA_COPYRIGHT, 1, strlen(LUA_COPYRIGHT), stdout);
  fputs("\n", stdout);
  fflush(stdout);
}


static void print_usage (const char *badoption) {
  fprintf(stderr, "%s: ", progname);
  if (badoption[1] == 'e' || badoption[1] == 'l')
    fprintf(stderr, "'%s' needs argument\n", badoption);
  else
    fprintf(stderr, "unrecognized option '%s'\n", badoption);
  fprintf(stderr,
    "usage: %s [options] [script [args]]\n"
    "Available options are:\n"
    "  -e stat   execute string 'stat'\n"
    "  -i        enter interactive mode after executing 'script'\n"
    "  -l mod    require library 'mod' into global 'mod'\n"
    "  -l g=mod  require library 'mod' into global 'g'\n"
    "  -v        show version information\n"
    "  -E        ignore environment variables (LUA_INIT, LUA_PATH, GVLUA_PATH)\n"
    "  -W        turn warnings on\n"
    "  --        stop handling options\n"
    "  -         stop handling options and execute stdin\n"
    "gevent's modules are built in; GVLUA_PATH=dir loads them from dir\n"
    "instead (see gvlua(1)).\n",
    progname);
  fflush(stderr);
}

/* }================================================================== */


/*
** {==================================================================
** Running chunks
** ===================================================================
*/

/* Runs a chunk just loaded (if the load worked) and reports errors. */
static int run_loaded (lua_State *L, int status) {
  if (status == LUA_OK)
    status = docall(L, 0, 0);
  return report(L, status);
}

static int dofile (lua_State *L, const char *name) {
  return run_loaded(L, luaL_loadfile(L, name));
}

static int dostring (lua_State *L, const char *s, const char *name) {
  return run_loaded(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l name / -l global=name: global = require(name) */
static int dolibrary (lua_State *L, char *spec) {
  int status;
  char *globname = spec;
  char *modname = strchr(spec, '=');
  if (modname == NULL)
    modname = spec;  /* the global has the module's name */
  else
    *modname++ = '\0';  /* split "global=module" */
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  status = docall(L, 1, 1);
  if (status == LUA_OK)
    lua_setglobal(L, globname);
  return report(L, status);
}

/* Pushes arg[1] .. arg[#arg] (the script's arguments); returns how many. */
static int push_script_args (lua_State *L) {
  int i, n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE)
    luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (i = 1; i <= n; i++)
    lua_rawgeti(L, -i, i);
  lua_remove(L, -i);  /* the table, now below the arguments */
  return n;
}

/* Runs the script argv[0] ("-" is stdin unless it follows "--"). */
static int handle_script (lua_State *L, char **argv) {
  int status;
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0)
    fname = NULL;
  status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = push_script_args(L);
    status = docall(L, n, LUA_MULTRET);
  }
  return report(L, status);
}

/* LUA_INIT_5_4, else LUA_INIT: a chunk, or "@file" to run a file. */
static int handle_luainit (lua_State *L) {
  const char *name = "=" INIT_VAR_VERSIONED;
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=" INIT_VAR;
    init = getenv(name + 1);
  }
  if (init == NULL)
    return LUA_OK;
  if (init[0] == '@')
    return dofile(L, init + 1);
  return dostring(L, init, name);
}

/* }================================================================== */


/*
** {==================================================================
** Command line
** ===================================================================
*/

/* what collect_args found */
#define HAS_ERROR 1  /* bad option */
#define HAS_I     2  /* -i */
#define HAS_V     4  /* -v */
#define HAS_E     8  /* -e */
#define HAS_BIG_E 16 /* -E */

/*
** Checks the options before anything runs. Returns the flags above; '*first'
** gets the index of the script (argc when there is none), or of the bad
** option on errors.
*/
static int collect_args (char **argv, int *first) {
  int flags = 0;
  int i;
  for (i = 1; argv[i] != NULL; i++) {
    const char *a = argv[i];
    *first = i;
    if (a[0] != '-')  /* the script */
      return flags;
    switch (a[1]) {
      case '-':  /* "--": the next argument is the script */
        if (a[2] != '\0') return HAS_ERROR;
        *first = i + 1;
        return flags;
      case '\0':  /* "-": stdin is the script */
        return flags;
      case 'E':
        if (a[2] != '\0') return HAS_ERROR;
        flags |= HAS_BIG_E;
        break;
      case 'W':
        if (a[2] != '\0') return HAS_ERROR;
        break;
      case 'i':
        flags |= HAS_I;  /* -i implies -v */
        /* FALLTHROUGH */
      case 'v':
        if (a[2] != '\0') return HAS_ERROR;
        flags |= HAS_V;
        break;
      case 'e':
        flags |= HAS_E;
        /* FALLTHROUGH */
      case 'l':  /* both take an argument, joined or in the next word */
        if (a[2] == '\0') {
          i++;
          if (argv[i] == NULL || argv[i][0] == '-')
            return HAS_ERROR;
        }
        break;
      default:
        return HAS_ERROR;
    }
  }
  *first = i;  /* no script */
  return flags;
}

/*
** Runs -e, -l and -W in command-line order (argv[1] .. argv[n-1], all
** options checked by collect_args). Returns 0 if one failed.
*/
static int run_args (lua_State *L, char **argv, int n) {
  int i;
  for (i = 1; i < n; i++) {
    int option = argv[i][1];
    if (option == 'e' || option == 'l') {
      int status;
      char *extra = argv[i] + 2;
      if (*extra == '\0') extra = argv[++i];
      status = (option == 'e') ? dostring(L, extra, "=(command line)")
                               : dolibrary(L, extra);
      if (status != LUA_OK) return 0;
    }
    else if (option == 'W')
      lua_warning(L, "@on", 0);
  }
  return 1;
}

/*
** The global 'arg': the script name at 0, its arguments at 1.., and the
** interpreter name and options at negative indices. Without a script the
** interpreter name is at 0.
*/
static void create_arg_table (lua_State *L, char **argv, int argc,
                              int script) {
  int i;
  if (script == argc) script = 0;
  lua_createtable(L, argc - (script + 1), script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* }================================================================== */


/*
** {==================================================================
** The gvlua hub and module paths
** ===================================================================
*/

/* Pushes "dir/?.lua;dir/?/init.lua" ('dir' without its trailing '/'). */
static void push_dir_templates (lua_State *L, const char *dir) {
  size_t l = strlen(dir);
  while (l > 1 && dir[l - 1] == '/') l--;
  lua_pushlstring(L, dir, l);
  dir = lua_tostring(L, -1);
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", dir, dir);
  lua_remove(L, -2);
}

/*
** GVLUA_PATH set: its templates go in front of package.path; returns 1.
** Else returns 0 and leaves package.path alone.
*/
static int set_module_path (lua_State *L) {
  const char *src = getenv(GVLUA_PATH_VAR);
  if (src == NULL || src[0] == '\0')
    return 0;
  lua_getglobal(L, "package");
  push_dir_templates(L, src);
  lua_getfield(L, -2, "path");
  lua_pushfstring(L, "%s;%s", lua_tostring(L, -2), lua_tostring(L, -1));
  lua_setfield(L, -4, "path");
  lua_pop(L, 3);
  return 1;
}

/*
** Makes the main thread the main greenlet of a new hub, preloads the
** linked-in C module `gvlua` (the gevent.* modules stand on it) and the
** built-in gevent.* modules, unless GVLUA_PATH replaces those.
*/
static void open_gvlua (lua_State *L, int noenv) {
  if (noenv || !set_module_path(L))
    gvlua_preload(L);
  else {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_gvlua);
    lua_setfield(L, -2, "gvlua");
    lua_pop(L, 1);
  }
  if (gvlua_open(L, NULL) != 0)
    luaL_error(L, "cannot create the gvlua hub");
}

/* }================================================================== */


/*
** {==================================================================
** Interactive mode
**
** Before reading input the main greenlet waits cooperatively for stdin
** to be readable (gvlua_wait_fd), so the greenlets started from the
** prompt keep running while the user thinks. Only what is readable is
** consumed: with readline through its callback interface, one key at a
** time (readline is used whenever gvlua was built with it, also when
** stdin is not a terminal, echoing the input as lua5.4 does); else with
** getc() on stdin, whose buffer is checked first. The
** wait runs in a protected call: an error raised into the main greenlet
** meanwhile (a kill, a Timeout) is reported like an error at the prompt.
** ===================================================================
*/

#define WAIT_READABLE 0  /* wait for fd 0 */
#define WAIT_YIELD    1  /* input is buffered: just let others run */

static int wait_stdin_k (lua_State *L) {
  if (lua_toboolean(L, 1))
    gvlua_sleep(L, 0);
  else
    gvlua_wait_fd(L, 0, GVLUA_READ, -1);
  return 0;
}

/*
** Returns 1 if the wait went well; else reports the error and returns 0
** (the caller then reads without waiting).
*/
static int wait_stdin (lua_State *L, int how) {
  int status;
  int top = lua_gettop(L);
  lua_pushcfunction(L, wait_stdin_k);
  lua_pushboolean(L, how == WAIT_YIELD);
  status = lua_pcall(L, 1, 0, 0);
  if (status != LUA_OK) {
    const char *msg = luaL_tolstring(L, -1, NULL);
    fflush(stdout);
    l_message(progname, msg);
  }
  lua_settop(L, top);
  return status == LUA_OK;
}


/*
** 1 if stdin's buffer holds unread bytes, 0 if empty, -1 if this C
** library does not tell.
*/
static int stdin_buffered (void) {
#if defined(__GLIBC__)
  return stdin->_IO_read_ptr < stdin->_IO_read_end;
#else
  return -1;
#endif
}

/* Reads a line (with its '\n' if any) with stdio; NULL at end of input. */
static char *read_line_stdio (lua_State *L, const char *prompt, size_t *len) {
  size_t n = 0, size = 128;
  char *buf = (char *)malloc(size);
  int coop = 1;  /* still waiting cooperatively? */
  int c = EOF;
  if (buf == NULL) return NULL;
  fputs(prompt, stdout);
  fflush(stdout);
  for (;;) {
    int buffered = stdin_buffered();
    if (coop && buffered == 0)
      coop = wait_stdin(L, WAIT_READABLE);
    else if (coop && buffered == 1 && n == 0)  /* once a line */
      coop = wait_stdin(L, WAIT_YIELD);
    c = getc(stdin);
    if (c == EOF) {
      if (ferror(stdin) && errno == EINTR) {
        clearerr(stdin);
        continue;
      }
      break;
    }
    if (n + 2 > size) {
      char *nb = (char *)realloc(buf, size * 2);
      if (nb == NULL) break;  /* keep what fits */
      buf = nb;
      size *= 2;
    }
    buf[n++] = (char)c;
    if (c == '\n') break;
  }
  if (n == 0 && c == EOF) {
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}


#if defined(GVLUA_USE_READLINE)

static int use_readline = 0;
static char *rl_line = NULL;  /* what the line handler got */
static int rl_got_line = 0;

static void rl_on_line (char *line) {
  rl_line = line;
  rl_got_line = 1;
  rl_callback_handler_remove();  /* no new prompt; terminal back to normal */
}

/*
** While the hub runs other greenlets, readline has the terminal in raw
** mode but its signal handlers are not installed. A fatal signal then
** restores the terminal (readline's own clean-up, as its handlers would
** do) and kills the process as it would have anyway.
*/
static struct termios saved_tio;
static int have_tio = 0;
static const int guarded_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define N_GUARDED (sizeof(guarded_sigs) / sizeof(guarded_sigs[0]))
static int guard_on[N_GUARDED];

static void on_fatal_signal (int sig) {
  if (rl_deprep_term_function != NULL)
    (*rl_deprep_term_function)();
  if (have_tio)
    tcsetattr(0, TCSANOW, &saved_tio);
  if (write(1, "\n", 1) < 0) { /* nothing to do */ }
  set_signal(sig, SIG_DFL);
  raise(sig);
}

static void guard_signals (int on) {
  size_t i;
  for (i = 0; i < N_GUARDED; i++) {
    if (on) {
      struct sigaction cur;
      guard_on[i] = 0;
      if (sigaction(guarded_sigs[i], NULL, &cur) == 0 &&
          !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL) {
        set_signal(guarded_sigs[i], on_fatal_signal);
        guard_on[i] = 1;
      }
    }
    else if (guard_on[i]) {
      set_signal(guarded_sigs[i], SIG_DFL);
      guard_on[i] = 0;
    }
  }
}

static char *read_line_readline (lua_State *L, const char *prompt,
                                 size_t *len) {
  int coop = 1;
  rl_line = NULL;
  rl_got_line = 0;
  have_tio = (tcgetattr(0, &saved_tio) == 0);
  rl_callback_handler_install(prompt, rl_on_line);
  while (!rl_got_line) {
    if (coop && !rl_pending_input) {
      guard_signals(1);
      coop = wait_stdin(L, WAIT_READABLE);
      guard_signals(0);
      if (!coop) rl_forced_update_display();
    }
    rl_callback_read_char();
  }
  if (rl_line != NULL)
    *len = strlen(rl_line);
  return rl_line;
}

#endif


/*
** Reads a line of input after 'prompt'; returns a malloc'ed string (with
** its length in '*len'), or NULL at end of input.
*/
static char *read_line (lua_State *L, const char *prompt, size_t *len) {
#if defined(GVLUA_USE_READLINE)
  if (use_readline)
    return read_line_readline(L, prompt, len);
#endif
  return read_line_stdio(L, prompt, len);
}

static void save_line (lua_State *L, const char *line) {
  (void)L;
#if defined(GVLUA_USE_READLINE)
  if (use_readline && line[0] != '\0')
    add_history(line);
#else
  (void)line;
#endif
}

/* Pushes the prompt: _PROMPT / _PROMPT2 through tostring, or a default. */
static const char *push_prompt (lua_State *L, int firstline) {
  const char *p;
  if (lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") == LUA_TNIL) {
    lua_pop(L, 1);
    p = firstline ? LUA_PROMPT : LUA_PROMPT2;
    lua_pushstring(L, p);
    return p;
  }
  p = luaL_tolstring(L, -1, NULL);
  lua_remove(L, -2);
  return p;
}

/*
** Reads a line and pushes it. On the first line of a statement "=expr"
** becomes "return expr" (compatibility with Lua 5.2). Returns 0 at the end
** of input, with nothing pushed.
*/
static int push_line (lua_State *L, int firstline) {
  size_t l = 0;
  char *b = read_line(L, push_prompt(L, firstline), &l);
  lua_pop(L, 1);  /* the prompt */
  if (b == NULL)
    return 0;
  if (l > 0 && b[l - 1] == '\n')
    b[--l] = '\0';
  if (firstline && b[0] == '=')
    lua_pushfstring(L, "return %s", b + 1);
  else
    lua_pushlstring(L, b, l);
  free(b);
  return 1;
}

/* Tries the line on the top as an expression to print ("return line;"). */
static int try_expression (lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2);  /* the modified line */
    save_line(L, line);
  }
  else
    lua_pop(L, 2);  /* the error and the modified line */
  return status;
}

/* Does the load error on the top say the chunk is just unfinished? */
static int is_incomplete (lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    size_t lmark = sizeof(EOF_MARK) - 1;
    if (lmsg >= lmark && strcmp(msg + lmsg - lmark, EOF_MARK) == 0)
      return 1;
  }
  return 0;
}

/*
** Compiles the line at index 1 as a statement, reading more lines while
** it is unfinished. Leaves the function or the error on the top.
*/
static int read_statement (lua_State *L) {
  for (;;) {
    size_t len;
    const char *code = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, code, len, "=stdin");
    if (!is_incomplete(L, status) || !push_line(L, 0)) {
      save_line(L, code);
      return status;  /* compiled, a real error, or no more input */
    }
    lua_remove(L, -2);  /* the "<eof>" error */
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);  /* code .. "\n" .. newline, at index 1 */
  }
}

/*
** Reads and compiles the next chunk: leaves the function (or the error)
** alone on the stack and returns the status, or -1 at the end of input.
*/
static int load_input (lua_State *L) {
  int status;
  lua_settop(L, 0);
  if (!push_line(L, 1))
    return -1;
  if ((status = try_expression(L)) != LUA_OK)
    status = read_statement(L);
  lua_remove(L, 1);  /* the source */
  return status;
}

/* Prints the values on the stack with the global 'print'. */
static void print_results (lua_State *L) {
  int n = lua_gettop(L);
  if (n > 0) {
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
      l_message(progname, lua_pushfstring(L, "error calling 'print' (%s)",
                                          lua_tostring(L, -1)));
  }
}

static void do_repl (lua_State *L) {
  int status;
  const char *oldprogname = progname;
  progname = NULL;  /* no program name on errors at the prompt */
#if defined(GVLUA_USE_READLINE)
  use_readline = 1;  /* also when stdin is not a terminal, as lua does */
  rl_readline_name = "gvlua";
#endif
  while ((status = load_input(L)) != -1) {
    if (status == LUA_OK)
      status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK)
      print_results(L);
    else
      report(L, status);
  }
  lua_settop(L, 0);
  fputs("\n", stdout);
  fflush(stdout);
  progname = oldprogname;
}

/* }================================================================== */


/*
** Everything runs here, in protected mode: arguments, the standard
** libraries, the hub, LUA_INIT, -e/-l/-W, the script, the prompt.
** Returns true when all went well.
*/
static int pmain (lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script = argc;
  int flags = collect_args(argv, &script);
  luaL_checkversion(L);
  if (flags == HAS_ERROR) {
    print_usage(argv[script]);
    return 0;
  }
  if (flags & HAS_V)
    print_version();
  if (flags & HAS_BIG_E) {  /* libraries read this to ignore the env */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  open_gvlua(L, flags & HAS_BIG_E);
  create_arg_table(L, argv, argc, script);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0);
  if (!(flags & HAS_BIG_E)) {
    if (handle_luainit(L) != LUA_OK)
      return 0;
  }
  if (!run_args(L, argv, script))
    return 0;
  if (script < argc) {
    if (handle_script(L, argv + script) != LUA_OK)
      return 0;
  }
  if (flags & HAS_I)
    do_repl(L);
  else if (script == argc && !(flags & (HAS_E | HAS_V))) {
    if (isatty(0)) {  /* no arguments at a terminal: the prompt */
      print_version();
      do_repl(L);
    }
    else
      dofile(L, NULL);  /* stdin is the script */
  }
  lua_pushboolean(L, 1);
  return 1;
}


int main (int argc, char **argv) {
  int status, ok;
  lua_State *L;
  static char name[] = GVLUA_PROGNAME;
  static char *no_args[] = {name, NULL};
  if (argv == NULL || argv[0] == NULL) {  /* no program name at all */
    argv = no_args;
    argc = 1;
  }
  else if (argv[0][0] != '\0')
    progname = argv[0];
  L = gvlua_newstate();  /* luaL_newstate with gvlua's allocator */
  if (L == NULL) {
    l_message(progname, "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_gc(L, LUA_GCSTOP);  /* no collections while building the state */
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  ok = lua_toboolean(L, -1);
  report(L, status);
  gvlua_close(L);
  return (ok && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
