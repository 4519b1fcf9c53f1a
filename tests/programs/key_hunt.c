/* An in-process key hunt: what a read primitive in a program's own code could reach.
 *
 *   key-hunt secrets RSA.pem EC.pem
 *       prints the keys' secret values in hex, one "NAME HEX" line each (rsa-d, rsa-p,
 *       rsa-q, ec-priv); run natively, to give the hunt its needles
 *   key-hunt hunt RSA.pem EC.pem SECRETS
 *       loads both keys with PEM_read_bio_PrivateKey, signs with each (and verifies), then
 *       reads every readable byte of its own mappings (/proc/self/maps) with plain loads,
 *       a page that faults (SIGSEGV: SEGV_PKUERR, SEGV_ACCERR; SIGBUS) skipped and counted,
 *       and searches them for each secret in binary, big-endian (DER) and little-endian
 *       (OpenSSL's BIGNUM limbs on x86-64)
 *
 * The hunt prints "provider KEY NAME" (who holds each key), "signed KEY ok", one "found
 * SECRET ORDER at ADDRESS in MAPPING (guarded|unguarded)" line per hit (guarded: the
 * mapping lies between PROT_NONE pages, as cryptine's guest memory does), then the
 * counts: "hits N", "unguarded-hits N", "pages-read N", "pages-pkuerr N", "pages-accerr N",
 * "pages-sigbus N". Encrypted keys are read with KEY_HUNT_PASSPHRASE. The needles live in a mapping of their own, which the hunt leaves out;
 * the secrets file is read as text, so no other copy of them is made. */
#define _GNU_SOURCE
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

#define PAGE 4096u
#define MAX_NEEDLES 8
#define MAX_NEEDLE 512
#define MAX_MAPS 4096

static EVP_PKEY* load(const char* path) {
  BIO* bio = BIO_new_file(path, "r");
  /* An encrypted key's passphrase, if any: OpenSSL's default callback takes it as given. */
  void* pass = getenv("KEY_HUNT_PASSPHRASE");
  EVP_PKEY* key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, pass) : NULL;
  BIO_free(bio);
  if (key == NULL) {
    fprintf(stderr, "key-hunt: cannot read %s\n", path);
    ERR_print_errors_fp(stderr);
    exit(2);
  }
  return key;
}

static void print_secret(EVP_PKEY* key, const char* param, const char* name) {
  BIGNUM* bn = NULL;
  if (EVP_PKEY_get_bn_param(key, param, &bn) != 1) {
    fprintf(stderr, "key-hunt: %s not readable\n", name);
    ERR_print_errors_fp(stderr);
    exit(2);
  }
  char* hex = BN_bn2hex(bn);
  printf("%s %s\n", name, hex);
  OPENSSL_free(hex);
  BN_clear_free(bn);
}

static int secrets(const char* rsa_path, const char* ec_path) {
  EVP_PKEY* rsa = load(rsa_path);
  EVP_PKEY* ec = load(ec_path);
  print_secret(rsa, OSSL_PKEY_PARAM_RSA_D, "rsa-d");
  print_secret(rsa, OSSL_PKEY_PARAM_RSA_FACTOR1, "rsa-p");
  print_secret(rsa, OSSL_PKEY_PARAM_RSA_FACTOR2, "rsa-q");
  print_secret(ec, OSSL_PKEY_PARAM_PRIV_KEY, "ec-priv");
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(ec);
  return 0;
}

