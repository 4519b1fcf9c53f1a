/* cryptine crypto guest: OpenSSL's libcrypto behind the mailbox protocol of guest_abi.h.
 *
 * main() initialises OpenSSL, warms up the algorithms a program is likely to use (so
 * their set-up cost is paid once, inside the snapshot), then makes SNAPSHOT. From then
 * on every entry is one request: decode it, run it with the same OpenSSL calls a
 * program would make, write the reply, DONE. The host is the only caller, but a
 * malformed request is still answered with BAD_REQUEST rather than trusted. */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

#include "hypercall.h"
#include "batch_wire.h"
#include "param_wire.h"
#include "stack_digest.h"

#ifdef CRYPTINE_LIE_OP
/* Test builds only: not an op, the predicted final's record (liar-PREDICTED_FINAL.elf). */
#define CRYPTINE_OP_PREDICTED_FINAL 1000
#endif

#ifdef CRYPTINE_LIE_PARAM
/* Test builds only (tests/guests/param-liar-LIE.elf, CRYPTINE_LIE_PARAM=LIE_<LIE>): OpenSSL
 * answers SET_PARAMS and GET_PARAMS, then this guest lies in one field of its answer, as
 * a hostile guest may, for the host's checks of that field to stop. */
enum param_lie {
  LIE_PAST_BUFFER = 1, /* an octet string's return size one past its buffer */
  LIE_TYPE,            /* the first record comes back with another type */
  LIE_INT_SIZE,        /* an integer's return size half its size */
  LIE_PAST_VALUE,      /* bytes after an octet string's value, inside its buffer, rewritten */
  LIE_IV_LENGTH,       /* an IV one byte longer than the context's (the byte after it, too) */
  LIE_TAG_LENGTH,      /* an AEAD tag length of 17 */
  LIE_TLS_AAD_PAD,     /* a TLS AAD pad of 4096, more than any record */
  LIE_NUM,             /* a num of 16: past a block */
  LIE_PADDING,         /* padding 2: neither on nor off */
  LIE_UNANSWERED,      /* a param OpenSSL left unanswered, answered */
  LIE_RETURN_VALUE,    /* SET_PARAMS and GET_PARAMS return 2, not OpenSSL's 1 */
};

static int named(const OSSL_PARAM* p, const char* a, const char* b) {
  return strcmp(p->key, a) == 0 || (b != NULL && strcmp(p->key, b) == 0);
}

/* In the values OpenSSL set, before their return sizes are stored in the wire. */
static void lie_in_params(struct param_list* list) {
  for (int i = 0; i < list->count; ++i) {
    OSSL_PARAM* p = &list->params[i];
    const int set = p->return_size != OSSL_PARAM_UNMODIFIED;
    const int integer = p->data_type == OSSL_PARAM_INTEGER || p->data_type == OSSL_PARAM_UNSIGNED_INTEGER;
    uint8_t* data = p->data;
    switch (CRYPTINE_LIE_PARAM) {
      case LIE_PAST_BUFFER:
        if (set && p->data_type == OSSL_PARAM_OCTET_STRING) return (void)(p->return_size = p->data_size + 1);
        break;
      case LIE_INT_SIZE:
        if (set && integer) return (void)(p->return_size = p->data_size / 2);
        break;
      case LIE_PAST_VALUE:
        if (set && p->data_type == OSSL_PARAM_OCTET_STRING && p->return_size < p->data_size)
          return (void)memset(data + p->return_size, 0xee, p->data_size - p->return_size);
        break;
      case LIE_IV_LENGTH:
        if (set && named(p, OSSL_CIPHER_PARAM_IV, OSSL_CIPHER_PARAM_UPDATED_IV) && p->return_size < p->data_size)
          data[p->return_size++] = 0xee;
        break;
      case LIE_TAG_LENGTH:
        if (set && named(p, OSSL_CIPHER_PARAM_AEAD_TAGLEN, NULL)) OSSL_PARAM_set_size_t(p, 17);
        break;
      case LIE_TLS_AAD_PAD:
        if (set && named(p, OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD, NULL)) OSSL_PARAM_set_size_t(p, 4096);
        break;
      case LIE_NUM:
        if (set && named(p, OSSL_CIPHER_PARAM_NUM, NULL)) OSSL_PARAM_set_uint(p, 16);
        break;
      case LIE_PADDING:
        if (set && named(p, OSSL_CIPHER_PARAM_PADDING, NULL)) OSSL_PARAM_set_uint(p, 2);
        break;
      case LIE_UNANSWERED:
        if (!set && p->data != NULL) {
          memset(data, 0xee, p->data_size);
          p->return_size = p->data_size;
        }
        break;
      case LIE_TYPE:
      case LIE_RETURN_VALUE: return; /* told in the wire's header and the reply's values */
    }
  }
}
#endif

#define MAILBOX ((uint8_t*)(uintptr_t)CRYPTINE_MAILBOX_ADDR)
#define PAYLOAD (MAILBOX + CRYPTINE_PAYLOAD_OFFSET)

enum slot_kind { SLOT_FREE, SLOT_CIPHER, SLOT_DIGEST, SLOT_MAC, SLOT_KEY };

/* A key's signing context from its last SIGN, kept for the next one with the same options
 * (digest name, padding, PSS salt length): making one (EVP_PKEY_CTX_new and
 * EVP_PKEY_sign_init, a fetch and a new provider context) costs about a sixth of a P-256
 * signature, which a program that signs with one EVP_PKEY_CTX pays only once. */
struct sign_ctx {
  EVP_PKEY_CTX* pctx; /* NULL when none is kept */
  char md[CRYPTINE_NAME_MAX];
  int64_t padding, saltlen;
};

/* Contexts and keys, named by handle = index + 1 (0 means none). */
static struct {
  enum slot_kind kind;
  void* ptr;
  struct sign_ctx sign; /* SLOT_KEY only */
} slots[CRYPTINE_MAX_HANDLES];

/* One decoded request and the reply being built. */
struct call {
  struct cryptine_request req;
  struct cryptine_reply rep;
  const uint8_t *key, *iv, *in; /* NULL when the span is empty */
  uint8_t* out;                 /* the output window */
};

/* ---- handles -------------------------------------------------------------------- */

static uint32_t slot_put(enum slot_kind kind, void* ptr) {
  for (uint32_t i = 0; i < CRYPTINE_MAX_HANDLES; ++i) {
    if (slots[i].kind == SLOT_FREE) {
      slots[i].kind = kind;
      slots[i].ptr = ptr;
      return i + 1;
    }
  }
  return 0;
}

static void* slot_get(uint32_t handle, enum slot_kind kind) {
  if (handle == 0 || handle > CRYPTINE_MAX_HANDLES || slots[handle - 1].kind != kind) return NULL;
  return slots[handle - 1].ptr;
}

