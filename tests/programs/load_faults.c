/* Load and faults for the shim, as an unmodified OpenSSL program. One mode per run:
 *
 *   load-faults load THREADS OPS   THREADS threads x OPS/10 operations (streaming SHA-256,
 *                                  AES-128-GCM seals), then THREADS x OPS; per thread a
 *                                  checksum on stdout; on stderr the open fds and RSS after each
 *   load-faults kill KEY.pem       3 threads hash while a 4th signs with an RSA-16384 key: with
 *                                  a short CRYPTINE_TIMEOUT_MS the watchdog stops each sign
 *                                  mid-call; the hashing threads' checksums on stdout, the
 *                                  signer's outcome on stderr
 *   load-faults exec FILE          hashes FILE, then forks a child that execs
 *                                  `openssl dgst -sha256 FILE`; prints its own digest
 *   load-faults signal-exit        2 threads encrypt in a loop; SIGALRM's handler calls exit(0)
 *   load-faults unload LIB         dlopen()s LIB, hashes through its EVP_Digest, dlclose()s it,
 *                                  and hashes again
 *   load-faults memlimit WHEN      caps the address space (RLIMIT_AS) at what the process maps
 *                                  plus 16 MiB, less than one virtine's memory: `before` its
 *                                  first call (no guest can boot) or `after` one (no virtine
 *                                  can be mapped for a new context); then hashes with 8 digest
 *                                  contexts at once and one one-shot, digests on stdout;
 *                                  `lifted`: the limit is lifted after one digest, and after
 *                                  the runtime's retry backoff the next runs in a virtine
 */
#include <dirent.h>
#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int ops_per_thread;

static void fold_bytes(uint64_t* fold, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) *fold = (*fold ^ p[i]) * 0x100000001b3ULL; /* FNV-1a */
}

struct worker {
  int id;
  uint64_t fold;
  long failures;
};

/* Streaming SHA-256 over many small updates, a digest every 32; every 16th operation an
 * AES-128-GCM seal. All of it folded into the thread's checksum. */
static void* hash_and_seal(void* arg) {
  struct worker* w = arg;
  unsigned char key[16] = {(unsigned char)w->id}, iv[12] = {0}, msg[64], out[64], tag[16], md[32];
  EVP_MD_CTX* sha = EVP_MD_CTX_new();
  EVP_CIPHER_CTX* gcm = EVP_CIPHER_CTX_new();
  int n = 0, f = 0;
  unsigned int len = 0;
  if (sha == NULL || gcm == NULL || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL) ||
      !EVP_EncryptInit_ex(gcm, EVP_aes_128_gcm(), NULL, key, iv))
    w->failures = ops_per_thread;
  for (int op = 0; op < ops_per_thread && w->failures == 0; ++op) {
    for (size_t i = 0; i < sizeof(msg); ++i) msg[i] = (unsigned char)(op + i + w->id);
    if (op % 16 == 15) {
      iv[0] = (unsigned char)op;
      iv[1] = (unsigned char)(op >> 8);
      if (!EVP_EncryptInit_ex(gcm, NULL, NULL, NULL, iv) || !EVP_EncryptUpdate(gcm, out, &n, msg, 64) ||
          !EVP_EncryptFinal_ex(gcm, out + n, &f) || !EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_AEAD_GET_TAG, 16, tag)) {
        ++w->failures;
        continue;
      }
      fold_bytes(&w->fold, out, 64);
      fold_bytes(&w->fold, tag, 16);
    } else if (!EVP_DigestUpdate(sha, msg, 1 + op % 64)) {
      ++w->failures;
    } else if (op % 32 == 31) {
      if (!EVP_DigestFinal_ex(sha, md, &len) || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL)) ++w->failures;
      fold_bytes(&w->fold, md, len);
    }
  }
  if (w->failures > 0) ERR_print_errors_fp(stderr);
  EVP_CIPHER_CTX_free(gcm);
  EVP_MD_CTX_free(sha);
  return NULL;
}

static long run_workers(const char* round, int threads, int first_id) {
  pthread_t tid[64];
  struct worker w[64];
  long failures = 0;
  for (int t = 0; t < threads; ++t) {
    w[t] = (struct worker){.id = first_id + t, .fold = 0xcbf29ce484222325ULL};
    if (pthread_create(&tid[t], NULL, hash_and_seal, &w[t]) != 0) return -1;
  }
  for (int t = 0; t < threads; ++t) {
    pthread_join(tid[t], NULL);
    printf("%s thread %d: %d ops, %ld failed, fold %016llx\n", round, w[t].id, ops_per_thread, w[t].failures,
           (unsigned long long)w[t].fold);
    failures += w[t].failures;
  }
  return failures;
}

static int open_fds(void) {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == NULL) return -1;
  for (struct dirent* e; (e = readdir(d)) != NULL;)
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1; /* the directory's own fd */
}

