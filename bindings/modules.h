/*
** modules.h - gevent's Lua modules built into the gvlua library, which
** gvlua_preload (embed.c) puts in package.preload: the gvlua executable
** and embedding hosts need no module files.
**
** The table is generated at build time from the lua/ directory by
** bindings/embed_modules.lua (one source of truth: the files meson
** installs are the files gvlua carries).
*/
#ifndef GVLUA_MODULES_H
#define GVLUA_MODULES_H

#include <stddef.h>

typedef struct gvlua_module {
  const char *name;       /* "gevent.queue"; NULL ends the table */
  const char *chunkname;  /* "@gvlua:gevent/queue.lua" */
  const char *src;        /* the Lua source, not NUL-terminated */
  size_t len;
} gvlua_module;

extern const gvlua_module gvlua_modules[];

#endif