static void free_by_kind(enum slot_kind kind, void* p) {
  switch (kind) {
    case SLOT_CIPHER: EVP_CIPHER_CTX_free(p); break;
    case SLOT_DIGEST: EVP_MD_CTX_free(p); break;
    case SLOT_MAC: EVP_MAC_CTX_free(p); break;
    case SLOT_KEY: EVP_PKEY_free(p); break;
    case SLOT_FREE: break;
  }
}

static void slot_free(uint32_t handle) {
  EVP_PKEY_CTX_free(slots[handle - 1].sign.pctx);
  memset(&slots[handle - 1].sign, 0, sizeof(slots[handle - 1].sign));
  free_by_kind(slots[handle - 1].kind, slots[handle - 1].ptr);
  slots[handle - 1].kind = SLOT_FREE;
  slots[handle - 1].ptr = NULL;
}

/* ---- fetched algorithms, cached by name ------------------------------------------ */

#define FETCH_CACHE 48
static struct {
  char name[CRYPTINE_NAME_MAX];
  EVP_CIPHER* cipher;
  EVP_MD* md;
} fetched[FETCH_CACHE];

static int fetch_slot(const char* name) {
  for (int i = 0; i < FETCH_CACHE; ++i)
    if (fetched[i].name[0] != '\0' && strcmp(fetched[i].name, name) == 0) return i;
  for (int i = 0; i < FETCH_CACHE; ++i) {
    if (fetched[i].name[0] == '\0') {
      strcpy(fetched[i].name, name);
      return i;
    }
  }
  return -1; /* full: fetch without caching */
}

static const EVP_CIPHER* get_cipher(const char* name, EVP_CIPHER** uncached) {
  int i = fetch_slot(name);
  if (i >= 0 && fetched[i].cipher != NULL) return fetched[i].cipher;
  EVP_CIPHER* c = EVP_CIPHER_fetch(NULL, name, NULL);
  if (c != NULL && i >= 0) fetched[i].cipher = c;
  else *uncached = c;
  return c;
}

static const EVP_MD* get_md(const char* name, EVP_MD** uncached) {
  int i = fetch_slot(name);
  if (i >= 0 && fetched[i].md != NULL) return fetched[i].md;
  EVP_MD* m = EVP_MD_fetch(NULL, name, NULL);
  if (m != NULL && i >= 0) fetched[i].md = m;
  else *uncached = m;
  return m;
}

/* ---- replies ---------------------------------------------------------------------- */

static void fail(struct call* c, uint32_t status) {
  c->rep.status = status;
  c->rep.out.length = 0;
  if (status == CRYPTINE_STATUS_CRYPTO_ERROR) c->rep.err_code = ERR_peek_last_error();
  ERR_clear_error();
}

/* Gives a new context or key its handle in the reply; with no slot left it is freed. */
static void keep(struct call* c, enum slot_kind kind, void* ptr) {
  if ((c->rep.handle = slot_put(kind, ptr)) == 0) {
    free_by_kind(kind, ptr);
    fail(c, CRYPTINE_STATUS_TABLE_FULL);
  }
}

/* For OpenSSL calls: 1 is success; anything else is a crypto error. */
static int ok(struct call* c, int ret) {
  c->rep.values[1] = ret;
  if (ret == 1) return 1;
  fail(c, CRYPTINE_STATUS_CRYPTO_ERROR);
  return 0;
}

static void output(struct call* c, size_t len) {
  c->rep.out.offset = c->req.out_offset;
  c->rep.out.length = (uint32_t)len;
}

/* ---- operations -------------------------------------------------------------------- */

static void cipher_init(struct call* c) {
  EVP_CIPHER_CTX* ctx = NULL;
  uint32_t handle = c->req.handle;
  if (handle != 0) {
    if ((ctx = slot_get(handle, SLOT_CIPHER)) == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  }
  const EVP_CIPHER* cipher = NULL;
  EVP_CIPHER* uncached = NULL;
  if (c->req.name[0] != '\0' && (cipher = get_cipher(c->req.name, &uncached)) == NULL)
    return fail(c, CRYPTINE_STATUS_CRYPTO_ERROR);
  int created = 0;
  if (ctx == NULL) {
    if (cipher == NULL) return fail(c, CRYPTINE_STATUS_BAD_REQUEST);
    if ((ctx = EVP_CIPHER_CTX_new()) == NULL) return fail(c, CRYPTINE_STATUS_CRYPTO_ERROR);
    created = 1;
  }
  /* params[1]: bit 0 a key is given, bit 1 an IV is given (either may be empty bytes). */
  const unsigned char* key = (c->req.params[1] & 1) ? (c->key ? c->key : PAYLOAD) : NULL;
  const unsigned char* iv = (c->req.params[1] & 2) ? (c->iv ? c->iv : PAYLOAD) : NULL;
  int enc = (int)c->req.params[0];
  int r = EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, enc);
  EVP_CIPHER_free(uncached);
  if (!ok(c, r)) {
    if (created) EVP_CIPHER_CTX_free(ctx);
    return;
  }
  if (created) keep(c, SLOT_CIPHER, ctx);
  else c->rep.handle = handle;
}

/* An update of the request's input (or AAD, no output) on ctx, as CIPHER_UPDATE and a
 * batch's update do it. */
static void update_on(struct call* c, EVP_CIPHER_CTX* ctx, int aad, int in_place_asked) {
  /* OpenSSL may write up to inl + block_size - 1 bytes; the host sized the window so. */
  if (!aad && (uint64_t)c->req.in.length + (uint64_t)EVP_CIPHER_CTX_get_block_size(ctx) > c->req.out_capacity + 1u)
    return fail(c, CRYPTINE_STATUS_NO_SPACE);
  int outl = 0;
  static const unsigned char empty[1];
  const unsigned char* in = c->in ? c->in : empty;
  /* In place, as the program asked: some modes (TLS records in GCM) work only so, and
   * may write anywhere in the buffer (the plaintext after the explicit IV), so the
   * whole buffer comes back. */
  const int in_place = !aad && in_place_asked && c->in != NULL;
  if (in_place) {
    memmove(c->out, c->in, c->req.in.length);
    in = c->out;
  }
  if (!ok(c, EVP_CipherUpdate(ctx, aad ? NULL : c->out, &outl, in, (int)c->req.in.length))) return;
  c->rep.values[0] = outl;
  if (in_place && (uint32_t)outl < c->req.in.length) return output(c, c->req.in.length);
  output(c, aad ? 0 : (size_t)outl);
}

static void cipher_update(struct call* c) {
  EVP_CIPHER_CTX* ctx = slot_get(c->req.handle, SLOT_CIPHER);
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  update_on(c, ctx, c->req.params[0] == 1, c->req.params[1] == 1);
}

static void cipher_final(struct call* c) {
  EVP_CIPHER_CTX* ctx = slot_get(c->req.handle, SLOT_CIPHER);
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  if ((uint64_t)EVP_CIPHER_CTX_get_block_size(ctx) > c->req.out_capacity) return fail(c, CRYPTINE_STATUS_NO_SPACE);
  int outl = 0;
  if (!ok(c, EVP_CipherFinal_ex(ctx, c->out, &outl))) return;
  c->rep.values[0] = outl;
  output(c, (size_t)outl);
}

