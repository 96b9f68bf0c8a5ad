-- LuaRocks build of gvlua from this checkout: `luarocks --lua-version 5.4
-- make` (add `--tree DIR` for another tree). meson and ninja do the work,
-- as for every other build: the C module gvlua.so (into the tree's lib/),
-- the gevent.* Lua modules, every file of lua/ (into its share/), and the
-- self-contained gvlua executable (into its bin/); `meson install --tags
-- runtime` installs exactly those, so nothing is listed twice here.
-- Needs meson (>= 1.0) and ninja on PATH, and a C compiler.
-- Tested by tests/rock.sh in ./dev test.
rockspec_format = "3.0"
package = "gvlua"
version = "scm-1"
source = {
  -- no public repository yet: `luarocks make` builds the checkout it runs in
  url = "git+file:///gvlua.git",
}
description = {
  summary = "gevent's concurrency model for Lua 5.4: greenlets on a libev hub",
  detailed = [[
    Greenlets, Timeout, events, queues, pools, locks, greenlet-locals and
    LuaSocket-compatible cooperative I/O, with gevent's names and scheduling
    order. Greenlets are stackful C coroutines: they block from anywhere
    Lua code runs. Includes gvlua, a lua-compatible interpreter whose main
    chunk is the main greenlet.
  ]],
  license = "MIT",
  labels = {"concurrency", "coroutines", "libev", "networking"},
}
dependencies = {
  "lua >= 5.4, < 5.5",
  "luasocket",            -- gevent.socket stands on socket.core
}
-- C libraries linked in: each is found by LuaRocks (LIBEV_INCDIR,
-- LIBEV_LIBDIR, ...) and handed to meson in c_args/c_link_args below.
external_dependencies = {
  LIBEV = {header = "ev.h", library = "ev"},
  HTTP_PARSER = {header = "http_parser.h", library = "http_parser"},
  OPENSSL = {header = "openssl/ssl.h", library = "ssl"},
  CARES = {header = "ares.h", library = "cares"},
}
build = {
  type = "command",
  -- build-rock/ is kept between runs (reconfigured with the new tree's
  -- directories), so a second `luarocks make` only relinks.
  build_command = [[
    set -e
    if [ -f build-rock/build.ninja ]; then r=--reconfigure; else r=; fi
    meson setup build-rock $r --buildtype=release --prefix="$(PREFIX)" \
      --bindir="$(BINDIR)" -Dlua_cmod="$(LIBDIR)" -Dlua_lmod="$(LUADIR)" \
      -Dc_args="-I$(LUA_INCDIR) -I$(LIBEV_INCDIR) -I$(HTTP_PARSER_INCDIR) \
        -I$(OPENSSL_INCDIR) -I$(CARES_INCDIR)" \
      -Dc_link_args="-L$(LIBEV_LIBDIR) -L$(HTTP_PARSER_LIBDIR) \
        -L$(OPENSSL_LIBDIR) -L$(CARES_LIBDIR)"
    ninja -C build-rock
  ]],
  install_command = [[
    meson install -C build-rock --no-rebuild --quiet --tags runtime
  ]],
}
