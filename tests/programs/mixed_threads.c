/* An unmodified OpenSSL program for the shim's thread and fork test: THREADS threads each
 * run OPS mixed operations (AES-128-GCM seal and open with the tag checked, AES-256-CBC
 * encrypt, streaming SHA-256, HMAC-SHA-256 through EVP_MAC, one-shot SHA-512), verify
 * what can be verified in-program (GCM round trips, CBC decrypts back), and fold every
 * output byte into a checksum per thread. Then it forks: parent and child each make new
 * contexts and encrypt again. Its output is the same with and without libcryptine.so.
 *
 *   mixed-threads [THREADS [OPS]]     (defaults: 8 threads, 10000 operations)
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int ops_per_thread = 10000;

struct result {
  uint64_t fold;
  long ops, failures;
};

static void fold_bytes(uint64_t* fold, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) *fold = (*fold ^ p[i]) * 0x100000001b3ULL; /* FNV-1a */
}

/* A failed operation is counted; a thread's first one is reported with OpenSSL's errors. */
#define CHECK(cond)                                                                       \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      if (r->failures++ == 0) {                                                           \
        fprintf(stderr, "thread %d, operation %d (kind %d) failed: %s\n", id, op, op % 5, #cond); \
        ERR_print_errors_fp(stderr);                                                      \
      }                                                                                   \
      ERR_clear_error();                                                                  \
      goto next;                                                                          \
    }                                                                                     \
  } while (0)

static void run_ops(int id, int count, struct result* r) {
  unsigned char key[32], iv[16], msg[200], out[256], back[256], tag[16], md[64];
  for (int i = 0; i < 32; ++i) key[i] = (unsigned char)(id * 31 + i);
  EVP_CIPHER_CTX* seal = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX* open = EVP_CIPHER_CTX_new();
  EVP_MD_CTX* sha = EVP_MD_CTX_new();
  EVP_MAC* hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX* mac = EVP_MAC_CTX_new(hmac);
  OSSL_PARAM digest[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0), OSSL_PARAM_construct_end()};
  if (seal == NULL || open == NULL || sha == NULL || mac == NULL || !EVP_MAC_CTX_set_params(mac, digest) ||
      !EVP_EncryptInit_ex(seal, EVP_aes_128_gcm(), NULL, key, NULL) ||
      !EVP_DecryptInit_ex(open, EVP_aes_128_gcm(), NULL, key, NULL)) {
    r->failures = count;
    goto done;
  }
  for (int op = 0; op < count; ++op) {
    const size_t len = 1 + (size_t)((op * 37 + id) % (int)sizeof(msg));
    for (size_t i = 0; i < len; ++i) msg[i] = (unsigned char)(op + i * 7 + id);
    for (int i = 0; i < 16; ++i) iv[i] = (unsigned char)(op >> (i % 4 * 8));
    int n = 0, f = 0;
    unsigned int mdlen = 0;
    size_t maclen = 0;
    switch (op % 5) {
      case 0: /* GCM seal, then open with the tag checked */
        CHECK(EVP_EncryptInit_ex(seal, NULL, NULL, NULL, iv) && EVP_EncryptUpdate(seal, NULL, &n, iv, 8) &&
              EVP_EncryptUpdate(seal, out, &n, msg, (int)len) && EVP_EncryptFinal_ex(seal, out + n, &f) &&
              EVP_CIPHER_CTX_ctrl(seal, EVP_CTRL_AEAD_GET_TAG, 16, tag) > 0 && (size_t)(n + f) == len);
        CHECK(EVP_DecryptInit_ex(open, NULL, NULL, NULL, iv) && EVP_DecryptUpdate(open, NULL, &n, iv, 8) &&
              EVP_DecryptUpdate(open, back, &n, out, (int)len) &&
              EVP_CIPHER_CTX_ctrl(open, EVP_CTRL_AEAD_SET_TAG, 16, tag) > 0 &&
              EVP_DecryptFinal_ex(open, back + n, &f) > 0 && memcmp(back, msg, len) == 0);
        fold_bytes(&r->fold, out, len);
        fold_bytes(&r->fold, tag, 16);
        break;
      case 1: { /* CBC with padding, in a fresh context each time, decrypted back */
        EVP_CIPHER_CTX* cbc = EVP_CIPHER_CTX_new();
        int ok = cbc != NULL && EVP_EncryptInit_ex(cbc, EVP_aes_256_cbc(), NULL, key, iv) &&
                 EVP_EncryptUpdate(cbc, out, &n, msg, (int)len) && EVP_EncryptFinal_ex(cbc, out + n, &f);
        const int clen = n + f;
        ok = ok && EVP_DecryptInit_ex(cbc, EVP_aes_256_cbc(), NULL, key, iv) &&
             EVP_DecryptUpdate(cbc, back, &n, out, clen) && EVP_DecryptFinal_ex(cbc, back + n, &f) &&
             (size_t)(n + f) == len && memcmp(back, msg, len) == 0;
        EVP_CIPHER_CTX_free(cbc);
        CHECK(ok);
        fold_bytes(&r->fold, out, (size_t)clen);
        break;
      }
      case 2: /* streaming SHA-256 in two pieces, the context re-initialised */
        CHECK(EVP_DigestInit_ex(sha, EVP_sha256(), NULL) && EVP_DigestUpdate(sha, msg, len / 2) &&
              EVP_DigestUpdate(sha, msg + len / 2, len - len / 2) && EVP_DigestFinal_ex(sha, md, &mdlen));
        fold_bytes(&r->fold, md, mdlen);
        break;
      case 3: /* HMAC-SHA-256 */
        CHECK(EVP_MAC_init(mac, key, 32, NULL) && EVP_MAC_update(mac, msg, len) &&
              EVP_MAC_final(mac, md, &maclen, sizeof(md)) && maclen == 32);
        fold_bytes(&r->fold, md, maclen);
        break;
      default: /* one-shot SHA-512 */
        CHECK(EVP_Digest(msg, len, md, &mdlen, EVP_sha512(), NULL));
        fold_bytes(&r->fold, md, mdlen);
        break;
    }
    ++r->ops;
  next:;
  }
