/* Reaches EVP only through dlsym() on libcrypto's own handle, as a plugin host or a
   language runtime does: no symbol of libcrypto is linked in, so no interposer can stand
   between. Initialises libcrypto with its configuration (OPENSSL_init_crypto, as libssl
   does for a TLS program), hashes argv[1]'s bytes with SHA-256 (EVP_MD_fetch,
   EVP_DigestInit_ex2, _Update, _Final_ex) and prints the digest in hex. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef int (*init_crypto_fn)(uint64_t, const void*);
typedef void* (*fetch_fn)(void*, const char*, const char*);
typedef void* (*new_fn)(void);
typedef int (*init_fn)(void*, const void*, const void*);
typedef int (*update_fn)(void*, const void*, size_t);
typedef int (*final_fn)(void*, unsigned char*, unsigned int*);
typedef void (*free_fn)(void*);

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  void* crypto = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
  if (crypto == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  init_crypto_fn init_crypto = (init_crypto_fn)dlsym(crypto, "OPENSSL_init_crypto");
  fetch_fn md_fetch = (fetch_fn)dlsym(crypto, "EVP_MD_fetch");
  new_fn ctx_new = (new_fn)dlsym(crypto, "EVP_MD_CTX_new");
  init_fn init = (init_fn)dlsym(crypto, "EVP_DigestInit_ex2");
  update_fn update = (update_fn)dlsym(crypto, "EVP_DigestUpdate");
  final_fn final = (final_fn)dlsym(crypto, "EVP_DigestFinal_ex");
  free_fn ctx_free = (free_fn)dlsym(crypto, "EVP_MD_CTX_free");
  free_fn md_free = (free_fn)dlsym(crypto, "EVP_MD_free");
  if (!init_crypto || !md_fetch || !ctx_new || !init || !update || !final || !ctx_free || !md_free) {
    fprintf(stderr, "dlsym: a symbol is missing\n");
    return 1;
  }
  const uint64_t load_config = 0x00000040L; /* OPENSSL_INIT_LOAD_CONFIG */
  if (!init_crypto(load_config, NULL)) {
    fprintf(stderr, "OPENSSL_init_crypto failed\n");
    return 1;
  }
  void* md = md_fetch(NULL, "SHA256", NULL);
  void* ctx = ctx_new();
  unsigned char out[64];
  unsigned int n = 0;
  if (md == NULL || ctx == NULL || !init(ctx, md, NULL) || !update(ctx, argv[1], strlen(argv[1])) ||
      !final(ctx, out, &n)) {
    fprintf(stderr, "SHA-256 through dlsym failed\n");
    return 1;
  }
  for (unsigned int i = 0; i < n; ++i) printf("%02x", out[i]);
  printf("\n");
  ctx_free(ctx);
  md_free(md);
  return 0;
}
