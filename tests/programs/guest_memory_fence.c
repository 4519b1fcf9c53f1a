/* The program under libcryptine.so tries to read virtine memory (issue 14) with plain
 * loads, as an over-read or an attacker's read primitive would: after real calls (a
 * digest, an AES-GCM encryption, an HMAC), it finds every guest memory mapping (the
 * snapshot's memfd: its image and each virtine's copy-on-write copy) in /proc/self/maps
 * and loads from it, from the main thread, a thread started before the first call and one
 * started after, catching SIGSEGV.
 *
 *   guest-memory-fence pkey   every load faults with SEGV_PKUERR, si_pkey the mapping's
 *                             ProtectionKey in smaps (not 0)
 *   guest-memory-fence guard  every load reads (no key: ProtectionKey 0)
 * In both, the page before and after each mapping faults with SEGV_ACCERR (guard pages),
 * and calls made after the faults still give the right answers. Prints ok/FAIL lines;
 * exits 1 if any check failed. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_failed, g_passed;

static void check(int ok, const char* what, unsigned long addr) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    printf("FAIL %s (at %#lx)\n", what, addr);
  }
}

/* ---- one load that may fault ---------------------------------------------------------- */

struct fault {
  int code; /* 0: the load read; else the SIGSEGV's si_code */
  int pkey;
};

static _Thread_local sigjmp_buf t_jump;
static _Thread_local struct fault t_fault;

static void on_segv(int sig, siginfo_t* info, void* ctx) {
  (void)sig;
  (void)ctx;
  t_fault.code = info->si_code;
  t_fault.pkey = info->si_code == SEGV_PKUERR ? (int)info->si_pkey : -1;
  siglongjmp(t_jump, 1);
}

/* The load alone with sigsetjmp, so that nothing else lives across the jump. */
static __attribute__((noinline)) void load(const volatile unsigned char* p) {
  if (sigsetjmp(t_jump, 1) != 0) return;
  (void)*p;
}

static struct fault probe(unsigned long addr) {
  t_fault.code = 0;
  t_fault.pkey = -1;
  load((const volatile unsigned char*)addr);
  return t_fault;
}

/* ---- where guest memory is -------------------------------------------------------------- */

struct guest_mapping {
  unsigned long lo, hi;
  char perms[8];
  int pkey; /* ProtectionKey in smaps; 0 when the kernel shows none */
};

static struct guest_mapping g_maps[64];
static int g_nmaps;

static void find_guest_mappings(void) {
  FILE* f = fopen("/proc/self/smaps", "r");
  if (f == NULL) {
    perror("fopen /proc/self/smaps");
    exit(2);
  }
  char line[512];
  struct guest_mapping* current = NULL;
  while (fgets(line, sizeof(line), f) != NULL) {
    unsigned long lo, hi;
    char perms[8];
    int key;
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3) {
      current = NULL;
      if (strstr(line, "memfd:cryptine-snapshot") != NULL && g_nmaps < 64) {
        current = &g_maps[g_nmaps++];
        current->lo = lo;
        current->hi = hi;
        strcpy(current->perms, perms);
        current->pkey = 0;
      }
    } else if (current != NULL && sscanf(line, "ProtectionKey: %d", &key) == 1) {
      current->pkey = key;
    }
  }
  fclose(f);
}

/* ---- the checks -------------------------------------------------------------------------- */

static int g_keys; /* 1: pkey mode */

static void probe_all(const char* who) {
  char what[160];
  for (int i = 0; i < g_nmaps; ++i) {
    const struct guest_mapping* m = &g_maps[i];
    const unsigned long at[] = {m->lo, m->lo + (m->hi - m->lo) / 2, m->hi - 1};
    for (int j = 0; j < 3; ++j) {
      const struct fault f = probe(at[j]);
      if (g_keys) {
        snprintf(what, sizeof(what), "%s: load from guest memory (%s) faults with SEGV_PKUERR, key %d", who, m->perms,
                 m->pkey);
        check(f.code == SEGV_PKUERR && f.pkey == m->pkey, what, at[j]);
      } else {
        snprintf(what, sizeof(what), "%s: load from guest memory (%s) reads (no key)", who, m->perms);
        check(f.code == 0, what, at[j]);
      }
    }
    const unsigned long guard[] = {m->lo - 4096, m->lo - 1, m->hi, m->hi + 4095};
    for (int j = 0; j < 4; ++j) {
      snprintf(what, sizeof(what), "%s: the guard page %s guest memory (%s) faults with SEGV_ACCERR", who,
               j < 2 ? "before" : "after", m->perms);
      check(probe(guard[j]).code == SEGV_ACCERR, what, guard[j]);
    }
  }
}

