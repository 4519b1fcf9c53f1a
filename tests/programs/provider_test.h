/* What the provider test programs share: loading "cryptine" from a -provider-path directory
   beside "default", and their fixed, arbitrary inputs. */
#ifndef CRYPTINE_TESTS_PROVIDER_TEST_H
#define CRYPTINE_TESTS_PROVIDER_TEST_H

#include <openssl/provider.h>
#include <stddef.h>
#include <stdio.h>

/* Loads cryptine from `dir` into *cryptine and default into *deflt; 0 (said on stdout, as a
   failed check) unless both load. */
static inline int load_providers(const char* dir, OSSL_PROVIDER** cryptine, OSSL_PROVIDER** deflt) {
  OSSL_PROVIDER_set_default_search_path(NULL, dir);
  *cryptine = OSSL_PROVIDER_load(NULL, "cryptine");
  *deflt = OSSL_PROVIDER_load(NULL, "default");
  if (*cryptine == NULL || *deflt == NULL) {
    printf("FAIL loading the providers\n");
    return 0;
  }
  return 1;
}

/* Fills p[0..n) with bytes mul * i + add: inputs that differ from one another and from 0. */
static inline void fill(unsigned char* p, size_t n, unsigned mul, unsigned add) {
  for (size_t i = 0; i < n; ++i) p[i] = (unsigned char)(mul * i + add);
}

#endif