/* A ctrl whose pointer argument is a byte buffer: the input bytes are copied into the
 * output window, the ctrl runs on it, and the window comes back (for GET-style ctrls). */
static void cipher_ctrl(struct call* c) {
  EVP_CIPHER_CTX* ctx = slot_get(c->req.handle, SLOT_CIPHER);
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  if (c->req.in.length > c->req.out_capacity) return fail(c, CRYPTINE_STATUS_NO_SPACE);
  if (c->in != NULL) memmove(c->out, c->in, c->req.in.length);
  void* ptr = c->req.out_capacity > 0 ? c->out : NULL;
  int r = EVP_CIPHER_CTX_ctrl(ctx, (int)c->req.params[0], (int)c->req.params[1], ptr);
  c->rep.values[0] = r;
  if (r <= 0) return fail(c, CRYPTINE_STATUS_CRYPTO_ERROR);
  output(c, c->req.out_capacity);
}

static void digest_init(struct call* c) {
  EVP_MD* uncached = NULL;
  const EVP_MD* md = get_md(c->req.name, &uncached);
  if (md == NULL) return fail(c, CRYPTINE_STATUS_CRYPTO_ERROR);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  int r = ctx != NULL ? EVP_DigestInit_ex(ctx, md, NULL) : 0;
  EVP_MD_free(uncached);
  if (!ok(c, r)) return EVP_MD_CTX_free(ctx);
  keep(c, SLOT_DIGEST, ctx);
}

static void digest_update(struct call* c) {
  EVP_MD_CTX* ctx = slot_get(c->req.handle, SLOT_DIGEST);
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  ok(c, EVP_DigestUpdate(ctx, c->in, c->req.in.length));
}

static void digest_final(struct call* c) {
  EVP_MD_CTX* ctx = slot_get(c->req.handle, SLOT_DIGEST);
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  if ((uint64_t)EVP_MD_CTX_get_size(ctx) > c->req.out_capacity) return fail(c, CRYPTINE_STATUS_NO_SPACE);
  unsigned int len = 0;
  if (!ok(c, EVP_DigestFinal_ex(ctx, c->out, &len))) return;
  output(c, len);
}

static void digest_oneshot(struct call* c) {
  EVP_MD* uncached = NULL;
  const EVP_MD* md = get_md(c->req.name, &uncached);
  if (md == NULL) return fail(c, CRYPTINE_STATUS_CRYPTO_ERROR);
  if ((uint64_t)EVP_MD_get_size(md) > c->req.out_capacity) {
    EVP_MD_free(uncached);
    return fail(c, CRYPTINE_STATUS_NO_SPACE);
  }
  unsigned int len = 0;
  int r = 0;
  const int on_stack = stack_digest(EVP_MD_get_type(md), c->in, c->req.in.length, c->out);
  if (on_stack >= 0) {
    r = on_stack > 0;
    len = (unsigned int)on_stack;
  } else {
    r = EVP_Digest(c->in, c->req.in.length, c->out, &len, md, NULL);
  }
  EVP_MD_free(uncached);
  if (ok(c, r)) output(c, len);
}

static EVP_MAC* hmac;

static EVP_MAC_CTX* mac_new(struct call* c) {
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, c->req.name, 0),
                         OSSL_PARAM_construct_end()};
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac);
  static const unsigned char empty[1];
  if (ctx == NULL || !EVP_MAC_init(ctx, c->key ? c->key : empty, c->req.key.length, params)) {
    EVP_MAC_CTX_free(ctx);
    fail(c, CRYPTINE_STATUS_CRYPTO_ERROR);
    return NULL;
  }
  return ctx;
}

static void mac_init(struct call* c) {
  EVP_MAC_CTX* ctx = mac_new(c);
  if (ctx != NULL) keep(c, SLOT_MAC, ctx);
}

static void mac_update(struct call* c) {
  EVP_MAC_CTX* ctx = slot_get(c->req.handle, SLOT_MAC);
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  ok(c, EVP_MAC_update(ctx, c->in, c->req.in.length));
}

static void mac_final_of(struct call* c, EVP_MAC_CTX* ctx) {
  size_t len = 0;
  if (ok(c, EVP_MAC_final(ctx, c->out, &len, c->req.out_capacity))) output(c, len);
}

static void mac_final(struct call* c) {
  EVP_MAC_CTX* ctx = slot_get(c->req.handle, SLOT_MAC);
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  mac_final_of(c, ctx);
}

static void mac_oneshot(struct call* c) {
  EVP_MAC_CTX* ctx = mac_new(c);
  if (ctx == NULL) return;
  if (ok(c, EVP_MAC_update(ctx, c->in, c->req.in.length))) mac_final_of(c, ctx);
  EVP_MAC_CTX_free(ctx);
}

static void ctx_copy(struct call* c) {
  uint32_t h = c->req.handle;
  if (h == 0 || h > CRYPTINE_MAX_HANDLES) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  enum slot_kind kind = slots[h - 1].kind;
  void* src = slots[h - 1].ptr;
  void* dup = NULL;
  int r = 0;
  switch (kind) {
    case SLOT_CIPHER: r = (dup = EVP_CIPHER_CTX_new()) != NULL && EVP_CIPHER_CTX_copy(dup, src); break;
    case SLOT_DIGEST: r = (dup = EVP_MD_CTX_new()) != NULL && EVP_MD_CTX_copy_ex(dup, src); break;
    case SLOT_MAC: r = (dup = EVP_MAC_CTX_dup(src)) != NULL; break;
    default: return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  }
  if (ok(c, r)) keep(c, kind, dup);
  else free_by_kind(kind, dup);
}

static void free_handle(struct call* c) {
  uint32_t h = c->req.handle;
  if (h == 0 || h > CRYPTINE_MAX_HANDLES || slots[h - 1].kind == SLOT_FREE) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  slot_free(h);
}

/* The passphrase PEM_read_bio_PrivateKey asks for: the request's, or none (never the
 * default callback, which would prompt on a terminal). */
struct passphrase {
  const uint8_t* bytes;
  uint32_t len;
};

static int give_passphrase(char* buf, int size, int rwflag, void* u) {
  (void)rwflag;
  const struct passphrase* p = u;
  if (p == NULL || p->bytes == NULL || p->len > (uint32_t)size) return -1;
  memcpy(buf, p->bytes, p->len);
  return (int)p->len;
}

/* A private key in DER (any form d2i_AutoPrivateKey reads, PKCS#8 included) or PEM
 * (encrypted too, with `pass`). */
static EVP_PKEY* parse_private_key(const uint8_t* bytes, uint32_t len, const struct passphrase* pass) {
  EVP_PKEY* key = NULL;
  if (len > 10 && memcmp(bytes, "-----BEGIN", 10) == 0) {
    BIO* bio = BIO_new_mem_buf(bytes, (int)len);
    if (bio != NULL) key = PEM_read_bio_PrivateKey(bio, NULL, give_passphrase, (void*)pass);
    BIO_free(bio);
  } else {
    const unsigned char* p = bytes;
    key = d2i_AutoPrivateKey(NULL, &p, (long)len);
  }
  return key;
}

