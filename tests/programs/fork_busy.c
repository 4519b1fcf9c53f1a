/* fork() while 8 threads are mid-call, ROUNDS times. Each thread keeps a streaming
 * SHA-256 context busy (one 16 KiB update after another) and every few updates makes,
 * uses and frees an AES-256-GCM context, so at each fork some thread is inside a call
 * and the context tables are changing. Each child, bounded by alarm():
 *  - first reads its /proc/self/maps: no mapping of a virtine may be there (no memfd
 *    snapshot copy, no kvm_run area, no anonymous read-write 64 MiB range);
 *  - with --expect-virtines (under the shim): every context made before the fork (the 8
 *    busy ones and an idle cipher context) fails cleanly, with an OpenSSL error, and
 *    is freed;
 *  - makes new contexts (SHA-256, AES-256-GCM, a one-shot digest) whose output is
 *    printed (the shell test compares it with a native run) and checked against a known
 *    answer; under the shim, its maps then show virtines of its own;
 *  - exits (with exit(): atexit handlers run).
 * The parent waits for each child with a deadline (a child that hangs is killed and
 * reported), then at the end checks its own busy contexts still work. */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8
#define CHUNK 16384
#define GUEST_MEM (64ul << 20) /* a virtine's memory (VirtineConfig::mem_size) */
#define CHILD_ALARM_S 60
#define CHILD_DEADLINE_S 90

static EVP_MD_CTX* g_busy[THREADS];
static EVP_CIPHER_CTX* g_idle_cipher;
/* Fetched once, before the threads: an implicit fetch takes OpenSSL's store locks, and a
 * child forked while a thread held one would hang in OpenSSL itself (at its exit-time
 * clean-up), with or without the shim: that is OpenSSL's, not what this test is about. */
static EVP_CIPHER* g_gcm;
static atomic_long g_updates[THREADS];
static atomic_int g_pause, g_stop;
static atomic_int g_thread_failures;
static unsigned char g_chunk[THREADS][CHUNK];
static const unsigned char kKey[32] = "0123456789abcdef0123456789abcde";
static const unsigned char kIv[12] = "fork-busy-iv";

static void hex(const unsigned char* p, size_t n, char* out) {
  for (size_t i = 0; i < n; ++i) sprintf(out + 2 * i, "%02x", p[i]);
}

/* AES-256-GCM of `in` with a fresh context; 1 on success. */
static int gcm_encrypt(const unsigned char* in, int len, unsigned char* out, unsigned char tag[16]) {
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int n = 0, m = 0;
  int ok = c != NULL && EVP_EncryptInit_ex(c, g_gcm, NULL, kKey, kIv) == 1 &&
           EVP_EncryptUpdate(c, out, &n, in, len) == 1 && EVP_EncryptFinal_ex(c, out + n, &m) == 1 &&
           EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1 && n + m == len;
  EVP_CIPHER_CTX_free(c);
  return ok;
}

static void* busy(void* arg) {
  const int id = (int)(long)arg;
  unsigned char out[256], tag[16];
  while (!atomic_load(&g_stop)) {
    if (atomic_load(&g_pause)) {
      usleep(1000);
      continue;
    }
    if (EVP_DigestUpdate(g_busy[id], g_chunk[id], CHUNK) != 1) atomic_fetch_add(&g_thread_failures, 1);
    const long n = atomic_fetch_add(&g_updates[id], 1) + 1;
    if (n % 4 == 0 && !gcm_encrypt(g_chunk[id], sizeof(out), out, tag)) atomic_fetch_add(&g_thread_failures, 1);
  }
  return NULL;
}

/* Mappings that can only be a virtine's: the snapshot's memfd (its image, or a guest
 * memory copy of it), a vCPU's kvm_run area, an anonymous read-write range of exactly a
 * guest's memory size. Prints each one found with `who`. */
static int virtine_mappings(const char* who, int print) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (f == NULL) {
    perror("fopen /proc/self/maps");
    return -1;
  }
  char line[512];
  int found = 0;
  while (fgets(line, sizeof(line), f) != NULL) {
    unsigned long lo = 0, hi = 0;
    char perms[8] = "", path[256] = "";
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255[^\n]", &lo, &hi, perms, path) < 3) continue;
    const int anon_guest = path[0] == '\0' && perms[0] == 'r' && perms[1] == 'w' && hi - lo == GUEST_MEM;
    if (strstr(path, "memfd:cryptine") != NULL || strstr(path, "kvm-vcpu") != NULL || anon_guest) {
      ++found;
      if (print) fprintf(stderr, "%s: %s", who, line);
    }
  }
  fclose(f);
  return found;
}

