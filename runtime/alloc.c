/*
** alloc.c - a Lua allocator for states gvlua owns (the gvlua executable,
** embedders who opt in). Lua tells the allocator each block's size on
** free, so small blocks need no header: one free list per 16-byte size
** class, refilled from 2 MiB arenas that ask for transparent huge pages.
** Spawning many greenlets is allocation-heavy, and with 4 KiB pages every
** first touch is a page fault; huge pages make that 512 times rarer.
**
** Blocks allocated before the switch (lua_setallocf on a running state)
** came from malloc: a block is ours only if it lies in one of our arenas,
** so those still go back to free(). Under Valgrind or AddressSanitizer
** everything goes to malloc, so their checks keep working.
*/
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "internal.h"

#ifdef GV_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GV_ALLOC_PLAIN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GV_ALLOC_PLAIN 1
#endif
#endif

#define ARENA_SHIFT 21                    /* 2 MiB, a huge page */
#define ARENA_SIZE ((size_t)1 << ARENA_SHIFT)
#define GRAIN 16
#define MAX_SMALL 1024
#define NCLASSES (MAX_SMALL / GRAIN)
#define ARENA_SLOTS 8192                  /* open-addressing set of arenas */

struct gv_alloc {
  void *free[NCLASSES + 1];  /* free lists by size class (index 1..) */
  char *bump, *limit;        /* unused tail of the newest arena */
  uintptr_t arenas[ARENA_SLOTS];
  size_t narenas;
  int plain;                 /* pass everything to malloc */
  struct gv_alloc *next_live;
};

static size_t slot_of(uintptr_t key) {
  return (size_t)((key * 0x9E3779B97F4A7C15u) >> 51) & (ARENA_SLOTS - 1);
}

static int is_ours(const gv_alloc *a, const void *p) {
  uintptr_t key = (uintptr_t)p >> ARENA_SHIFT;
  for (size_t i = slot_of(key), n = 0; n < ARENA_SLOTS;
       i = (i + 1) & (ARENA_SLOTS - 1), n++) {
    if (a->arenas[i] == key) return 1;
    if (a->arenas[i] == 0) return 0;
  }
  return 0;
}

/* Maps a 2 MiB-aligned arena and asks for huge pages. */
static int new_arena(gv_alloc *a) {
  if (a->narenas >= ARENA_SLOTS / 2) return -1; /* table full: use malloc */
  size_t len = 2 * ARENA_SIZE;
  char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return -1;
  char *base = (char *)(((uintptr_t)m + ARENA_SIZE - 1) & ~(ARENA_SIZE - 1));
  if (base > m) munmap(m, (size_t)(base - m));
  char *end = base + ARENA_SIZE;
  if (m + len > end) munmap(end, (size_t)(m + len - end));
  madvise(base, ARENA_SIZE, MADV_HUGEPAGE);
  uintptr_t key = (uintptr_t)base >> ARENA_SHIFT;
  size_t i = slot_of(key);
  while (a->arenas[i]) i = (i + 1) & (ARENA_SLOTS - 1);
  a->arenas[i] = key;
  a->narenas++;
  a->bump = base;
  a->limit = end;
  return 0;
}

static void *small_alloc(gv_alloc *a, size_t cls) {
  void *p = a->free[cls];
  if (p) {
    a->free[cls] = *(void **)p;
    return p;
  }
  size_t size = cls * GRAIN;
  if (a->bump + size > a->limit) {
    /* keep the old tail: give it to its class lists, biggest first */
    while (a->bump && a->limit - a->bump >= GRAIN) {
      size_t c = (size_t)(a->limit - a->bump) / GRAIN;
      if (c > NCLASSES) c = NCLASSES;
      *(void **)a->bump = a->free[c];
      a->free[c] = a->bump;
      a->bump += c * GRAIN;
    }
    if (new_arena(a) != 0) return NULL;
  }
  p = a->bump;
  a->bump += size;
  return p;
}

static void block_free(gv_alloc *a, void *p, size_t size) {
  if (size <= MAX_SMALL && is_ours(a, p)) {
    size_t cls = (size + GRAIN - 1) / GRAIN;
    *(void **)p = a->free[cls];
    a->free[cls] = p;
  } else {
    free(p);
  }
}

static void *block_alloc(gv_alloc *a, size_t size) {
  if (size <= MAX_SMALL) {
    void *p = small_alloc(a, (size + GRAIN - 1) / GRAIN);
    if (p) return p;
  }
  return malloc(size);
}

void *gv_alloc_f(void *ud, void *ptr, size_t osize, size_t nsize) {
  gv_alloc *a = ud;
  if (a->plain) {
    if (nsize == 0) { free(ptr); return NULL; }
    return realloc(ptr, nsize);
  }
  if (nsize == 0) {
    if (ptr) block_free(a, ptr, osize);
    return NULL;
  }
  if (!ptr) return block_alloc(a, nsize); /* osize is a type tag here */
  if (is_ours(a, ptr)) {
    if ((nsize + GRAIN - 1) / GRAIN == (osize + GRAIN - 1) / GRAIN &&
        nsize <= MAX_SMALL)
      return ptr; /* same class */
    void *n = block_alloc(a, nsize);
    if (!n) return NULL;
    memcpy(n, ptr, osize < nsize ? osize : nsize);
    block_free(a, ptr, osize);
    return n;
  }
  return realloc(ptr, nsize); /* a malloc block stays with malloc */
}

/* Allocators not freed yet. A state closed by os.exit(code, true) never
** comes back to gvlua_close: its allocator is freed at exit instead. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static gv_alloc *live;

static void free_live_at_exit(void) {
  pthread_mutex_lock(&live_mu);
  gv_alloc *a = live;
  live = NULL;
  pthread_mutex_unlock(&live_mu);
  while (a) {
    gv_alloc *next = a->next_live;
    a->next_live = NULL;
    gv_alloc_free(a);
    a = next;
  }
}

gv_alloc *gv_alloc_new(void) {
  static int hooked;
  gv_alloc *a = calloc(1, sizeof *a);
  if (!a) return NULL;
#ifdef GV_ALLOC_PLAIN
  a->plain = 1;
#endif
  if (RUNNING_ON_VALGRIND) a->plain = 1;
  pthread_mutex_lock(&live_mu);
  if (!hooked) hooked = atexit(free_live_at_exit) == 0;
  a->next_live = live;
  live = a;
  pthread_mutex_unlock(&live_mu);
  return a;
}

/* Unmaps the arenas: only once the state using 'a' is closed. */
void gv_alloc_free(gv_alloc *a) {
  if (!a) return;
  pthread_mutex_lock(&live_mu);
  for (gv_alloc **p = &live; *p; p = &(*p)->next_live)
    if (*p == a) { *p = a->next_live; break; }
  pthread_mutex_unlock(&live_mu);
  for (size_t i = 0; i < ARENA_SLOTS; i++)
    if (a->arenas[i])
      munmap((void *)(a->arenas[i] << ARENA_SHIFT), ARENA_SIZE);
  free(a);
}