/* The key of a SIGN, DECRYPT, DERIVE or DIGEST_SIGN: an imported handle, or with handle
 * 0 the key bytes the request carries (*temporary is then set: the caller frees it). */
static EVP_PKEY* key_of(struct call* c, int* temporary) {
  *temporary = 0;
  if (c->req.handle != 0) {
    EVP_PKEY* key = slot_get(c->req.handle, SLOT_KEY);
    if (key == NULL) fail(c, CRYPTINE_STATUS_NO_HANDLE);
    return key;
  }
  if (c->key == NULL) {
    fail(c, CRYPTINE_STATUS_BAD_REQUEST);
    return NULL;
  }
  EVP_PKEY* key = parse_private_key(c->key, c->req.key.length, NULL);
  if (key == NULL) fail(c, CRYPTINE_STATUS_CRYPTO_ERROR);
  *temporary = key != NULL;
  return key;
}

/* The reply for a key kept here: its facts, its handle and, where the request has room
 * for it, its public part (SubjectPublicKeyInfo DER): only that leaves. */
static void keep_key(struct call* c, EVP_PKEY* key) {
  const int len = c->req.out_capacity > 0 ? i2d_PUBKEY(key, NULL) : 0;
  if (len < 0 || (uint32_t)len > c->req.out_capacity) {
    EVP_PKEY_free(key);
    return fail(c, len < 0 ? CRYPTINE_STATUS_CRYPTO_ERROR : CRYPTINE_STATUS_NO_SPACE);
  }
  unsigned char* p = c->out;
  if (len > 0) i2d_PUBKEY(key, &p);
  c->rep.values[0] = EVP_PKEY_get_id(key);
  c->rep.values[2] = EVP_PKEY_get_bits(key);
  c->rep.values[3] = EVP_PKEY_get_size(key);
  keep(c, SLOT_KEY, key);
  if (c->rep.handle != 0 && len > 0) output(c, (size_t)len);
}

/* A key decoded here from the program's encoding, with the passphrase in the key span. */
static void key_import(struct call* c) {
  if (c->in == NULL) return fail(c, CRYPTINE_STATUS_BAD_REQUEST);
  const struct passphrase pass = {c->key, c->req.key.length};
  EVP_PKEY* key = parse_private_key(c->in, c->req.in.length, &pass);
  if (key == NULL) return fail(c, CRYPTINE_STATUS_CRYPTO_ERROR);
  keep_key(c, key);
}

/* A key made here, from fresh entropy (the op reseeds first): only its public part leaves. */
static void key_generate(struct call* c) {
  char curve[CRYPTINE_NAME_MAX] = "";
  EVP_PKEY* key = NULL;
  if (strcmp(c->req.name, "EC") == 0) {
    if (c->in == NULL || c->req.in.length >= sizeof(curve)) return fail(c, CRYPTINE_STATUS_BAD_REQUEST);
    memcpy(curve, c->in, c->req.in.length);
    key = EVP_EC_gen(curve);
  } else if (strcmp(c->req.name, "RSA") == 0) {
    key = EVP_RSA_gen((unsigned int)c->req.params[0]);
  } else if (strcmp(c->req.name, "X25519") == 0 || strcmp(c->req.name, "ED25519") == 0) {
    key = EVP_PKEY_Q_keygen(NULL, NULL, c->req.name);
  }
  if (key == NULL) return fail(c, CRYPTINE_STATUS_CRYPTO_ERROR);
  keep_key(c, key);
}

/* RSA padding, PSS salt length and digest, or OAEP digest, where the key is RSA. */
static int set_rsa_options(struct call* c, EVP_PKEY_CTX* pctx, int for_sign) {
  if (EVP_PKEY_get_base_id(EVP_PKEY_CTX_get0_pkey(pctx)) != EVP_PKEY_RSA) return 1;
  int padding = c->req.params[0] != 0 ? (int)c->req.params[0] : RSA_PKCS1_PADDING;
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, padding) <= 0) return 0;
  if (for_sign && padding == RSA_PKCS1_PSS_PADDING && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)c->req.params[1]) <= 0)
    return 0;
  if (!for_sign && padding == RSA_PKCS1_OAEP_PADDING && c->req.name[0] != '\0') {
    EVP_MD* uncached = NULL;
    const EVP_MD* md = get_md(c->req.name, &uncached);
    int r = md != NULL && EVP_PKEY_CTX_set_rsa_oaep_md(pctx, md) > 0 && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0;
    EVP_MD_free(uncached);
    if (!r) return 0;
  }
  if (!for_sign && padding == RSA_PKCS1_OAEP_PADDING && c->req.params[2] != 0) { /* an MGF1 digest of its own */
    const char* name = OBJ_nid2sn((int)c->req.params[2]);
    EVP_MD* uncached = NULL;
    const EVP_MD* md = name != NULL ? get_md(name, &uncached) : NULL;
    int r = md != NULL && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0;
    EVP_MD_free(uncached);
    if (!r) return 0;
  }
  if (!for_sign && padding == RSA_PKCS1_OAEP_PADDING && c->iv != NULL) { /* the label, owned by pctx after */
    unsigned char* label = OPENSSL_memdup(c->iv, c->req.iv.length);
    if (label == NULL || EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, label, (int)c->req.iv.length) <= 0) {
      OPENSSL_free(label);
      return 0;
    }
  }
  if (!for_sign && padding == RSA_PKCS1_WITH_TLS_PADDING) { /* libssl's premaster secret: its versions */
    unsigned int client = (unsigned int)(c->req.params[3] & 0xffff);
    unsigned int alt = (unsigned int)((c->req.params[3] >> 16) & 0xffff);
    OSSL_PARAM p[] = {OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, &client),
                      OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION, &alt),
                      OSSL_PARAM_construct_end()};
    if (EVP_PKEY_CTX_set_params(pctx, p) <= 0) return 0;
  }
  return 1;
}

/* A new signing context on `key` with the request's options, or NULL. */
static EVP_PKEY_CTX* new_sign_ctx(struct call* c, EVP_PKEY* key) {
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new(key, NULL);
  EVP_MD* uncached = NULL;
  const EVP_MD* md = c->req.name[0] != '\0' ? get_md(c->req.name, &uncached) : NULL;
  int r = pctx != NULL && EVP_PKEY_sign_init(pctx) > 0 && (c->req.name[0] == '\0' || md != NULL) &&
          (md == NULL || EVP_PKEY_CTX_set_signature_md(pctx, md) > 0) && set_rsa_options(c, pctx, 1);
  EVP_MD_free(uncached);
  if (r) return pctx;
  EVP_PKEY_CTX_free(pctx);
  return NULL;
}