/* The child's new contexts: one line of output, and a known answer. 0 on success. */
static int child_new_contexts(int round) {
  unsigned char data[1000], md[EVP_MAX_MD_SIZE], one_shot[EVP_MAX_MD_SIZE], ct[sizeof(data)], tag[16];
  for (size_t i = 0; i < sizeof(data); ++i) data[i] = (unsigned char)(round * 31 + i);
  unsigned int n = 0, m = 0;
  EVP_MD_CTX* d = EVP_MD_CTX_new();
  int ok = d != NULL && EVP_DigestInit_ex(d, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(d, data, 500) == 1 &&
           EVP_DigestUpdate(d, data + 500, 500) == 1 && EVP_DigestFinal_ex(d, md, &n) == 1 && n == 32;
  EVP_MD_CTX_free(d);
  ok = ok && gcm_encrypt(data, sizeof(data), ct, tag);
  ok = ok && EVP_Digest(data, sizeof(data), one_shot, &m, EVP_sha512(), NULL) == 1 && m == 64;
  static const unsigned char kAbc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                         0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                         0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  unsigned char abc[32];
  unsigned int abc_len = 0;
  ok = ok && EVP_Digest("abc", 3, abc, &abc_len, EVP_sha256(), NULL) == 1 && memcmp(abc, kAbc, 32) == 0;
  if (!ok) {
    fprintf(stderr, "child %d: a new context failed or gave a wrong answer\n", round);
    ERR_print_errors_fp(stderr);
    return 1;
  }
  char h1[65], h2[2 * sizeof(ct) + 1], h3[33], h4[129];
  hex(md, 32, h1);
  hex(ct, sizeof(ct), h2);
  hex(tag, 16, h3);
  hex(one_shot, 64, h4);
  printf("round %d: sha256 %s gcm %.64s... tag %s sha512 %.32s...\n", round, h1, h2, h3, h4);
  return 0;
}

/* The contexts made before the fork must fail, each with an error on the queue, and go
 * when freed. 0 if they all did. */
static int child_old_contexts(int round) {
  unsigned char out[64];
  int bad = 0, n = 0;
  for (int i = 0; i < THREADS; ++i) {
    ERR_clear_error();
    if (EVP_DigestUpdate(g_busy[i], "x", 1) != 0 || ERR_peek_error() == 0) {
      fprintf(stderr, "child %d: the parent's digest context %d did not fail cleanly\n", round, i);
      ++bad;
    }
    EVP_MD_CTX_free(g_busy[i]);
  }
  ERR_clear_error();
  if (EVP_EncryptUpdate(g_idle_cipher, out, &n, (const unsigned char*)"x", 1) != 0 || ERR_peek_error() == 0) {
    fprintf(stderr, "child %d: the parent's cipher context did not fail cleanly\n", round);
    ++bad;
  }
  EVP_CIPHER_CTX_free(g_idle_cipher);
  ERR_clear_error();
  return bad;
}

static int run_child(int round, int expect_virtines) {
  alarm(CHILD_ALARM_S); /* a hang ends the child by SIGALRM; the parent reports it */
  const int inherited = virtine_mappings("child (inherited)", 1);
  int bad = inherited != 0;
  if (inherited != 0) fprintf(stderr, "child %d: %d mappings of the parent's virtines inherited\n", round, inherited);
  if (expect_virtines) bad |= child_old_contexts(round) != 0;
  bad |= child_new_contexts(round);
  if (expect_virtines && virtine_mappings("child (own)", 0) <= 0) {
    fprintf(stderr, "child %d: its new contexts made no virtine of its own\n", round);
    bad = 1;
  }
  fflush(stdout);
  return bad ? 3 : 0;
}

/* Waits until every thread made `more` more updates (so all are running calls). */
static int wait_progress(long more) {
  long start[THREADS];
  for (int i = 0; i < THREADS; ++i) start[i] = atomic_load(&g_updates[i]);
  for (int waited_ms = 0; waited_ms < 120000; waited_ms += 1) {
    int all = 1;
    for (int i = 0; i < THREADS; ++i) all &= atomic_load(&g_updates[i]) >= start[i] + more;
    if (all) return 0;
    usleep(1000);
  }
  fprintf(stderr, "parent: the threads made no progress in 120 s\n");
  return 1;
}

/* The child's status, or -1 if it ran past the deadline (it is killed). */
static int wait_child(pid_t child) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    int status = 0;
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) return status;
    if (r < 0) {
      perror("waitpid");
      return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec > CHILD_DEADLINE_S) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      return -1;
    }
    usleep(2000);
  }
}

