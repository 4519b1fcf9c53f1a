/* clock-reads: how many times a call reads the clock, on the calling thread. This program
 * defines clock_gettime() itself and exports it (-rdynamic), so libcryptine.so's calls to
 * it land here: each is counted for its thread, then passed on to libc's.
 *
 *   clock-reads UPDATES
 *
 * Makes 10 warm-up updates (the first boots the guest), then UPDATES 16-byte AES-128-CBC
 * updates on one context, and prints "READS UPDATES": the clock reads they made. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static __thread long reads;

int clock_gettime(clockid_t clock, struct timespec* ts) {
  static int (*libc_clock_gettime)(clockid_t, struct timespec*);
  if (libc_clock_gettime == NULL)
    libc_clock_gettime = (int (*)(clockid_t, struct timespec*))dlsym(RTLD_NEXT, "clock_gettime");
  ++reads;
  return libc_clock_gettime(clock, ts);
}

int main(int argc, char** argv) {
  const long updates = argc == 2 ? strtol(argv[1], NULL, 10) : 0;
  if (updates <= 0) {
    fprintf(stderr, "usage: clock-reads UPDATES\n");
    return 2;
  }
  unsigned char key[16] = {1}, iv[16] = {2}, buf[16 + 16] = {3};
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int outl;
  if (ctx == NULL || !EVP_EncryptInit_ex2(ctx, EVP_aes_128_cbc(), key, iv, NULL)) goto failed;
  for (int i = 0; i < 10; ++i)
    if (!EVP_EncryptUpdate(ctx, buf, &outl, buf, 16)) goto failed;
  const long before = reads;
  for (long i = 0; i < updates; ++i)
    if (!EVP_EncryptUpdate(ctx, buf, &outl, buf, 16)) goto failed;
  printf("%ld %ld\n", reads - before, updates);
  EVP_CIPHER_CTX_free(ctx);
  return 0;
failed:
  fprintf(stderr, "clock-reads: AES-128-CBC failed\n");
  ERR_print_errors_fp(stderr);
  return 1;
}