static void sign(struct call* c) {
  int temporary;
  EVP_PKEY* key = key_of(c, &temporary);
  if (key == NULL) return;
  /* A held key's kept context, if made with the same options (struct sign_ctx). */
  struct sign_ctx* kept = temporary ? NULL : &slots[c->req.handle - 1].sign;
  if (kept != NULL && kept->pctx != NULL &&
      (strcmp(kept->md, c->req.name) != 0 || kept->padding != c->req.params[0] || kept->saltlen != c->req.params[1])) {
    EVP_PKEY_CTX_free(kept->pctx);
    kept->pctx = NULL;
  }
  EVP_PKEY_CTX* pctx = kept != NULL && kept->pctx != NULL ? kept->pctx : new_sign_ctx(c, key);
  size_t len = c->req.out_capacity;
  int r = pctx != NULL && EVP_PKEY_sign(pctx, c->out, &len, c->in, c->req.in.length) > 0;
  if (kept != NULL && r) { /* kept for the next (a context that failed is not) */
    kept->pctx = pctx;
    strcpy(kept->md, c->req.name);
    kept->padding = c->req.params[0];
    kept->saltlen = c->req.params[1];
  } else {
    EVP_PKEY_CTX_free(pctx);
    if (kept != NULL) kept->pctx = NULL;
  }
  if (ok(c, r)) output(c, len);
  if (temporary) EVP_PKEY_free(key);
}

/* EVP_DigestSign: hashes and signs in one go (Ed25519 has no separate digest). */
static void digest_sign(struct call* c) {
  int temporary;
  EVP_PKEY* key = key_of(c, &temporary);
  if (key == NULL) return;
  EVP_MD_CTX* mctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = NULL;
  size_t len = c->req.out_capacity;
  static const unsigned char empty[1];
  int r = mctx != NULL &&
          EVP_DigestSignInit_ex(mctx, &pctx, c->req.name[0] != '\0' ? c->req.name : NULL, NULL, NULL, key, NULL) > 0 &&
          set_rsa_options(c, pctx, 1) &&
          EVP_DigestSign(mctx, c->out, &len, c->in ? c->in : empty, c->req.in.length) > 0;
  EVP_MD_CTX_free(mctx);
  if (ok(c, r)) output(c, len);
  if (temporary) EVP_PKEY_free(key);
}

static void decrypt(struct call* c) {
  int temporary;
  EVP_PKEY* key = key_of(c, &temporary);
  if (key == NULL) return;
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new(key, NULL);
  size_t len = c->req.out_capacity;
  int r = pctx != NULL && EVP_PKEY_decrypt_init(pctx) > 0 && set_rsa_options(c, pctx, 0) &&
          EVP_PKEY_decrypt(pctx, c->out, &len, c->in, c->req.in.length) > 0;
  EVP_PKEY_CTX_free(pctx);
  if (ok(c, r)) output(c, len);
  if (temporary) EVP_PKEY_free(key);
}

static void derive(struct call* c) {
  int temporary;
  EVP_PKEY* key = key_of(c, &temporary);
  if (key == NULL) return;
  const unsigned char* p = c->in;
  EVP_PKEY* peer = c->in != NULL ? d2i_PUBKEY(NULL, &p, (long)c->req.in.length) : NULL;
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new(key, NULL);
  size_t len = c->req.out_capacity;
  int r = peer != NULL && pctx != NULL && EVP_PKEY_derive_init(pctx) > 0 && EVP_PKEY_derive_set_peer(pctx, peer) > 0 &&
          EVP_PKEY_derive(pctx, c->out, &len) > 0;
  EVP_PKEY_CTX_free(pctx);
  EVP_PKEY_free(peer);
  if (ok(c, r)) output(c, len);
  if (temporary) EVP_PKEY_free(key);
}

static void random_bytes(struct call* c) {
  if (c->req.params[0] < 0 || (uint64_t)c->req.params[0] > c->req.out_capacity)
    return fail(c, CRYPTINE_STATUS_NO_SPACE);
  if (ok(c, RAND_bytes(c->out, (int)c->req.params[0]))) output(c, (size_t)c->req.params[0]);
}

/* EVP_Cipher: its return value is the caller's to judge (a TLS record whose tag does not
 * verify gives -1), so a failure is a reply with that value and OpenSSL's error code. */
static void cipher_raw(struct call* c) {
  EVP_CIPHER_CTX* ctx = slot_get(c->req.handle, SLOT_CIPHER);
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  if ((uint64_t)c->req.in.length + (uint64_t)EVP_CIPHER_CTX_get_block_size(ctx) > c->req.out_capacity)
    return fail(c, CRYPTINE_STATUS_NO_SPACE);
  static const unsigned char empty[1];
  const unsigned char* in = c->req.params[0] == 1 ? NULL : (c->in ? c->in : empty);
  unsigned char* out = c->req.params[1] == 1 ? NULL : c->out; /* NULL out: AAD, as in OpenSSL */
  const int in_place = c->req.params[2] == 1 && out != NULL && c->in != NULL; /* see cipher_update */
  if (in_place) {
    memmove(out, c->in, c->req.in.length);
    in = out;
  }
  int r = EVP_Cipher(ctx, out, in, c->req.in.length);
  c->rep.values[0] = r;
  if (r <= 0) {
    c->rep.err_code = ERR_peek_last_error();
    ERR_clear_error();
    return output(c, 0);
  }
  if (out == NULL) return output(c, 0);
  if (in_place && (uint32_t)r < c->req.in.length) return output(c, c->req.in.length);
  output(c, (uint64_t)r < c->req.out_capacity ? (size_t)r : c->req.out_capacity);
}

/* SET_PARAMS, GET_PARAMS and MAC_START decode their list from this 8-aligned copy: in
 * the mailbox it follows the key, at any offset, and OpenSSL reads integers in place. */
static _Alignas(8) uint8_t param_scratch[CRYPTINE_PARAM_MAX * (sizeof(struct cryptine_param) +
                                                               CRYPTINE_PARAM_NAME_MAX + 1 + CRYPTINE_PARAM_DATA_MAX + 8)];

static int params_of(struct call* c, struct param_list* list) {
  if (c->req.in.length > sizeof(param_scratch)) {
    fail(c, CRYPTINE_STATUS_BAD_REQUEST);
    return 0;
  }
  if (c->in != NULL) memcpy(param_scratch, c->in, c->req.in.length);
  if (!param_list_decode(param_scratch, c->req.in.length, list)) {
    fail(c, CRYPTINE_STATUS_BAD_REQUEST);
    return 0;
  }
  return 1;
}

static void set_params(struct call* c) {
  const uint32_t h = c->req.handle;
  void* ctx = (h == 0 || h > CRYPTINE_MAX_HANDLES) ? NULL : slots[h - 1].ptr;
  struct param_list list;
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  if (!params_of(c, &list)) return;
  int r;
  switch (slots[h - 1].kind) {
    case SLOT_CIPHER: r = EVP_CIPHER_CTX_set_params(ctx, list.params); break;
    case SLOT_MAC: r = EVP_MAC_CTX_set_params(ctx, list.params); break;
    default: return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  }
  c->rep.values[0] = r;
  ok(c, r);
#ifdef CRYPTINE_LIE_PARAM
  if (CRYPTINE_LIE_PARAM == LIE_RETURN_VALUE && c->rep.status == CRYPTINE_STATUS_OK) c->rep.values[0] = 2;
#endif
}