static void sign_and_verify(EVP_PKEY* key, const char* name) {
  static const unsigned char msg[] = "what the key hunt signs";
  unsigned char sig[1024];
  size_t len = sizeof(sig);
  EVP_MD_CTX* s = EVP_MD_CTX_new();
  EVP_MD_CTX* v = EVP_MD_CTX_new();
  int ok = s != NULL && v != NULL && EVP_DigestSignInit(s, NULL, EVP_sha256(), NULL, key) == 1 &&
           EVP_DigestSign(s, sig, &len, msg, sizeof(msg)) == 1 &&
           EVP_DigestVerifyInit(v, NULL, EVP_sha256(), NULL, key) == 1 &&
           EVP_DigestVerify(v, sig, len, msg, sizeof(msg)) == 1;
  EVP_MD_CTX_free(s);
  EVP_MD_CTX_free(v);
  const OSSL_PROVIDER* prov = EVP_PKEY_get0_provider(key);
  printf("provider %s %s\n", name, prov != NULL ? OSSL_PROVIDER_get0_name(prov) : "legacy");
  if (!ok) {
    printf("signed %s error\n", name);
    ERR_print_errors_fp(stdout);
    exit(1);
  }
  printf("signed %s ok\n", name);
}

/* ---- the needles, in a mapping of their own ------------------------------------------ */

struct needle {
  char name[32];
  const char* order;
  unsigned char* bytes; /* in the needle mapping */
  size_t len;
};
static struct needle needles[MAX_NEEDLES];
static int n_needles;
static unsigned char* needle_map;
static size_t needle_map_size = MAX_NEEDLES * MAX_NEEDLE;

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* A secret's hex, as both byte orders, straight into the needle mapping. */
static void add_secret(const char* name, const char* hex) {
  size_t digits = strspn(hex, "0123456789ABCDEFabcdef");
  size_t len = (digits + 1) / 2;
  if (len == 0 || len > MAX_NEEDLE / 2 || n_needles + 2 > MAX_NEEDLES) {
    fprintf(stderr, "key-hunt: bad secret %s\n", name);
    exit(2);
  }
  unsigned char* be = needle_map + (size_t)n_needles * MAX_NEEDLE;
  unsigned char* le = be + MAX_NEEDLE;
  for (size_t i = 0; i < len; ++i) {
    /* digit pairs from the right: an odd count has a lone leading digit */
    size_t lo = digits - 1 - 2 * i;
    int v = hex_digit(hex[lo]) | (lo >= 1 ? hex_digit(hex[lo - 1]) << 4 : 0);
    be[len - 1 - i] = (unsigned char)v;
    le[i] = (unsigned char)v;
  }
  struct needle* n = &needles[n_needles++];
  snprintf(n->name, sizeof(n->name), "%.31s", name);
  n->order = "big-endian";
  n->bytes = be;
  n->len = len;
  n = &needles[n_needles++];
  snprintf(n->name, sizeof(n->name), "%.31s", name);
  n->order = "little-endian";
  n->bytes = le;
  n->len = len;
}

