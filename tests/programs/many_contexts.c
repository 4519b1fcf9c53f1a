/* One thread keeps many digest contexts live at once (more than one virtine's context
 * table holds under CRYPTINE_SCOPE=thread), copies some of them, then finishes all and
 * prints each digest, so its output can be compared with and without libcryptine.so.
 * Each context is fed more than the 16 KiB the provider holds on the host, so each lives
 * in a virtine (a context under that bound takes no place in one until its final). */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char* what, int i) {
  fprintf(stderr, "%s %d failed: ", what, i);
  ERR_print_errors_fp(stderr);
  return 2;
}

enum { kFiller = 17 * 1024 };
static unsigned char filler[kFiller];

int main(int argc, char** argv) {
  const int n = argc > 1 ? atoi(argv[1]) : 600;
  const int copy_every = 50;
  if (n <= 0) return 1;
  EVP_MD_CTX** ctx = calloc((size_t)n, sizeof(*ctx));
  EVP_MD_CTX** copies = calloc((size_t)n, sizeof(*copies));
  if (ctx == NULL || copies == NULL) return 1;
  for (int i = 0; i < n; ++i) {
    char msg[32];
    const int len = snprintf(msg, sizeof(msg), "context %d", i);
    if ((ctx[i] = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(ctx[i], EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(ctx[i], msg, (size_t)len) || !EVP_DigestUpdate(ctx[i], filler, kFiller))
      return fail("init", i);
    if (i % copy_every == 0) {
      if ((copies[i] = EVP_MD_CTX_new()) == NULL || !EVP_MD_CTX_copy_ex(copies[i], ctx[i]) ||
          !EVP_DigestUpdate(copies[i], " copy", 5))
        return fail("copy", i);
    }
  }
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < 2; ++c) {
      EVP_MD_CTX* x = c == 0 ? ctx[i] : copies[i];
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      if (x == NULL) continue;
      if (!EVP_DigestFinal_ex(x, md, &len)) return fail("final", i);
      printf("%s %d ", c == 0 ? "context" : "copy", i);
      for (unsigned int j = 0; j < len; ++j) printf("%02x", md[j]);
      printf("\n");
      EVP_MD_CTX_free(x);
    }
  }
  free(ctx);
  free(copies);
  return 0;
}
