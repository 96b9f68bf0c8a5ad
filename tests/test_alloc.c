/* test_alloc.c - gvlua's Lua allocator: blocks never overlap, contents
** survive reallocation across size classes, blocks that came from malloc
** go back to malloc, and a whole Lua state runs on it. (Valgrind and ASan
** builds bypass the allocator, so this test is what checks its logic.) */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "gvlua.h"
#include "unit.h"

enum { N = 20000 };
static unsigned char *blocks[N];
static size_t sizes[N];

static void fill(unsigned char *p, size_t n, int tag) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(tag + i);
}
static int intact(const unsigned char *p, size_t n, int tag) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(tag + i)) return 0;
  return 1;
}

static void test_no_overlap(void) {
  gv_alloc *a = gv_alloc_new();
  srand(3);
  for (int i = 0; i < N; i++) {
    sizes[i] = 1 + (size_t)rand() % 1500; /* small and large */
    blocks[i] = gv_alloc_f(a, NULL, 0, sizes[i]);
    fill(blocks[i], sizes[i], i);
  }
  int ok = 1;
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < N; i += 2) { /* free half, reallocate others */
      ok &= intact(blocks[i], sizes[i], i);
      gv_alloc_f(a, blocks[i], sizes[i], 0);
      sizes[i] = 1 + (size_t)rand() % 1500;
      blocks[i] = gv_alloc_f(a, NULL, 0, sizes[i]);
      fill(blocks[i], sizes[i], i);
    }
    for (int i = 1; i < N; i += 2) { /* grow and shrink in place or not */
      ok &= intact(blocks[i], sizes[i], i);
      size_t ns = 1 + (size_t)rand() % 1500;
      blocks[i] = gv_alloc_f(a, blocks[i], sizes[i], ns);
      size_t keep = ns < sizes[i] ? ns : sizes[i];
      ok &= intact(blocks[i], keep, i);
      sizes[i] = ns;
      fill(blocks[i], ns, i);
    }
  }
  for (int i = 0; i < N; i++) {
    ok &= intact(blocks[i], sizes[i], i);
    gv_alloc_f(a, blocks[i], sizes[i], 0);
  }
  CHECK(ok);
  gv_alloc_free(a);
}

static void test_malloc_blocks_stay_with_malloc(void) {
  gv_alloc *a = gv_alloc_new();
  unsigned char *m = malloc(20); /* as if allocated before lua_setallocf */
  fill(m, 20, 7);
  m = gv_alloc_f(a, m, 20, 40); /* realloc keeps it a malloc block */
  CHECK(intact(m, 20, 7));
  gv_alloc_f(a, m, 40, 0);      /* freed with free(), not pooled: a
                                   pooled one would be handed out below */
  unsigned char *p = gv_alloc_f(a, NULL, 0, 40);
  CHECK(p != m);
  gv_alloc_f(a, p, 40, 0);
  gv_alloc_free(a);
}

static void test_lua_state(void) {
  lua_State *L = gvlua_newstate();
  CHECK(L != NULL);
  luaL_openlibs(L);
  CHECK(luaL_dostring(L,
    "local t = {}\n"
    "for i = 1, 200000 do t[i] = {i, tostring(i), string.rep('x', i % 300)} end\n"
    "for i = 1, 200000, 3 do t[i] = nil end\n"
    "collectgarbage()\n"
    "local s = 0\n"
    "for i = 2, 200000, 3 do assert(t[i][2] == tostring(i)); s = s + #t[i][3] end\n"
    "local cos = {}\n"
    "for i = 1, 10000 do cos[i] = coroutine.wrap(function(a) local b = coroutine.yield(a + 1); return b * 2 end) end\n"
    "for i = 1, 10000 do assert(cos[i](i) == i + 1); assert(cos[i](i) == 2 * i) end\n"
    "return s") == LUA_OK);
  CHECK(lua_tointeger(L, -1) > 0);
  gvlua_close(L);
}

int main(void) {
  RUN(test_no_overlap);
  RUN(test_malloc_blocks_stay_with_malloc);
  RUN(test_lua_state);
  return unit_report();
}
