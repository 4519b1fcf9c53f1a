/* bench/call-latency: the median time of one EVP_EncryptUpdate, timed call by call, for
 * the overhead per intercepted call measured with the same statistic as its yardstick
 * (the median null call of bench/virtine-latency). openssl speed's throughput is a mean,
 * which also carries the machine's periodic interruptions; a median leaves those out on
 * both sides. Run natively and under the shim; the difference is the overhead.
 *
 *   bench/call-latency [--calls N] CIPHER BYTES
 *
 * Prints the median, 25th and 75th percentiles in microseconds. The update is made in
 * place on one context, as openssl speed's own loop makes it. */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int by_value(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  long calls = 4000;
  int arg = 1;
  if (argc > 2 && strcmp(argv[1], "--calls") == 0) {
    calls = strtol(argv[2], NULL, 10);
    arg = 3;
  }
  if (argc - arg != 2 || calls < 100) {
    fprintf(stderr, "usage: %s [--calls N (at least 100)] CIPHER BYTES\n", argv[0]);
    return 2;
  }
  const long bytes = strtol(argv[arg + 1], NULL, 10);
  if (bytes <= 0 || bytes > 1 << 20) {
    fprintf(stderr, "call-latency: BYTES must be in [1, 1048576]\n");
    return 2;
  }
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(NULL, argv[arg], NULL);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  unsigned char key[EVP_MAX_KEY_LENGTH] = {1}, iv[EVP_MAX_IV_LENGTH] = {2};
  unsigned char* buf = calloc(1, (size_t)bytes + EVP_MAX_BLOCK_LENGTH);
  double* us = calloc((size_t)calls, sizeof(double));
  if (cipher == NULL || ctx == NULL || buf == NULL || us == NULL || !EVP_EncryptInit_ex2(ctx, cipher, key, iv, NULL)) {
    fprintf(stderr, "call-latency: cannot set up %s\n", argv[arg]);
    ERR_print_errors_fp(stderr);
    return 1;
  }
  int outl;
  for (long i = 0; i < calls / 10; ++i) /* warm-up: the first calls boot the guest */
    if (!EVP_EncryptUpdate(ctx, buf, &outl, buf, (int)bytes)) goto failed;
  for (long i = 0; i < calls; ++i) {
    const double t0 = now_us();
    if (!EVP_EncryptUpdate(ctx, buf, &outl, buf, (int)bytes)) goto failed;
    us[i] = now_us() - t0;
  }
  qsort(us, (size_t)calls, sizeof(double), by_value);
  printf("%.2f %.2f %.2f\n", us[calls / 2], us[calls / 4], us[3 * calls / 4]);
  return 0;
failed:
  fprintf(stderr, "call-latency: EVP_EncryptUpdate failed\n");
  ERR_print_errors_fp(stderr);
  return 1;
}