done:
  EVP_MAC_CTX_free(mac);
  EVP_MAC_free(hmac);
  EVP_MD_CTX_free(sha);
  EVP_CIPHER_CTX_free(open);
  EVP_CIPHER_CTX_free(seal);
}

struct job {
  int id;
  struct result r;
};

static void* thread_main(void* arg) {
  struct job* j = arg;
  run_ops(j->id, ops_per_thread, &j->r);
  return NULL;
}

/* Prints one line per thread; returns the number of failed operations. */
static long run_threads(const char* who, int threads) {
  pthread_t tid[64];
  struct job jobs[64];
  long failures = 0;
  for (int t = 0; t < threads; ++t) {
    jobs[t] = (struct job){.id = t, .r = {.fold = 0xcbf29ce484222325ULL}};
    if (pthread_create(&tid[t], NULL, thread_main, &jobs[t]) != 0) return -1;
  }
  for (int t = 0; t < threads; ++t) {
    pthread_join(tid[t], NULL);
    printf("%s thread %d: %ld ops, %ld failed, fold %016llx\n", who, t, jobs[t].r.ops, jobs[t].r.failures,
           (unsigned long long)jobs[t].r.fold);
    failures += jobs[t].r.failures;
  }
  return failures;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 8;
  if (argc > 2) ops_per_thread = atoi(argv[2]);
  if (threads < 1 || threads > 64 || ops_per_thread < 1) {
    fprintf(stderr, "usage: mixed-threads [THREADS(1..64) [OPS]]\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  long failures = run_threads("before-fork", threads);
  /* After the fork both processes keep encrypting, with new contexts, in two threads. */
  ops_per_thread = ops_per_thread / 10 > 0 ? ops_per_thread / 10 : 1;
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) return 1;
  failures += run_threads(child == 0 ? "child" : "parent", 2);
  if (child == 0) return failures == 0 ? 0 : 1;
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  return failures == 0 ? 0 : 1;
}