static void read_secrets(const char* path) {
  needle_map = mmap(NULL, needle_map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FILE* f = fopen(path, "r");
  if (needle_map == MAP_FAILED || f == NULL) {
    fprintf(stderr, "key-hunt: cannot read %s\n", path);
    exit(2);
  }
  char line[2048];
  while (fgets(line, sizeof(line), f) != NULL) {
    char* space = strchr(line, ' ');
    if (space == NULL) continue;
    *space = '\0';
    add_secret(line, space + 1);
  }
  fclose(f);
  if (n_needles == 0) {
    fprintf(stderr, "key-hunt: no secrets in %s\n", path);
    exit(2);
  }
}

/* ---- the walk --------------------------------------------------------------------- */

struct mapping {
  uintptr_t start, end;
  char perms[5];
  char line[256];
};
static struct mapping maps[MAX_MAPS];
static int n_maps;

static void read_maps(void) {
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  while (f != NULL && n_maps < MAX_MAPS && fgets(line, sizeof(line), f) != NULL) {
    struct mapping* m = &maps[n_maps];
    unsigned long s, e;
    if (sscanf(line, "%lx-%lx %4s", &s, &e, m->perms) != 3) continue;
    m->start = s;
    m->end = e;
    line[strcspn(line, "\n")] = '\0';
    snprintf(m->line, sizeof(m->line), "%.255s", line);
    ++n_maps;
  }
  if (f != NULL) fclose(f);
}

static int is_guard(const struct mapping* m) {
  return strcmp(m->perms, "---p") == 0 && m->end - m->start >= PAGE;
}

/* Between PROT_NONE pages that touch it on both sides. */
static int guarded(int i) {
  return i > 0 && i + 1 < n_maps && is_guard(&maps[i - 1]) && maps[i - 1].end == maps[i].start &&
         is_guard(&maps[i + 1]) && maps[i + 1].start == maps[i].end;
}

static sigjmp_buf probe_jump;
static volatile sig_atomic_t fault_signal, fault_code;

static void on_fault(int sig, siginfo_t* info, void* ctx) {
  (void)ctx;
  fault_signal = sig;
  fault_code = info->si_code;
  siglongjmp(probe_jump, 1);
}

static long pages_read, pages_pkuerr, pages_accerr, pages_sigbus, pages_other;
static long hits, unguarded_hits;

/* Whether `page` can be read: one plain load, a fault counted by its kind. */
static int readable(uintptr_t page) {
  if (sigsetjmp(probe_jump, 1) != 0) {
    if (fault_signal == SIGBUS) ++pages_sigbus;
    else if (fault_code == SEGV_PKUERR) ++pages_pkuerr;
    else if (fault_code == SEGV_ACCERR) ++pages_accerr;
    else ++pages_other;
    return 0;
  }
  (void)*(volatile const unsigned char*)page;
  return 1;
}

static void search(uintptr_t start, uintptr_t end, int map) {
  for (int n = 0; n < n_needles; ++n) {
    const unsigned char* from = (const unsigned char*)start;
    while (from < (const unsigned char*)end) {
      const unsigned char* at = memmem(from, (size_t)((const unsigned char*)end - from), needles[n].bytes, needles[n].len);
      if (at == NULL) break;
      const int g = guarded(map);
      ++hits;
      if (!g) ++unguarded_hits;
      printf("found %s %s at %p in %s (%s)\n", needles[n].name, needles[n].order, (const void*)at, maps[map].line,
             g ? "guarded" : "unguarded");
      from = at + 1;
    }
  }
}

/* Every readable run of pages of every readable mapping but the needles' own. */
static void hunt_all(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  for (int i = 0; i < n_maps; ++i) {
    const struct mapping* m = &maps[i];
    if (m->perms[0] != 'r' || strstr(m->line, "[vsyscall]") != NULL || strstr(m->line, "[vvar]") != NULL) continue;
    if (m->start == (uintptr_t)needle_map) continue;
    uintptr_t run = 0; /* start of the current readable run, 0 if none */
    for (uintptr_t p = m->start; p < m->end; p += PAGE) {
      if (readable(p)) {
        ++pages_read;
        if (run == 0) run = p;
      } else if (run != 0) {
        search(run, p, i);
        run = 0;
      }
    }
    if (run != 0) search(run, m->end, i);
  }
  signal(SIGSEGV, SIG_DFL);
  signal(SIGBUS, SIG_DFL);
}

static int hunt(const char* rsa_path, const char* ec_path, const char* secrets_path) {
  read_secrets(secrets_path);
  EVP_PKEY* rsa = load(rsa_path);
  EVP_PKEY* ec = load(ec_path);
  sign_and_verify(rsa, "rsa");
  sign_and_verify(ec, "ec");
  fflush(stdout);
  read_maps();
  hunt_all();
  printf("hits %ld\nunguarded-hits %ld\npages-read %ld\npages-pkuerr %ld\npages-accerr %ld\npages-sigbus %ld\n"
         "pages-other %ld\n",
         hits, unguarded_hits, pages_read, pages_pkuerr, pages_accerr, pages_sigbus, pages_other);
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(ec);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "secrets") == 0) return secrets(argv[2], argv[3]);
  if (argc == 5 && strcmp(argv[1], "hunt") == 0) return hunt(argv[2], argv[3], argv[4]);
  fprintf(stderr, "usage: key-hunt secrets RSA.pem EC.pem | key-hunt hunt RSA.pem EC.pem SECRETS\n");
  return 2;
}