int main(int argc, char** argv) {
  const int expect_virtines = argc > 1 && strcmp(argv[1], "--expect-virtines") == 0;
  const int rounds = argc > 2 ? atoi(argv[2]) : 100;
  setvbuf(stdout, NULL, _IOLBF, 0);
  g_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
  if (g_gcm == NULL) return 1;
  for (int i = 0; i < THREADS; ++i) {
    memset(g_chunk[i], 'a' + i, CHUNK);
    g_busy[i] = EVP_MD_CTX_new();
    if (g_busy[i] == NULL || EVP_DigestInit_ex(g_busy[i], EVP_sha256(), NULL) != 1) return 1;
  }
  g_idle_cipher = EVP_CIPHER_CTX_new();
  if (g_idle_cipher == NULL || EVP_EncryptInit_ex(g_idle_cipher, EVP_aes_256_gcm(), NULL, kKey, kIv) != 1) return 1;

  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; ++i)
    if (pthread_create(&threads[i], NULL, busy, (void*)(long)i) != 0) return 1;
  int failures = 0;
  if (wait_progress(2) != 0) return 1;
  const int parent_maps = virtine_mappings("parent", 0);
  if (expect_virtines && parent_maps <= 0) {
    fprintf(stderr, "parent: no virtine mappings seen: the maps check would see nothing\n");
    failures++;
  }
  fprintf(stderr, "parent: %d virtine mappings before the first fork\n", parent_maps);

  int hung = 0, round = 0;
  for (; round < rounds && hung == 0; ++round) {
    if (wait_progress(1) != 0) return 1;
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
      perror("fork");
      return 1;
    }
    if (child == 0) exit(run_child(round, expect_virtines));
    atomic_store(&g_pause, 1); /* the child runs with the CPU to itself */
    const int status = wait_child(child);
    atomic_store(&g_pause, 0);
    if (status == -1) {
      fprintf(stderr, "round %d: the child hung (killed after %d s)\n", round, CHILD_DEADLINE_S);
      hung = 1;
      failures++;
    } else if (WIFSIGNALED(status)) {
      fprintf(stderr, "round %d: the child died of signal %d%s\n", round, WTERMSIG(status),
              WTERMSIG(status) == SIGALRM ? " (its alarm: it hung)" : "");
      hung = WTERMSIG(status) == SIGALRM; /* one hang is enough: stop, do not wait for more */
      failures++;
    } else if (WEXITSTATUS(status) != 0) {
      fprintf(stderr, "round %d: the child exited with %d\n", round, WEXITSTATUS(status));
      failures++;
    }
  }
  atomic_store(&g_stop, 1);
  for (int i = 0; i < THREADS; ++i) pthread_join(threads[i], NULL);

  /* The parent's own contexts came through every fork: each busy digest equals a new
   * context's digest of the same updates. */
  for (int i = 0; i < THREADS; ++i) {
    unsigned char a[32], b[32];
    unsigned int n = 0;
    EVP_MD_CTX* check = EVP_MD_CTX_new();
    int ok = EVP_DigestFinal_ex(g_busy[i], a, &n) == 1 && check != NULL &&
             EVP_DigestInit_ex(check, EVP_sha256(), NULL) == 1;
    for (long u = 0; ok && u < atomic_load(&g_updates[i]); ++u) ok = EVP_DigestUpdate(check, g_chunk[i], CHUNK) == 1;
    ok = ok && EVP_DigestFinal_ex(check, b, &n) == 1 && memcmp(a, b, 32) == 0;
    if (!ok) {
      fprintf(stderr, "parent: busy context %d is wrong after the forks\n", i);
      failures++;
    }
    EVP_MD_CTX_free(check);
    EVP_MD_CTX_free(g_busy[i]);
  }
  EVP_CIPHER_CTX_free(g_idle_cipher);
  EVP_CIPHER_free(g_gcm);
  failures += atomic_load(&g_thread_failures);
  printf("parent: %d forks, %d failures\n", round, failures);
  return failures == 0 ? 0 : 2;
}