static void get_params(struct call* c) {
  const uint32_t h = c->req.handle;
  void* ctx = (h == 0 || h > CRYPTINE_MAX_HANDLES) ? NULL : slots[h - 1].ptr;
  struct param_list list;
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  if (c->req.in.length > c->req.out_capacity) return fail(c, CRYPTINE_STATUS_NO_SPACE);
  if (!params_of(c, &list)) return;
  int r;
  switch (slots[h - 1].kind) {
    case SLOT_CIPHER: r = EVP_CIPHER_CTX_get_params(ctx, list.params); break;
    case SLOT_MAC: r = EVP_MAC_CTX_get_params(ctx, list.params); break;
    default: return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  }
  c->rep.values[0] = r;
  if (!ok(c, r)) return;
#ifdef CRYPTINE_LIE_PARAM
  if (CRYPTINE_LIE_PARAM == LIE_RETURN_VALUE) c->rep.values[0] = 2;
  lie_in_params(&list);
#endif
  param_list_store_sizes(param_scratch, &list);
#ifdef CRYPTINE_LIE_PARAM
  if (CRYPTINE_LIE_PARAM == LIE_TYPE && list.count > 0) /* INTEGER <-> UNSIGNED, UTF8 -> 7, OCTETS -> 6 */
    param_scratch[list.header_at[0] + offsetof(struct cryptine_param, type)] ^= 3;
#endif
  memcpy(c->out, param_scratch, c->req.in.length); /* the list with its values, back */
  output(c, c->req.in.length);
}

static void mac_new_named(struct call* c) {
  EVP_MAC* mac = strcmp(c->req.name, "HMAC") == 0 ? NULL : EVP_MAC_fetch(NULL, c->req.name, NULL);
  if (mac == NULL && strcmp(c->req.name, "HMAC") != 0) return fail(c, CRYPTINE_STATUS_CRYPTO_ERROR);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac != NULL ? mac : hmac);
  EVP_MAC_free(mac); /* the context holds its own reference */
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_CRYPTO_ERROR);
  keep(c, SLOT_MAC, ctx);
}

static void mac_start(struct call* c) {
  EVP_MAC_CTX* ctx = slot_get(c->req.handle, SLOT_MAC);
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  struct param_list list;
  if (!params_of(c, &list)) return;
  static const unsigned char empty[1];
  const unsigned char* key = (c->req.params[1] & 1) ? (c->key ? c->key : empty) : NULL;
  ok(c, EVP_MAC_init(ctx, key, c->req.key.length, list.count > 0 ? list.params : NULL));
}

/* A MAC context's init and updates the host held back, with its final: one request. */
static void mac_run(struct call* c) {
  EVP_MAC_CTX* ctx = slot_get(c->req.handle, SLOT_MAC);
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  static const unsigned char empty[1];
  const unsigned char* key = (c->req.params[0] & 1) ? (c->key ? c->key : empty) : NULL;
  if (!ok(c, EVP_MAC_init(ctx, key, c->req.key.length, NULL))) return;
  if (c->req.in.length > 0 && !ok(c, EVP_MAC_update(ctx, c->in, c->req.in.length))) return;
  if (c->req.params[1] == 1) mac_final_of(c, ctx);
}

static void kdf_derive(struct call* c) {
  const uint64_t keylen = c->req.params[0];
  struct param_list list;
  if (keylen == 0 || keylen > c->req.out_capacity) return fail(c, CRYPTINE_STATUS_NO_SPACE);
  if (!params_of(c, &list)) return;
  EVP_KDF* kdf = EVP_KDF_fetch(NULL, c->req.name, NULL);
  EVP_KDF_CTX* ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
  EVP_KDF_free(kdf); /* the context holds its own reference */
  const int r = ctx != NULL && EVP_KDF_derive(ctx, c->out, keylen, list.count > 0 ? list.params : NULL) > 0;
  EVP_KDF_CTX_free(ctx);
  if (ok(c, r)) output(c, keylen);
}

/* ---- CIPHER_BATCH: recorded no-output calls, then an update or final, one exit ---- */

static int apply_step(struct call* c, EVP_CIPHER_CTX* ctx, const struct batch_step* s, int64_t* aad) {
  static const unsigned char empty[1];
  const unsigned char* data = s->data != NULL && s->length > 0 ? s->data : empty;
#ifdef CRYPTINE_FAIL_STEP
  /* Test builds only (tests/guests/failstep-KIND.elf): OpenSSL refuses every recorded
   * step of this kind, as it may refuse one the host could not foresee. */
  if (s->kind == CRYPTINE_FAIL_STEP) {
    ERR_raise(ERR_LIB_EVP, EVP_R_UPDATE_ERROR);
    return ok(c, 0);
  }
#endif
  switch (s->kind) {
    case CRYPTINE_STEP_INIT:
      return ok(c, EVP_CipherInit_ex(ctx, NULL, NULL, s->key, s->data != NULL ? data : NULL, s->arg));
    case CRYPTINE_STEP_AAD: {
      int outl = 0;
      if (!ok(c, EVP_CipherUpdate(ctx, NULL, &outl, data, (int)s->length))) return 0;
      *aad += outl;
      return 1;
    }
    case CRYPTINE_STEP_SET_PARAMS: {
      struct param_list list;
      if (s->length > sizeof(param_scratch)) return fail(c, CRYPTINE_STATUS_BAD_REQUEST), 0;
      memcpy(param_scratch, data, s->length);
      if (!param_list_decode(param_scratch, s->length, &list)) return fail(c, CRYPTINE_STATUS_BAD_REQUEST), 0;
      return ok(c, EVP_CIPHER_CTX_set_params(ctx, list.params));
    }
    case CRYPTINE_STEP_FINAL: {
      /* The host served this final from the predicted one (a copy's): the context moves
       * on as the program's did, and the answer, already given, is dropped. */
      unsigned char scratch[EVP_MAX_BLOCK_LENGTH];
      int outl = 0;
      (void)EVP_CipherFinal_ex(ctx, scratch, &outl);
      OPENSSL_cleanse(scratch, sizeof(scratch));
      ERR_clear_error();
      return 1;
    }
    default: return fail(c, CRYPTINE_STATUS_BAD_REQUEST), 0;
  }
}

/* A final, then (for an AEAD sealing) its tag read at once: the host's next call
 * (get the tag) needs no trip. A tag that cannot be read is simply not returned. */
