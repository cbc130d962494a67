// CHECK for the standalone C++ tests: prints the failed condition and exits non-zero.
#ifndef HASHLOG_TEST_NATIVE_CC_CHECK_H_
#define HASHLOG_TEST_NATIVE_CC_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (0)

#endif  // HASHLOG_TEST_NATIVE_CC_CHECK_H_