/* /proc/self/statm in pages: the address space's size, and what of it is resident. */
static int statm(long* size, long* resident) {
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == NULL) return 0;
  const int ok = fscanf(f, "%ld %ld", size, resident) == 2;
  fclose(f);
  return ok;
}

static long rss_kb(void) {
  long size = 0, resident = 0;
  return statm(&size, &resident) ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

/* A SHA-256 digest as 64 hex digits. */
static void hex32(const unsigned char md[32], char hex[65]) {
  for (int i = 0; i < 32; ++i) sprintf(hex + 2 * i, "%02x", md[i]);
}

/* Round 1 (a tenth of the operations) makes the pools; round 2 must then grow nothing. */
static int load(int threads, int ops) {
  ops_per_thread = ops / 10 > 0 ? ops / 10 : 1;
  const int fds0 = open_fds();
  long failures = run_workers("round 1", threads, 0);
  ops_per_thread = ops;
  const int fds1 = open_fds();
  const long rss1 = rss_kb();
  failures += run_workers("round 2", threads, 0);
  const int fds2 = open_fds();
  const long rss2 = rss_kb();
  fprintf(stderr, "fds before=%d round1=%d round2=%d\nrss_kb round1=%ld round2=%ld\n", fds0, fds1, fds2, rss1, rss2);
  return failures == 0 ? 0 : 1;
}

struct signer {
  EVP_PKEY* key;
  int signs, failed, with_error;
  int digest_after; /* a call on a fresh virtine after the failures */
};

static void* sign_slowly(void* arg) {
  struct signer* s = arg;
  unsigned char digest[32] = {1}, sig[2048], md[32]; /* an RSA-16384 signature */
  unsigned int mdlen = 0;
  for (int i = 0; i < s->signs; ++i) {
    EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new(s->key, NULL);
    size_t len = sizeof(sig);
    ERR_clear_error();
    const int r = pctx != NULL && EVP_PKEY_sign_init(pctx) > 0 &&
                  EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) > 0 &&
                  EVP_PKEY_sign(pctx, sig, &len, digest, sizeof(digest)) > 0;
    if (!r) {
      ++s->failed;
      if (ERR_peek_last_error() != 0) ++s->with_error;
    }
    EVP_PKEY_CTX_free(pctx);
  }
  ERR_clear_error();
  s->digest_after = EVP_Digest("abc", 3, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32;
  return NULL;
}

static int kill_mid_call(const char* key_path) {
  FILE* f = fopen(key_path, "r");
  EVP_PKEY* key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
  if (f != NULL) fclose(f);
  if (key == NULL) {
    fprintf(stderr, "cannot read %s\n", key_path);
    return 1;
  }
  ops_per_thread = 2000;
  struct signer s = {.key = key, .signs = 3};
  pthread_t signer_thread;
  pthread_create(&signer_thread, NULL, sign_slowly, &s);
  const long failures = run_workers("hashing", 3, 10);
  pthread_join(signer_thread, NULL);
  fprintf(stderr, "signer: %d signs, %d failed, %d with an error on the queue; a digest after them: %s\n", s.signs,
          s.failed, s.with_error, s.digest_after ? "ok" : "FAILED");
  EVP_PKEY_free(key);
  return failures == 0 && s.digest_after ? 0 : 1;
}

static int digest_file(const char* path, char hex[65]) {
  static unsigned char buf[1 << 20];
  FILE* f = fopen(path, "rb");
  if (f == NULL) return 0;
  const size_t n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  unsigned char md[32];
  unsigned int len = 0;
  if (!EVP_Digest(buf, n, md, &len, EVP_sha256(), NULL)) return 0;
  hex32(md, hex);
  return 1;
}

static int exec_child(const char* path) {
  char hex[65];
  if (!digest_file(path, hex)) return 1;
  printf("parent: %s\n", hex);
  fflush(stdout);
  const pid_t child = fork();
  if (child == 0) {
    execlp("openssl", "openssl", "dgst", "-sha256", "-r", path, (char*)NULL);
    _exit(127);
  }
  int status = 0;
  return child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static void exit_now(int sig) {
  (void)sig;
  exit(0); /* what some programs do: atexit handlers run while other threads are mid-call */
}

static int signal_exit(void) {
  signal(SIGALRM, exit_now);
  ops_per_thread = 1 << 30; /* until the handler ends the process */
  pthread_t t[2];
  struct worker w[2] = {{.id = 0}, {.id = 1}};
  for (int i = 0; i < 2; ++i) pthread_create(&t[i], NULL, hash_and_seal, &w[i]);
  alarm(2);
  for (int i = 0; i < 2; ++i) pthread_join(t[i], NULL);
  return 1; /* not reached */
}

static int unload(const char* lib) {
  char before[65], after[65];
  void* h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  typedef int (*digest_fn)(const void*, size_t, unsigned char*, unsigned int*, const EVP_MD*, ENGINE*);
  digest_fn theirs = (digest_fn)dlsym(h, "EVP_Digest");
  unsigned char md[32];
  unsigned int len = 0;
  if (theirs == NULL || !theirs("abc", 3, md, &len, EVP_sha256(), NULL)) return 1;
  hex32(md, before);
  if (dlclose(h) != 0) return 1;
  usleep(200 * 1000); /* the library's threads, if any, keep running meanwhile */
  if (!EVP_Digest("abc", 3, md, &len, EVP_sha256(), NULL)) return 1;
  hex32(md, after);
  printf("through the library: %s\nafter dlclose: %s\n", before, after);
  return strcmp(before, after) == 0 ? 0 : 1;
}

static void print_digest(const char* what, int ok, const unsigned char* md) {
  char hex[65];
  if (ok) hex32(md, hex);
  printf("%s: %s\n", what, ok ? hex : "failed");
}

/* The guest cannot boot while the soft limit holds (one digest then runs natively); the
 * limit is lifted, and after the runtime's first backoff (1 s) the next digest gets a
 * virtine: a start that failed for want of memory is retried, not given up for good. */
static int memlimit_lifted(void) {
  unsigned char md[32];
  unsigned int len = 0;
  struct rlimit old;
  long pages = 0, resident = 0;
  if (getrlimit(RLIMIT_AS, &old) != 0 || !statm(&pages, &resident)) return 2;
  struct rlimit limit = old;
  limit.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (16u << 20);
  if (setrlimit(RLIMIT_AS, &limit) != 0) return 2;
  const int first = EVP_Digest("limited", 7, md, &len, EVP_sha256(), NULL);
  print_digest("under the limit", first, md);
  if (setrlimit(RLIMIT_AS, &old) != 0) return 2;
  sleep(2);
  const int second = EVP_Digest("lifted", 6, md, &len, EVP_sha256(), NULL);
  print_digest("after the limit", second, md);
  return first && second ? 0 : 1;
}

static int memlimit(const char* when) {
  unsigned char md[32];
  unsigned int len = 0;
  int failures = 0;
  if (strcmp(when, "lifted") == 0) return memlimit_lifted();
  if (strcmp(when, "after") == 0) {
    const int ok = EVP_Digest("warm", 4, md, &len, EVP_sha256(), NULL);
    print_digest("before the limit", ok, md);
    failures += !ok;
  }
  long pages = 0, resident = 0;
  if (!statm(&pages, &resident)) return 2;
  const rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (16u << 20);
  const struct rlimit limit = {cap, cap};
  if (setrlimit(RLIMIT_AS, &limit) != 0) return 2;

  /* Every context is fed past the 16 KiB the provider holds on the host before any is
   * finished, so each needs a virtine of its own at once (its held 64 bytes go with it). */
  enum { kContexts = 8, kLong = 17 * 1024 };
  static unsigned char filler[kLong];
  EVP_MD_CTX* ctx[kContexts];
  int ok[kContexts];
  for (int i = 0; i < kContexts; ++i) {
    unsigned char data[64];
    memset(data, 'a' + i, sizeof(data));
    ctx[i] = EVP_MD_CTX_new();
    ok[i] = ctx[i] != NULL && EVP_DigestInit_ex(ctx[i], EVP_sha256(), NULL) &&
            EVP_DigestUpdate(ctx[i], data, sizeof(data)) && EVP_DigestUpdate(ctx[i], filler, sizeof(filler));
  }
  for (int i = 0; i < kContexts; ++i) {
    ok[i] = ok[i] && EVP_DigestFinal_ex(ctx[i], md, &len);
    char what[32];
    snprintf(what, sizeof(what), "context %d", i);
    print_digest(what, ok[i], md);
    failures += !ok[i];
    EVP_MD_CTX_free(ctx[i]);
  }
  const int one = EVP_Digest("one-shot", 8, md, &len, EVP_sha256(), NULL);
  print_digest("one-shot", one, md);
  failures += !one;
  return failures == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "load") == 0 && argc == 4) return load(atoi(argv[2]), atoi(argv[3]));
  if (strcmp(mode, "kill") == 0 && argc == 3) return kill_mid_call(argv[2]);
  if (strcmp(mode, "exec") == 0 && argc == 3) return exec_child(argv[2]);
  if (strcmp(mode, "signal-exit") == 0) return signal_exit();
  if (strcmp(mode, "unload") == 0 && argc == 3) return unload(argv[2]);
  if (strcmp(mode, "memlimit") == 0 && argc == 3) return memlimit(argv[2]);
  fprintf(stderr,
          "usage: load-faults load THREADS OPS | kill KEY.pem | exec FILE | signal-exit | unload LIB | memlimit "
          "before|after|lifted\n");
  return 2;
}