static void final_with_tag(struct call* c, EVP_CIPHER_CTX* ctx, uint64_t tag) {
  if ((uint64_t)EVP_CIPHER_CTX_get_block_size(ctx) + tag > c->req.out_capacity)
    return fail(c, CRYPTINE_STATUS_NO_SPACE);
  int outl = 0;
  if (!ok(c, EVP_CipherFinal_ex(ctx, c->out, &outl))) return;
  c->rep.values[0] = outl;
  size_t got = 0;
  if (tag > 0) {
    OSSL_PARAM p[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, c->out + outl, (size_t)tag),
                      OSSL_PARAM_construct_end()};
    if (EVP_CIPHER_CTX_get_params(ctx, p) == 1) got = (size_t)tag;
    ERR_clear_error();
  }
  c->rep.values[3] = (int64_t)got;
  output(c, (size_t)outl + got);
}

/* The final the host expects next, answered beside the update from a copy of ctx, which
 * itself stays as after the update: its output, then for a seal `tag` bytes of tag, or
 * its failure. An open gets only the verdict, never a tag, whatever the host asks: the
 * expected tag of a ciphertext would let a program forge messages under a key it cannot
 * read. So an open whose tag is set only after its last update costs a second trip. */
static void predict_final(struct call* c, EVP_CIPHER_CTX* ctx, uint64_t tag) {
  struct cryptine_predicted_final p;
  memset(&p, 0, sizeof(p));
  EVP_CIPHER_CTX* copy = EVP_CIPHER_CTX_new();
  int outl = 0;
  if (copy != NULL && EVP_CIPHER_CTX_copy(copy, ctx) == 1 &&
      (uint64_t)EVP_CIPHER_CTX_get_block_size(copy) + tag <= CRYPTINE_PREDICT_BYTES) {
    const int sealing = EVP_CIPHER_CTX_is_encrypting(copy) == 1;
    if (EVP_CipherFinal_ex(copy, p.bytes, &outl) != 1) {
      memset(p.bytes, 0, sizeof(p.bytes));
      p.verdict = CRYPTINE_PREDICT_FAILED;
      p.err_code = ERR_peek_last_error();
    } else if (!sealing || tag == 0) {
      p.verdict = CRYPTINE_PREDICT_OK;
      p.outl = (uint32_t)outl;
    } else {
      OSSL_PARAM q[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, p.bytes + outl, (size_t)tag),
                        OSSL_PARAM_construct_end()};
      if (EVP_CIPHER_CTX_get_params(copy, q) == 1) {
        p.verdict = CRYPTINE_PREDICT_OK;
        p.outl = (uint32_t)outl;
        p.tag_len = (uint32_t)tag;
      } else {
        memset(&p, 0, sizeof(p)); /* NONE: the host runs the real final */
      }
    }
  }
  EVP_CIPHER_CTX_free(copy);
  ERR_clear_error();
#if defined(CRYPTINE_LIE_OP) && CRYPTINE_LIE_OP == CRYPTINE_OP_PREDICTED_FINAL
  /* A plausible record that breaks the contract: a seal's tag one byte short, an open's
   * tag that must never be there. */
  p.tag_len = p.tag_len > 0 ? p.tag_len - 1 : 16;
#endif
  memcpy(c->out + c->rep.out.length, &p, sizeof(p));
  OPENSSL_cleanse(&p, sizeof(p));
  c->rep.values[3] = c->rep.out.length;
  c->rep.out.length += (uint32_t)sizeof(p);
}

static void cipher_batch(struct call* c) {
  EVP_CIPHER_CTX* ctx = slot_get(c->req.handle, SLOT_CIPHER);
  if (ctx == NULL) return fail(c, CRYPTINE_STATUS_NO_HANDLE);
  const int64_t then = c->req.params[0], tag = c->req.params[2], predict = c->req.params[3];
  struct batch_steps b;
  if (c->req.key.length != 0 || then < 0 || then > 2 || (then != 1 && c->req.in.length != 0) ||
      (then != 2 && !predict && tag != 0) || tag < 0 || tag > 16 /* GCM's and Poly1305's whole tag */ || predict < 0 ||
      predict > 1 || (predict && then != 1) ||
      (predict && c->req.out_capacity < sizeof(struct cryptine_predicted_final)) ||
      !batch_decode(c->iv, c->req.iv.length, &b))
    return fail(c, CRYPTINE_STATUS_BAD_REQUEST);
  /* The update's window is what is left after the predicted final's record. */
  if (predict) c->req.out_capacity -= (uint32_t)sizeof(struct cryptine_predicted_final);
  int64_t aad = 0;
  for (int i = 0; i < b.count; ++i) {
    c->rep.values[2] = i;
    if (!apply_step(c, ctx, &b.steps[i], &aad)) return;
  }
  c->rep.values[2] = b.count;
  if (then == 1) update_on(c, ctx, 0, c->req.params[1] == 1);
  else if (then == 2) final_with_tag(c, ctx, (uint64_t)tag);
  if (c->rep.status != CRYPTINE_STATUS_OK) return;
  if (predict) predict_final(c, ctx, (uint64_t)tag);
  c->rep.values[1] = aad;
  c->rep.values[2] = -1;
}

/* ---- the loop ---------------------------------------------------------------------- */

/* A snapshot holds the DRBGs' state: reseed them all from the host's fresh entropy
 * whenever the monitor says it is new, before any request can draw random bytes.
 * Reseeding costs more than a small digest, so the operations that never draw random
 * bytes (hashing, MACs, streaming symmetric updates) skip it; every other operation,
 * including any added later, reseeds first. */
static uint64_t last_entropy_seq;

static const unsigned char never_draws_random[CRYPTINE_OP_COUNT] = {
    [CRYPTINE_OP_DIGEST_INIT] = 1, [CRYPTINE_OP_DIGEST_UPDATE] = 1, [CRYPTINE_OP_DIGEST_FINAL] = 1,
    [CRYPTINE_OP_DIGEST] = 1,      [CRYPTINE_OP_MAC_INIT] = 1,      [CRYPTINE_OP_MAC_UPDATE] = 1,
    [CRYPTINE_OP_MAC_FINAL] = 1,   [CRYPTINE_OP_MAC] = 1,           [CRYPTINE_OP_CIPHER_UPDATE] = 1,
    [CRYPTINE_OP_CIPHER_FINAL] = 1, [CRYPTINE_OP_FREE] = 1,         [CRYPTINE_OP_CIPHER] = 1,
    [CRYPTINE_OP_MAC_NEW] = 1,      [CRYPTINE_OP_MAC_START] = 1,    [CRYPTINE_OP_GET_PARAMS] = 1,
    [CRYPTINE_OP_KDF] = 1,         [CRYPTINE_OP_MAC_RUN] = 1,
};

static void reseed_if_needed(void) {
  volatile struct cryptine_boot_info* boot = cryptine_boot_info();
  if (boot->entropy_seq == last_entropy_seq) return;
  unsigned char entropy[CRYPTINE_ENTROPY_SIZE];
  for (int i = 0; i < CRYPTINE_ENTROPY_SIZE; ++i) entropy[i] = boot->entropy[i];
  RAND_add(entropy, sizeof(entropy), (double)sizeof(entropy));
  EVP_RAND_CTX* drbgs[] = {RAND_get0_public(NULL), RAND_get0_private(NULL)};
  for (size_t i = 0; i < sizeof(drbgs) / sizeof(drbgs[0]); ++i)
    if (drbgs[i] != NULL) EVP_RAND_reseed(drbgs[i], 0, NULL, 0, entropy, sizeof(entropy));
  OPENSSL_cleanse(entropy, sizeof(entropy));
  last_entropy_seq = boot->entropy_seq;
}

