/* Threads and fork over one-shot digests: 8 threads each hash their own inputs, then the
 * process forks and parent and child both keep hashing. Results are printed in a fixed
 * order, so the output is identical natively and under libcryptine.so. */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 8
#define CALLS 500 /* per thread */

struct work {
  int id;
  unsigned char sum[SHA256_DIGEST_LENGTH]; /* a digest over all this thread's digests */
  int failures;
};

static void* hash_many(void* arg) {
  struct work* w = arg;
  unsigned char input[300], md[EVP_MAX_MD_SIZE], acc[SHA256_DIGEST_LENGTH] = {0};
  const EVP_MD* mds[] = {EVP_sha256(), EVP_sha512(), EVP_sha1()};
  for (int i = 0; i < CALLS; ++i) {
    size_t len = (size_t)((w->id * 7919 + i * 104729) % sizeof(input));
    for (size_t j = 0; j < len; ++j) input[j] = (unsigned char)(w->id + i + j);
    unsigned int n = 0;
    if (i % 4 == 3) {
      SHA256(input, len, md); /* the legacy one-shot too */
      n = SHA256_DIGEST_LENGTH;
    } else if (!EVP_Digest(input, len, md, &n, mds[i % 3], NULL)) {
      w->failures++;
      continue;
    }
    /* Fold each digest into the running sum (itself hashed with the same call). */
    unsigned char both[SHA256_DIGEST_LENGTH + EVP_MAX_MD_SIZE];
    memcpy(both, acc, sizeof(acc));
    memcpy(both + sizeof(acc), md, n);
    SHA256(both, sizeof(acc) + n, acc);
  }
  memcpy(w->sum, acc, sizeof(acc));
  return NULL;
}

static int run_threads(const char* who) {
  pthread_t t[THREADS];
  struct work w[THREADS];
  for (int i = 0; i < THREADS; ++i) {
    w[i] = (struct work){.id = i};
    if (pthread_create(&t[i], NULL, hash_many, &w[i]) != 0) return 1;
  }
  int failures = 0;
  for (int i = 0; i < THREADS; ++i) {
    pthread_join(t[i], NULL);
    failures += w[i].failures;
    printf("%s thread %d: ", who, i);
    for (int j = 0; j < SHA256_DIGEST_LENGTH; ++j) printf("%02x", w[i].sum[j]);
    printf("\n");
  }
  fflush(stdout);
  return failures;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int failures = run_threads("before-fork");
  pid_t child = fork();
  if (child < 0) return 1;
  if (child == 0) exit(run_threads("child") == 0 ? 0 : 3); /* exit(): atexit handlers run */
  int status = 0;
  waitpid(child, &status, 0); /* in turn, so the output order is fixed */
  failures += run_threads("parent");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 4;
  return failures == 0 ? 0 : 2;
}
