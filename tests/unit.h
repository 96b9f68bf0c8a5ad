/* unit.h - a tiny assertion harness for the C unit tests. */
#ifndef GV_UNIT_H
#define GV_UNIT_H
#include <stdio.h>

static int unit_failures, unit_checks;

#define CHECK(cond) do { \
    unit_checks++; \
    if (!(cond)) { \
      unit_failures++; \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    } \
  } while (0)

#define RUN(fn) do { \
    int before = unit_failures; \
    fn(); \
    printf("%s %s\n", unit_failures == before ? "ok" : "FAIL", #fn); \
  } while (0)

static inline int unit_report(void) {
  printf("%d checks, %d failed\n", unit_checks, unit_failures);
  return unit_failures ? 1 : 0;
}
#endif