/* Copies the header out and checks every span against the payload area. */
static int decode(struct call* c) {
  memcpy(&c->req, MAILBOX + CRYPTINE_REQUEST_OFFSET, sizeof(c->req));
  memset(&c->rep, 0, sizeof(c->rep));
  if (c->req.magic != CRYPTINE_REQUEST_MAGIC) return 0;
  if (memchr(c->req.name, '\0', sizeof(c->req.name)) == NULL) return 0;
  const struct cryptine_span* spans[] = {&c->req.key, &c->req.iv, &c->req.in};
  const uint8_t** ptrs[] = {&c->key, &c->iv, &c->in};
  for (int i = 0; i < 3; ++i) {
    if (spans[i]->offset > CRYPTINE_PAYLOAD_SIZE || spans[i]->length > CRYPTINE_PAYLOAD_SIZE - spans[i]->offset)
      return 0;
    *ptrs[i] = spans[i]->length != 0 ? PAYLOAD + spans[i]->offset : NULL;
  }
  if (c->req.out_offset > CRYPTINE_PAYLOAD_SIZE || c->req.out_capacity > CRYPTINE_PAYLOAD_SIZE - c->req.out_offset)
    return 0;
  c->out = PAYLOAD + c->req.out_offset;
  c->rep.out.offset = c->req.out_offset;
  return 1;
}

typedef void (*op_fn)(struct call*);
static const op_fn ops[CRYPTINE_OP_COUNT] = {
    [CRYPTINE_OP_CIPHER_INIT] = cipher_init,     [CRYPTINE_OP_CIPHER_UPDATE] = cipher_update,
    [CRYPTINE_OP_CIPHER_FINAL] = cipher_final,   [CRYPTINE_OP_CIPHER_CTRL] = cipher_ctrl,
    [CRYPTINE_OP_DIGEST_INIT] = digest_init,     [CRYPTINE_OP_DIGEST_UPDATE] = digest_update,
    [CRYPTINE_OP_DIGEST_FINAL] = digest_final,   [CRYPTINE_OP_DIGEST] = digest_oneshot,
    [CRYPTINE_OP_MAC_INIT] = mac_init,           [CRYPTINE_OP_MAC_UPDATE] = mac_update,
    [CRYPTINE_OP_MAC_FINAL] = mac_final,         [CRYPTINE_OP_MAC] = mac_oneshot,
    [CRYPTINE_OP_CTX_COPY] = ctx_copy,           [CRYPTINE_OP_FREE] = free_handle,
    [CRYPTINE_OP_KEY_IMPORT] = key_import, [CRYPTINE_OP_KEY_GENERATE] = key_generate,       [CRYPTINE_OP_SIGN] = sign,
    [CRYPTINE_OP_DECRYPT] = decrypt,             [CRYPTINE_OP_DERIVE] = derive,
    [CRYPTINE_OP_RANDOM] = random_bytes,         [CRYPTINE_OP_SET_PARAMS] = set_params,
    [CRYPTINE_OP_GET_PARAMS] = get_params,       [CRYPTINE_OP_CIPHER] = cipher_raw,
    [CRYPTINE_OP_DIGEST_SIGN] = digest_sign,     [CRYPTINE_OP_MAC_NEW] = mac_new_named,
    [CRYPTINE_OP_MAC_START] = mac_start,         [CRYPTINE_OP_KDF] = kdf_derive,
    [CRYPTINE_OP_CIPHER_BATCH] = cipher_batch,   [CRYPTINE_OP_MAC_RUN] = mac_run,
};

static void serve_one(void) {
  struct call c;
  if (!decode(&c)) {
    fail(&c, CRYPTINE_STATUS_BAD_REQUEST);
  } else if (c.req.op >= CRYPTINE_OP_COUNT || ops[c.req.op] == NULL) {
    fail(&c, CRYPTINE_STATUS_BAD_REQUEST);
  } else {
    if (!never_draws_random[c.req.op]) reseed_if_needed();
    ops[c.req.op](&c);
  }
#ifdef CRYPTINE_LIE_OP
  /* Test builds only (tests/guests/liar-OP.elf): OpenSSL's answer is real, and then this
   * guest claims one byte more output than it made, for one op, as a hostile guest may. */
  if (c.req.op == CRYPTINE_LIE_OP && c.rep.status == CRYPTINE_STATUS_OK) c.rep.out.length += 1;
#endif
  c.rep.magic = CRYPTINE_REPLY_MAGIC;
  memcpy(MAILBOX + CRYPTINE_REPLY_OFFSET, &c.rep, sizeof(c.rep));
}

/* Runs each common algorithm once, so lazy set-up (provider method stores, CPU
 * capability probes, DRBG instantiation) happens before the snapshot, not per call. */
static void warm_up(void) {
  static const char* const ciphers[] = {"AES-128-ECB", "AES-128-CBC", "AES-128-CTR", "AES-128-GCM", "AES-192-GCM",
                                        "AES-256-CBC", "AES-256-GCM", "ChaCha20-Poly1305"};
  static const char* const digests[] = {"SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "SHA3-256"};
  unsigned char key[32] = {0}, iv[16] = {0}, buf[64], out[64 + 32];
  int outl;
  memset(buf, 0x5a, sizeof(buf));
  for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); ++i) {
    EVP_CIPHER* uncached = NULL;
    const EVP_CIPHER* cipher = get_cipher(ciphers[i], &uncached);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    if (cipher != NULL && ctx != NULL && EVP_EncryptInit_ex(ctx, cipher, NULL, key, iv))
      EVP_EncryptUpdate(ctx, out, &outl, buf, sizeof(buf));
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(uncached);
  }
  for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); ++i) {
    EVP_MD* uncached = NULL;
    const EVP_MD* md = get_md(digests[i], &uncached);
    unsigned int len;
    if (md != NULL) EVP_Digest(buf, sizeof(buf), out, &len, md, NULL);
    EVP_MD_free(uncached);
  }
  static const char* const kdfs[] = {"HKDF", "TLS13-KDF", "TLS1-PRF", "PBKDF2"};
  for (size_t i = 0; i < sizeof(kdfs) / sizeof(kdfs[0]); ++i) EVP_KDF_free(EVP_KDF_fetch(NULL, kdfs[i], NULL));
  hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  RAND_bytes(out, 16);
  ERR_clear_error();
}

int main(void) {
  if (!OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, NULL))
    cryptine_abort("OPENSSL_init_crypto failed");
  warm_up();
  if (hmac == NULL) cryptine_abort("HMAC not available");
  last_entropy_seq = cryptine_boot_info()->entropy_seq; /* the boot's own entropy is fresh */
  cryptine_snapshot();
  for (;;) {
    serve_one();
    cryptine_done();
  }
}