static void* probe_thread(void* arg) {
  probe_all((const char*)arg);
  return NULL;
}

/* An early thread, started before any call, waits here until the mappings are known. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_found = PTHREAD_COND_INITIALIZER;
static int g_ready;

static void* early_thread(void* arg) {
  pthread_mutex_lock(&g_lock);
  while (!g_ready) pthread_cond_wait(&g_found, &g_lock);
  pthread_mutex_unlock(&g_lock);
  return probe_thread(arg);
}

/* The calls: SHA-256("abc"), AES-256-GCM and HMAC-SHA256, each checked. */
static void calls(const char* when) {
  static const unsigned char abc_sha256[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                               0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                               0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  unsigned char md[EVP_MAX_MD_SIZE], key[32], iv[12], ct[64], tag[16];
  unsigned int n = 0;
  char what[96];
  snprintf(what, sizeof(what), "%s: SHA-256(\"abc\")", when);
  check(EVP_Digest("abc", 3, md, &n, EVP_sha256(), NULL) == 1 && n == 32 && memcmp(md, abc_sha256, 32) == 0, what, 0);
  memset(key, 0x42, sizeof(key));
  memset(iv, 0x24, sizeof(iv));
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0;
  snprintf(what, sizeof(what), "%s: AES-256-GCM encryption", when);
  check(c != NULL && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv) == 1 &&
            EVP_EncryptUpdate(c, ct, &len, (const unsigned char*)"attack at dawn, quietly", 23) == 1 &&
            EVP_EncryptFinal_ex(c, ct + len, &fin) == 1 &&
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, sizeof(tag), tag) == 1 && len + fin == 23,
        what, 0);
  EVP_CIPHER_CTX_free(c);
  snprintf(what, sizeof(what), "%s: HMAC-SHA256", when);
  check(HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char*)"abc", 3, md, &n) != NULL && n == 32, what, 0);
}

int main(int argc, char** argv) {
  if (argc != 2 || (strcmp(argv[1], "pkey") != 0 && strcmp(argv[1], "guard") != 0)) {
    fprintf(stderr, "usage: %s pkey|guard\n", argv[0]);
    return 2;
  }
  g_keys = strcmp(argv[1], "pkey") == 0;
  struct sigaction act;
  memset(&act, 0, sizeof(act));
  act.sa_sigaction = on_segv;
  act.sa_flags = SA_SIGINFO;
  sigemptyset(&act.sa_mask);
  sigaction(SIGSEGV, &act, NULL);

  pthread_t early, late;
  if (pthread_create(&early, NULL, early_thread, "thread started before the first call") != 0) return 2;
  calls("before the loads");
  find_guest_mappings();
  int images = 0, copies = 0;
  for (int i = 0; i < g_nmaps; ++i) {
    images += strcmp(g_maps[i].perms, "r--s") == 0;
    copies += strcmp(g_maps[i].perms, "rw-p") == 0;
    printf("guest memory %#lx-%#lx %s ProtectionKey %d\n", g_maps[i].lo, g_maps[i].hi, g_maps[i].perms, g_maps[i].pkey);
  }
  check(images >= 1 && copies >= 1, "found the snapshot's image (r--s) and a virtine's copy (rw-p)", 0);
  for (int i = 0; i < g_nmaps; ++i)
    check(g_keys ? g_maps[i].pkey > 0 && g_maps[i].pkey == g_maps[0].pkey : g_maps[i].pkey == 0,
          g_keys ? "every guest mapping carries the same key, not 0" : "no guest mapping carries a key", g_maps[i].lo);

  probe_all("main thread");
  pthread_mutex_lock(&g_lock);
  g_ready = 1;
  pthread_cond_broadcast(&g_found);
  pthread_mutex_unlock(&g_lock);
  pthread_join(early, NULL);
  if (pthread_create(&late, NULL, probe_thread, "thread started after the calls") != 0) return 2;
  pthread_join(late, NULL);
  calls("after the loads");

  printf("%d checks passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
