/* Step lists, guest side: the host recorded them, but every length is checked against
 * the buffer before a pointer is built from it, and the whole list is decoded before
 * any step runs, so a malformed list applies nothing. */
#include "batch_wire.h"

#include <string.h>

static const uint32_t kInitAux = CRYPTINE_STEP_KEY_LEN_MASK | CRYPTINE_STEP_KEY_GIVEN | CRYPTINE_STEP_IV_GIVEN;

static int init_ok(const struct cryptine_batch_step* h) {
  const uint32_t key_len = h->aux & CRYPTINE_STEP_KEY_LEN_MASK;
  if (h->arg < -1 || h->arg > 1 || (h->aux & ~kInitAux) != 0 || key_len > h->length) return 0;
  if (!(h->aux & CRYPTINE_STEP_KEY_GIVEN) && key_len != 0) return 0;
  if (!(h->aux & CRYPTINE_STEP_IV_GIVEN) && key_len != h->length) return 0;
  return 1;
}

int batch_decode(const uint8_t* buf, size_t len, struct batch_steps* out) {
  size_t at = 0;
  out->count = 0;
  while (at < len) {
    struct cryptine_batch_step h;
    if (out->count == CRYPTINE_BATCH_MAX_STEPS || len - at < sizeof(h)) return 0;
    memcpy(&h, buf + at, sizeof(h));
    const uint64_t room = (uint64_t)(len - at - sizeof(h));
    if (CRYPTINE_STEP_PADDED(h.length) > room) return 0; /* 64-bit: cannot wrap */
    const uint8_t* data = buf + at + sizeof(h);
    struct batch_step* s = &out->steps[out->count];
    memset(s, 0, sizeof(*s));
    s->kind = h.kind;
    s->arg = h.arg;
    switch (h.kind) {
      case CRYPTINE_STEP_INIT:
        if (!init_ok(&h)) return 0;
        s->key_len = h.aux & CRYPTINE_STEP_KEY_LEN_MASK;
        s->key = (h.aux & CRYPTINE_STEP_KEY_GIVEN) ? data : NULL;
        s->length = h.length - s->key_len;
        s->data = (h.aux & CRYPTINE_STEP_IV_GIVEN) ? data + s->key_len : NULL;
        break;
      case CRYPTINE_STEP_AAD:
      case CRYPTINE_STEP_SET_PARAMS:
        if (h.arg != 0 || h.aux != 0) return 0;
        s->data = data;
        s->length = h.length;
        break;
      case CRYPTINE_STEP_FINAL:
        if (h.arg != 0 || h.aux != 0 || h.length != 0) return 0;
        break;
      default: return 0;
    }
    out->count++;
    at += sizeof(h) + (size_t)CRYPTINE_STEP_PADDED(h.length);
  }
  return 1;
}
